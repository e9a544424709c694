"""Which running sweeps read their indexes from a Chroma server: a sweep's parent run names the server it uses, so a
teammate's ``workbench cache clear --indexes`` on that server, from another machine, can see them in the team's store."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.pipeline import index_server_address
from workbench.spec import ExperimentSpec
from workbench.tracking._catalog import _all_experiments
from workbench.tracking._process import HOST_TAG, abandoned_reason
from workbench.tracking._read import _all_runs, _client, _uri, store_errors
from workbench.tracking._store_check import sqlite_path

__all__ = ["INDEX_SERVER_TAG", "ServerSweep", "index_server_tags", "sweeps_using_index_server"]

INDEX_SERVER_TAG = "workbench.index_server"  # the Chroma server's address (``chroma_server_address``: no login)


@dataclass(frozen=True)
class ServerSweep:
    """A sweep that may be reading indexes of a Chroma server now: RUNNING, its process not known to be gone."""

    run_id: str
    experiment: str
    user: str
    host: str

    def __str__(self) -> str:
        return f"run {self.run_id} of experiment '{self.experiment}', by {self.user or 'someone'} on {self.host or 'an unknown host'}"


def index_server_tags(spec: ExperimentSpec, given: str | None = None) -> dict[str, str]:
    """The tag naming the Chroma server a sweep of ``spec`` keeps its indexes on; none for a local index store.
    ``given``: the address of the store handed to the sweep (``''`` for a local one), which it uses whatever the spec
    or the environment names; None when it opens the store they name."""
    address = index_server_address(spec) if given is None else given
    return {INDEX_SERVER_TAG: address} if address else {}


def sweeps_using_index_server(address: str, *, tracking_uri: str | None = None) -> list[ServerSweep]:
    """The sweeps of the store, any experiment and any machine, that are RUNNING on the Chroma server at ``address``
    (``chroma_server_address``), except those whose process is known gone (this machine's, dead); a sweep of another
    machine cannot be checked and counts as running (``workbench end RUN_ID`` ends one whose machine is gone). A store
    that does not exist yet holds none.

    Raises:
        WorkbenchError: the store could not be read.
    """
    uri = _uri(tracking_uri)
    path = sqlite_path(uri)
    if path is not None and not path.exists():
        return []
    client = _client(uri)
    with store_errors(f"could not read the running sweeps of {uri}"):
        experiments = {e.experiment_id: e.name for e in _all_experiments(client)}
        running = _all_runs(client, list(experiments), "tags.`workbench.kind` = 'sweep' and attributes.status = 'RUNNING'")
    return [ServerSweep(r.info.run_id, experiments.get(r.info.experiment_id, r.info.experiment_id), r.data.tags.get("mlflow.user", ""),
                        r.data.tags.get(HOST_TAG, ""))
            for r in running if r.data.tags.get(INDEX_SERVER_TAG) == address and abandoned_reason(r.data.tags) is None]
