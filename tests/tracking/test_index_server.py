"""The running sweeps of a Chroma server, read from the team's store for `workbench cache clear --indexes`: any
machine's, never one whose process is known gone, never a sweep of another server or one that ended."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from mlflow import MlflowClient

from workbench.pipeline.chroma_server import chroma_server_address
from workbench.tracking import INDEX_SERVER_TAG, sweeps_using_index_server
from workbench.tracking._process import process_tags

SERVER = "http://chroma.internal:8000"
DEAD_PID = str(2**22 + 12345)  # above pid_max: no such process


@pytest.mark.parametrize("written", ["http://chroma.internal:8000", "http://ana:s3cret@Chroma.Internal", "http://chroma.internal:8000/",
                                     " http://chroma.internal "])
def test_every_way_of_writing_a_server_has_one_address_without_its_login(written: str) -> None:
    assert chroma_server_address(written) == SERVER


def test_what_is_not_a_server_url_has_no_address() -> None:
    assert chroma_server_address("chroma.internal:8000") is None and chroma_server_address("http://host:port") is None
    assert chroma_server_address("https://chroma.internal/chroma") == "https://chroma.internal:443/chroma"


def test_the_running_sweeps_of_a_server_are_any_machines_but_not_a_dead_one_of_this_machine(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert sweeps_using_index_server(SERVER, tracking_uri=uri) == []  # no store yet: none, and none is made
    assert not (tmp_path / "mlflow.db").exists()
    client = MlflowClient(uri)
    here = process_tags()

    def sweep(experiment: str, *, server: str = SERVER, ended: bool = False, user: str = "ana", **tags: str) -> str:
        found = client.get_experiment_by_name(experiment)
        experiment_id = found.experiment_id if found else client.create_experiment(experiment)
        run = client.create_run(experiment_id, tags={"workbench.kind": "sweep", INDEX_SERVER_TAG: server, "mlflow.user": user,
                                                     **here, **tags})
        if ended:
            client.set_terminated(run.info.run_id)
        return str(run.info.run_id)

    live_here = sweep("docs")
    elsewhere = sweep("faq", user="ben", **{"workbench.host": "ben-laptop", "workbench.pid": DEAD_PID})  # cannot be checked
    sweep("docs", **{"workbench.pid": DEAD_PID, "workbench.pid_start": "1"})  # killed on this machine: abandoned
    sweep("docs", ended=True)
    sweep("docs", server="http://other:8000")
    client.create_run(client.get_experiment_by_name("docs").experiment_id, tags={"workbench.kind": "sweep", **here})  # a local store
    found = sweeps_using_index_server(SERVER, tracking_uri=uri)
    assert sorted(s.run_id for s in found) == sorted([live_here, elsewhere])
    by_id = {s.run_id: str(s) for s in found}
    assert by_id[elsewhere] == f"run {elsewhere} of experiment 'faq', by ben on ben-laptop"
    assert by_id[live_here] == f"run {live_here} of experiment 'docs', by ana on {socket.gethostname()}"
    assert os.getpid() == int(here["workbench.pid"])
