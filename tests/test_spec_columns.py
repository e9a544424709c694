"""``columns:`` of the experiment's dataset and corpus: a team's files read under their own column names, the same cases
and documents (and hashes) as files using ours; an experiment without it keeps its hash and its logged experiment.yaml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.errors import SpecError
from workbench.runner import load_inputs
from workbench.spec import ExperimentSpec, load_experiment

CASES = [{"id": "q1", "question": "How many days ahead are flights booked?", "reference": "fourteen", "source_ids": ["travel"]},
         {"id": "q2", "question": "When are receipts submitted?", "reference": "within thirty days", "source_ids": ["expenses"]}]
DOCS = [{"id": "travel", "text": "Book flights fourteen days ahead.", "url": "kb/travel"},
        {"id": "expenses", "text": "Submit receipts within thirty days.", "url": "kb/expenses"}]
DATASET_MAP = {"question": "prompt", "reference": "expected_answer", "source_ids": "doc_ids"}
CORPUS_MAP = {"id": "doc_id", "text": "body"}


def jsonl(path: Path, rows: list[dict], mapping: dict[str, str] | None = None) -> None:
    mapping = mapping or {}
    path.write_text("".join(json.dumps({mapping.get(k, k): v for k, v in r.items()}) + "\n" for r in rows), encoding="utf-8")


def csv(path: Path, rows: list[dict], mapping: dict[str, str] | None = None) -> None:
    mapping = mapping or {}
    header = [mapping.get(k, k) for k in rows[0]]
    body = [",".join("|".join(v) if isinstance(v, list) else str(v) for v in r.values()) for r in rows]
    path.write_text("\n".join([",".join(header), *body]) + "\n", encoding="utf-8")


def experiment(tmp_path: Path, dataset: str, corpus: str) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(f"name: own-columns\ndataset: {dataset}\ncorpus: {corpus}\nchunkers:\n  - {{strategy: recursive, size: 100, overlap: 0}}\n",
                    encoding="utf-8")
    return path


def test_files_with_their_own_column_names_are_read_as_files_with_ours(tmp_path: Path) -> None:
    csv(tmp_path / "qa.csv", CASES, DATASET_MAP)
    jsonl(tmp_path / "docs.jsonl", DOCS, CORPUS_MAP)
    mapped = load_experiment(experiment(
        tmp_path, "{path: qa.csv, columns: {question: prompt, reference: expected_answer, source_ids: doc_ids}}",
        "{path: docs.jsonl, columns: {id: doc_id, text: body}}"))
    assert mapped.dataset is not None and dict(mapped.dataset.columns) == DATASET_MAP
    dataset, corpus = load_inputs(mapped)
    csv(tmp_path / "ours.csv", CASES)
    jsonl(tmp_path / "ours.jsonl", DOCS)
    ours_dataset, ours_corpus = load_inputs(load_experiment(experiment(tmp_path, "{path: ours.csv}", "{path: ours.jsonl}")))
    assert (dataset.cases, dataset.hash) == (ours_dataset.cases, ours_dataset.hash)
    assert (corpus.documents, corpus.hash) == (ours_corpus.documents, ours_corpus.hash)
    # saved and read back, the experiment keeps them
    assert load_experiment(mapped.save(tmp_path / "copy.yaml")).model_dump() == mapped.model_dump()
    # a file of documents given in place of the experiment's is read with its columns, as a folder with its glob
    jsonl(tmp_path / "newer.jsonl", DOCS[:1] + DOCS, CORPUS_MAP)
    with pytest.raises(Exception, match=r"newer.jsonl:2: duplicate id 'travel'"):
        load_inputs(mapped, corpus=tmp_path / "newer.jsonl")


def test_an_experiment_without_columns_keeps_its_dump_and_hash(tmp_path: Path) -> None:
    chunkers = [{"strategy": "recursive"}]
    plain = ExperimentSpec.from_dict({"name": "x", "dataset": {"path": "d.csv"}, "corpus": {"path": "docs.csv"}, "chunkers": chunkers},
                                     base_dir=tmp_path)
    empty = ExperimentSpec.from_dict({"name": "x", "dataset": {"path": "d.csv", "columns": {}}, "corpus": {"path": "docs.csv", "columns": {}},
                                      "chunkers": chunkers}, base_dir=tmp_path)
    assert "columns" not in plain.to_yaml() and empty.to_yaml() == plain.to_yaml() and empty.hash == plain.hash
    mapped = plain.model_copy(update={"dataset": plain.dataset.model_copy(update={"columns": {"question": "prompt"}})})  # type: ignore[union-attr]
    assert "columns" in mapped.to_yaml()


@pytest.mark.parametrize("dataset, corpus, message", [
    ("{path: qa.csv, columns: {questoin: prompt}}", "{path: docs.csv}",
     r"exp.yaml:2: dataset.columns: 'questoin' is not a field — did you mean 'question'\? \(allowed: id, question, reference, source_ids, "
     r"category, tags; each maps to the file's column\)$"),
    ("{path: qa.csv, columns: {question: prompt, reference: prompt}}", "{path: docs.csv}",
     r"exp.yaml:2: dataset.columns: 'question' and 'reference' both read the column 'prompt' — a column holds one field"),
    ("{path: qa.csv}", "{path: docs.csv, columns: {body: text}}",
     r"exp.yaml:3: corpus.columns: 'body' is not a field — did you mean 'text'\? \(allowed: id, text; each maps to the file's column\)$"),
    ("{path: qa.csv}", "{path: kb, columns: {text: body}}",
     r"exp.yaml:3: corpus: columns names the columns of a .jsonl, .ndjson, .csv or .parquet file of documents; 'kb' is a folder of files, "
     r"each one document — remove columns$"),
    ("{path: qa.csv}", "{builtin: python-reference, columns: {text: body}}",
     r"exp.yaml:3: corpus: columns names a file of documents' columns; the built-in 'python-reference' corpus has none — remove columns$"),
])
def test_a_bad_columns_entry_is_one_line_naming_it(tmp_path: Path, dataset: str, corpus: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load_experiment(experiment(tmp_path, dataset, corpus))


def test_a_dataframe_given_to_the_sweep_is_read_with_the_experiments_columns(tmp_path: Path) -> None:
    """A notebook's ``pd.read_csv`` of the experiment's own file, handed to ``wb.run(exp, dataset=df)``: the experiment's
    ``columns`` apply to it, as to its file (the same cases and hash); a frame using our names already is read as it is."""
    import pandas as pd

    from workbench.datasets import load_dataset

    csv(tmp_path / "qa.csv", CASES, DATASET_MAP)
    jsonl(tmp_path / "docs.jsonl", DOCS, CORPUS_MAP)
    mapped = load_experiment(experiment(
        tmp_path, "{path: qa.csv, columns: {question: prompt, reference: expected_answer, source_ids: doc_ids}}",
        "{path: docs.jsonl, columns: {id: doc_id, text: body}}"))
    csv(tmp_path / "ours.csv", CASES)
    ours = load_dataset(pd.read_csv(tmp_path / "ours.csv"))
    from_file, _ = load_inputs(mapped)
    dataset, _ = load_inputs(mapped, dataset=pd.read_csv(tmp_path / "qa.csv"))
    assert (dataset.cases, dataset.hash) == (ours.cases, ours.hash) == (from_file.cases, from_file.hash)
    dataset, _ = load_inputs(mapped, dataset=pd.read_csv(tmp_path / "ours.csv"))
    assert dataset.hash == ours.hash
    both = pd.read_csv(tmp_path / "qa.csv").assign(question="another question")
    with pytest.raises(Exception, match=r"^dataframe: column 'question' is the file's own, and columns reads the question from 'prompt'"):
        load_inputs(mapped, dataset=both)
    with pytest.raises(Exception, match=r"^dataframe: no column 'expected_answer', which columns reads as the reference — "):
        load_inputs(mapped, dataset=pd.read_csv(tmp_path / "qa.csv").drop(columns=["expected_answer"]))
    # the corpus given as a DataFrame of the file's columns too
    frame = pd.DataFrame([{CORPUS_MAP.get(k, k): v for k, v in d.items()} for d in DOCS])
    _, corpus = load_inputs(mapped, corpus=frame)
    _, from_file = load_inputs(mapped)
    assert (corpus.documents, corpus.hash) == (from_file.documents, from_file.hash)
