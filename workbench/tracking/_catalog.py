"""What a tracking store holds, as plain values: experiments, their sweeps, variant runs, and what a name or run id
given by a user refers to. The CLI, comparisons and calibration read the store through these functions only."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from workbench.errors import WorkbenchError
from workbench.results import EarlyStop
from workbench.tracking._engines import releases_store
from workbench.tracking._read import _all_runs, _client, _uri, every_page, latest_sweep, store_errors, sweep_variants
from workbench.tracking._reuse import REUSED_FROM_TAG, early_stop_from_tags, lower_is_better_from_tags
from workbench.tracking._unreachable import shown_uri

__all__ = [
    "ExperimentSummary",
    "LoggedRun",
    "LoggedSweep",
    "ResolvedRuns",
    "RunKind",
    "Unlogged",
    "calibration_runs",
    "experiment_sweeps",
    "find_run",
    "list_experiments",
    "require_active",
    "resolve_runs",
    "run_kind",
]

RunKind = Literal["sweep", "variant"]
_SWEEPS = "tags.`workbench.kind` = 'sweep'"


@dataclass(frozen=True)
class LoggedRun:
    """One run of the store.

    Attributes:
        run_id: the MLflow run id.
        name: the run name (a variant's name, or the sweep's name).
        status: FINISHED, FAILED, RUNNING, ...
        kind: the ``workbench.kind`` tag: "sweep", "variant", or "" for a run workbench did not log.
        experiment_id: the experiment it belongs to.
        variant_id: the ``workbench.variant_id`` tag (the run id when absent).
        params: logged parameters (flattened variant configuration).
        metrics: logged aggregate metrics.
        error: the ``workbench.error`` tag of a failed variant, else None.
        stopped_early: why a racing sweep stopped the variant before the last question (its ``workbench.racing.*``
            tags), else None.
        reused_from: the run whose results a sweep reused for this variant (its ``workbench.reused_from`` tag), else None.
        artifact_uri: where the run's artifacts are (``mlflow-artifacts:/...`` on a server, ``file:///...`` on a disk).
        lower_is_better: the run's scorers registered better low when it was logged (``workbench.lower_is_better``),
            which a process that has not registered them cannot know.
        user: who ran it (its ``mlflow.user`` tag: ``$WORKBENCH_USER`` or the login name of whoever ran the sweep), or "".
        sweep_id: the run it is nested under (its ``mlflow.parentRunId`` tag: a variant's sweep), or "".
        dataset_hash: the hash of the questions it was evaluated on (its ``workbench.dataset_hash`` tag), or "".
        corpus_hash: the hash of the documents it retrieved from (its ``workbench.corpus_hash`` tag), or "".
    """

    run_id: str
    name: str
    status: str
    kind: str
    experiment_id: str
    variant_id: str
    params: Mapping[str, str] = field(default_factory=dict, repr=False)
    metrics: Mapping[str, float] = field(default_factory=dict, repr=False)
    error: str | None = None
    stopped_early: EarlyStop | None = None
    reused_from: str | None = None
    artifact_uri: str = ""
    lower_is_better: frozenset[str] = frozenset()
    user: str = ""
    sweep_id: str = ""
    dataset_hash: str = ""
    corpus_hash: str = ""

    @classmethod
    def from_mlflow(cls, run: Any) -> LoggedRun:
        """From an ``mlflow.entities.Run``."""
        tags = run.data.tags
        return cls(
            run_id=run.info.run_id,
            name=run.info.run_name or run.info.run_id,
            status=run.info.status,
            kind=tags.get("workbench.kind", ""),
            experiment_id=run.info.experiment_id,
            variant_id=tags.get("workbench.variant_id", run.info.run_id),
            params=dict(run.data.params),
            metrics=dict(run.data.metrics),
            error=tags.get("workbench.error"),
            stopped_early=early_stop_from_tags(tags),
            reused_from=tags.get(REUSED_FROM_TAG),
            artifact_uri=run.info.artifact_uri or "",
            lower_is_better=lower_is_better_from_tags(tags),
            user=tags.get("mlflow.user", ""),
            sweep_id=tags.get("mlflow.parentRunId", ""),
            dataset_hash=tags.get("workbench.dataset_hash", ""),
            corpus_hash=tags.get("workbench.corpus_hash", ""),
        )


@dataclass(frozen=True)
class ExperimentSummary:
    """An experiment of the store and how many sweeps it holds."""

    name: str
    experiment_id: str
    sweeps: int


@dataclass(frozen=True)
class LoggedSweep:
    """A sweep (parent run) and its variant runs."""

    run: LoggedRun
    variants: tuple[LoggedRun, ...]


@dataclass(frozen=True)
class Unlogged:
    """A sweep that did not finish and logged fewer variant runs than its grid has (``variants``, a param of the sweep):
    interrupted, crashed, or still running."""

    sweep: LoggedRun
    planned: int
    logged: int


@dataclass(frozen=True)
class ResolvedRuns:
    """What ``resolve_runs`` found: the variant runs, the sweep they came from (if one sweep was named), the store, the
    sweeps named whose variants are not all there (``unlogged``), and the seed of every sweep the runs belong to."""

    runs: tuple[LoggedRun, ...]
    parent_run_id: str | None
    tracking_uri: str
    unlogged: tuple[Unlogged, ...] = ()
    seeds: Mapping[str, int | None] = field(default_factory=dict)  # sweep run id: its ``seed`` param (None: unreadable)

    @property
    def seed(self) -> int | None:
        """The seed the runs' sweeps share (their comparison.json used it), or None when they come from sweeps of
        different or unknown seeds, or from none."""
        distinct = set(self.seeds.values())
        return next(iter(distinct)) if len(distinct) == 1 else None


def _unlogged(sweep: LoggedRun, logged: int) -> Unlogged | None:
    """The shortfall of a sweep that did not finish; None for a finished one (a variant missing there was deleted)."""
    planned = sweep.params.get("variants", "")
    if sweep.status == "FINISHED" or not planned.isdigit() or int(planned) <= logged:
        return None
    return Unlogged(sweep, int(planned), logged)


@releases_store(_uri)
def list_experiments(*, tracking_uri: str | None = None) -> tuple[ExperimentSummary, ...]:
    """Every active experiment of the store with its number of sweeps, in MLflow's order (newest first).

    Raises:
        WorkbenchError: the store could not be read.
    """
    uri = _uri(tracking_uri)
    client = _client(uri)
    with store_errors(f"could not list the experiments of {uri}"):
        experiments = _all_experiments(client)
        # one search of every experiment's sweeps, not one per experiment
        sweeps = Counter(r.info.experiment_id for r in _all_runs(client, [e.experiment_id for e in experiments], _SWEEPS))
        return tuple(ExperimentSummary(exp.name, exp.experiment_id, sweeps[exp.experiment_id]) for exp in experiments)


def _all_experiments(client: Any) -> list[Any]:
    """Every active experiment, every page of them."""
    return list(every_page(lambda token: client.search_experiments(max_results=1000, page_token=token)))


def _unknown_name_fix(client: Any, key: str) -> str:
    """What to give instead of an experiment name the store does not have: the name inside an experiment file given
    in its place (``workbench list experiments/quickstart.yaml``), the experiment it likely means, or the listing."""
    import difflib
    from pathlib import Path

    import yaml

    if Path(key).suffix.lower() in (".yaml", ".yml"):
        try:
            name = yaml.safe_load(Path(key).read_text(encoding="utf-8")).get("name")
        except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
            name = None
        named = f", here '{name}'" if isinstance(name, str) else ""
        return f"give the experiment's name (its file's 'name:'{named}), not the file"
    names = [exp.name for exp in _all_experiments(client)]
    meant = next((n for n in names if n.lower() == key.lower()), None) or next(iter(difflib.get_close_matches(key, names, n=1, cutoff=0.75)), None)
    return f"did you mean '{meant}'? (see 'workbench list')" if meant else "see 'workbench list'"


@releases_store(_uri)
def experiment_sweeps(name: str, *, last: int | None = None, tracking_uri: str | None = None) -> tuple[LoggedSweep, ...]:
    """The sweeps of an experiment, newest first, each with its variant runs (newest first).

    Args:
        name: the experiment.
        last: only the newest ``last`` sweeps, whose variant runs alone are read (default: every sweep). A team's
            experiment of hundreds of sweeps holds thousands of runs, all read to show the few a user looks at.
        tracking_uri: the store (default: ``workbench.config.settings()``'s).

    Raises:
        WorkbenchError: there is no experiment of that name, or the store could not be read.
    """
    uri = _uri(tracking_uri)
    client = _client(uri)
    with store_errors(f"could not read experiment '{name}' from {uri}"):
        exp = client.get_experiment_by_name(name)
        if exp is None:
            raise WorkbenchError(f"no experiment named '{name}' in {shown_uri(uri)} — {_unknown_name_fix(client, name)}")
        require_active(exp, uri)
        if last is not None:
            sweeps = _all_runs(client, [exp.experiment_id], _SWEEPS, limit=last)
            return tuple(LoggedSweep(LoggedRun.from_mlflow(s), _variants(_all_runs(client, [exp.experiment_id], _variants_of(s))))
                         for s in sweeps)
        # every sweep: one read of the experiment's runs, not one more per sweep
        runs = _all_runs(client, [exp.experiment_id])
        children: dict[str, list[Any]] = {}
        for run in runs:
            if "mlflow.parentRunId" in run.data.tags:
                children.setdefault(run.data.tags["mlflow.parentRunId"], []).append(run)
        return tuple(
            LoggedSweep(LoggedRun.from_mlflow(s), _variants(children.get(s.info.run_id, [])))
            for s in runs if s.data.tags.get("workbench.kind") == "sweep"
        )


def _variants_of(sweep: Any) -> str:
    """The filter of a sweep's variant runs."""
    return f"tags.`mlflow.parentRunId` = '{sweep.info.run_id}' and tags.`workbench.kind` = 'variant'"


def _variants(runs: Sequence[Any]) -> tuple[LoggedRun, ...]:
    """A sweep's variant runs among its child runs (not a run another tool nested under it)."""
    return tuple(LoggedRun.from_mlflow(r) for r in runs if r.data.tags.get("workbench.kind") == "variant")


def require_active(exp: Any, uri: str) -> None:
    """A deleted experiment's runs are deleted with it: say so, rather than that it has no sweeps."""
    if exp.lifecycle_stage == "deleted":
        raise WorkbenchError(f"experiment '{exp.name}' is deleted in {shown_uri(uri)} — restore it with 'mlflow experiments restore "
                             f"--experiment-id {exp.experiment_id}' (MLFLOW_TRACKING_URI set to this store), or run its sweep again")


def _get_run(client: Any, run_id: str, uri: str) -> Any | None:
    """The run with this id, or None when the store has none.

    Raises:
        WorkbenchError: the run is deleted (MLflow still returns it): comparing against it, or listing it among a
            sweep's variants, would use a run its owner threw away, with no word about it.
    """
    from mlflow.exceptions import MlflowException

    try:
        run = client.get_run(run_id)
    except MlflowException:
        return None
    if run.info.lifecycle_stage == "deleted":
        require_active(client.get_experiment(run.info.experiment_id), uri)  # its experiment was deleted, and the run with it
        raise WorkbenchError(f"run {run_id} ('{run.info.run_name}') is deleted in {shown_uri(uri)} — restore it with 'mlflow runs restore "
                             f"--run-id {run_id}' (MLFLOW_TRACKING_URI set to this store), or give another run")
    return run


@releases_store(_uri)
def find_run(run_id: str, *, tracking_uri: str | None = None) -> LoggedRun | None:
    """The run with this id, or None when the store has no such run.

    Raises:
        WorkbenchError: the run is deleted.
    """
    uri = _uri(tracking_uri)
    run = _get_run(_client(uri), run_id, uri)
    return None if run is None else LoggedRun.from_mlflow(run)


def _require_run(run_id: str, uri: str) -> LoggedRun:
    run = find_run(run_id, tracking_uri=uri)
    if run is None:
        raise WorkbenchError(f"no run '{run_id}' in {shown_uri(uri)} — see 'workbench list EXPERIMENT'")
    return run


@releases_store(_uri)
def run_kind(run_id: str, *, tracking_uri: str | None = None) -> RunKind:
    """Whether a run is a sweep (a parent run) or a single run (a variant, or a run workbench did not log).

    Raises:
        WorkbenchError: there is no such run.
    """
    return "sweep" if _require_run(run_id, _uri(tracking_uri)).kind == "sweep" else "variant"


@releases_store(_uri)
def calibration_runs(run_id: str, *, tracking_uri: str | None = None) -> tuple[LoggedRun, ...]:
    """The runs whose judge scores a calibration of ``run_id`` reads: a sweep's variants (oldest first), else the run.

    Raises:
        WorkbenchError: there is no such run, or the store could not be read.
    """
    uri = _uri(tracking_uri)
    run = _require_run(run_id, uri)
    if run.kind != "sweep":
        return (run,)
    with store_errors(f"could not read the variants of sweep {run_id} from {uri}"):
        return tuple(LoggedRun.from_mlflow(r) for r in sweep_variants(run_id, tracking_uri=uri))


@releases_store(_uri)
def resolve_runs(keys: Sequence[str], *, tracking_uri: str | None = None) -> ResolvedRuns:
    """The variant runs that experiment names, sweep run ids and variant run ids refer to, in the order given.

    An experiment name stands for its latest sweep; a sweep for its variants (oldest first); a variant run for itself.
    A sweep that did not finish (killed, crashed, still running) with fewer variant runs than its grid is listed in
    ``unlogged``: its missing variants are in no comparison, and nothing else would say so.

    Raises:
        WorkbenchError: a key is neither an experiment nor a run, an experiment has no sweep, or the store could not
            be read.
    """
    uri = _uri(tracking_uri)
    client = _client(uri)
    runs: list[LoggedRun] = []
    parent: str | None = None
    seeds: dict[str, int | None] = {}
    unlogged: list[Unlogged] = []
    with store_errors(f"could not read runs from {uri}"):
        for key in keys:
            exp = client.get_experiment_by_name(key)
            if exp is not None:
                require_active(exp, uri)
                found = latest_sweep(key, tracking_uri=uri)
                if found is None:
                    raise WorkbenchError(f"experiment '{key}' has no sweeps in {shown_uri(uri)} — run one first: workbench run <experiment.yaml>")
            else:
                found = _get_run(client, key, uri)
            if found is None:
                raise WorkbenchError(f"'{key}' is neither an experiment nor a run in {shown_uri(uri)} — {_unknown_name_fix(client, key)}")
            run = LoggedRun.from_mlflow(found)
            if run.kind == "sweep":
                parent = parent or run.run_id
                seeds[run.run_id] = _seed(run)
                children = [LoggedRun.from_mlflow(r) for r in sweep_variants(run.run_id, tracking_uri=uri)]
                runs.extend(children)
                short = _unlogged(run, len(children))
                if short is not None:
                    unlogged.append(short)
            else:
                runs.append(run)
        for sweep_id in dict.fromkeys(r.sweep_id for r in runs if r.sweep_id and r.sweep_id not in seeds):
            seeds[sweep_id] = _seed_of_sweep(client, sweep_id)
    return ResolvedRuns(tuple(runs), parent, uri, tuple(unlogged), seeds)


def _seed(sweep: LoggedRun) -> int | None:
    """A sweep's seed (its ``seed`` param), which its comparison.json used; None when it has none."""
    return int(sweep.params["seed"]) if sweep.params.get("seed", "").isdigit() else None


def _seed_of_sweep(client: Any, sweep_id: str) -> int | None:
    """The seed of the sweep a variant run given by its id belongs to; None when that run is gone from the store."""
    from mlflow.exceptions import MlflowException

    try:
        return _seed(LoggedRun.from_mlflow(client.get_run(sweep_id)))
    except MlflowException:
        return None
