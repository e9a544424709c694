"""Judge calibration: how often a judge's verdicts agree with human labels (accuracy and Cohen's kappa).

Judge scores and labels are binarised at a threshold (score >= threshold is a pass). The scores are a per-question
DataFrame (a variant's results table; ``workbench.tracking`` reads a logged run's). Labels come from a file (CSV
or JSONL with ``case_id``, ``metric``, ``label`` and optionally ``answer``) or a DataFrame with those columns — the
notebook's feedback widgets produce one. A label with an ``answer`` judges that answer only: it is skipped (counted
as stale) when the run answered the case differently.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.datasets import csv_header, other_separator, read_text
from workbench.errors import DataError

__all__ = ["Agreement", "CalibrationReport", "agreement", "calibrate", "cohen_kappa", "load_labels"]

LABEL_COLUMNS = ("case_id", "metric", "label")
_TRUE = {"1", "true", "yes", "y", "pass", "good", "correct", "+"}
_FALSE = {"0", "false", "no", "n", "fail", "bad", "incorrect", "-"}


@dataclass(frozen=True)
class Agreement:
    """Agreement of a judge with human labels on one metric.

    Attributes:
        metric: the scorer name.
        n: labelled items that have a judge score.
        accuracy: share of those where judge and human agree (after binarising).
        kappa: Cohen's kappa (agreement beyond chance); NaN when undefined (both used a single class).
        threshold: the binarising threshold.
        judge_positive: share the judge passed.
        human_positive: share the humans passed.
        confusion: (both pass, judge only, human only, both fail).
        missing: labels with no judge score in the run (not applicable, judge error, case not in the run, or the
            metric not scored by the run: then every label of it).
        stale: labels on a different answer than the run's.
    """

    metric: str
    n: int
    accuracy: float
    kappa: float
    threshold: float
    judge_positive: float
    human_positive: float
    confusion: tuple[int, int, int, int]
    missing: int = 0
    stale: int = 0


@dataclass(frozen=True)
class CalibrationReport:
    """One ``Agreement`` per labelled metric, for one run (``source``)."""

    source: str
    agreements: tuple[Agreement, ...]

    def agreement(self, metric: str) -> Agreement:
        for a in self.agreements:
            if a.metric == metric:
                return a
        raise KeyError(f"no labels for metric '{metric}' — labelled: {', '.join(a.metric for a in self.agreements)}")

    def to_frame(self) -> Any:
        """One row per metric: n, accuracy, kappa, pass rates, confusion counts, missing and stale labels."""
        import pandas as pd

        rows = []
        for a in self.agreements:
            tp, fp, fn, tn = a.confusion
            rows.append({
                "metric": a.metric, "n": a.n, "accuracy": a.accuracy, "kappa": a.kappa, "judge_pass": a.judge_positive,
                "human_pass": a.human_positive, "both_pass": tp, "judge_only": fp, "human_only": fn, "both_fail": tn,
                "missing": a.missing, "stale": a.stale,
            })
        return pd.DataFrame(rows)


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Cohen's kappa of two binary raters: (observed - chance agreement) / (1 - chance agreement).

    Returns NaN when there are no items or chance agreement is 1 (both raters used one and the same class).
    """
    if len(a) != len(b):
        raise ValueError(f"raters have {len(a)} and {len(b)} verdicts — they must rate the same items")
    n = len(a)
    if n == 0:
        return math.nan
    observed = sum(1 for x, y in zip(a, b) if x == y) / n
    pa, pb = sum(a) / n, sum(b) / n
    chance = pa * pb + (1 - pa) * (1 - pb)
    if chance >= 1.0:
        return math.nan
    return (observed - chance) / (1 - chance)


def agreement(metric: str, judge: Sequence[float], human: Sequence[float], *, threshold: float = 0.5,
              missing: int = 0, stale: int = 0) -> Agreement:
    """Binarise paired judge scores and human labels at ``threshold`` and measure their agreement (pure)."""
    j = [v >= threshold for v in judge]
    h = [v >= threshold for v in human]
    n = len(j)
    tp = sum(1 for x, y in zip(j, h) if x and y)
    fp = sum(1 for x, y in zip(j, h) if x and not y)
    fn = sum(1 for x, y in zip(j, h) if y and not x)
    tn = n - tp - fp - fn
    return Agreement(
        metric=metric, n=n, accuracy=(tp + tn) / n if n else math.nan, kappa=cohen_kappa(j, h), threshold=threshold,
        judge_positive=sum(j) / n if n else math.nan, human_positive=sum(h) / n if n else math.nan,
        confusion=(tp, fp, fn, tn), missing=missing, stale=stale,
    )


# -- labels --------------------------------------------------------------------------------------------------------------


def _label_value(raw: Any, where: str, written: str | None = None) -> float:
    """A label in [0, 1]; ``written`` is how the file wrote a number read from text ("4", not "4.0")."""
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, (int, float)):
        if math.isnan(raw):
            raise DataError(f"{where}: field 'label' is missing — every label needs case_id, metric and label")
        if not 0.0 <= float(raw) <= 1.0:
            raise DataError(f"{where}: field 'label': {written or raw} is outside [0, 1] — use 0/1, a score in [0, 1], or "
                            "pass/fail (map a 1-5 rating to [0, 1] first, e.g. (rating - 1) / 4)")
        return float(raw)
    text = str(raw).strip().lower()
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    try:
        number = float(text)
    except ValueError:
        raise DataError(f"{where}: field 'label': '{raw}' is not a label — use 0/1, a score in [0, 1], or pass/fail") from None
    return _label_value(number, where, str(raw).strip())


def _blank(value: Any) -> bool:
    """Whether a cell holds nothing: None, empty or spaces, or NaN (a DataFrame's empty cell)."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""


def _label_rows(rows: Iterable[tuple[int, dict[str, Any]]], source: str, unit: str = "line") -> list[dict[str, Any]]:
    out = []
    first_line: dict[tuple[str, str, str | None], int] = {}  # (case_id, metric, answer) -> the line that labelled it
    for line, row in rows:
        where = f"{source}:{line}"
        for col in ("case_id", "metric"):  # a missing label says so in _label_value, which also reads the label
            if _blank(row.get(col)):
                raise DataError(f"{where}: field '{col}' is missing — every label needs case_id, metric and label")
        if row.get("label") is None or str(row.get("label")).strip() == "":
            raise DataError(f"{where}: field 'label' is missing — every label needs case_id, metric and label")
        answer = None if _blank(row.get("answer")) else str(row["answer"])
        case_id, metric = str(row["case_id"]).strip(), str(row["metric"]).strip()
        key = (case_id, metric, None if answer is None else " ".join(answer.split()))
        if key in first_line:  # counted twice, one question would weigh double in n, accuracy and kappa
            raise DataError(f"{where}: case '{case_id}' is labelled again on '{metric}'{' for the same answer' if answer else ''} "
                            f"(first at {unit} {first_line[key]}) — keep one label per case and metric")
        first_line[key] = line
        out.append({"case_id": case_id, "metric": metric, "label": _label_value(row["label"], where), "answer": answer})
    return out


def _csv_rows(reader: csv.DictReader[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Each row of a CSV file with the line it starts on (a quoted answer may span several lines)."""
    start = reader.line_num + 1
    for row in reader:
        if any(not _blank(value) for value in row.values()):  # a line of spaces, or of commas only, is no label
            yield start, row
        start = reader.line_num + 1


def load_labels(source: str | Path | Any) -> Any:
    """Human labels as a DataFrame (case_id, metric, label in [0, 1], answer or None).

    Args:
        source: a ``.csv`` or ``.jsonl`` file, or a DataFrame with columns case_id, metric, label (answer optional).

    Raises:
        DataError: one line naming the file, line and field; or a case labelled twice on one metric (for one answer).
    """
    import pandas as pd

    if isinstance(source, pd.DataFrame):
        missing = [c for c in LABEL_COLUMNS if c not in source.columns]
        if missing:
            raise DataError(f"labels DataFrame: column '{missing[0]}' is missing — labels need case_id, metric and label")
        rows = _label_rows(((i + 1, r) for i, r in enumerate(source.to_dict("records"))), "labels DataFrame row", unit="row")
        return pd.DataFrame(rows, columns=[*LABEL_COLUMNS, "answer"])
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{path}: labels file not found")
    text = read_text(path, "save the file as UTF-8 (.csv or .jsonl)")
    if path.suffix.lower() == ".jsonl":
        parsed: list[tuple[int, dict[str, Any]]] = []
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{i}: not valid JSON ({exc.msg})") from None
            except RecursionError:  # [[[[...]]]] a thousand levels deep: Python's JSON decoder recurses
                raise DataError(f"{path}:{i}: lists or objects nested hundreds of levels deep — each line must be a JSON "
                                "object with case_id, metric, label") from None
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{i}: each line must be a JSON object with case_id, metric, label")
            parsed.append((i, obj))
        rows = _label_rows(parsed, str(path))
    elif path.suffix.lower() == ".csv":
        # skipinitialspace: `py-001, faithfulness, "yes"` as well as `py-001,faithfulness,yes`
        reader = csv.DictReader(io.StringIO(text, newline=""), skipinitialspace=True)
        reader.fieldnames = csv_header(reader.reader, path)  # after Excel's `sep=,` line, as a dataset's CSV
        missing = [c for c in LABEL_COLUMNS if c not in reader.fieldnames]
        one_column = missing and len(reader.fieldnames) == 1
        separator = other_separator(reader.fieldnames[0], (*LABEL_COLUMNS, "answer"), "case_id") if one_column else None
        if separator:  # Excel saves "CSV" with ';' where the decimal mark is a comma
            raise DataError(f"{path}:1: the columns are separated by {separator}, not commas — save the file as "
                            "comma-separated CSV (in Excel: 'CSV UTF-8 (Comma delimited)')")
        if missing:
            raise DataError(f"{path}:1: column '{missing[0]}' is missing — the header needs case_id, metric, label")
        rows = _label_rows(_csv_rows(reader), str(path))
    else:
        raise DataError(f"{path}: labels must be a .csv or .jsonl file")
    if not rows:
        raise DataError(f"{path}: no labels in the file")
    return pd.DataFrame(rows, columns=[*LABEL_COLUMNS, "answer"])


# -- calibration ------------------------------------------------------------------------------------------------------------


def _some(ids: Iterable[str], shown: int = 3) -> str:
    distinct = list(dict.fromkeys(ids))
    return ", ".join(distinct[:shown]) + (f", ... {len(distinct)} in all" if len(distinct) > shown else "")


def _same_answer(a: str, b: Any) -> bool:
    return " ".join(a.split()) == " ".join(str(b or "").split())


def calibrate(scores: Any, labels: Any, *, threshold: float = 0.5, source: str = "DataFrame") -> CalibrationReport:
    """Agreement between a judge's per-question scores and human labels, per labelled metric (pure: no IO but labels).

    To calibrate a logged run, read its scores with ``workbench.tracking.load_judge_scores`` (or call
    ``workbench.calibrate``, which also takes a run id or a ``VariantResult``).

    Args:
        scores: a DataFrame with a ``case_id`` column and one column per metric (an ``answer`` column enables stale
            checks), e.g. a variant's per-question results table.
        labels: a labels file (.csv / .jsonl) or DataFrame with case_id, metric, label (and optionally answer).
        threshold: scores and labels at or above it count as a pass.
        source: what the scores are (a run id, a variant name), for the report and error messages.

    Returns:
        A ``CalibrationReport`` with every labelled metric, in the order they first appear in the labels (a metric
        the run did not score has n 0, and all its labels missing).

    Raises:
        DataError: bad labels (file, line and field named), or no label matches a scored metric or a case of the run.
        TypeError: ``scores`` is not a DataFrame.
    """
    import pandas as pd

    if not isinstance(scores, pd.DataFrame):
        raise TypeError(
            f"calibrate() takes a DataFrame of per-question scores, not {type(scores).__name__} — for a run id or a "
            "VariantResult use workbench.calibrate"
        )
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold {threshold} must be in (0, 1]")
    label_frame = load_labels(labels)
    if "case_id" not in scores.columns:
        raise DataError(f"{source}: the results table has no case_id column")
    labelled = list(dict.fromkeys(label_frame["metric"]))
    if not any(metric in scores.columns for metric in labelled):
        raise DataError(
            f"{source}: none of the labelled metrics ({', '.join(labelled)}) was scored in this run — run with a judge configured"
        )
    by_case = {str(row["case_id"]): row for row in scores.to_dict("records")}
    if by_case and not set(label_frame["case_id"]) & set(by_case):  # else every metric had n 0, all labels "missing"
        raise DataError(
            f"{source}: none of the labelled cases ({_some(label_frame['case_id'])}) is in this run — label the run's "
            f"case ids ({_some(by_case)})"
        )
    results = []
    for metric in labelled:
        if metric not in scores.columns:  # a misspelt metric, or one this run did not score: every label is missing
            count = int((label_frame["metric"] == metric).sum())
            results.append(agreement(metric, [], [], threshold=threshold, missing=count))
            continue
        judge: list[float] = []
        human: list[float] = []
        missing = stale = 0
        for lab in label_frame[label_frame["metric"] == metric].to_dict("records"):
            row = by_case.get(lab["case_id"])
            value = None if row is None else row.get(metric)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                missing += 1
                continue
            if isinstance(lab["answer"], str) and "answer" in row and not _same_answer(lab["answer"], row["answer"]):
                stale += 1
                continue
            judge.append(float(value))
            human.append(float(lab["label"]))
        results.append(agreement(metric, judge, human, threshold=threshold, missing=missing, stale=stale))
    return CalibrationReport(source, tuple(results))
