"""Leaderboard: a sortable table of a sweep's variants; pick two to compare them with ``wb.compare``."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

import workbench as wb
from workbench.widgets._common import STYLE, error_html, esc, frame_table, not_a_sweep, run_links

_HIDDEN = ("variant_id", "run_id")
# "best first" is descending for a score, ascending for latency, cost or tokens (the leaderboard's default)
_ORDERS = {"best first": None, "descending": False, "ascending": True}


class Leaderboard(w.VBox):
    """The leaderboard of a ``SweepResult`` (a full or a retrieval-only sweep): sort by any column, compare two variants.

    Args:
        result: what ``wb.run`` returned.
        sort_by: the column to sort by first (default: the result's own default).
    """

    def __init__(self, result: wb.SweepResult, *, sort_by: str | None = None) -> None:
        if not isinstance(result, wb.SweepResult):
            raise not_a_sweep("Leaderboard", result)
        self.result = result
        result.leaderboard(sort_by=sort_by)  # a column no variant has: one WorkbenchError line naming the columns
        frame = result.leaderboard()
        numeric = [c for c in frame.columns if c not in _HIDDEN and frame[c].dtype.kind in "fi"]
        names = list(frame["variant"]) if len(frame) else []
        # any column the leaderboard sorts by is offered (model, status...), also one a sweep of no variant lacks
        columns = list(dict.fromkeys(["(default)", "variant", *numeric, *([sort_by] if sort_by else [])]))
        self.sort_by = w.Dropdown(options=columns, value=sort_by or "(default)", description="sort by")
        self.order = w.ToggleButtons(options=list(_ORDERS), value="best first")
        self.table = w.HTML()
        self.table.add_class("wb-leaderboard-table")
        self.variant_a = w.Dropdown(options=names, value=names[0] if names else None, description="baseline", layout=w.Layout(width="520px"))
        self.variant_b = w.Dropdown(options=names, value=names[1] if len(names) > 1 else None, description="versus", layout=w.Layout(width="520px"))
        self.every_variant = w.Checkbox(value=False, description="every variant against the baseline (intervals for all)", indent=False,
                                        layout=w.Layout(width="auto"))
        self.compare_button = w.Button(description="Compare", icon="balance-scale", disabled=len(names) < 2)
        self.compare_button.add_class("wb-compare-button")
        self.comparison = w.HTML()
        self.comparison.add_class("wb-comparison")
        self.report: wb.ComparisonReport | None = None
        self.sort_by.observe(lambda _c: self._render(), names="value")
        self.order.observe(lambda _c: self._render(), names="value")
        self.compare_button.on_click(lambda _b: self.compare())
        super().__init__([
            w.HTML(STYLE + f"<b>Leaderboard</b> <span class='wb-muted'>{len(names)} variants</span>"),
            w.HBox([self.sort_by, self.order]),
            self.table,
            w.HTML("<b>Compare two variants</b> <span class='wb-muted'>(bootstrap intervals over questions, paired)</span>"),
            w.VBox([self.variant_a, self.variant_b, self.every_variant]),
            self.compare_button,
            self.comparison,
        ])
        self.add_class("wb-leaderboard")
        self._render()

    def frame(self) -> Any:
        """The table as shown (sorted as selected)."""
        key = None if self.sort_by.value == "(default)" else self.sort_by.value
        return self.result.leaderboard(sort_by=key, ascending=_ORDERS[self.order.value])

    def _render(self) -> None:
        frame = self.frame()
        self.table.value = frame_table(frame, [c for c in frame.columns if c not in _HIDDEN], links=run_links(self.result.tracking_uri))

    def select(self, a: str, b: str) -> None:
        """Choose the two variants to compare (names as in the table).

        Raises:
            WorkbenchError: a name that is not one of the table's variants.
        """
        names = self.variant_a.options
        for name in (a, b):
            if name not in names:
                raise wb.WorkbenchError(f"no variant '{name}' in this leaderboard — its variants: {', '.join(names) or 'none'}")
        self.variant_a.value, self.variant_b.value = a, b

    def compare(self) -> wb.ComparisonReport | None:
        """Compare the selected variants with ``wb.compare`` (the first is the baseline) and show the report.

        With ``every_variant`` ticked, every logged variant is compared against the baseline.
        """
        a, b = self.variant_a.value, self.variant_b.value
        self.report = None
        if a is None or b is None or (a == b and not self.every_variant.value):
            self.comparison.value = error_html("pick two different variants")
            return None
        frame = self.result.leaderboard()
        runs = dict(zip(frame["variant"], frame["run_id"]))
        chosen = list(dict.fromkeys([a, *(frame["variant"] if self.every_variant.value else [b])]))
        uri = self.result.tracking_uri
        seed = self.result.spec.seed  # resampled as the sweep's comparison.json was: run ids alone do not name it
        self.comparison.value = "<span class='wb-muted'>comparing…</span>"
        try:
            logged = uri and not uri.startswith("memory:") and all(runs.get(name) for name in chosen)
            if logged and self.every_variant.value and self.result.parent_run_id:
                # the sweep's id: its variant runs in one search, not each run id looked up as an experiment, then a run
                self.report = wb.compare([self.result.parent_run_id], baseline=runs[a], seed=seed, tracking_uri=uri)
            elif logged:
                self.report = wb.compare([runs[name] for name in chosen], baseline=runs[a], seed=seed, tracking_uri=uri)
            else:  # not logged to MLflow (tracker=MemoryTracker()): the answers are in the result
                self.report = wb.compare([v for v in self.result.variants if v.variant.name in chosen], baseline=a, seed=seed)
        except wb.WorkbenchError as exc:  # the store's failures reach us as WorkbenchError too
            self.comparison.value = error_html(str(exc))
        else:
            versus = "every variant" if self.every_variant.value else f"<b>{esc(b)}</b>"
            self.comparison.value = f"{versus} versus baseline <b>{esc(a)}</b>" + self.report._repr_html_()
        return self.report
