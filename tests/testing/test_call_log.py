"""The fakes' call logs: files in the temp folder, shared with the variants' worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from workbench.testing import CallLog


def test_call_logs_of_a_killed_process_are_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    """A test worker killed by a timeout or a crash never removed its fakes' logs: they piled up in /tmp run after run.
    A log is named after its owner process, and the suite removes, when it ends, those whose owner no longer runs."""
    log = CallLog()
    assert Path(log.path).name.startswith(f"workbench-calls-{os.getpid()}-")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    orphan, live = tmp_path / f"workbench-calls-{gone.stdout.strip()}-abc.log", tmp_path / f"workbench-calls-{os.getpid()}-def.log"
    other = tmp_path / "workbench-calls-notapid.log"
    for path in (orphan, live, other):
        path.write_bytes(b"")
    assert CallLog.remove_orphans(str(tmp_path)) == [str(orphan)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])


def _refuse_to_load() -> None:
    raise RuntimeError("an earlier call was read back")


class _Unloadable:
    """Pickles, but reading it back raises: what a call log must never do when it records the next call."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return _refuse_to_load, ()


def test_recording_a_call_never_reads_back_the_calls_before_it() -> None:
    """Each call was numbered by reading back and unpickling every call recorded before it: quadratic, so a fake sweep
    over a team's 5,000 questions took hours (43 ms a call after 3,000 calls of 2 kB prompts). The log keeps its count."""
    log = CallLog()
    assert log.record(_Unloadable()) == 0
    assert [log.record(f"call {i}") for i in range(1, 4)] == [1, 2, 3]
    plain = CallLog()
    assert [plain.record(("prompt", i)) for i in range(3)] == [0, 1, 2]
    assert plain.entries() == [("prompt", 0), ("prompt", 1), ("prompt", 2)]
