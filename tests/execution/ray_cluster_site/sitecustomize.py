"""Run at start-up in each process of test_ray_address's one-node cluster (the workbench's ``_ray_site``, first on their
PYTHONPATH, runs the ``sitecustomize`` it shadows: this one).

When a task's arguments cannot be loaded on the cluster, Ray Client's server ends the connection, then waits
``QUEUE_JOIN_SECONDS`` (10 s, a constant of Ray's) for the client to close its request stream, which the client does
only once the server has ended the call: 10 s of each such test are that wait, whatever the workbench does. The
cluster's servers here wait 1 s instead; what reaches the client (the broken connection and its reason) is the same.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

_DATA_SERVICER = "ray.util.client.server.dataservicer"
_JOIN_S = 1.0


class _ShortJoin(importlib.abc.MetaPathFinder):
    """Finds Ray Client's data servicer as Python would, and sets its join wait once its module has run."""

    def find_spec(self, name: str, path: Sequence[str] | None, target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name != _DATA_SERVICER:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        run = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            module.QUEUE_JOIN_SECONDS = _JOIN_S

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


sys.meta_path.insert(0, _ShortJoin())
