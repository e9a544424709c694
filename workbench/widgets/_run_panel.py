"""RunPanel: run a sweep in the background with a progress bar per stage, a live leaderboard and a stop button."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as w

import workbench as wb
from workbench.config import LARGE_GRID, Settings
from workbench.execution import STOP_GRACE_S
from workbench.grid import plan_grid
from workbench.models import Embedder, Generator
from workbench.results import leaderboard_frame
from workbench.runner import load_inputs
from workbench.scoring import judged_scorers
from workbench.widgets._common import STYLE, BackgroundJob, error_html, esc, frame_table, kept_texts, run_links

_COLUMNS = ("variant", "status", "questions", "question_errors", "hit_at_k", "mrr", "token_f1", "semantic_similarity", "refusal_correct",
            "latency_p50_s", "output_tokens", "cost_usd", "cache_hits", "generation_calls", "reused_from", "stopped_early", "error")
_SCORES_END = _COLUMNS.index("latency_p50_s")  # the sweep's own scorers are shown after the built-in scores


def _live_columns(columns: Sequence[str], scorers: Sequence[str]) -> list[str]:
    """The live leaderboard's columns of a sweep whose frame has ``columns`` (pure): the usual ones, with the scores of
    the experiment's other ``scorers`` (a team's own), the questions any scorer raised on, and a router's escalation rate
    after the built-in scores (a scorer of your own, or one that raised on every question, was nowhere on the panel)."""
    extra = [c for c in columns if c not in _COLUMNS and (c in scorers or c.endswith("_errors"))]
    routed = ["escalation_rate"] if "escalation_rate" in columns else []
    return [*_COLUMNS[:_SCORES_END], *extra, *routed, *_COLUMNS[_SCORES_END:]]


def _shown_scorers(spec: wb.ExperimentSpec) -> tuple[str, ...]:
    """The scorers beyond the built-in columns the live leaderboard shows (pure): the experiment's ``scorers``, or, when
    it names none, the LLM-judged ones its ``judge:`` section turns on (they were nowhere on the panel)."""
    if spec.scorers is not None:
        return tuple(spec.scorers)
    return tuple(judged_scorers()) if spec.judge is not None else ()


# the panels of this kernel whose sweep runs (or waits for another's to end): a panel made anew for the same experiment
# (its cell run again, the earlier widget gone from the screen with its Stop button) finds here the sweep to follow
_SWEEPING: list[RunPanel] = []
_SWEEPING_LOCK = threading.Lock()

# a stage's bar and label are redrawn at most this many times per pass (each redraw is a message to the browser): a
# variant's 5,000 questions answered from the cache, then scored, sent 20,000 of them within seconds
_STEPS = 100


def _environment() -> int:
    """A fingerprint of this process's environment variables, held in memory only: a key set since a variant failed
    on its absence (or a server's address changed) is what may let a re-run succeed."""
    return hash(frozenset(os.environ.items()))


class _Stage(w.HBox):
    def __init__(self, title: str) -> None:
        self.bar = w.IntProgress(value=0, min=0, max=1, description=title, bar_style="info", layout=w.Layout(width="420px"),
                                 style={"description_width": "90px"})
        self.label = w.HTML()
        self.done = 0
        self._shown: tuple[int, int, str] | None = None  # (step, total, text) on screen
        super().__init__([self.bar, self.label])

    def set(self, done: int, total: int, text: str = "") -> None:
        """Show ``done`` of ``total``: redrawn when the text or total changes, at each hundredth of the total, and at
        its end (not for every question of a long pass)."""
        self.done = done
        shown = (done * _STEPS // total if total else 0, total, text)
        if shown == self._shown and done < total:
            return
        self._shown = shown
        self.bar.max = max(total, 1)
        self.bar.value = min(done, self.bar.max)
        self.bar.bar_style = "success" if total and done >= total else "info"
        self.label.value = f"{done}/{total} {esc(text)}"

    def reset(self) -> None:
        self.set(0, 0)


class RunPanel(w.VBox):
    """Run a sweep from a notebook: Run starts it in the background, Stop ends it after the calls in flight (pressed
    again, at once).

    Args:
        experiment: a spec, an experiment YAML path, or a function returning a spec (e.g. ``GridBuilder.spec``,
            read when Run is pressed).
        settings: where runs are logged (default: the project's settings).
        models: model strings mapped to ready generators/embedders (as in ``wb.run``).
        limit: evaluate only the first ``limit`` questions.
        dataset: the questions in memory, for an experiment without a dataset of its own (as in ``wb.run``).
        corpus: the documents in memory, for an experiment without a corpus of its own (as in ``wb.run``).
        allow_large_grid: run a grid of more than 1,000 variants (refused without it, as ``workbench run`` refuses
            one without ``--yes``).

    Finished variants stay logged when the sweep is stopped. In a racing sweep (``execution: {racing: ...}``) the
    variants that drop out are listed as they stop, with the interval that stopped them. ``result`` holds the last
    ``SweepResult``.

    A panel made while an earlier panel's sweep of the same experiment runs in this kernel (its cell run again, which
    took the earlier panel, and its Stop button, off the screen) follows that sweep: its progress shows here, Stop stops
    it, and once it ends its result is this panel's when it ran the same experiment, settings and data.
    """

    def __init__(
        self,
        experiment: wb.ExperimentSpec | str | Path | Callable[[], wb.ExperimentSpec],
        *,
        settings: Settings | None = None,
        models: Mapping[str, Generator | Embedder] | None = None,
        limit: int | None = None,
        dataset: Any = None,
        corpus: Any = None,
        allow_large_grid: bool = False,
    ) -> None:
        self._experiment = experiment
        self._allow_large_grid = allow_large_grid
        self._inputs = {k: v for k, v in (("dataset", dataset), ("corpus", corpus)) if v is not None}
        self._settings = settings
        self._models = models
        self._limit = limit
        self._stop = threading.Event()
        self._stop_now = threading.Event()  # Stop pressed again: the calls in flight are not waited for
        self._job = BackgroundJob("workbench-run")
        self._done: list[wb.VariantResult] = []
        self._lock = threading.Lock()
        self._waiting = False  # the sweep waits for another sweep of this process to end
        self._built: list[str] = []  # what each index the sweep built says (its chunks, the vectors it reused)
        self.result: wb.SweepResult | None = None
        self.exception: BaseException | None = None
        self._ran: wb.ExperimentSpec | None = None  # the experiment of the last sweep started
        self._ran_in = 0  # the environment's fingerprint when it started
        self.run_button = w.Button(description="Run", icon="play", button_style="primary")
        self.run_button.add_class("wb-run-button")
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger", disabled=True)
        self.stop_button.add_class("wb-stop-button")
        self.run_button.on_click(lambda _b: self.start())
        self.stop_button.on_click(lambda _b: self.stop())
        self.status = w.HTML("Ready.")
        self.status.add_class("wb-run-status")
        self.indexes = _Stage("indexes")
        self.generation = _Stage("generation")
        self.scoring = _Stage("scoring")
        self.variants = _Stage("variants")
        self.dropped = w.HTML()
        self.dropped.add_class("wb-dropped-out")
        self.leaderboard = w.HTML()
        self.leaderboard.add_class("wb-live-leaderboard")
        super().__init__([
            w.HTML(STYLE + "<b>Run</b>"),
            w.HBox([self.run_button, self.stop_button]),
            self.status,
            self.indexes, self.generation, self.scoring, self.variants,
            self.dropped, self.leaderboard,
        ])
        self.add_class("wb-run-panel")
        self._followers: list[RunPanel] = []  # later panels of this experiment showing this panel's sweep
        self._followed: RunPanel | None = None  # the earlier panel whose sweep this one shows
        self._follow()

    # -- control ---------------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._job.running

    def _load_inputs(self, spec: wb.ExperimentSpec) -> tuple[wb.Dataset, wb.Corpus]:
        with kept_texts(self._settings) as texts:
            return load_inputs(spec, self._limit, texts=texts, **self._inputs)

    def _spec(self) -> wb.ExperimentSpec:
        exp = self._experiment
        if isinstance(exp, wb.ExperimentSpec):
            return exp
        if isinstance(exp, (str, Path)):
            return wb.load_experiment(exp)
        return exp()

    def _follow(self) -> None:
        """Show the sweep of the latest earlier panel of this experiment that runs in this kernel (see the class)."""
        if not _SWEEPING:
            return
        try:
            name = self._spec().name
        except (wb.WorkbenchError, ValueError):
            return  # start() shows what is wrong
        with _SWEEPING_LOCK:
            earlier = next((p for p in reversed(_SWEEPING) if p._ran is not None and p._ran.name == name), None)
            if earlier is None:
                return
            earlier._followers.append(self)
            self._followed = earlier
        self._done = list(earlier.finished_variants)
        self.stop_button.disabled = False
        self.status.value = (f"Running <b>{esc(name)}</b>, started from an earlier panel of this kernel (its cell was run "
                             "again): its progress shows here, and Stop stops it.")
        if self._done:
            self._show_leaderboard(leaderboard_frame(self._done))

    def _unfollow(self) -> None:
        with _SWEEPING_LOCK:
            earlier, self._followed = self._followed, None
            if earlier is not None and self in earlier._followers:
                earlier._followers.remove(self)

    def _followed_ended(self, earlier: RunPanel) -> None:
        """The earlier panel's sweep this one showed ended: its result is this panel's when it ran the same experiment,
        settings and data (``run()`` then hands it back instead of starting the same sweep again)."""
        self._followed = None
        if self.running:
            return
        same_inputs = self._inputs.keys() == earlier._inputs.keys() and all(earlier._inputs[k] is v for k, v in self._inputs.items())
        if same_inputs and (self._settings, self._models, self._limit) == (earlier._settings, earlier._models, earlier._limit):
            self._ran, self._ran_in, self.result, self.exception = earlier._ran, earlier._ran_in, earlier.result, earlier.exception
        self.stop_button.disabled, self.stop_button.description = True, "Stop"
        self.status.value = earlier.status.value

    def start(self) -> None:
        """Start the sweep in a background thread (what the Run button does); does nothing while one runs."""
        if self.running:
            return
        self._unfollow()  # this panel's own sweep shows here now (it waits for the earlier one to end)
        try:
            spec = self._spec()
            self._check_size(spec)
        except (wb.WorkbenchError, ValueError) as exc:
            self.exception = exc
            self.status.value = error_html(str(exc))
            return
        self._stop, self._stop_now = threading.Event(), threading.Event()
        self.stop_button.description = "Stop"
        self._done = []
        self._waiting = False
        self._built = []
        self._ran, self._ran_in = spec, _environment()
        self.result, self.exception = None, None
        for stage in (self.indexes, self.generation, self.scoring, self.variants):
            stage.reset()
        self.leaderboard.value = ""
        self.dropped.value = ""
        self.run_button.disabled, self.stop_button.disabled = True, False
        self.status.value = f"Running <b>{esc(spec.name)}</b>…"
        with _SWEEPING_LOCK:
            _SWEEPING.append(self)
        self._job.start(self._work, spec)

    def _check_size(self, spec: wb.ExperimentSpec) -> None:
        """Refuse a grid of more than ``LARGE_GRID`` variants unless the panel was built to run one: Run on a typo'd
        range would start months of model calls and fill the store with runs to clean."""
        variants = wb.expand_grid(spec)
        if self._allow_large_grid or len(variants) <= LARGE_GRID:
            return
        questions = len(self._load_inputs(spec)[0])
        plan = plan_grid(spec, variants, questions)
        raise wb.WorkbenchError(f"{spec.name}: {plan.refusal('cut an axis, or pass RunPanel(..., allow_large_grid=True) to run them all')}")

    def stop(self) -> None:
        """Stop after the calls in flight (what the Stop button does): their answers are kept, and finished variants
        stay logged. Called again while those calls are waited for (``STOP_GRACE_S`` at most), it stops at once: the
        calls in flight are given up and asked again when the sweep is run again."""
        followed = self._followed
        if not self.running and followed is None:
            return
        owner = self if self.running or followed is None else followed
        if not owner._stop.is_set():
            owner._stop.set()
            self.stop_button.description = "Stop now"
            self.status.value = (f"Stopping: finishing the calls in flight (up to {STOP_GRACE_S:g} s) so their answers are kept — "
                                 "press Stop again to stop now.")
        else:
            owner._stop_now.set()
            self.stop_button.disabled = True
            self.status.value = "Stopping now: the calls in flight are given up (asked again when you run it again)…"

    def join(self, timeout: float | None = None) -> wb.SweepResult | None:
        """Wait for the running sweep (or the earlier panel's this one follows); returns its result (None if it is still
        running after ``timeout``)."""
        followed = self._followed
        if followed is not None and not self.running:
            return self.result if followed._job.wait(timeout) else None
        return self.result if self._job.wait(timeout) else None

    def run(self, *, rerun: bool = False) -> wb.SweepResult:
        """The sweep's result: waits for the sweep started with Run, reuses a finished one, or runs one now.

        A finished sweep is reused only while the experiment, its questions and its documents are the ones it ran: after
        an edit (the GridBuilder's form, the YAML file, a document of the corpus, the dataset's file or DataFrame), or a
        sweep that was stopped (Stop, an interrupt of the kernel) or could not start, a new sweep runs, which reuses
        whatever the earlier one finished. A sweep with a variant that failed is handed back as it is until an
        environment variable changes (a key set since the variant failed without it), when the variant runs again:
        run as they were, a variant that fails every time would log one more FAILED run each time the cell runs (Run,
        or ``rerun=True``, runs it again anyway).

        Interrupting the kernel while it waits stops the sweep after the current question, as Ctrl+C stops ``wb.run``
        (the sweep runs in a thread of its own, which the interrupt does not reach).

        Args:
            rerun: start a new sweep even when one has finished.

        Raises:
            WorkbenchError: whatever stopped the sweep from running (bad spec, data or model).
        """
        try:
            if self._followed is not None and not rerun:
                self.join()  # the earlier panel's sweep: handed back below when it ran this experiment
            if rerun or (not self.running and self._outdated()):  # never started: nothing ran yet, so outdated
                self.start()
            self.join()
        except KeyboardInterrupt:
            self.stop()
            raise
        if self.exception is not None:
            raise self.exception
        if self.result is None:
            raise wb.WorkbenchError("the sweep did not start — see the panel's status line")
        return self.result

    def _outdated(self) -> bool:
        """No sweep started yet, the last one failed to run or was stopped before its end, a variant of it failed and an
        environment variable changed since, or it ran another experiment than the one read now, or other questions or
        documents (a file edited since, a DataFrame changed in place, a PDF's pages moved)."""
        if self._ran is None or self.exception is not None or (self.result is not None and self.result.status == "KILLED"):
            return True
        if self.result is not None and self.result.failed and self._ran_in != _environment():
            return True
        try:
            spec = self._spec()
            if spec != self._ran:
                return True
            if self.result is None:
                return False  # still running: run() waits for it
            dataset, corpus = self._load_inputs(spec)
        except (wb.WorkbenchError, ValueError):
            return True  # start() shows what is wrong
        return (dataset.hash, corpus.hash) != (self.result.dataset.hash, self.result.corpus.hash)

    # -- the background thread -------------------------------------------------------------------------------------

    def _work(self, spec: wb.ExperimentSpec) -> None:
        try:
            result = wb.run(spec, settings=self._settings, models=self._models, limit=self._limit, progress=False,
                            stop=self._stop, stop_now=self._stop_now, on_event=self._on_event, allow_large_grid=self._allow_large_grid, **self._inputs)
        except Exception as exc:  # noqa: BLE001 - shown in the panel and re-raised by run()
            self.exception = exc
            if self._stop.is_set() and self._waiting:
                # stopped while it waited for another sweep of this process: nothing ran, nothing to finish later
                self.status.value = ("Stopped before it started: it was waiting for another sweep of this kernel to end. "
                                     "Nothing was logged; press Run to start it again.")
            else:
                self.status.value = error_html(str(exc) if isinstance(exc, wb.WorkbenchError) else f"{type(exc).__name__}: {exc}")
        else:
            self.result = result
            stopped = result.status == "KILLED"  # Stop pressed as the last question was answered left nothing to finish
            failed = len(result.failed)
            reused = sum(1 for v in result.variants if v.reused_from)
            hits = int(sum(v.metrics.get("cache_hits", 0) for v in result.variants if not v.reused_from))
            calls = int(sum(v.metrics.get("generation_calls", 0) for v in result.variants))
            raced = sum(1 for v in result.variants if v.stopped_early is not None)
            self.status.value = (
                f"{'Stopped' if stopped else 'Done'}: {len(result.variants)} variant(s) logged"
                + (f", {failed} not finished" if failed else "")
                + (f", {reused} reused from earlier runs" if reused else "")
                + (f", {raced} stopped early by racing" if raced else "")
                + f"; {calls} model call(s), {hits} answer(s) from the cache"
                + (f", {result.spent_line}" if result.spent_line else "")
                + f" — parent run <code>{esc(result.parent_run_id)}</code>"
                + (" — press Run again to finish it: nothing done so far is recomputed" if stopped else "")
                + (" — <code>panel.run()</code> hands this sweep back until an environment variable changes (a key set, say); "
                   "Run runs the variants that failed again" if failed and not stopped else "")
                + "".join(f"<div class='wb-muted'>{esc(note)}</div>" for note in result.notes)
            )
        finally:
            self.run_button.disabled, self.stop_button.disabled = False, True
            self.stop_button.description = "Stop"
            with _SWEEPING_LOCK:
                _SWEEPING.remove(self)
                followers, self._followers = self._followers, []
            for panel in followers:
                panel._followed_ended(self)

    def _on_event(self, event: wb.ProgressEvent) -> None:
        kind = event.kind
        name = event.variant.name if event.variant is not None else ""
        if kind == "sweep_waiting":
            # a status, not a count: the bars stay empty until the other sweep (a RunPanel's, a ChunkExplorer's) ends
            self._waiting = True
            self.status.value = f"Waiting: {esc(event.message)}. Stop cancels it."
        elif kind == "sweep_started":
            if self._waiting and self._ran is not None:
                self._waiting = False
                self.status.value = f"Running <b>{esc(self._ran.name)}</b>…"
            self.variants.set(0, event.total)
        elif kind == "index_started":
            self.indexes.set(event.done, event.total, " · ".join([*self._built, f"building {event.message}"]))
        elif kind == "index_built":
            # every index of the sweep stays named: after a corpus edit, what each embedded again and what it reused
            # (the quickstart's first index's "embedded 256 of 594" was gone once its second was built)
            self._built.append(event.message)
            self.indexes.set(self.indexes.done + 1, self.indexes.bar.max, " · ".join(self._built))
        elif kind == "variant_started":
            self.generation.set(0, 0, name)
            self.scoring.set(0, 0, name)
        elif kind == "variant_reused":
            self.generation.set(0, 0, f"{name}: reused run {event.message[:8]}…, nothing to compute")
        elif kind == "question_done":
            self.generation.set(event.done, event.total, name)
        elif kind == "question_scored":
            self.scoring.set(event.done, event.total, name)
        elif kind == "question_logged":
            self.scoring.set(event.done, event.total, f"{name}: traces logged to MLflow")
        elif kind == "variant_done" and event.result is not None:
            with self._lock:
                self._done.append(event.result)
                frame = leaderboard_frame(self._done)
                dropped = [v for v in self._done if v.stopped_early is not None]
            self.variants.set(event.done, event.total, name)
            if dropped:
                # with a tolerance a variant also stops when it cannot beat the leader by that much: not "worse"
                self.dropped.value = "<b>Dropped out</b> (racing ruled out that they beat the leader):<ul>" + "".join(
                    f"<li>{esc(v.variant.name)}: {esc(v.stopped_early.label)}</li>" for v in dropped if v.stopped_early is not None
                ) + "</ul>"
            self._show_leaderboard(frame)
        elif kind == "sweep_done":
            self.variants.set(event.done, event.total)
        with _SWEEPING_LOCK:
            followers = tuple(self._followers)
        for panel in followers:
            panel._on_event(event)

    def _show_leaderboard(self, frame: Any) -> None:
        """The live leaderboard of ``frame`` (the finished variants' ``leaderboard_frame``), with the scorers of the
        experiment that runs (this panel's, or the earlier panel's it follows)."""
        spec = self._ran if self._ran is not None or self._followed is None else self._followed._ran
        scorers = _shown_scorers(spec) if spec is not None else ()
        self.leaderboard.value = frame_table(frame, _live_columns(list(frame.columns), scorers),
                                             links=run_links(self._settings.tracking_uri if self._settings is not None else None))

    @property
    def finished_variants(self) -> tuple[wb.VariantResult, ...]:
        """The variants finished so far (live while the sweep runs)."""
        with self._lock:
            return tuple(self._done)

    def live_leaderboard(self) -> Any:
        """The leaderboard of the variants finished so far (a DataFrame)."""
        return leaderboard_frame(self.finished_variants)
