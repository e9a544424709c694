"""What the reuse check reads of an earlier variant run (``_ReadRun``): its per-question table and chunk statistics,
the ids of its traces it recorded, and whether those traces still carry their scores."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
