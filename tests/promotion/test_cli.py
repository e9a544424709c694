"""``workbench promote | export | rollback``: thin wrappers that print what happened and exit non-zero when blocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.promotion.conftest import Swept, git
from workbench.cli import main


def cli(swept: Swept, *args: str) -> int:
    return main(["--tracking-uri", swept.settings.tracking_uri, *args])


def test_promote_export_rollback_from_the_command_line(swept: Swept, deploy_repo: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    gates = tmp_path / "gates.yaml"
    gates.write_text("gates:\n  - {kind: min_questions, n: 1}\n")
    assert cli(swept, "promote", swept.run_id("bad"), "--name", "assist-cli", "--alias", "staging", "--gates", str(gates)) == 0
    assert "assist-cli v1 is now 'staging'" in capsys.readouterr().out
    assert cli(swept, "promote", swept.run_id("bad"), "--name", "assist-cli", "--alias", "production", "--gates", str(gates)) == 0
    # the spec's own gates (token_f1 >= 0.5, beats the holder) pass for the good prompt
    assert cli(swept, "promote", swept.run_id("good"), "--name", "assist-cli", "--alias", "staging") == 0
    assert cli(swept, "promote", swept.run_id("good"), "--name", "assist-cli", "--alias", "production") == 0
    out = capsys.readouterr().out
    assert "v2 is now 'production' (was v1)" in out and "PASS token_f1 beats holder v1" in out

    assert cli(swept, "export", "assist-cli", "--alias", "production", "--repo", str(deploy_repo)) == 0
    assert "promote/assist-cli-production-v2" in capsys.readouterr().out
    assert "assist-cli/production/config.yaml" in git(deploy_repo, "ls-tree", "-r", "--name-only", "promote/assist-cli-production-v2")

    assert cli(swept, "rollback", "assist-cli", "--alias", "production", "--reason", "regression") == 0
    assert "rolled back to v1 (was v2)" in capsys.readouterr().out


def test_blocked_promotion_lists_every_gate_and_exits_1(swept: Swept, capsys: pytest.CaptureFixture[str]) -> None:
    # the spec's gates: the bad prompt fails token_f1 >= 0.5 and nothing else (no holder yet)
    assert cli(swept, "promote", swept.run_id("bad"), "--name", "assist-cli2", "--alias", "staging") == 1
    err = capsys.readouterr().err
    assert "FAIL token_f1 >= 0.5" in err and "PASS questions evaluated >= 5" in err and "--reason" in err
    assert cli(swept, "promote", swept.run_id("bad"), "--name", "assist-cli2", "--alias", "staging", "--reason", "demo only") == 0
    assert "OVERRIDE: demo only" in capsys.readouterr().out


def test_a_misspelt_metric_in_a_gates_file_is_refused_naming_its_line_even_with_a_reason(
        swept: Swept, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # it was a failed gate that --reason overrode: the variant was promoted on a gate nobody could have checked
    gates = tmp_path / "gates.yaml"
    gates.write_text("promotion:\n  gates:\n    - {kind: min_questions, n: 1}\n    - kind: metric\n      metric: token_f11\n      min: 0.3\n")
    run = swept.run_id("good")
    assert cli(swept, "promote", run, "--name", "assist-typo", "--alias", "staging", "--gates", str(gates), "--reason", "demo") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith(
        f"error: {gates}:5: promotion.gates[1].metric: unknown metric 'token_f11' — did you mean 'token_f1'? (run {run} logs: "), err
    gates.write_text("gates:\n  - {kind: min_questions, n: 1}\n")
    assert cli(swept, "promote", run, "--name", "assist-typo", "--alias", "staging", "--gates", str(gates)) == 0
    assert "assist-typo v1 is now 'staging'" in capsys.readouterr().out  # nothing was registered by the refused one


def test_errors_are_one_line_with_exit_2(swept: Swept, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli(swept, "rollback", "nobody", "--alias", "production") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: 'nobody' has no 'production' alias") and "\n" not in err
    assert cli(swept, "export", "nobody", "--alias", "staging", "--repo", str(tmp_path)) == 2
    assert "not a git repository" in capsys.readouterr().err


def test_compare_and_gate_against_a_registered_models_alias_or_version(swept: Swept, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import workbench as wb

    gates = tmp_path / "gates.yaml"
    gates.write_text("gates:\n  - {kind: min_questions, n: 1}\n")
    good, bad = swept.run_id("good"), swept.run_id("bad")
    assert cli(swept, "promote", bad, "--name", "assist-uri", "--alias", "staging", "--gates", str(gates)) == 0
    assert cli(swept, "promote", bad, "--name", "assist-uri", "--alias", "production", "--gates", str(gates)) == 0
    assert cli(swept, "promote", good, "--name", "assist-uri", "--alias", "staging", "--gates", str(gates)) == 0
    capsys.readouterr()
    uri = swept.settings.tracking_uri
    # the alias names the run promoted to it; a version the run it was registered from
    report = wb.compare([good], baseline="models:/assist-uri@production", metrics="token_f1", tracking_uri=uri)
    assert report.variants[0].run_id == bad and report.baseline.endswith("(assist-uri@production v1)")
    assert report.verdict(swept.result.variants[0].variant.name, "token_f1") == "better"
    assert report.row("models:/assist-uri@production", "token_f1")["variant"] == report.baseline  # read by the URI it was named by
    assert wb.compare([bad], baseline="models:/assist-uri/2", tracking_uri=uri).variants[0].run_id == good
    among = wb.compare([good, bad], baseline="models:/assist-uri/2", metrics="token_f1", tracking_uri=uri)
    assert among.variants[0].run_id == good and among.verdict("models:/assist-uri/2", "token_f1") == "baseline"
    # the production run is in the sweep compared: it is the baseline among its variants, named as it is there
    assert cli(swept, "gate", swept.result.parent_run_id or "", "--metric", "token_f1", "--baseline", "models:/assist-uri@staging",
               "--format", "json") == 1
    assert '"failures"' in capsys.readouterr().out
    # one line naming what exists, exit 2
    for ref, said in [("models:/assist-nope@production", "no registered model 'assist-nope'"),
                      ("models:/assist-uri@canary", "has no alias 'canary'"),
                      ("models:/assist-uri/9", "has no version 9 in"), ("models:/assist-uri/Production", "not a version number")]:
        assert cli(swept, "gate", swept.result.parent_run_id or "", "--metric", "token_f1", "--baseline", ref) == 2
        err = capsys.readouterr().err.strip()
        assert said in err and "\n" not in err, err
    assert cli(swept, "compare", swept.result.parent_run_id or "", "--baseline", "models:/assist-uri@canary") == 2
    err = capsys.readouterr().err
    assert "its aliases: production (v1), staging (v2)" in err
    assert cli(swept, "compare", swept.result.parent_run_id or "", "--baseline", "models:/assist-uri/9") == 2
    assert "its versions: 1, 2" in capsys.readouterr().err
