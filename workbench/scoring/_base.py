"""The scorer interface: a scorer is a factory registered by name that returns ``ScoreContext -> Score``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from workbench.errors import SpecError
from workbench.models import Embedder
from workbench.scoring._judge import Judge, JudgeUsage

__all__ = [
    "Score",
    "ScoreContext",
    "ScoreFn",
    "ScorerEnv",
    "build_scorers",
    "default_scorers",
    "judged_scorers",
    "registered_scorers",
    "run_scorers",
    "scorer",
]


@dataclass(frozen=True)
class ScoreContext:
    """Everything a scorer may look at for one question.

    ``retrieved_ids`` are the document ids of the retrieved chunks in rank order (repeats kept: two chunks of one
    document are two entries). ``expects_refusal`` is true for unanswerable and policy items.
    """

    question: str
    answer: str
    reference: str = ""
    contexts: tuple[str, ...] = ()
    retrieved_ids: tuple[str, ...] = ()
    relevant_ids: frozenset[str] = frozenset()
    category: str = "answerable"

    @property
    def expects_refusal(self) -> bool:
        return self.category != "answerable"


@dataclass(frozen=True)
class Score:
    """A scorer's verdict. ``value`` None means not applicable (skipped in means); ``error`` means the scorer failed.

    LLM-judged scorers also fill ``spread`` (standard deviation over the judge's repeats, when there are several) and
    ``judge`` (calls, unusable outputs, tokens and cost of judging this item; accounted apart from the answering model).
    """

    value: float | None
    explanation: str = ""
    error: str | None = None
    spread: float | None = None
    judge: JudgeUsage | None = None


class ScoreFn(Protocol):
    def __call__(self, ctx: ScoreContext) -> Score: ...


@dataclass(frozen=True)
class ScorerEnv:
    """Resources a scorer factory may use: the embedding model, and a judge model for LLM-judged metrics.

    ``judge_repeats`` is how often an LLM-judged scorer asks the judge about one item (its spread is reported).
    """

    embedder: Embedder | None = None
    judge: Judge | None = None
    judge_repeats: int = 1


Factory = Callable[[ScorerEnv], ScoreFn]


@dataclass(frozen=True)
class _Entry:
    factory: Factory
    default: bool
    description: str = field(default="")
    judged: bool = False


_REGISTRY: dict[str, _Entry] = {}


def scorer(name: str, *, default: bool = True, judged: bool = False) -> Callable[[Factory], Factory]:
    """Register a scorer factory under ``name``.

    ``judged`` marks a scorer that needs a judge model: it is on by default exactly when a judge is configured.

    Example:
        >>> @scorer("answer_length", default=False)
        ... def answer_length(env: ScorerEnv) -> ScoreFn:
        ...     return lambda ctx: Score(float(len(ctx.answer.split())))
    """

    def register(factory: Factory) -> Factory:
        _REGISTRY[name] = _Entry(factory, default, (factory.__doc__ or "").strip().splitlines()[0] if factory.__doc__ else "", judged)
        return factory

    return register


def registered_scorers() -> Mapping[str, str]:
    """Name -> one-line description of every registered scorer."""
    return {name: entry.description for name, entry in sorted(_REGISTRY.items())}


def default_scorers(*, with_judge: bool = False) -> list[str]:
    """The scorers used when a spec names none: the default ones, plus the LLM-judged ones when a judge is set."""
    return [name for name, entry in _REGISTRY.items() if entry.default or (with_judge and entry.judged)]


def judged_scorers() -> list[str]:
    """Names of the scorers that need a judge model."""
    return [name for name, entry in _REGISTRY.items() if entry.judged]


def build_scorers(names: Iterable[str] | None, env: ScorerEnv) -> dict[str, ScoreFn]:
    """Instantiate scorers by name (the default set when ``names`` is None; it includes the LLM-judged scorers
    when ``env`` has a judge).

    Raises:
        KeyError: an unknown scorer name (the message lists the known ones).
        SpecError: an LLM-judged scorer is asked for but ``env`` has no judge.
    """
    chosen = list(names) if names is not None else default_scorers(with_judge=env.judge is not None)
    unknown = [n for n in chosen if n not in _REGISTRY]
    if unknown:
        raise KeyError(f"unknown scorer '{unknown[0]}' — known scorers: {', '.join(sorted(_REGISTRY))}")
    unjudged = [n for n in chosen if _REGISTRY[n].judged and env.judge is None]
    if unjudged:
        raise SpecError(f"scorer '{unjudged[0]}' needs a judge model — add a 'judge:' section to the experiment (e.g. judge: local:gemma3-270m)")
    return {name: _REGISTRY[name].factory(env) for name in chosen}


def run_scorers(scorers: Mapping[str, ScoreFn], ctx: ScoreContext) -> dict[str, Score]:
    """Run every scorer; a scorer that raises yields an error score instead of stopping the others."""
    out: dict[str, Score] = {}
    for name, fn in scorers.items():
        try:
            out[name] = fn(ctx)
        except Exception as exc:  # noqa: BLE001 - errors are data at this edge (one bad scorer must not end a sweep)
            out[name] = Score(None, error=f"{type(exc).__name__}: {exc}")
    return out
