"""What a finished sweep says, in one wording wherever it is read (``workbench run``, ``wb.run`` with progress on): a
failed variant's line (``failed_line``), where to open a store in MLflow (``ui_hint``) and text made fit for a terminal
(``printable``, ``one_line``, ``counted``). Pure but for the redaction; it knows no result type (``_sweep`` and
``_variant`` use it)."""

from __future__ import annotations

import re

from workbench.config import shown_uri
from workbench.errors import shortened
from workbench.redaction import redact

__all__ = ["counted", "failed_line", "one_line", "printable", "ui_hint"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


def counted(n: int, noun: str) -> str:
    """``n`` and its noun, singular for one (pure): "1 question", "20 questions"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def printable(text: str) -> str:
    """``text`` with its control characters shown as ``\\x1b``, not obeyed (pure): an error quoted from a provider, a
    proxy or a data file may carry terminal escapes that clear the screen, retitle the window or write the clipboard
    (OSC 52), or a carriage return that writes over the line."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def one_line(text: str) -> str:
    """A message on one line: its lines joined by " / " (a provider's HTML error page, a multi-line exception), its
    control characters shown (pure)."""
    return printable(" / ".join(part.strip() for part in text.splitlines() if part.strip()))


def failed_line(name: str, error: str | None) -> str:
    """``FAILED <variant>: <its error on one line>``, redacted (keys, a store's password) and cut to fit a line."""
    return printable(f"FAILED {name}: {shortened(str(redact(shown_uri(one_line(error or '')))))}")


def ui_hint(uri: str, *, given: bool) -> str:
    """How to open the store ``uri`` in the MLflow UI (``given``: name the store in the command, as ``ui`` needs it
    when it is not the project's default)."""
    if uri.startswith(("http://", "https://")):  # a tracking server is its own UI
        return f"browse {shown_uri(uri)}"
    option = f"--tracking-uri {shown_uri(uri)} " if given else ""
    return f"workbench {option}ui   (then browse http://127.0.0.1:5000)"
