import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.datasets import load_corpus, load_dataset, python_reference_corpus
from workbench.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_jsonl_loads_cases_in_order(tmp_path: Path) -> None:
    p = write(tmp_path / "d.jsonl", '{"id": "a", "question": "Q1?", "reference": "R1", "source_ids": ["for"]}\n\n'
                                     '{"id": "b", "question": "Q2?", "category": "unanswerable"}\n')
    ds = load_dataset(p)
    assert [c.id for c in ds.cases] == ["a", "b"]
    assert ds.cases[0].source_ids == ("for",)
    assert ds.cases[1].expects_refusal
    assert ds.name == "d"


def test_limit_keeps_the_first_cases(tmp_path: Path) -> None:
    rows = "".join(json.dumps({"id": str(i), "question": f"q{i}"}) + "\n" for i in range(5))
    assert [c.id for c in load_dataset(write(tmp_path / "d.jsonl", rows), limit=2).cases] == ["0", "1"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"id": "a", "question": "q"}\n{"id": "b", "reference": "r"}\n', r"d.jsonl:2: field 'question' is missing"),
        ('{"id": "a", "question": "q"}\n{"id": "b", "question": "   "}\n', r"d.jsonl:2: field 'question'"),
        ('{"id": "a", "question": "q"\n', r"d.jsonl:1: not valid JSON"),
        ('{"id": "a", "question": "q", "colur": "red", "refrence": "r"}\n', r"d.jsonl:1: field 'refrence' is not known"),
        ('{"id": "a", "question": "q", "category": "maybe"}\n', r"d.jsonl:1: field 'category'"),
        ('{"id": "a", "question": "q"}\n{"id": "a", "question": "q2"}\n', r"d.jsonl:2: field 'id': duplicate id 'a'"),
        ('[1, 2]\n', r"d.jsonl:1: expected a JSON object"),
        ("\n", r"d.jsonl: empty file — add one JSON object per line"),
    ],
)
def test_bad_jsonl_names_file_line_and_field(tmp_path: Path, content: str, expected: str) -> None:
    with pytest.raises(DataError, match=expected) as info:
        load_dataset(write(tmp_path / "d.jsonl", content))
    assert "\n" not in str(info.value)


def test_csv_with_list_columns(tmp_path: Path) -> None:
    p = write(tmp_path / "d.csv", "id,question,reference,source_ids\n1,What?,That,for|while\n2,Why?,,\n")
    ds = load_dataset(p)
    assert ds.cases[0].source_ids == ("for", "while")
    assert ds.cases[1].source_ids == ()


def test_bad_csv_row_names_line(tmp_path: Path) -> None:
    p = write(tmp_path / "d.csv", "id,question\n1,What?\n2,\n")
    with pytest.raises(DataError, match=r"d.csv:3: field 'question' is missing"):
        load_dataset(p)


def test_dataframe_loader_and_hash_is_format_independent(tmp_path: Path) -> None:
    frame = pd.DataFrame([{"id": "1", "question": "What?", "reference": "That", "source_ids": ["for"]}])
    from_frame = load_dataset(frame, name="x")
    from_jsonl = load_dataset(write(tmp_path / "x.jsonl", '{"id": "1", "question": "What?", "reference": "That", "source_ids": ["for"]}\n'))
    assert from_frame.hash == from_jsonl.hash
    with pytest.raises(DataError, match=r"frame: row 0: field 'question' is missing"):
        load_dataset(pd.DataFrame([{"id": "1"}]), name="frame")


def test_unknown_format_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unsupported dataset format '.txt'"):
        load_dataset(write(tmp_path / "d.txt", "x"))
    with pytest.raises(DataError, match="dataset file not found"):
        load_dataset(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("name, fix", [
    # a team's parquet, Excel or JSON export named in an experiment was told only to "use .jsonl, .csv or a pandas DataFrame"
    ("eval.parquet", " (wb.run(exp, dataset=pd.read_parquet(path)), or save it as .csv)"),
    ("eval.xlsx", " (wb.run(exp, dataset=pd.read_excel(path)), or save it as .csv)"),
    ("eval.tsv", " (wb.run(exp, dataset=pd.read_csv(path, sep='\\t')), or save it as .csv)"),
    ("eval.json", " (a .json file of a list of objects: write one object per line, e.g. jq -c '.[]' in.json > out.jsonl)"),
    ("eval.txt", ""),
])
def test_a_dataset_format_pandas_reads_is_told_how_to_hand_it_over(tmp_path: Path, name: str, fix: str) -> None:
    path = write(tmp_path / name, "x")
    with pytest.raises(DataError) as info:
        load_dataset(path)
    suffix = path.suffix
    assert str(info.value) == f"{path}: unsupported dataset format '{suffix}' — use .jsonl, .csv or a pandas DataFrame{fix}"


def test_folder_corpus_ids_are_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    write(tmp_path / "policies" / "travel.md", "# Travel\nBook early.")
    write(tmp_path / "intro.md", "# Intro\nHello.")
    corpus = load_corpus(tmp_path)
    assert sorted(corpus.ids) == ["intro", "policies/travel"]
    assert corpus.get("policies/travel").text.startswith("# Travel")
    with pytest.raises(DataError, match="no files match"):
        load_corpus(tmp_path, glob="*.rst")
    with pytest.raises(DataError, match="corpus folder not found"):
        load_corpus(tmp_path / "missing")


def test_files_a_corpus_glob_leaves_out_only_by_the_case_of_their_names_are_noted(tmp_path: Path) -> None:
    # README.MD beside .md files (a Windows export) was no document, without a word, since the glob picked the others
    (tmp_path / "sub").mkdir()
    for name in ("a.md", "Notes.Md", "sub/README.MD", "c.txt"):
        (tmp_path / name).write_text("# Text\n", encoding="utf-8")
    corpus = load_corpus(tmp_path)
    assert [d.id for d in corpus.documents] == ["a"]
    assert corpus.notes == (f"corpus '{tmp_path.name}': 2 files ('Notes.Md', 'sub/README.MD') left out only by the case of their names, "
                            "which the glob '**/*.md' matches as written — use glob: '**/*.[mM][dD]' to read them, or rename them",)
    assert [d.id for d in load_corpus(tmp_path, glob="**/*.[mM][dD]").documents] == ["Notes", "a", "sub/README"]
    assert load_corpus(tmp_path, glob="**/*.[mM][dD]").notes == load_corpus(tmp_path, glob="**/*").notes == ()
    assert load_corpus(tmp_path, glob="*.md").notes[0].startswith(f"corpus '{tmp_path.name}': 1 file ('Notes.Md') left out only by the case of its name")


def test_python_reference_corpus_has_stable_ids() -> None:
    corpus = python_reference_corpus()
    assert {"for", "while", "assert", "lambda"} <= corpus.ids
    assert corpus.hash == python_reference_corpus().hash


@pytest.mark.parametrize(("dataset", "corpus", "min_rows", "categories"), [
    ("datasets/python_docs.jsonl", "python-reference", 40, {"answerable", "unanswerable", "policy"}),
    ("datasets/handbook.jsonl", "datasets/handbook", 24, {"answerable", "unanswerable", "policy", "injection"}),
])
def test_shipped_datasets_are_valid_against_their_corpus(dataset: str, corpus: str, min_rows: int, categories: set[str]) -> None:
    ds = load_dataset(ROOT / dataset)
    docs = load_corpus(corpus if corpus == "python-reference" else ROOT / corpus)
    assert len(ds) >= min_rows
    assert {c.category for c in ds.cases} == categories
    for case in ds.cases:
        assert set(case.source_ids) <= docs.ids, case.id
        assert bool(case.source_ids) == (case.category in ("answerable", "injection")), case.id
        assert case.expects_refusal == (case.category in ("unanswerable", "policy")), case.id


def test_hidden_files_and_folders_are_not_documents_unless_the_glob_names_them(tmp_path: Path) -> None:
    write(tmp_path / "leave.md", "# Leave\n\n27 days.\n")
    write(tmp_path / ".ipynb_checkpoints" / "leave-checkpoint.md", "# Leave\n\n25 days (an old draft).\n")
    write(tmp_path / "policies" / ".git" / "notes.md", "# not a document\n")
    write(tmp_path / "policies" / ".draft.md", "# not a document either\n")
    write(tmp_path / "policies" / "travel.md", "# Travel\n")
    write(tmp_path / ".archive" / "old.md", "# Old\n")
    assert [d.id for d in load_corpus(tmp_path).documents] == ["leave", "policies/travel"]
    assert [d.id for d in load_corpus(tmp_path, glob="*").documents] == ["leave"]
    assert [d.id for d in load_corpus(tmp_path, glob=".archive/*.md").documents] == [".archive/old"]
    assert [d.id for d in load_corpus(tmp_path, glob=".*/*.md").documents] == [".archive/old", ".ipynb_checkpoints/leave-checkpoint"]


def test_a_corpus_at_the_project_root_leaves_out_the_runs_mlflow_keeps_there(tmp_path: Path) -> None:
    """`corpus: {path: ., glob: '**/*.txt'}` read every run's prompt_template.txt under mlruns/ as a document, and the
    corpus changed (so every index was rebuilt) with each sweep."""
    write(tmp_path / "docs" / "leave.txt", "27 days of leave.\n")
    write(tmp_path / "mlruns" / "1" / "abc" / "artifacts" / "prompt_template.txt", "Context: {context}\n")
    write(tmp_path / "mlruns" / "mlflow.db", "not text")
    before = load_corpus(tmp_path, glob="**/*.txt")
    assert [d.id for d in before.documents] == ["docs/leave"]
    write(tmp_path / "mlruns" / "1" / "def" / "artifacts" / "prompt_template.txt", "Another sweep\n")
    assert load_corpus(tmp_path, glob="**/*.txt").hash == before.hash
    assert [d.id for d in load_corpus(tmp_path, glob="**/*").documents] == ["docs/leave"]  # mlflow.db is not read
    named = load_corpus(tmp_path, glob="mlruns/**/*.txt")
    assert [d.id for d in named.documents] == ["mlruns/1/abc/artifacts/prompt_template", "mlruns/1/def/artifacts/prompt_template"]


def test_installed_and_compiled_code_is_not_documents_unless_the_glob_names_it(tmp_path: Path) -> None:
    """A corpus at a project's root read node_modules' READMEs as documents under '**/*.md', and under '**/*' refused
    itself for a binary __pycache__/*.pyc, which no glob could leave out."""
    write(tmp_path / "docs" / "leave.md", "# Leave\n\n27 days.\n")
    write(tmp_path / "node_modules" / "left-pad" / "README.md", "# left-pad\n")
    (tmp_path / "docs" / "__pycache__").mkdir()
    (tmp_path / "docs" / "__pycache__" / "conf.cpython-311.pyc").write_bytes(b"\xa7\r\r\n\0\0\0\0")
    assert [d.id for d in load_corpus(tmp_path).documents] == ["docs/leave"]
    assert [d.id for d in load_corpus(tmp_path, glob="**/*").documents] == ["docs/leave"]
    assert [d.id for d in load_corpus(tmp_path, glob="node_modules/**/*.md").documents] == ["node_modules/left-pad/README"]


def test_a_hidden_folder_is_never_walked_unless_the_glob_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A corpus at a project's root walked all of .venv and .git (87,000 files, 6 s for /work/main) to keep none."""
    import os

    write(tmp_path / "leave.md", "# Leave\n")
    write(tmp_path / ".venv" / "lib" / "site-packages" / "pkg" / "README.md", "# pkg\n")
    walked: list[str] = []
    walk = os.walk

    def spy(top, *args, **kwargs):  # type: ignore[no-untyped-def]
        for entry in walk(top, *args, **kwargs):
            walked.append(entry[0])
            yield entry

    monkeypatch.setattr(os, "walk", spy)
    assert [d.id for d in load_corpus(tmp_path).documents] == ["leave"]
    assert walked == [str(tmp_path)]
    assert [d.id for d in load_corpus(tmp_path, glob=".venv/**/*.md").documents] == [".venv/lib/site-packages/pkg/README"]


def test_a_linked_folder_is_part_of_the_corpus_once_and_a_broken_link_is_named(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    write(shared / "travel.md", "# Travel\n\nBook 14 days ahead.\n")
    write(shared / "deep" / "leave.md", "# Leave\n\n27 days.\n")
    corpus = tmp_path / "corpus"
    write(corpus / "intro.md", "# Intro\n")
    (corpus / "handbook").symlink_to(shared, target_is_directory=True)  # a shared folder linked into the corpus
    (shared / "loop").symlink_to(shared, target_is_directory=True)  # leads back: walked once
    (corpus / "faq.md").symlink_to(shared / "travel.md")
    expected = ["faq", "handbook/deep/leave", "handbook/travel", "intro"]
    assert [d.id for d in load_corpus(corpus).documents] == expected  # '**' entered no linked folder before
    assert [d.id for d in load_corpus(corpus, glob="*/*.md").documents] == ["handbook/travel"]
    assert [d.id for d in load_corpus(corpus, glob="handbook/**/*.md").documents] == ["handbook/deep/leave", "handbook/travel"]
    (corpus / "gone.md").symlink_to(tmp_path / "moved.md")
    with pytest.raises(DataError, match=r"gone\.md: a broken link \(to .*moved\.md\) — point it at the file, remove it, or leave it out: corpus exclude: \['gone.md'\]"):
        load_corpus(corpus)
    assert [d.id for d in load_corpus(corpus, glob="intro.md").documents] == ["intro"]  # a glob that leaves it out


def test_a_link_to_a_hidden_or_system_file_is_refused_and_links_to_shared_files_are_still_read(tmp_path: Path) -> None:
    # a corpus cloned or unzipped from someone else: its links are invisible in a listing, and what they lead to would be
    # indexed, sent to the model and logged in the traces of every question that retrieves it
    home = tmp_path / "home"
    write(home / ".ssh" / "id_rsa", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n")
    write(home / ".aws" / "credentials", "[default]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
    write(home / "shared" / "travel.md", "# Travel\n\nBook 14 days ahead.\n")
    corpus = home / "corpus"
    write(corpus / "intro.md", "# Intro\n")
    (corpus / "travel.md").symlink_to(home / "shared" / "travel.md")  # a shared file elsewhere: read, as before
    (corpus / "deploy.md").symlink_to(home / ".ssh" / "id_rsa")
    (corpus / "keys").symlink_to(home / ".aws", target_is_directory=True)
    with pytest.raises(DataError) as refused:
        load_corpus(corpus, glob="**/*")
    message = str(refused.value)
    assert re.search(r"deploy\.md: a link to .*/\.ssh/id_rsa, a hidden file or folder .* — copy the file into the corpus if it is a "
                     r"document, or remove the link \(and 1 more file refused: keys/credentials\)$", message), message
    assert "BEGIN" not in message
    (corpus / "deploy.md").unlink()
    (corpus / "keys").unlink()
    (corpus / "env.md").symlink_to("/proc/self/environ")  # the process's environment: its API keys
    with pytest.raises(DataError, match=r"env\.md: a link to /proc/.*environ, in the system folder /proc, which holds no documents"):
        load_corpus(corpus)
    (corpus / "env.md").unlink()
    (corpus / ".notes").mkdir()
    write(corpus / ".notes" / "a.md", "# A\n")
    (corpus / "a.md").symlink_to(corpus / ".notes" / "a.md")  # into the corpus's own hidden folder: hidden all the same
    with pytest.raises(DataError, match=r"a\.md: a link to .*/\.notes/a\.md, a hidden file"):
        load_corpus(corpus)
    assert [d.id for d in load_corpus(corpus, glob=".notes/*.md").documents] == [".notes/a"]  # named by the glob: read
    (corpus / "a.md").unlink()
    assert [d.id for d in load_corpus(corpus).documents] == ["intro", "travel"]


def test_a_dataset_without_ids_keeps_its_ids_and_hash_when_the_file_is_renamed_moved_or_respaced(tmp_path: Path) -> None:
    rows = ['{"question": "How far ahead are flights booked?", "reference": "14 days"}', '{"question": "Who approves trips?"}']
    first = load_dataset(write(tmp_path / "questions.jsonl", "\n".join(rows) + "\n"))
    assert all(re.fullmatch("case-[0-9a-f]{12}", c.id) for c in first.cases) and len({c.id for c in first.cases}) == 2
    renamed = load_dataset(write(tmp_path / "v2" / "questions-final.jsonl", "\n\n".join(rows) + "\n\n"))
    as_csv = load_dataset(write(tmp_path / "sheet.csv", "question,reference\nHow far ahead are flights booked?,14 days\nWho approves trips?,\n"))
    as_frame = load_dataset(pd.DataFrame([json.loads(r) for r in rows]), name="frame")
    assert renamed.hash == as_csv.hash == as_frame.hash == first.hash  # the ids were questions-1, questions-final-3, sheet-1...
    changed = load_dataset(write(tmp_path / "questions.jsonl", "\n".join(rows).replace("14 days", "21 days") + "\n"))
    assert changed.hash != first.hash and [c.id for c in changed.cases] == [c.id for c in first.cases]  # a reference fixed


def test_a_dataset_without_ids_keeps_each_questions_id_when_questions_are_inserted_deleted_or_reordered(tmp_path: Path) -> None:
    # ids numbered by position: one question inserted at the top renamed every question after it, so a comparison with
    # the sweep before paired none of them, and labels or feedback given by id went to the question before
    questions = ["How far ahead are flights booked?", "Who approves trips?", "How many days of leave?", "Where do I park?"]

    def ids(asked: list[str], name: str) -> dict[str, str]:
        loaded = load_dataset(write(tmp_path / name, "".join(json.dumps({"question": q}) + "\n" for q in asked)))
        return {c.question: c.id for c in loaded.cases}

    first = ids(questions[1:], "a.jsonl")
    assert len(set(first.values())) == 3
    inserted, deleted, reordered = ids(questions, "b.jsonl"), ids(questions[2:], "c.jsonl"), ids(questions[:0:-1], "d.jsonl")
    assert {q: inserted[q] for q in first} == first and len(set(inserted.values())) == 4
    assert deleted == {q: first[q] for q in questions[2:]} and reordered == first
    # as questions are told apart: spaces aside; a question reworded is another question
    spaced = "  How far  ahead are flights booked? "
    assert ids([spaced], "e.jsonl") == {spaced: inserted[questions[0]]}
    assert ids(["How far ahead are flights booked?!"], "f.jsonl")["How far ahead are flights booked?!"] != inserted[questions[0]]
    in_csv = load_dataset(write(tmp_path / "g.csv", "question\n" + "\n".join(questions) + "\n"))
    assert [c.id for c in in_csv.cases] == [inserted[q] for q in questions]


def test_a_decomposed_unicode_file_name_is_the_document_id_a_dataset_types(tmp_path: Path) -> None:
    import unicodedata

    # macOS and zip archives often write file names decomposed (e + U+0301); a dataset typed by hand is composed
    write(tmp_path / "corpus" / unicodedata.normalize("NFD", "Café Rückerstattung.md"), "# Café\n\nRefunds take 5 days.\n")
    corpus = load_corpus(tmp_path / "corpus")
    cases = load_dataset(write(tmp_path / "d.jsonl", json.dumps({"question": "Refunds?", "source_ids": ["Café Rückerstattung"]}) + "\n"))
    assert set(cases.cases[0].source_ids) <= corpus.ids
    typed_decomposed = load_dataset(pd.DataFrame([{"question": "Refunds?", "source_ids": [unicodedata.normalize("NFD", "Café Rückerstattung")]}]))
    assert typed_decomposed.cases[0].source_ids == cases.cases[0].source_ids


def test_a_glob_naming_a_folder_with_accents_picks_it_when_its_name_was_written_decomposed(tmp_path: Path) -> None:
    import unicodedata

    # an export unzipped from macOS holds 'Ünïcødé' decomposed: the glob typed in the experiment picked nothing ("no files
    # match 'Ünïcødé/*.md' — use glob: '**/*.md'"), though the documents' ids are the composed names typed
    write(tmp_path / "corpus" / unicodedata.normalize("NFD", "Équipe RH") / unicodedata.normalize("NFD", "congés.md"), "# Congés\n\n25 jours.\n")
    write(tmp_path / "corpus" / "travel.md", "# Travel\n\nEconomy.\n")
    for glob in ("Équipe RH/*.md", "**/congés.md", unicodedata.normalize("NFD", "Équipe RH/*.md")):
        assert [d.id for d in load_corpus(tmp_path / "corpus", glob=glob).documents] == ["Équipe RH/congés"]


def test_a_dataset_corpus_or_prompt_path_typed_composed_finds_what_macos_wrote_decomposed(tmp_path: Path) -> None:
    import unicodedata

    from workbench.spec import load_experiment

    # a project unzipped from macOS holds 'Équipe RH/' and 'questões.jsonl' decomposed; the experiment, typed in an
    # editor, names them composed: 'dataset file not found', 'corpus folder not found', though both were there
    nfd = lambda name: unicodedata.normalize("NFD", name)  # noqa: E731
    write(tmp_path / nfd("Équipe RH") / "congés.md", "# Congés\n\n25 jours.\n")
    write(tmp_path / nfd("questões.jsonl"), json.dumps({"question": "Quantos dias?", "source_ids": ["congés"]}) + "\n")
    write(tmp_path / nfd("prompts") / nfd("rápido.txt"), "{context}\n\nPergunta: {question}\nResposta:")
    assert [c.question for c in load_dataset(tmp_path / "questões.jsonl").cases] == ["Quantos dias?"]
    assert [d.id for d in load_corpus(tmp_path / "Équipe RH").documents] == ["congés"]
    write(tmp_path / "exp.yaml", "name: t\ndataset: {path: questões.jsonl}\ncorpus: {path: Équipe RH}\n"
                                 "prompts: [{name: p, file: prompts/rápido.txt}]\nmodels: [{id: local:gemma3-270m}]\nchunkers: [{strategy: recursive}]\n")
    assert load_experiment(tmp_path / "exp.yaml").prompts[0].template.startswith("{context}")
    with pytest.raises(DataError, match="dataset file not found"):
        load_dataset(tmp_path / "questoes.jsonl")  # no accent is not the same name


def test_null_in_jsonl_is_a_field_left_out_as_in_a_dataframe(tmp_path: Path) -> None:
    frame = pd.DataFrame([
        {"id": "a", "question": "Q1?", "reference": "R1", "category": "answerable"},
        {"id": "b", "question": "Q2?", "reference": None, "category": None},
    ])
    frame.to_json(tmp_path / "d.jsonl", orient="records", lines=True)  # writes "reference":null for the missing one
    assert load_dataset(tmp_path / "d.jsonl").hash == load_dataset(frame).hash
    assert load_dataset(tmp_path / "d.jsonl").cases[1].reference == ""
    write(tmp_path / "e.jsonl", '{"id": "a", "question": null}\n')
    with pytest.raises(DataError, match=r"e.jsonl:1: field 'question' is missing — add it$"):
        load_dataset(tmp_path / "e.jsonl")


def test_whole_number_ids_are_the_same_text_in_jsonl_csv_and_a_dataframe(tmp_path: Path) -> None:
    as_csv = load_dataset(write(tmp_path / "d.csv", "id,question\n1,Q1?\n,Q2?\n3,Q3?\n"))
    assert [c.id for c in as_csv.cases][::2] == ["1", "3"] and re.fullmatch("case-[0-9a-f]{12}", as_csv.cases[1].id)
    # pandas holds this id column as floats (1.0, NaN, 3.0): the ids were '1.0' and '3.0'
    frame = pd.DataFrame([{"id": 1, "question": "Q1?"}, {"question": "Q2?"}, {"id": 3, "question": "Q3?"}])
    assert load_dataset(frame).hash == as_csv.hash
    frame.to_json(tmp_path / "d.jsonl", orient="records", lines=True)  # {"id":1.0,...}; a JSONL "id": 1 was refused
    assert load_dataset(tmp_path / "d.jsonl").hash == as_csv.hash
    assert load_dataset(write(tmp_path / "e.jsonl", '{"id": 7, "question": "Q?"}\n')).cases[0].id == "7"
    with pytest.raises(DataError, match=r"f.jsonl:1: field 'id': expected text, got 7.5 \(a number\)"):
        load_dataset(write(tmp_path / "f.jsonl", '{"id": 7.5, "question": "Q?"}\n'))


def test_numbers_as_reference_answers_are_the_text_a_csv_cell_holds(tmp_path: Path) -> None:
    # a spreadsheet of numeric answers read with pd.read_csv (or read_excel) was refused row 0 "expected text, got 25
    # (a number) — write it as a string, in quotes", and its to_json as JSONL likewise; the same file loads as text
    path = write(tmp_path / "d.csv", "id,question,reference\nq1,How many days?,25\nq2,Which rate?,2.5\nq3,Why?,\n")
    as_csv = load_dataset(path)
    assert [c.reference for c in as_csv.cases] == ["25", "2.5", ""]
    frame = pd.read_csv(path)  # 25.0, 2.5, NaN: a column with an empty cell is float
    assert load_dataset(frame).hash == as_csv.hash
    frame.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    assert load_dataset(tmp_path / "d.jsonl").hash == as_csv.hash
    assert load_dataset(pd.DataFrame({"question": ["How many?"], "reference": [np.int64(42)]})).cases[0].reference == "42"
    with pytest.raises(DataError, match=r"^dataframe: row 0: field 'reference': expected text, got true \(true/false\)"):
        load_dataset(pd.DataFrame({"question": ["Is it?"], "reference": [True]}))


def test_tags_in_a_csv_cell_may_be_separated_by_commas_but_source_ids_keep_theirs(tmp_path: Path) -> None:
    csv_text = ('id,question,source_ids,tags\n'
                'q1,How far ahead?,travel,"travel, booking"\n'
                'q2,Who approves?,"reports, 2024|travel",approvals|travel\n')
    cases = load_dataset(write(tmp_path / "d.csv", csv_text)).cases
    assert [c.tags for c in cases] == [("travel", "booking"), ("approvals", "travel")]
    assert cases[1].source_ids == ("reports, 2024", "travel")  # a document named with a comma stays one id


def test_a_corpus_and_a_dataset_show_their_size_not_their_text() -> None:
    # the default reprs printed every document's text and every case: a notebook cell ending in load_corpus(...)
    corpus = python_reference_corpus()
    assert repr(corpus) == f"Corpus(name='python-reference', documents={len(corpus)}, source='pydoc_data.topics')"
    dataset = load_dataset(ROOT / "datasets" / "python_docs.jsonl")
    assert repr(dataset) == f"Dataset(name='python_docs', cases={len(dataset)}, source='{ROOT / 'datasets' / 'python_docs.jsonl'}')"


def test_a_corpus_in_memory_is_read_from_strings_dicts_langchain_documents_or_a_dataframe() -> None:
    from langchain_core.documents import Document as LangChainDocument

    texts = load_corpus(["Book economy.", "Leave is 25 days."])
    assert [(d.id, d.text) for d in texts.documents] == [("doc-1", "Book economy."), ("doc-2", "Leave is 25 days.")]
    assert texts.name == "documents" and texts.source == "documents"
    dicts = load_corpus([{"id": "travel", "text": "Book economy.", "metadata": {"page": 3}}, {"id": 7, "text": "Leave."}], name="handbook")
    assert [d.id for d in dicts.documents] == ["travel", "7"] and dicts.documents[0].metadata == {"page": "3"}
    assert dicts.name == "handbook"
    lc = load_corpus([LangChainDocument(page_content="Book economy.", id="travel", metadata={"source": "a.md"}),
                      LangChainDocument(page_content="Leave.")])
    assert [(d.id, d.metadata) for d in lc.documents] == [("travel", {"source": "a.md"}), ("doc-2", {})]
    frame = load_corpus(pd.DataFrame({"id": ["travel", "leave"], "text": ["Book economy.", "Leave."]}))
    assert frame.hash == load_corpus([{"id": "travel", "text": "Book economy."}, {"id": "leave", "text": "Leave."}]).hash


@pytest.mark.parametrize(("documents", "expected"), [
    ([], "documents: the corpus has no documents — give at least one"),
    (["a", "   "], "documents: document 1: empty document ('doc-2') — add its text, or leave it out"),
    ([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], "documents: document 1: duplicate id 'a' (first at document 0)"),
    ([{"id": "a"}], "documents: document 0: field 'text' is missing"),
    # a field that is the id or the text under another name stays refused (its documents were named doc-1, doc-2...)
    ([{"text": "x", "doc_id": "a"}], "documents: document 0: field 'doc_id' is not known — call it 'id' (a field of the "
                                     "document's own is kept as its metadata)"),
    ([{"id": "a", "content": "x"}], "documents: document 0: field 'content' is not known — call it 'text' (a field of the "
                                    "document's own is kept as its metadata)"),
    ([{"id": "a", "Text": "x"}], "documents: document 0: field 'Text' is not known — call it 'text'"),
    ([{"text": "x", "url": "u", "metadata": {"url": "v"}}], "documents: document 0: field 'url' is given twice, beside 'metadata' "
                                                            "and in it — keep one"),
    ([{"text": 3.5}], "documents: document 0: field 'text': expected text, got 3.5 (a number)"),
    ([b"bytes"], "documents: document 0: a bytes is not a document"),
    ({"id": "a", "text": "x"}, "cannot load a corpus from a dict — give a list: [{'id': ..., 'text': ...}] for one document, "
                               "[{'id': k, 'text': v} for k, v in docs.items()] for a dict of id -> text"),
    # set(texts) to drop copies: doc-1, doc-2... went to other texts in each process (PYTHONHASHSEED), another corpus hash
    ({"Book economy.", "25 days."}, "documents: a set of documents has no order, and documents without ids are named by their "
                                    "position (doc-1, doc-2...) — give a list, e.g. sorted(docs)"),
])
def test_a_bad_corpus_in_memory_is_one_line_naming_the_document(documents: object, expected: str) -> None:
    with pytest.raises(DataError) as err:
        load_corpus(documents)
    assert str(err.value).startswith(expected) and "\n" not in str(err.value)


def test_documents_read_from_a_spreadsheet_skip_its_emptied_rows_and_name_an_empty_text(tmp_path: Path) -> None:
    # pd.read_csv keeps a row of bare commas as NaN in every column, and an empty text cell as NaN: both were "field
    # 'text': expected text, got nan (a number) — give the document's text as a string"
    path = write(tmp_path / "docs.csv", "id,text\ntravel,Book economy.\n,\nleave,25 days.\n,\n")
    corpus = load_corpus(pd.read_csv(path))
    assert [d.id for d in corpus.documents] == ["travel", "leave"]
    no_ids = load_corpus(pd.read_csv(path).drop(columns="id"))  # default ids stay the documents' positions
    assert [d.id for d in no_ids.documents] == ["doc-1", "doc-3"]
    with pytest.raises(DataError, match=r"^documents: document 2: duplicate id 'travel' \(first at document 0\)"):
        load_corpus(pd.read_csv(write(tmp_path / "d.csv", "id,text\ntravel,A\n,\ntravel,B\n")))
    with pytest.raises(DataError, match=r"^documents: document 1: empty document \('2'\) — add its text, or leave it out$"):
        load_corpus(pd.read_csv(write(tmp_path / "e.csv", "id,text\n1,Book economy.\n2,\n")))


def test_a_list_column_written_by_pandas_to_csv_and_read_back_is_a_list(tmp_path: Path) -> None:
    # pandas writes a list cell as ['a', 'b']: a DataFrame saved with to_csv and read back with read_csv was refused
    frame = pd.DataFrame({"question": ["Which class?", "Who approves?"], "source_ids": [["travel", "o'hare"], []], "tags": [["x"], ["y", "z"]]})
    frame.to_csv(tmp_path / "eval.csv", index=False)
    expected = load_dataset(frame)
    assert load_dataset(pd.read_csv(tmp_path / "eval.csv")).hash == expected.hash
    assert load_dataset(tmp_path / "eval.csv").cases == expected.cases
    with pytest.raises(DataError, match=r"^dataframe: row 0: field 'source_ids': not a list — use 'a\|b' or a JSON list$"):
        load_dataset(pd.DataFrame({"question": ["q?"], "source_ids": ["['a', 3]"]}))


def test_whole_number_source_ids_of_a_dataframe_are_the_ids_a_corpus_of_integer_ids_has() -> None:
    # a SQL table's integer document ids: '[7, 12]' in a text cell was read as ids, a real list [7, 12] (or one 7) was refused
    frame = pd.DataFrame({"question": ["q1?", "q2?", "q3?"], "source_ids": [[7, 12], np.array([12]), 7], "tags": [[2024], [], []]})
    cases = load_dataset(frame).cases
    assert [c.source_ids for c in cases] == [("7", "12"), ("12",), ("7",)] and cases[0].tags == ("2024",)
    corpus = load_corpus(pd.DataFrame({"id": [7, 12], "text": ["Book economy.", "Leave."]}))
    assert {s for c in cases for s in c.source_ids} <= corpus.ids
    with pytest.raises(DataError, match=r"^dataframe: row 0: field 'source_ids': item 0 is 7.5 \(a number\), not text"):
        load_dataset(pd.DataFrame({"question": ["q?"], "source_ids": [[7.5]]}))


def test_whole_number_source_ids_are_the_same_ids_in_jsonl_and_a_csv_cell_and_other_items_are_refused(tmp_path: Path) -> None:
    # the frame above, saved with to_json: '"source_ids":[7,12]' was refused, while the frame and a CSV cell were read
    frame = pd.DataFrame({"question": ["q1?", "q2?"], "source_ids": [[7, 12], ["a"]], "tags": [[2024], []]})
    frame.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    as_csv = load_dataset(write(tmp_path / "d.csv", 'question,source_ids,tags\nq1?,"[7, 12]",[2024]\nq2?,"[""a""]",\n'))
    assert load_dataset(tmp_path / "d.jsonl").hash == as_csv.hash == load_dataset(frame).hash
    assert as_csv.cases[0].source_ids == ("7", "12") and as_csv.cases[0].tags == ("2024",)
    # a JSON list in a CSV cell made str() of each item: null, a nested list and 2.5 were the ids 'None', "['a']", '2.5'
    for cell, shown in (("[null]", "null"), ('[[""a""]]', "a list"), ("[2.5]", r"2.5 \(a number\)"), ('[""a"", true]', "true")):
        path = write(tmp_path / "e.csv", f'question,source_ids\nq?,"{cell}"\n')
        item = 1 if "true" in cell else 0
        with pytest.raises(DataError, match=rf"e.csv:2: field 'source_ids': item {item} is {shown}.*, not text — give a list of strings"):
            load_dataset(path)


def test_a_dataframe_with_a_column_given_twice_is_refused_not_read_as_its_last() -> None:
    # a join's two 'reference' columns: pandas kept the second one's values for every row, with only a warning
    with pytest.raises(DataError, match=r"^dataframe: column 'reference' appears twice — keep one"):
        load_dataset(pd.DataFrame([["q1?", "ref A", "ref B"]], columns=["question", "reference", "reference"]))
    with pytest.raises(DataError, match=r"^documents: column 'text' appears twice — keep one"):
        load_corpus(pd.DataFrame([["t1", "x", "y"]], columns=["id", "text", "text"]))


def test_a_corpus_copied_with_decomposed_file_names_has_the_same_documents_in_the_same_order(tmp_path: Path) -> None:
    import unicodedata

    # "été" decomposed (e + U+0301) sorted before "f", composed after it: the copy of a corpus that macOS or a zip archive
    # wrote had another hash (a bundle evaluated on the original refused it) and chunks in another order
    for form in ("NFC", "NFD"):
        write(tmp_path / form / unicodedata.normalize(form, "été.md"), "Summer opening hours are nine to five.\n")
        write(tmp_path / form / "f.md", "Fall opening hours are ten to four.\n")
    composed, decomposed = load_corpus(tmp_path / "NFC"), load_corpus(tmp_path / "NFD")
    assert [d.id for d in decomposed.documents] == [d.id for d in composed.documents] == ["f", "été"]
    assert decomposed.hash == composed.hash


def test_a_corpus_checked_out_with_windows_line_breaks_has_the_same_documents_and_hash(tmp_path: Path) -> None:
    # git for Windows (core.autocrlf) checks the corpus out with CRLF: its texts kept '\r', another hash (every run of
    # a teammate's sweep computed again, the bundle evaluated on the original refused it) and chunks ending in '\r'
    text = "# Leave\n\nStaff get 25 days.\nAsk your manager.\n"
    for name, breaks in (("unix", "\n"), ("windows", "\r\n"), ("classic-mac", "\r")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "leave.md").write_bytes(text.replace("\n", breaks).encode())
    unix, windows, mac = (load_corpus(tmp_path / name) for name in ("unix", "windows", "classic-mac"))
    assert windows.documents[0].text == mac.documents[0].text == unix.documents[0].text == text
    assert windows.hash == mac.hash == unix.hash


def test_a_document_built_in_code_has_its_id_in_one_unicode_form_as_its_bundle_reads_it_back() -> None:
    # a decomposed id ('e' + U+0301) was kept as given, and the bundle's corpus.jsonl was read back composed: another
    # corpus hash, so the bundle of such a run refused its own documents
    from workbench.datasets import Document

    corpus = load_corpus([Document("e\u0301te\u0301", "Summer leave.")])
    again = load_corpus([json.loads(line) for line in corpus.to_jsonl().splitlines()])
    assert corpus.documents[0].id == "\u00e9t\u00e9" and again.hash == corpus.hash


def test_a_document_decoded_with_surrogateescape_is_refused_in_one_line_naming_it() -> None:
    # bytes decoded in a notebook with errors='surrogateescape' keep lone surrogates: load_corpus took them, and the
    # sweep failed with a bare UnicodeEncodeError when it hashed the corpus (a case's text is refused by its model)
    with pytest.raises(DataError) as err:
        load_corpus(["Book economy.", {"id": "menu", "text": "Caf\udce9 menu"}])
    assert str(err.value).startswith("documents: document 1: field 'text': not valid Unicode ('\\udce9' at character 3")


class _CountedDocuments(tuple):  # type: ignore[type-arg]
    """A corpus's documents that count how often they are walked through."""

    walks = 0

    def __iter__(self):  # type: ignore[no-untyped-def]
        type(self).walks += 1
        return super().__iter__()


def test_a_corpus_is_hashed_once_and_looks_its_documents_up_without_walking_them(monkeypatch: pytest.MonkeyPatch) -> None:
    # a sweep read the hash for every variant's reuse key (0.4 s each for 100 MB), and the chunk explorer asked get()
    # for each of a corpus's documents, walking all of them each time (10,000 documents: 50 million steps)
    from workbench.datasets import Corpus, Document

    docs = _CountedDocuments(Document(f"d{i}", f"text {i}") for i in range(2000))
    corpus = Corpus("big", docs)
    _CountedDocuments.walks = 0
    first = corpus.hash
    assert [corpus.hash for _ in range(50)] == [first] * 50
    assert [corpus.get(f"d{i}").text for i in range(2000)] == [f"text {i}" for i in range(2000)]
    assert _CountedDocuments.walks == 3  # one walk to hash the texts, one to find pages, one to index the ids
    assert first == Corpus("big", tuple(docs)).hash  # the same hash as computed afresh
    with pytest.raises(KeyError):
        corpus.get("missing")


def test_a_corpus_folder_resolves_each_file_once_and_its_own_path_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # every file resolved the corpus folder's real path again, on top of its own: a 10,000-file export took 3.7 s to
    # read, most of it in path handling, on every sweep (a warm re-run too)
    import os

    for i in range(60):
        write(tmp_path / "docs" / f"team{i % 4}" / f"area{i % 3}" / f"page{i}.md", f"# Page {i}\n\ntext {i}")
    write(tmp_path / "docs" / ".git" / "config.md", "hidden")
    real = os.path.realpath
    resolved: list[str] = []
    monkeypatch.setattr(os.path, "realpath", lambda p, *a, **k: resolved.append(str(p)) or real(p, *a, **k))
    corpus = load_corpus(tmp_path / "docs")
    assert len(corpus) == 60 and corpus.get("team1/area1/page1").text == "# Page 1\n\ntext 1"
    folders = 1 + 4 + 4 * 3  # the corpus folder, its teams, their areas: each resolved while walked
    assert resolved.count(str(tmp_path / "docs")) <= 2  # walked, and once as the root every file is checked against
    assert len(resolved) <= 60 + 2 * folders + 2


def test_an_id_is_read_without_the_spaces_around_it_and_an_id_of_spaces_is_refused(tmp_path: Path) -> None:
    # a spreadsheet cell's 'q1 ' was an id of its own: 'q1' and 'q1 ' were two questions that MLflow shows alike
    padded = load_dataset(write(tmp_path / "d.csv", "id,question\nq1 ,When?\n q2,Who?\n"))
    assert [c.id for c in padded.cases] == ["q1", "q2"]
    assert padded.hash == load_dataset(write(tmp_path / "d.jsonl", '{"id": "q1", "question": "When?"}\n{"id": "q2", "question": "Who?"}\n')).hash
    with pytest.raises(DataError, match=r"e.jsonl:2: field 'id': duplicate id 'q1' \(first at .*e.jsonl:1\)"):
        load_dataset(write(tmp_path / "e.jsonl", '{"id": "q1", "question": "When?"}\n{"id": "q1 ", "question": "Who?"}\n'))
    no_id = load_dataset(write(tmp_path / "g.csv", "question\nWhen?\n")).cases[0].id
    assert load_dataset(write(tmp_path / "f.csv", "id,question\n  ,When?\n")).cases[0].id == no_id  # an empty cell
    with pytest.raises(DataError, match=r"f.jsonl:1: field 'id' is empty — give a value, or leave the field out$"):
        load_dataset(write(tmp_path / "f.jsonl", '{"id": " ", "question": "When?"}\n'))
    with pytest.raises(DataError, match=r"^dataframe: row 0: field 'id' is empty"):
        load_dataset(pd.DataFrame({"id": ["\t"], "question": ["When?"]}))


def test_a_csv_saved_on_windows_is_the_same_dataset_with_the_same_line_numbers(tmp_path: Path) -> None:
    # a quoted cell with a line break kept Windows' '\r\n' (Excel, a clone with git's autocrlf): another question text,
    # prompt and dataset hash than the same file on Linux, so its runs were never reused
    lf = 'id,question,reference\nq1,"Two lines:\nwhen and where?","Here,\nnow"\nq2,Who?,\n'
    unix = load_dataset(write(tmp_path / "unix" / "d.csv", lf))
    windows = load_dataset(write(tmp_path / "windows" / "d.csv", lf.replace("\n", "\r\n")))
    old_mac = load_dataset(write(tmp_path / "mac" / "d.csv", lf.replace("\n", "\r")))
    assert windows.cases == unix.cases == old_mac.cases and windows.hash == unix.hash
    assert windows.cases[0].question == "Two lines:\nwhen and where?"
    assert [w.rsplit(":", 1)[1] for w in windows.lines] == [w.rsplit(":", 1)[1] for w in unix.lines] == ["2", "5"]
    bad = lf.replace("q2,Who?,", 'q2,"Who?,')
    with pytest.raises(DataError, match=r"e.csv:5: CSV quoting"):
        load_dataset(write(tmp_path / "e.csv", bad.replace("\n", "\r\n")))


def test_a_hugging_face_dataset_or_arrow_table_is_told_to_hand_over_its_dataframe() -> None:
    # was "cannot load a dataset from DatasetDict — give a .jsonl/.csv path or a DataFrame", of what datasets.load_dataset returns
    import datasets
    import pyarrow as pa

    rows = [{"question": "When?", "reference": "Now", "source_ids": ["a"]}]
    hf = datasets.Dataset.from_list(rows)
    for table in (hf, pa.Table.from_pylist(rows)):
        with pytest.raises(DataError) as info:
            load_dataset(table)
        assert str(info.value).endswith("a DataFrame: its to_pandas() is one (dataset=table.to_pandas())")
        assert load_dataset(table.to_pandas()).cases[0].source_ids == ("a",)
    with pytest.raises(DataError) as info:
        load_dataset(datasets.DatasetDict({"train": hf, "test": hf}))
    assert str(info.value) == ("cannot load a dataset from DatasetDict — give a .jsonl/.csv path or a DataFrame: pick a split and "
                               "take its to_pandas(), e.g. ds['train'].to_pandas() (splits: train, test)")
    with pytest.raises(DataError, match=r"^cannot load a dataset from dict — give a .jsonl/.csv path or a DataFrame$"):
        load_dataset({"question": ["When?"]})


def test_a_list_of_cases_is_told_to_be_made_a_dataframe() -> None:
    # was "cannot load a dataset from list — give a .jsonl/.csv path or a DataFrame", of the cases a notebook built
    rows = [{"question": "How often should I descale it?", "reference": "Every 8 weeks"}]
    with pytest.raises(DataError) as info:
        load_dataset(rows)
    assert str(info.value) == ("cannot load a dataset from list — give a .jsonl/.csv path or a DataFrame: a list of cases (dicts) "
                               "makes one, dataset=pd.DataFrame(cases)")
    assert load_dataset(pd.DataFrame(rows)).cases[0].reference == "Every 8 weeks"


def test_a_row_without_an_id_whose_default_id_is_another_rows_id_is_named_as_such(tmp_path: Path) -> None:
    # was "d.csv:3: field 'id': duplicate id 'case-1' (first at d.csv:2)", of a line 2 that holds no id
    when, who = (load_dataset(write(tmp_path / "q.csv", f"question\n{q}\n")).cases[0].id for q in ("When?", "Who?"))
    with pytest.raises(DataError, match=rf"d.csv:3: field 'id': duplicate id '{when}', which .*d.csv:2 gets from its question, having no "
                                        r"id — give that row an id, or rename this one$"):
        load_dataset(write(tmp_path / "d.csv", f"question,id\nWhen?,\nWho?,{when}\n"))
    with pytest.raises(DataError, match=rf"e.jsonl:2: field 'id': this row has no id, and the one it gets from its question, '{who}', "
                                        r"is the id of .*e.jsonl:1 — give this row an id of its own$"):
        load_dataset(write(tmp_path / "e.jsonl", f'{{"id": "{who}", "question": "When?"}}\n{{"question": "Who?"}}\n'))
    # without ids, a question asked twice is named as such, not as two rows of one id
    with pytest.raises(DataError, match=r"f.jsonl:3: field 'question': the same question as .*f.jsonl:1 — keep one"):
        load_dataset(write(tmp_path / "f.jsonl", '{"question": "When?"}\n{"question": "Who?"}\n{"question": " When? "}\n'))
    with pytest.raises(DataError, match=r"^dataframe: row 1: field 'id': duplicate id 'a' \(first at dataframe: row 0\) — ids must be unique"):
        load_dataset(pd.DataFrame({"id": ["a", "a"], "question": ["When?", "Who?"]}))


def test_a_dataframe_indexed_by_its_ids_keeps_them() -> None:
    # df.set_index("id") or read_csv(index_col="id"): to_dict left the index out, and the cases were case-1, case-2...
    frame = pd.DataFrame({"id": ["q1", "q2"], "question": ["When?", "Who?"]})
    indexed = load_dataset(frame.set_index("id"))
    assert [c.id for c in indexed.cases] == ["q1", "q2"] and indexed.hash == load_dataset(frame).hash
    assert indexed.lines == ("dataframe: row 'q1'", "dataframe: row 'q2'")
    assert [c.id for c in load_dataset(pd.DataFrame({"id": [7], "question": ["When?"]}).set_index("id")).cases] == ["7"]
    with pytest.raises(DataError) as info:
        load_dataset(frame.rename(columns={"id": "case_id"}).set_index("case_id"))
    assert str(info.value) == ("dataframe: the index 'case_id' holds the case ids, which are read from an index or column named 'id' — "
                               "name it so: df.rename_axis('id')")
    # an index of something else, and an 'id' column beside an index named id, are left as they were
    assert [c.id for c in load_dataset(frame.set_index("question", drop=False).rename_axis("asked")).cases] == ["q1", "q2"]
    assert [c.id for c in load_dataset(frame.set_index(pd.Index(["x", "y"], name="id"))).cases] == ["q1", "q2"]


def test_a_corpus_dataframe_indexed_by_its_ids_keeps_them() -> None:
    # documents.set_index("id"): its documents were doc-1, doc-2..., and every labelled source id was refused
    frame = pd.DataFrame({"id": ["travel", "leave"], "text": ["Book economy.", "25 days."]})
    assert load_corpus(frame.set_index("id")).hash == load_corpus(frame).hash
    with pytest.raises(DataError, match=r"^documents: the index 'doc_id' holds the document ids, which are read from an index or column "
                                        r"named 'id' — name it so: df.rename_axis\('id'\)$"):
        load_corpus(frame.rename(columns={"id": "doc_id"}).set_index("doc_id"))
    # an index of the files LangChain's loaders name 'source' is no id: its documents are named by position, as before
    by_file = frame.drop(columns="id").set_index(pd.Index(["docs/travel.md", "docs/leave.md"], name="source"))
    assert [d.id for d in load_corpus(by_file).documents] == ["doc-1", "doc-2"]


def test_source_ids_and_tags_given_as_sets_are_in_one_order_whatever_the_process() -> None:
    # a set iterates in the order of its strings' hashes, drawn anew by each process (PYTHONHASHSEED): source_ids given as
    # a set made another dataset hash on every run, so none of its runs was ever reused
    ids = [f"doc-{c}" for c in "abcdefghij"]  # ten items: a set iterates them in sorted order once in 3.6 million processes
    as_list = load_dataset(pd.DataFrame({"question": ["When?"], "source_ids": [ids], "tags": [["x", "y", "z", "w"]]}))
    as_set = load_dataset(pd.DataFrame({"question": ["When?"], "source_ids": [set(ids)], "tags": [frozenset("xyzw")]}))
    assert as_set.cases[0].source_ids == tuple(ids) and as_set.cases[0].tags == ("w", "x", "y", "z")
    assert as_set.hash == load_dataset(pd.DataFrame({"question": ["When?"], "source_ids": [ids], "tags": [["w", "x", "y", "z"]]})).hash
    assert as_list.cases[0].tags == ("x", "y", "z", "w")  # a list is kept in its order
    from workbench.datasets import EvalCase

    assert EvalCase(id="a", question="When?", source_ids=set(ids)).source_ids == tuple(ids)


def test_a_jsonl_corpus_with_fields_of_its_own_keeps_them_as_the_documents_metadata(tmp_path: Path) -> None:
    # an export of a help centre (id, text, url, product, views): was "field 'product' is not known — allowed: id, text,
    # metadata", for the DataFrame pd.read_json read and for its records alike
    rows = [{"id": "descaling", "text": "Descale every 8 weeks.", "url": "https://support.example/descaling", "product": "K100", "views": 12},
            {"id": "warranty", "text": "Two years.", "url": "https://support.example/warranty", "product": None, "views": 3}]
    path = write(tmp_path / "docs.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    expected = [("descaling", {"url": "https://support.example/descaling", "product": "K100", "views": "12"}),
                ("warranty", {"url": "https://support.example/warranty", "views": "3"})]  # an empty cell is no metadata
    for source in (pd.read_json(path, lines=True), rows):
        corpus = load_corpus(source)
        assert [(d.id, d.metadata) for d in corpus.documents] == expected
    # the hash is of ids and texts: the same corpus as without the fields, whose runs it reuses
    assert corpus.hash == load_corpus([{"id": r["id"], "text": r["text"]} for r in rows]).hash
    nested = load_corpus([{"id": "a", "text": "x", "url": "u", "metadata": {"page": 3}}])
    assert nested.documents[0].metadata == {"url": "u", "page": "3"}


def test_a_corpus_field_holding_a_list_or_an_object_is_kept_as_its_json_text(tmp_path: Path) -> None:
    # a help-desk export's nested 'meta' (author, tags) was kept as Python's repr, "{'author': 'ana', ...}", which no
    # JSON reader parses back, where a dataset's same field is JSON text; from a Parquet file a list is a NumPy array
    rows = [{"id": "hd-101", "text": "Change your plan in Settings.", "meta": {"author": "ana", "tags": ["billing", "plans"]}, "langs": ["en", "de"]}]
    path = write(tmp_path / "helpdesk.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    expected = {"meta": '{"author": "ana", "tags": ["billing", "plans"]}', "langs": '["en", "de"]'}
    frame = pd.read_json(path, lines=True)
    frame.to_parquet(tmp_path / "helpdesk.parquet")
    for source in (path, frame, rows, pd.read_parquet(tmp_path / "helpdesk.parquet")):
        (doc,) = load_corpus(source).documents
        assert doc.metadata == expected, (source, doc.metadata)
    assert json.loads(doc.metadata["meta"]) == rows[0]["meta"]


def test_documents_of_formats_it_reads_left_out_by_the_default_glob_are_noted(tmp_path: Path) -> None:
    # a knowledge base of markdown, an HTML page and a Word document, read as a folder with no glob: '**/*.md' took the
    # markdown alone, without a word, and the questions labelled with the others' ids were refused as unknown sources
    (tmp_path / "sub").mkdir()
    (tmp_path / ".cache").mkdir()
    (tmp_path / "faq.md").write_text("# FAQ\n", encoding="utf-8")
    (tmp_path / "status.html").write_text("<html><body><p>Payments are retried.</p></body></html>", encoding="utf-8")
    for name in ("sub/nonprofit.docx", "sub/terms.pdf", ".cache/old.html", "logo.png"):
        (tmp_path / name).write_bytes(b"never opened")
    corpus = load_corpus(tmp_path)
    assert [d.id for d in corpus.documents] == ["faq"]
    assert corpus.notes == (f"corpus '{tmp_path.name}': 3 files of formats it reads ('status.html', 'sub/nonprofit.docx', 'sub/terms.pdf') "
                            "are left out by the default glob '**/*.md' — give glob: '**/*' to read them (with exclude for the files "
                            "that are no documents), or list them in exclude",)
    assert load_corpus(tmp_path, exclude=["sub/**", "status.html"]).notes == ()
    assert load_corpus(tmp_path, glob="*.md").notes == ()  # a glob of its own picks what it means to
