"""Expand an experiment spec into its variants (a pure function). Every variant has a stable, content-derived id."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
from collections.abc import Mapping
from typing import Any

from workbench.config import LARGE_GRID
from workbench.errors import SpecError
from workbench.models import portable_model_id
from workbench.spec import ChunkerSpec, ExperimentSpec, ModelSpec, PromptSpec, RetrievalSpec, RouterEntry, RouterSpec

__all__ = [
    "CHARS_PER_TOKEN", "CHUNKING_REVISION", "GridPlan", "SweepPlan", "Variant", "VariantPlan", "embedded_index_key", "expand_grid", "flat_params",
    "index_key", "plan_grid", "prompt_hash",
]

# How the chunkers cut text (workbench/pipeline/chunk.py), raised whenever they cut the same text into other chunks or
# place them elsewhere: indexes are kept across upgrades (.workbench/indexes, a Chroma server), and one built by an
# older workbench would otherwise be opened by its key and searched for chunks this one no longer makes.
# 2: the sentence chunker cuts long sentences between words, the markdown one keeps ~~~ and nested code fences whole,
# chunks of repeating text are placed where they were cut.
# 3: sentences also end before capitals outside ASCII and letters of caseless scripts, after closing quotes and
# brackets, at the danda, Arabic and Urdu full stops, and at Chinese and Japanese full stops with no space after them;
# the recursive and token chunkers cut Chinese and Japanese text after its full stops, and keep a separator at the end
# of the piece it closes.
# 4: the last characters of a long unbroken run, which the splitter repeats as a chunk within the overlap, are placed at
# the end of that run, not at the next copy of them (which put the chunks after it out of place).
# 5: the markdown chunker also splits at setext headers (a title over === or ---), reads no header in YAML front matter
# (its "# comments"), and leaves the closing hashes of "## Title ##" out of the title.
# 6: Chinese and Japanese sentences longer than a chunk are cut after their clause marks (；，、), not every N characters
# inside a word, by the recursive, token, markdown and sentence chunkers; sentences also end at the full-width full
# stop "．" of Japanese technical writing.
# 7: Chinese and Japanese typed with half-width punctuation (or normalised to NFKC) are cut after their "?!." and ",;" as
# after "？！。" and "，；", not every N characters inside a word; a run of full stops ("本当！？", "。。。") ends one
# sentence, not one per stop; Myanmar and Khmer text is cut after its full stops (။ ។), and sentences also end at the
# Armenian, Ethiopic and Tibetan full stops and before a Georgian (lower-case) letter; the recursive, token and markdown
# chunkers cut a run longer than a chunk between characters as a reader sees them (not inside a Thai or Hindi syllable,
# an accent decomposed, a Hangul syllable written decomposed or a joined emoji); a Japanese quotation's own full stop
# does not end the sentence quoting it (「はい。」と言った。).
CHUNKING_REVISION = 7


def _digest(payload: Any, n: int = 12) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:n]


def index_key(chunker: ChunkerSpec, embedding: str, corpus_hash: str = "", *, portable: bool = True) -> str:
    """Variants with the same chunker, embedding model (and corpus) share one index, made by this ``CHUNKING_REVISION``.
    A ``huggingface:`` model folder counts by its name, not where it lies (``portable_model_id``): the same index in
    every clone of a project (an older workbench keyed it on the folder's path, ``portable=False``)."""
    payload = {"chunker": chunker.model_dump(mode="json"), "chunking": CHUNKING_REVISION, "embedding": portable_model_id(embedding) if portable else embedding,
               "corpus": corpus_hash}
    return _digest(payload, 16)


def embedded_index_key(chunker: ChunkerSpec, embedding: str, corpus_hash: str, embedder_identity: str) -> str:
    """The key of a built index: its chunks and the identity of the embedder that made its vectors, so an injected
    fake or the same model string served by another server (OPENAI_BASE_URL) never opens vectors it did not make."""
    return index_key(chunker, embedding, f"{corpus_hash}:{embedder_identity}")


@dataclasses.dataclass(frozen=True)
class Variant:
    """One point of the grid: a chunker and a retrieval setting, and (unless it only retrieves) a prompt and a model.

    The model may be a router (``RouterSpec``): it answers with its cheap model and escalates to its strong one; its
    id covers both models and the thresholds, its name is the router's name.

    A retrieval-only variant (``prompt`` and ``model`` None) retrieves for every question and is scored on the
    retrieval metrics alone; it shares its index with every variant of the same chunker and embedding model.
    """

    prompt: PromptSpec | None
    model: ModelSpec | RouterSpec | None
    chunker: ChunkerSpec
    retrieval: RetrievalSpec
    # (absolute, as written) for the ``llamacpp:`` models and ``huggingface:`` folders its experiment file writes
    # relative to its folder: the id holds them as written, so the same file in two clones of a project gives one id
    # (see ExperimentSpec.as_written)
    written: tuple[tuple[str, str], ...] = ()

    @property
    def generates(self) -> bool:
        """Whether this variant generates answers (False for a retrieval-only variant)."""
        return self.model is not None

    @property
    def router(self) -> RouterSpec | None:
        """The router, when this variant's model is one."""
        return self.model if isinstance(self.model, RouterSpec) else None

    @property
    def answering_models(self) -> tuple[ModelSpec, ...]:
        """The models that may answer its questions: the model, a router's cheap and strong models, or none."""
        if isinstance(self.model, RouterSpec):
            return self.model.models
        return (self.model,) if self.model is not None else ()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.prompt is not None and self.model is not None:
            out["prompt"] = _dumped(self.prompt)
            out["router" if isinstance(self.model, RouterSpec) else "model"] = _dumped(self.model)
        out["chunker"] = _dumped(self.chunker)
        out["retrieval"] = _dumped(self.retrieval)
        return out

    @functools.cached_property
    def id(self) -> str:
        """Stable id: a hash of what decides the variant's answers and retrieved chunks (same content, same id, in any grid
        or clone of the project); a setting that cannot change them (a ``kind`` written as the model's own, a call's
        ``timeout_s``, a similarity search's ``fetch_k``) counts as its default, so writing it out reuses the same runs."""
        parts = {"chunker": _id_text(self.chunker, self.written), "retrieval": _id_text(self.retrieval, self.written)}
        if self.prompt is not None and self.model is not None:
            parts["prompt"] = _id_text(self.prompt, self.written)
            parts["router" if isinstance(self.model, RouterSpec) else "model"] = _id_text(self.model, self.written)
        # the text json.dumps(to_dict(), sort_keys=True) gives, each entry serialised once per grid, not once per variant
        text = "{" + ", ".join(f"{json.dumps(k)}: {parts[k]}" for k in sorted(parts)) + "}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def axes(self) -> tuple[str, ...]:
        """The parts of its name: ``(prompt, model, chunker, retrieval)``, ``(chunker, retrieval)`` for a retrieval-only variant."""
        axes = (self.chunker.label, self.retrieval.label)
        if self.prompt is not None and self.model is not None:
            axes = (self.prompt.name, self.model.short_name, *axes)
        return axes

    @property
    def name(self) -> str:
        """Readable name: ``prompt|model|chunker|retrieval`` (``chunker|retrieval`` for a retrieval-only variant)."""
        return "|".join(self.axes)

    @property
    def index_key(self) -> str:
        return index_key(self.chunker, self.retrieval.embedding)

    @property
    def index_group(self) -> tuple[str, str]:
        """What the variants of a sweep sharing one index have in common: its key and the embedding model as written
        here (two model folders of one name in one experiment are two indexes, though of one ``index_key``)."""
        return self.index_key, self.retrieval.embedding

    def params(self) -> dict[str, str]:
        """Flattened parameters, as logged to MLflow (``prompt.hash``, ``chunker.size``, ``model.params.max_tokens``...): lists and
        booleans as JSON (``["\\n"]``, ``true``), a setting left unset (a router signal that is off) not at all."""
        data = self.to_dict()
        if self.prompt is not None and self.model is not None:
            # the template text is an artifact, not a param; its hash tells two versions of a prompt apart in the MLflow
            # UI's columns, compare view and charts (as the run's workbench.prompt_hash tag and the registry's prompt do)
            data["prompt"] = {"name": self.prompt.name, "hash": prompt_hash(self.prompt)}
            if isinstance(self.model, RouterSpec):
                for role, m in (("cheap", self.model.cheap), ("strong", self.model.strong)):
                    data["router"][role]["kind"] = m.resolved_kind
                # every variant's run has a model.id, which the MLflow UI's run table sorts and filters by
                data = {"prompt": data["prompt"], "model": {"id": self.model.id}, **data}
            else:
                data["model"]["kind"] = self.model.resolved_kind
        return flat_params(data)


_Entry = PromptSpec | ModelSpec | RouterSpec | ChunkerSpec | RetrievalSpec


def _dumped(entry: _Entry) -> dict[str, Any]:
    """An axis entry as a variant's dict holds it (pure): a model without ``cache`` (how it is run, not what it answers),
    a prompt without the settings it leaves unset."""
    if isinstance(entry, RouterSpec):
        return entry.model_dump(mode="json", exclude={"cheap": {"cache"}, "strong": {"cache"}})
    if isinstance(entry, ModelSpec):
        return entry.model_dump(mode="json", exclude={"cache"})
    return entry.model_dump(mode="json", exclude_none=isinstance(entry, PromptSpec))


@functools.lru_cache(maxsize=4096)
def _id_text(entry: _Entry, written: tuple[tuple[str, str], ...]) -> str:
    """An axis entry's part of a variant id, as JSON text (pure; once per entry, however many variants share it): its
    settings that cannot change an answer or a retrieval at their defaults, and each model path (``llamacpp:``, a
    ``huggingface:`` folder) as written."""
    if isinstance(entry, (ModelSpec, RouterSpec)):
        entry = entry.as_answering()
    elif isinstance(entry, RetrievalSpec):
        entry = entry.as_retrieving()
    data = _dumped(entry)
    paths = dict(written)
    for model in ((data["cheap"], data["strong"]) if isinstance(entry, RouterSpec) else (data,) if isinstance(entry, ModelSpec) else ()):
        model["id"] = paths.get(model["id"], model["id"])
    if isinstance(entry, RetrievalSpec):
        data["embedding"] = paths.get(data["embedding"], data["embedding"])
    return json.dumps(data, sort_keys=True)


def prompt_hash(prompt: PromptSpec) -> str:
    """The sha256 of a prompt as it is rendered (template and system message), as the prompt registry records it."""
    return prompt.as_template().hash


def flat_params(data: Mapping[str, Any]) -> dict[str, str]:
    """``data`` as MLflow params (pure): nested keys joined by dots (``model.params.max_tokens``), lists and booleans
    as JSON (``["\\n"]``, ``true``), others as text, a setting left unset (None) not at all."""
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif value is not None:
            flat[prefix] = json.dumps(value) if isinstance(value, (list, tuple, bool)) else str(value)

    walk("", data)
    return flat


def expand_grid(spec: ExperimentSpec, *, generate: bool = True) -> list[Variant]:
    """All combinations of the spec's axes, in axis order (chunkers outermost so shared indexes are adjacent).

    A router entry of the models axis is one model of the grid (one variant per prompt, chunker and retrieval setting).
    Without generation (``generate=False``, or a spec without ``models:``) the grid is chunkers x retrieval settings:
    retrieval-only variants.

    Raises:
        SpecError: ``spec`` is not an ``ExperimentSpec`` (a path or a dict is read with ``load_experiment`` or
            ``ExperimentSpec.from_dict`` first), or holds a value the experiment refuses (set with ``model_copy``).
    """
    if not isinstance(spec, ExperimentSpec):
        raise SpecError(f"expand_grid takes an ExperimentSpec, not a {type(spec).__name__} — read it with wb.load_experiment(path) "
                        "or wb.ExperimentSpec.from_dict(data) first")
    spec = spec.validated()  # edited with model_copy(update=...), it was validated by no one
    models = [m.router if isinstance(m, RouterEntry) else m for m in spec.models]
    answering: list[tuple[PromptSpec | None, ModelSpec | RouterSpec | None]] = (
        [(p, m) for m, p in itertools.product(models, spec.prompts)] if generate and models else [(None, None)]
    )
    answering_ids = {a.id for m in models for a in (m.models if isinstance(m, RouterSpec) else (m,))}
    path_ids = answering_ids | {r.embedding for r in spec.retrieval}  # a huggingface: folder written relative too
    written = tuple(sorted((i, spec.as_written(i)) for i in path_ids if spec.as_written(i) != i))
    variants = [
        Variant(prompt=p, model=m, chunker=c, retrieval=r, written=written)
        for c, r, (p, m) in itertools.product(spec.chunkers, spec.retrieval, answering)
    ]
    seen: set[str] = set()
    unique = []
    for v in variants:
        if v.id not in seen:
            seen.add(v.id)
            unique.append(v)
    return unique


def _counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` (with thousands separators) and its noun, singular for one (pure): "1 prompt", "2,000 variants"."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"


@dataclasses.dataclass(frozen=True)
class GridPlan:
    """What a sweep of a grid does, counted before anything runs: its variants, the axes they come from, the indexes it
    builds and the model calls it makes at most (a router's two models each answer; the judge's calls aside)."""

    variants: int
    axes: tuple[tuple[str, int], ...]
    indexes: int
    questions: int
    model_calls: int
    # a router's strong model answers only the questions it escalates, and racing stops the variants clearly worse than
    # the leader: model_calls is a bound
    bound: bool = False
    documents: int | None = None  # the corpus's, when it was read

    def summary(self) -> str:
        """``8 variants (2 prompts x 2 models x 2 chunkers x 1 retrieval setting), 2 indexes, 8 questions: 64 model calls``
        (pure; the calls of variants a sweep reuses, and the answers it finds in the cache, are not made)."""
        axes = " x ".join(_counted(n, *_AXIS_NOUNS[axis]) for axis, n in self.axes)
        calls = f"{'up to ' if self.bound else ''}{_counted(self.model_calls, 'model call')}" if self.model_calls else "no model calls (retrieval only)"
        documents = f" of {_counted(self.documents, 'document')}" if self.documents is not None else ""
        return (f"{_counted(self.variants, 'variant')} ({axes}), {_counted(self.indexes, 'index', 'indexes')}{documents}, "
                f"{_counted(self.questions, 'question')}: {calls}")

    def refusal(self, allow: str) -> str:
        """Why a sweep of more than ``LARGE_GRID`` variants is not run unasked, and ``allow``: how to ask for it, in the
        words of the CLI, the RunPanel or ``wb.run`` (pure)."""
        return f"{self.summary()}, more than the {LARGE_GRID:,} variants a sweep runs unasked — {allow}"


# each axis in its words, singular and plural
_AXIS_NOUNS = {"prompts": ("prompt",), "models": ("model",), "chunkers": ("chunker",), "retrieval": ("retrieval setting",)}


def plan_grid(spec: ExperimentSpec, variants: list[Variant], questions: int, documents: int | None = None) -> GridPlan:
    """The plan of a sweep of ``variants`` (``expand_grid(spec)``) over ``questions`` questions and, when counted, a
    corpus of ``documents`` (pure)."""
    generating = any(v.generates for v in variants)
    axes = (("prompts", len(spec.prompts)), ("models", len(spec.models))) if generating else ()
    per_question = sum(2 if v.router is not None else 1 for v in variants if v.generates)
    return GridPlan(
        variants=len(variants), axes=(*axes, ("chunkers", len(spec.chunkers)), ("retrieval", len(spec.retrieval))),
        indexes=len({v.index_key for v in variants}), questions=questions, model_calls=per_question * questions,
        bound=any(v.router is not None for v in variants) or (spec.execution.racing is not None and generating), documents=documents,
    )


# characters a token, to estimate a prompt's input tokens before any model has counted them (English text, for
# OpenAI's and Anthropic's tokenizers); an estimate's line says it is one
CHARS_PER_TOKEN = 4


@dataclasses.dataclass(frozen=True)
class VariantPlan:
    """What a sweep would do with one variant, read from the tracking store and the caches without writing to them.

    ``calls`` are the model calls it would make: its questions times its answering models (a router's strong model a
    bound), less the answers the cache holds (``cached``: None when they cannot be counted without computing: its index
    is not built, or its questions were never embedded) and those an earlier variant of the sweep asks for (``shared``:
    the same prompt to the same model and settings, a closed-book prompt under several retrieval settings, which the
    sweep's cache answers once). ``cost_usd`` estimates what they cost: input tokens at
    ``CHARS_PER_TOKEN`` characters of each prompt, every answer ``max_tokens`` long; None when a model has no price.
    ``budget_usd`` and ``budget_tokens``: the spec's ``limits.max_cost_usd`` and ``limits.max_tokens``, which count all
    its answers (cached ones too), estimated so as ``total_cost_usd`` and ``tokens``; a router's are a bound (its strong
    model on every question), and ``least_cost_usd`` and ``least_tokens`` what its cheap model's answers alone come to.
    ``judge_calls``: the calls the judge would make scoring its answers (a bound: an answer not yet made is counted as
    long as it may be, and one that fails or declines is not judged), less ``judge_cached``, the replies the cache holds;
    ``judge_cost_usd`` their estimated cost (None: the judge has no price). The budgets do not count them.
    """

    variant: Variant
    questions: int
    reused_from: str | None = None
    answers: int = 0  # its questions times its answering models
    cached: int | None = None
    shared: int = 0  # of its answers not cached, those an earlier variant of the sweep asks the model for first
    cost_usd: float | None = 0.0
    index_built: bool | None = None  # None: not looked up (no index needed: reused, or it cannot run)
    unservable: str | None = None  # why it cannot run (a provider package or API key missing)
    budget_usd: float | None = None
    total_cost_usd: float | None = 0.0  # of all its answers, cached ones too: what its budget counts
    budget_tokens: int | None = None
    tokens: int = 0  # input and output of all its answers, cached ones too
    # a router's, when it escalates nothing (None: not a router, every answer is made)
    least_cost_usd: float | None = None
    least_tokens: int | None = None
    judge_calls: int = 0
    judge_cached: int = 0
    judge_cost_usd: float | None = 0.0
    # its prompts estimated longer than a llama.cpp model's context window leaves them (the window's tokens), or an
    # Ollama model's set one; counted once its index is built (the retrieved chunks are most of a prompt)
    over_window: tuple[int, int] | None = None
    # (model, tokens) of each Ollama model without a context_window whose longest prompt and max_tokens may pass what
    # its server reads unless told (``OLLAMA_DEFAULT_WINDOW``); estimated before the index is built too
    unset_windows: tuple[tuple[str, int], ...] = ()
    judge_longest: int = 0  # the tokens of the longest prompt its judge would be sent, estimated (0: none)

    @property
    def calls(self) -> int:
        if self.reused_from is not None or self.unservable is not None:
            return 0
        return self.answers - (self.cached or 0) - self.shared

    @property
    def budget_beyond_judge(self) -> bool:
        """Whether its answers stay within ``limits.max_cost_usd`` and the judge's calls take the sweep's spending past
        it: the limit counts the answers only, so the variant runs on and the judge is paid beyond it (estimated, pure)."""
        answers = self.total_cost_usd if self.least_tokens is None else self.least_cost_usd
        if self.budget_usd is None or answers is None or not self.judge_calls or self.judge_cost_usd is None:
            return False
        return answers <= self.budget_usd < answers + self.judge_cost_usd

    def _limits_passed_by(self, cost_usd: float | None, tokens: int) -> tuple[str, ...]:
        """The limits that ``cost_usd`` and ``tokens`` pass, each as ``limits.max_cost_usd ($1.5)`` (pure)."""
        passed = []
        if self.budget_usd is not None and cost_usd is not None and cost_usd > self.budget_usd:
            passed.append(f"limits.max_cost_usd (${self.budget_usd:g})")
        if self.budget_tokens is not None and tokens > self.budget_tokens:
            passed.append(f"limits.max_tokens ({self.budget_tokens:,})")
        return tuple(passed)

    @property
    def budgets_passed(self) -> tuple[str, ...]:
        """The limits its answers would pass (estimated; a router's even if it escalates nothing), each as
        ``limits.max_cost_usd ($1.5)``: it would stop FAILED there, after paying for the answers before (pure)."""
        least = self.least_cost_usd if self.least_tokens is not None else self.total_cost_usd
        return self._limits_passed_by(least, self.tokens if self.least_tokens is None else self.least_tokens)

    @property
    def budgets_at_risk(self) -> tuple[str, ...]:
        """A router's limits that its answers pass only if it escalates enough questions (estimated, pure)."""
        return tuple(b for b in self._limits_passed_by(self.total_cost_usd, self.tokens) if b not in self.budgets_passed)

    def status(self) -> str:
        """``reused from run 1a2b...``, ``new: 3 of 8 answers cached, 5 model calls, ~$0.0012``, ``cannot run: ...`` (pure)."""
        if self.unservable is not None:
            return f"cannot run: {self.unservable}"
        if self.reused_from is not None:
            return f"reused from run {self.reused_from}"
        if not self.variant.generates:
            return "new: retrieval only" + ("" if self.index_built is not False else ", index to build")
        if self.cached is None:
            cached = "index to build" if self.index_built is False else "answers in the cache not counted (its questions were never embedded)"
        else:
            cached = f"{self.cached:,} of {self.answers:,} answers cached"
        if self.shared:
            cached += f", {_counted(self.shared, 'answer')} asked by an earlier variant"
        text = f"new: {cached}, {'up to ' if self.variant.router is not None and self.calls else ''}{_counted(self.calls, 'model call')}"
        if self.calls and self.cost_usd is None:
            text += ", cost unknown (a model without a price)"
        elif self.calls and self.cost_usd:
            text += f", ~{_usd(self.cost_usd)}"
        if self.judge_calls:
            judge_cost = ", judge cost unknown" if self.judge_cost_usd is None else f", ~{_usd(self.judge_cost_usd)}" if self.judge_cost_usd else ""
            text += f"; up to {_counted(self.judge_calls, 'judge call')}{judge_cost}"
        if self.over_window is not None:
            prompts, window = self.over_window
            text += (f"; ~{prompts} of {self.questions} prompts longer than the model's context window ({window} tokens, with "
                     "room for max_tokens), their start cut or their question failed")
        if self.budgets_passed:
            text += f" — would pass {' and '.join(self.budgets_passed)} and stop FAILED"
        elif self.budgets_at_risk:
            text += (f" — could pass {' and '.join(self.budgets_at_risk)} and stop FAILED if it escalates many questions "
                     "(its cheap model's answers alone stay within)")
        return text

    def as_dict(self) -> dict[str, Any]:
        """The variant's plan as ``workbench run --dry-run --format json`` prints it (pure)."""
        return {"id": self.variant.id, "variant": self.variant.name, "reused_from": self.reused_from, "questions": self.questions,
                "answers": self.answers, "cached": self.cached, "shared": self.shared, "model_calls": self.calls, "cost_usd": self.cost_usd if self.calls else 0.0,
                "judge_calls": self.judge_calls, "judge_cached": self.judge_cached,
                "judge_cost_usd": self.judge_cost_usd if self.judge_calls else 0.0,
                "index_built": self.index_built, "budgets_passed": list(self.budgets_passed),
                "budgets_at_risk": list(self.budgets_at_risk), "error": self.unservable,
                "prompts_over_window": self.over_window[0] if self.over_window is not None else 0}


def _usd(amount: float) -> str:
    """``$0.42``, ``$12.30``, ``$0.0012`` (two significant digits below a cent) (pure)."""
    return f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.2g}"


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """A grid's plan (``GridPlan``) and what a sweep would do with each variant (``VariantPlan``): reuse, the answers
    the cache holds, the indexes to build, the model calls and their estimated cost, and the judge's calls apart."""

    grid: GridPlan
    variants: tuple[VariantPlan, ...]
    indexes_built: int  # of the grid's indexes the sweep needs, those built already
    indexes_needed: int
    judge_uncounted: tuple[str, ...] = ()  # judged scorers whose calls are not counted (registered ones, not ragas's)
    notes: tuple[str, ...] = ()  # what the sweep's numbers would not say of its dataset and corpus (``corpus_notes``)

    @property
    def calls(self) -> int:
        return sum(v.calls for v in self.variants)

    @property
    def reused(self) -> int:
        return sum(1 for v in self.variants if v.reused_from is not None)

    @property
    def cost_usd(self) -> float | None:
        """The estimated cost of the calls; None when a model that would be called has no price."""
        costs = [v.cost_usd for v in self.variants if v.calls]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)

    @property
    def judge_calls(self) -> int:
        return sum(v.judge_calls for v in self.variants)

    @property
    def judge_cached(self) -> int:
        return sum(v.judge_cached for v in self.variants)

    @property
    def judge_cost_usd(self) -> float | None:
        """The estimated cost of the judge's calls; None when the judge would be called and has no price."""
        costs = [v.judge_cost_usd for v in self.variants if v.judge_calls]
        return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)

    def summary(self) -> str:
        """``reused 2 of 8 variants; 6 to compute: 1 index to build (1 built), 40 model calls (8 answers cached), ~$0.12;
        up to 240 judge calls (48 cached), ~$0.31`` (pure)."""
        unservable = sum(1 for v in self.variants if v.unservable is not None)
        todo = len(self.variants) - self.reused - unservable
        line = f"reused {self.reused:,} of {_counted(len(self.variants), 'variant')}; {todo:,} to compute"
        line += f", {unservable:,} cannot run" if unservable else ""
        if not todo:
            return line + ": no model calls"
        line += f": {_counted(self.indexes_needed - self.indexes_built, 'index', 'indexes')} to build ({self.indexes_built:,} built)"
        if self.grid.model_calls:
            cached = sum(v.cached or 0 for v in self.variants if v.reused_from is None and v.unservable is None)
            line += f", {'up to ' if self.grid.bound and self.calls else ''}{_counted(self.calls, 'model call')} ({_counted(cached, 'answer')} cached)"
            cost = self.cost_usd
            line += ", cost unknown (a model without a price)" if cost is None else f", ~{_usd(cost)}" if cost else ""
        if self.judge_calls or self.judge_cached:
            judge_cost = self.judge_cost_usd
            line += (f"; up to {_counted(self.judge_calls, 'judge call')} ({_counted(self.judge_cached, 'reply', 'replies')} cached)"
                     + (", judge cost unknown (the judge has no price)" if judge_cost is None else f", ~{_usd(judge_cost)}" if judge_cost else ""))
        return line

    def as_dict(self) -> dict[str, Any]:
        """What ``workbench run --dry-run --format json`` prints (pure)."""
        g = self.grid
        return {"variants": [v.as_dict() for v in self.variants], "questions": g.questions, "documents": g.documents,
                "indexes": g.indexes, "indexes_built": self.indexes_built, "indexes_to_build": self.indexes_needed - self.indexes_built,
                "reused": self.reused, "model_calls": self.calls, "model_calls_bound": g.bound, "cost_usd": self.cost_usd,
                "judge_calls": self.judge_calls, "judge_cached": self.judge_cached,
                "judge_cost_usd": self.judge_cost_usd, "judge_uncounted": list(self.judge_uncounted), "grid_model_calls": g.model_calls,
                "notes": list(self.notes)}
