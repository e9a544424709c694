"""Sandboxed variant runs: private working directory, wall-time limit, token budget, failure capture."""

from workbench.sandbox._sandbox import Outcome, Sandbox, Status, Stopped, SweepSandboxes, kept_sandboxes, remove_sandboxes, run_sandboxed, running_sweeps

__all__ = ["Outcome", "Sandbox", "Status", "Stopped", "SweepSandboxes", "kept_sandboxes", "remove_sandboxes", "run_sandboxed", "running_sweeps"]
