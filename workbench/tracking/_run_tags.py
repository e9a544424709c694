"""What every run a sweep makes records of where it ran: the git commit of the experiment's folder, MLflow's source
tags, the versions of the packages that computed it; and a variant run's name, cut to what MLflow's stores keep."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from importlib import metadata

from workbench.datasets import FORMAT_PACKAGES
from workbench.grid import Variant
from workbench.models import COMPUTING_PACKAGES
from workbench.tracking._protocol import SweepHandle


# logged as each run's workbench.versions tag: a bundle pins from it the packages that computed its embedding model's
# vectors (COMPUTING_PACKAGES: torch, transformers, the model's package..., not only sentence-transformers), and its
# report names those that read its corpus's PDFs, HTML pages, Word documents and PowerPoint decks (FORMAT_PACKAGES: another
# version may read other text)
_PACKAGES = ("workbench", "mlflow", "langchain-core", "chromadb", "ragas", "pandas", *COMPUTING_PACKAGES, *FORMAT_PACKAGES)

# MLflow's runs.name column (String(250)): PostgreSQL refused a variant's longer name ("value too long for type
# character varying(250)"), which ended the sweep as an internal error; sqlite kept it whole
MAX_RUN_NAME = 250


def git_commit(folder: str) -> str:
    """The commit ``folder`` is at, ``-dirty`` when it has changes, looked up for each sweep: a notebook kernel lives all
    day, through commits and edits of its prompts."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5)
        commit = out.stdout.strip()
        if out.returncode != 0 or not commit:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=folder, capture_output=True, text=True, timeout=5)
        return commit + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# MLflow's own source tags: the runs table's Source and Version columns and the run page's Source and Git commit show them
SOURCE_TAGS = ("mlflow.source.name", "mlflow.source.type", "mlflow.source.git.commit")

# who ran a run, and from where: every run of a sweep has its sweep's, a reused copy too (it is made by its sweep; the
# run it copies, which ``REUSED_FROM_TAG`` names, keeps its own)
_RAN_BY_TAGS = ("mlflow.user", *SOURCE_TAGS)


def source_tags(commit: str, folder: str) -> dict[str, str]:
    """MLflow's source tags of a sweep run from ``folder`` (the experiment file's) at ``commit`` (``git_commit``'s answer)
    (pure): the commit without its ``-dirty`` mark, which ``workbench.git_commit`` keeps, and none when it is unknown."""
    tags = {"mlflow.source.name": folder, "mlflow.source.type": "LOCAL"}
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit.removesuffix("-dirty")
    return tags


@functools.lru_cache(maxsize=1)
def package_versions() -> str:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return json.dumps(versions, sort_keys=True)


def _child_tags(sweep: SweepHandle, variant: Variant) -> dict[str, str]:
    """The tags a variant's run is created with, before anything else is logged to it: enough for the next sweep to
    find and end it should this process die while logging it."""
    return {"mlflow.runName": run_name(variant), "mlflow.parentRunId": sweep.run_id, "workbench.kind": "variant"}


def run_name(variant: Variant, limit: int = MAX_RUN_NAME) -> str:
    """A variant's run name (pure): its name, or, when that is longer than ``limit``, its name with its longest parts
    each cut to one length, ending in ``…`` and 6 hex digits of the whole part's sha256, so that parts differing only
    after the cut stay apart. The same variant has the same run name in every store and sweep."""
    axes = variant.axes
    if len("|".join(axes)) <= limit:
        return "|".join(axes)
    room = limit - (len(axes) - 1)  # the separators
    cap = next(c for c in range(room, 0, -1) if sum(min(len(a), c) for a in axes) <= room)
    return "|".join(_shortened(a, cap) for a in axes)


def _shortened(name: str, limit: int) -> str:
    """``name``, or, when it is longer than ``limit``, its start ending in ``…`` and 6 hex digits of the whole name's
    sha256 (pure): two names differing only after the cut stay apart."""
    if len(name) <= limit:
        return name
    tail = "…" + hashlib.sha256(name.encode()).hexdigest()[:6]
    return name[: max(limit - len(tail), 1)] + tail
