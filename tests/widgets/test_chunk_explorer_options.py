"""``ChunkExplorer(run_options=...)`` is checked when the explorer is made: a key the explorer sets itself, or one
``wb.run`` does not take, was a ``TypeError`` shown in the widget only once Score retrieval was pressed."""

import pytest

import workbench as wb
from workbench.spec import ExperimentSpec
from workbench.widgets import ChunkExplorer

DOCS = [{"id": "leases", "text": "A lease over three years is made by deed."}]


def _experiment() -> ExperimentSpec:
    return ExperimentSpec.from_dict({"name": "law", "chunkers": [{"strategy": "recursive", "size": 200, "overlap": 20}]})


@pytest.mark.parametrize("key", ["progress", "generate", "on_event", "stop"])
def test_a_run_option_the_explorer_sets_itself_is_refused_naming_it(key: str) -> None:
    with pytest.raises(wb.WorkbenchError, match=rf"run_options: '{key}' is set by the explorer itself .* leave it out"):
        ChunkExplorer(DOCS, experiment=_experiment(), run_options={key: False})


def test_a_run_option_wb_run_does_not_take_is_refused_with_the_one_meant() -> None:
    with pytest.raises(wb.WorkbenchError, match=r"run_options: wb.run takes no 'datset' — did you mean 'dataset'\?"):
        ChunkExplorer(DOCS, experiment=_experiment(), run_options={"datset": [{"question": "q?"}]})


def test_the_options_wb_run_takes_are_kept() -> None:
    explorer = ChunkExplorer(DOCS, experiment=_experiment(), run_options={"dataset": [{"question": "q?"}], "limit": 1})
    assert explorer.score_button.disabled is False
