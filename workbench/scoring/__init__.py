"""Scoring: the scorer registry, deterministic scorers, aggregation."""

from workbench.scoring import _deterministic  # noqa: F401  (registers the built-in scorers)
from workbench.scoring._aggregate import mean_scores, percentile
from workbench.scoring._base import (
    Score,
    ScoreContext,
    ScoreFn,
    ScorerEnv,
    build_scorers,
    default_scorers,
    registered_scorers,
    run_scorers,
    scorer,
)
from workbench.scoring._deterministic import is_refusal, normalize, token_f1_value

__all__ = [
    "Score",
    "ScoreContext",
    "ScoreFn",
    "ScorerEnv",
    "build_scorers",
    "default_scorers",
    "is_refusal",
    "mean_scores",
    "normalize",
    "percentile",
    "registered_scorers",
    "run_scorers",
    "scorer",
    "token_f1_value",
]
