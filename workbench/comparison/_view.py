"""What the text, HTML, gates and plots read of a comparison. ``ComparisonReport`` is one; typing them against this
protocol instead of the report keeps those modules free of an import back into ``_compare``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from workbench.comparison._tables import Skipped, VariantTable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ComparisonView"]


class ComparisonView(Protocol):
    """A computed comparison: the tidy table of intervals and verdicts and how it was computed."""

    @property
    def table(self) -> pd.DataFrame: ...

    @property
    def baseline(self) -> str: ...

    @property
    def metrics(self) -> tuple[str, ...]: ...

    @property
    def variants(self) -> tuple[VariantTable, ...]: ...

    @property
    def skipped(self) -> tuple[Skipped, ...]: ...

    @property
    def confidence(self) -> float: ...

    @property
    def n_resamples(self) -> int: ...

    @property
    def seed(self) -> int: ...

    @property
    def seed_note(self) -> str: ...

    @property
    def success_metric(self) -> str: ...

    @property
    def success_threshold(self) -> float: ...

    @property
    def routing(self) -> pd.DataFrame | None: ...

    @property
    def routers_without_cost(self) -> tuple[str, ...]: ...

    def row(self, variant: str, metric: str) -> Mapping[str, Any]:
        """The table row of one variant (name, id or run id) and metric."""
        ...
