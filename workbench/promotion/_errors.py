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


class ExportError(WorkbenchError):
    """An export cannot be written (not a git repository, dirty repository, branch exists...)."""


class SecretFound(ExportError):
    """A file about to be exported (or a text about to be recorded) contains something that looks like a secret."""


class BundleError(WorkbenchError):
    """A bundle cannot be loaded: a file is missing or modified, the config is invalid, or the corpus differs."""
