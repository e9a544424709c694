"""Every user error of ``compare``, ``gate``, ``promote``, ``export``, ``rollback``, ``calibrate`` and ``run`` is one
line ``error: <where>: <what is wrong> — <what to do>`` on stderr, exit 2, no traceback (unless ``--debug``), and
nothing is written: the tracking store, the deployment repository and the project folder are left as they were.

The store is a real sqlite MLflow store holding one fake sweep (a good and a bad prompt, see tests/promotion).
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.promotion.conftest import Swept, git, sweep
from workbench.cli import build_parser, main

GATE_KINDS = "metric, min_questions, max_cost_per_answer, max_failed_rate, beats_holder"


@dataclass(frozen=True)
class Project:
    """The shared store (one sweep, staging held by the good prompt's config) and a scratch folder per test."""

    swept: Swept
    db: Path
    tmp: Path

    @property
    def uri(self) -> str:
        return self.swept.settings.tracking_uri

    def good(self) -> str:
        return self.swept.run_id("good")

    def parent(self) -> str:
        return str(self.swept.result.parent_run_id)

    def name(self, run_id: str) -> str:
        return next(v.variant.name for v in self.swept.result.variants if v.run_id == run_id)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swept]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_USER", "alice")
        swept = sweep(tmp_path_factory.mktemp("cli-errors"), promotion={"gates": [{"kind": "min_questions", "n": 1}]})
        MlflowClient(swept.settings.tracking_uri).create_experiment("other")  # a second experiment, for --sweep mix-ups
        assert main(["--tracking-uri", swept.settings.tracking_uri, "promote", swept.run_id("good"), "--name", "assist",
                     "--alias", "staging"]) == 0
        yield swept


def store_digest(db: Path) -> str:
    """Every row of every table of the sqlite store (a write of any kind changes it)."""
    with sqlite3.connect(db) as conn:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()


def files_under(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file() and "-wal" not in p.name
            and "-shm" not in p.name and "__pycache__" not in p.parts}


@pytest.fixture
def project(shared: Swept, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    db = shared.root / "mlruns" / "mlflow.db"
    before = store_digest(db)
    yield Project(shared, db, tmp_path)
    assert store_digest(db) == before, "a failed command wrote to the tracking store"


def one_line(capsys: pytest.CaptureFixture[str], code: int, *, expected_code: int = 2) -> str:
    out, err = capsys.readouterr()
    assert code == expected_code, err
    assert "Traceback" not in err and out == "", (out, err)
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err
    return err.removeprefix("error: ").rstrip("\n")


def cli(p: Project, *args: str) -> int:
    return main(["--tracking-uri", p.uri, *args])


# -- compare and gate --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "expected"), [
    (["compare", "nosuch"], "'nosuch' is neither an experiment nor a run in {uri} — see 'workbench list'"),
    (["compare", "promo", "--baseline", "nosuch"], "no variant 'nosuch' to compare (a variant id, name or run id) — variants: "),
    (["compare", "promo", "--metric", "nosuch"], "metric 'nosuch' is not in the results — available: "),
    (["compare", "promo", "--resamples", "0"], "workbench compare: argument --resamples: 0 is below 1 — see 'workbench compare --help'"),
    (["compare", "promo", "--seed", "x"], "workbench compare: argument --seed: 'x' is not a whole number — see 'workbench compare --help'"),
    (["compare", "promo", "--seed", "-1"], "workbench compare: argument --seed: -1 is below 0 — see 'workbench compare --help'"),
    (["gate", "promo", "--metric", "token_f1", "--min", "0", "--seed", "-1"],
     "workbench gate: argument --seed: -1 is below 0 — see 'workbench gate --help'"),
    (["gate", "promo", "--metric", "token_f1", "--min", "2", "--max", "1"],
     "--min 2 is above --max 1: no variant could pass — swap them, or drop one"),
    (["gate", "promo", "--metric", "token_f1"],
     "gate needs --min, --max or --baseline — e.g. workbench gate EXPERIMENT --metric token_f1 --min 0.5"),
    (["gate", "promo", "--metric", "nosuch", "--min", "0.1"], "metric 'nosuch' is not in the results — available: "),
    (["gate", "promo", "--metric", "token_f1", "--min", "high"],
     "workbench gate: argument --min: 'high' is not a number — see 'workbench gate --help'"),
    (["gate", "promo", "--metric", "token_f1", "--max", "nan"],
     "workbench gate: argument --max: 'nan' is not a finite number — see 'workbench gate --help'"),
    # said to slice the questions with Python code (wb.compare({v.variant.name: ...})) on the command line
    (["gate", "promo", "--metric", "metadata.year", "--min", "0.1"],
     "--metric metadata.year: 'metadata.year' is a column of the dataset, not a metric — give a metric the runs log "
     "('workbench compare promo' lists them); to check only the questions of one year, run the experiment on a dataset "
     "of those questions"),
    (["compare", "promo", "--metric", "token_f1", "--metric", "metadata.year"],
     "--metric metadata.year: 'metadata.year' is a column of the dataset, not a metric — give a metric the runs log "
     "('workbench compare promo' lists them); to compare only the questions of one year, run the experiment on a dataset "
     "of those questions"),
    (["gate", "nosuch", "--metric", "token_f1", "--min", "0.1"], "'nosuch' is neither an experiment nor a run in {uri} — see 'workbench list'"),
])
def test_compare_and_gate(project: Project, capsys: pytest.CaptureFixture[str], args: list[str], expected: str) -> None:
    line = one_line(capsys, cli(project, *args))
    expected = expected.format(uri=project.uri)
    assert line == expected if not expected.endswith(": ") else line.startswith(expected), line


def test_an_experiment_file_stands_for_the_experiment_it_names(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    # `workbench run base.yaml` takes the file: list, compare and gate refused it ("give the experiment's name, not the file")
    (project.tmp / "promo.yaml").write_text("name: promo\ndataset: {path: d.jsonl}\n", encoding="utf-8")
    assert cli(project, "list", "promo") == 0
    by_name = capsys.readouterr().out
    assert cli(project, "list", "promo.yaml") == 0
    assert capsys.readouterr().out == by_name
    heading = f"Experiment 'promo', sweep {project.parent()} by alice"
    for args in (["compare", "promo.yaml"], ["compare", str(project.tmp / "promo.yaml"), "--sweep", project.parent()]):
        assert cli(project, *args, "--metric", "token_f1") == 0
        assert capsys.readouterr().out.splitlines()[0] == heading, args
    assert cli(project, "gate", "promo.yaml", "--metric", "token_f1", "--min", "0") == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"gate passed: 2 variants of sweep {project.parent()} by alice on token_f1"


def test_an_experiment_file_that_names_no_logged_experiment_is_one_line(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    (project.tmp / "fresh.yaml").write_text("name: fresh\n", encoding="utf-8")
    (project.tmp / "nameless.yml").write_text("dataset: {path: d.jsonl}\n", encoding="utf-8")
    (project.tmp / "broken.yaml").write_text("name: [promo\n", encoding="utf-8")
    assert one_line(capsys, cli(project, "compare", "nosuch.yaml")) == (
        f"nosuch.yaml: experiment file not found — check the path (relative to {project.tmp}), or give the experiment's name "
        "(see 'workbench list')")
    assert one_line(capsys, cli(project, "list", "fresh.yaml")) == (
        f"fresh.yaml: experiment 'fresh' (its name:) has no sweeps in {project.uri} — run it first: workbench run fresh.yaml")
    assert one_line(capsys, cli(project, "gate", "nameless.yml", "--metric", "token_f1", "--min", "0")) == (
        "nameless.yml: names no experiment (no 'name:' text) — give an experiment file, or the experiment's name (see 'workbench list')")
    assert one_line(capsys, cli(project, "compare", "broken.yaml")).startswith("broken.yaml:2: not valid YAML (")
    assert one_line(capsys, cli(project, "list", "Promo")) == f"no experiment named 'Promo' in {project.uri} — did you mean 'promo'? (see 'workbench list')"


def test_a_sweep_must_belong_to_the_experiment_named(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    parent, good = project.parent(), project.good()
    for args in (["compare", "other", "--sweep", parent], ["gate", "other", "--sweep", parent, "--metric", "token_f1", "--min", "0"]):
        line = one_line(capsys, cli(project, *args))
        assert line == (f"--sweep: sweep {parent} belongs to experiment 'promo', not 'other' — give a sweep of 'other' "
                        "(see 'workbench list other'), or compare 'promo'"), args
    line = one_line(capsys, cli(project, "compare", "promo", "--sweep", good))
    assert line == f"--sweep: run {good} ('{project.name(good)}') is not a sweep — give a sweep's parent run id (see 'workbench list promo')"
    line = one_line(capsys, cli(project, "gate", "promo", "--sweep", "nosuch", "--metric", "token_f1", "--min", "0"))
    assert line == f"--sweep: no run 'nosuch' in {project.uri} — give a sweep's run id (see 'workbench list promo')"


def test_compare_and_gate_say_what_they_compared(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.tracking import default_user

    parent, good, user = project.parent(), project.good(), default_user()
    for args in (["compare", "promo", "--sweep", parent], ["compare", parent]):  # a sweep's run id names its experiment
        assert cli(project, *args, "--metric", "token_f1") == 0
        assert capsys.readouterr().out.splitlines()[0] == f"Experiment 'promo', sweep {parent} by {user}", args
    assert cli(project, "compare", good, "--metric", "token_f1") == 0  # a variant run: no sweep to name
    assert capsys.readouterr().out.splitlines()[0] == f"Comparing run {good} (no sweep)"
    assert cli(project, "gate", good, "--metric", "token_f1", "--min", "0") == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"gate passed: 1 variants of run {good} on token_f1"
    assert cli(project, "gate", "promo", "--sweep", parent, "--metric", "token_f1", "--min", "0") == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"gate passed: 2 variants of sweep {parent} by {user} on token_f1"


@pytest.mark.parametrize("command", [["compare", "promo"], ["gate", "promo", "--min", "0"]])
def test_compare_and_gate_say_when_the_latest_sweep_is_a_teammates(
    project: Project, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """On a team's tracking server EXPERIMENT stands for whoever's sweep ran last: Alice's CI gate passed on Bob's sweep
    of another configuration, and nothing said whose sweep it had checked."""
    from workbench.tracking import default_user

    parent, bob = project.parent(), default_user()  # the shared sweep was run under this login
    monkeypatch.setenv("WORKBENCH_USER", f"not-{bob}")
    assert cli(project, *command, "--metric", "token_f1") == 0
    out, err = capsys.readouterr()
    assert err == (f"note: the latest sweep of 'promo' ({parent}) was run by {bob}, not you (not-{bob}) — pass --sweep RUN_ID "
                   f"to {command[0]} yours (workbench list promo)\n")
    assert f"sweep {parent} by {bob}" in out
    for named in (["--sweep", parent], []):  # the sweep named, by --sweep or its run id: no note
        args = [command[0], *(["promo", *named] if named else [parent]), *command[2:], "--metric", "token_f1"]
        assert cli(project, *args) == 0
        assert capsys.readouterr().err == "", args
    monkeypatch.setenv("WORKBENCH_USER", bob)  # the sweep is the user's own: no note
    assert cli(project, *command, "--metric", "token_f1") == 0
    assert capsys.readouterr().err == ""



def test_a_metric_named_twice_is_gated_once(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    """``--metric token_f1 --metric $METRIC`` in a CI script with METRIC=token_f1: each failure was counted and listed
    twice ("gate failed: 4 failure(s) ... on token_f1, token_f1")."""
    assert cli(project, "gate", "promo", "--metric", "token_f1", "--min", "1.1") == 1
    once = capsys.readouterr()
    assert cli(project, "gate", "promo", "--metric", "token_f1", "--metric", "token_f1", "--min", "1.1") == 1
    assert capsys.readouterr() == once
    assert once.err.endswith(" on token_f1\n"), once.err
    import workbench as wb

    report = wb.compare(project.swept.result, metrics=["token_f1"])
    assert report.gate(["token_f1", "token_f1"], minimum=1.1) == report.gate("token_f1", minimum=1.1)


# -- promote --------------------------------------------------------------------------------------------------------


def test_promote_unknown_run_and_sweep_and_bad_names(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    for run_id in ("0" * 32, "abc"):
        line = one_line(capsys, cli(project, "promote", run_id, "--name", "assist", "--alias", "staging"))
        assert line == f"run '{run_id}' not found in {project.uri} — check the run id (workbench list EXPERIMENT)"
    line = one_line(capsys, cli(project, "promote", project.parent(), "--name", "assist", "--alias", "staging"))
    assert line.startswith(f"run {project.parent()} is a sweep — promote one of its variant runs: ")
    for name in ("bad name!", "..", "n" * 101):
        line = one_line(capsys, cli(project, "promote", project.good(), "--name", name, "--alias", "staging"))
        assert line == f"name '{name[:100]}': use 1 to 100 letters, digits, '.', '_' and '-', not only dots"
    # the bundle's folder in the deployment repository (<name>/<alias>), which a Windows checkout could not make
    line = one_line(capsys, cli(project, "promote", project.good(), "--name", "Con.bot", "--alias", "staging"))
    assert line.startswith("name 'Con.bot': 'Con.bot' names a device on Windows (as CON, PRN, AUX, NUL,") and line.endswith(" — rename it")
    line = one_line(capsys, cli(project, "promote", project.good(), "--name", "bot.", "--alias", "staging"))
    assert line.startswith("name 'bot.': 'bot.' ends in a dot, which Windows drops from a file or folder name")
    line = one_line(capsys, cli(project, "promote", project.good(), "--name", "assist", "--alias", "prod"))
    assert line == ("workbench promote: argument --alias: invalid choice: 'prod' (choose from 'staging', 'production') — "
                    "did you mean 'production'? — see 'workbench promote --help'")
    line = one_line(capsys, cli(project, "promote", project.good(), "--name", "assist", "--alias", "staging", "--reason", " "))
    assert line == "override reason must not be blank — say why"


def _gates(name: str, content: bytes | None) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        if content is not None:
            path.write_bytes(content)
        return path
    return make


@pytest.mark.parametrize(("make", "expected"), [
    (_gates("missing.yaml", None), "{p}: gates file not found — check the path"),
    (_gates("empty.yaml", b"\n  \n"), "{p}: empty gates file — e.g. gates: [{{kind: metric, metric: token_f1, min: 0.3}}, "
                                      "{{kind: min_questions, n: 20}}]"),
    (_gates("image.yaml", b"gates:\n\x89PNG\x00\x00"), "{p}:2: binary data (NUL byte at offset 11), not UTF-8 text — save the file as UTF-8 YAML"),
    (_gates("latin1.yaml", b"gates:\n  - {kind: metric, metric: caf\xe9, min: 1}\n"),
     "{p}:2: not UTF-8 (byte 0xe9 at offset 37) — save the file as UTF-8 YAML"),
    (_gates("syntax.yaml", b"gates:\n  - {kind: metric, metric: token_f1\n"),
     "{p}:3: not valid YAML (expected ',' or '}}', but got '<stream end>') — fix the syntax, e.g. gates: "
     "[{{kind: metric, metric: token_f1, min: 0.3}}, {{kind: min_questions, n: 20}}]"),
    (_gates("scalar.yaml", b"token_f1 >= 0.3\n"), "{p}:1: gates: expected a non-empty list of gates — e.g. gates: "
                                                  "[{{kind: metric, metric: token_f1, min: 0.3}}, {{kind: min_questions, n: 20}}]"),
    (_gates("kind.yaml", b"gates:\n  - {kind: metric, metric: token_f1, min: 0.3}\n  - kind: beats\n    metric: token_f1\n"),
     "{p}:3: gates[1].kind: kind 'beats' is not a gate kind — use one of: " + GATE_KINDS),
    (_gates("nokind.yaml", b"- {metric: token_f1, min: 0.3}\n"), "{p}:1: gates[0].kind: 'kind' is missing — use one of: " + GATE_KINDS),
    (_gates("type.yaml", b"gates:\n  - kind: metric\n    metric: token_f1\n    min: high\n"),
     "{p}:4: gates[0].min: 'high' is text, not a number — write a number without quotes or units — a metric gate takes metric, min, max"),
    (_gates("percent.yaml", b"gates:\n  - kind: max_failed_rate\n    scorer: faithfulness\n    rate: 5%\n"),
     "{p}:4: gates[0].rate: '5%' is a percentage — write it as a fraction, 0.05 — a max_failed_rate gate takes scorer, rate"),
    (_gates("field.yaml", b"gates:\n  - kind: min_questions\n    count: 5\n"),  # the field written is the cause, not n missing
     "{p}:3: gates[0].count: unknown field — a min_questions gate takes n"),
    (_gates("misspelt.yaml", b"gates:\n  - kind: max_cost_per_answer\n    max_usd: 0.01\n"),
     "{p}:3: gates[0].max_usd: unknown field — did you mean 'usd'? — a max_cost_per_answer gate takes usd"),
    (_gates("missing-field.yaml", b"gates:\n  - kind: min_questions\n"),
     "{p}:2: gates[0].n: required field is missing — a min_questions gate takes n"),
    (_gates("extra.yaml", b"gates:\n  - kind: min_questions\n    n: 5\n    at_least: 5\n"),
     "{p}:4: gates[0].at_least: unknown field — a min_questions gate takes n"),
    (_gates("bounds.yaml", b"gates:\n  - {kind: metric, metric: token_f1}\n"),
     "{p}:2: gates[0]: gate on 'token_f1' needs 'min' or 'max' — a metric gate takes metric, min, max"),
    (_gates("section.yaml", b"name: x\npromotion:\n  gates:\n    - {kind: max_failed_rate, scorer: faithfulness, rate: 2}\n"),
     "{p}:4: promotion.gates[0].rate: 2 is over 1, the most it may be — give 1 or less — a max_failed_rate gate takes scorer, rate"),
    (_gates("twice.yaml", b"gates:\n  - kind: metric\n    metric: token_f1\n    min: 0.9\n    min: 0.1\n"),
     "{p}:5: 'min' is given twice in one mapping (also on line 4) — keep one"),
    (_gates("bomb.yaml", b"a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                         b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\ngates: [*e]\n"),
     "{p}:5: this value expands to more than 100000 values through YAML aliases (*name) — write the values out, or use "
     "fewer nested aliases"),
    (_gates("nogates.yaml", b"name: x\npromotion:\n  require_staging: false\n"),
     "{p}:3: promotion: expected a non-empty list of gates — e.g. gates: [{{kind: metric, metric: token_f1, min: 0.3}}, "
     "{{kind: min_questions, n: 20}}]"),
])
def test_promote_with_a_bad_gates_file(project: Project, capsys: pytest.CaptureFixture[str], make: Callable[[Path], Path],
                                       expected: str) -> None:
    path = make(project.tmp)
    line = one_line(capsys, cli(project, "promote", project.good(), "--name", "assist", "--alias", "production", "--gates", str(path)))
    assert line == expected.format(p=path)


# -- export and rollback ----------------------------------------------------------------------------------------------


@pytest.fixture
def deploy(project: Project) -> Iterator[Path]:
    repo = project.tmp / "deploy"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("deploy\n")
    git(repo, "add", "README.md")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "init")
    refs = git(repo, "show-ref")
    yield repo
    assert git(repo, "show-ref") == refs and git(repo, "status", "--porcelain") == ""  # nothing was written


def test_export_errors(project: Project, deploy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = project.tmp / "plain"
    plain.mkdir()
    line = one_line(capsys, cli(project, "export", "assist", "--alias", "staging", "--repo", str(plain)))
    assert line == f"{plain}: not a git repository — run 'git init' there or give another --repo"
    line = one_line(capsys, cli(project, "export", "assist", "--alias", "staging", "--repo", str(project.tmp / "nowhere")))
    assert line == f"{project.tmp / 'nowhere'}: folder not found — give the path of a git repository"
    line = one_line(capsys, cli(project, "export", "nobody", "--alias", "staging", "--repo", str(deploy)))
    assert line == f"no version of 'nobody' holds the alias 'staging' in {project.uri} — promote one first (workbench promote)"
    line = one_line(capsys, cli(project, "export", "assist", "--alias", "production", "--repo", str(deploy)))
    assert line == f"no version of 'assist' holds the alias 'production' in {project.uri} — promote one first (workbench promote)"
    line = one_line(capsys, cli(project, "export", "assist", "--alias", "staging", "--repo", str(deploy), "--bundle-dir", "../up"))
    assert line == "bundle_dir '../up': give a relative folder inside the repository (not its root, not .git, no '..')"
    line = one_line(capsys, cli(project, "export", "assist", "--alias", "staging", "--repo", str(deploy), "--branch", "a..b"))
    assert line == "'a..b' is not a valid git branch name — pass another branch name"
    assert not list(project.tmp.glob("**/assist/staging"))  # no partial bundle folder anywhere


def test_an_empty_export_option_is_refused_not_read_as_the_current_folder_or_a_default(
        project: Project, deploy: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # `workbench export ... --repo "$DEPLOY_REPO"` with the variable unset committed the bundle to a branch of the
    # repository of the current folder (in CI: the project's own checkout); an empty --branch or --bundle-dir was the default
    monkeypatch.chdir(deploy)
    line = one_line(capsys, cli(project, "export", "assist", "--alias", "staging", "--repo", ""))
    assert line == ("workbench export: argument --repo: is empty (an unset variable?) — give the path of the deployment git "
                    "repository — see 'workbench export --help'")
    for option in ("--branch", "--bundle-dir"):
        line = one_line(capsys, cli(project, "export", "assist", "--alias", "staging", "--repo", str(deploy), option, " "))
        assert line == (f"workbench export: argument {option}: is empty (an unset variable?) — give a value, or leave the "
                        "option out for its default — see 'workbench export --help'")


def test_rollback_errors(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    line = one_line(capsys, cli(project, "rollback", "nobody", "--alias", "production"))
    assert line == f"'nobody' has no 'production' alias in {project.uri} — nothing to roll back"
    line = one_line(capsys, cli(project, "rollback", "assist", "--alias", "staging"))
    assert line == "assist@staging has had no other holder than v1 — nothing to roll back to"
    line = one_line(capsys, cli(project, "rollback", "assist", "--alias", "staging", "--reason", ""))
    assert line == "rollback reason must not be blank — say why"



def test_a_mistyped_model_name_is_told_the_registered_one(project: Project, deploy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 'asist' for 'assist': export said "promote one first" and rollback "nothing to roll back", though a version of
    # 'assist' held the alias; promote sent the user to register a second model under the typo
    line = one_line(capsys, cli(project, "export", "asist", "--alias", "staging", "--repo", str(deploy)))
    assert line == (f"no version of 'asist' holds the alias 'staging' in {project.uri} — no registered model is named 'asist': "
                    "did you mean 'assist'?")
    line = one_line(capsys, cli(project, "rollback", "Assist", "--alias", "staging"))
    assert line == f"'Assist' has no 'staging' alias in {project.uri} — no registered model is named 'Assist': did you mean 'assist'?"
    line = one_line(capsys, cli(project, "promote", project.good(), "--name", "asist", "--alias", "production"))
    assert line.startswith("config ") and line.endswith(f"has not been promoted to staging — no registered model is named "
                                                         f"'asist': did you mean 'assist'? (a new model starts at staging: "
                                                         f"workbench promote {project.good()} --name asist --alias staging)"), line


# -- calibrate ----------------------------------------------------------------------------------------------------------


def test_calibrate_errors(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    labels = project.tmp / "labels.csv"
    labels.write_text("case_id,metric,label\nq1,faithfulness,1\n", encoding="utf-8")
    line = one_line(capsys, cli(project, "calibrate", "abc", "--labels", str(labels)))
    assert line == f"no run 'abc' in {project.uri} — see 'workbench list EXPERIMENT'"
    line = one_line(capsys, cli(project, "calibrate", project.good(), "--labels", str(project.tmp / "none.csv")))
    assert line == f"{project.tmp / 'none.csv'}: labels file not found — check the path"
    (project.tmp / "empty.csv").write_text("")
    line = one_line(capsys, cli(project, "calibrate", project.good(), "--labels", str(project.tmp / "empty.csv")))
    assert line == f"{project.tmp / 'empty.csv'}: empty labels file — add one label per line: case_id, metric, label"
    (project.tmp / "bin.jsonl").write_bytes(b'{"case_id": "q1"}\n\x00\x01')
    line = one_line(capsys, cli(project, "calibrate", project.good(), "--labels", str(project.tmp / "bin.jsonl")))
    assert line == f"{project.tmp / 'bin.jsonl'}:2: binary data (NUL byte at offset 18), not UTF-8 text — save the file as UTF-8 (.csv or .jsonl)"
    (project.tmp / "bad.csv").write_text("case_id,metric,label\nq1,faithfulness,maybe\n")
    line = one_line(capsys, cli(project, "calibrate", project.good(), "--labels", str(project.tmp / "bad.csv")))
    assert line == f"{project.tmp / 'bad.csv'}:2: field 'label': 'maybe' is not a label — use 0/1, a score in [0, 1], or pass/fail"
    line = one_line(capsys, cli(project, "calibrate", project.good(), "--labels", str(labels)))
    assert line == f"{project.good()}: none of the labelled metrics (faithfulness) was scored in this run — run with a judge configured"
    line = one_line(capsys, cli(project, "calibrate", project.parent(), "--labels", str(labels)))
    assert line == (f"sweep '{project.parent()}': no variant could be calibrated against {labels} (first: {project.swept.run_id('good')}: "
                    "none of the labelled metrics (faithfulness) was scored in this run — run with a judge configured)")
    for threshold in ("2", "0", "-0.5"):  # at 0 every score would pass: that is no calibration, not an internal error
        line = one_line(capsys, cli(project, "calibrate", project.good(), "--labels", str(labels), "--threshold", threshold))
        assert line == f"workbench calibrate: argument --threshold: {float(threshold):g} is outside (0, 1] — see 'workbench calibrate --help'"



@pytest.mark.parametrize(("command", "what"), [(["calibrate", "abc", "--labels"], "labels"), (["run"], "experiment")])
def test_a_device_or_a_pipe_is_not_called_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str],
                                                   what: str) -> None:
    fifo = tmp_path / "labels.csv"
    os.mkfifo(fifo)  # read with no writer, it would wait forever
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    line = one_line(capsys, main(["--tracking-uri", uri, *command, "/dev/null"]))
    assert line == f"/dev/null: is a device, not a file — give the path of the {what} file"
    line = one_line(capsys, main(["--tracking-uri", uri, *command, str(fifo)]))
    assert line == f"{fifo}: is a named pipe (FIFO), not a file — give the path of the {what} file"
    assert not (tmp_path / "mlflow.db").exists()


# -- run ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "args", "expected"), [
    (None, [], "{p}: experiment file not found — check the path"),
    (b"", [], "{p}: empty experiment file — write the experiment (see experiments/quickstart.yaml)"),
    (b"name: x\n\x00\x00", [], "{p}:2: binary data (NUL byte at offset 8), not UTF-8 text — save the file as UTF-8 YAML"),
    (b"name: caf\xe9\n", [], "{p}:1: not UTF-8 (byte 0xe9 at offset 9) — save the file as UTF-8 YAML"),
    (b"- a list\n", [], "{p}:1: an experiment file must be a YAML mapping with name, dataset, corpus, prompts, models, chunkers"),
    (b"name: x\n", ["--limit", "0"], "workbench run: argument --limit: 0 is below 1 — see 'workbench run --help'"),
    (b"name: x\n", ["--limit", "ten"], "workbench run: argument --limit: 'ten' is not a whole number — see 'workbench run --help'"),
    (b"name: x\n", ["--workers", "100000"], "workbench run: argument --workers: 100000 is outside [1, 256] — see 'workbench run --help'"),
    (b"name: x\n", ["--workers", "0"], "workbench run: argument --workers: 0 is outside [1, 256] — see 'workbench run --help'"),
])
def test_run_with_a_bad_experiment_file(project: Project, capsys: pytest.CaptureFixture[str], content: bytes | None,
                                        args: list[str], expected: str) -> None:
    path = project.tmp / "experiment.yaml"
    if content is not None:
        path.write_bytes(content)
    before = files_under(project.tmp)
    line = one_line(capsys, main(["--tracking-uri", f"sqlite:///{project.tmp / 'new.db'}", "run", str(path), *args]))
    assert line == expected.format(p=path)
    assert files_under(project.tmp) == before  # no store, no cache, no index


@pytest.mark.parametrize(("name", "content"), [("eval.jsonl", b'{"question": "How many days?"}\n'), ("eval.csv", b"question\nHow many days?\n")])
def test_run_given_a_dataset_file_says_to_name_it_in_an_experiment(project: Project, capsys: pytest.CaptureFixture[str], name: str,
                                                                  content: bytes) -> None:
    # read as YAML, a JSONL file was told to quote a value starting with '{', and a CSV file to be a mapping of fields
    path = project.tmp / name
    path.write_bytes(content)
    line = one_line(capsys, main(["--tracking-uri", f"sqlite:///{project.tmp / 'new.db'}", "run", str(path)]))
    assert line == (f"{path}: a dataset file ({path.suffix}), not an experiment — name it in an experiment file, dataset: {{path: {name}}}, "
                    "and give that file (see experiments/quickstart.yaml)")


# -- the store itself, the command line, --debug -----------------------------------------------------------------------


def test_read_commands_never_create_a_store(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    missing = project.tmp / "typo" / "mlflow.db"
    uri = f"sqlite:///{missing}"
    hint = "run a sweep first (workbench run EXPERIMENT.yaml), or point --tracking-uri or MLFLOW_TRACKING_URI at your store"
    for args in (["compare", "promo"], ["gate", "promo", "--metric", "token_f1", "--min", "0"], ["list", "promo"],
                 ["promote", project.good(), "--name", "a", "--alias", "staging"], ["rollback", "assist"],
                 ["export", "assist", "--alias", "staging", "--repo", str(project.tmp)]):
        line = one_line(capsys, main(["--tracking-uri", uri, *args]))
        assert line == f"tracking store {uri}: no such file — {hint}", args
    (project.tmp / "empty.db").write_bytes(b"")
    line = one_line(capsys, main(["--tracking-uri", f"sqlite:///{project.tmp / 'empty.db'}", "rollback", "assist"]))
    assert line == f"tracking store sqlite:///{project.tmp / 'empty.db'}: {project.tmp / 'empty.db'} holds no MLflow store (no runs table) — {hint}"
    (project.tmp / "notes.db").write_text("not a database")
    line = one_line(capsys, main(["--tracking-uri", f"sqlite:///{project.tmp / 'notes.db'}", "compare", "promo"]))
    assert line == (f"tracking store sqlite:///{project.tmp / 'notes.db'}: {project.tmp / 'notes.db'} is not an SQLite database — "
                    "point --tracking-uri or MLFLOW_TRACKING_URI at your store")
    assert not missing.parent.exists() and (project.tmp / "empty.db").stat().st_size == 0
    assert main(["--tracking-uri", uri, "list"]) == 0  # a fresh project lists nothing, and still creates no store
    assert "no experiments yet" in capsys.readouterr().out and not missing.parent.exists()


def test_another_applications_database_is_not_turned_into_a_store(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    other = project.tmp / "app.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    before = other.read_bytes()
    quickstart = Path(__file__).resolve().parents[2] / "experiments" / "quickstart.yaml"
    for args in (["run", str(quickstart)], ["list"], ["compare", "promo"]):
        line = one_line(capsys, main(["--tracking-uri", f"sqlite:///{other}", *args]))
        assert line == (f"tracking store sqlite:///{other}: {other} is another database (tables users), not an MLflow store — "
                        "point --tracking-uri or MLFLOW_TRACKING_URI at your store"), args
    assert other.read_bytes() == before  # MLflow added its tables and indexes to it


def test_a_damaged_store_or_one_sqlite_cannot_open_is_named_not_called_empty(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    # both were 'holds no MLflow store (no runs table) — run a sweep first', and the sweep then spent two minutes in
    # MLflow's retries before calling the store unreachable
    quickstart = Path(__file__).resolve().parents[2] / "experiments" / "quickstart.yaml"
    damaged = project.tmp / "cut" / "mlflow.db"  # cut short by a full disk or a sync tool
    damaged.parent.mkdir()
    damaged.write_bytes(project.db.read_bytes()[: project.db.stat().st_size // 2])
    shut = project.tmp / "shut" / "mlflow.db"  # a folder where sqlite cannot write mlflow.db-wal (root writes anywhere:
    shut.parent.mkdir()                         # read-only, it is a folder in its place)
    shut.write_bytes(project.db.read_bytes())
    (shut.parent / "mlflow.db-wal").mkdir()
    for args in (["list"], ["compare", "promo"], ["run", str(quickstart)]):
        line = one_line(capsys, main(["--tracking-uri", f"sqlite:///{damaged}", *args]))
        assert line.startswith(f"tracking store sqlite:///{damaged}: {damaged} is damaged (") and "restore it from a backup" in line, args
        line = one_line(capsys, main(["--tracking-uri", f"sqlite:///{shut}", *args]))
        assert line == (f"tracking store sqlite:///{shut}: sqlite cannot open {shut} (unable to open database file) — it writes "
                        f"mlflow.db-wal and mlflow.db-shm beside it to read it: make {shut.parent} writable, or copy mlflow.db to a "
                        "writable folder and point --tracking-uri at the copy"), args


def test_a_store_left_half_made_by_a_stopped_first_sweep_is_named_with_what_to_do(tmp_path: Path, empty_store: Path,
                                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # a first `workbench run` killed while MLflow made the new store's tables left its schema between two migrations:
    # every command then failed with 'duplicate column name: ... — check that it is reachable and writable'
    from tests.conftest import copy_store

    uri = copy_store(empty_store, tmp_path)
    with sqlite3.connect(uri.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE alembic_version SET version_num = '7d34483879f0'")  # where a killed first sweep left one,
        db.execute("DROP TABLE job_locks")  # before a later migration made this table
    path = tmp_path / "mlruns" / "mlflow.db"
    assert main(["--tracking-uri", uri, "list"]) == 2
    line = capsys.readouterr().err.splitlines()[-1].removeprefix("error: ")  # (after MLflow's notes on its migrations)
    assert line.startswith(f"tracking store {uri}: {path} was left half made, by a sweep stopped while it made it (")
    assert line.endswith("), and holds no run — delete it (mlflow.db and its -wal and -shm files) and run again")


@pytest.mark.parametrize(("revision", "advice"), [
    # a team's store made by an older MLflow: 'check that it is reachable and writable' sent them to the network
    ("451aebb31d03", "its tables were made by an older MLflow (schema 451aebb31d03; MLflow {mlflow} reads {head}) — back the store "
                     "up, then upgrade its tables: mlflow db upgrade {uri}"),
    # one a newer MLflow upgraded: `mlflow db upgrade` cannot take it back
    ("ab12cd34ef56", "its tables were made by a newer MLflow than {mlflow}, the one workbench uses (schema ab12cd34ef56, which it "
                     "does not know) — open it with the workbench of that MLflow, or point --tracking-uri or MLFLOW_TRACKING_URI at "
                     "your store"),
])
def test_a_store_of_another_mlflow_schema_says_how_to_open_it(tmp_path: Path, empty_store: Path, capsys: pytest.CaptureFixture[str],
                                                              revision: str, advice: str) -> None:
    from importlib import metadata

    from tests.conftest import copy_store

    uri = copy_store(empty_store, tmp_path)
    with sqlite3.connect(uri.removeprefix("sqlite:///")) as db:
        head = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        db.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    assert main(["--tracking-uri", uri, "list"]) == 2
    line = capsys.readouterr().err.splitlines()[-1]
    assert line == f"error: tracking store {uri}: " + advice.format(mlflow=metadata.version("mlflow"), head=head, uri=uri)


def test_command_line_mistakes_are_one_line(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    for command, flag, value, problem in (("ui", "--port", "99999", "99999 is outside [1, 65535]"),
                                          ("server", "--port", "0", "0 is outside [1, 65535]"),
                                          ("server", "--workers", "-3", "-3 is below 1")):
        line = one_line(capsys, main([command, flag, value]))
        assert line == f"workbench {command}: argument {flag}: {problem} — see 'workbench {command} --help'"
    line = one_line(capsys, main(["deploy"]))
    assert line.startswith("workbench: argument command: invalid choice: 'deploy' (choose from ") and line.endswith(
        " — see 'workbench --help'")
    line = one_line(capsys, main(["promote", project.good(), "--alias", "staging"]))
    assert line == "workbench promote: the following arguments are required: --name — see 'workbench promote --help'"


@pytest.mark.parametrize(("argv", "expected"), [
    (["lst"], "— did you mean 'list'? — see 'workbench --help'"),
    (["cache", "clar"], "— did you mean 'clear'? — see 'workbench cache --help'"),
    (["gate", "promo", "--metric", "token_f1", "--mn", "0.3"],
     "workbench gate: unknown option '--mn' — did you mean '--min'? — see 'workbench gate --help'"),
    (["gate", "promo", "--metrc", "token_f1", "--min", "0.3"],  # argparse blamed the --metric it missed
     "workbench gate: unknown option '--metrc' — did you mean '--metric'? — see 'workbench gate --help'"),
    (["--tracking-uri", "sqlite:///x.db", "cache", "clear", "--olderthan=3d"],
     "workbench cache clear: unknown option '--olderthan' — did you mean '--older-than'? — see 'workbench cache clear --help'"),
    (["run", "e.yaml", "--bogus"], "workbench run: unknown option '--bogus' — see 'workbench run --help'"),
    (["list", "promo", "extra"], "workbench list: unrecognized arguments: extra — see 'workbench list --help'"),
])
def test_a_mistyped_command_or_option_names_the_one_meant_and_its_commands_help(
        argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    # `workbench gate EXP --mn 0.3` said "workbench: unrecognized arguments: --mn 0.3 — see 'workbench --help'", and
    # `--metrc` that --metric was missing; `workbench lst` listed every command without saying which was meant
    line = one_line(capsys, main(argv))
    assert line.endswith(expected), line


def test_a_mistyped_option_leaves_an_abbreviation_and_a_negative_number_alone(capsys: pytest.CaptureFixture[str]) -> None:
    # argparse takes a unique abbreviation (--la for --last) and a negative value; only the real mistake is named
    line = one_line(capsys, main(["gate", "promo", "--metric", "token_f1", "--min", "-0.5", "--bas", "x", "--bogus"]))
    assert line == "workbench gate: unknown option '--bogus' — see 'workbench gate --help'"
    line = one_line(capsys, main(["list", "promo", "--la", "x"]))
    assert line == "workbench list: argument --last: 'x' is not a whole number — see 'workbench list --help'"


def test_gate_help_says_baseline_is_off_unless_given(capsys: pytest.CaptureFixture[str]) -> None:
    # gate compares with --baseline only when it is given ("gate needs --min, --max or --baseline"): its help said
    # "default: the first variant", as compare's does
    def help_of(command: str) -> str:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        return " ".join(capsys.readouterr().out.split())

    assert ("--baseline BASELINE fail the variants worse than this one by a paired interval: variant id, name or run id "
            "(a run of another sweep works too); default: none") in help_of("gate")
    assert "--baseline BASELINE variant id, name or run id (a run of another sweep works too); default: the first variant" in help_of("compare")


def test_debug_adds_the_traceback(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--debug", "--tracking-uri", project.uri, "rollback", "nobody"], ["--tracking-uri", project.uri, "rollback", "nobody", "--debug"]):
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert err.startswith("Traceback (most recent call last):") and "PromotionError" in err
        assert err.splitlines()[-1] == f"error: 'nobody' has no 'production' alias in {project.uri} — nothing to roll back"


def test_a_password_in_the_store_uri_is_never_printed(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    line = one_line(capsys, main(["--tracking-uri", f"http://alice:hunter2-secret@127.0.0.1:{port}", "compare", "promo"]))
    assert line == (f"tracking store http://alice:***@127.0.0.1:{port}: unreachable ([Errno 111] Connection refused) — start the "
                    "server (workbench server), or point --tracking-uri or MLFLOW_TRACKING_URI at your store")


@pytest.mark.parametrize("command", ["ui", "server"])
def test_a_password_in_the_store_uri_is_neither_printed_nor_on_the_mlflow_command_line(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``ps`` shows every user a process's command line: the store's password reaches mlflow through its environment."""

    store = "postgresql://alice:hunter2-secret@db.example.com:5432/mlflow"
    execs: list[tuple[list[str], dict[str, str]]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    monkeypatch.setattr("workbench.cli._servers._supervise", lambda cmd, env: execs.append((list(cmd), dict(env))) or 0)
    monkeypatch.setattr("workbench.cli._servers.check_store", lambda uri, must_exist: None)  # db.example.com is not there
    port = ["--port", str(free_port())]  # `ui` and `server` refuse a port in use
    argv = ["--tracking-uri", store, "ui", *port] if command == "ui" else ["server", "--backend-store-uri", store, *port]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "hunter2-secret" not in out and "alice:***@db.example.com" in out, out
    [(mlflow_argv, env)] = execs
    assert mlflow_argv[1:4] == ["-m", "mlflow", command] and not any("hunter2-secret" in a for a in mlflow_argv), mlflow_argv
    assert env["MLFLOW_BACKEND_STORE_URI"] == store


@pytest.mark.parametrize(("command", "given", "expected"), [("ui", None, "false"), ("ui", "true", "true"), ("server", None, None)])
def test_the_ui_starts_without_mlflows_job_runner_unless_asked(
        command: str, given: str | None, expected: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's job runner is 8 more processes (1.3 GB, 25 s of CPU at start): ``workbench ui``, a viewer, starts without
    it unless MLFLOW_SERVER_ENABLE_JOB_EXECUTION is set; a team's ``workbench server`` keeps MLflow's default."""

    execs: list[dict[str, str]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    if given is None:
        monkeypatch.delenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", given)
    monkeypatch.setattr("workbench.cli._servers._supervise", lambda cmd, env: execs.append(dict(env)) or 0)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    port = ["--port", str(free_port())]
    argv = ["--tracking-uri", store, "ui", *port] if command == "ui" else ["server", "--backend-store-uri", store, *port]
    assert main(argv) == 0
    assert execs[-1].get("MLFLOW_SERVER_ENABLE_JOB_EXECUTION") == expected


def test_server_serves_the_store_its_tracking_uri_names(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``workbench --tracking-uri sqlite:///team.db server`` (as ``ui`` takes it) served, and created, the project's
    own mlruns/mlflow.db instead: the team's runs went to another store, silently."""

    execs: list[dict[str, str]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_BACKEND_STORE_URI", raising=False)
    monkeypatch.setattr("workbench.cli._servers._supervise", lambda cmd, env: execs.append(dict(env)) or 0)
    team = f"sqlite:///{tmp_path / 'team.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mine' / 'mlflow.db'}")  # not the server's store
    assert main(["--tracking-uri", team, "server", "--port", str(free_port())]) == 0
    assert execs[-1]["MLFLOW_BACKEND_STORE_URI"] == team
    # its artifacts beside it, as those of sweeps logged straight into team.db
    assert f"MLflow server on {team}, artifacts in {tmp_path / 'artifacts'}." in capsys.readouterr().out
    assert not (tmp_path / "mlruns" / "mlflow.db").exists() and not (tmp_path / "mine").exists()
    line = one_line(capsys, main(["--tracking-uri", team, "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'other.db'}"]))
    assert line == (f"--tracking-uri {team} and --backend-store-uri sqlite:///{tmp_path / 'other.db'} name two stores — "
                    "give the server's store once, with --backend-store-uri")
    line = one_line(capsys, main(["--tracking-uri", "http://127.0.0.1:5000", "server"]))
    assert line == ("--tracking-uri http://127.0.0.1:5000 is a tracking server, not a store another server can keep its runs "
                    "in — give a database with --backend-store-uri, e.g. postgresql://user@host:5432/mlflow or sqlite:///mlflow.db")
    assert len(execs) == 1


def test_gate_help_names_every_way_a_variant_fails_the_gate(capsys: pytest.CaptureFixture[str]) -> None:
    """``workbench --help`` said gate exits 1 on a mean below --min, above --max or worse than --baseline only: a CI
    author did not expect a FAILED or skipped variant, or one with questions that failed, to fail it, as it does."""
    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "or FAILED, never logged, or has questions that failed, or was stopped early by racing" in text


def test_server_help_does_not_say_it_serves_mlflow_tracking_uri(capsys: pytest.CaptureFixture[str]) -> None:
    """``workbench server --help`` said --tracking-uri defaults to $MLFLOW_TRACKING_URI, which the server never reads
    (on a server machine it is often the server's own address): a reader set it and served another store."""
    with pytest.raises(SystemExit):
        main(["server", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default: $MLFLOW_TRACKING_URI" not in text
    assert "$MLFLOW_TRACKING_URI is not read" in text


@pytest.mark.parametrize("given", [[], ["--", "--allowed-hosts", "mlflow.example.internal:5000"]])
def test_a_server_for_other_machines_answers_the_address_it_prints(
        given: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """``--host 0.0.0.0`` printed ``MLFLOW_TRACKING_URI=http://localhost:5000`` where /etc/hosts maps the machine's name
    to 127.0.0.1, and MLflow refused every request addressed to the machine's name ("Invalid Host header", 403)."""
    import socket

    execs: list[list[str]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_SERVER_ALLOWED_HOSTS", raising=False)
    monkeypatch.setattr("workbench.cli._servers._supervise", lambda cmd, env: execs.append(list(cmd)) or 0)
    monkeypatch.setattr(socket, "getfqdn", lambda *a: "localhost")
    monkeypatch.setattr(socket, "gethostname", lambda: "gpu-box-3")
    port = free_port()
    assert main(["server", "--host", "0.0.0.0", "--port", str(port), *given]) == 0
    assert f"MLFLOW_TRACKING_URI=http://gpu-box-3:{port}" in capsys.readouterr().out
    [argv] = execs
    allowed = [argv[i + 1] for i, a in enumerate(argv) if a == "--allowed-hosts"]
    if given:
        assert allowed == ["mlflow.example.internal:5000"]  # the user's own list, alone
    else:
        [hosts] = allowed
        assert {f"gpu-box-3:{port}", "localhost:*", "127.0.0.1:*", "10.*"} <= set(hosts.split(",")), hosts


@pytest.mark.parametrize("argv", [["--tracking-uri", "", "list"], ["run", "e.yaml", "--tracking-uri", " "],
                                  ["gate", "promo", "--metric", "token_f1", "--min", "0.3", "--tracking-uri="],
                                  ["server", "--backend-store-uri", ""]])
def test_an_empty_store_uri_is_refused_not_read_as_no_option(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """``workbench run --tracking-uri "$TEAM_URL"`` with the variable unset in CI logged the sweep to a store in the
    runner's folder, lost with it, and ``server --backend-store-uri ""`` served the project's own store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    monkeypatch.setattr("workbench.cli._servers._supervise", lambda cmd, env: pytest.fail("mlflow started"))
    line = one_line(capsys, main(argv))
    assert "-uri: is empty (an unset variable?) — give the store's URI, or leave the option out — see 'workbench" in line, line
    assert list(tmp_path.iterdir()) == []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("command", ["ui", "server"])
def test_ui_and_server_on_a_port_in_use_is_one_line_and_starts_nothing(
        command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow printed "Address already in use" among its startup lines and exited 0, after workbench had printed the
    address to browse, where the other server (an earlier `workbench ui`) answered."""
    execs: list[list[str]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    monkeypatch.setattr("workbench.cli._servers._supervise", lambda cmd, env: execs.append(list(cmd)) or 0)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = one_line(capsys, main([command, "--port", str(port)]))
    assert line == f"--port {port}: 127.0.0.1:{port} is in use (an MLflow UI or server already running?) — stop it, or pass another --port"
    line = one_line(capsys, main([command, "--host", "no-such-host.invalid", "--port", str(port)]))
    assert line.startswith("--host no-such-host.invalid: not an address of this machine (")
    assert execs == [] and not (tmp_path / "mlruns").exists()


def test_ui_over_a_tracking_server_says_to_browse_it(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # with MLFLOW_TRACKING_URI pointing at the team server (README, Scaling out), `mlflow ui` ended in a traceback

    execs: list[list[str]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://alice:hunter2-secret@mlflow.example.internal:5000")
    monkeypatch.setattr("workbench.cli._servers._supervise", lambda cmd, env: execs.append(list(cmd)) or 0)
    line = one_line(capsys, main(["ui"]))
    assert line == ("http://alice:***@mlflow.example.internal:5000 is a tracking server, which is its own UI — browse it; "
                    "workbench ui serves a store on disk or in a database (--tracking-uri sqlite:///...)")
    assert execs == [] and not (tmp_path / "mlruns").exists()


@pytest.mark.parametrize("scheme, problem", [
    ("postgresql", "the database refused the connection (connection failed: connection to server at \"127.0.0.1\", port {port} "
                   "failed: Connection refused) — check the host, port, user, password and database name in the URI, and that "
                   "the server is running"),
    ("postgres", "MLflow knows no 'postgres://' store — write postgresql://..."),
    ("postgresql+nosuchdriver", "SQLAlchemy cannot open it (Can't load plugin: sqlalchemy.dialects:postgresql.nosuchdriver) — check "
                                "the scheme and driver, e.g. postgresql:// or postgresql+psycopg://"),
])
def test_a_database_store_that_refuses_is_one_line_before_the_server_starts(
        scheme: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow retried a refused login for 2 minutes, a warning per try, then a traceback (one quoting the password for
    postgres://): the store is tried once, before mlflow starts."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    execs: list[list[str]] = []
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    monkeypatch.setattr("workbench.cli._servers._supervise", lambda cmd, env: execs.append(list(cmd)) or 0)
    store = f"{scheme}://alice:hunter2-secret@127.0.0.1:{port}/mlflow"
    line = one_line(capsys, main(["server", "--backend-store-uri", store]))
    assert line == f"tracking store {scheme}://alice:***@127.0.0.1:{port}/mlflow: {problem.format(port=port)}"
    assert execs == []


@pytest.mark.parametrize("password", ["hunter2@secret", "hunter2:se@cret/x", "hunter2:secret/x#y%z"])
def test_a_password_written_without_percent_encoding_is_never_printed(
        password: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """An '@' in the password ended the masking early (``alice:***@secret@host``), and the driver quoted the rest of
    it as a host name it could not resolve, or SQLAlchemy a piece of it as the port."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WORKBENCH_ROOT", str(tmp_path))
    line = one_line(capsys, main(["--tracking-uri", f"postgresql://alice:{password}@127.0.0.1:1/mlflow", "list"]))
    assert line.startswith("tracking store postgresql://alice:***@127.0.0.1:1/mlflow: "), line
    assert not any(piece in line for piece in ("secret", "hunter2", "cret", "'x'", "'y'")), line
    assert "percent-encoded" in line or "refused the connection" in line, line


def test_the_installed_command_prints_one_line(project: Project) -> None:
    """The console script, as a user runs it: same line, same exit code, nothing on stdout."""
    import sys

    proc = subprocess.run([sys.executable, "-m", "workbench.cli", "--tracking-uri", project.uri, "rollback", "nobody"],
                          capture_output=True, text=True, timeout=120, cwd=project.tmp)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"error: 'nobody' has no 'production' alias in {project.uri} — nothing to roll back\n"


def test_list_names_each_variant_run_id_that_promote_takes(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    """``promote RUN_ID`` and ``calibrate RUN_ID`` send the lead to ``workbench list EXPERIMENT`` for a variant's run id."""
    assert cli(project, "list", "promo") == 0
    lines = capsys.readouterr().out.splitlines()
    for variant in project.swept.result.variants:
        assert [line for line in lines if f"run={variant.run_id}" in line and variant.variant.name in line], (variant, lines)


def test_list_and_gate_show_terminal_escapes_in_run_names_as_text(shared: Swept, capsys: pytest.CaptureFixture[str]) -> None:
    """Run names are the store's: anyone on a shared server can rename a run in the MLflow UI, and ``workbench list``
    and ``workbench gate`` sent the name's escapes to the terminal of whoever ran them (clear the screen, write the
    clipboard)."""
    client, run_id = MlflowClient(shared.settings.tracking_uri), shared.run_id("good")
    name = client.get_run(run_id).info.run_name
    client.set_tag(run_id, "mlflow.runName", "good\x1b[2J\x1b]52;c;ZWNobyBwd25lZA==\x07")
    try:
        assert main(["--tracking-uri", shared.settings.tracking_uri, "list", "promo"]) == 0
        assert main(["--tracking-uri", shared.settings.tracking_uri, "gate", "promo", "--metric", "token_f1", "--min", "2"]) == 1
    finally:
        client.set_tag(run_id, "mlflow.runName", name)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out, out
    assert len([line for line in out.splitlines() if "good\\x1b[2J\\x1b]52;c;ZWNobyBwd25lZA==\\x07" in line]) == 2, out


def test_compare_shows_terminal_escapes_in_the_experiment_name_as_text(shared: Swept, capsys: pytest.CaptureFixture[str]) -> None:
    """``workbench compare SWEEP_RUN_ID`` names the experiment as the store has it: anyone on a shared server can rename
    it in the MLflow UI, and its escapes went to the terminal of whoever compared."""
    client = MlflowClient(shared.settings.tracking_uri)
    experiment_id = client.get_experiment_by_name("promo").experiment_id
    client.rename_experiment(experiment_id, "promo\x1b]52;c;ZWNobyBwd25lZA==\x07")
    try:
        assert main(["--tracking-uri", shared.settings.tracking_uri, "compare", str(shared.result.parent_run_id), "--metric", "token_f1"]) == 0
    finally:
        client.rename_experiment(experiment_id, "promo")
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"Experiment 'promo\\x1b]52;c;ZWNobyBwd25lZA==\\x07', sweep {shared.result.parent_run_id} by ")


def test_a_run_id_pasted_with_spaces_around_it_is_found(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    """Copied from the MLflow UI or a log with a space or newline: "no variant ' 1a2b '" sent the lead looking."""
    good = project.good()
    assert cli(project, "compare", "promo", "--baseline", f" {good}\n", "--sweep", f"{project.parent()} ") == 0
    assert f"Baseline: {project.name(good)}" in capsys.readouterr().out


def test_a_closed_stdout_ends_quietly(project: Project) -> None:
    """``workbench list promo | head -1``: the reader is gone before the output is flushed — no error, exit 141."""
    import os
    import sys

    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run([sys.executable, "-m", "workbench.cli", "--tracking-uri", project.uri, "list", "promo"],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120, cwd=project.tmp)
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (141, "")


def test_a_closed_stdout_during_output_ends_quietly(project: Project, capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The reader goes away while a command is still printing (unbuffered output): the same quiet exit 141."""
    import os
    import sys

    read, write = os.pipe()
    os.close(read)
    with open(write, "w", buffering=1) as closed, monkeypatch.context() as mp:  # line buffered: the first print meets the pipe
        mp.setattr(sys, "stdout", closed)
        assert cli(project, "list", "promo") == 141
    assert capsys.readouterr().err == ""


def test_a_secret_in_an_error_line_is_redacted(project: Project, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-test-" + "Zq8vN3kL0pW7xR2mT5yB9cD4"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    line = one_line(capsys, cli(project, "rollback", f"team-{key}"))  # a user pasted the key where a name goes
    import re

    assert key not in line
    assert re.fullmatch(rf"'team-\[REDACTED[^\]]*\]' has no 'production' alias in {re.escape(project.uri)} — nothing to roll back", line), line


def test_tracking_uri_after_the_command(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    # the notebooks and hints write `workbench ui --tracking-uri URI`, as they would write --debug
    line = one_line(capsys, main(["rollback", "nobody", "--tracking-uri", project.uri]))
    assert line == f"'nobody' has no 'production' alias in {project.uri} — nothing to roll back"
    parsed = build_parser().parse_args(["ui", "--tracking-uri", project.uri, "--port", "5001"])
    assert (parsed.tracking_uri, parsed.port) == (project.uri, 5001)
    assert build_parser().parse_args(["--tracking-uri", project.uri, "ui"]).tracking_uri == project.uri


def test_a_gate_that_passes_with_stdout_closed_exits_0(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """``workbench gate ... >&-`` (a CI step or daemon with no stdout): Python starts with ``sys.stdout`` None; flushing it
    was an internal error, exit 1 — a passed gate read as a failed one."""
    import sys

    monkeypatch.setattr(sys, "stdout", None)
    assert cli(project, "gate", "promo", "--metric", "token_f1", "--min", "0") == 0


def test_errors_with_stderr_closed_do_not_land_on_stdout(project: Project, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``workbench schema > schema.json 2>&-``: ``print(file=None)`` writes to stdout, so an error line went into the output
    file, and ``run`` ended in an internal error on ``sys.stderr.isatty()``."""
    import sys

    monkeypatch.setattr(sys, "stderr", None)
    assert cli(project, "rollback", "nobody") == 2
    (project.tmp / "bad.yaml").write_text("name: bad\n")  # read, then refused: progress is decided before that
    assert cli(project, "run", str(project.tmp / "bad.yaml")) == 2
    assert capsys.readouterr().out == ""


def test_output_the_terminal_cannot_encode_is_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A terminal or log in ASCII or Latin-1 (``PYTHONIOENCODING=ascii``, a non-UTF-8 locale): printing an em dash or a
    variant's accented name ended the command in an internal error (exit 1), after a sweep's work was done."""
    import io
    import sys

    ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", ascii_out)
    assert main(["--tracking-uri", f"sqlite:///{tmp_path / 'none.db'}", "list"]) == 0  # "... does not exist — run a sweep first"
    assert "does not exist \\u2014 run a sweep first" in ascii_out.buffer.getvalue().decode("ascii")


def test_main_called_in_process_puts_the_streams_error_handling_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``main`` called from a notebook or a test escapes what the stream cannot encode while it runs: it left stdout and
    stderr escaping for the rest of the process, so the caller's own unencodable output no longer raised."""
    import io
    import sys

    out, err = io.TextIOWrapper(io.BytesIO(), encoding="ascii"), io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="replace")
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["--tracking-uri", f"sqlite:///{tmp_path / 'none.db'}", "list"]) == 0
    assert main(["no-such-command"]) == 2
    assert (out.errors, err.errors) == ("strict", "replace")
