"""Deterministic fakes for unit tests. Public, loud, and never used unless handed in explicitly."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import glob
import hashlib
import math
import os
import pickle
import re
import tempfile
import uuid
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from workbench.models import Generation, GenerationParams, ModelKind, Price
from workbench.pipeline import Chunk, ChunkStats, MemoryIndexStore, VectorIndex
from workbench.prompts import RenderedPrompt
from workbench.scoring import JudgeReply, ModelJudge
from workbench.tracking import process_alive

__all__ = ["CallLog", "CountingIndexStore", "HashingEmbedder", "PaddingEmbedder", "ScriptExhausted", "ScriptedJudge", "ScriptedModel"]


_CALL_LOG_PREFIX = "workbench-calls-"
_COUNT_BYTES = 8  # a call log opens with its number of entries


class ScriptExhausted(AssertionError):
    """A ScriptedModel was called more often than its script allows."""


class CallLog:
    """Calls recorded in a file, so a fake's calls are seen wherever they were made: in this process, or in the
    variant's worker process that called a copy of the fake. ``record`` returns the call's number (0-based), which
    also orders a list script across processes.

    The file opens with the number of calls recorded (8 bytes), which ``record`` reads and rewrites: counting the calls
    by reading back every one recorded before made a sweep's calls quadratic (43 ms a call after 3,000 calls of 2 kB
    prompts: hours for a fake sweep over a team's 5,000 questions)."""

    def __init__(self) -> None:
        # named after the owner process, so the log of one that was killed (no finalizer ran) is known as left behind
        fd, self.path = tempfile.mkstemp(prefix=f"{_CALL_LOG_PREFIX}{os.getpid()}-", suffix=".log")
        os.close(fd)
        self._finalizer = weakref.finalize(self, _remove_if_owner, self.path, os.getpid())

    @staticmethod
    def remove_orphans(folder: str | None = None) -> list[str]:
        """Remove the call logs in ``folder`` (default: the temp folder) whose owner process no longer runs (a test
        worker killed by a timeout or a crash never removes its logs), and return their paths. A live process's logs,
        another test session's too, are kept."""
        removed = []
        for path in glob.glob(os.path.join(folder or tempfile.gettempdir(), f"{_CALL_LOG_PREFIX}*-*.log")):
            owner = os.path.basename(path)[len(_CALL_LOG_PREFIX):].split("-", 1)[0]
            if owner.isdigit() and not process_alive(int(owner)):
                with contextlib.suppress(OSError):
                    os.unlink(path)
                    removed.append(path)
        return removed

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]  # a copy in a worker: it writes to the same file and never removes it

    def record(self, entry: Any) -> int:
        data = pickle.dumps(entry)
        with os.fdopen(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), "r+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                n = int.from_bytes(f.read(_COUNT_BYTES).ljust(_COUNT_BYTES, b"\0"), "big")
                f.seek(max(_COUNT_BYTES, os.fstat(f.fileno()).st_size))
                f.write(len(data).to_bytes(8, "big") + data)
                f.seek(0)
                f.write((n + 1).to_bytes(_COUNT_BYTES, "big"))
                f.flush()
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        return n

    def entries(self) -> list[Any]:
        with open(self.path, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            try:
                return self._read(f)
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    @staticmethod
    def _read(f: Any) -> list[Any]:
        f.seek(_COUNT_BYTES)
        out, blob = [], f.read()
        i = 0
        while i + 8 <= len(blob):
            size = int.from_bytes(blob[i : i + 8], "big")
            out.append(pickle.loads(blob[i + 8 : i + 8 + size]))
            i += 8 + size
        return out


def _remove_if_owner(path: str, owner: int) -> None:
    if os.getpid() == owner:
        try:
            os.unlink(path)
        except OSError:
            pass


class ScriptedModel:
    """A generator that answers from a script: a list of answers (used in order) or a function of the prompt.

    Raises ``ScriptExhausted`` when a list script runs out, so a test never passes on silently reused answers.
    Asked for JSON, it answers from its script all the same. ``calls`` records the prompts; ``requests`` records
    each call's ``(params, json_schema)``, wherever the call was made (a variant's worker process calls a copy of
    this object; the record is shared, and a list script is used in order across all copies). Its ``identity``
    (what its answers are cached under) is unique to this object unless given: two scripts never share cached
    answers by accident.
    """

    def __init__(
        self,
        script: Iterable[str] | Callable[[RenderedPrompt], str],
        *,
        model_id: str = "testing:scripted",
        kind: ModelKind = "completion",
        identity: str | None = None,
    ) -> None:
        self.model_id = model_id
        self.kind: ModelKind = kind
        self.identity = identity or f"scripted:{model_id}:{uuid.uuid4().hex}"
        self._fn = script if callable(script) else None
        self._answers = None if callable(script) else list(script)
        self._log = CallLog()

    @property
    def calls(self) -> list[RenderedPrompt]:
        return [prompt for prompt, _, _ in self._log.entries()]

    @property
    def requests(self) -> list[tuple[GenerationParams, Mapping[str, Any] | None]]:
        return [(params, schema) for _, params, schema in self._log.entries()]

    def generate(
        self,
        prompt: RenderedPrompt,
        params: GenerationParams,
        *,
        deadline: float | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Generation:
        n = self._log.record((prompt, params, dict(json_schema) if json_schema is not None else None))
        if self._fn is not None:
            text = self._fn(prompt)
        else:
            assert self._answers is not None
            if n >= len(self._answers):
                raise ScriptExhausted(f"ScriptedModel '{self.model_id}' ran out of answers after {n} calls")
            text = self._answers[n]
        words_in = len(prompt.text.split())
        return Generation(text=text, input_tokens=words_in, output_tokens=len(text.split()), latency_s=0.0)


# Words of any script (letters and digits; an underscore splits words, as on ASCII text, where this reads what
# [a-z0-9]+ read, so vectors tests rely on stay the same), and each character of the scripts written without spaces
# between words (Chinese, Japanese kana, Thai) as a token of its own, so a question shares tokens with its passage.
_UNSPACED = "\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_WORD = re.compile(rf"[^\W_{_UNSPACED}]+|[{_UNSPACED}]", re.UNICODE)


@functools.lru_cache(maxsize=65536)
def _word_id(word: str) -> int:
    return int(hashlib.md5(word.encode()).hexdigest()[:6], 16)


@functools.lru_cache(maxsize=65536)
def _word_hash(word: str) -> int:
    return int(hashlib.sha1(word.encode()).hexdigest(), 16)


class _WordTokenizer:
    """A whitespace/word tokenizer with the slice of the Hugging Face interface the token chunker uses."""

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [_word_id(w) for w in _WORD.findall(text.lower())]

    def __call__(self, text: str, **_: Any) -> dict[str, list[int]]:
        return {"input_ids": self.encode(text)}

    def tokenize(self, text: str) -> list[str]:
        return _WORD.findall(text.lower())


class HashingEmbedder:
    """Bag-of-words feature hashing into ``dim`` dimensions, L2-normalised: texts sharing words are close. Words of
    any script count (German, Russian, Arabic...), and each character of Chinese, Japanese and Thai, which are written
    without spaces; a text of punctuation only is the zero vector."""

    def __init__(self, dim: int = 256, model_id: str = "testing:hashing") -> None:
        self.dim = dim
        self.model_id = model_id
        self.identity = f"hashing:{dim}:{model_id}"  # deterministic: equal settings give equal vectors
        self.tokenizer = _WordTokenizer()

    def _vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dim
        for word in _WORD.findall(text.lower()):
            h = _word_hash(word)
            vec[h % self.dim] += 1.0 if (h >> 20) % 2 else -1.0
        norm = math.sqrt(sum(x * x for x in vec)) or 1.0
        return [x / norm for x in vec]

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text))


class PaddingEmbedder(HashingEmbedder):
    """A HashingEmbedder whose vectors move in their last bits with the longest text of their batch, as a real model's
    do (a batch is padded to its longest text): for tests that a text's vector never depends on what it was batched with."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        longest = max((len(t) for t in texts), default=0)
        return [[x + longest * 1e-9 for x in v] for v in super().embed(texts)]


class ScriptedJudge(ModelJudge):
    """A judge that answers from a script: raw texts used in order, or a function ``(prompt, schema) -> raw text``.

    It is a ``ModelJudge`` over a scripted model, so replies are checked against the schema like a real judge's
    (garbage becomes an error reply with the raw text). Raises ``ScriptExhausted`` when a list script runs out.
    ``calls`` records ``(prompt, schema, repeat)`` wherever the judge was asked (like ``ScriptedModel.calls``).
    Tokens are counted in words; ``price`` (default: free) prices them.
    """

    def __init__(self, script: Iterable[str] | Callable[[str, Mapping[str, Any]], str], *, model_id: str = "testing:judge",
                 price: Price | None = None) -> None:
        super().__init__(_JudgeScript(script, model_id), price=price)
        self._log = CallLog()

    @property
    def calls(self) -> list[tuple[str, Mapping[str, Any], int]]:
        return self._log.entries()  # type: ignore[no-any-return]

    def ask(self, prompt: str, schema: Mapping[str, Any], *, repeat: int = 0) -> JudgeReply:
        self._log.record((prompt, dict(schema), repeat))
        return super().ask(prompt, schema, repeat=repeat)


class _JudgeScript:
    """The scripted model behind ``ScriptedJudge``: its script sees the prompt text and the schema asked for."""

    kind: ModelKind = "completion"

    def __init__(self, script: Iterable[str] | Callable[[str, Mapping[str, Any]], str], model_id: str) -> None:
        self.model_id = model_id
        self.identity = f"scripted-judge:{model_id}:{uuid.uuid4().hex}"
        self._fn = script if callable(script) else None
        self._answers = None if callable(script) else list(script)
        self._log = CallLog()

    def generate(
        self,
        prompt: RenderedPrompt,
        params: GenerationParams,
        *,
        deadline: float | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Generation:
        schema = json_schema if json_schema is not None else {}
        n = self._log.record(None)
        if self._fn is not None:
            raw = self._fn(prompt.text, schema)
        else:
            assert self._answers is not None
            if n >= len(self._answers):
                raise ScriptExhausted(f"ScriptedJudge '{self.model_id}' ran out of answers after {n} calls")
            raw = self._answers[n]
        return Generation(text=raw, input_tokens=len(prompt.text.split()), output_tokens=len(raw.split()), latency_s=0.0)


class CountingIndexStore(MemoryIndexStore):
    """An in-memory index store that records the key of every index it builds (``builds``), to check sharing and reuse."""

    def __init__(self) -> None:
        super().__init__()
        self.builds: list[str] = []

    def build(self, key: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], *, stats: ChunkStats | None = None) -> VectorIndex:
        self.builds.append(key)
        return super().build(key, chunks, vectors, stats=stats)
