"""The scorer interface: a scorer is a factory registered by name that returns ``ScoreContext -> Score``."""

from __future__ import annotations

import importlib
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from workbench.datasets import REFUSAL_CATEGORIES
from workbench.errors import SpecError
from workbench.models import Embedder
from workbench.metrics import Score, ScorerEntry, scorer, scorer_entries
from workbench.scoring._judge import Judge

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

    ``retrieved_ids`` are the sources of the retrieved chunks in rank order (repeats kept: two chunks of one
    document are two entries): their document ids, with the pages a chunk of a paged document lies on
    (``handbook#page=3-4``). ``relevant_ids``: the labelled sources, documents or pages of them (``handbook#page=12``). ``expects_refusal`` is true for unanswerable and policy items (injection items carry
    a planted instruction in their context and are answered).
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
        return self.category in REFUSAL_CATEGORIES

    @property
    def has_reference(self) -> bool:
        """Whether there is a reference answer to compare with: some letter or digit (a blank cell, or one holding
        "-" or "...", is none)."""
        return any(ch.isalnum() for ch in self.reference)


class ScoreFn(Protocol):
    """A scorer: what a scorer factory returns, called with each question's ``ScoreContext``."""

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


def _factory(entry: ScorerEntry) -> Factory:
    if callable(entry.factory):
        return entry.factory
    module, _, name = entry.factory.partition(":")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def registered_scorers() -> Mapping[str, str]:
    """Name -> one-line description (the factory's first docstring line) of every known scorer."""
    out = {}
    for name, entry in sorted(scorer_entries().items()):
        doc = _factory(entry).__doc__
        out[name] = doc.strip().splitlines()[0] if doc else ""
    return out


def default_scorers(*, with_judge: bool = False) -> list[str]:
    """The scorers used when a spec names none: the default ones, plus the LLM-judged ones when a judge is set."""
    return [name for name, entry in scorer_entries().items() if entry.default or (with_judge and entry.judged)]


def judged_scorers() -> list[str]:
    """Names of the scorers that need a judge model."""
    return [name for name, entry in scorer_entries().items() if entry.judged]


def build_scorers(names: Iterable[str] | None, env: ScorerEnv) -> dict[str, ScoreFn]:
    """Instantiate scorers by name (the default set when ``names`` is None; it includes the LLM-judged scorers
    when ``env`` has a judge).

    Raises:
        KeyError: an unknown scorer name (the message lists the known ones).
        SpecError: an LLM-judged scorer is asked for but ``env`` has no judge, or a factory is not one (it fails on
            ``env`` or returns no function).
    """
    chosen = list(names) if names is not None else default_scorers(with_judge=env.judge is not None)
    entries = scorer_entries()
    unknown = [n for n in chosen if n not in entries]
    if unknown:
        raise KeyError(f"unknown scorer '{unknown[0]}' — known scorers: {', '.join(sorted(entries))}")
    unjudged = [n for n in chosen if entries[n].judged and env.judge is None]
    if unjudged:
        raise SpecError(f"scorer '{unjudged[0]}' needs a judge model — add a 'judge:' section to the experiment (e.g. judge: local:gemma3-270m)")
    return {name: _built(name, _factory(entries[name]), env) for name in chosen}


def _built(name: str, factory: Factory, env: ScorerEnv) -> ScoreFn:
    """The scorer function ``factory`` makes. A function written as the scorer itself (``def f(ctx)``) fails here on
    the ``ScorerEnv`` it is handed, or returns a ``Score``: its author is told the shape ``@scorer`` expects."""
    shape = f"@scorer decorates a factory taking a ScorerEnv, e.g. def {name}(env): return lambda ctx: Score(...)"
    try:
        fn = factory(env)
    except (AttributeError, TypeError) as exc:
        raise SpecError(f"scorer '{name}' could not be built: {type(exc).__name__}: {exc} — {shape}") from exc
    if not callable(fn):
        raise SpecError(f"scorer '{name}' returned {type(fn).__name__}, not a function of the question — {shape}")
    return fn


def run_scorers(scorers: Mapping[str, ScoreFn], ctx: ScoreContext) -> dict[str, Score]:
    """Run every scorer; a scorer that raises yields an error score instead of stopping the others."""
    out: dict[str, Score] = {}
    for name, fn in scorers.items():
        try:
            out[name] = _checked(fn(ctx))
        except Exception as exc:  # noqa: BLE001 - errors are data at this edge (one bad scorer must not end a sweep)
            out[name] = Score(None, error=f"{type(exc).__name__}: {exc}")
    return out


def _numpy_bool(value: object) -> bool:
    import numpy as np  # imported with pandas by every sweep already

    return isinstance(value, np.bool_)


def _checked(score: object) -> Score:
    """``score`` when it is a usable ``Score``; otherwise raises what a scorer's author needs to mend it (a NaN would be
    logged as a metric nothing can compare, an infinity would pass every gate)."""
    if not isinstance(score, Score):
        raise TypeError(f"the scorer returned {type(score).__name__} {str(score)[:40]!r}, not a Score — return "
                        "workbench.Score(value), or Score(None) for a question it does not apply to")
    value = score.value
    for field, text in (("explanation", score.explanation), ("error", score.error)):
        if text is not None and not isinstance(text, str):  # MLflow stores it as the assessment's text
            raise TypeError(f"the scorer's Score.{field} is {type(text).__name__} {str(text)[:40]!r} — give text, "
                            "e.g. Score(0.5, 'why'); the value comes first")
    if score.error is not None and value is not None:
        # a failed score has no value: the run's mean leaves it out, so the per-question table must not show it
        return replace(score, value=None)
    if value is not None and not isinstance(value, numbers.Real) and _numpy_bool(value):
        # (answer_vec @ ref_vec > 0.5) is numpy's bool, not a numbers.Real: a bool is a number (1/0) as Python's is
        return replace(score, value=bool(value))
    if value is not None and not isinstance(value, numbers.Real):
        raise TypeError(f"the scorer's Score.value is {type(value).__name__} {str(value)[:40]!r} — give a number, or None")
    if value is not None and not math.isfinite(value):
        raise ValueError(f"the scorer's Score.value is {value} — give a finite number, or None for a question it does not apply to")
    if value is not None and type(value) not in (float, int, bool):
        # a Fraction or a numpy number: the per-question table is written as JSON, which knows only Python's numbers
        return replace(score, value=float(value))
    return score
