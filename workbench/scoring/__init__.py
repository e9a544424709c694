"""Scoring: the scorer registry, deterministic, ragas and safety scorers, judges, judge calibration, aggregation, and
the digest of a scorer's code that decides whether a finished run is reused.

Where each part lives:

    _base           the scorer interface: a factory registered by name returning ``ScoreContext -> Score``
    _deterministic  retrieval against labelled sources, answer overlap with the reference, refusals
    _safety         personal data in answers, policy refusals, prompt injection
    _ragas          ragas metrics as scorers (``_ragas_bridge``: ragas run on workbench's models, imported lazily)
    _judge          judge models: a question asked, JSON conforming to a schema back
    _calibration    how often a judge agrees with human labels (accuracy, Cohen's kappa)
    _aggregate      per-question scores into a variant's metrics, the judge's accounting among them (pure)
    _fingerprint    the digest of a scorer's code, checked before a finished run is reused
"""

from workbench.metrics import JudgeUsage
from workbench.scoring._aggregate import judge_metrics, mean_scores
from workbench.scoring._base import (
    Score,
    ScoreContext,
    ScoreFn,
    ScorerEnv,
    build_scorers,
    default_scorers,
    judged_scorers,
    registered_scorers,
    run_scorers,
    scorer,
)
from workbench.scoring._calibration import Agreement, CalibrationReport, agreement, calibrate, cohen_kappa, load_labels
from workbench.scoring._deterministic import is_refusal, normalize, token_f1_value
from workbench.scoring._fingerprint import code_digest
from workbench.scoring._judge import Judge, JudgeReply, ModelJudge, check_reply, load_judge
from workbench.scoring._ragas import JUDGED_METRICS, NON_LLM_METRICS, JudgePrompt, judge_prompts
from workbench.scoring._safety import PiiMatch, find_canaries, find_instructions, find_pii, iban_valid, luhn_valid

__all__ = [
    "JUDGED_METRICS",
    "NON_LLM_METRICS",
    "Agreement",
    "CalibrationReport",
    "Judge",
    "JudgeReply",
    "JudgePrompt",
    "JudgeUsage",
    "ModelJudge",
    "PiiMatch",
    "Score",
    "ScoreContext",
    "ScoreFn",
    "ScorerEnv",
    "agreement",
    "build_scorers",
    "calibrate",
    "check_reply",
    "code_digest",
    "cohen_kappa",
    "default_scorers",
    "find_canaries",
    "find_instructions",
    "find_pii",
    "iban_valid",
    "is_refusal",
    "judge_metrics",
    "judge_prompts",
    "judged_scorers",
    "load_judge",
    "load_labels",
    "luhn_valid",
    "mean_scores",
    "normalize",
    "registered_scorers",
    "run_scorers",
    "scorer",
    "token_f1_value",
]
