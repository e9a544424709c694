"""Read logged sweeps back from MLflow: variant runs of a sweep and their per-question tables."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.tracking._engines import releases_store
from workbench.tracking._store_check import check_served_artifacts, check_store, scheme, sqlite_path
from workbench.tracking._store_lock import open_store_serialised
from workbench.tracking._unreachable import shown_uri

RESULTS_TABLE = "eval_results.json"


def _client(tracking_uri: str | None) -> Any:
    """A client reading the store. A sqlite store that does not exist is refused in one line: MLflow made an empty one
    there (a mistyped path, a store moved away), to say the experiment or run asked for was not in it."""
    from mlflow import MlflowClient

    uri = _uri(tracking_uri)
    path = sqlite_path(uri)
    if path is not None and not path.exists():
        check_store(uri, must_exist=True)
    if scheme(uri) == "postgresql":  # a new database's tables are made by whoever opens it first: one process at a time
        with store_errors(f"could not open the tracking store {uri}"):
            open_store_serialised(uri)
    return MlflowClient(uri)


def _uri(tracking_uri: str | None) -> str:
    from workbench.config import settings

    return tracking_uri or settings().tracking_uri


@contextmanager
def store_errors(what: str) -> Iterator[None]:
    """Turn an MLflow or file-system failure while reading ``what`` into a one-line ``WorkbenchError`` (no password)."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (MlflowException, OSError) as exc:
        message = f"{what}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        raise WorkbenchError(shown_uri(message)) from None  # the store's URI, in ``what`` or quoted by MLflow, has its password


_CLIENT_LIBRARIES = {"botocore": "boto3"}  # what to install for a missing module: MLflow reads s3:// with boto3, on botocore


def out_of_reach(owner: str, location: str, tracking_uri: str, exc: ImportError | OSError, *, verb: str = "writes") -> WorkbenchError:
    """One line for artifacts this machine reads or writes itself (the tracking server does not serve them:
    ``mlflow server --no-serve-artifacts``, or a location given when the experiment was made) and cannot: a path of the
    server's machine, or a bucket whose client library is not installed here."""
    if isinstance(exc, ImportError):
        library = _CLIENT_LIBRARIES.get(exc.name or "", exc.name or "its client library")
        reason, todo = f"{type(exc).__name__}: {exc}", f"install {library} here"
    else:
        reason, todo = (f"{exc.strerror or type(exc).__name__}: {exc.filename or exc}",
                        f"make that path {'readable' if verb == 'reads' else 'writable'} from this machine")
    served = (", or serve artifacts through the tracking server (mlflow server --serve-artifacts, as workbench server does; "
              "experiments made after that keep them there)") if tracking_uri.startswith(("http://", "https://")) else ""
    return WorkbenchError(f"{owner} keeps its artifacts in {location}, which this machine {verb} itself and cannot ({reason}) "
                          f"— {todo}{served}")


@contextmanager
def reading_artifacts(client: Any, run_id: str) -> Iterator[None]:
    """Turn the ImportError of reading a run's artifacts from a bucket whose client library is not installed here
    (``s3://`` without boto3) into one line naming the run, where its artifacts are and what to install."""
    try:
        yield
    except ImportError as exc:
        location = client.get_run(run_id).info.artifact_uri
        raise out_of_reach(f"run {run_id}", location, client.tracking_uri, exc, verb="reads") from None


def run_artifacts(artifact_uri: str, tracking_uri: str) -> Any:
    """The artifact repository of a run, from its artifact URI (``file:``, a bucket, or ``mlflow-artifacts:/`` served by
    the tracking server at ``tracking_uri``). Through ``MlflowClient``, each listing and each file read looked the run up
    again and searched its experiment's logged models for one named like the file: about 20 ms a file on sqlite against
    a few, for every run a comparison, a warm sweep's reuse check or a promotion reads."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    return get_artifact_repository(artifact_uri, tracking_uri=tracking_uri)


def artifact_bytes(client: Any, run_id: str, path: str, *, artifact_uri: str | None = None) -> bytes:
    """The content of one artifact file of a run, read from its artifact repository (``run_artifacts``); its
    ``artifact_uri`` saves looking the run up when the caller has it. MLflow downloads it into a new temporary folder
    that it never removes when not given one: each read left a copy (every question and answer of a results table) in
    /tmp."""
    from mlflow.exceptions import MlflowException

    artifact_uri = artifact_uri or client.get_run(run_id).info.artifact_uri
    with tempfile.TemporaryDirectory(prefix="wb-artifact-") as tmp, reading_artifacts(client, run_id):
        repo = run_artifacts(artifact_uri, client.tracking_uri)
        try:
            return Path(repo.download_artifacts(path, tmp)).read_bytes()
        except MlflowException:  # MLflow says only "Failed to download" when it lacks the bucket's client library
            repo.list_artifacts()  # which the listing raises as an ImportError
            raise


@releases_store(_uri)
def load_variant_table(run_id: str, *, tracking_uri: str | None = None, artifact_uri: str | None = None) -> Any:
    """The per-question results table (``eval_results.json``) of one variant run, as a DataFrame; ``artifact_uri`` (the
    run's) saves looking the run up."""
    import json

    import pandas as pd

    payload = json.loads(artifact_bytes(_client(tracking_uri), run_id, RESULTS_TABLE, artifact_uri=artifact_uri))
    return pd.DataFrame(payload["data"], columns=payload["columns"])


@releases_store(_uri)
def find_variant_table(run_id: str, *, tracking_uri: str | None = None, artifact_uri: str | None = None) -> Any | None:
    """The per-question results table of a variant run, or None when the run logged none (it failed first);
    ``artifact_uri`` (the run's, as ``LoggedRun.artifact_uri``) saves looking the run up.

    Raises:
        WorkbenchError: the store could not be read, or the table is damaged.
    """
    from mlflow.exceptions import MlflowException

    uri = _uri(tracking_uri)
    with store_errors(f"run {run_id}: could not read {RESULTS_TABLE} from {uri}"):
        client = _client(uri)
        artifact_uri = artifact_uri or client.get_run(run_id).info.artifact_uri
        try:
            with reading_artifacts(client, run_id):
                listed = {a.path for a in run_artifacts(artifact_uri, uri).list_artifacts()}
        except MlflowException:
            check_served_artifacts(artifact_uri, uri, f"run {run_id}")
            raise
        if RESULTS_TABLE not in listed:
            return None
        try:
            return load_variant_table(run_id, tracking_uri=uri, artifact_uri=artifact_uri)
        except (ValueError, KeyError, TypeError) as exc:  # compare and gate ended in 'internal error: JSONDecodeError'
            raise _damaged_table(run_id, exc) from None


def _damaged_table(run_id: str, exc: Exception) -> WorkbenchError:
    return WorkbenchError(f"run {run_id}: its {RESULTS_TABLE} cannot be read ({type(exc).__name__}: {exc}) — it was cut short or "
                          "overwritten (a full disk, a sync tool): run its experiment again, which computes that variant again "
                          "from the cache")


def artifacts_elsewhere(artifact_uri: str) -> str | None:
    """The folder of a run's artifacts when it is on a local disk (``file:`` URI or path) that this machine does not
    have: a sweep that logged straight into a shared database from another machine keeps them on that machine."""
    from urllib.parse import urlsplit
    from urllib.request import url2pathname

    parts = urlsplit(artifact_uri)
    if parts.scheme not in ("file", "") or not artifact_uri:
        return None
    folder = Path(url2pathname(parts.path))
    return None if folder.exists() else str(folder)


def missing_artifacts(run_id: str, artifact_uri: str) -> str | None:
    """Why a run's artifacts cannot be read from this machine's disk, and what to do, or None when they are not on a
    local disk or are there. Beside its experiment's other runs (``<experiment folder>/<run id>/artifacts``), its folder
    was deleted or moved away; with no experiment folder here at all, it was logged from another machine."""
    folder = artifacts_elsewhere(artifact_uri)
    if folder is None:
        return None
    if Path(folder).parent.parent.is_dir():
        return (f"run {run_id}'s artifacts folder {folder} is gone (deleted or moved away) — put it back, or run the "
                "experiment again (its answers come from the cache)")
    return (f"run {run_id} keeps its artifacts in {folder}, a folder this machine does not have (it was logged into the "
            "shared database from another machine) — read it there, or share a tracking server that serves artifacts (workbench server)")


@releases_store(_uri)
def load_judge_scores(run_id: str, *, tracking_uri: str | None = None) -> Any:
    """A variant run's judge scores per question, for ``workbench.scoring.calibrate``.

    Returns:
        The run's per-question table (``eval_results.json``): ``case_id``, ``answer`` and one column per scorer.

    Raises:
        WorkbenchError: the run does not exist or has no per-question table (e.g. it is a sweep, or it failed).
    """
    from mlflow.exceptions import MlflowException

    try:
        return load_variant_table(run_id, tracking_uri=tracking_uri)
    except (MlflowException, OSError) as exc:
        raise WorkbenchError(
            f"run '{run_id}': no per-question results table ({type(exc).__name__}) — pass a variant run id (see 'workbench list EXPERIMENT')"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:  # workbench calibrate ended in 'internal error: JSONDecodeError'
        raise _damaged_table(run_id, exc) from None


@releases_store(_uri)
def latest_sweep(experiment_name: str, *, tracking_uri: str | None = None) -> Any:
    """The most recent sweep (parent run) of an experiment, or None."""
    client = _client(tracking_uri)
    exp = client.get_experiment_by_name(experiment_name)
    if exp is None:
        return None
    runs = client.search_runs(
        [exp.experiment_id], "tags.`workbench.kind` = 'sweep'", order_by=["attributes.start_time DESC"], max_results=1
    )
    return runs[0] if runs else None


@releases_store(_uri)
def sweep_variants(parent_run_id: str, *, tracking_uri: str | None = None) -> list[Any]:
    """The variant (child) runs of a sweep, oldest first. A run another tool nested under the sweep (``mlflow.start_run(
    parent_run_id=..., nested=True)``) is not one of its variants: it was listed, compared and gated as one. Every
    page of them: a sweep of more than 1,000 variants was compared and gated on its first 1,000."""
    client = _client(tracking_uri)
    parent = client.get_run(parent_run_id)
    filter_string = f"tags.`mlflow.parentRunId` = '{parent_run_id}' and tags.`workbench.kind` = 'variant'"
    return _all_runs(client, [parent.info.experiment_id], filter_string, oldest_first=True)


def chunked(items: Sequence[Any], n: int) -> list[list[Any]]:
    """``items`` in lists of ``n`` (the last shorter): what one MLflow call takes at most."""
    return [list(items[i : i + n]) for i in range(0, len(items), n)]


def every_page(search: Callable[[str | None], Any]) -> Iterator[Any]:
    """Every item of a paged MLflow search, page after page: ``search(token)`` returns the page after ``token`` (the
    first for None), with the next page's token or none after the last. One search returns one page (1,000 runs or
    experiments at most), and a store holding more looked as if the others did not exist."""
    token = None
    while True:
        page = search(token)
        yield from page
        token = page.token
        if not token:
            return


def _all_runs(
    client: Any, experiment_ids: list[str], filter_string: str = "", *, limit: int | None = None, oldest_first: bool = False
) -> list[Any]:
    """Every run of these experiments matching ``filter_string`` (the newest, or oldest, ``limit`` of them), newest
    first unless ``oldest_first``, read page by page (1,000 a page)."""
    if not experiment_ids:
        return []
    order = ["attributes.start_time ASC" if oldest_first else "attributes.start_time DESC"]
    page_size = 1000 if limit is None else min(1000, limit)
    runs = every_page(lambda token: client.search_runs(
        experiment_ids, filter_string, order_by=order, max_results=page_size, page_token=token))
    return list(itertools.islice(runs, limit))
