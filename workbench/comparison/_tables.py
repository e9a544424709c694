"""The per-question tables a comparison reads: from a SweepResult, VariantResults, plain DataFrames, or logged runs
(read through ``workbench.tracking``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Union

from workbench.errors import DataError, WorkbenchError
from workbench.redaction import redact
from workbench.results import EarlyStop, SweepResult, VariantResult
from workbench.tracking import (
    RESULTS_TABLE, LoggedRun, ResolvedRuns, check_store, find_run, find_variant_table, missing_artifacts, resolve_runs,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Loaded", "Skipped", "Source", "VariantTable", "default_seed", "find_table", "load_run", "load_tables"]

# Everything wb.compare accepts as its first argument.
Source = Union[SweepResult, Sequence[VariantResult], Mapping[str, "pd.DataFrame"], str, Sequence[str]]


@dataclass(frozen=True, eq=False)
class VariantTable:
    """One variant's per-question table (the ``eval_results.json`` columns) and what identifies it; ``params`` are its
    flattened configuration as logged (``model.id``, ``router.cheap.id``, ``chunker.size``...), when known;
    ``stopped_early`` says why a racing sweep stopped it before the last question; ``lower_is_better`` names the scorers
    its run recorded as better low (registered so in the process that logged it, perhaps not in this one); ``outside``:
    a run of another sweep, named as the baseline; ``also_named``: the model URI it was named by as the baseline, so the
    report reads its row by that URI too; ``ended``: how a variant that did not finish ended, with its error ("FAILED:
    token budget of ... exceeded", "KILLED"), whose table holds only the questions it answered before; "" when it
    finished."""

    name: str
    variant_id: str
    run_id: str | None
    frame: pd.DataFrame
    chunker: str = ""
    embedding: str = ""
    retrieval: str = ""
    params: Mapping[str, str] = field(default_factory=dict)
    stopped_early: EarlyStop | None = None
    lower_is_better: frozenset[str] = frozenset()
    outside: bool = False  # a run of another sweep named as the baseline (what is in production): compared against, not gated
    also_named: tuple[str, ...] = ()  # the model URI the baseline was named by (``models:/docs-bot@production``)
    ended: str = ""

    @property
    def retrieval_setup(self) -> str:
        """What decides the retrieved chunks (chunker, embedding, retrieval): variants sharing it retrieve alike."""
        if not self.chunker:
            return self.name
        return " · ".join(p for p in (self.chunker, self.embedding.split(":", 1)[-1], self.retrieval) if p)

    def matches(self, key: str) -> bool:
        return key in (self.name, self.variant_id, self.run_id) or key in self.also_named

    @property
    def answered(self) -> bool:
        """Whether some question has no error (a retrieval-only table, or one given by hand, has no error column)."""
        return "error" not in self.frame.columns or bool(self.frame["error"].isna().any())


@dataclass(frozen=True)
class Skipped:
    """A variant left out of a comparison because it has no per-question results, and why."""

    name: str
    reason: str
    keys: tuple[str, ...] = ()  # its variant id and run id, by which it can be named as well as by its name
    count: int = 1  # the variants it stands for: "3 of 4 variants of sweep ..." that were never logged are 3

    def matches(self, key: str) -> bool:
        return key == self.name or key in self.keys


@dataclass(frozen=True, eq=False)
class Loaded:
    variants: tuple[VariantTable, ...]
    skipped: tuple[Skipped, ...]
    parent_run_id: str | None
    tracking_uri: str | None
    seed: int | None = None  # the seed of the sweep the variants come from (of them all, if they share it): its comparison.json's
    seeds: Mapping[str, int | None] = field(default_factory=dict)  # every sweep the variants come from: its seed (None: unknown)


def default_seed(source: Source, loaded: Loaded) -> tuple[int, str]:
    """The bootstrap seed of a comparison given none, and what the report says about it: the seed of the sweep its
    variants come from (its comparison.json's; for VariantResults, read from the store they were logged to), else 0,
    said when they come from sweeps of different seeds."""
    if loaded.seed is not None:
        return loaded.seed, ""
    seeds = loaded.seeds
    if isinstance(source, Sequence) and not isinstance(source, str) and source and all(isinstance(s, VariantResult) for s in source):
        sweeps = _logged_sweeps(source, loaded.tracking_uri)  # type: ignore[arg-type]
        if sweeps is not None and sweeps.seed is not None:
            return sweeps.seed, ""
        seeds = sweeps.seeds if sweeps is not None else {}
    known = {sweep: seed for sweep, seed in seeds.items() if seed is not None}
    if len(set(known.values())) < 2:
        return 0, ""
    each = ", ".join(f"{sweep[:8]}: {seed}" for sweep, seed in known.items())
    return 0, (f"the variants come from {len(known)} sweeps of different seeds ({each}): seed 0 is used, so intervals may differ "
               "from each sweep's comparison.json — pass seed= (workbench compare --seed) to use one of them")


def _from_results(results: Sequence[VariantResult]) -> tuple[list[VariantTable], list[Skipped]]:
    tables, skipped = [], []
    for r in results:
        v = r.variant
        if not r.records:
            # redacted as the leaderboard's error column is: a provider's error can quote the API key, and the report is
            # shown (and saved) in a notebook, printed by scripts and logged as comparison.json
            why = redact(r.outcome.error) if r.outcome.error else "no per-question results"
            skipped.append(Skipped(v.name, f"{r.status}: {why}", (v.id, *([r.run_id] if r.run_id else []))))
            continue
        tables.append(
            VariantTable(
                v.name, v.id, r.run_id, r.records_frame(), v.chunker.label, v.retrieval.embedding, v.retrieval.label, v.params(),
                r.stopped_early, ended=_ended(r.status, redact(r.outcome.error) if r.outcome.error else None),
            )
        )
    return tables, skipped


def _from_frames(frames: Mapping[str, pd.DataFrame]) -> list[VariantTable]:
    import pandas as pd

    tables = []
    for name, frame in frames.items():
        if not isinstance(frame, pd.DataFrame):
            raise DataError(f"table '{name}': expected a pandas DataFrame, got {type(frame).__name__}")
        tables.append(VariantTable(str(name), str(name), None, _keyed(frame, f"table '{name}'")))
    return tables


def _keyed(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    """``frame`` with its ``case_id`` as text, checked to key one row per question.

    Raises:
        DataError: no ``case_id`` column (a table written by hand, or by another tool under ``eval_results.json``), or a
            case id on several rows; ``where`` names the table.
    """
    if "case_id" not in frame.columns:
        raise DataError(f"{where}: column 'case_id' is missing — one row per question, keyed by case_id")
    frame = frame.assign(case_id=frame["case_id"].astype(str))  # 7 and "7" are one question in every table
    doubled = frame["case_id"][frame["case_id"].duplicated()]
    if len(doubled):
        raise DataError(f"{where}: case_id '{doubled.iloc[0]}' is on {int((frame['case_id'] == doubled.iloc[0]).sum())} rows "
                        "— one row per question (average repeats first, e.g. frame.groupby('case_id').mean())")
    return frame


def _table_of_run(run: LoggedRun, tracking_uri: str | None) -> VariantTable | Skipped:
    frame = find_variant_table(run.run_id, tracking_uri=tracking_uri, artifact_uri=run.artifact_uri)
    if frame is None:
        why = missing_artifacts(run.run_id, run.artifact_uri) or f"run {run.run_id} has no {RESULTS_TABLE}"
        return Skipped(run.name, f"{run.status}: {run.error or why}", (run.variant_id, run.run_id))
    p = run.params
    chunker = f"{p['chunker.strategy']}-{p['chunker.size']}/{p['chunker.overlap']}" if "chunker.strategy" in p else ""
    retrieval = f"k{p['retrieval.k']}-{p['retrieval.search']}" if "retrieval.k" in p else ""
    frame = _keyed(frame, f"run {run.run_id} ('{run.name}'): {RESULTS_TABLE}")
    return VariantTable(
        run.name, run.variant_id, run.run_id, frame, chunker, p.get("retrieval.embedding", ""), retrieval, dict(p), run.stopped_early,
        run.lower_is_better, ended=_ended(run.status, run.error),
    )


def _ended(status: str, error: str | None) -> str:
    """``VariantTable.ended`` of a variant run that ended ``status`` with ``error``: its first line, as promotion quotes it."""
    if status == "FINISHED":
        return ""
    first = error.strip().splitlines()[0][:200] if error and error.strip() else ""
    return f"{status}: {first}" if first else status


def load_run(run_id: str, *, tracking_uri: str | None = None) -> VariantTable | Skipped | None:
    """One variant run's table; why it has none (a run that failed before answering, one still running, a sweep's
    parent run); or None when ``run_id`` is not a run."""
    run = find_run(run_id, tracking_uri=tracking_uri)
    if run is None:
        return None
    return _table_of_run(run, tracking_uri)


def _from_store(keys: Sequence[str], tracking_uri: str | None) -> Loaded:
    resolved = resolve_runs(keys, tracking_uri=tracking_uri)
    if not resolved.runs and not resolved.unlogged and resolved.parent_run_id is not None:  # a finished sweep, emptied by hand
        raise WorkbenchError(f"nothing to compare: sweep {resolved.parent_run_id} has no variant runs left (deleted?) — restore them "
                             "('mlflow runs restore --run-id RUN_ID', MLFLOW_TRACKING_URI set to this store) or run the experiment again")
    tables: list[VariantTable] = []
    skipped: list[Skipped] = []
    for run in resolved.runs:
        item = _table_of_run(run, resolved.tracking_uri)
        (tables if isinstance(item, VariantTable) else skipped).append(item)  # type: ignore[arg-type]
    for short in resolved.unlogged:  # variants that never ran: a gate must not pass the sweep on the ones that did
        sweep = short.sweep
        why = ("not logged yet: the sweep is still RUNNING — wait for it to end (if its process died, run the experiment again)"
               if sweep.status == "RUNNING" else f"never logged: the sweep ended {sweep.status} — run the experiment again to finish it")
        missing = short.planned - short.logged
        skipped.append(Skipped(f"{missing} of {short.planned} variants of sweep {sweep.run_id}", why, count=missing))
    return Loaded(tuple(tables), tuple(skipped), resolved.parent_run_id, resolved.tracking_uri, resolved.seed, resolved.seeds)


def _logged_sweeps(results: Sequence[VariantResult], tracking_uri: str | None) -> ResolvedRuns | None:
    """The sweeps (and their seeds) of results that were logged, read from their store; None for results that were
    not all logged to one store, or when it cannot be read (their comparison needs no store). The store is probed first:
    a tracking server that is gone answered after 15 s of MLflow's retries, a sqlite file moved away was made anew."""
    uris = {tracking_uri or r.tracking_uri for r in results}
    uri = next(iter(uris))
    if len(uris) != 1 or uri is None or not all(r.run_id for r in results):
        return None
    try:
        check_store(uri, must_exist=True)
        return resolve_runs([r.run_id or "" for r in results], tracking_uri=uri)
    except WorkbenchError:
        return None


def _has_parts(name: str, key: str) -> bool:
    """Whether ``key`` is ``name`` shortened as a report shows it (pure): some of its ``|``-separated parts, in order
    (``good|k2-similarity`` of ``good|gemma3-270m|recursive-200/20|k2-similarity``); ``\\|`` as a markdown table
    cell escapes it reads as ``|``."""
    wanted = key.replace("\\|", "|").split("|")
    parts = iter(name.split("|"))
    return all(any(part == want for part in parts) for want in wanted)


def find_table(tables: Sequence[VariantTable], key: str) -> VariantTable:
    """The table of a variant by name, variant id or run id (a unique prefix of an id works too), or by its name
    shortened as a report shows it (the parts in which the variants differ), when one variant alone has those parts.

    Raises:
        WorkbenchError: no variant matches; a short name matches several (they are listed); or ``key`` is not a str
            (``baseline=0`` for the first variant raised a TypeError from ``str.startswith``).
    """
    if not isinstance(key, str):
        raise WorkbenchError(f"a variant is given by its name, id or run id, not by a {type(key).__name__} ({str(key)[:40]}) — "
                             f"variants: {'; '.join(t.name for t in tables)}")
    exact = [t for t in tables if t.matches(key)]
    if exact:
        return exact[0]
    prefixed = [t for t in tables if (t.run_id or "").startswith(key) or t.variant_id.startswith(key)]
    if len(prefixed) == 1:
        return prefixed[0]
    short = [t for t in tables if _has_parts(t.name, key)] if key.strip() else []
    if len(short) == 1:
        return short[0]
    if short:
        raise WorkbenchError(f"'{key}' names {len(short)} variants — give more of the name, or a run id: "
                             f"{'; '.join(t.name for t in short)}")
    names = "; ".join(t.name for t in tables)
    raise WorkbenchError(f"no variant '{key}' to compare (a variant id, name or run id) — variants: {names}")


def load_tables(source: Source, *, tracking_uri: str | None = None) -> Loaded:
    """Resolve what ``wb.compare`` was given into per-question tables.

    Args:
        source: a ``SweepResult``; a sequence of ``VariantResult``; a mapping of variant name to per-question
            DataFrame (with a ``case_id`` column); an MLflow experiment name (its latest sweep), a sweep's parent
            run id or a variant run id; or a sequence of run ids.
        tracking_uri: the MLflow store to read (default: the project's).

    Raises:
        WorkbenchError: the experiment or run does not exist, or nothing is left to compare.
    """
    if isinstance(source, SweepResult):
        tables, skipped = _from_results(source.variants)
        loaded = Loaded(tuple(tables), tuple(skipped), source.parent_run_id, tracking_uri or source.tracking_uri, source.spec.seed)
    elif isinstance(source, Mapping):
        loaded = Loaded(tuple(_from_frames(source)), (), None, tracking_uri)
    elif isinstance(source, str):
        loaded = _from_store([source], tracking_uri)
    elif isinstance(source, Sequence) and all(isinstance(s, VariantResult) for s in source):
        tables, skipped = _from_results(source)  # type: ignore[arg-type]
        loaded = Loaded(tuple(tables), tuple(skipped), None, tracking_uri)
    elif isinstance(source, Sequence) and all(isinstance(s, str) for s in source):
        loaded = _from_store(list(source), tracking_uri)  # type: ignore[arg-type]
    else:
        raise WorkbenchError(
            f"cannot compare a {type(source).__name__} — pass a SweepResult, an experiment name, run ids, or a "
            "mapping of variant name to per-question DataFrame"
        )
    if not loaded.variants:
        why = "; ".join(f"{s.name}: {s.reason}" for s in loaded.skipped) or "no variants given"
        raise WorkbenchError(f"nothing to compare: no variant has per-question results ({why})")
    return replace(loaded, variants=_distinct_names(loaded.variants))


def _distinct_names(tables: Sequence[VariantTable]) -> tuple[VariantTable, ...]:
    """The same variant from two sweeps (runs of two experiments, a rerun) is told apart by its run id, so every label
    in the report, and every ``report.row(name, ...)``, names one variant."""
    counts = Counter(t.name for t in tables)
    out, seen = [], set()
    for t in tables:
        name = t.name
        if counts[name] > 1:
            name = f"{t.name} ({t.run_id[:8]})" if t.run_id else t.name
            while name in seen:
                name += "'"
        seen.add(name)
        out.append(replace(t, name=name) if name != t.name else t)
    return tuple(out)


def retrieval_only_note(tables: Sequence[VariantTable]) -> str:
    """Why a sweep lacks every answer metric, to follow "metric 'token_f1' is not in the results": it generated no
    answers (its per-question tables have no ``answer`` column); empty for a sweep that did."""
    if not tables or any("answer" in t.frame.columns for t in tables):
        return ""
    return (" of this retrieval-only sweep (it generated no answers: a ChunkExplorer's 'Score retrieval' or "
            "wb.run(generate=False) logs one) — compare or gate a sweep that did: --sweep PARENT_RUN_ID (workbench list EXPERIMENT)")
