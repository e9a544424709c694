"""Widgets opened project after project in one kernel (a RunPanel's sweep, its Leaderboard, a QuestionInspector by
result or run id, feedback given, a sweep's questions read) let go of each project's MLflow store once they have read
it: the kernel's open files and threads stay the same however many projects it has shown."""

from __future__ import annotations

from pathlib import Path

from workbench.tracking import load_human_feedback, load_question_reviews
from workbench.widgets import Leaderboard, QuestionInspector, RunPanel

from tests.conftest import open_files_under
from tests.test_open_files import SLACK_FDS, make_spec, models, open_counts, project


def test_widgets_reading_project_after_project_leave_no_store_open(tmp_path: Path, empty_store: Path) -> None:
    # the inspector's reads (its questions, each question's traces) and feedback, given or read, kept the project's
    # store open (mlflow.db, -wal, -shm): 3 files more for each project a kernel inspected
    counts = []
    for n in range(2):
        cfg = project(tmp_path, empty_store, n)
        result = RunPanel(make_spec(), settings=cfg, models=models()).run()
        assert result.status == "FINISHED" and open_files_under(cfg.root) == [], f"run panel {n}"
        Leaderboard(result)
        assert open_files_under(cfg.root) == [], f"leaderboard {n}"
        inspector = QuestionInspector(result)
        assert len(inspector.reviews) == 2 and open_files_under(cfg.root) == [], f"inspector {n}"
        inspector.next_button.click()  # the next question's traces read
        assert inspector.current is not None and open_files_under(cfg.root) == [], f"next question {n}"
        answer = inspector.current.answers[0]
        inspector.rate(answer.variant, thumbs_up=True, comment="fine")
        assert open_files_under(cfg.root) == [], f"feedback {n}"
        assert load_human_feedback(answer.trace_id, tracking_uri=cfg.tracking_uri).thumbs_up  # type: ignore[union-attr]
        assert open_files_under(cfg.root) == [], f"feedback read {n}"
        by_id = QuestionInspector(result.parent_run_id, tracking_uri=cfg.tracking_uri)
        assert by_id.feedback(by_id.reviews[1].answers[0]) is not None and open_files_under(cfg.root) == [], f"inspector by run id {n}"
        assert len(load_question_reviews(result.parent_run_id, tracking_uri=cfg.tracking_uri)) == 2
        assert open_files_under(cfg.root) == [], f"question reviews {n}"
        counts.append(open_counts())
    assert counts[-1][0] <= counts[0][0] + SLACK_FDS and counts[-1][1] <= counts[0][1], counts
