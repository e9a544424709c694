"""MLflow tracking: one parent run per sweep, one child run per variant that MLflow shows as an evaluation run.

Per variant: flattened params, aggregate metrics (one ``log_batch``), provenance tags, artifacts (per-question table,
prompt template and system message, variant YAML, chunk statistics, its trace ids), the dataset as an input, and one trace per
question (retrieve and generate spans with the recorded timings; a router's trace has one generate span per model it
called and a route span with its decision, and is tagged with the model that answered and why it escalated) carrying
every score as a feedback assessment and the reference as an expectation — so the Evaluation runs page lists each
question with its scores and compares variants question by question.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import shutil
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


from workbench.config import plots_wanted
from workbench.datasets import Corpus, Dataset
from workbench.errors import WorkbenchError
from workbench.grid import Variant, prompt_hash
from workbench.metrics import direction
from workbench.results import VariantResult, reused_metrics, sweep_totals
from workbench.spec import ExperimentSpec, Limits, dump_yaml
from workbench.redaction import redact
from workbench.tracking._feedback import default_user
from workbench.tracking._store_check import check_served_artifacts, check_store, half_made, sqlite_path
from workbench.tracking._process import abandoned_reason, alive_here, process_tags
from workbench.tracking._index_server import index_server_tags
from workbench.tracking._read import RESULTS_TABLE, artifact_bytes, chunked, every_page, out_of_reach, reading_artifacts, run_artifacts
from workbench.tracking._sqlite import tune_sqlite_store
from workbench.tracking._engines import release_store
from workbench.tracking._store_lock import interrupts_deferred, open_store_serialised
from workbench.tracking._summary import MAX_RUN_NOTE, inert, leaderboard_table, sweep_note
from workbench.tracking._unreachable import TrackingUnavailable, is_unreachable, quiet_retry_warnings, shown_uri, tracking_call
from workbench.tracking._redact import redacted, redacting
from workbench.tracking._traces import write_traces
from workbench.tracking._question_trace import question_trace
from workbench.tracking._run_notes import NOTE_TAG, _end_reason_tags, _note, _variant_note
from workbench.tracking._run_tags import _RAN_BY_TAGS, _child_tags, _shortened, git_commit, package_versions, run_name, source_tags
from workbench.tracking._reuse_reads import _CHUNK_STATS, _TRACE_IDS, ReuseSearch, _ReadRun
from workbench.tracking._reuse import REUSE_KEY_TAG, REUSED_FROM_TAG, lower_is_better_tag, racing_tags, records_from_table, with_current_metadata
from workbench.tracking._protocol import (
    CHUNKS_SHA256_TAG,
    CHUNKS_TAG,
    COMPARISON_FILE,
    COMPARISON_KEY_TAG,
    COMPARISON_TEXT,
    CORPUS_ARTIFACT,
    CORPUS_DOCUMENTS_ARTIFACT,
    CORPUS_FILE_TAG,
    CORPUS_RUN_TAG,
    MODELS_TAG,
    PLOTS_DIR,
    LoggedComparison,
    SweepComparison,
    SweepHandle,
    with_run_ids,
)

RUN_TYPE_TAG = "mlflow.runType"
EVAL_RUN_TYPE = "genai_evaluate"  # what mlflow.genai.evaluate sets: the UI lists these under "Evaluation runs"
_MAX_PARAM = 6000
LEADERBOARD_TABLE = "leaderboard.json"  # the parent run's leaderboard, a table (``leaderboard_table``)
LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"  # mlflow.utils.mlflow_tags.MLFLOW_LOGGED_ARTIFACTS: a run's tables


def _param(value: str, whole_in: str | None = None) -> str:
    """A param's value as MLflow holds it (6,000 characters): a longer one (a long ``stop`` list) is cut and says so,
    with its length and the artifact holding the whole (``whole_in``), where a bare cut showed a list broken off
    mid-string as if it were the setting."""
    if len(value) <= _MAX_PARAM:
        return value
    said = f" … (cut: {len(value):,} characters{f', the whole is in {whole_in}' if whole_in else ''})"
    return value[:_MAX_PARAM - len(said)] + said
# MLflow's longest dataset name: a longer one (a wb.Dataset named in a notebook) failed the sweep as it started
_MAX_DATASET_NAME = 500
_DATA_TAGS = ("workbench.dataset_hash", "workbench.corpus_hash")  # what a sweep and its runs evaluated on (in every reuse key)
# each run this workbench creates holds a value of its own under this tag: a request MLflow's HTTP client retried after
# the server had made the run (its answer lost to a gateway, or later than the timeout) made a second, empty run, left
# RUNNING under the sweep (a "variant" that `workbench list` showed and the UI compared) or beside it (a newer sweep
# with no variants, which `compare` and `gate` read as the experiment's last); the sweep deletes such twins as it ends
CREATE_TAG = "workbench.create_id"
_UNENDED: set[tuple[str, str]] = set()  # (tracking URI, parent run id) of sweeps this process could not end
# how long a run cut short by a Ctrl+C is given to be ended KILLED: a server that answers its health check may still
# take every write and answer none, and the Ctrl+C was the second one, "stop now"
_CUT_SHORT_END_S = 5.0
_log = logging.getLogger(__name__)


# what of the spec's judge each run records as judge.<field> params: what scores its judged metrics
_JUDGE_PARAMS = ("id", "kind", "n", "temperature", "max_tokens", "context_window")


class MlflowTracker:
    """Logs to the MLflow store at ``tracking_uri`` (sqlite by default; a server URI works too).

    MLflow's global tracking URI is left as it was: a run the user has open, and what they log after a sweep, stay in
    their store. Every call to MLflow goes
    through ``redacting``: no secret (a key from the environment or of a known shape) reaches the store. A tracking
    server that stops answering (after MLflow's retries) raises ``TrackingUnavailable``, a one-line error.

    Args:
        tracking_uri: the store.
        artifact_root: where new experiments keep their artifacts (default: ``artifacts`` beside a sqlite store's
            file, as ``workbench.settings()`` says; MLflow's own default was ``mlruns/`` under whatever folder the
            process was in, so a notebook's sweeps scattered their artifacts, away from the store they belong to).
    """

    def __init__(self, tracking_uri: str, *, artifact_root: Path | None = None, read_only: bool = False) -> None:
        with interrupts_deferred():  # a Ctrl+C mid-import left a half-imported mlflow that failed every later sweep
            import mlflow
            from mlflow import MlflowClient
            from mlflow.tracing.client import TracingClient

            if not tracking_uri.startswith(("http://", "https://")):  # a database store's SQLAlchemy, whole too
                import mlflow.store.tracking.sqlalchemy_store  # noqa: F401

        from workbench.config import settings

        if artifact_root is None and tracking_uri.startswith("sqlite:///"):
            artifact_root = settings(tracking_uri=tracking_uri).artifact_root

        # one line naming the store, before anything is computed or written (a dry run's too: what the sweep would
        # refuse); one that is only read (``existing``) is neither made, nor switched to WAL mode, nor locked
        check_store(tracking_uri, must_exist=False)
        if not read_only:
            if tracking_uri.startswith("sqlite:///"):
                Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            tune_sqlite_store(tracking_uri)
            open_store_serialised(tracking_uri)
        self.tracking_uri = tracking_uri
        # a tracking server keeps artifacts itself (served artifacts), not on this machine's disk
        self.artifact_root = None if tracking_uri.startswith(("http://", "https://")) else artifact_root
        self.unreachable = False  # set when a call found the tracking server down: ending the sweep asks once, quickly
        self.writes_hang = False  # set when a run cut short could not be ended in time: ending the sweep does not try
        self._ending_cut = False  # set when a Ctrl+C cut the sweep's end: ending it again waits a few seconds at most
        quiet_retry_warnings()
        # MLflow's global tracking URI (and MLFLOW_TRACKING_URI, which settings() reads) stay the user's: every call
        # here names this store
        self._mlflow = redacting(mlflow)
        self.client = redacting(MlflowClient(tracking_uri))
        self.tracing = TracingClient(tracking_uri)  # what it writes was redacted when the traces were built
        self._dataset_inputs: dict[tuple[str, str, str], Any] = {}  # each dataset's MLflow entity, profiled once
        self._session = uuid.uuid4().hex  # CREATE_TAG values are "<session>-<n>"
        self._created: dict[str, str] = {}  # CREATE_TAG value -> the run id the store answered with
        self._search: ReuseSearch | None = None  # the last reuse check, holding what it read for the copies
        self._sweep_runs: dict[str, Any] = {}  # parent run id -> its data (tags, params) as its sweep logged them at start

    def close(self) -> None:
        """Let go of what this tracker holds open: the artifacts its last reuse check read, and the connections MLflow
        keeps to its store (``release_store``). The tracker stays usable: a later call opens a connection again."""
        self._forget_reads()
        release_store(self.tracking_uri)

    @classmethod
    def existing(cls, tracking_uri: str) -> MlflowTracker | None:
        """A tracker that only reads the store at ``tracking_uri`` (``workbench run --dry-run``), or None when it is a
        ``sqlite:///`` file that is not there or holds no run: no file, folder, lock or experiment is made (a sweep's
        tracker makes them), so a dry run in a fresh folder leaves it as it was.

        Raises:
            WorkbenchError: the store cannot be read (``check_store``).
        """
        path = sqlite_path(tracking_uri)
        if path is not None and (not path.is_file() or path.stat().st_size == 0 or half_made(tracking_uri) is not None):
            check_store(tracking_uri, must_exist=False)  # a folder, or none that can be made: what the sweep would say
            return None  # no run to read
        return cls(tracking_uri, read_only=True)

    # -- sweep ---------------------------------------------------------------------------------------------------

    def _experiment_id(self, spec: ExperimentSpec) -> str:
        found = self.client.get_experiment_by_name(spec.name)
        if found is not None:
            check_served_artifacts(found.artifact_location, self.tracking_uri, f"experiment '{spec.name}'")
            if found.lifecycle_stage == "deleted":
                self._restore_experiment(str(found.experiment_id))
            return str(found.experiment_id)
        location = None
        if self.artifact_root is not None:
            location = (self.artifact_root / spec.name).resolve().as_uri()
        from mlflow.exceptions import MlflowException

        try:
            return str(
                self.client.create_experiment(
                    spec.name, artifact_location=location, tags={NOTE_TAG: _note(spec.description or spec.name)}
                )
            )
        except MlflowException as exc:  # another process created it first (two notebooks starting the same experiment)
            again = self.client.get_experiment_by_name(spec.name)
            if again is None:
                raise
            _log.debug("experiment %s was created concurrently: %s", spec.name, exc)
            return str(again.experiment_id)

    def _restore_experiment(self, experiment_id: str) -> None:
        """Restore a deleted experiment. A teammate's sweep that restored it a moment earlier is no error: MLflow
        answers "No Experiment with id=1 exists" to a restore of an active one, which ended this sweep as an internal error."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.restore_experiment(experiment_id)
        except MlflowException:
            if self.client.get_experiment(experiment_id).lifecycle_stage != "active":
                raise
            _log.debug("experiment %s was restored concurrently", experiment_id)

    def _create_run(self, experiment_id: str, *, tags: dict[str, str], run_name: str, start_time: int | None = None) -> Any:
        """``create_run`` with a ``CREATE_TAG`` value of its own, remembered to tell a twin made by a retry apart."""
        create_id = f"{self._session}-{len(self._created)}"
        run = self.client.create_run(experiment_id, start_time=start_time, tags={**tags, CREATE_TAG: create_id}, run_name=run_name)
        self._created[create_id] = run.info.run_id
        return run

    def _delete_twins(self, experiment_id: str) -> list[str]:
        """Delete the runs a retried create request made a second time (``CREATE_TAG``): never logged to, they stay
        RUNNING, and the run the store answered with holds everything."""
        from mlflow.entities import RunTag

        twins = list(every_page(lambda token: self.client.search_runs(
            [experiment_id], f"tags.`{CREATE_TAG}` LIKE '{self._session}-%' and attributes.status = 'RUNNING'", max_results=1000,
            page_token=token,
        )))  # read before any is deleted: deleting them would move the rest across pages
        deleted = []
        for twin in twins:
            kept = self._created.get(twin.data.tags.get(CREATE_TAG, ""))
            if kept is None or kept == twin.info.run_id:
                continue
            note = f"A twin of run {kept}, made when a request to create it was sent again: deleted, that run holds the results"
            self.client.log_batch(twin.info.run_id, tags=[RunTag(NOTE_TAG, note)])
            self.client.set_terminated(twin.info.run_id, status="KILLED")
            self.client.delete_run(twin.info.run_id)
            deleted.append(twin.info.run_id)
        return deleted

    @tracking_call("starting the sweep")
    def start_sweep(self, spec: ExperimentSpec, dataset: Dataset, corpus: Corpus, variants: Sequence[Variant], *,
                    index_server: str | None = None) -> SweepHandle:
        experiment_id = self._experiment_id(spec)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%SZ")  # one clock for teammates in every time zone
        commit = git_commit(str(spec.base_dir))
        tags = {
            "mlflow.runName": f"{spec.name}-{stamp}",
            "workbench.kind": "sweep",
            "workbench.spec_hash": spec.hash,
            "workbench.dataset_hash": dataset.hash,
            "workbench.corpus_hash": corpus.hash,
            "workbench.git_commit": commit,
            **source_tags(commit, str(spec.base_dir)),
            "workbench.versions": package_versions(),
            "mlflow.user": default_user(),  # as feedback and promotions record it: $WORKBENCH_USER, else the login name
            **process_tags(),
            **index_server_tags(spec, index_server),  # which Chroma server it reads, for a teammate's `cache clear --indexes` to see
        }
        run = self._create_run(experiment_id, tags=tags, run_name=tags["mlflow.runName"])
        with self._ended_if_logging_fails(run.info.run_id):
            try:
                self._log_sweep_inputs(run.info.run_id, spec, dataset, corpus, variants)
            except _OUT_OF_REACH as exc:  # its first artifact: where the experiment keeps them is not this machine's
                location = run.info.artifact_uri.removesuffix("/artifacts").rsplit("/", 1)[0]  # the experiment's, not the run's
                raise out_of_reach(f"experiment '{spec.name}'", location, self.tracking_uri, exc) from None
            if spec.corpus is None:  # given in memory: the documents themselves, for a bundle to rebuild its index from
                self._log_documents(experiment_id, run.info.run_id, corpus)
        return SweepHandle(run.info.run_id, run.info.run_id, experiment_id, self.tracking_uri)

    def _log_sweep_inputs(self, run_id: str, spec: ExperimentSpec, dataset: Dataset, corpus: Corpus, variants: Sequence[Variant]) -> None:
        from mlflow.entities import Param, RunTag

        params = {
            # a dataset or corpus given in memory has no file: its name ("dataframe", "documents"), said to be in memory
            "dataset": spec.dataset.path if spec.dataset is not None else f"{dataset.name} (in memory)",
            "dataset.cases": str(len(dataset)),
            "corpus": spec.corpus.builtin or spec.corpus.path or "" if spec.corpus is not None else f"{corpus.name} (in memory)",
            "corpus.documents": str(len(corpus)),
            "variants": str(len(variants)),
            "seed": str(spec.seed),
            **({f"judge.{k}": str(v) for k, v in spec.judge.model_dump(include=set(_JUDGE_PARAMS)).items() if v is not None} if spec.judge else {}),
        }
        self.client.log_batch(run_id, params=[Param(k, _param(v)) for k, v in params.items()], tags=[RunTag("workbench.sweep_id", run_id)])
        self.client.log_text(run_id, spec.to_yaml(), "experiment.yaml")
        if spec.corpus is not None and spec.corpus.path is not None:  # read from disk, which may change before promotion
            self.client.log_text(run_id, json.dumps(corpus.document_hashes(), ensure_ascii=False), CORPUS_DOCUMENTS_ARTIFACT)
        self._log_dataset(run_id, dataset, corpus)

    def _log_documents(self, experiment_id: str, run_id: str, corpus: Corpus) -> None:
        """Log the documents given in memory, unless an earlier sweep of the experiment holds the very same file: a
        notebook re-running its sweep logged its whole corpus (20 MB of documents: 20 MB) again each time. The sweep
        is tagged with the run that holds them, where promotion reads them. A holder whose file is gone (its artifacts
        deleted or moved away) holds them no more: every later sweep named it, and no sweep's run could be promoted."""
        from mlflow.entities import RunTag

        # the file's digest, line by line: the file itself (a 200 MB export in memory: 200 MB, and as much again encoded)
        # is made only when no earlier sweep holds it
        sha = hashlib.sha256()
        for line in corpus.jsonl_lines():
            sha.update(line.encode())
        digest = sha.hexdigest()
        earlier = self.client.search_runs(
            [experiment_id], f"tags.`workbench.kind` = 'sweep' and tags.`{CORPUS_FILE_TAG}` = '{digest}'", max_results=100,
        )
        # the holders the newest sweeps name, newest first: after 100 sweeps over the same documents the first sweep,
        # which holds them, was no longer among the runs searched, and the documents were logged again
        named = dict.fromkeys(r.data.tags[CORPUS_RUN_TAG] for r in earlier if r.data.tags.get(CORPUS_RUN_TAG))
        holder = next((run_id for run_id in named if self._holds_documents(run_id, experiment_id, digest)), None)
        if holder is None:
            self.client.log_text(run_id, corpus.to_jsonl(), CORPUS_ARTIFACT)
        self.client.log_batch(run_id, tags=[RunTag(CORPUS_FILE_TAG, digest), RunTag(CORPUS_RUN_TAG, holder or run_id)])

    def _holds_documents(self, run_id: str, experiment_id: str, digest: str) -> bool:
        """Whether a sweep of this experiment, active, holds the documents of this digest itself (its file still there)."""
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(run_id)
        except MlflowException:  # deleted for good
            return False
        tags = run.data.tags
        return (run.info.lifecycle_stage == "active" and run.info.experiment_id == experiment_id and tags.get(CORPUS_RUN_TAG) == run_id
                and tags.get(CORPUS_FILE_TAG) == digest and CORPUS_ARTIFACT in {f.path for f in self.client.list_artifacts(run_id)})

    @contextlib.contextmanager
    def _ended_if_logging_fails(self, run_id: str) -> Iterator[None]:
        """A run whose logging fails half way (a name over MLflow's limits, a full disk) ends FAILED with the error
        tagged, or KILLED on Ctrl+C, instead of staying RUNNING for good; the error goes on to the caller. A run whose
        server stopped answering, or does not answer as a Ctrl+C cuts a request short (a server that hangs), is left to
        the next sweep (``close_abandoned``)."""
        try:
            yield
        except BaseException as exc:
            if is_unreachable(exc):  # the server is gone: two more rounds of retries (tag, end) doubled the wait for the
                raise  # error line; the next sweep ends the run KILLED, as a run its sweep left behind
            if isinstance(exc, KeyboardInterrupt) and not self._server_answers():  # each call would hang as the one cut
                self.unreachable = True  # did, until Ctrl+C again: the sweep's end asks once, quickly, too
                raise
            if isinstance(exc, KeyboardInterrupt):  # a server answering its health check may still hold every write
                self.writes_hang = True  # until the run is ended: a Ctrl+C meanwhile leaves the sweep's end alone too
                self.writes_hang = not _done_within(_CUT_SHORT_END_S, functools.partial(self._end_failed, run_id, exc))
                raise
            self._end_failed(run_id, exc)
            raise

    def _end_failed(self, run_id: str, exc: BaseException) -> None:
        """End a run whose logging failed with ``exc``: FAILED with the error tagged, or KILLED (a Ctrl+C)."""
        with contextlib.suppress(Exception):
            self.client.set_tag(run_id, "workbench.error", redact(f"logging this run failed: {type(exc).__name__}: {exc}")[:5000])
        with contextlib.suppress(Exception):
            self.client.set_terminated(run_id, status="FAILED" if isinstance(exc, Exception) else "KILLED")

    @tracking_call("closing abandoned sweeps")
    def close_abandoned(self, spec: ExperimentSpec) -> list[str]:
        """End as KILLED the sweeps of this experiment left RUNNING by a process of this host that no longer exists, or
        by this process when the tracking server was down as they ended, then the variant runs left RUNNING under a
        sweep that is no longer running."""
        found = self.client.get_experiment_by_name(spec.name)
        if found is None:
            return []
        runs = list(every_page(lambda token: self.client.search_runs(
            [found.experiment_id], "tags.`workbench.kind` = 'sweep' and attributes.status = 'RUNNING'", max_results=1000,
            page_token=token,
        )))  # read before any is ended: ending them would move the rest across pages
        ended = []
        for run in runs:
            reason = abandoned_reason(run.data.tags)
            if (self.tracking_uri, run.info.run_id) in _UNENDED:  # this process could not end it: the server was down
                reason = "the tracking server did not answer when the sweep ended"
            # read again now that its process is known gone: a sweep that ended as it was searched is not abandoned
            if reason is None or self._status(run.info.run_id) != "RUNNING":
                continue
            self.client.log_batch(run.info.run_id, tags=_end_reason_tags(reason, "KILLED"))
            self.client.set_terminated(run.info.run_id, status="KILLED")
            _UNENDED.discard((self.tracking_uri, run.info.run_id))
            ended.append(run.info.run_id)
        return ended + self._close_orphaned_variants(found.experiment_id)

    @tracking_call("ending a sweep")
    def end_by_hand(self, run_id: str, reason: str, *, user: str) -> list[str]:
        """End as KILLED a sweep left RUNNING by a process this one cannot see (on another machine or in another
        container: a CI runner that was removed, a laptop that went to sleep), which ``close_abandoned`` leaves alone
        for good, and its variant runs left RUNNING; ``reason`` and ``user`` are recorded. Returns the runs ended.

        Raises:
            WorkbenchError: no such run, not a sweep, not RUNNING, or its process is alive on this machine.
        """
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(run_id)
        except MlflowException:
            raise WorkbenchError(f"no run '{run_id}' in {shown_uri(self.tracking_uri)} — give a sweep's run id (see "
                                 "'workbench list EXPERIMENT')") from None
        if run.data.tags.get("workbench.kind") != "sweep":
            raise WorkbenchError(f"run {run_id} ('{inert(run.info.run_name or '')}') is not a sweep — give a sweep's run id (see "
                                 "'workbench list EXPERIMENT'); a sweep ends its variant runs")
        if run.info.status != "RUNNING":
            raise WorkbenchError(f"sweep {run_id} is not running: it ended {run.info.status} — nothing to end")
        pid = alive_here(run.data.tags)
        if pid is not None:
            raise WorkbenchError(f"sweep {run_id} is running: its process (pid {pid}) is alive on this machine — stop it "
                                 f"(Ctrl+C where it runs, or kill {pid}), and it ends itself")
        said = f"ended by hand by {user}: {reason}"
        variants = list(every_page(lambda token: self.client.search_runs(
            [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run_id}' and attributes.status = 'RUNNING'", page_token=token,
        )))  # read before any is ended: ending them would move the rest across pages
        ended = []
        for variant in variants:  # before the sweep: a variant run is never left RUNNING under an ended sweep
            self.client.log_batch(variant.info.run_id, tags=_end_reason_tags(f"its sweep {run_id} was {said}", "KILLED"))
            self.client.set_terminated(variant.info.run_id, status="KILLED")
            ended.append(variant.info.run_id)
        self.client.log_batch(run_id, tags=_end_reason_tags(said, "KILLED"))
        self.client.set_terminated(run_id, status="KILLED")
        return [run_id, *ended]

    def _status(self, run_id: str) -> str | None:
        """A run's status, or None when the run is gone (deleted for good)."""
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_run(run_id).info.status)
        except MlflowException:
            return None

    def _sweep_live(self, run_id: str) -> bool:
        """Whether a sweep may still be logging its variant runs: RUNNING, and not known abandoned. Its process decides,
        not only its status: a sweep deleted in the MLflow UI while RUNNING stays so (``close_abandoned`` ends the
        runs it finds, which leave out deleted ones), and its variant runs were left RUNNING for good."""
        from mlflow.exceptions import MlflowException

        try:
            run = self.client.get_run(run_id)
        except MlflowException:  # deleted for good
            return False
        unended = (self.tracking_uri, run_id) in _UNENDED
        return run.info.status == "RUNNING" and not unended and abandoned_reason(run.data.tags) is None

    def _close_orphaned_variants(self, experiment_id: str) -> list[str]:
        """End as KILLED the variant runs left RUNNING under a sweep that is no longer running: its process was killed
        while it logged them (a sweep logs each of its variants in full before it ends)."""
        runs = list(every_page(lambda token: self.client.search_runs(
            [experiment_id], "tags.`workbench.kind` = 'variant' and attributes.status = 'RUNNING'", max_results=1000,
            page_token=token,
        )))  # read before any is ended: ending them would move the rest across pages
        sweeps: dict[str, bool] = {}
        ended = []
        for run in runs:
            parent = run.data.tags.get("mlflow.parentRunId")
            if parent is None:
                continue
            if parent not in sweeps:  # read after the variant: a sweep that is still running is RUNNING now
                sweeps[parent] = self._sweep_live(parent)
            # read again after its sweep: a live sweep ends each variant run before itself, so one still RUNNING now is
            # abandoned, while one read RUNNING before its sweep ended may have been logged in full since
            if sweeps[parent] or self._status(run.info.run_id) != "RUNNING":
                continue
            reason = (f"abandoned: its sweep {parent} ended while this run was being logged (killed or crashed) — run the "
                      "experiment again to log the variant in full")
            self.client.log_batch(run.info.run_id, tags=_end_reason_tags(reason, "KILLED"))
            self.client.set_terminated(run.info.run_id, status="KILLED")
            ended.append(run.info.run_id)
        return ended

    def end_sweep(
        self,
        sweep: SweepHandle,
        results: Sequence[VariantResult],
        status: str,
        *,
        comparison: SweepComparison | None = None,
        comparison_key: str | None = None,
        error: str | None = None,
    ) -> None:
        """Log the sweep's totals, leaderboard and comparison (tagged with ``comparison_key`` once all of it is logged)
        and end its parent run.

        Raises:
            TrackingUnavailable: the tracking server does not answer; the parent run stays RUNNING until the next sweep
                of this experiment (``close_abandoned``) ends it as KILLED.
        """
        holding = TrackingUnavailable(shown_uri(self.tracking_uri), "ending the sweep", "it took writes and answered none")
        ending = functools.partial(self._end_sweep, sweep, results, status, comparison=comparison, comparison_key=comparison_key, error=error)
        cut = False
        try:
            if self.writes_hang:  # a variant's run could not be ended: each call would wait as its did
                raise holding
            if self.unreachable and not self._server_answers():  # not another round of retries: it was down a moment ago
                raise TrackingUnavailable(shown_uri(self.tracking_uri), "ending the sweep", "still down")
            if not self._ending_cut:
                ending()
            elif not _done_within(_CUT_SHORT_END_S, ending):  # the Ctrl+C may have cut a write the server holds
                raise holding
        except TrackingUnavailable as down:
            _UNENDED.add((self.tracking_uri, sweep.run_id))
            down.parent_not_ended(sweep.run_id)
            raise
        except KeyboardInterrupt:
            cut = True
            raise
        finally:
            self._forget_reads()  # the artifacts of runs it did not copy (a sweep stopped before them)
            self._sweep_runs.pop(sweep.run_id, None)
            self.writes_hang, self._ending_cut = False, cut  # the next sweep of this tracker tries its server again

    @tracking_call("ending the sweep")
    def _end_sweep(
        self,
        sweep: SweepHandle,
        results: Sequence[VariantResult],
        status: str,
        *,
        comparison: SweepComparison | None,
        comparison_key: str | None,
        error: str | None,
    ) -> None:
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        finished = [r for r in results if r.status == "FINISHED"]
        totals = sweep_totals(results)
        metrics = [
            Metric("variants_finished", float(len(finished)), now, 0),
            Metric("variants_failed", float(len(results) - len(finished)), now, 0),
            Metric("variants_reused", float(sum(1 for r in results if r.reused_from)), now, 0),
            *(Metric(name, value, now, 0) for name, value in totals.items()),  # what the sweep spent
        ]
        reason = redact(error)[:5000] if error else None  # redacted before a cut can split a key
        tags = _end_reason_tags(reason, status) if reason else []
        # the run page's description: how it ended, the variants ranked and linked, the comparison (after the reason's
        # own note, which it replaces); its comparison is comparison.txt too, built once for both
        text = _comparison_text(comparison)
        note = sweep_note(results, status, experiment_id=sweep.experiment_id, error=reason, totals=totals, comparison=text)
        tags = [t for t in tags if t.key != NOTE_TAG] + [RunTag(NOTE_TAG, _note(note, "the leaderboard is in leaderboard.json", limit=MAX_RUN_NOTE))]
        if results:  # what ``log_table`` tags a table with: the MLflow UI shows the artifact as a table, not as raw JSON
            tables = json.loads(self._sweep_data(sweep).tags.get(LOGGED_ARTIFACTS_TAG, "[]"))
            if (entry := {"path": LEADERBOARD_TABLE, "type": "table"}) not in tables:  # with the totals: one transaction
                tags.append(RunTag(LOGGED_ARTIFACTS_TAG, json.dumps([*tables, entry])))
        self._delete_twins(sweep.experiment_id)
        self.client.log_batch(sweep.run_id, metrics=metrics, tags=tags)
        if results:
            self.client.log_dict(sweep.run_id, leaderboard_table(results), LEADERBOARD_TABLE)
        if comparison is not None and self._log_comparison(sweep.run_id, comparison, text) and comparison_key and status == "FINISHED":
            self.client.set_tag(sweep.run_id, COMPARISON_KEY_TAG, comparison_key)  # all of it logged: a sweep of the same runs copies it
        self.client.set_terminated(sweep.run_id, status=status, end_time=now)

    def _server_answers(self) -> bool:
        """Whether the tracking server answers its health check within 3 s (one try); a database server, one login."""
        import urllib.error
        import urllib.parse
        import urllib.request

        if not self.tracking_uri.startswith(("http://", "https://")):
            try:
                check_store(self.tracking_uri, must_exist=False)
            except WorkbenchError:
                return False
            return True
        parts = urllib.parse.urlsplit(self.tracking_uri)
        url = urllib.parse.urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path.rstrip("/") + "/health", "", ""))
        try:
            with urllib.request.urlopen(url, timeout=3):
                return True
        except urllib.error.HTTPError:
            return True  # it answered
        except (urllib.error.URLError, OSError):
            return False

    def _log_comparison(self, run_id: str, comparison: SweepComparison, text: str | None) -> bool:
        """``comparison.json``, ``comparison.txt`` (``text``: the comparison's summary, None when it could not be made)
        and ``plots/`` on the parent run (the plots of a ``LoggedComparison`` copied from its run); whether all of it was
        logged. A failure here is a warning, never a failed sweep. With ``WORKBENCH_PLOTS=0`` no plot is logged, so
        not all of it: a later sweep of the same runs makes its comparison (and plots, if wanted) instead of copying."""
        try:
            self.client.log_dict(run_id, comparison.to_dict(), COMPARISON_FILE)
            if text is None:  # _comparison_text said why
                return False
            self.client.log_text(run_id, text, COMPARISON_TEXT)
            if not plots_wanted():
                return False
            if isinstance(comparison, LoggedComparison):
                self._copy_plots(comparison, run_id)
                return True
            plots = comparison.plots()
        except Exception as exc:  # noqa: BLE001 - derived data: the variants are already logged
            _log.warning("could not log the comparison of sweep %s: %s: %s", run_id, type(exc).__name__, exc)
            return False
        logged = True
        for name, figure in plots.items():
            path = f"{PLOTS_DIR}/{name}.png"
            try:
                self.client.log_figure(run_id, figure, path, save_kwargs={"dpi": 120})
            except Exception as exc:  # noqa: BLE001 - a plot is a nicety; the sweep's results are already logged
                _log.warning("could not log %s on run %s: %s: %s", path, run_id, type(exc).__name__, exc)
                logged = False
        return logged

    def _copy_plots(self, comparison: LoggedComparison, run_id: str) -> None:
        """The plots of the earlier sweep whose comparison this sweep copies, logged on its parent run as they are."""
        if not comparison.plots_logged:
            return
        with tempfile.TemporaryDirectory(prefix="wb-plots-") as tmp, reading_artifacts(self.client, comparison.run_id):
            repo = run_artifacts(comparison.artifact_uri, self.tracking_uri)
            for path in comparison.plots_logged:
                repo.download_artifacts(path, tmp)
            self.client.log_artifacts(run_id, str(Path(tmp) / PLOTS_DIR), PLOTS_DIR)

    def earlier_comparison(self, sweep: SweepHandle, key: str, results: Sequence[VariantResult]) -> LoggedComparison | None:
        """The comparison, text and plots the newest FINISHED sweep of this experiment logged under ``key`` (the same
        variant runs, seed and code), for ``results``; None when there is none or it cannot be read (the sweep computes
        its own then)."""
        if self.writes_hang:  # as the sweep ends: its comparison is not logged either
            return None
        try:
            return self._earlier_comparison(sweep, key, results)
        except KeyboardInterrupt:  # as the sweep ends: ending it then waits a few seconds at most
            self._ending_cut = True
            raise

    def _earlier_comparison(self, sweep: SweepHandle, key: str, results: Sequence[VariantResult]) -> LoggedComparison | None:
        try:
            found = self.client.search_runs(
                [sweep.experiment_id], f"tags.`{COMPARISON_KEY_TAG}` = '{key}' and attributes.status = 'FINISHED'",
                order_by=["attributes.start_time DESC"], max_results=1,
            )
            if not found:
                return None
            run_id, artifact_uri = found[0].info.run_id, found[0].info.artifact_uri
            data = json.loads(artifact_bytes(self.client, run_id, COMPARISON_FILE, artifact_uri=artifact_uri))
            text = artifact_bytes(self.client, run_id, COMPARISON_TEXT, artifact_uri=artifact_uri).decode("utf-8")
            listed = run_artifacts(artifact_uri, self.tracking_uri).list_artifacts(PLOTS_DIR)
            plots = tuple(sorted(f.path for f in listed if not f.is_dir))
        except Exception as exc:  # noqa: BLE001 - derived data: computed again
            _log.debug("could not read the comparison of an earlier sweep: %s: %s", type(exc).__name__, exc)
            return None
        return LoggedComparison(with_run_ids(data, results), text, run_id, plots, artifact_uri)

    # -- variant -------------------------------------------------------------------------------------------------

    def _log_dataset(self, run_id: str, dataset: Dataset, corpus: Corpus | None = None) -> None:
        """The questions as the run's ``evaluation`` input; with ``corpus`` (the sweep's run), the documents as its
        ``corpus`` input too, which the MLflow UI lists beside them."""
        inputs = [self._dataset_input(dataset), *((_corpus_input(corpus),) if corpus is not None else ())]
        try:
            self.client.log_inputs(run_id, inputs)
        except Exception as exc:
            # MLflow looks the dataset up, then inserts it: another process logging the same dataset in between makes
            # the insert a duplicate. It exists now, so the second try links it.
            if not any(s in str(exc) for s in ("UNIQUE constraint failed", "UniqueViolation", "Duplicate entry", "duplicate key")):
                raise
            self.client.log_inputs(run_id, inputs)

    def _dataset_input(self, dataset: Dataset) -> Any:
        """The dataset as MLflow logs it, built once per dataset: the sweep and each of its variants log the same one,
        and building it (a pandas frame, MLflow's profile and schema) took 1.7 s for 5,000 questions."""
        from mlflow.entities import DatasetInput, InputTag

        key = (dataset.hash, dataset.name, dataset.source)
        if key not in self._dataset_inputs:
            frame = dataset.to_pandas()
            frame["source_ids"] = frame["source_ids"].map(list)
            frame["tags"] = frame["tags"].map(list)
            # a dataset file; a DataFrame's source is its name, which may also be a folder's (or nothing's) here
            source = Path(dataset.source).resolve().as_uri() if dataset.source and Path(dataset.source).is_file() else None
            with warnings.catch_warnings():  # a file URI matches two equivalent local source types; MLflow warns
                warnings.simplefilter("ignore", UserWarning)
                ds = self._mlflow.data.from_pandas(frame, source=source, name=_shortened(dataset.name, _MAX_DATASET_NAME),
                                                   digest=dataset.hash[:20])
            self._dataset_inputs[key] = DatasetInput(ds._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", "evaluation")])
        return self._dataset_inputs[key]

    # -- reuse ---------------------------------------------------------------------------------------------------

    @tracking_call("looking for reusable runs")
    def reusable(self, sweep: SweepHandle, keys: Mapping[str, str], limits: Limits | None = None) -> dict[str, str]:
        """Variant id -> the newest FINISHED run of this experiment logged with that variant's reuse key whose
        per-question table is still there and readable: a run whose artifacts were deleted (to save disk, by an
        artifact store's expiry) would be reused as metrics without questions, and left out of every comparison; one
        whose table was cut short (a full disk, a killed sync) would fail every sweep that tried to reuse it. A run whose
        traces lost their scores is not reused either: a run deleted and restored.

        The runs that computed a result are candidates, not their copies (a copy holds the same params, metrics,
        artifacts and traces, and a copy of it would be the same; a copy of a run deleted since is not reused). One
        search finds the candidates of every key and one the first trace of each (by the ids the run recorded; every
        trace of a run logged before it recorded them), whatever the number of variants: a search per variant made a
        warm re-run of a 40-variant grid cost 0.3 s a variant on sqlite, and a round trip each on a tracking server.
        The tables read here are not read again when the runs are copied (``reuse_variant``).

        A run that passed ``limits.max_tokens`` or ``limits.max_cost_usd`` (lowered since it ran) is not reused: this
        sweep would have stopped it (``within_limits``)."""
        parent = self._sweep_data(sweep).tags
        return self._reusable(sweep.experiment_id, keys, {tag: parent[tag] for tag in _DATA_TAGS if tag in parent}, limits)

    def reusable_before(
        self, experiment: str, dataset_hash: str, corpus_hash: str, keys: Mapping[str, str], limits: Limits | None = None
    ) -> dict[str, str]:
        """Variant id -> the run a sweep of ``experiment`` over that dataset and corpus would reuse (``reusable``), found
        before any sweep starts and without writing (a dry run): none in an experiment that does not exist."""
        found = self.client.get_experiment_by_name(experiment)
        if found is None or not keys:
            return {}
        try:
            return self._reusable(str(found.experiment_id), keys, dict(zip(_DATA_TAGS, (dataset_hash, corpus_hash))), limits)
        finally:
            self._forget_reads()  # nothing is copied: the artifacts read for the check go now

    def _reusable(self, experiment_id: str, keys: Mapping[str, str], data: Mapping[str, str], limits: Limits | None) -> dict[str, str]:
        """``reusable`` in the experiment ``experiment_id``, of the runs whose ``_DATA_TAGS`` are ``data``."""
        self._forget_reads()
        self._search = ReuseSearch(self.client, self._artifacts)
        return self._search.find(experiment_id, keys, data, limits)

    def _forget_reads(self) -> None:
        """Remove the artifacts an earlier reuse check downloaded."""
        if self._search is not None:
            self._search.close()
        self._search = None

    def _artifacts(self, run: Any) -> Any:
        """The artifact repository of a run (``run_artifacts``): through ``MlflowClient``, 57 ms a file against 3 ms,
        two files and a listing for every run a warm sweep reuses."""
        return run_artifacts(run.info.artifact_uri, self.tracking_uri)

    @tracking_call("logging a reused variant")
    def reuse_variant(self, sweep: SweepHandle, variant: Variant, source_run_id: str, dataset: Dataset) -> VariantResult:
        """Log ``source_run_id`` again as a child of this sweep (params, metrics, tags, artifacts; its traces linked,
        not copied) with a tag naming where it came from, and return its result as read back."""
        if self._search is None:  # a run ``reusable`` did not look at
            self._search = ReuseSearch(self.client, self._artifacts)
        read = self._search.take(source_run_id)
        source = read.run
        parent = self._sweep_data(sweep).tags
        tags = {k: v for k, v in source.data.tags.items() if k not in ("mlflow.parentRunId", "mlflow.runName", CREATE_TAG, *_RAN_BY_TAGS)}
        tags.update({k: parent[k] for k in _RAN_BY_TAGS if k in parent})  # a teammate's reused run is this user's copy
        origin = tags.get(REUSED_FROM_TAG) or source_run_id
        tags.update({"mlflow.parentRunId": sweep.run_id, REUSED_FROM_TAG: origin,
                     # a link the run page opens (the UI renders the description as markdown)
                     NOTE_TAG: f"Reused from run [{origin}](#/experiments/{sweep.experiment_id}/runs/{origin}) (an earlier "
                               "sweep's results for this variant, its traces linked): nothing was computed again"})
        run = self._create_child(sweep, variant, source.info.start_time)
        with self._ended_if_logging_fails(run.info.run_id):
            try:
                return self._copy_reused(sweep, run.info.run_id, variant, read, origin, tags, dataset)
            finally:
                shutil.rmtree(read.folder, ignore_errors=True)

    def _copy_reused(
        self, sweep: SweepHandle, run_id: str, variant: Variant, read: _ReadRun, origin: str, tags: dict[str, str], dataset: Dataset
    ) -> VariantResult:
        from mlflow.entities import Metric, Param, RunTag

        from workbench.pipeline import ChunkStats, chunk_stats as empty_chunk_stats
        from workbench.sandbox import Outcome

        source = read.run
        now = int(time.time() * 1000)
        # the source's params, and those an older workbench did not log yet (``prompt.hash``): the same variant, so its
        # runs line up in the UI's columns and charts with the ones this sweep computed
        logged = {**{k: _param(redact(v), "variant.yaml") for k, v in variant.params().items()}, **source.data.params, **self._judge_params(sweep, variant)}
        params = [Param(k, v) for k, v in logged.items()]
        metrics = [Metric(k, float(v), now, 0) for k, v in reused_metrics(source.data.metrics).items()]
        self._log_batch(run_id, params, metrics, [RunTag(k, v) for k, v in tags.items()])
        table = read.folder / RESULTS_TABLE  # read as JSON by the reuse check
        table.write_text(json.dumps(with_current_metadata(json.loads(table.read_bytes()), dataset)), encoding="utf-8")
        self.client.log_artifacts(run_id, str(read.folder))
        trace_ids = read.trace_ids
        if trace_ids is None:
            trace_ids = [t.trace_id for t in self._trace_infos(sweep.experiment_id, origin)]
        for batch in chunked(trace_ids, 100):
            self.client.link_traces_to_run(batch, run_id=run_id)
        self._log_dataset(run_id, dataset)
        self.client.set_terminated(run_id, status="FINISHED", end_time=source.info.end_time or now)
        chunk_stats = ChunkStats.from_dict(read.stats) if read.stats else empty_chunk_stats([])
        return VariantResult(
            variant=variant, outcome=Outcome("FINISHED"), records=records_from_table(read.rows, dataset, generates=variant.generates),
            metrics=reused_metrics(source.data.metrics), chunk_stats=chunk_stats, started_ms=source.info.start_time,
            ended_ms=source.info.end_time or now, run_id=run_id, reused_from=origin, tracking_uri=self.tracking_uri,
        )

    def _log_batch(self, run_id: str, params: list[Any], metrics: list[Any], tags: list[Any]) -> None:
        """Params, metrics and tags in as few ``log_batch`` calls as MLflow's limits allow (one, for a usual variant:
        at most 100 params, 100 tags, 1000 entries in all)."""
        if len(params) <= 100 and len(tags) <= 100 and len(params) + len(metrics) + len(tags) <= 1000:
            self.client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
            return
        for batch in chunked(params, 100):
            self.client.log_batch(run_id, params=batch)
        for batch in chunked(metrics, 900):
            self.client.log_batch(run_id, metrics=batch)
        for batch in chunked(tags, 100):
            self.client.log_batch(run_id, tags=batch)

    def _trace_infos(self, experiment_id: str, run_id: str) -> list[Any]:
        """The run's traces (their infos, with their assessments; no spans), every page."""
        pages = every_page(lambda token: self.client.search_traces(
            locations=[experiment_id], run_id=run_id, include_spans=False, page_token=token))
        return [trace.info for trace in pages]

    @tracking_call("logging a variant")
    def log_variant(
        self, sweep: SweepHandle, result: VariantResult, dataset: Dataset, *, reuse_key: str | None = None,
        models: Mapping[str, str] | None = None, on_logged: Callable[[int], None] | None = None,
    ) -> VariantResult:
        from dataclasses import replace

        variant = result.variant
        tags = {
            "mlflow.parentRunId": sweep.run_id,
            RUN_TYPE_TAG: EVAL_RUN_TYPE,
            "workbench.kind": "variant",
            "workbench.variant_id": variant.id,
            "workbench.index_key": variant.index_key,
            "workbench.generates": str(variant.generates).lower(),
            "workbench.status": result.status,
        }
        if variant.prompt is not None:
            tags["workbench.prompt_hash"] = prompt_hash(variant.prompt)
        tags.update(lower_is_better_tag((name for r in result.records for name in r.scores), lambda m: direction(m) == "lower"))
        if result.chunk_stats.sha256 is not None:  # the chunks it retrieved from, which its bundle checks
            tags[CHUNKS_TAG], tags[CHUNKS_SHA256_TAG] = str(result.chunk_stats.count), result.chunk_stats.sha256
        parent = self._sweep_data(sweep)
        for key in ("workbench.spec_hash", "workbench.dataset_hash", "workbench.corpus_hash", "workbench.git_commit", "workbench.versions", *_RAN_BY_TAGS):
            if key in parent.tags:
                tags[key] = parent.tags[key]
        tags["workbench.seed"] = parent.params.get("seed", "0")
        if models:
            tags[MODELS_TAG] = json.dumps(dict(models), sort_keys=True)
        if result.outcome.error:
            tags["workbench.error"] = redact(result.outcome.error)[:5000]  # redacted before a cut can split a key
            tags["workbench.error_kind"] = result.outcome.error_kind or ""
        note = _variant_note(result)
        if note is not None:
            tags[NOTE_TAG] = note
        if result.stopped_early is not None:
            tags.update(racing_tags(result.stopped_early))
        elif reuse_key is not None and result.complete:  # a run stopped early or with question errors is never reused
            tags[REUSE_KEY_TAG] = reuse_key
        run = self._create_child(sweep, variant, result.started_ms)
        with self._ended_if_logging_fails(run.info.run_id):
            self._log_variant_run(sweep, run, result, dataset, tags, on_logged)
        return replace(result, run_id=run.info.run_id, tracking_uri=self.tracking_uri)

    def _judge_params(self, sweep: SweepHandle, variant: Variant) -> dict[str, str]:
        """The judge that scored a variant's answers (``judge.id``, ``judge.n``...: the sweep's), for the MLflow UI's
        run table and a bundle's EVALUATION.md; none for a variant that only retrieves (nothing of it is judged)."""
        if not variant.generates:
            return {}
        return {k: v for k, v in self._sweep_data(sweep).params.items() if k.startswith("judge.")}

    def _sweep_data(self, sweep: SweepHandle) -> Any:
        """The sweep's parent run data (the tags and params ``start_sweep`` logged, which its variant runs repeat), read
        once per sweep: each computed variant looked the parent run up again, a round trip each on a tracking server."""
        if sweep.run_id not in self._sweep_runs:
            self._sweep_runs[sweep.run_id] = self.client.get_run(sweep.run_id).data
        return self._sweep_runs[sweep.run_id]

    def _create_child(self, sweep: SweepHandle, variant: Variant, start_time: int | None) -> Any:
        """A variant's run under the sweep. An experiment deleted while its sweep ran (in the MLflow UI) is one line
        saying so, not MLflow's "The experiment 1 must be in the 'active' state. Current state is deleted"."""
        from mlflow.exceptions import MlflowException

        try:
            return self._create_run(sweep.experiment_id, start_time=start_time, tags=_child_tags(sweep, variant), run_name=run_name(variant))
        except MlflowException:
            found = self.client.get_experiment(sweep.experiment_id)
            if found.lifecycle_stage != "deleted":
                raise
            raise WorkbenchError(f"experiment '{found.name}' was deleted in {shown_uri(self.tracking_uri)} while this sweep ran — restore "
                                 f"it ('mlflow experiments restore --experiment-id {found.experiment_id}', MLFLOW_TRACKING_URI set to this "
                                 "store), or run the experiment again, which restores it (what this sweep computed comes from the cache)") from None

    def _log_variant_run(
        self, sweep: SweepHandle, run: Any, result: VariantResult, dataset: Dataset, tags: dict[str, str],
        on_logged: Callable[[int], None] | None = None,
    ) -> None:
        """Params, metrics and tags in one ``log_batch``, the run's files in one folder written to its artifact
        repository, its traces, ``trace_ids.json`` once they are stored, its dataset, its end. Through ``MlflowClient``
        each file looked the run up (its artifact location), and ``log_table`` listed the run's files, read the run
        again and set ``mlflow.loggedArtifacts`` on its own: ten store transactions a variant, for the same files and tags."""
        from mlflow.entities import Metric, Param, RunTag

        variant, run_id = result.variant, run.info.run_id
        params = [Param(k, _param(redact(v), "variant.yaml")) for k, v in {**variant.params(), **self._judge_params(sweep, variant)}.items()]
        metrics = [Metric(k, float(v), result.ended_ms, 0) for k, v in result.metrics.items()]
        if result.records:  # what ``log_table`` tags a run with: the MLflow UI shows its table as one
            tags = {**tags, LOGGED_ARTIFACTS_TAG: json.dumps([{"path": RESULTS_TABLE, "type": "table"}])}
        self._log_batch(run_id, params, metrics, [RunTag(k, v) for k, v in tags.items()])
        repo = run_artifacts(run.info.artifact_uri, self.tracking_uri)
        with tempfile.TemporaryDirectory(prefix="wb-variant-") as tmp:
            files = Path(tmp) / "files"
            files.mkdir()
            if variant.prompt is not None:
                _write_text(files / "prompt_template.txt", variant.prompt.template or "")
                if variant.prompt.system:  # sent before the template: part of the prompt the answers came from
                    _write_text(files / "prompt_system.txt", variant.prompt.system)
            _write_text(files / "variant.yaml", dump_yaml(variant.to_dict()))
            _write_json(files / _CHUNK_STATS, result.chunk_stats.as_dict())
            if result.outcome.error:
                _write_text(files / "error.txt", (result.outcome.traceback or result.outcome.error) + "\n")
            if result.records:  # as ``log_table`` writes it
                redacted(result.records_frame()).to_json(files / RESULTS_TABLE, orient="split", index=False, date_format="iso")
            repo.log_artifacts(str(files))
            if result.records:
                trace_ids = self._log_traces(sweep, run_id, result, dataset, on_logged)
                _write_json(Path(tmp) / _TRACE_IDS, trace_ids)  # once every trace is stored: the reuse check trusts it
                repo.log_artifact(str(Path(tmp) / _TRACE_IDS))
        self._log_dataset(run_id, dataset)
        status = "FINISHED" if result.status == "FINISHED" else ("KILLED" if result.status == "STOPPED" else "FAILED")
        self.client.set_terminated(run_id, status=status, end_time=result.ended_ms)

    def _log_traces(
        self, sweep: SweepHandle, run_id: str, result: VariantResult, dataset: Dataset, on_logged: Callable[[int], None] | None = None,
    ) -> list[str]:
        """One trace per question, written in bulk (``_traces``): one transaction per trace and one per 50 traces' spans;
        their ids."""
        positions = {case.id: i for i, case in enumerate(dataset.cases)}
        source = self._run_source(sweep)
        traces = (question_trace(sweep, run_id, result.variant, record, positions.get(record.case.id), source) for record in result.records)
        trace_ids = write_traces(self.tracing, sweep.experiment_id, traces, on_logged)  # built as they are written
        for batch in chunked(trace_ids, 100):
            self.client.link_traces_to_run(batch, run_id=run_id)
        return trace_ids

    def _run_source(self, sweep: SweepHandle) -> dict[str, str]:
        """Who ran a sweep's variant runs, from where, at which commit (their sweep's, looked up as it started): the
        trace metadata that says so for each of their traces."""
        tags = self._sweep_data(sweep).tags
        return {key: tags[key] for key in _RAN_BY_TAGS if key in tags}


def _write_text(path: Path, text: str) -> None:
    """A text artifact as ``MlflowClient.log_text`` writes it, redacted as every argument handed to MLflow is."""
    path.write_text(redacted(text), encoding="utf-8")


def _write_json(path: Path, value: Any) -> None:
    """A JSON artifact as ``MlflowClient.log_dict`` writes it, redacted as every argument handed to MLflow is."""
    path.write_text(json.dumps(redacted(value), indent=2, default=str), encoding="utf-8")


def _corpus_input(corpus: Corpus) -> Any:
    """The corpus as an MLflow dataset input (context ``corpus``): its name, its hash as digest (as the questions' is
    theirs), where its documents are, and how many. Metadata only: its documents are not profiled or copied."""
    from mlflow.entities import Dataset as LoggedDataset, DatasetInput, InputTag

    folder = Path(corpus.source) if corpus.source else None
    located = folder is not None and folder.exists()
    logged = LoggedDataset(
        name=_shortened(corpus.name, _MAX_DATASET_NAME), digest=corpus.hash[:20], source_type="local" if located else "code",
        source=json.dumps({"uri": folder.resolve().as_uri()} if located and folder is not None else {"name": corpus.source or corpus.name}),
        profile=json.dumps({"num_documents": len(corpus)}),
    )
    return DatasetInput(logged, tags=[InputTag("mlflow.data.context", "corpus")])


# what writing to an artifact location raises when it is a path of another machine or a bucket of a missing library
# (not a full disk: that is the error it is)
_OUT_OF_REACH = (ImportError, NotADirectoryError, PermissionError, FileNotFoundError)


def _comparison_text(comparison: SweepComparison | None) -> str | None:
    """The comparison's plain-text summary for the sweep's description, or None (derived data: never a failed sweep)."""
    if comparison is None:
        return None
    try:
        return comparison.summary()
    except Exception as exc:  # noqa: BLE001 - the variants are logged; comparison.json says the same or is missing too
        _log.warning("could not summarise the comparison: %s: %s", type(exc).__name__, exc)
        return None


def _done_within(seconds: float, work: Callable[[], None]) -> bool:
    """Whether ``work``, run in a daemon thread, ended within ``seconds`` (what it raised then is raised here); past
    them it is left to end, or not, alone."""
    done = threading.Event()
    failed: list[BaseException] = []

    def call() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - raised in the waiting thread
            failed.append(exc)
        finally:
            done.set()

    threading.Thread(target=call, name="workbench-end-cut-short", daemon=True).start()
    if not done.wait(seconds):
        return False
    if failed:
        raise failed[0]
    return True
