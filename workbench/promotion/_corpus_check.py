"""Whether the corpus a run was evaluated on is still the one its bundle would read: a bundle names a corpus folder
(or file) by path and by the hash of its documents, so a document edited, added or removed on disk after the sweep
makes a bundle that ``load_bundle`` refuses at deployment, far from the cause. Promotion and export refuse it first,
naming the documents that changed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from workbench.cache import ExtractedTexts
from workbench.config import Settings
from workbench.datasets import FORMAT_PACKAGES, Corpus, file_format, is_documents_file, load_corpus, on_disk
from workbench.errors import DataError
from workbench.promotion._config import CorpusInfo
from workbench.tracking import CORPUS_DOCUMENTS_ARTIFACT, artifact_bytes

__all__ = ["CORPUS_FIX", "corpus_change", "describe_changes", "evaluated_hashes"]

# what to do about it: a bundle of the run would answer from other documents than the ones it was scored on
CORPUS_FIX = ("its bundle would answer from other documents than the ones it was scored on (load_bundle refuses them): restore "
              "the documents as they were evaluated, or run the experiment again on them as they are now (answers whose "
              "context is unchanged come from the cache)")
_NAMED = 3  # documents named per kind of change; the rest are counted


def describe_changes(evaluated: Mapping[str, str], current: Mapping[str, str]) -> str:
    """What changed between two corpora's ``Corpus.document_hashes`` (pure): ``1 added (new), 1 removed (errors), 2
    changed (a, b)``, a few documents named by id; "the same documents in another order" when none did."""
    added = [d for d in current if d not in evaluated]
    removed = [d for d in evaluated if d not in current]
    changed = [d for d in current if d in evaluated and current[d] != evaluated[d]]
    parts = []
    for count, word in ((added, "added"), (removed, "removed"), (changed, "changed")):
        if count:
            named = ", ".join(count[:_NAMED]) + (f" and {len(count) - _NAMED} more" if len(count) > _NAMED else "")
            parts.append(f"{len(count)} {word} ({named})")
    return ", ".join(parts) or "the same documents, listed in another order"


def evaluated_hashes(client: Any, sweep_id: str | None) -> dict[str, str] | None:
    """The sweep's record of its documents (``CORPUS_DOCUMENTS_ARTIFACT``); None for a sweep logged before it was kept."""
    from mlflow.exceptions import MlflowException

    if not sweep_id:
        return None
    try:
        data = json.loads(artifact_bytes(client, sweep_id, CORPUS_DOCUMENTS_ARTIFACT))
    except (MlflowException, OSError, ValueError):
        return None
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else None


def _experiment_folder(client: Any, sweep_id: str | None) -> str | None:
    """The folder of the experiment file a sweep ran (its ``mlflow.source.name``), which its relative paths are relative
    to; None when the sweep is gone or ran before workbench recorded it."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(sweep_id).data.tags.get("mlflow.source.name") if sweep_id else None
    except MlflowException:
        return None


def _read(found: Path, info: CorpusInfo, cfg: Settings) -> Corpus:
    if not cfg.home.is_dir():  # the PDF and Word texts the sweep extracted are in its project's cache, when it has one
        return load_corpus(found, glob=info.glob, exclude=info.exclude, columns=info.columns)
    with ExtractedTexts.of_project(cfg) as texts:
        return load_corpus(found, glob=info.glob, exclude=info.exclude, texts=texts, columns=info.columns)


def corpus_change(client: Any, run_id: str, sweep_id: str | None, info: CorpusInfo, cfg: Settings) -> str | None:
    """Why the corpus run ``run_id`` was evaluated on is no longer the one on this machine, in one line without a fix;
    None when it is the same, when it is not read from disk (a built-in corpus is checked against this workbench's,
    documents given in memory are the run's own), or when its folder is not on this machine (promoted from another
    clone: nothing to compare, and ``load_bundle`` checks it where it is deployed).

    A relative path is the experiment's, from its file's folder, which the sweep recorded (``mlflow.source.name``).
    """
    if info.builtin is not None:
        here = load_corpus(info.builtin)
        if here.hashed_as(info.hash):
            return None
        return (f"run {run_id} was evaluated on the built-in corpus '{info.builtin}' of another workbench (hash {info.hash[:12]}), "
                f"and this workbench's differs ({here.hash[:12]})")
    if info.path is None:
        return None
    raw = Path(info.path).expanduser()
    if not raw.is_absolute():
        folder = _experiment_folder(client, sweep_id)
        if not folder:  # not known: a folder of that name here may be another corpus than the one evaluated
            return None
        raw = Path(folder) / raw
    found = on_disk(raw)
    if not (found.is_file() if is_documents_file(found) else found.is_dir()):
        return None
    evaluated = f"run {run_id} was evaluated on corpus '{found}' ({info.documents or '?'} documents)"
    try:
        current = _read(found, info, cfg)
    except DataError as exc:
        return f"{evaluated}, which cannot be read now: {exc}"
    if current.hashed_as(info.hash):
        return None
    recorded = evaluated_hashes(client, sweep_id)
    hashes = current.document_hashes()
    if recorded is not None:
        what = describe_changes(recorded, hashes)
    elif len(current) == info.documents:  # a sweep logged before it recorded its documents: the hashes alone say less
        what = f"the same number of documents ({len(current)}), so a document's text changed"
    else:
        what = f"it holds {len(current)} documents now"
    changed = [d for d in current.documents if recorded is None or recorded.get(d.id) != hashes[d.id]]
    if any(file_format(d.metadata.get("path", "")) for d in changed):  # the same file may read as another text
        packages = f"{', '.join(FORMAT_PACKAGES[:-1])} and {FORMAT_PACKAGES[-1]}"
        what += (" (or its HTML pages, PDFs, Word documents or decks are read otherwise here than by the sweep: by another "
                 f"workbench, or by other versions of {packages} than its run's workbench.versions tag names)")
    return f"{evaluated}, which changed since: {what}"
