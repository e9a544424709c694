"""A dataset's columns of its own (difficulty, notes, author...): kept as each case's metadata, not refused."""

import json
from pathlib import Path

import pandas as pd
import pytest

from workbench.datasets import load_dataset
from workbench.errors import DataError

ROOT = Path(__file__).resolve().parents[2]

PLAIN = [{"id": "q1", "question": "How long?", "reference": "25 days"}, {"id": "q2", "question": "Who?"}]
EXTRA = [{**PLAIN[0], "difficulty": 2, "notes": "from HR", "checked": True}, {**PLAIN[1], "difficulty": 3.5, "author": None}]


def jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_jsonl_keeps_fields_it_does_not_know_as_metadata_with_their_values(tmp_path: Path) -> None:
    ds = load_dataset(jsonl(tmp_path / "d.jsonl", EXTRA))
    # null is a field left out, as for the known fields
    assert [dict(c.metadata) for c in ds.cases] == [{"difficulty": 2, "notes": "from HR", "checked": True}, {"difficulty": 3.5}]
    assert ds.cases[0].question == "How long?" and ds.cases[0].reference == "25 days"


def test_csv_keeps_columns_it_does_not_know_as_metadata_as_text(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,question,difficulty,notes\nq1,How long?,2,from HR\nq2,Who?,3,\n", encoding="utf-8")
    ds = load_dataset(path)
    # a CSV cell is text, as written; an empty one is no value
    assert [dict(c.metadata) for c in ds.cases] == [{"difficulty": "2", "notes": "from HR"}, {"difficulty": "3"}]


def test_a_dataframe_keeps_its_other_columns_as_metadata() -> None:
    ds = load_dataset(pd.DataFrame(EXTRA))
    assert ds.cases[0].metadata == {"difficulty": 2, "notes": "from HR", "checked": True}
    assert ds.cases[1].metadata == {"difficulty": 3.5}  # NaN and None cells are empty ones
    assert all(type(v) in (int, float, str, bool) for c in ds.cases for v in c.metadata.values())  # no numpy scalars


def test_an_empty_cell_of_a_date_column_is_no_metadata() -> None:
    # a SQL export's created_at with a missing date (pandas' NaT): was kept as the text 'NaT', a column value and a trace
    # tag saying a date nobody wrote
    frame = pd.DataFrame({"question": ["When?", "Why?"], "created": pd.to_datetime(["2026-01-02", None])})
    assert [c.metadata for c in load_dataset(frame).cases] == [{"created": "2026-01-02 00:00:00"}, {}]


def test_metadata_leaves_the_dataset_hash_and_the_cases_equal(tmp_path: Path) -> None:
    # the hash names the questions a run answered (reuse keys, comparisons, promotion evidence): a column of notes or
    # difficulty reaches no model, retriever or scorer, so adding or editing one keeps every earlier run reusable
    plain, extra = load_dataset(jsonl(tmp_path / "p.jsonl", PLAIN)), load_dataset(jsonl(tmp_path / "e.jsonl", EXTRA))
    assert extra.hash == plain.hash
    assert extra.cases == plain.cases and hash(extra.cases[0]) == hash(plain.cases[0])
    assert extra.cases[0].metadata != plain.cases[0].metadata


def test_nested_metadata_is_kept_as_json_text(tmp_path: Path) -> None:
    ds = load_dataset(jsonl(tmp_path / "d.jsonl", [{"question": "Q?", "review": {"by": "ana", "ok": True}, "links": [1, "b"]}]))
    assert ds.cases[0].metadata == {"review": '{"by": "ana", "ok": true}', "links": '[1, "b"]'}


def test_to_pandas_gives_metadata_its_own_columns_and_reads_back_the_same(tmp_path: Path) -> None:
    ds = load_dataset(jsonl(tmp_path / "d.jsonl", EXTRA))
    frame = ds.to_pandas()
    assert frame["difficulty"].tolist() == [2, 3.5] and "metadata" not in frame.columns
    again = load_dataset(frame)
    assert again.hash == ds.hash and [c.metadata for c in again.cases] == [c.metadata for c in ds.cases]


def test_cases_written_as_their_model_dump_read_back_with_their_metadata(tmp_path: Path) -> None:
    ds = load_dataset(jsonl(tmp_path / "d.jsonl", EXTRA))
    again = load_dataset(jsonl(tmp_path / "again.jsonl", [c.model_dump(mode="json") for c in ds.cases]))
    assert [c.metadata for c in again.cases] == [c.metadata for c in ds.cases] and again.hash == ds.hash
    twice = jsonl(tmp_path / "twice.jsonl", [{"question": "Q?", "difficulty": 1, "metadata": {"difficulty": 2}}])
    with pytest.raises(DataError, match=r"twice.jsonl:1: field 'difficulty' is given twice, beside 'metadata' and in it — keep one$"):
        load_dataset(twice)


def test_a_metadata_value_a_database_cannot_store_is_refused_naming_its_field(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"question": "Q?", "notes": "a\\u0000b"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d.jsonl:1: field 'notes': holds a NUL character"):
        load_dataset(path)


def test_a_sweep_logs_metadata_as_columns_of_its_per_question_table_and_a_run_again_is_reused(tmp_path: Path, wb_settings) -> None:  # type: ignore[no-untyped-def]
    import workbench as wb
    from workbench.cli import main
    from workbench.models import MINILM_ID
    from workbench.testing import HashingEmbedder

    rows = [json.loads(line) for line in (ROOT / "datasets" / "handbook.jsonl").read_text().splitlines()[:2]]
    data = jsonl(tmp_path / "d.jsonl", [{**rows[0], "difficulty": 2, "notes": "key sk-ant-api03-" + "x" * 40}, {**rows[1], "difficulty": "hard"}])
    spec = wb.ExperimentSpec.from_dict({
        "name": "meta", "dataset": {"path": str(data)}, "corpus": {"path": str(ROOT / "datasets" / "handbook"), "glob": "*.md"},
        "chunkers": [{"strategy": "markdown", "size": 600, "overlap": 0}], "scorers": ["hit_at_k"]}, base_dir=tmp_path)
    (tmp_path / "e.yaml").write_text(spec.to_yaml(), encoding="utf-8")
    assert main(["--tracking-uri", f"sqlite:///{tmp_path / 'dry.db'}", "run", str(tmp_path / "e.yaml"), "--dry-run"]) == 0
    models = {MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    first = wb.run(spec, generate=False, settings=wb_settings, models=models, progress=False)
    table = first.variants[0].records_frame()
    assert table["metadata.difficulty"].tolist() == [2, "hard"]
    assert "sk-ant-api03" not in str(table["metadata.notes"][0])  # redacted, as the question is
    # the traces carry them as tags too, to find a variant's questions by them in MLflow
    from mlflow import MlflowClient

    client, run_id = MlflowClient(wb_settings.tracking_uri), first.variants[0].run_id
    hard = client.search_traces(locations=[first.experiment_id], run_id=run_id, filter_string="tags.`workbench.metadata.difficulty` = 'hard'")
    assert [t.info.tags["workbench.case_id"] for t in hard] == [first.dataset.cases[1].id]
    tags = {t.info.tags["workbench.case_id"]: t.info.tags for t in client.search_traces(locations=[first.experiment_id], run_id=run_id)}
    noted = tags[first.dataset.cases[0].id]
    assert noted["workbench.metadata.difficulty"] == "2" and "sk-ant-api03" not in noted["workbench.metadata.notes"]
    assert "workbench.metadata.notes" not in tags[first.dataset.cases[1].id]
    # a note edited: the same questions, so the same dataset hash and the earlier run reused
    edited = jsonl(tmp_path / "d.jsonl", [{**rows[0], "difficulty": 1}, {**rows[1], "difficulty": "hard"}])
    again = wb.run(spec, generate=False, settings=wb_settings, models=models, progress=False)
    assert load_dataset(edited).hash == first.dataset.hash and again.variants[0].reused_from == first.variants[0].run_id
    assert again.variants[0].records_frame()["metadata.difficulty"].tolist() == [1, "hard"]  # the dataset's as it is now


def test_metadata_tags_cut_a_long_value_and_leave_out_a_key_too_long_for_a_tag() -> None:
    from workbench.tracking._question_trace import metadata_tags

    tags = metadata_tags({"notes": "n" * 300, "k" * 240: "x", "reviewed": True, "score": 0.5})
    assert tags["workbench.metadata.notes"] == "n" * 249 + "…"
    assert (tags["workbench.metadata.reviewed"], tags["workbench.metadata.score"]) == ("true", "0.5")
    assert len(tags) == 3  # workbench.metadata. + 240 characters: longer than a tag key may be


def test_a_reused_run_logs_the_metadata_columns_of_the_sweep_that_reuses_it(tmp_path: Path, wb_settings) -> None:  # type: ignore[no-untyped-def]
    # the copy logged the table of the sweep that computed it: metadata.notes, dropped from the dataset since, was still
    # a column in the MLflow UI and in wb.compare, and metadata.topic, added since, was missing beside a computed variant
    import workbench as wb
    from workbench.models import MINILM_ID
    from workbench.testing import HashingEmbedder
    from workbench.tracking import load_variant_table

    rows = [json.loads(line) for line in (ROOT / "datasets" / "handbook.jsonl").read_text().splitlines()[:2]]
    jsonl(tmp_path / "d.jsonl", [{**rows[0], "difficulty": 2, "notes": "old"}, {**rows[1], "difficulty": "hard"}])
    spec = wb.ExperimentSpec.from_dict({
        "name": "meta", "dataset": {"path": "d.jsonl"}, "corpus": {"path": str(ROOT / "datasets" / "handbook"), "glob": "*.md"},
        "chunkers": [{"strategy": "markdown", "size": 600, "overlap": 0}], "scorers": ["hit_at_k"]}, base_dir=tmp_path)
    models = {MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    first = wb.run(spec, generate=False, settings=wb_settings, models=models, progress=False)
    jsonl(tmp_path / "d.jsonl", [{**rows[0], "difficulty": 1, "topic": "leave"}, {**rows[1], "difficulty": "hard"}])
    again = wb.run(spec, generate=False, settings=wb_settings, models=models, progress=False).variants[0]
    assert again.reused_from == first.variants[0].run_id
    logged = load_variant_table(again.run_id or "", tracking_uri=wb_settings.tracking_uri)
    assert [c for c in logged.columns if c.startswith("metadata.")] == ["metadata.difficulty", "metadata.topic"]
    assert logged["metadata.difficulty"].tolist() == [1, "hard"] and logged["metadata.topic"].tolist()[0] == "leave"
    assert logged.drop(columns=["metadata.difficulty", "metadata.topic"]).equals(
        load_variant_table(first.variants[0].run_id or "", tracking_uri=wb_settings.tracking_uri).drop(columns=["metadata.difficulty", "metadata.notes"]))
    # the table it logs is the one its result shows
    assert list(logged.columns) == list(again.records_frame().columns)
    # and the run it was reused from keeps its own
    assert "metadata.notes" in load_variant_table(first.variants[0].run_id or "", tracking_uri=wb_settings.tracking_uri).columns


def test_the_in_memory_tracker_gives_a_reused_run_the_metadata_of_the_sweep_that_reuses_it(tmp_path: Path, wb_settings) -> None:  # type: ignore[no-untyped-def]
    import workbench as wb
    from workbench.models import MINILM_ID
    from workbench.testing import HashingEmbedder
    from workbench.tracking import MemoryTracker

    rows = [json.loads(line) for line in (ROOT / "datasets" / "handbook.jsonl").read_text().splitlines()[:2]]
    jsonl(tmp_path / "d.jsonl", [{**rows[0], "notes": "old"}, rows[1]])
    spec = wb.ExperimentSpec.from_dict({
        "name": "meta", "dataset": {"path": "d.jsonl"}, "corpus": {"path": str(ROOT / "datasets" / "handbook"), "glob": "*.md"},
        "chunkers": [{"strategy": "markdown", "size": 600, "overlap": 0}], "scorers": ["hit_at_k"]}, base_dir=tmp_path)
    models, tracker = {MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}, MemoryTracker()
    wb.run(spec, generate=False, settings=wb_settings, models=models, tracker=tracker, progress=False)
    jsonl(tmp_path / "d.jsonl", [{**rows[0], "topic": "leave"}, rows[1]])
    again = wb.run(spec, generate=False, settings=wb_settings, models=models, tracker=tracker, progress=False).variants[0]
    assert again.reused_from is not None
    assert [c for c in again.records_frame().columns if c.startswith("metadata.")] == ["metadata.topic"]
    logged = tracker.runs[again.run_id or ""].artifacts["eval_results"]
    assert list(logged.columns) == list(again.records_frame().columns)
