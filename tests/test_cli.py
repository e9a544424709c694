"""CLI behaviour on bad input: one line naming the problem, non-zero exit, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.cli import main
from workbench.cli._failures import _failure_line
from workbench.results import counted
from workbench.errors import shortened

SPEC = """\
name: cli
dataset: {{path: {dataset}}}
corpus: {{builtin: python-reference}}
prompts:
  - name: a
    template: "Context: {{context}} Question: {{question}} Answer:"
models:
  - id: {model}
chunkers:
  - strategy: recursive
    size: 200
    overlap: {overlap}
"""


def run_cli(tmp_path: Path, capsys, *, model="local:gemma3-270m", overlap=20, rows='{"id": "a", "question": "q?"}\n') -> tuple[int, str]:  # type: ignore[no-untyped-def]
    (tmp_path / "d.jsonl").write_text(rows)
    (tmp_path / "e.yaml").write_text(SPEC.format(dataset="d.jsonl", model=model, overlap=overlap))
    code = main(["--tracking-uri", f"sqlite:///{tmp_path / 'db.sqlite'}", "run", str(tmp_path / "e.yaml"), "--no-progress"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"overlap": 500}, r"e.yaml:1[0-3]: chunkers\[0\]: overlap 500 must be smaller than size 200"),
        ({"model": "nosuch:model"}, r"e.yaml:8: models\[0\].id: unknown model provider 'nosuch'"),
        ({"rows": '{"id": "a", "question": "q?"}\n{"id": "b"}\n'}, r"d.jsonl:2: field 'question' is missing"),
    ],
)
def test_bad_input_gets_one_clear_line_and_no_store(tmp_path: Path, capsys, kwargs, expected) -> None:  # type: ignore[no-untyped-def]
    import re

    code, err = run_cli(tmp_path, capsys, **kwargs)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert re.search(expected, lines[0]), lines[0]
    assert not (tmp_path / "db.sqlite").exists()  # validation happens before the store is touched


def test_schema_command_writes_the_schema(tmp_path: Path) -> None:
    import json

    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    schema = json.loads((tmp_path / "s.json").read_text())
    assert schema["title"] == "ExperimentSpec" and "chunkers" in schema["properties"]


@pytest.mark.parametrize("command", [["list", "gone"], ["compare", "gone"], ["gate", "gone", "--metric", "token_f1", "--min", "0"]])
def test_a_deleted_experiment_is_named_as_deleted(tmp_path: Path, capsys, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Its sweeps were deleted with it: "no sweeps, run one first" (or an empty list) sent the lead the wrong way."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'db.sqlite'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("gone")
    client.set_terminated(client.create_run(experiment_id, tags={"workbench.kind": "sweep"}).info.run_id)
    client.delete_experiment(experiment_id)
    capsys.readouterr()
    assert main(["--tracking-uri", uri, *command]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (f"error: experiment 'gone' is deleted in {uri} — restore it with 'mlflow experiments restore "
                                 f"--experiment-id {experiment_id}' (MLFLOW_TRACKING_URI set to this store), or run its sweep again\n")


def test_listing_an_experiment_with_no_sweeps_says_so(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """An experiment made in MLflow by hand (or whose sweeps were deleted) printed nothing at all."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'db.sqlite'}"
    MlflowClient(uri).create_experiment("by-hand")
    capsys.readouterr()
    assert main(["--tracking-uri", uri, "list", "by-hand"]) == 0
    out, err = capsys.readouterr()
    assert out == "experiment 'by-hand' has no sweeps yet — run one: workbench run EXPERIMENT.yaml\n" and err == ""



def test_a_store_uri_or_folder_set_with_a_line_end_is_the_store_or_folder_meant(tmp_path: Path, capsys,  # type: ignore[no-untyped-def]
                                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A CI secret, a ConfigMap or ``echo URI > .env`` often carries a newline: ``run`` made a second store named
    ``mlflow.db\\n`` beside the real one (and a WORKBENCH_HOME folder ``wb\\n``, with none of the indexes or cache), and
    ``list`` said "no experiments yet" of the real one."""
    from mlflow import MlflowClient

    from workbench.config import settings

    uri = f"sqlite:///{tmp_path / 'db.sqlite'}"
    MlflowClient(uri).create_experiment("by-hand")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"{uri}\n")
    monkeypatch.setenv("WORKBENCH_HOME", f"{tmp_path / 'wb'} \n")
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", f"\t{tmp_path / 'cache'}\n")
    assert main(["list"]) == 0
    assert "by-hand" in capsys.readouterr().out
    assert settings().tracking_uri == uri and settings(tracking_uri=f" {uri} ").tracking_uri == uri
    assert (settings().home, settings().cache_dir) == (tmp_path / "wb", tmp_path / "cache")


@pytest.mark.parametrize("command", [["schema", "-o", "s.json"], ["cache", "info"]])
def test_a_tracking_uri_given_to_a_command_that_opens_no_store_is_refused(tmp_path: Path, capsys, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    """`workbench cache info --tracking-uri X` printed this project's cache as if it were X's (the cache is the project's
    .workbench/, whatever the store): the option is refused, not ignored."""
    assert main([command[0], "--tracking-uri", f"sqlite:///{tmp_path / 'db.sqlite'}", *command[1:]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "--tracking-uri does not apply" in err, err
    assert not (tmp_path / "db.sqlite").exists()


def test_options_of_every_command_are_taken_after_cache_info_and_cache_clear(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # `workbench cache clear --debug` said "workbench: unrecognized arguments: --debug", and `cache info --tracking-uri X`
    # did not say the option does not apply, as `cache --tracking-uri X info` does
    assert main(["cache", "info", "--tracking-uri", f"sqlite:///{tmp_path / 'db.sqlite'}"]) == 2
    err = capsys.readouterr().err
    assert err == ("error: workbench cache info: --tracking-uri does not apply (it opens no MLflow store) — see "
                   "'workbench cache info --help'\n"), err
    assert main(["cache", "clear", "--debug", "--older-than", "soon"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.endswith("error: --older-than: 'soon' is not an age — use a number and a unit: 30d, 12h, "
                                               "90m, 45s or 2w\n"), err


def test_the_run_headline_counts_one_question_in_the_singular() -> None:
    # `workbench run --limit 1` printed "4 variants on 1 questions"
    assert (counted(1, "question"), counted(20, "question"), counted(0, "variant")) == ("1 question", "20 questions", "0 variants")


def test_the_reuse_line_counts_one_model_call_and_one_answer_in_the_singular() -> None:
    # a prompt fix re-asking one question printed "1 model calls, 1 answers from the cache"
    from types import SimpleNamespace

    from workbench.cli._run_report import _reuse_line

    variants = [SimpleNamespace(reused_from=None, metrics={"generation_calls": 1.0, "cache_hits": 1.0}),
                SimpleNamespace(reused_from="r1", metrics={"generation_calls": 0.0, "cache_hits": 0.0})]
    assert _reuse_line(SimpleNamespace(variants=variants)) == "reused 1 of 2 variants; 1 model call, 1 answer from the cache"


@pytest.mark.parametrize("command", [[], ["gate"], ["run"], ["promote"], ["export"]])
def test_help_documents_the_exit_codes_scripts_rely_on(command: list[str], capsys) -> None:  # type: ignore[no-untyped-def]
    # a CI author reading `workbench gate --help` learnt that a failed gate exits 1, not what 2, 141 or 143 mean
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for code in ("0 done", "1 a variant failed (run) or a gate failed (gate, promote);", "2 a usage or input error", "3 a bug", "130 interrupted",
                 "143 terminated (SIGTERM", "141 the reader of the output went away"):
        assert code in text, (code, text)


def test_version_names_workbench_mlflow_and_python_and_loads_no_heavy_library() -> None:
    """`workbench --version` at the top of a CI job's log: it was a usage error (exit 2), and it must stay as quick as
    --help (the versions come from the packages' metadata, not from importing MLflow)."""
    import json
    import subprocess
    import sys
    from importlib.metadata import version

    import workbench

    code = ("import json, sys; from workbench.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit as exc:\n"
            "    print(json.dumps([exc.code, 'mlflow' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120).stdout.splitlines()
    assert out[0] == (f"workbench {workbench.__version__} (mlflow {version('mlflow')}, langchain-core {version('langchain-core')}, "
                      f"Python {sys.version.split()[0]})")
    assert json.loads(out[1]) == [0, False]


def test_a_bug_exits_3_not_the_1_of_a_failed_gate(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A CI job fails a pull request on a failed gate (1) and retries or reports a crash of the tool: both exited 1."""
    import workbench as wb

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(wb, "run", crash)
    code, err = run_cli(tmp_path, capsys)
    assert code == 3
    assert err == "error: internal error: RuntimeError: boom — rerun with --debug for the traceback, and report it\n"


@pytest.mark.parametrize("command", ["compare", "gate"])
def test_compare_and_gate_help_say_they_take_a_sweeps_run_id(command: str, capsys) -> None:  # type: ignore[no-untyped-def]
    # what `workbench run --format json` gives a CI job, which the help did not say EXPERIMENT could be
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "experiment name or YAML file (its latest sweep is compared), or a sweep's parent run id" in " ".join(capsys.readouterr().out.split())


def test_run_dry_run_prints_the_plan_and_logs_nothing(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "d.jsonl").write_text('{"id": "a", "question": "q?"}\n{"id": "b", "question": "r?"}\n')
    (tmp_path / "e.yaml").write_text(SPEC.format(dataset="d.jsonl", model="local:gemma3-270m", overlap=20)
                                     + "retrieval: [{k: 3}, {k: 5}]\n")
    code = main(["--tracking-uri", f"sqlite:///{tmp_path / 'db.sqlite'}", "run", str(tmp_path / "e.yaml"), "--dry-run", "--limit", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == ("Experiment 'cli': 2 variants (1 prompt x 1 model x 1 chunker x 2 retrieval settings), 1 index of "
                                   "79 documents, 1 question: 2 model calls"), out
    assert "a|gemma3-270m|recursive-200/20|k5-similarity" in out and out.endswith("Dry run: nothing was run or logged.\n")
    assert not (tmp_path / "db.sqlite").exists() and not (tmp_path / ".workbench").exists()
    # the corpus is read as the sweep would read it: a dry run does not pass a folder the sweep then refuses
    (tmp_path / "e.yaml").write_text((tmp_path / "e.yaml").read_text().replace("{builtin: python-reference}", "{path: docs}"))
    assert main(["run", str(tmp_path / "e.yaml"), "--dry-run"]) == 2
    assert "docs" in capsys.readouterr().err


def test_run_refuses_a_grid_of_thousands_of_variants_without_yes(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # 400,000 variants (a range typed one digit too long) started a sweep of months with no word about its size
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.jsonl").write_text('{"id": "a", "question": "q?"}\n')
    chunkers = "".join(f"  - {{strategy: recursive, size: {200 + i}, overlap: 20}}\n" for i in range(11))
    retrieval = "".join(f"  - {{k: {k}}}\n" for k in range(1, 101))
    (tmp_path / "e.yaml").write_text(f"name: wide\ndataset: {{path: d.jsonl}}\ncorpus: {{builtin: python-reference}}\n"
                                     f"chunkers:\n{chunkers}retrieval:\n{retrieval}")
    code = main(["--tracking-uri", f"sqlite:///{tmp_path / 'db.sqlite'}", "run", str(tmp_path / "e.yaml"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"error: {tmp_path / 'e.yaml'}: 1,100 variants (11 chunkers x 100 retrieval settings), 11 indexes, 1 question: no model "
                   "calls (retrieval only), more than the 1,000 variants a sweep runs unasked — check the plan with --dry-run and cut an "
                   "axis, or pass --yes to run them all\n"), err
    assert not (tmp_path / "db.sqlite").exists() and not (tmp_path / ".workbench").exists()


def test_wb_run_refuses_a_grid_of_thousands_of_variants_unless_allowed_by_name(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # workbench run and the RunPanel asked first, while a script's wb.run started the 1,100-variant sweep unasked
    import workbench as wb
    from workbench.tracking import MemoryTracker

    monkeypatch.chdir(tmp_path)
    data = {"name": "wide", "dataset": {"path": str(tmp_path / "d.jsonl")}, "corpus": {"builtin": "python-reference"},
            "chunkers": [{"strategy": "recursive", "size": 200 + i, "overlap": 20} for i in range(11)],
            "retrieval": [{"k": k} for k in range(1, 101)]}
    (tmp_path / "d.jsonl").write_text('{"id": "a", "question": "q?"}\n')
    tracker = MemoryTracker()
    with pytest.raises(wb.WorkbenchError) as refused:
        wb.run(wb.ExperimentSpec.from_dict(data, base_dir=tmp_path), tracker=tracker, progress=False)
    assert str(refused.value) == ("wide: 1,100 variants (11 chunkers x 100 retrieval settings), 11 indexes, 1 question: no model calls "
                                  "(retrieval only), more than the 1,000 variants a sweep runs unasked — cut an axis, or pass "
                                  "allow_large_grid=True to run them all")
    assert not tracker.runs and not (tmp_path / ".workbench").exists()  # nothing logged, nothing built


def test_debug_traceback_is_redacted_like_the_error_line(tmp_path: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """--debug printed the traceback as it was, with the key the error line hid (a token in the store's address, the
    value of a secret variable that an error quoted)."""
    import socket

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["--tracking-uri", f"http://127.0.0.1:{port}/?token=hunter2secretXX", "list", "--debug"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback (most recent call last):" in err and "[REDACTED:url_query_secret]" in err
    assert "hunter2secretXX" not in err, err


@pytest.mark.parametrize("text", [
    "the judge call failed because " + "the server answered with a judge page " * 20,
    "some more words, " * 30 + "and a last one",
])
def test_a_long_error_is_cut_between_words_and_says_so(text: str) -> None:
    # "(first: ... a ju)": the error was cut in the middle of a word, with nothing to tell it was cut at all
    shown = shortened(text, 200)
    head, _, tail = shown.partition("… (cut: ")
    assert tail == f"{len(text)} characters in all)" and len(head) <= 200, shown
    assert text.startswith(head) and text[len(head)] in " ,;:" and not head.endswith(" "), shown


def test_a_long_word_is_cut_where_the_line_ends() -> None:
    blob = "Error: " + "x" * 600  # a URL or a blob of JSON: no word boundary near the limit
    assert shortened(blob, 200) == f"{blob[:200]}… (cut: 607 characters in all)"


def test_an_exceptions_long_first_line_is_cut_between_words_with_an_ellipsis() -> None:
    words = " ".join(f"word{n}" for n in range(100))
    code, line = _failure_line(RuntimeError(words + "\nsecond line"), "sqlite:///x.db")
    quoted = line.removeprefix("internal error: RuntimeError: ").partition("… (cut: ")
    assert code == 3 and quoted[2].startswith(f"{len(words)} characters in all) — rerun with --debug"), line
    assert words.startswith(quoted[0]) and words[len(quoted[0])] == " " and len(quoted[0]) <= 300, line


def test_list_keeps_its_columns_in_line_with_wide_and_combining_characters_in_names(tmp_path: Path, empty_store: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    # "评估实验" is 4 characters but 8 terminal columns: padded by its length, its id= column stood 4 columns right
    import unicodedata

    from mlflow import MlflowClient

    from tests.conftest import copy_store

    def columns(text: str) -> int:
        return sum(0 if unicodedata.combining(c) or c in "\u200d\ufe0f" else 2 if unicodedata.east_asian_width(c) in "WF" else 1
                   for c in text)

    uri = copy_store(empty_store, tmp_path)
    names = ("评估实验", "📊 retrieval", "cafe\u0301 prompts", "plain")
    for name in names:
        MlflowClient(uri).create_experiment(name)
    assert main(["--tracking-uri", uri, "list"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(names)]
    assert len(lines) == len(names) and {columns(line.partition(" id=")[0]) for line in lines} == {30}, lines


def test_the_leaderboard_keeps_its_columns_in_line_with_chinese_and_emoji_variant_names(capsys) -> None:  # type: ignore[no-untyped-def]
    # pandas pads by length: a variant named after a Chinese prompt stood 4 columns right of the others
    import unicodedata

    import pandas as pd

    from workbench.cli._output import _print_table

    def columns(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    frame = pd.DataFrame({"variant": ["评估实验|gemma", "plain|gemma", "📊 rag|gemma"], "status": ["FINISHED"] * 3, "token_f1": [0.5, 0.25, 0.1]})
    _print_table(frame, ("variant", "status", "token_f1"))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and len({columns(line.partition("FINISHED")[0]) for line in lines[1:]}) == 1, lines
