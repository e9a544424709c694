"""Errors raised by promotion, export and bundle loading (one line each, saying what to do)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.promotion._gates import GateReport


class PromotionError(WorkbenchError):
    """A promotion or rollback cannot be done (wrong run, missing staging step, unknown name or alias)."""


class GateFailed(PromotionError):
    """One or more gates failed and no override reason was given. ``report`` holds every gate's result."""

    def __init__(self, message: str, report: GateReport) -> None:
        super().__init__(message)
        self.report = report


class GateMetricUnknown(PromotionError):
    """A gate given to ``promote`` names a metric no run logs (misspelt): refused before any gate is judged, whatever
    the override reason. ``gate`` is its index among the gates, ``field`` the field naming it, ``problem`` the message
    without the location (a gates file's reader puts its own: file, line and key)."""

    def __init__(self, gate: int, field: str, problem: str) -> None:
        super().__init__(f"gates[{gate}].{field}: {problem}")
        self.gate, self.field, self.problem = gate, field, problem

    def __reduce__(self) -> tuple[type[GateMetricUnknown], tuple[int, str, str]]:
        return type(self), (self.gate, self.field, self.problem)  # pickled as built (a notebook's kernel, a worker)


class ExportError(WorkbenchError):
    """An export cannot be written (not a git repository, dirty repository, branch exists...)."""


class SecretFound(ExportError):
    """A file about to be exported (or a text about to be recorded) contains something that looks like a secret."""


class BundleError(WorkbenchError):
    """A bundle cannot be loaded: a file is missing or modified, the config is invalid, or the corpus differs."""
