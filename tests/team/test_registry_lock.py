"""Promotions and rollbacks on a ``postgresql://`` store are made one at a time, as on a sqlite one: two CI jobs (two
machines, so no file lock) promoting at once each read the registry before the other wrote it, and registered one
configuration as two versions or lost an alias event."""

from __future__ import annotations

import threading
import time

import pytest

from tests.team.conftest import Postgres
from workbench.tracking import registry_changes_serialised

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_registry_changes_on_a_postgresql_store_wait_for_each_other(postgres: Postgres) -> None:
    uri = postgres.create_database("registry_lock")
    order: list[str] = []
    inside, leave = threading.Event(), threading.Event()

    def first() -> None:
        with registry_changes_serialised(uri):
            order.append("first in")
            inside.set()
            leave.wait(30)
            order.append("first out")

    def second() -> None:
        with registry_changes_serialised(uri):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert inside.wait(30)
    threads[1].start()
    time.sleep(1.0)  # a lock not taken lets the second in at once
    assert order == ["first in"]
    leave.set()
    for t in threads:
        t.join(30)
    assert order == ["first in", "first out", "second in"]
    # the store's own lock (opening a new database) is another one: not held by a registry change
    with registry_changes_serialised(uri):
        from workbench.tracking._store_lock import _advisory_lock

        with _advisory_lock(uri):
            pass
