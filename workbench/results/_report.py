"""What a finished sweep says, in one wording wherever it is read (``workbench run``, ``wb.run`` with progress on, a
notebook cell ending in a result): a failed variant's line (``failed_line``), where to open a run in MLflow
(``ui_hint``, ``run_url``, ``mlflow_html``), text made fit for a terminal (``printable``, ``one_line``, ``counted``)
and a list of lines as HTML (``items_html``). Pure but for the redaction; it knows no result type (``_sweep`` and
``_variant`` use it)."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from workbench.config import shown_uri
from workbench.errors import shortened
from workbench.redaction import redact

__all__ = ["counted", "failed_line", "items_html", "mlflow_html", "one_line", "printable", "run_url", "ui_hint", "without_secrets"]

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


def without_secrets(text: str) -> str:
    """``text`` with its keys redacted and a tracking store's password hidden: what is printed of an error."""
    return str(redact(shown_uri(text)))


def failed_line(name: str, error: str | None) -> str:
    """``FAILED <variant>: <its error on one line>``, redacted (keys, a store's password) and cut to fit a line."""
    return printable(f"FAILED {name}: {shortened(without_secrets(one_line(error or '')))}")


def ui_hint(uri: str, *, given: bool) -> str:
    """How to open the store ``uri`` in the MLflow UI (``given``: name the store in the command, as ``ui`` needs it
    when it is not the project's default)."""
    if uri.startswith(("http://", "https://")):  # a tracking server is its own UI
        return f"browse {shown_uri(uri)}"
    option = f"--tracking-uri {shown_uri(uri)} " if given else ""
    return f"workbench {option}ui   (then browse http://127.0.0.1:5000)"


def run_url(uri: str, experiment_id: str | None, run_id: str | None) -> str:
    """The MLflow UI's page of a run on the tracking server ``uri`` (its experiment's without a run, the server's
    without either), with no login in it: the browser asks for it, and the page's HTML is saved with the notebook."""
    parts = urlsplit(uri)
    base = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path.rstrip('/')}"
    if experiment_id is None:
        return base
    return f"{base}/#/experiments/{experiment_id}" + (f"/runs/{run_id}" if run_id else "")


def mlflow_html(uri: str | None, experiment_id: str | None, run_id: str | None) -> str:
    """Where to open a run in MLflow, as HTML: a link to its page on a tracking server (``run_url``), else the command
    that opens its store (``ui_hint``); nothing for a store that is none (a ``MemoryTracker``'s)."""
    if not uri or uri.startswith("memory:"):
        return ""
    if uri.startswith(("http://", "https://")):
        url = html.escape(run_url(uri, experiment_id, run_id))
        return f'<div>Open it in MLflow: <a href="{url}" target="_blank" rel="noopener">{url}</a></div>'
    command, _, then = ui_hint(uri, given=True).partition("   ")
    return f"<div>Open it in MLflow: <code>{html.escape(command)}</code> {html.escape(then.strip())}</div>"


def items_html(lines: Sequence[str], title: str) -> str:
    """``lines`` as an HTML list under ``title``, escaped; nothing without lines."""
    if not lines:
        return ""
    return f"<div><b>{html.escape(title)}</b><ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul></div>"
