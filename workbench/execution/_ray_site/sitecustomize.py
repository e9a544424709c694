"""Run by Python at start-up in each process of a local Ray instance (its folder is first on their ``PYTHONPATH``).

Every Ray process (each task's fresh worker, the dashboard, the monitors, the agents) imports ``ray``, which imports
``jsonschema``, which compiles ``rfc3987_syntax``'s parsers: 2 of a fresh worker's 3 s of start-up CPU, before the
workbench (which defers that import in its own processes) is imported there. ``workbench/_imports.py`` is loaded by its
path: importing the ``workbench`` package here would cost the monitors and agents far more than it saves. Then any
``sitecustomize`` this one shadows runs, as it would have without it.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _run(spec: importlib.machinery.ModuleSpec, name: str) -> None:
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)  # type: ignore[union-attr]


def _start() -> None:
    workbench = os.path.dirname(os.path.dirname(_HERE))
    deferral = importlib.util.spec_from_file_location("_workbench_ray_site_imports", os.path.join(workbench, "_imports.py"))
    if deferral is not None:
        _run(deferral, deferral.name)
    others = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]
    shadowed = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if shadowed is not None:
        _run(shadowed, "sitecustomize")


_start()
