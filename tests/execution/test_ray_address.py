"""A Ray cluster that is not there: the sweep ends at once with one line naming execution.address and what to do.

Ray alone waited 30 s (Ray Client) to many minutes (a GCS host:port) and then raised a bare ``ConnectionError`` that
the CLI reported as an internal error. No Ray instance is started here (Ray must not be initialised in this process).
"""

from __future__ import annotations

import pytest

import workbench as wb
from tests.execution.test_ray import spec_of
from tests.team.conftest import free_port
from workbench.errors import WorkbenchError
from workbench.models import MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.testing import HashingEmbedder, ScriptedModel

pytest.importorskip("ray")


@pytest.mark.parametrize("scheme", ["ray://", ""])
def test_no_ray_cluster_at_the_address_is_one_line_naming_it(wb_settings, scheme: str) -> None:  # type: ignore[no-untyped-def]
    import ray

    assert not ray.is_initialized()
    address = f"{scheme}127.0.0.1:{free_port()}"  # nothing listens there
    models = {"ollama:scripted": ScriptedModel(lambda p: "fine", model_id="ollama:scripted"),
              MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    spec = spec_of("ray", ["ollama:scripted"], execution={"backend": "ray", "address": address})
    with pytest.raises(WorkbenchError) as info:
        wb.run(spec, models=models, index_store=MemoryIndexStore(), settings=wb_settings, progress=False)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"execution.address '{address}': no Ray cluster answers there (Connection refused) — start it"), message
    assert not ray.is_initialized()
