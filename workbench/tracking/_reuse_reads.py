"""The reuse check: finding the earlier variant runs a sweep can reuse (``ReuseSearch``), and what it reads of each
(``_ReadRun``): its per-question table and chunk statistics, the ids of its traces it recorded, and whether those
traces still carry their scores."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.tracking._read import RESULTS_TABLE, chunked, every_page, reading_artifacts
from workbench.spec import Limits
from workbench.tracking._reuse import REUSE_KEY_TAG, REUSED_FROM_TAG, within_limits

_CANDIDATES = 10  # runs of one reuse key looked at, newest first, for one whose table is intact

_CHUNK_STATS = "chunk_stats.json"  # a variant run's chunk statistics (count, lengths, chunks cut by the embedding model)
# the ids of the traces a variant run logged, in question order: a warm re-run checks one of them for its scores and
# links them all to its copy, where listing them (MLflow builds every trace's assessments) took 2.5 s for 800 traces
_TRACE_IDS = "trace_ids.json"
_TRACE_ID = re.compile(r"[\w.:-]+")  # what a recorded trace id may hold (MLflow's are "tr-" and hexadecimal)


@dataclass(frozen=True)
class _ReadRun:
    """A run the reuse check read: the run as searched, its artifacts downloaded to ``folder``, its table's rows and
    chunk statistics, and the ids of its traces when it recorded them (``_TRACE_IDS``; None for a run logged before)."""

    run: Any
    folder: Path
    rows: list[dict[str, Any]]
    stats: dict[str, Any]
    trace_ids: list[str] | None = None


def _recorded_trace_ids(path: Path) -> list[str] | None:
    """The trace ids a run recorded in ``path`` (``_TRACE_IDS``), or None when it has none that read (logged before they
    were recorded, or the file was edited): its traces are then listed by a search."""
    try:
        ids = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    # an id is quoted in a search's filter: one edited to hold a quote would break it
    return ids if isinstance(ids, list) and all(isinstance(i, str) and _TRACE_ID.fullmatch(i) for i in ids) else None


def _scores_kept(traces: Sequence[Any]) -> bool:
    """Whether a run's traces (their infos) still carry their scores. Deleting a run (the MLflow UI's Delete, or deleting
    its experiment) deletes the assessments on its traces, which every copy of it links instead of holding, and
    restoring it (or the next sweep restoring its experiment) does not bring them back."""
    return bool(traces) and bool(traces[0].assessments)


class ReuseSearch:
    """One reuse check against a store: finds the runs to reuse (``find``) and keeps what it downloaded of them for
    their copies (``take``) until ``close``.

    Args:
        client: the tracker's ``MlflowClient``.
        artifacts: a run's artifact repository (``MlflowTracker._artifacts``).
    """

    def __init__(self, client: Any, artifacts: Callable[[Any], Any]) -> None:
        self.client = client
        self._artifacts = artifacts
        self._reads: dict[str, _ReadRun] = {}  # run id -> what was read of it, for the copy
        self._folder: tempfile.TemporaryDirectory[str] | None = None  # holding their artifacts

    def find(self, experiment_id: str, keys: Mapping[str, str], data: Mapping[str, str], limits: Limits | None = None) -> dict[str, str]:
        """Variant id -> the run to reuse for its reuse key in ``keys``, of the runs in the experiment ``experiment_id``
        whose data tags (dataset and corpus hashes) are ``data`` (``MlflowTracker.reusable`` says which) and that stayed
        within ``limits`` (``within_limits``; a candidate that did not is not read)."""
        by_key = {key: variant_id for variant_id, key in keys.items()}
        listed = self._candidates(experiment_id, data, set(by_key))
        pending = {key: kept for key, runs in listed.items() if (kept := [r for r in runs if within_limits(r.data.metrics, limits)])}
        out = {}
        while pending:  # each key's newest readable candidate, all checked at once; a key whose pick failed, its next
            picks = {key: read for key, runs in pending.items() if (read := self._next_read(runs)) is not None}
            kept = self._scores_kept_of(experiment_id, list(picks.values()))
            for key, read in picks.items():
                run_id = read.run.info.run_id
                if kept[run_id]:
                    out[by_key[key]] = run_id
                    pending.pop(key)
                else:
                    shutil.rmtree(self._reads.pop(run_id).folder, ignore_errors=True)
            pending = {key: runs for key, runs in pending.items() if key in picks and runs}
        return out

    def _next_read(self, runs: list[Any]) -> _ReadRun | None:
        """The first of ``runs`` whose results read (``_read``), taken off the list with those before it."""
        while runs:
            run = runs.pop(0)
            if self._read(run):
                return self._reads[run.info.run_id]
        return None

    def _scores_kept_of(self, experiment_id: str, reads: Sequence[_ReadRun]) -> dict[str, bool]:
        """Run id -> whether its traces still carry their scores (``_scores_kept``); the ids of its traces are kept for
        its copy. A run that recorded its trace ids has its first trace looked up by id, with those of the others (one
        search per 100 runs); a run logged before they were recorded has all its traces listed (``_traces_by_run``)."""
        recorded = {r.run.info.run_id: r.trace_ids for r in reads if r.trace_ids is not None}
        firsts = self._trace_infos_by_id(experiment_id, [ids[0] for ids in recorded.values() if ids])
        listed = self._traces_by_run(experiment_id, [r.run.info.run_id for r in reads if r.trace_ids is None])
        kept = {}
        for run_id, ids in recorded.items():
            kept[run_id] = bool(ids) and _scores_kept([firsts[ids[0]]] if ids[0] in firsts else [])
        for run_id, infos in listed.items():
            kept[run_id] = _scores_kept(infos)
            self._reads[run_id] = replace(self._reads[run_id], trace_ids=[t.trace_id for t in infos])  # listed: for its copy
        return kept

    def _trace_infos_by_id(self, experiment_id: str, trace_ids: Sequence[str]) -> dict[str, Any]:
        """Trace id -> its info (with its assessments, no spans), for those of ``trace_ids`` the experiment still has."""
        found = {}
        for batch in chunked(sorted(set(trace_ids)), 100):
            listed = ", ".join(f"'{trace_id}'" for trace_id in batch)  # nothing to escape (_TRACE_ID)
            pages = every_page(lambda token, listed=listed: self.client.search_traces(
                locations=[experiment_id], filter_string=f"trace.request_id IN ({listed})", include_spans=False,
                max_results=100, page_token=token))
            found.update({trace.info.trace_id: trace.info for trace in pages})
        return found

    def _candidates(self, experiment_id: str, data: Mapping[str, str], keys: set[str]) -> dict[str, list[Any]]:
        """Reuse key -> the FINISHED runs that computed it (not copies), newest first, at most ``_CANDIDATES``;
        only runs of the dataset and corpus ``data`` names are listed (their hashes are in every key).

        What is read grows with the grid, not with the experiment's history: one search lists the newest computed runs,
        twice as many as there are keys; when the history is longer than that, each key not among them is looked up by
        itself. Listing every run ever computed on the same data read each of them whole (8 ms a run through a
        tracking server: 30 s after 100 sweeps of a 40-variant grid whose prompts changed); MLflow's search has no OR
        nor IN for tags to ask for all the keys in one query."""
        if not keys:
            return {}
        query = (f"tags.`{REUSE_KEY_TAG}` IS NOT NULL and tags.`{REUSED_FROM_TAG}` IS NULL and tags.`workbench.status` = 'FINISHED' "
                 "and attributes.status = 'FINISHED'")
        query += "".join(f" and tags.`{tag}` = '{value}'" for tag, value in data.items())

        def newest(where: str, n: int) -> Any:
            return self.client.search_runs([experiment_id], where, order_by=["attributes.start_time DESC"], max_results=n)

        first = newest(query, min(1000, max(2 * len(keys), _CANDIDATES)))
        found: dict[str, list[Any]] = {}
        for run in first:
            key = run.data.tags.get(REUSE_KEY_TAG)
            if key in keys and len(found.setdefault(key, [])) < _CANDIDATES:
                found[key].append(run)
        if first.token:  # a longer history: the keys not among the newest runs, one search each (a hash: nothing to escape)
            for key in sorted(keys - found.keys()):
                runs = list(newest(f"{query} and tags.`{REUSE_KEY_TAG}` = '{key}'", _CANDIDATES))
                if runs:
                    found[key] = runs
        return found

    def _traces_by_run(self, experiment_id: str, run_ids: Sequence[str]) -> dict[str, list[Any]]:
        """Run id -> the infos (with their assessments, no spans) of the traces it logged, in the order a search of
        that run lists them: one search for up to 100 runs, every page."""
        from mlflow.tracing.constant import TraceMetadataKey

        found: dict[str, list[Any]] = {run_id: [] for run_id in run_ids}
        for batch in chunked(sorted(found), 100):  # run ids are hexadecimal: nothing to escape in the pattern
            query = f"metadata.`{TraceMetadataKey.SOURCE_RUN}` RLIKE '^({'|'.join(batch)})$'"
            for trace in every_page(lambda token, query=query: self.client.search_traces(
                    locations=[experiment_id], filter_string=query, include_spans=False, max_results=500, page_token=token)):
                owner = trace.info.trace_metadata.get(TraceMetadataKey.SOURCE_RUN)
                if owner in found:
                    found[owner].append(trace.info)
        return found

    def _read(self, run: Any) -> bool:
        """Whether the run has its per-question table, and it and its chunk statistics (when logged) read as JSON. Its
        artifacts are downloaded once, here, and kept (``_reads``) for the copy to log (``take``)."""
        repo = self._artifacts(run)
        with reading_artifacts(self.client, run.info.run_id):
            logged = [f.path for f in repo.list_artifacts()]
        if RESULTS_TABLE not in logged:
            return False
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="workbench-reuse-")
        folder = Path(self._folder.name) / run.info.run_id
        folder.mkdir()
        with reading_artifacts(self.client, run.info.run_id):
            for path in logged:
                repo.download_artifacts(path, str(folder))
        try:
            table = json.loads((folder / RESULTS_TABLE).read_bytes())
            stats = json.loads((folder / _CHUNK_STATS).read_bytes()) if (folder / _CHUNK_STATS).is_file() else {}
        except ValueError:  # not JSON (cut short, overwritten) or not UTF-8
            return False
        if not (isinstance(table, dict) and isinstance(table.get("columns"), list) and isinstance(table.get("data"), list)
                and isinstance(stats, dict)):
            return False
        rows = [dict(zip(table["columns"], values)) for values in table["data"]]
        self._reads[run.info.run_id] = _ReadRun(run, folder, rows, stats, _recorded_trace_ids(folder / _TRACE_IDS))
        return True

    def take(self, run_id: str) -> _ReadRun:
        """What ``find`` read of ``run_id`` (its folder is the caller's to remove), or, for a run it did not read, read now.

        Raises:
            WorkbenchError: the run's per-question table is missing or cannot be read.
        """
        if run_id not in self._reads and not self._read(self.client.get_run(run_id)):
            raise WorkbenchError(f"run {run_id} cannot be reused: its eval_results.json is missing or cannot be read — run its experiment again")
        return self._reads.pop(run_id)

    def close(self) -> None:
        """Remove the artifacts downloaded for runs not taken."""
        if self._folder is not None:
            self._folder.cleanup()
        self._folder, self._reads = None, {}
