"""Rendering helpers shared by the widgets: HTML tables and small formatting (presentation only)."""

from __future__ import annotations

import html
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

from workbench.cache import ExtractedTexts
from workbench.comparison import number_text
from workbench.config import Settings, settings as default_settings
from workbench.errors import WorkbenchError
from workbench.metrics import is_count
from workbench.redaction import redact
from workbench.tracking import run_url, ui_url

# colours that read in JupyterLab's light and dark themes alike: backgrounds are translucent (a dark theme's light text
# on #f3f3f3 was unreadable) and text colours are the theme's own where it names them; answers, chunks and documents
# break a long word (a URL, a token of base64) at the window's edge instead of stretching their box past it
STYLE = """<style>
.wb-scroll {overflow-x: auto; max-width: 100%;}
.wb-table {border-collapse: collapse; font-size: 12px; margin: 4px 0;}
.wb-table th, .wb-table td {border-bottom: 1px solid rgba(127, 127, 127, 0.3); padding: 3px 8px; text-align: left; vertical-align: top;}
.wb-table th {background: rgba(127, 127, 127, 0.12);}
.wb-table td.num {text-align: right; font-variant-numeric: tabular-nums;}
.wb-muted {color: var(--jp-content-font-color2, #777);}
.wb-error {color: var(--jp-error-color1, #b00020);}
.wb-ok {color: var(--jp-success-color1, #1b7f3b);}
.wb-chunk {border-left: 3px solid rgba(127, 127, 127, 0.45); padding: 2px 6px; margin: 3px 0; white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12px;}
.wb-chunk.relevant {border-left-color: var(--jp-success-color1, #1b7f3b);}
.wb-answer {white-space: pre-wrap; overflow-wrap: anywhere; background: rgba(127, 127, 127, 0.1); padding: 4px 6px; font-size: 13px;}
.wb-doc {white-space: pre-wrap; overflow-wrap: anywhere; font-family: monospace; font-size: 12px; line-height: 1.5; max-height: 420px; overflow-y: auto;}
.wb-doc .c0 {background: rgba(91, 141, 239, 0.25);} .wb-doc .c1 {background: rgba(255, 160, 40, 0.3);} .wb-doc .ov {background: rgba(230, 40, 40, 0.35);}
.wb-doc .gap {color: var(--jp-content-font-color3, #999);}
.wb-doc .cut {border-left: 2px solid #d33; margin-left: 1px;}
.wb-hist {display: flex; align-items: flex-end; height: 110px; gap: 2px; margin: 4px 0;}
.wb-hist div {background: rgba(91, 141, 239, 0.85); min-width: 14px; flex: 1;}
</style>"""


class BackgroundJob:
    """One job at a time in a daemon thread, so the kernel stays free (and a Stop button pressable) while a sweep runs:
    ``start(target, *args)``, ``running``, ``wait(timeout)``. The thread ends with its job: a local Ray instance a
    sweep starts is started from workbench's own process-long thread (``workbench.execution``), so it outlives it."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._ended = threading.Event()  # set when no job runs
        self._ended.set()

    @property
    def running(self) -> bool:
        return not self._ended.is_set()

    def start(self, target: Callable[..., None], *args: Any) -> None:
        """Run ``target(*args)`` in a new daemon thread (the caller checks ``running`` first); what it raises is said
        on stderr, as any thread says it."""
        self._ended = ended = threading.Event()

        def job() -> None:
            try:
                target(*args)
            finally:
                ended.set()

        threading.Thread(target=job, name=self._name, daemon=True).start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; True when none runs."""
        # not Thread.join: interrupted by the kernel's interrupt, Python 3.11's join marks a thread that still runs as
        # stopped (is_alive() False), and a widget would take a running sweep for a finished one
        self._ended.wait(timeout)
        return not self.running


def esc(value: Any) -> str:
    """Text for HTML: secrets redacted (answers, errors and chunks can carry a key), then escaped."""
    return html.escape(redact(str(value)))


def fmt(value: Any, *, count: bool = False) -> str:
    """A cell value for display: floats as the comparison shows them (3 decimals, scientific below 0.001, so a cost of
    $0.0004 is not 0.000), a ``count`` that is a whole number as one (4 calls, not 4.000), thousands grouped, missing
    values as a dash."""
    if value is None:
        return "—"
    if isinstance(value, float):
        whole = math.isfinite(value) and (abs(value) >= 1000 or (count and value.is_integer()))
        return f"{value:,.0f}" if whole else number_text(value)
    return str(value)


# a table cell holds this many characters of a text (an error can be a provider's whole HTTP answer): the rest is in
# the cell's tooltip, so one long error does not stretch the table past the screen and push every number out of sight
CELL_CHARS = 200


def esc_cut(value: Any, limit: int = CELL_CHARS) -> str:
    """``esc`` of the text's first ``limit`` characters (and "…" when there are more), redacted before the cut: a key
    cut in two is no longer recognised as one."""
    whole = redact(str(value))
    return html.escape(whole if len(whole) <= limit else whole[:limit].rstrip() + "…")


def _cell(text: str, klass: str) -> str:
    if len(text) <= CELL_CHARS:
        return f"<td{klass}>{esc(text)}</td>"
    return f'<td{klass} title="{esc(text)}">{esc_cut(text)}</td>'


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def frame_table(frame: Any, columns: Sequence[str] | None = None, *, links: Callable[[Any], str] | None = None, css: str = "") -> str:
    """A DataFrame as an HTML table; ``links(row)`` adds a last column of links (empty string: no link). A text longer
    than ``CELL_CHARS`` is cut in its cell and shown whole as the cell's tooltip."""
    cols = [c for c in (columns or list(frame.columns)) if c in frame.columns]
    head = "".join(f"<th>{esc(c)}</th>" for c in cols) + ("<th>MLflow</th>" if links else "")
    body = []
    for _, row in frame.iterrows():
        cells = []
        for c in cols:
            value = row[c]
            value = None if (isinstance(value, float) and math.isnan(value)) else value
            klass = ' class="num"' if _is_number(value) else ""
            cells.append(_cell(fmt(value, count=is_count(c)), klass))
        if links:
            href = links(row)
            cells.append(f'<td><a href="{esc(href)}" target="_blank" rel="noopener">run</a></td>' if href else "<td></td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    # in a scrolling box: a leaderboard of 17 columns in a narrow window scrolls, not cut off at the output's edge
    return f'<div class="wb-scroll"><table class="wb-table {css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def run_links(tracking_uri: str | None) -> Callable[[Any], str]:
    """The MLflow UI link of a leaderboard row's run logged to ``tracking_uri`` (default: the project's store), empty
    when the run was not logged."""
    base = ui_url(tracking_uri)

    def link(row: Any) -> str:
        run_id = row.get("run_id") if hasattr(row, "get") else None
        return run_url(str(run_id), base=base) if isinstance(run_id, str) and run_id else ""

    return link


def kept_texts(settings: Settings | None) -> ExtractedTexts:
    """The PDF, HTML and Word texts kept in the project's cache (``load_corpus(texts=...)``; closed on leaving a ``with``):
    a widget refreshing a corpus of manuals does not extract every page again."""
    return ExtractedTexts.of_project(settings or default_settings())


def error_html(message: str) -> str:
    return f'<span class="wb-error">{esc(message)}</span>'


def not_a_sweep(widget: str, value: Any) -> WorkbenchError:
    """The one-line error for a widget given something that is not a sweep, most often ``panel.result`` read before
    the RunPanel's sweep ended (it is None until then)."""
    got = "None" if value is None else type(value).__name__
    return WorkbenchError(f"{widget} needs a sweep's result (what wb.run or RunPanel.run() returns), got {got} — a RunPanel's "
                          "result is None until its sweep ends: use result = panel.run(), which waits for it")
