"""``run``: one sweep from start to end, its progress events, and the checks made before it starts."""

from __future__ import annotations

import contextlib
import difflib
import inspect
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

from workbench.cache import CacheStore, DiskCacheStore, ExtractedTexts
from workbench.comparison import comparison_key, early_stops, sweep_comparison
from workbench.config import LARGE_GRID, Settings, settings as default_settings
from workbench.datasets import Corpus, Dataset, EvalCase
from workbench.errors import SpecError, Terminated, WorkbenchError
from workbench.execution import (
    STOP_GRACE_S,
    ModelResolver,
    RacingExecutor,
    VariantJob,
    check_can_start_workers,
    executor_for,
    failed_result,
    question_workers,
)
from workbench.grid import Variant, embedded_index_key, expand_grid, plan_grid
from workbench.metrics import scorer_entries
from workbench.models import MINILM_ID, Embedder, Generator, embedder_input_tokens, llama_threads, runs_locally
from workbench.pipeline import (
    ChromaIndexStore,
    ChromaServerIndexStore,
    Chunk,
    ChunkStats,
    IndexStore,
    QuestionRecord,
    VectorIndex,
    check_index_store_for,
    chunk_corpus,
    chunk_stats,
    count_truncated,
    embed_chunks_reusing,
    embed_within,
    index_server_address,
    index_store_for,
    retrieve_question,
    retrievers_sharing_search,
)
from workbench.results import SweepResult, VariantResult
from workbench.sandbox import SweepSandboxes
from workbench.scoring import Judge
from workbench.spec import ExperimentSpec, RetrievalSpec, load_experiment
from workbench.tracking import MlflowTracker, SweepComparison, SweepHandle, Tracker, TrackingUnavailable, interrupts_held
from workbench.runner._inputs import sweep_inputs
from workbench.runner._reuse import reuse_keys, sweep_scoring

__all__ = ["STOPPING_MESSAGE", "ProgressEvent", "check_can_start", "reuse_note", "run"]

EventKind = Literal[
    "sweep_waiting", "sweep_started", "index_started", "index_built", "variant_started", "variant_reused", "question_done", "question_scored",
    "question_logged", "variant_done", "sweep_stopping", "sweep_done",
]


def _stopping_message(then: str) -> str:
    """What a sweep says once, as it starts to stop (``sweep_stopping``): the wait that follows is not a hang (pure)."""
    said = f"stopping: finishing the calls in flight (up to {STOP_GRACE_S:g} s) so their answers are kept"
    return f"{said}; {then}" if then else said


# what it says at the first Ctrl+C or SIGTERM
STOPPING_MESSAGE = _stopping_message("Ctrl+C again to stop now")
# what it says at one that comes before any variant runs: no call is in flight, the parent run is ended
ENDING_MESSAGE = "stopping: ending the sweep as KILLED"


@dataclass(frozen=True)
class ProgressEvent:
    """What the runner reports as it goes (widgets and the CLI render these; the runner prints nothing itself).

    ``done``/``total`` count the indexes the sweep needs for ``index_started`` (none for variants it reuses), questions of the current variant for ``question_done``
    (generation), ``question_scored`` (scoring) and ``question_logged`` (its traces stored in MLflow, 50 at a time:
    minutes for thousands of questions), and variants for ``variant_started``/``variant_reused``/
    ``variant_done``. ``variant_reused`` (its ``message`` is the run reused) comes instead of ``variant_started`` for a
    variant whose finished run is reused rather than recomputed. ``sweep_waiting`` (first, when at all) says that the
    sweep waits for another sweep of the same process to end. ``sweep_stopping`` (once, its ``message`` the line to
    show) says that the sweep is stopping, whatever stopped it (a Ctrl+C, SIGTERM, or ``stop`` set): its running
    variants finish their calls in flight, for ``STOP_GRACE_S`` at most, and a second Ctrl+C (or ``stop_now``) ends
    them at once. Every event comes from the thread that called ``run``.
    """

    kind: EventKind
    done: int = 0
    total: int = 0
    variant: Variant | None = None
    result: VariantResult | None = None
    message: str = ""


def run(
    experiment: ExperimentSpec | str | Path,
    *,
    tracker: Tracker | None = None,
    models: Mapping[str, Generator | Embedder] | None = None,
    index_store: IndexStore | None = None,
    settings: Settings | None = None,
    limit: int | None = None,
    progress: bool = True,
    stop: threading.Event | None = None,
    stop_now: threading.Event | None = None,
    on_event: Callable[[ProgressEvent], None] | None = None,
    judge: Judge | None = None,
    generate: bool = True,
    fresh: bool = False,
    cache: CacheStore | None = None,
    dataset: Dataset | Any = None,
    corpus: Corpus | Any = None,
    allow_large_grid: bool = False,
) -> SweepResult:
    """Run every variant of an experiment and log it (one parent run, one child run per variant).

    Nothing is computed twice: a variant whose finished run is already in the store (same variant, dataset, corpus,
    models, scorers, seed and workbench version) is reused, not recomputed; model answers, judge replies and
    embeddings come from the cache when the same inputs were computed before (in any sweep, or by a sweep that was
    killed), so re-running an interrupted sweep finishes its work. Sweeps left RUNNING by a process of this machine
    that died are ended as KILLED first.

    Args:
        experiment: a spec, or the path of an experiment YAML file.
        tracker: where runs go (default: MLflow at ``settings.tracking_uri``).
        models: model strings mapped to ready generators/embedders, overriding resolution (for tests and notebooks).
        index_store: where indexes are built (default: persistent Chroma under ``settings.index_dir``).
        settings: where things are kept (default: ``workbench.settings()``).
        limit: evaluate only the first ``limit`` cases.
        progress: show tqdm progress bars, and when the sweep ends, its failed variants and its ``notes`` on stderr
            (``SweepResult.ending_lines``: as ``workbench run`` prints them). False prints nothing.
        stop: set this event to stop after the current question (or the current batch of an index build, which is
            then not kept); finished variants stay logged and the sweep ends KILLED (run it again to finish it).
            The running variants first finish their model and judge calls in flight (paid for: cached and logged),
            waiting ``STOP_GRACE_S`` at most for a worker process or Ray task.
        stop_now: set this too (a second press of Stop) to end those workers at once, not waiting for their calls in
            flight (asked again when the sweep is run again), as a second Ctrl+C does.
        on_event: called with each ``ProgressEvent``.
        judge: a ready judge used instead of the spec's ``judge`` model (tests pass a ScriptedJudge); it turns the
            LLM-judged scorers on like a ``judge:`` section does.
        generate: False for a retrieval-only sweep: chunkers x retrieval settings, scored on the retrieval metrics
            (the spec's prompts, models and judge are not used). An experiment without ``models:`` is always one.
        fresh: recompute everything: reuse no finished run and read no cached answer (new answers are still cached).
        cache: the cache store (default: ``DiskCacheStore(settings.cache_dir)``).
        dataset: the cases in memory, in place of the spec's ``dataset``: a ``Dataset`` or a pandas DataFrame (columns
            as in a dataset file). Its content hash identifies it, as a file's does.
        corpus: the documents, in place of the spec's ``corpus``: a ``Corpus`` (as given: ``wb.load_corpus`` with its
            own glob), a list of strings, dicts (``text``, ``id``), LangChain Documents, a DataFrame with a ``text``
            column (see ``load_corpus``), or a folder (relative to the working directory), read with the spec's corpus
            ``glob`` and ``exclude`` when the spec's corpus is a folder too, else with ``**/*.md``. A dataset given
            keeps the spec's dataset ``limit`` and length caps likewise.
        allow_large_grid: run a grid of more than ``LARGE_GRID`` (1,000) variants (refused without it, as ``workbench
            run`` refuses one without ``--yes``: each variant is an MLflow run, with a trace per question).

    Returns:
        The ``SweepResult``; failed variants are in it (and logged as FAILED runs), not raised.

    Raises:
        Whatever stops the sweep itself (not a variant): the parent run is then ended FAILED with the error, or KILLED
        for KeyboardInterrupt, before it propagates. A KeyboardInterrupt whose ``__cause__`` is a
        ``TrackingUnavailable`` left the parent run RUNNING (the server held its end; ``unended_run`` names it): the
        next sweep of this experiment from this machine ends it as KILLED.
        WorkbenchError: ``stop`` was set while the sweep waited for another sweep of this process (nothing logged);
            or an argument of the wrong type (a URI as ``tracker``, a folder as ``index_store``, ``fresh="false"``),
            named with what to pass, before anything is logged.
    """
    _check_arguments(models, on_event, settings=settings, tracker=tracker, index_store=index_store, cache=cache, judge=judge, stop=stop,
                     stop_now=stop_now, progress=progress, generate=generate, fresh=fresh)
    spec = experiment.validated() if isinstance(experiment, ExperimentSpec) else load_experiment(experiment)
    cfg = settings or default_settings()
    # a corpus's PDF, HTML and Word texts come from the cache even when fresh: extraction is deterministic, not a model call
    texts = ExtractedTexts(cache) if cache is not None else ExtractedTexts.of_project(cfg)
    with texts:
        spec, dataset, corpus = sweep_inputs(spec, limit, dataset=dataset, corpus=corpus, texts=texts)
    variants = expand_grid(spec, generate=generate)
    if len(variants) > LARGE_GRID and not allow_large_grid:  # a typo'd range or one axis too many: months of calls
        raise WorkbenchError(f"{spec.name}: {plan_grid(spec, variants, len(dataset)).refusal('cut an axis, or pass allow_large_grid=True to run them all')}")
    generating = any(v.generates for v in variants)
    # everything that can be refused is checked before the first MLflow run exists, and the store before the cache
    check_can_start(spec, variants, models, judge, cfg, own_index_store=index_store is None)
    cap_mb = cfg.cache_size_mb
    # what the sweep opens itself is let go of when it ends, however it ends: a kernel sweeping one project after
    # another held each one's tracking store and cache open (14 files a project) until it reached its limit
    opened = contextlib.ExitStack()
    track = tracker or MlflowTracker(cfg.tracking_uri, artifact_root=cfg.artifact_root)  # an unusable store: one line, now
    if tracker is None:
        opened.callback(track.close)
    try:
        store = cache if cache is not None else DiskCacheStore(cfg.cache_dir, size_limit_mb=cap_mb)
        if cache is None:
            opened.callback(store.close)
        resolver = ModelResolver(models, store, read=not fresh, retries=spec.execution.retries, home=cfg.home)
        indexes = index_store  # the default store is opened when a variant needs an index (a reused one needs none)
        own: ChromaIndexStore | ChromaServerIndexStore | None = None  # that default store: closed when the sweep ends
        scoring = sweep_scoring(spec, resolver, judge, generating=generating)
        answer_scorers, scorers_of = scoring.answer_scorers, scoring.scorers_of
        keys, models_of, unservable = reuse_keys(spec, variants, resolver, scoring, given_judge=judge is not None, dataset=dataset, corpus=corpus)
        if spec.execution.backend == "ray":
            unservable = {}  # Ray's workers bring their own packages and provider keys: the tasks find out
        elif unservable and len(unservable) == len(variants):
            raise next(iter(unservable.values()))  # nothing could run: one line, before any run or index exists
    except BaseException:
        opened.close()
        raise
    with opened, _one_sweep_at_a_time(spec.name, progress=progress, on_event=on_event, stop=stop), _terminate_interrupts() as terminated:
        track.close_abandoned(spec)
        sweep = track.start_sweep(spec, dataset, corpus, variants, **_given_index_server(spec, index_store))
        sandboxes = SweepSandboxes(cfg.sandbox_dir, sweep.sweep_id)  # in use while the sweep runs: another terminal leaves it alone
        bars = _Bars(progress, len(variants))
        results: list[VariantResult] = []
        executor = executor_for(spec.execution, resolver=resolver)
        aborted = threading.Event()
        custom = tuple(e for e in scorer_entries().values() if callable(e.factory))

        said_stopping = threading.Event()
        saying = threading.Lock()  # a stop= is seen first by the variants' threads as often as by this one

        def stopping_now(message: str = STOPPING_MESSAGE) -> None:
            with saying:
                said = said_stopping.is_set()
                said_stopping.set()
            if not said:
                emit(ProgressEvent("sweep_stopping", len(results), len(variants), message=message))

        pressed: list[int] = []  # the Ctrl+C and SIGTERMs that came as a variant was logged (the first is held)

        caller = threading.get_ident()

        def stopping() -> bool:
            # said from the caller's thread only, as every event is (the executors ask there too, each 0.2 s): a
            # variant's thread seeing a stop= first called the RunPanel's and the CLI's callbacks beside that thread
            here = threading.get_ident() == caller
            if pressed and here:  # the variants stop after their calls in flight while the variant is logged
                stopping_now()
            elif stop is not None and stop.is_set() and here:
                stopping_now(_stopping_message("set stop_now to stop now" if stop_now is not None else ""))
            return bool(pressed) or (stop is not None and stop.is_set()) or aborted.is_set()

        def emit(event: ProgressEvent) -> None:
            bars.update(event)
            if on_event is not None:
                on_event(event)
            if event.kind not in ("sweep_stopping", "sweep_done"):
                stopping()  # a stop a variant's thread saw as this one logged a variant is said at this one's next event

        def finish(log: Callable[..., VariantResult], *args: Any, **options: Any) -> None:
            # a Ctrl+C or SIGTERM as a variant is logged waits for its run to be whole; once the sweep is stopping, it
            # is the second one: it stops now (logging that hangs), the tracker ending the run cut short KILLED
            holding = interrupts_held(signal.SIGINT, signal.SIGTERM, received=pressed)
            with contextlib.nullcontext() if said_stopping.is_set() else holding:
                result = log(*args, **options)
                results.append(result)
                emit(ProgressEvent("variant_done", len(results), len(variants), result.variant, result))

        status, error, raised = "FINISHED", None, None
        try:
            sandboxes.hold()
            emit(ProgressEvent("sweep_started", 0, len(variants)))
            reusable = {} if fresh else track.reusable(sweep, keys, spec.limits)
            # the workers' libraries load in their own process while this one builds (or opens) the indexes
            executor.prepare([v for v in variants if v.id not in reusable], scorer_names=tuple(answer_scorers), overrides=dict(models or {}),
                             judge=spec.judge.id if spec.judge is not None and judge is None else None)
            groups: dict[tuple[str, str], list[Variant]] = {}
            jobs: list[VariantJob] = []
            for v in variants:
                groups.setdefault(v.index_group, []).append(v)
            # the indexes this sweep opens or builds: a group whose variants are all reused (or cannot run) needs none
            indexed = [k for k, group in groups.items() if any(v.id not in reusable and v.id not in unservable for v in group)]
            if indexed:  # a Chroma server that does not answer fails the sweep in one line, not every variant with it
                indexes = indexes or (own := index_store_for(spec, cfg))
            for group_key, group in groups.items():
                for v in group:
                    if v.id in reusable:
                        emit(ProgressEvent("variant_reused", len(results), len(variants), v, message=reusable[v.id]))
                        finish(track.reuse_variant, sweep, v, reusable[v.id], dataset)
                for v in group:
                    if v.id in unservable:  # failed now, without building an index for it
                        exc = unservable[v.id]
                        finish(track.log_variant, sweep, failed_result(v, f"{type(exc).__name__}: {exc}", type(exc).__name__, chunk_stats([])), dataset)
                todo = [v for v in group if v.id not in reusable and v.id not in unservable]
                if not todo or stopping():
                    continue
                chunker, embedding = group[0].chunker, group[0].retrieval.embedding
                emit(ProgressEvent("index_started", indexed.index(group_key), len(indexed), message=f"{chunker.label} / {embedding}"))
                embedded_note = ""  # the index opened, or how many chunks a build embedded when it took others' vectors
                try:
                    embedder = resolver.embedder(embedding, cache=False)
                    key = embedded_index_key(chunker, embedding, corpus.text_hash, embedder.identity)
                    indexes = indexes or (own := index_store_for(spec, cfg))
                    index = indexes.open(key)
                    stats = index.stats if index is not None else None  # kept with the index: it is not chunked again
                    if index is not None:  # a CI log said "built" for an index it only opened: the index cache looked unused
                        embedded_note = "; opened (built by an earlier sweep)"
                    if index is None or stats is None or stats.sha256 is None:  # (an older workbench kept no digest)
                        chunks = chunk_corpus(corpus, chunker, embedder.tokenizer if chunker.strategy == "token" else None)
                        stats = chunk_stats(chunks, truncated=count_truncated(chunks, embedder.count_tokens, embedder_input_tokens(embedding)))
                        if index is None:
                            lineage = embedded_index_key(chunker, embedding, "", embedder.identity)  # all but the corpus
                            built = _build_index(indexes, key, lineage, embedder, chunks, stats, by_text=not runs_locally(embedding),
                                                 stopping=stopping, timeout_s=spec.limits.wall_time_s)
                            if built is None:  # Stop pressed during the build: no index is kept, nothing of it runs
                                continue
                            index, embedded_note = built
                    queries = resolver.embedder(embedding, queries=True)
                    questions = [c.question for c in dataset.cases]  # once for every variant of the index
                    if runs_locally(embedding):  # each alone, as a bundle asks it: a local model's padded batch moves
                        for question in questions:  # a vector in its last bits with its longest text
                            queries.embed([question])
                    elif embed_within(queries, questions, spec.limits.wall_time_s, stopping) is None:  # one request to a provider
                        continue
                except Exception as exc:  # noqa: BLE001 - a broken index fails its variants, not the sweep
                    empty = chunk_stats([])
                    for v in todo:
                        finish(track.log_variant, sweep, failed_result(v, f"index build failed: {type(exc).__name__}: {exc}", "index", empty), dataset)
                    continue
                emit(ProgressEvent("index_built", stats.count, stats.count, message=f"{chunker.label}: {stats.count} chunks{embedded_note}"))
                # the variants of one retrieval setting share its records, and the settings share each search
                retrievals = _retrieve(index, queries, [v.retrieval for v in todo], dataset.cases, corpus.page_starts)
                for v in todo:
                    retrieved = retrievals[v.retrieval.model_dump_json()]
                    if isinstance(retrieved, Exception):  # a failing retrieval fails its variants, not the sweep
                        exc = retrieved
                        finish(track.log_variant, sweep, failed_result(v, f"retrieval failed: {type(exc).__name__}: {exc}", "retrieval", stats), dataset)
                        continue
                    jobs.append(VariantJob(
                        variant=v, spec=spec, retrieved=retrieved, stats=stats,
                        workdir=str((sandboxes.folder / v.id).absolute()), cache=store, read_cache=not fresh,
                        overrides=dict(models or {}), judge=judge, scorer_names=tuple(scorers_of(v)), custom_scorers=custom,
                        question_workers=question_workers([m.id for m in v.answering_models], spec.execution), home=cfg.home,
                    ))
            race = spec.execution.racing
            # batches of questions; a variant clearly worse than the leader stops and is logged then. Not a sweep that only
            # retrieves: every question's retrieval is above, so a stop would save nothing and drop the variant's scores
            if race is not None and generating:
                decide = partial(
                    early_stops, metric=race.metric, confidence=race.confidence, min_questions=race.min_questions,
                    tolerance=race.tolerance, seed=spec.seed,
                )
                executor = RacingExecutor(executor, race, decide=decide, finished=[r for r in results if r.status == "FINISHED"], seed=spec.seed)
            running = executor.run(
                jobs,
                on_start=lambda v: emit(ProgressEvent("variant_started", len(results), len(variants), v)),
                on_question=lambda v, kind, done, total: emit(ProgressEvent(kind, done, total, v)),  # type: ignore[arg-type]
                stop=stopping,
                on_stopping=stopping_now,
                abandon=stop_now.is_set if stop_now is not None else lambda: False,
            )

            def log(result: VariantResult) -> None:
                finish(track.log_variant, sweep, result, dataset, reuse_key=keys.get(result.variant.id),
                       models=models_of.get(result.variant.id), on_logged=_logged(emit, result))

            try:
                try:
                    for result in running:
                        log(result)
                except KeyboardInterrupt as exc:
                    if len(pressed) > 1:  # pressed twice as a variant was logged: its workers are ended now
                        raise
                    # it landed here, as a result was being logged, not in the executor's wait: the executor winds down
                    # as it would have there (its variants' calls in flight are finished and logged), not at once
                    for result in _wound_down(running, exc, stopping_now):
                        log(result)
            except BaseException:
                aborted.set()  # nothing more starts; the executor ends its workers
                raise
            finally:
                running.close()
            cut_short = len(results) < len(variants) or any(r.status == "STOPPED" for r in results)
            if stop is not None and stop.is_set() and cut_short:  # a stop as the last question was answered cut nothing short
                status = "KILLED"
            elif any(r.status == "FAILED" for r in results):
                status = "FAILED"
        except BaseException as exc:
            raised = Terminated("SIGTERM") if terminated and type(exc) is KeyboardInterrupt else exc
            status = "KILLED" if isinstance(raised, KeyboardInterrupt) else "FAILED"
            if isinstance(raised, KeyboardInterrupt):  # one before any variant ran (the store read, an index built): said too
                stopping_now(ENDING_MESSAGE)
            error = f"interrupted ({str(raised) or 'KeyboardInterrupt'})" if isinstance(raised, KeyboardInterrupt) else f"{type(raised).__name__}: {raised}"
            if raised is not exc:  # Ray's wait raises a KeyboardInterrupt of its own in place of the SIGTERM handler's
                raise raised from exc
            raise
        finally:
            try:
                key = comparison_key(results, seed=spec.seed)
                track.end_sweep(sweep, results, status, comparison=_comparison(track, sweep, results, key, seed=spec.seed),
                                comparison_key=key, error=error)
            except KeyboardInterrupt as cut:  # Ctrl+C while the sweep was being closed (its comparison, plots): end it anyway
                try:
                    track.end_sweep(sweep, results, "KILLED", error="interrupted (KeyboardInterrupt) while the sweep was being ended")
                except TrackingUnavailable as down:  # the server held its end: still the Ctrl+C, with the run left RUNNING
                    down.parent_not_ended(sweep.run_id)
                    raise cut from down
                raise
            except Exception as failure:  # the sweep's own error, when there is one, is what the user must see
                down = raised if isinstance(raised, TrackingUnavailable) else failure
                if isinstance(down, TrackingUnavailable):
                    down.parent_not_ended(sweep.run_id)
                    if isinstance(raised, KeyboardInterrupt):  # still the Ctrl+C, with the run left RUNNING as its cause
                        raise raised from down
                elif raised is not None:
                    raised.add_note(f"the sweep's parent run {sweep.run_id} could not be ended: {type(failure).__name__}: {failure}")
                if raised is None:
                    raise
            finally:
                bars.close()
                sandboxes.release()
                if own is not None:  # Chroma keeps a folder's files and threads open until its last client closes
                    own.close()
                if cache is None:  # the answer cache this sweep opened (a kernel's garbage collector may take hours to)
                    store.close()
        emit(ProgressEvent("sweep_done", len(results), len(variants)))
        result = SweepResult(
            spec=spec, dataset=dataset, corpus=corpus, variants=tuple(results),
            parent_run_id=sweep.run_id, experiment_id=sweep.experiment_id, tracking_uri=sweep.tracking_uri, status=status,
            long_questions=_long_questions(dataset, {v.retrieval.embedding for v in variants}, resolver),
        )
        if progress:  # a notebook's sweep showed its bars, then nothing of what it noticed (workbench run prints it)
            _say(result.ending_lines)
        return result


def _say(lines: Sequence[str]) -> None:
    """Print ``lines`` to stderr, below the progress bars (in a notebook, the cell's output), as tqdm and MLflow print
    what a user should read; nothing when stderr is closed or its reader went away: the sweep is logged either way."""
    if sys.stderr is None:  # a daemon's (print would write to stdout)
        return
    with contextlib.suppress(OSError, ValueError):
        for line in lines:
            print(line, file=sys.stderr)
        sys.stderr.flush()


def _wound_down(running: Iterator[VariantResult], interrupt: KeyboardInterrupt, on_stopping: Callable[[], None]) -> Iterator[VariantResult]:
    """The results an executor's ``running`` results still hand over once ``interrupt`` (a Ctrl+C or SIGTERM that
    reached the runner between two of them) is thrown into it, as if it had come while it waited; then ``interrupt``
    again. An executor that is no suspended generator (it has ended) has nothing to hand over."""
    if not inspect.isgenerator(running) or inspect.getgeneratorstate(running) != inspect.GEN_SUSPENDED:
        raise interrupt
    on_stopping()
    try:
        result = running.throw(interrupt)
        while True:
            yield result
            result = next(running)
    except StopIteration:
        raise interrupt from None


def _comparison(track: Tracker, sweep: SweepHandle, results: Sequence[VariantResult], key: str | None, *, seed: int) -> SweepComparison | None:
    """The sweep's comparison: copied from an earlier sweep of the very same variant runs when every variant was reused
    from one (a warm re-run), else computed."""
    if key is not None and all(r.reused_from for r in results):
        earlier = track.earlier_comparison(sweep, key, results)
        if earlier is not None:
            return earlier
    return sweep_comparison(results, seed=seed)


def _build_index(
    indexes: IndexStore, key: str, lineage: str, embedder: Embedder, chunks: Sequence[Chunk], stats: ChunkStats, *, by_text: bool,
    stopping: Callable[[], bool], timeout_s: float | None,
) -> tuple[VectorIndex, str] | None:
    """Embed ``chunks`` and build index ``key``, taking the vectors an earlier index of the same ``lineage`` (chunker,
    chunking revision and embedder identity: another version of the corpus) holds for them (see
    ``embed_chunks_reusing``), so a corpus edit embeds only what changed. Returns the index and a note of what was
    embedded (empty for a cold build); None when stopped."""
    # an IndexStore of the caller's own (or a subclass overriding build) may not keep lineages: it is built cold
    reusing = getattr(indexes, "reusable_vectors", None) if _takes_keyword(indexes.build, "lineage") else None
    earlier = reusing(lineage, key) if reusing is not None else None
    # a provider's model: what a build embedded before it failed is kept, so the next one embeds (pays for) the rest
    keep = getattr(indexes, "keep_unfinished", None) if reusing is not None else None
    unfinished = (lambda texts, vectors: keep(lineage, key, texts, vectors)) if keep is not None else None
    embedded = embed_chunks_reusing(embedder, chunks, earlier, by_text=by_text, stopping=stopping, timeout_s=timeout_s,
                                    unfinished=unfinished)
    if embedded is None:
        return None
    vectors, fresh = embedded
    kept = {"lineage": lineage} if reusing is not None else {}
    index = indexes.build(key, chunks, vectors, stats=stats, **kept)
    return index, "" if earlier is None else reuse_note(fresh, len(chunks), earlier.key)


def _retrieve(
    index: VectorIndex, queries: Embedder, settings: Sequence[RetrievalSpec], cases: Sequence[EvalCase], pages: Mapping[str, tuple[int, ...]],
) -> dict[str, tuple[QuestionRecord, ...] | Exception]:
    """Each retrieval setting's records of ``cases`` (by its JSON), or what its retrieval raised. The settings retrieve
    a question after another, so that they share each search of the index (``SharedSearch``)."""
    retrievers = retrievers_sharing_search(index, queries, settings, pages)
    found: dict[str, list[QuestionRecord] | Exception] = {key: [] for key in retrievers}
    for case in cases:
        for key, retriever in retrievers.items():
            records = found[key]
            if isinstance(records, list):
                try:
                    records.append(retrieve_question(case, retriever))
                except Exception as exc:  # noqa: BLE001 - a failing retrieval fails its variants, not the sweep
                    found[key] = exc
    return {key: tuple(records) if isinstance(records, list) else records for key, records in found.items()}


def reuse_note(fresh: int, total: int, earlier: str) -> str:
    """What an index build embedded, next to the index ``earlier`` whose vectors it could take (pure)."""
    if fresh >= total:  # "embedded 85 of 85, the others' vectors from ..." named others there were none of
        return f"; embedded all {total:,} chunks (none could take its vector from index {earlier})"
    return f"; embedded {fresh:,} of {total:,}, the others' vectors from index {earlier}"


def _takes_keyword(fn: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a callable whose signature Python cannot read
        return False


def _long_questions(dataset: Dataset, embeddings: set[str], resolver: ModelResolver) -> dict[str, tuple[int, ...]]:
    """Per embedding model whose input limit is known, the positions of the questions longer than it reads (counted
    with its tokenizer, as chunks are): only their beginning is embedded, so retrieval never searched with the rest."""
    out: dict[str, tuple[int, ...]] = {}
    for embedding in sorted(embeddings):
        limit = embedder_input_tokens(embedding)
        if limit is not None:
            count = resolver.embedder(embedding, cache=False).count_tokens
            out[embedding] = tuple(i for i, case in enumerate(dataset.cases) if count(case.question) > limit)
    return out


def _given_index_server(spec: ExperimentSpec, index_store: IndexStore | None) -> dict[str, str]:
    """The Chroma server of a store handed to ``run``, for its sweep's tag (``index_server_tags``): it is the store the
    sweep uses whatever the spec or the environment names ('' for a local one). Nothing when it is the one they name,
    or none is given (a tracker of one's own, written before ``index_server``, is handed it only when it matters)."""
    if index_store is None:
        return {}
    given = index_store.address if isinstance(index_store, ChromaServerIndexStore) else ""
    return {} if given == (index_server_address(spec) or "") else {"index_server": given}


# run()'s arguments that take a ready object: the type, its words, and what to pass instead of a common mistake (a
# tracking URI for tracker=, a folder for index_store= or cache=, a model string for judge=)
_ARGUMENT_TYPES: dict[str, tuple[type, str, str]] = {
    "settings": (Settings, "a workbench Settings", "use wb.settings(root=..., tracking_uri=...)"),
    "tracker": (Tracker, "a Tracker", "use wb.MlflowTracker('sqlite:///...'), or settings=wb.settings(tracking_uri=...) for a store's URI"),
    "index_store": (IndexStore, "an IndexStore", "use wb.MemoryIndexStore(), or settings=wb.settings(root=...) for the folder the indexes go in"),
    "cache": (CacheStore, "a CacheStore", "use workbench.cache.DiskCacheStore(folder), or settings=wb.settings(root=...) for the project's cache"),
    "judge": (Judge, "a ready Judge", "use wb.load_judge('local:gemma3-270m'), or judge: in the experiment for a model string"),
    "stop": (threading.Event, "a threading.Event", "make one with threading.Event() and call its set() to stop the sweep"),
    "stop_now": (threading.Event, "a threading.Event", "make one with threading.Event() and set it after stop to stop without waiting"),
}
_FLAGS = ("progress", "generate", "fresh")


def _check_arguments(models: object, on_event: object, **given: object) -> None:
    """One line for a notebook's wrong argument before anything is logged, instead of an AttributeError from deep inside
    the sweep (a ``stop=True``, an ``on_event`` that is no function: after the parent run was started, which then
    ended FAILED), a sweep whose variants all failed on it (a folder as ``index_store=``), or a flag read the wrong
    way (``fresh="false"`` is true: every answer computed again, paid again at a hosted model's price).

    Args:
        models: run()'s ``models``: a mapping of model string to Generator or Embedder, or None.
        on_event: run()'s ``on_event``: a function, or None.
        given: run()'s other arguments by name: those of ``_ARGUMENT_TYPES`` (None allowed) and ``_FLAGS`` (bool).

    Raises:
        WorkbenchError: the first argument of a wrong type, naming it, its type and what to pass.
    """
    for name, value in given.items():
        if name in _FLAGS and not isinstance(value, bool):
            raise WorkbenchError(f"{name}: expected True or False, not a {type(value).__name__} ({str(value)[:40]!r}) — "
                                 f"a non-empty string is true: pass {name}=True or {name}=False")
        if name in _ARGUMENT_TYPES and value is not None and not isinstance(value, _ARGUMENT_TYPES[name][0]):
            _, words, fix = _ARGUMENT_TYPES[name]
            raise WorkbenchError(f"{name}: expected {words}, not a {type(value).__name__} — {fix}")
    if on_event is not None and not callable(on_event):
        raise WorkbenchError(f"on_event: expected a function called with each wb.ProgressEvent, not a {type(on_event).__name__}")
    if models is None:
        return
    if not isinstance(models, Mapping):
        raise WorkbenchError(f"models: expected a mapping of model string to model, not a {type(models).__name__} — "
                             "e.g. models={'local:gemma3-270m': my_generator}")
    for key, model in models.items():
        if not isinstance(key, str) or not isinstance(model, (Generator, Embedder)):
            raise WorkbenchError(f"models: {str(key)[:80]!r}: expected a model string mapped to a wb.Generator or wb.Embedder, "
                                 f"not a {type(key).__name__} to a {type(model).__name__} — a model string alone goes in the "
                                 "experiment's models: (or retrieval's embedding:)")


class _SweepQueue:
    """The sweeps of this process, the running one first and the others in the order they asked to run (a lock wakes
    its waiters in no order: of RunPanels pressed one after the other behind a running sweep, the last could run first)."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.sweeps: list[object] = []


_SWEEPS = _SweepQueue()


def _unlock_sweeps_after_fork() -> None:
    """A child forked while a sweep ran in another thread of its parent (a RunPanel in a kernel that forks) inherits
    the queue with a sweep at its head that it does not have: its own sweep said "another sweep is running" and waited
    forever."""
    global _SWEEPS
    _SWEEPS = _SweepQueue()


os.register_at_fork(after_in_child=_unlock_sweeps_after_fork)


def _waiting_message(name: str, ahead: int) -> str:
    """What a sweep with ``ahead`` sweeps before it in this process says while it waits (pure)."""
    if ahead <= 1:
        return f"another sweep is running in this process: '{name}' starts when it ends"
    return f"another sweep is running in this process and {ahead - 1} more wait before it: '{name}' starts after them"


@contextlib.contextmanager
def _one_sweep_at_a_time(
    name: str, *, progress: bool, on_event: Callable[[ProgressEvent], None] | None, stop: threading.Event | None
) -> Iterator[None]:
    """Sweeps started in one process (two RunPanels, or threads) run one after the other, in the order they started:
    several at once would build the same Chroma index and log the same MLflow dataset concurrently, which neither
    library supports within a process. A sweep that has to wait says so, with how many wait before it, and starts when
    those ahead of it end; stopped while it waits, it never starts.

    Raises:
        WorkbenchError: ``stop`` was set while the sweep waited (nothing was logged).
    """
    queue, turn = _SWEEPS, object()
    with queue.changed:
        queue.sweeps.append(turn)
        ahead = len(queue.sweeps) - 1
    try:
        if ahead:
            message = _waiting_message(name, ahead)
            if on_event is not None:
                on_event(ProgressEvent("sweep_waiting", message=message))
            if progress:
                print(message, file=sys.stderr, flush=True)
            with queue.changed:
                while queue.sweeps[0] is not turn:
                    queue.changed.wait(timeout=0.2)
                    if stop is not None and stop.is_set():
                        raise WorkbenchError(f"'{name}' was stopped while it waited for another sweep in this process; nothing was logged")
        yield
    finally:
        with queue.changed:
            queue.sweeps.remove(turn)
            queue.changed.notify_all()


@contextlib.contextmanager
def _terminate_interrupts() -> Iterator[list[int]]:
    """While a sweep runs in the main thread, SIGTERM (``kill``, ``timeout``, a CI job cancelled, ``docker stop``)
    stops it the way Ctrl+C does: the sweep and its running variant are ended KILLED instead of staying RUNNING in
    MLflow. A handler the caller installed is left alone. Yields the SIGTERMs received: Ray's ``wait`` runs the handler
    and raises a bare KeyboardInterrupt in place of its Terminated (a sweep on Ray ended "interrupted
    (KeyboardInterrupt)" and ``workbench run`` exited 130, as for Ctrl+C)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield []
        return
    received: list[int] = []  # SIGTERM, once it arrived: a library in C may raise its own KeyboardInterrupt for it

    def interrupt(signum: int, frame: Any) -> None:
        received.append(signum)
        raise Terminated("SIGTERM")

    signal.signal(signal.SIGTERM, interrupt)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def check_can_start(
    spec: ExperimentSpec, variants: Sequence[Variant], models: Mapping[str, Any] | None, judge: Judge | None, cfg: Settings, *,
    own_index_store: bool,
) -> None:
    """Refuse, in one line, what would stop a sweep as it starts or fail every variant (a dry run refuses it too):
    a misspelt or unpicklable injected model, worker processes this process cannot start, a bad WORKBENCH_LLAMA_THREADS
    or WORKBENCH_CACHE_SIZE_MB, a local Chroma this process cannot open (``own_index_store``: the sweep opens its own)."""
    _check_overrides(spec, models)
    _check_portable(spec, models, judge)
    if any(v.generates for v in variants) and spec.execution.backend == "local" and spec.execution.isolation == "process":
        check_can_start_workers()  # a multiprocessing.Pool's worker: one line, not every variant FAILED on it
    if any(runs_locally(m.id) for v in variants for m in v.answering_models):
        llama_threads()  # a bad WORKBENCH_LLAMA_THREADS: one line now, not every variant failing on it
    if own_index_store:
        check_index_store_for(spec)  # a local Chroma in a child forked after it was opened: one line, not a hang
    _ = cfg.cache_size_mb  # likewise a bad WORKBENCH_CACHE_SIZE_MB, before the store is opened
    _ = cfg.plots  # and a bad WORKBENCH_PLOTS, not a warning after every variant ran


def _check_overrides(spec: ExperimentSpec, models: Mapping[str, Any] | None) -> None:
    """Refuse a model handed to the sweep under a misspelt id (``local:gemma3-270M``): it would never be called, and the
    experiment's own model would answer in its place (loaded, or called at the provider's price), with nothing said.
    A key that is no near miss of one of the experiment's models is left alone (a notebook's dict of all its models),
    unless no key is a model of the experiment: then the mapping replaces nothing.

    Raises:
        SpecError: a key is close to a model of the experiment that no key overrides, or no key is one of its models.
    """
    if not models:
        return
    used = {m.id for v in expand_grid(spec) for m in v.answering_models} | {r.embedding for r in spec.retrieval} | {MINILM_ID}
    if spec.judge is not None:
        used.add(spec.judge.id)
    not_given = sorted(used - set(models))
    for key in models:
        if key in used:
            continue
        near = difflib.get_close_matches(key, not_given, n=1, cutoff=0.8) or [m for m in not_given if m.lower() == key.lower()]
        if near:
            raise SpecError(f"models: '{key}' is not a model of experiment '{spec.name}', so it would never be called and "
                            f"'{near[0]}' would answer instead — did you mean '{near[0]}'? (or leave '{key}' out of models=)")
    if not used & set(models):  # 'gemma', no near miss by spelling: the whole mapping would replace nothing
        keys = ", ".join(repr(str(k)) for k in list(models)[:5])
        raise SpecError(f"models: none of its keys ({keys}) is a model of experiment '{spec.name}', so none of them would be called "
                        f"and the experiment's own would answer — key each by the model string it replaces: {', '.join(sorted(used))}")


def _check_portable(spec: ExperimentSpec, models: Mapping[str, Any] | None, judge: Judge | None) -> None:
    """Injected models and judges go to the worker processes with the job: refuse, in one line, one that cannot."""
    if spec.execution.isolation == "none" or (not models and judge is None):
        return
    import cloudpickle

    for name, obj in [*(models or {}).items(), ("judge", judge)]:
        if obj is None:
            continue
        try:
            cloudpickle.dumps(obj)
        except Exception as exc:  # noqa: BLE001 - whatever pickling raises, the answer is the same
            raise SpecError(
                f"execution.isolation: the injected model '{name}' cannot be sent to a worker process ({type(exc).__name__}: "
                f"{str(exc)[:120]}) — use execution: {{isolation: none}} to run it in this process"
            ) from None



def _logged(emit: Callable[[ProgressEvent], None], result: VariantResult) -> Callable[[int], None]:
    """What reports a computed variant's traces as the tracker stores them (``question_logged``)."""
    total = len(result.records)
    return lambda done: emit(ProgressEvent("question_logged", done, total, result.variant))


class _Bars:
    """tqdm.auto progress: variants outer, questions inner (widgets in notebooks, text in terminals).

    The questions bar shows the variant of the latest ``question_done`` at that variant's own count: with racing (or
    several workers) the live variants' questions interleave, and counting them all on one variant's bar ran past it.

    Args:
        enabled: False draws nothing.
        total: the sweep's variants.
        make_bar: makes a bar (default: ``tqdm.auto.tqdm``).
    """

    def __init__(self, enabled: bool, total: int, make_bar: Callable[..., Any] | None = None) -> None:
        self.enabled = enabled
        self._outer: Any = None
        self._inner: Any = None
        self._inner_variant: str | None = None  # the id of the variant the questions bar shows
        if enabled:
            if make_bar is None:
                from tqdm.auto import tqdm as make_bar
            self._tqdm = make_bar
            self._outer = make_bar(total=total, desc="variants", unit="variant")

    def update(self, event: ProgressEvent) -> None:
        if not self.enabled:
            return
        if event.kind == "index_started":
            self._outer.set_postfix_str(f"index {event.message}")
        elif event.kind == "variant_started" and event.variant is not None:
            self._outer.set_postfix_str(event.variant.name)
        elif event.kind == "question_done" and event.variant is not None:
            self._question(event.variant, event.done, event.total)
        elif event.kind == "question_logged" and event.variant is not None:
            self._outer.set_postfix_str(f"{event.variant.name}: {event.done}/{event.total} traces logged")
        elif event.kind == "variant_done":
            if self._inner is not None and (event.variant is None or event.variant.id == self._inner_variant):
                self._inner.close()
                self._inner, self._inner_variant = None, None
            self._outer.update(1)

    def _question(self, variant: Variant, done: int, total: int) -> None:
        """Show ``done``/``total`` of ``variant`` (the bar is reset when the variant differs from the one it showed)."""
        if self._inner is None:
            self._inner = self._tqdm(total=total, desc="questions", unit="q", leave=False)
        elif variant.id != self._inner_variant:
            self._inner.reset(total=total)
        if variant.id != self._inner_variant:
            self._inner_variant = variant.id
            self._outer.set_postfix_str(variant.name)
        self._inner.update(done - self._inner.n)

    def close(self) -> None:
        for bar in (self._inner, self._outer):
            if bar is not None:
                bar.close()
