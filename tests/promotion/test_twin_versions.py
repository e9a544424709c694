"""Two promotions of one configuration at once through a tracking server (two teammates, two CI jobs: the server has
no lock to take) each register a version of it, and the alias goes to whichever write came last. Such twins are one
configuration: promoting it again moves nothing, and promoting it to production finds the twin that holds staging."""

from __future__ import annotations

from mlflow import MlflowClient

import workbench as wb
from tests.promotion.conftest import Swept

EASY = [{"kind": "min_questions", "n": 1}]


def _twins(swept: Swept, name: str) -> tuple[str, str]:
    """The versions two promotions at once left: the first registered, the second (its twin) holding staging."""
    first = wb.promote(swept.run_id("good"), name=name, alias="staging", gates=EASY, settings=swept.settings)  # type: ignore[arg-type]
    client = MlflowClient(swept.settings.tracking_uri)
    held = client.get_model_version(name, first.version)
    twin = client.create_model_version(name, source=held.source, run_id=held.run_id, tags=held.tags)
    client.set_registered_model_alias(name, "staging", twin.version)  # the other promotion's alias write came last
    return str(first.version), str(twin.version)


def test_a_configuration_registered_twice_at_once_goes_to_production_as_the_twin_holding_staging(swept: Swept) -> None:
    _first, twin = _twins(swept, "assist-twins-production")
    promoted = wb.promote(swept.run_id("good"), name="assist-twins-production", alias="production", gates=EASY,  # type: ignore[arg-type]
                          settings=swept.settings)
    assert promoted.version == twin


def test_promoting_one_of_twins_again_leaves_the_alias_where_it_is(swept: Swept) -> None:
    _first, twin = _twins(swept, "assist-twins-again")
    again = wb.promote(swept.run_id("good"), name="assist-twins-again", alias="staging", gates=EASY, settings=swept.settings)  # type: ignore[arg-type]
    assert (again.version, again.previous_version) == (twin, None)
