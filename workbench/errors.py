"""Errors raised at workbench's edges. Every message is one line naming where the problem is and what to do."""

from __future__ import annotations

__all__ = [
    "WorkbenchError",
    "SpecError",
    "DataError",
    "ModelError",
    "ModelLoadError",
    "BudgetExceeded",
    "Terminated",
    "shortened",
]


class WorkbenchError(Exception):
    """Base class of the errors workbench raises on bad input or configuration."""


class SpecError(WorkbenchError, ValueError):
    """An experiment spec is invalid. The message names the file, line and field."""


class DataError(WorkbenchError, ValueError):
    """A dataset or corpus is invalid. The message names the file, line and field."""


class ModelError(WorkbenchError):
    """A model string cannot be resolved, or its provider package or key is missing."""


class ModelLoadError(ModelError):
    """A model's file cannot be loaded (llama.cpp refuses it): every call would fail the same way, so the variant fails
    with the reason, not each of its questions after loading the file again."""


class BudgetExceeded(WorkbenchError):
    """A variant ran past its wall-time limit or token budget."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a cancelled CI job, ``docker stop``) stopped a sweep. It ends the sweep the way
    Ctrl+C does, and ``workbench run`` exits 143 (128 + SIGTERM) instead of 130, so a supervisor can tell the two apart."""


def shortened(text: str, limit: int = 500) -> str:
    """An error cut to fit a line, between two words, saying how long it was (cut after redaction, so no key is cut in
    half and let through): a proxy's HTML error page quoted in a provider's error is hundreds of kilobytes."""
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit + 1)  # between two words, unless one word fills the line (a URL, a blob of JSON)
    head = text[:space] if space >= limit // 2 else text[:limit]
    return f"{head.rstrip(' ,;:(/—-')}… (cut: {len(text)} characters in all)"
