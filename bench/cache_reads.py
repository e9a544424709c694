"""Benchmark: reading 200 cached texts back (a warm corpus load's cache part) with hits counted in memory, against
reads that each write their count to the counters as every read did before (one transaction per read).

Fills a cache folder with 200 extracted texts of 5,000 characters, then reads them all back ``--rounds`` times each
way, alternating, in this one process, and prints the best round of each and their ratio.

    .venv/bin/python bench/cache_reads.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from workbench.cache import DiskCacheStore

TEXTS = 200


def read_all(store: DiskCacheStore, *, count_each: bool) -> float:
    started = time.perf_counter()
    for i in range(TEXTS):
        store.get("text", f"page-{i}")
        if count_each:
            store._tally.write()  # what every read did: its hit written at once
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds of 200 reads each way")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = DiskCacheStore(Path(tmp) / "cache")
        for i in range(TEXTS):
            store.put("text", f"page-{i}", {"text": f"page {i} " + "x" * 5000, "metadata": {}})
        read_all(store, count_each=False)  # first reads: sqlite's pages into memory
        best = {True: float("inf"), False: float("inf")}
        for _ in range(args.rounds):
            for count_each in (True, False):
                best[count_each] = min(best[count_each], read_all(store, count_each=count_each))
        hits = store.info().hits["text"]
        store.close()
    print(f"{TEXTS} cached texts read back, best of {args.rounds} rounds ({hits} hits counted):")
    print(f"  each read writing its count: {best[True] * 1000:7.1f} ms ({best[True] / TEXTS * 1e6:5.0f} us a read)")
    print(f"  counted in memory:           {best[False] * 1000:7.1f} ms ({best[False] / TEXTS * 1e6:5.0f} us a read), "
          f"{best[True] / best[False]:.2f}x faster")


if __name__ == "__main__":
    main()
