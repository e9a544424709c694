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


def _die_with_the_raylet() -> None:
    """End this process once the raylet that started it is gone (its dashboard and runtime-env agents, each task's
    worker). A local instance's raylet dies with the process that started it, killed or not (PR_SET_PDEATHSIG); the
    agents saw it go, then spent a minute trying to tell the GCS, dead too, before they exited: a sweep killed with
    SIGKILL left them running (with their memory and ports) that long."""
    raylet = os.environ.get("RAY_RAYLET_PID", "")
    if not raylet.isdigit() or os.getppid() != int(raylet):
        return
    import threading
    import time

    def watch() -> None:
        while os.getppid() == int(raylet):
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="workbench-raylet-watch", daemon=True).start()


def _start() -> None:
    _die_with_the_raylet()
    workbench = os.path.dirname(os.path.dirname(_HERE))
    deferral = importlib.util.spec_from_file_location("_workbench_ray_site_imports", os.path.join(workbench, "_imports.py"))
    if deferral is not None:
        _run(deferral, deferral.name)
    others = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]
    shadowed = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if shadowed is not None:
        _run(shadowed, "sitecustomize")


_start()
