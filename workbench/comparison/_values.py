"""Per-question values of a variant's table (pure): which columns are scores, measurements masked by errors, and the
cost and success parts of cost per success."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.comparison._tables import VariantTable
from workbench.errors import DataError, WorkbenchError
from workbench.metrics import COST_PER_SUCCESS, METADATA_PREFIX, higher_is_better
from workbench.results import ROUTING_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MEASUREMENTS", "OPT_IN", "available_metrics", "by_case", "failed", "finite", "keyed_like", "known_costs", "numeric", "paired_cases",
    "recorded_higher_is_better", "success_parts", "text_in",
]

# Per-question columns that are not measurements of the answer (``prompt_tokens_cut``, the tokens cut from a prompt
# longer than the model's context window, says why an answer may be poor: it was compared as a score, higher better).
_META = frozenset({
    "case_id", "category", "tags", "question", "reference", "answer", "relevant_ids", "retrieved_ids", "contexts", "error", "finish_reason",
    "prompt_tokens_cut", *ROUTING_COLUMNS,
})
# Measurements compared by default, after the scores; ``input_tokens`` is comparable when asked for.
MEASUREMENTS = ("latency_s", "output_tokens", "cost_usd")
OPT_IN = ("input_tokens",)
# Measurements of a question that failed mean nothing (its latency is the time to fail; a router writes cost 0 for one
# whose calls failed, which made a router whose calls failed read cheaper per question than its model alone).
_ERROR_MASKED = ("latency_s", "input_tokens", "output_tokens", "cost_usd")


def by_case(table: VariantTable) -> pd.DataFrame:
    """The variant's table indexed by ``case_id`` (one row per question)."""
    return table.frame.drop_duplicates("case_id").set_index("case_id", drop=False)


def paired_cases(base: pd.DataFrame, other: pd.DataFrame) -> pd.Index:
    """The case ids two ``by_case`` tables can be paired on: in both, with the same question text, reference answer and
    labelled sources where both tables have them (two datasets can give different questions the same id, e.g. ids
    numbered by line; a question whose reference was fixed, or whose sources were relabelled, is scored against other
    answers: its difference would be the edit's, not the variant's)."""
    import numpy as np

    common = base.index.intersection(other.index, sort=False)
    same = np.ones(len(common), dtype=bool)
    for column in _LABELS:
        if column in base.columns and column in other.columns:
            same &= base.loc[common, column].map(_label).to_numpy() == other.loc[common, column].map(_label).to_numpy()
    return common[same]


# what a question asks and what it is scored against
_LABELS = ("question", "reference", "relevant_ids")


def _label(value: Any) -> str:
    """A label's text for comparing two tables' (pure): a list of source ids as the set it is (read back from the
    store, or built in memory, in any order); a missing one empty."""
    if isinstance(value, (list, tuple, set, frozenset)) or type(value).__name__ == "ndarray":
        return repr(sorted({str(v) for v in value}))
    if value is None or (isinstance(value, float) and value != value):  # no reference: None in memory, NaN read back
        return ""
    return str(value)


def keyed_like(base: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """``other`` (a ``by_case`` table) under ``base``'s case ids, matched by question text, when the two share no case
    id at all: one dataset's runs logged before and after its default ids changed (``questions-1``... became
    ``case-1``...) answer the same questions under other ids, and would pair on none. A question asked twice in either
    table is left unmatched; ``other`` is returned as it is when any id is shared or a table has no question text."""
    if "question" not in base.columns or "question" not in other.columns or len(base.index.intersection(other.index)):
        return other
    base_ids = _unique_questions(base)
    other_ids = _unique_questions(other)
    renamed = {other_ids[q]: base_ids[q] for q in other_ids.keys() & base_ids.keys()}
    if not renamed:
        return other
    out = other.rename(index=renamed)
    return out.assign(case_id=out.index)


def _unique_questions(frame: pd.DataFrame) -> dict[str, Any]:
    """Question text -> case id, for the questions asked once in the table."""
    questions = frame["question"].astype(str)
    once = questions[~questions.duplicated(keep=False)]
    return dict(zip(once.to_numpy(), once.index))


def failed(frame: pd.DataFrame) -> pd.Series:
    """Per row, whether the question's answer failed with an error (all False in a table without an ``error`` column: a
    retrieval-only table, or one given by hand)."""
    import pandas as pd

    return frame["error"].notna() if "error" in frame.columns else pd.Series(False, index=frame.index, dtype=bool)


def unanswered_scorers(metrics: Sequence[str], tables: Sequence[VariantTable]) -> bool:
    """Whether ``metrics`` are all scorers' and every question of every table failed: none of them can have a value (the
    chunks were retrieved, so retrieval scores stand), which a comparison reports and a gate fails, not an unknown metric."""
    from workbench.metrics import scorer_entries

    return (bool(tables) and all(m in scorer_entries() for m in metrics)
            and all(len(t.frame) > 0 and bool(failed(t.frame).all()) for t in tables))


def unknown_metric(name: str, available: Sequence[str], note: str = "") -> WorkbenchError:
    """The one-line error for a metric the results do not have, with the close spelling it likely meant."""
    meant = difflib.get_close_matches(name, list(available), n=1, cutoff=0.8)
    return WorkbenchError(f"metric '{name}' is not in the results{note}{f' — did you mean {meant[0]!r}?' if meant else ''} "
                          f"— available: {', '.join(available)}")


def numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    """A column as floats (NaN where missing or not a number; measurements of failed questions masked)."""
    import pandas as pd

    if column not in frame.columns:
        return pd.Series(float("nan"), index=frame.index, dtype=float)
    values = pd.to_numeric(frame[column], errors="coerce").astype(float)
    if column in _ERROR_MASKED:
        values = values.where(~failed(frame))
    return values


def finite(values: pd.Series, table: str, column: str) -> pd.Series:
    """``values`` (a ``numeric`` column indexed by case id) when none is infinite.

    Raises:
        DataError: an infinite value, naming the table, the column and the question (a mean, an interval and a verdict
            over it would be inf or NaN whatever the other questions say).
    """
    import numpy as np

    infinite = np.isinf(values.to_numpy(dtype=float))
    if infinite.any():
        first = int(infinite.argmax())
        raise DataError(f"table '{table}': {column} is {values.iloc[first]} on case_id '{values.index[first]}' — per-question "
                        "values must be finite numbers (None or NaN for a question that was not scored)")
    return values


def _cost_known(frame: pd.DataFrame) -> bool:
    """Every question that was answered has a cost (a model with no price leaves it missing, never zero)."""
    if "cost_usd" not in frame.columns:
        return False
    costs = frame["cost_usd"][~failed(frame)]
    return len(costs) > 0 and bool(costs.notna().all())


def recorded_higher_is_better(metric: str, tables: Sequence[VariantTable]) -> bool:
    """Whether a larger ``metric`` is better in these tables: not for a scorer that one of their runs recorded as better
    low (tag ``workbench.lower_is_better``: registered so in the process that logged it, perhaps not in this one, as in
    a ``workbench compare`` that imports no module of the user's), else as ``higher_is_better`` says."""
    return higher_is_better(metric) and not any(metric in t.lower_is_better for t in tables)


def known_costs(frame: pd.DataFrame) -> pd.Series:
    """Each question's ``cost_usd``, every one NaN unless every answered question has one: the costs a router knows are
    those of the questions that kept its priced cheap model's answer, and their mean alone is not what it cost."""
    cost = numeric(frame, "cost_usd")
    return cost if _cost_known(frame) else cost * float("nan")


def success_parts(frame: pd.DataFrame, success_metric: str, threshold: float, *, higher: bool) -> tuple[pd.Series, pd.Series]:
    """(cost, 1.0 if the answer succeeded else 0.0) per question; every cost NaN when costs are unknown
    (``known_costs``). An answer succeeds when ``success_metric`` reaches ``threshold`` in its good direction: at least
    it when ``higher`` is better (``recorded_higher_is_better``), at most it otherwise."""
    cost = known_costs(frame)
    quality = numeric(frame, success_metric)
    passed = quality >= threshold if higher else quality <= threshold  # as ``passes``
    success = passed.astype(float)
    return cost, success


def text_in(tables: Sequence[VariantTable], columns: Sequence[str]) -> str | None:
    """Where one of ``columns`` holds text rather than a number ("table 'a': token_f1 is 'judge failed' on case_id
    'q2'"), or None. Such a column is not a score at all (``available_metrics`` leaves it out), so one note in a
    spreadsheet's column would drop the metric from a comparison unnoticed."""
    import pandas as pd

    for t in tables:
        for column in columns:
            if column not in t.frame.columns:
                continue
            raw = t.frame[column]
            text = (raw.notna() & pd.to_numeric(raw, errors="coerce").isna()).to_numpy()
            if text.any():
                i = int(text.argmax())
                return f"table '{t.name}': {column} is {raw.iloc[i]!r} on case_id '{t.frame['case_id'].iloc[i]}'"
    return None


def is_metadata(column: object) -> bool:
    """Whether a per-question column holds one of the dataset's own fields (``metadata.year``) (pure)."""
    return isinstance(column, str) and column.startswith(METADATA_PREFIX)


def refuse_metadata(metrics: Sequence[str]) -> None:
    """Refuse a dataset's own column named as a metric (pure): what questions are sliced by, not a score of the
    variants (each variant has the same values); a column of numbers was compared as one, verdict and all.

    Raises:
        WorkbenchError: one line saying how to slice by it instead.
    """
    column = next((m for m in metrics if is_metadata(m)), None)
    if column is not None:
        raise WorkbenchError(f"'{column}' is a column of the dataset, not a score — slice the questions by it: compare each "
                             f"variant's records_frame() rows of one value, wb.compare({{v.variant.name: v.records_frame()[lambda f: "
                             f"f['{column}'] == VALUE] for v in result.variants}}), or group wb.diff_questions(...) by it")


def _score_columns(frame: pd.DataFrame) -> list[str]:
    import pandas as pd

    out = []
    for column in frame.columns:
        if column in _META or column in MEASUREMENTS or column in OPT_IN or is_metadata(column):
            continue
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.notna().any() and (frame[column].isna() | values.notna()).all():
            out.append(str(column))
    return out


def available_metrics(tables: Sequence[VariantTable]) -> list[str]:
    """What can be compared by default: every score present, then latency, output tokens and cost, then cost per
    success when some variant's costs are known."""
    scores: list[str] = []
    for t in tables:
        scores.extend(c for c in _score_columns(t.frame) if c not in scores)
    measured = [m for m in MEASUREMENTS if any(m in t.frame.columns and numeric(t.frame, m).notna().any() for t in tables)]
    if "cost_usd" in measured and not any(_cost_known(t.frame) for t in tables):
        measured.remove("cost_usd")
    extra = [COST_PER_SUCCESS] if "cost_usd" in measured else []
    return scores + measured + extra
