"""Judge calibration: Cohen's kappa on known cases, labels files, agreement with a per-question table of scores."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from workbench.errors import DataError
from workbench.scoring import agreement, calibrate, cohen_kappa, load_labels

ROOT = Path(__file__).resolve().parents[2]


def test_perfect_agreement_is_kappa_one() -> None:
    a = [True, False, True, True, False]
    assert cohen_kappa(a, a) == pytest.approx(1.0)


def test_chance_level_agreement_is_kappa_zero() -> None:
    a = [True, True, False, False] * 25
    b = [True, False, True, False] * 25  # independent of a: agree half the time, as chance predicts
    assert cohen_kappa(a, b) == pytest.approx(0.0, abs=1e-12)


def test_systematic_disagreement_is_negative() -> None:
    a = [True, False] * 10
    assert cohen_kappa(a, [not x for x in a]) == pytest.approx(-1.0)


def test_textbook_case() -> None:
    # 50 items: both yes 20, judge yes/human no 5, judge no/human yes 10, both no 15 -> p_o 0.7, p_e 0.5, kappa 0.4
    judge = [1.0] * 20 + [1.0] * 5 + [0.0] * 10 + [0.0] * 15
    human = [1.0] * 20 + [0.0] * 5 + [1.0] * 10 + [0.0] * 15
    a = agreement("faithfulness", judge, human)
    assert a.n == 50 and a.accuracy == pytest.approx(0.7) and a.kappa == pytest.approx(0.4)
    assert a.confusion == (20, 5, 10, 15)
    assert a.judge_positive == pytest.approx(0.5) and a.human_positive == pytest.approx(0.6)


def test_kappa_is_undefined_when_both_raters_use_one_class() -> None:
    assert math.isnan(cohen_kappa([True, True], [True, True]))
    assert math.isnan(cohen_kappa([], []))
    with pytest.raises(ValueError):
        cohen_kappa([True], [True, False])


def test_threshold_binarises_scores() -> None:
    a = agreement("m", [0.9, 0.6, 0.4, 0.1], [1.0, 0.0, 0.0, 0.0], threshold=0.7)
    assert a.confusion == (1, 0, 0, 3) and a.kappa == pytest.approx(1.0)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_labels_from_csv_jsonl_and_dataframe(tmp_path: Path) -> None:
    csv = load_labels(write(tmp_path / "l.csv", "case_id,metric,label\npy-001,faithfulness,pass\npy-002,faithfulness,0\npy-003,faithfulness,0.8\n"))
    assert list(csv["label"]) == [1.0, 0.0, 0.8] and csv["answer"].isna().all()
    jsonl = load_labels(write(tmp_path / "l.jsonl", '{"case_id": "py-001", "metric": "faithfulness", "label": true, "answer": "A."}\n\n'))
    assert list(jsonl["label"]) == [1.0] and list(jsonl["answer"]) == ["A."]
    frame = load_labels(pd.DataFrame({"case_id": ["a"], "metric": ["m"], "label": ["no"]}))
    assert list(frame["label"]) == [0.0]



def test_labels_saved_by_excel_with_a_byte_order_mark_load(tmp_path: Path) -> None:
    for name, text in (("l.csv", "case_id,metric,label\r\npy-001,faithfulness,yes\r\n"),
                       ("l.jsonl", '{"case_id": "py-001", "metric": "faithfulness", "label": "yes"}\n')):
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        assert load_labels(path).to_dict("records") == [{"case_id": "py-001", "metric": "faithfulness", "label": 1.0, "answer": None}]



def test_labels_saved_for_excel_skip_its_separator_line_as_a_dataset_does(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", "sep=,\r\ncase_id,metric,label\r\npy-001,faithfulness,yes\r\npy-002,faithfulness,maybe\r\n")
    with pytest.raises(DataError, match=r"l.csv:4: field 'label': 'maybe'"):  # its lines are the file's lines
        load_labels(path)
    path.write_text("sep=,\ncase_id,metric,label\npy-001,faithfulness,yes\n", encoding="utf-8")
    assert load_labels(path).to_dict("records") == [{"case_id": "py-001", "metric": "faithfulness", "label": 1.0, "answer": None}]
    path.write_text("sep=;\ncase_id;metric;label\npy-001;faithfulness;yes\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"l.csv:1: 'sep=;' says the columns are separated by another character, not commas"):
        load_labels(path)


def test_a_csv_written_with_spaces_after_the_commas_loads(tmp_path: Path) -> None:
    path = write(tmp_path / "l.csv", 'case_id, metric, label, answer\npy-001, faithfulness, "yes", "It ends, then runs else."\n')
    assert load_labels(path).to_dict("records") == [
        {"case_id": "py-001", "metric": "faithfulness", "label": 1.0, "answer": "It ends, then runs else."}
    ]


def test_a_bad_label_after_a_multi_line_answer_names_its_own_line(tmp_path: Path) -> None:
    text = 'case_id,metric,label,answer\npy-001,faithfulness,1,"line one\nline two\nline three"\npy-002,faithfulness,maybe,"x"\n'
    with pytest.raises(DataError, match=r"l.csv:5: field 'label': 'maybe'"):
        load_labels(write(tmp_path / "l.csv", text))

def test_labels_not_in_utf8_are_one_line_errors(tmp_path: Path) -> None:
    latin1 = tmp_path / "l.csv"
    latin1.write_bytes("case_id,metric,label\ncafé,faithfulness,1\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"l.csv:2: not UTF-8 \(byte 0xe9 at offset 24\) — save the file as UTF-8"):
        load_labels(latin1)
    utf16 = tmp_path / "l16.csv"
    utf16.write_bytes("case_id,metric,label\n".encode("utf-16"))
    with pytest.raises(DataError, match="l16.csv:1: UTF-16 text"):
        load_labels(utf16)

@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("bad.csv", "case_id,metric,label\npy-001,faithfulness,maybe\n", "bad.csv:2: field 'label': 'maybe'"),
        ("big.csv", "case_id,metric,label\npy-001,faithfulness,3\n", "label': 3 is outside [0, 1]"),
        ("rating.jsonl", '{"case_id": "py-001", "metric": "faithfulness", "label": 4.5}\n', "label': 4.5 is outside [0, 1]"),
        ("nohead.csv", "case,metric,label\n", "column 'case_id' is missing"),
        ("semi.csv", "case_id;metric;label;answer\npy-001;faithfulness;1;x\n", "semi.csv:1: the columns are separated by ';', not commas"),
        ("tabs.csv", "case_id\tmetric\tlabel\npy-001\tfaithfulness\t1\n", "tabs.csv:1: the columns are separated by tabs, not commas"),
        ("empty.csv", "\n", "column 'case_id' is missing"),
        ("gap.jsonl", '{"case_id": "a", "metric": "m", "label": 1}\n{"case_id": "b", "label": 1}\n', "gap.jsonl:2: field 'metric' is missing"),
        ("broken.jsonl", "{not json\n", "broken.jsonl:1: not valid JSON"),
        ("deep.jsonl", "[" * 100_000 + "]" * 100_000 + "\n", "deep.jsonl:1: lists or objects nested hundreds of levels deep"),
        ("labels.txt", "x", "must be a .csv or .jsonl"),
    ],
)
def test_bad_labels_are_one_line_errors_naming_file_line_and_field(tmp_path: Path, name: str, text: str, fragment: str) -> None:
    with pytest.raises(DataError, match=None) as err:
        load_labels(write(tmp_path / name, text))
    assert fragment in str(err.value)


def test_calibrate_a_run_table_skips_missing_and_stale_labels() -> None:
    table = pd.DataFrame({
        "case_id": ["c1", "c2", "c3", "c4", "c5"],
        "answer": ["yes it is", "no", "maybe", "x", "y"],
        "faithfulness": [0.9, 0.2, None, 0.8, 0.1],
        "token_f1": [1.0, 0.0, 0.5, 0.5, 0.5],
    })
    labels = pd.DataFrame({
        "case_id": ["c1", "c2", "c3", "c4", "c5", "c9", "c1"],
        "metric": ["faithfulness"] * 6 + ["token_f1"],
        "label": [1, 0, 1, 1, 1, 1, 1],
        "answer": ["yes  it is", None, None, "a different answer", None, None, None],
    })
    report = calibrate(table, labels)
    f = report.agreement("faithfulness")
    assert (f.n, f.missing, f.stale) == (3, 2, 1)  # c3 unscored and c9 absent; c4 labelled another answer
    assert f.confusion == (1, 0, 1, 1) and f.accuracy == pytest.approx(2 / 3)
    assert report.agreement("token_f1").n == 1
    frame = report.to_frame()
    assert list(frame["metric"]) == ["faithfulness", "token_f1"] and {"kappa", "accuracy", "stale"} <= set(frame.columns)
    with pytest.raises(DataError, match="none of the labelled metrics"):
        calibrate(table[["case_id", "answer"]], labels)


def test_labels_on_a_metric_the_run_did_not_score_are_reported_missing_not_dropped() -> None:
    table = pd.DataFrame({"case_id": ["c1", "c2"], "faithfulness": [0.9, 0.1]})
    labels = pd.DataFrame({"case_id": ["c1", "c2", "c1", "c2"], "metric": ["faithfulness", "faithfulness", "Faithfulness", "context_recall"],
                           "label": [1, 0, 1, 1]})
    report = calibrate(table, labels)
    assert list(report.to_frame()["metric"]) == ["faithfulness", "Faithfulness", "context_recall"]
    typo = report.agreement("Faithfulness")
    assert (typo.n, typo.missing, typo.confusion) == (0, 1, (0, 0, 0, 0)) and math.isnan(typo.kappa)
    assert report.agreement("context_recall").missing == 1 and report.agreement("faithfulness").n == 2


def test_calibrate_takes_data_and_names_its_source() -> None:
    table = pd.DataFrame({"case_id": ["c1", "c2"], "faithfulness": [0.9, 0.1]})
    labels = pd.DataFrame({"case_id": ["c1", "c2"], "metric": ["faithfulness"] * 2, "label": [1, 0]})
    report = calibrate(table, labels, source="run abc")
    assert report.source == "run abc" and report.agreement("faithfulness").accuracy == 1.0
    with pytest.raises(DataError, match="^run abc: none of the labelled metrics"):
        calibrate(table[["case_id"]], labels, source="run abc")
    with pytest.raises(TypeError, match="DataFrame of per-question scores, not str .* use workbench.calibrate"):
        calibrate("0123456789abcdef", labels)
    with pytest.raises(ValueError, match="threshold"):
        calibrate(table, labels, threshold=0.0)


def test_the_python_docs_labels_file_loads() -> None:
    labels = load_labels(ROOT / "datasets" / "python_docs.labels.csv")
    cases = {line.split('"id": "')[1].split('"')[0] for line in (ROOT / "datasets" / "python_docs.jsonl").read_text().splitlines() if line}
    assert len(labels) >= 10 and set(labels["case_id"]) <= cases
    assert set(labels["label"]) == {0.0, 1.0}  # both verdicts occur, so kappa is defined


def test_a_case_labelled_twice_on_one_metric_is_an_error_naming_both_lines(tmp_path: Path) -> None:
    """Counted twice, one question weighed double in n, accuracy and kappa."""
    text = "case_id,metric,label\npy-001,faithfulness,1\npy-002,faithfulness,0\npy-001,faithfulness,0\n"
    with pytest.raises(DataError, match=r"l.csv:4: case 'py-001' is labelled again on 'faithfulness' \(first at line 2\)"):
        load_labels(write(tmp_path / "l.csv", text))
    same_answer = pd.DataFrame({"case_id": ["a", "a"], "metric": ["m", "m"], "label": [1, 1], "answer": ["It is.", "It  is."]})
    with pytest.raises(DataError, match=r"row:2: case 'a' is labelled again on 'm' for the same answer \(first at row 1\)"):
        load_labels(same_answer)
    two_answers = pd.DataFrame({"case_id": ["a", "a", "a"], "metric": ["m", "m", "other"], "label": [1, 0, 1], "answer": ["Yes.", "No.", "Yes."]})
    assert len(load_labels(two_answers)) == 3  # labels of two variants' answers: the run's answer picks one


def test_an_empty_case_id_or_metric_cell_of_a_labels_dataframe_is_missing_not_a_case_called_nan() -> None:
    labels = pd.DataFrame({"case_id": [1, None], "metric": ["faithfulness", "faithfulness"], "label": [1, 0]})
    with pytest.raises(DataError, match="labels DataFrame row:2: field 'case_id' is missing"):
        load_labels(labels)
    labels = pd.DataFrame({"case_id": ["a", "b"], "metric": ["faithfulness", float("nan")], "label": [1, 0]})
    with pytest.raises(DataError, match="labels DataFrame row:2: field 'metric' is missing"):
        load_labels(labels)


def test_labels_none_of_whose_cases_is_in_the_run_are_an_error_not_a_report_of_zeros() -> None:
    """Labels keyed by another id scheme (row numbers for py-001...) gave n 0 on every metric, every label 'missing'."""
    table = pd.DataFrame({"case_id": ["py-001", "py-002", "py-003", "py-004"], "faithfulness": [0.9, 0.1, 1.0, 0.0]})
    labels = pd.DataFrame({"case_id": ["1", "2"], "metric": ["faithfulness"] * 2, "label": [1, 0]})
    with pytest.raises(DataError, match=r"^run x: none of the labelled cases \(1, 2\) is in this run — label the run's case ids "
                                        r"\(py-001, py-002, py-003, \.\.\. 4 in all\)$"):
        calibrate(table, labels, source="run x")
    one_known = pd.DataFrame({"case_id": ["1", "py-002"], "metric": ["faithfulness"] * 2, "label": [1, 0]})
    assert calibrate(table, one_known).agreement("faithfulness").missing == 1


def test_a_csv_line_of_spaces_or_bare_commas_is_skipped_like_a_blank_line(tmp_path: Path) -> None:
    """A blank line was skipped but a line holding spaces (or ',,' from a spreadsheet) was 'case_id is missing'."""
    text = "case_id,metric,label\npy-001,faithfulness,1\n   \n,,\npy-002,faithfulness,0\n  ,  ,\n"
    assert list(load_labels(write(tmp_path / "l.csv", text))["case_id"]) == ["py-001", "py-002"]
    with pytest.raises(DataError, match=r"l.csv:3: field 'label' is missing"):
        load_labels(write(tmp_path / "l.csv", "case_id,metric,label\npy-001,faithfulness,1\npy-002,faithfulness,\n"))
