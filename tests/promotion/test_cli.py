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


def test_errors_are_one_line_with_exit_2(swept: Swept, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert cli(swept, "rollback", "nobody", "--alias", "production") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: 'nobody' has no 'production' alias") and "\n" not in err
    assert cli(swept, "export", "nobody", "--alias", "staging", "--repo", str(tmp_path)) == 2
    assert "not a git repository" in capsys.readouterr().err
