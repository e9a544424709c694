"""The comparison every sweep carries: the runner asks for it here and hands it to the tracker, which logs
``comparison.json``, ``comparison.txt`` and the plots under ``plots/`` on the parent run."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from workbench.comparison._compare import ComparisonReport, compare
from workbench.results import VariantResult

__all__ = ["comparison_key", "sweep_comparison"]

_log = logging.getLogger(__name__)

# what draws the numbers and the plots besides the workbench's own code
_LIBRARIES = ("numpy", "scipy", "pandas", "matplotlib")


def sweep_comparison(results: Sequence[VariantResult], *, seed: int = 0) -> ComparisonReport | None:
    """Compare a sweep's variants against ``wb.compare``'s default baseline, the first one that answered every question
    it asked and that racing did not stop early (variants without per-question results are listed as skipped).

    Args:
        results: the sweep's variant results.
        seed: the bootstrap seed (the sweep's seed, so a recomputed comparison is identical).

    Returns:
        The report; None when no variant has per-question results, or when the comparison cannot be computed (a
        warning says why: it is derived data and never fails the sweep).
    """
    if not any(r.records for r in results):
        return None
    try:
        return compare(list(results), seed=seed)
    except Exception as exc:  # noqa: BLE001 - derived data: the variants are logged either way
        _log.warning("could not compare the sweep's variants: %s: %s", type(exc).__name__, exc)
        return None


def comparison_key(results: Sequence[VariantResult], *, seed: int = 0) -> str | None:
    """A digest of everything a sweep's comparison and plots are computed from: each variant in order (its id, name,
    status, racing's stop and the run that computed its answers: the run it was reused from, or its own), the seed, and
    the code and libraries that compute them.

    Two sweeps with the same key have the same comparison: a sweep that reuses every variant of an earlier one copies
    that sweep's comparison and plots instead of computing them again (a bootstrap over thousands of questions takes
    minutes). None when a variant has no run (results never logged).
    """
    variants = [
        (r.variant.id, r.variant.name, r.status, r.stopped_early.label if r.stopped_early is not None else None, r.reused_from or r.run_id)
        for r in results
    ]
    if not variants or any(v[-1] is None for v in variants):
        return None
    payload = json.dumps({"variants": variants, "seed": seed, "code": _code()}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


@functools.cache
def _code() -> str:
    """A digest of the workbench's source files and the versions of the libraries that compute a comparison, read once a
    process (a changed comparison, metric or plot computes every comparison again)."""
    from importlib import metadata

    digest = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for library in _LIBRARIES:
        digest.update(f"{library}=={metadata.version(library)}\0".encode())
    return digest.hexdigest()
