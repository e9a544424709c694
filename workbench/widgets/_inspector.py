"""QuestionInspector: one question at a time, every variant's retrieved chunks, answer and scores, and a thumbs
up/down with a comment that is logged to MLflow as a human assessment on the question's trace."""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as w

import workbench as wb
from workbench.datasets import is_relevant
from workbench.results import EarlyStop
from workbench.scoring import find_instructions
from workbench.tracking import HumanFeedback, QuestionReview, QuestionReviews, VariantAnswer, evaluation_url, log_human_feedback, trace_url, ui_url
from workbench.widgets._common import STYLE, error_html, esc, esc_cut, fmt, not_a_sweep

_UP, _DOWN = "good", "bad"
_EMPTY = "<i>(empty answer)</i>"
_FAILED = "<i>(no answer: the model call failed)</i>"
_RETRIEVAL_ONLY = "<i>(retrieval only: no answer is generated — rate the retrieved chunks)</i>"


def _injection_badge(text: str) -> str:
    """A red badge on a retrieved chunk that carries instruction-like text (a possible prompt injection), with the
    matched spans: the same detector the ``context_injection`` scorer uses."""
    spans = find_instructions(text)
    if not spans:
        return ""
    shown = " · ".join(f"“{esc(span)}”" for span in spans[:3]) + (f" · {len(spans) - 3} more" if len(spans) > 3 else "")
    return (f" <span class='wb-error wb-injection' title='{esc(' | '.join(spans))}'><b>⚠ instruction-like text</b></span>"
            f"<div class='wb-error wb-injection-span' style='font-size:11px'>{shown}</div>")


@dataclass(frozen=True)
class _Ended:
    """How a variant of the sweep ended, as the inspector says it: read from its ``VariantResult``, or from its run in
    the store when the inspector was opened by run id (the ``workbench.racing.*`` and ``workbench.error`` tags)."""

    name: str
    status: str
    answered: int
    error: str | None = None
    stopped_early: EarlyStop | None = None

    @property
    def partial(self) -> bool:
        """It answered some questions but was stopped by racing or did not finish."""
        return self.answered > 0 and (self.stopped_early is not None or self.status != "FINISHED")

    def why_partial(self) -> str:
        """Why it did not answer the sweep's other questions."""
        if self.stopped_early is not None:
            return f"racing stopped it {self.stopped_early.label}"
        if self.status == "RUNNING":  # opened by run id while the sweep runs
            return f"it had answered {self.answered} questions when the inspector read the sweep, which was still running"
        error = f": {self.error}" if self.error else ""
        return f"it ended {self.status} after {self.answered} questions{error}"


def _ended_in_result(sweep: wb.SweepResult) -> tuple[_Ended, ...]:
    return tuple(_Ended(v.variant.name, v.status, len(v.records), v.outcome.error, v.stopped_early) for v in sweep.variants)


# a variant run's MLflow status in the words of its VariantResult: Stop ends a variant STOPPED, logged as KILLED
_RESULT_STATUS = {"KILLED": "STOPPED"}


def _ended_in_store(reviews: QuestionReviews) -> tuple[_Ended, ...]:
    return tuple(_Ended(run.name, _RESULT_STATUS.get(run.status, run.status), reviews.answered.get(run.run_id, 0), run.error, run.stopped_early)
                 for run in reviews.variants)


def _feedback_text(feedback: HumanFeedback | None) -> str:
    if feedback is None:
        return "<span class='wb-muted'>no feedback yet</span>"
    verdict = "thumbs up" if feedback.thumbs_up else "thumbs down"
    comment = f": “{esc(feedback.comment)}”" if feedback.comment else ""
    return f"<span class='wb-ok'>saved {verdict} by {esc(feedback.user)}{comment}</span>"


class _AnswerCard(w.VBox):
    """One variant's answer to the current question, with the feedback controls."""

    def __init__(self, inspector: QuestionInspector) -> None:
        self._inspector = inspector
        self.answer: VariantAnswer | None = None
        self.body = w.HTML()
        self.thumbs = w.ToggleButtons(options=[_UP, _DOWN], value=None, icons=["thumbs-up", "thumbs-down"], style={"button_width": "80px"})
        self.thumbs.add_class("wb-thumbs")
        self.comment = w.Text(placeholder="comment (optional)", layout=w.Layout(width="420px"))
        self.comment.add_class("wb-comment")
        self.save = w.Button(description="Save feedback", icon="comment")
        self.save.add_class("wb-feedback-button")
        self.status = w.HTML()
        self.status.add_class("wb-feedback-status")
        self.save.on_click(lambda _b: self._save())
        super().__init__([self.body, w.HBox([self.thumbs, self.comment, self.save]), self.status],
                         layout=w.Layout(border="1px solid #ddd", padding="4px 8px", margin="4px 0"))
        self.add_class("wb-answer-card")

    def show(self, question: QuestionReview, answer: VariantAnswer, feedback: HumanFeedback | None) -> None:
        self.answer = answer
        link = (
            f" <a href='{esc(evaluation_url(answer.experiment_id, answer.run_id, base=self._inspector.ui))}' target='_blank' rel='noopener'>run</a>"
            f" · <a href='{esc(trace_url(answer.experiment_id, answer.trace_id, base=self._inspector.ui))}' target='_blank' rel='noopener'>trace in MLflow</a>"
        )
        scores = " ".join(
            f"<span title='{esc(s.explanation or s.error or '')}'>{esc(name)} <b>{esc(fmt(s.value) if s.error is None else 'error')}</b></span> ·"
            for name, s in answer.scores.items()
        ).rstrip(" ·")
        limit = self._inspector.max_chunk_chars
        chunks = "".join(
            f"<div class='wb-chunk{' relevant' if relevant else ''}'><b>{esc(c.source_id)}</b> "
            f"<span class='wb-muted'>score {esc(fmt(c.score))}{' · labelled source' if relevant else ''}</span>"
            f"{_injection_badge(c.text)}"
            f"<div dir='auto'>{esc(c.text[:limit])}{'…' if len(c.text) > limit else ''}</div></div>"
            for c, relevant in ((c, is_relevant(c.source_id, question.relevant_ids)) for c in answer.chunks)
        )
        flagged = sum(1 for c in answer.chunks if find_instructions(c.text))
        warning = f" · <span class='wb-error'>⚠ {flagged} with instruction-like text</span>" if flagged else ""
        error = f"<div>{error_html(answer.error)}</div>" if answer.error else ""
        routed = ""
        if answer.answered_by:  # a router variant: whose answer this is, and why it went to the strong model
            why = f" — escalated: {esc(answer.escalation)}" if answer.escalation else " — not escalated"
            routed = f"<div class='wb-muted wb-routed'>answered by <b>{esc(answer.answered_by)}</b>{why}</div>"
        # an answer that failed is no empty answer (a model that said nothing): the error under it says why
        missing = _RETRIEVAL_ONLY if not answer.generated else (_FAILED if answer.error else _EMPTY)
        self.body.value = (
            f"<div><b>{esc(answer.variant)}</b>{link}</div>{routed}"
            f"<div class='wb-answer' dir='auto'>{esc(answer.answer) or missing}</div>{error}"
            f"<div style='font-size:12px;margin:3px 0'>{scores}</div>"
            f"<details><summary>{len(answer.chunks)} retrieved chunks{warning}</summary>{chunks}</details>"
        )
        self.thumbs.value = None if feedback is None else (_UP if feedback.thumbs_up else _DOWN)
        self.comment.value = feedback.comment if feedback is not None else ""
        self.status.value = _feedback_text(feedback)

    def _save(self) -> None:
        if self.answer is None:
            return
        if self.thumbs.value is None:
            self.status.value = error_html("choose good or bad first")
            return
        try:
            self._inspector.rate(self.answer.variant, self.thumbs.value == _UP, self.comment.value)
        except wb.WorkbenchError as exc:
            self.status.value = error_html(str(exc))


class QuestionInspector(w.VBox):
    """Review a logged sweep one question at a time and give feedback on each variant's answer.

    Everything is read from MLflow (the question's traces), so the inspector also opens sweeps from earlier
    sessions, with the feedback given then. A question that a variant racing stopped (or one that ended before the
    last question) did not answer says so, and why, under the question, and a variant that answered none is named under
    the title: read from the ``SweepResult``, or from the variant runs when opened by run id.

    Args:
        sweep: a ``SweepResult`` or a sweep's parent run id.
        tracking_uri: the MLflow store (default: the result's, else the project's).
        user: the name feedback is recorded under (default: ``$WORKBENCH_USER`` or the login name).
        max_chunk_chars: retrieved chunks are cut to this many characters for display.
    """

    def __init__(self, sweep: wb.SweepResult | str, *, tracking_uri: str | None = None, user: str | None = None, max_chunk_chars: int = 600) -> None:
        if isinstance(sweep, wb.SweepResult):
            if sweep.parent_run_id is None or (sweep.tracking_uri or "").startswith("memory:"):  # MemoryTracker: no traces
                raise wb.WorkbenchError("this sweep was not logged to MLflow — run it with the default tracker to inspect it")
            parent, uri = sweep.parent_run_id, tracking_uri or sweep.tracking_uri
        elif isinstance(sweep, str):
            parent, uri = sweep.strip(), tracking_uri  # pasted from the MLflow UI with a space or newline around it
        else:
            raise not_a_sweep("QuestionInspector", sweep)
        self.parent_run_id = parent
        self.tracking_uri = uri
        self.ui = ui_url(uri)  # where the links of its answers go: the MLflow UI of the store they were logged to
        self.user = user
        self.max_chunk_chars = max_chunk_chars
        self.reviews = QuestionReviews(parent, tracking_uri=uri)  # each question read from MLflow when it is shown
        # opened by run id, how each variant ended is read from its run (the reviews list them): a racing stop was
        # explained only when the inspector was opened on the SweepResult
        ended = _ended_in_result(sweep) if isinstance(sweep, wb.SweepResult) else _ended_in_store(self.reviews)
        # variants that answered only some questions (racing stopped them, or Stop, a limit, a crash did): on the others
        # their card was missing without a word, as if they had never been in the sweep
        self._partial = {v.name: v.why_partial() for v in ended if v.partial}
        # variants of the sweep that answered no question (failed before the first: a missing key or package) have no
        # card: named under the title, or they were missing from every question without a word
        unanswered = tuple(v for v in ended if not v.answered)
        self._feedback: dict[str, HumanFeedback] = {}
        options = [(f"{case_id} · {question[:80]}", i) for i, (case_id, question) in enumerate(zip(self.reviews.case_ids, self.reviews.questions))]
        self.question = w.Dropdown(options=options, value=0 if options else None, layout=w.Layout(width="640px"))
        self.question.add_class("wb-question-picker")
        self.prev_button = w.Button(description="◀", layout=w.Layout(width="40px"))
        self.next_button = w.Button(description="▶", layout=w.Layout(width="40px"))
        self.prev_button.on_click(lambda _b: self._step(-1))
        self.next_button.on_click(lambda _b: self._step(1))
        self.header = w.HTML()
        self.header.add_class("wb-question")
        self.cards = w.VBox()
        self.question.observe(lambda _c: self._render(), names="value")
        self.unanswered = w.HTML("".join(
            f"<div class='wb-error'>no answers from <b>{esc(v.name)}</b> ({esc(v.status)}"
            f"{': ' + esc_cut(v.error) if v.error else ''})</div>" for v in unanswered))
        self.unanswered.add_class("wb-unanswered")
        super().__init__([
            w.HTML(STYLE + f"<b>Question inspector</b> <span class='wb-muted'>{len(self.reviews)} questions</span>"),
            self.unanswered,
            w.HBox([self.prev_button, self.question, self.next_button]),
            self.header,
            self.cards,
        ])
        self.add_class("wb-inspector")
        self._render()

    @property
    def current(self) -> QuestionReview | None:
        """The question on screen."""
        return self.reviews[self.question.value] if self.question.value is not None else None

    def show(self, case_id: str) -> None:
        """Go to a question by its case id.

        Raises:
            WorkbenchError: the sweep has no question of that id (one line naming its questions).
        """
        if case_id in self.reviews.case_ids:
            self.question.value = self.reviews.case_ids.index(case_id)
            return
        ids = self.reviews.case_ids
        raise wb.WorkbenchError(f"no question '{case_id}' in this sweep — its questions: "
                                f"{', '.join(ids[:10]) or 'none'}{', …' if len(ids) > 10 else ''}")

    def _step(self, delta: int) -> None:
        if self.reviews:
            self.question.value = (self.question.value + delta) % len(self.reviews)

    def feedback(self, answer: VariantAnswer) -> HumanFeedback | None:
        """The latest feedback on an answer (given in this session, or read from MLflow)."""
        return self._feedback.get(answer.trace_id, answer.feedback)

    def rate(self, variant: str, thumbs_up: bool, comment: str = "") -> HumanFeedback:
        """Give feedback on a variant's answer to the current question (what Save feedback does).

        Args:
            variant: the variant's name, id or run id.
            thumbs_up: True for a good answer.
            comment: why.

        Raises:
            WorkbenchError: no such variant answered the question, or the store refused the feedback.
        """
        question = self.current
        if question is None:
            raise wb.WorkbenchError("this sweep has no questions to rate")
        answer = question.answer(variant)
        saved = log_human_feedback(answer.trace_id, thumbs_up=thumbs_up, comment=comment, user=self.user,
                                   run_id=answer.run_id, tracking_uri=self.tracking_uri)
        self._feedback[answer.trace_id] = saved
        for card in self.cards.children:  # only the rated card: the others keep a verdict or comment not saved yet
            if isinstance(card, _AnswerCard) and card.answer is not None and card.answer.trace_id == answer.trace_id:
                card.show(question, answer, saved)
        return saved

    def _render(self) -> None:
        q = self.current
        if q is None:
            self.header.value = "<i>no questions: the sweep logged no traces</i>"
            self.cards.children = ()
            return
        sources = ", ".join(esc(s) for s in q.relevant_ids) or "—"
        answered = {a.variant for a in q.answers}
        not_asked = "".join(f"<div class='wb-muted wb-not-asked'>no answer from <b>{esc(name)}</b> to this question: {esc(why)}</div>"
                            for name, why in self._partial.items() if name not in answered)
        self.header.value = (
            f"<div style='font-size:14px' dir='auto'><b>{esc(q.question)}</b></div>"
            f"<div class='wb-muted'>{esc(q.case_id)} · {esc(q.category)} · labelled sources: {sources}</div>"
            f"<div><span class='wb-muted'>reference:</span> <span dir='auto'>{esc(q.reference) or '—'}</span></div>"
            f"{not_asked}"
        )
        cards = list(self.cards.children)
        while len(cards) < len(q.answers):
            cards.append(_AnswerCard(self))
        cards = cards[: len(q.answers)]
        for card, answer in zip(cards, q.answers):
            card.show(q, answer, self.feedback(answer))  # type: ignore[attr-defined]
        self.cards.children = tuple(cards)
