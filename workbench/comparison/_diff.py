"""Per-question diffs: which questions flipped between two variants on a metric, both answers side by side."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from workbench.comparison._tables import Source, VariantTable, find_table, load_tables
from workbench.comparison._values import (
    available_metrics,
    by_case,
    failed,
    is_metadata,
    keyed_like,
    numeric,
    paired_cases,
    recorded_higher_is_better,
    refuse_metadata,
)
from workbench.errors import WorkbenchError
from workbench.metrics import SUCCESS_METRIC, SUCCESS_THRESHOLD

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Change", "diff_questions", "question_diff"]

Change = Literal["gained", "lost", "unchanged", "not scored"]


def _passed(value: float, errored: bool, higher: bool, threshold: float) -> bool | None:
    """Whether a question passed (reached ``threshold``, at most it when lower is better); None when it was not scored.
    A question that failed with an error did not pass: it has no answer to score."""
    if math.isnan(value):
        return False if errored else None
    return value >= threshold if higher else value <= threshold  # as ``passes``


def question_diff(a: VariantTable, b: VariantTable, metric: str, threshold: float, only_flips: bool) -> pd.DataFrame:
    """The per-question diff of two variant tables (see ``diff_questions``)."""
    import pandas as pd

    refuse_metadata([metric])
    fa = by_case(a)
    fb = keyed_like(fa, by_case(b))
    if metric not in fa.columns and metric not in fb.columns:
        raise WorkbenchError(f"metric '{metric}' is in neither '{a.name}' nor '{b.name}' — available: {', '.join(available_metrics([a, b]))}")
    common = paired_cases(fa, fb)
    va, vb = numeric(fa, metric)[common], numeric(fb, metric)[common]
    errors_a, errors_b = set(fa.index[failed(fa)]), set(fb.index[failed(fb)])
    higher = recorded_higher_is_better(metric, [a, b])
    # the dataset's own columns (metadata.difficulty...), to slice the flips by as the per-question tables are sliced
    metadata = [c for c in dict.fromkeys([*fa.columns, *fb.columns]) if is_metadata(c)]
    rows = []
    for case_id in common:
        x, y = va[case_id], vb[case_id]
        pa, pb = _passed(x, case_id in errors_a, higher, threshold), _passed(y, case_id in errors_b, higher, threshold)
        change: Change
        if pa is None or pb is None or (math.isnan(x) and math.isnan(y)):
            change = "not scored"
        else:
            change = "gained" if (pb and not pa) else ("lost" if (pa and not pb) else "unchanged")
        if only_flips and change not in ("gained", "lost"):
            continue
        ra, rb = fa.loc[case_id], fb.loc[case_id]
        rows.append({
            "case_id": case_id, "category": ra.get("category"), "question": ra.get("question"), "reference": ra.get("reference"),
            **{c: ra.get(c, rb.get(c)) for c in metadata}, "change": change, f"{metric}_a": x, f"{metric}_b": y,
            "answer_a": ra.get("answer"), "answer_b": rb.get("answer"),
            "retrieved_ids_a": ra.get("retrieved_ids"), "retrieved_ids_b": rb.get("retrieved_ids"),
            "relevant_ids": ra.get("relevant_ids"),
            "contexts_a": ra.get("contexts"), "contexts_b": rb.get("contexts"),
        })
    columns = [
        "case_id", "category", "question", "reference", *metadata, "change", f"{metric}_a", f"{metric}_b", "answer_a", "answer_b",
        "retrieved_ids_a", "retrieved_ids_b", "relevant_ids", "contexts_a", "contexts_b",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs.update({"a": a.name, "b": b.name, "metric": metric, "threshold": threshold})
    return frame


def diff_questions(
    runs_or_result: Source,
    a: str | None,
    b: str,
    *,
    metric: str = SUCCESS_METRIC,
    threshold: float = SUCCESS_THRESHOLD,
    only_flips: bool = True,
    tracking_uri: str | None = None,
) -> pd.DataFrame:
    """Which questions flipped between two variants on a metric, with both answers and contexts side by side.

    A question passes when its value clears ``threshold`` in the metric's good direction (``>=`` for scores,
    ``<=`` for lower-is-better metrics such as false_refusal). "gained": ``b`` passes where ``a`` did not; "lost":
    the reverse; a question that failed with an error in one variant did not pass there, so one passed in ``a`` and
    errored in ``b`` is lost. Only questions both variants asked are compared (a case id on both sides with two
    different question texts, as in two datasets numbered by line, is two questions, not a flip).

    Args:
        runs_or_result: anything ``wb.compare`` accepts.
        a: the reference variant (id, name or run id); None for the first variant.
        b: the variant to diff against ``a``.
        metric: the per-question metric to threshold (e.g. ``token_f1``, ``hit_at_k``).
        threshold: the pass mark.
        only_flips: keep only gained/lost questions; False keeps every common question with its ``change``
            (gained, lost, unchanged, not scored).
        tracking_uri: the MLflow store to read runs from.

    Returns:
        One row per question: case_id, category, question, reference, the dataset's own columns (``metadata.<name>``,
        to slice the flips by), change, ``<metric>_a``, ``<metric>_b``,
        answers, retrieved ids, relevant ids and contexts of both (``frame.attrs`` names ``a`` and ``b``).
    """
    loaded = load_tables(runs_or_result, tracking_uri=tracking_uri)
    first = loaded.variants[0] if a is None else find_table(loaded.variants, a)
    return question_diff(first, find_table(loaded.variants, b), metric, threshold, only_flips)
