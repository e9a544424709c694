"""Naming the baseline of ``wb.compare``: a name shortened as the report shows it, and ``models:/`` URIs (resolved against a
real registry in tests/promotion/test_cli.py)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

import workbench as wb
from workbench.errors import WorkbenchError
from workbench.tracking._registry import parse_model_uri

GRID = ["p0|gemma3-270m|recursive-800/80|k1-similarity", "p0|gemma3-270m|recursive-800/80|k3-similarity",
        "p1|gemma3-270m|recursive-800/80|k1-similarity", "p1|gemma3-270m|recursive-800/80|k3-similarity"]


def _frames() -> dict[str, pd.DataFrame]:
    ids = [f"q{i}" for i in range(6)]
    return {name: pd.DataFrame({"case_id": ids, "token_f1": [0.1 * (n + 1)] * 6}) for n, name in enumerate(GRID)}


@pytest.mark.parametrize("short", ["p1|k3-similarity", "p1\\|k3-similarity", "p1|gemma3-270m|k3-similarity"])
def test_a_baseline_named_as_the_markdown_table_shows_it(short: str) -> None:
    frames = _frames()
    shown = wb.compare(frames, metrics="token_f1").to_markdown()
    assert "`p1\\|k3-similarity`" in shown  # what a pull request's comment shows, escaped or rendered
    report = wb.compare(frames, baseline=short, metrics="token_f1")
    assert report.baseline == GRID[3]
    assert report.verdict("p0|k1-similarity", "token_f1") == "worse"  # rows are found by the short name too


def test_an_ambiguous_short_name_is_refused_listing_the_candidates() -> None:
    with pytest.raises(WorkbenchError) as err:
        wb.compare(_frames(), baseline="p1", metrics="token_f1")
    assert str(err.value) == (f"'p1' names 2 variants — give more of the name, or a run id: {GRID[2]}; {GRID[3]}")
    with pytest.raises(WorkbenchError, match=re.escape("no variant 'k3-similarity|p1' to compare")):  # parts out of order
        wb.compare(_frames(), baseline="k3-similarity|p1", metrics="token_f1")


def test_a_registered_model_baseline_needs_a_store() -> None:
    with pytest.raises(WorkbenchError, match="read from the model registry of an MLflow store.*pass tracking_uri="):
        wb.compare(_frames(), baseline="models:/docs-bot@production", metrics="token_f1")


@pytest.mark.parametrize(("uri", "parsed"), [
    ("models:/docs-bot@production", ("docs-bot", "production", None)),
    ("models:/docs-bot/3", ("docs-bot", None, "3")),
    ("models:/team/docs-bot/03", ("team/docs-bot", None, "3")),
])
def test_model_uris_name_an_alias_or_a_version(uri: str, parsed: tuple[str, str | None, str | None]) -> None:
    assert parse_model_uri(uri) == parsed


@pytest.mark.parametrize(("uri", "said"), [
    ("models:/docs-bot", "is not a registered model version"),
    ("models:/docs-bot@", "is not a registered model version"),
    ("models:/docs-bot/latest", "'latest' is not a version number"),
    ("models:/docs-bot/Production", "'Production' is not a version number"),
])
def test_other_model_uris_are_refused_in_one_line(uri: str, said: str) -> None:
    with pytest.raises(WorkbenchError, match=said):
        parse_model_uri(uri)


def test_an_alias_names_the_run_promoted_to_it_a_version_the_run_it_was_registered_from() -> None:
    from types import SimpleNamespace

    from workbench.tracking import RUN_ID_TAG, audit_tag, promoted_run_id

    # one configuration, registered from run A, promoted to production later from run B (a rerun of it)
    version = SimpleNamespace(tags={RUN_ID_TAG: "run-a", audit_tag("production"): '{"run_id": "run-b"}'}, run_id="run-a")
    assert promoted_run_id(version, "production") == "run-b"
    assert promoted_run_id(version, "staging") == "run-a" and promoted_run_id(version) == "run-a"
    damaged = SimpleNamespace(tags={audit_tag("production"): "{not json"}, run_id="run-c")  # edited by hand in the UI
    assert promoted_run_id(damaged, "production") == "run-c"
    assert promoted_run_id(SimpleNamespace(tags={}, run_id=None), "production") is None  # registered from a path
