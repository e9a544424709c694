"""Benchmark: the CPU each process of a local Ray instance spends importing Ray, with and without the workbench's site.

Every process a local instance starts (each variant's fresh worker, the dashboard, the monitors, the agents) first
imports ``ray``, which imported jsonschema's IRI parsers (``rfc3987_syntax``, compiled at import). A local instance now
starts its processes with ``workbench/execution/_ray_site`` first on their PYTHONPATH (``local_ray_site``), whose
``sitecustomize`` defers that import. This starts ``python -c "import ray"`` ``--runs`` times each way, alternately,
and prints the CPU (user + system, of the child processes) per start and the ratio of the two.

    .venv/bin/python bench/ray_startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys

from workbench.execution._ray import local_ray_site


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _start_cpu(env: dict[str, str]) -> float:
    before = _children_cpu()
    subprocess.run([sys.executable, "-c", "import ray"], env=env, check=True)
    return _children_cpu() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    plain = dict(os.environ)
    with local_ray_site():
        with_site = dict(os.environ)
    totals = {"plain": 0.0, "ray site": 0.0}
    for _ in range(runs):
        totals["plain"] += _start_cpu(plain)
        totals["ray site"] += _start_cpu(with_site)
    for name, total in totals.items():
        print(f"{name:9} {total / runs:.2f} s CPU per Ray process start")
    print(f"ratio     {totals['ray site'] / totals['plain']:.2f} (ray site / plain)")


if __name__ == "__main__":
    main()
