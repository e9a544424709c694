"""Human feedback on answers: thumbs up/down and a comment, logged to MLflow as a HUMAN feedback assessment.

The assessment sits on the question's trace (tags ``workbench.case_id``, ``workbench.variant_id``; linked to the
variant's run), so MLflow's trace and evaluation views show it beside the automatic scores. Feedback is read back from
the trace, the most recent verdict winning.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from workbench.errors import WorkbenchError
from workbench.tracking._engines import store_released
from workbench.tracking._redact import redacting
from workbench.tracking._unreachable import shown_uri

HUMAN_FEEDBACK = "human_rating"  # assessment name: True = thumbs up, False = thumbs down


@dataclass(frozen=True)
class HumanFeedback:
    """A person's verdict on one answer.

    Attributes:
        trace_id: the question's trace.
        thumbs_up: True for thumbs up, False for thumbs down.
        comment: free text (empty when none was given).
        user: who gave it (the assessment's source id).
        created_ms: when, in epoch milliseconds.
    """

    trace_id: str
    thumbs_up: bool
    comment: str
    user: str
    created_ms: int


def default_user() -> str:
    """The name feedback is recorded under: ``$WORKBENCH_USER``, else the login name."""
    try:
        return os.environ.get("WORKBENCH_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def latest_human_feedback(trace_id: str, assessments: Iterable[Any]) -> HumanFeedback | None:
    """The most recent valid human thumbs verdict among a trace's assessments (pure: reads MLflow entities only)."""
    found: HumanFeedback | None = None
    for a in assessments:
        source = getattr(a, "source", None)
        if a.name != HUMAN_FEEDBACK or source is None or str(source.source_type) != "HUMAN" or a.valid is False:
            continue
        value = getattr(a, "value", None)
        if not isinstance(value, bool):
            continue
        item = HumanFeedback(trace_id, value, a.rationale or "", source.source_id or "", int(a.create_time_ms or 0))
        if found is None or item.created_ms >= found.created_ms:
            found = item
    return found


def _own_verdict(assessments: Iterable[Any], user: str) -> str | None:
    """The id of ``user``'s valid human verdict on a trace, which their new one replaces (None when they gave none)."""
    mine = [a for a in assessments if a.name == HUMAN_FEEDBACK and a.valid is not False and getattr(a, "source", None) is not None
            and str(a.source.source_type) == "HUMAN" and a.source.source_id == user]
    return max(mine, key=lambda a: int(a.create_time_ms or 0)).assessment_id if mine else None


def _tracking_uri(tracking_uri: str | None) -> str:
    from workbench.config import settings

    return tracking_uri or settings().tracking_uri


def log_human_feedback(
    trace_id: str,
    *,
    thumbs_up: bool,
    comment: str = "",
    user: str | None = None,
    run_id: str | None = None,
    tracking_uri: str | None = None,
) -> HumanFeedback:
    """Record a thumbs up/down and a comment on a question's trace (``mlflow.log_feedback`` with a HUMAN source).

    Args:
        trace_id: the question's trace (see ``load_question_reviews``).
        thumbs_up: True for a good answer, False for a bad one.
        comment: why (stored as the assessment's rationale).
        user: who gives it (default ``default_user()``).
        run_id: the variant run, recorded in the assessment's metadata (MLflow's evaluation view groups by it).
        tracking_uri: the MLflow store (default: the project's).

    Raises:
        WorkbenchError: the trace does not exist in that store.
    """
    from mlflow.entities import AssessmentSource, Feedback
    from mlflow.exceptions import MlflowException
    from mlflow.tracing.client import TracingClient
    from mlflow.tracing.constant import AssessmentMetadataKey

    uri = _tracking_uri(tracking_uri)
    who = user or default_user()
    client = redacting(TracingClient(uri))  # the comment is free text: a pasted key is redacted
    # the store let go of once written: feedback given in one project after another kept each project's store open
    with store_released(uri):
        try:
            info = client.get_trace_info(trace_id)
            feedback = Feedback(
                name=HUMAN_FEEDBACK,
                value=bool(thumbs_up),
                rationale=comment.strip() or None,
                source=AssessmentSource(source_type="HUMAN", source_id=who),
                metadata={AssessmentMetadataKey.SOURCE_RUN_ID: run_id} if run_id else None,
                overrides=_own_verdict(info.assessments or [], who),  # a user changing their mind is one verdict, not two
            )
            logged = client.log_assessment(trace_id, feedback)
        except MlflowException as exc:
            raise WorkbenchError(f"trace {trace_id}: cannot record feedback in {shown_uri(uri)} ({exc.message.splitlines()[0]}) — is it the sweep's store?") from None
    return HumanFeedback(trace_id, bool(thumbs_up), comment.strip(), who, int(logged.create_time_ms or 0))


def load_human_feedback(trace_id: str, *, tracking_uri: str | None = None) -> HumanFeedback | None:
    """The latest human thumbs verdict on a trace, or None when nobody gave one."""
    from mlflow.tracing.client import TracingClient

    uri = _tracking_uri(tracking_uri)
    with store_released(uri):
        info = TracingClient(uri).get_trace_info(trace_id)
    return latest_human_feedback(trace_id, info.assessments or [])
