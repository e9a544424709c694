"""How a sweep runs: its budgets (``Limits``), racing variants to drop the losers early (``RacingSpec``), and the
executor, workers and concurrency (``ExecutionSpec``)."""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from workbench.metrics import scorer_entries
from workbench.models import PROVIDERS
from workbench.spec._base import _fraction_not_percent, _Spec


class Limits(_Spec):
    """Per-variant sandbox limits, enforced from outside the variant's worker process (``isolation: process``)."""

    wall_time_s: float = Field(default=1800.0, gt=0, description="wall-time limit of one variant (its process is killed past it)")
    max_tokens: int | None = Field(default=None, ge=1, description="token budget (input + output) of one variant's answering model calls, the judge's not counted")
    max_cost_usd: float | None = Field(
        default=None, gt=0, description="dollar budget of one variant's answering model calls, priced as cost_usd (answers read from the cache count too), the judge's not counted"
    )
    # at most 2**40 MB (an exbibyte): a larger cap overflowed setrlimit in the worker, a FAILED run instead of a spec line
    memory_mb: int | None = Field(default=None, ge=64, le=2**40, description="memory one variant may allocate in its worker process, beyond what the worker held at its start (data segment)")


class RacingSpec(_Spec):
    """Racing: stop paying for variants that are already clearly worse than the leader.

    Every live variant answers the next ``batch`` questions (the same ones, in the same order, so differences are
    paired); once a variant has ``min_questions`` scored answers, it stops when the paired bootstrap interval (at
    ``confidence``) of its ``metric`` minus the current leader's lies entirely on the worse side of zero, or, with a
    ``tolerance``, when it rules out that the variant beats the leader by ``tolerance`` or more.
    """

    metric: str = Field(default="token_f1", description="the per-question score variants race on (a scorer the sweep computes)")
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0, description="coverage of the paired interval that stops a variant")
    min_questions: int = Field(default=8, ge=2, le=10_000, description="scored answers a variant gives before it can be stopped")
    batch: int = Field(default=4, ge=1, le=10_000, description="questions every live variant answers at a time (a decision after each batch; on a large set, once a 16th more questions were answered)")
    tolerance: float = Field(
        default=0.0, ge=0.0, description="smallest difference in metric that matters to you: a variant that cannot beat the leader by this much stops too (0: stop only the ones that are worse)"
    )

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        known = scorer_entries()
        if value not in known:
            raise ValueError(f"unknown metric '{value}' — racing compares a per-question score: {', '.join(sorted(known))}")
        return value

    @field_validator("confidence", mode="before")
    @classmethod
    def _confidence_is_a_fraction(cls, value: Any) -> Any:
        return _fraction_not_percent(value)


# calls in flight per provider: a worker process keeps one lock file open per slot, within the usual 1,024 open files
_MAX_CONCURRENCY = 512


class ExecutionSpec(_Spec):
    """How the variants run: where (worker processes, or the caller's process), how many at once, on which engine."""

    isolation: Literal["process", "none"] = Field(
        default="process", description="process: each variant in its own worker process; none: in the caller's process (debugging)"
    )
    workers: int = Field(default=1, ge=1, le=256, description="variants run at once (hosted ones: enough to fill the calls in flight); also hosted calls in flight per provider")
    backend: Literal["local", "ray"] = Field(default="local", description="local processes, or tasks on a Ray cluster")
    address: str | None = Field(default=None, description="Ray address: auto, ray://host:10001 (default: a local Ray instance)")
    concurrency: dict[str, int] = Field(
        default={}, description="hosted calls in flight per provider across the sweep, e.g. {openai: 16} (default: workers)",
        json_schema_extra={"propertyNames": {"enum": sorted(PROVIDERS)},
                           "additionalProperties": {"type": "integer", "minimum": 1, "maximum": _MAX_CONCURRENCY}},
    )
    retries: int = Field(default=4, ge=0, le=20, description="retries of a hosted call on 429, 5xx and timeouts (exponential backoff)")
    racing: RacingSpec | None = Field(
        default=None, description="answer in batches and stop variants clearly worse than the leader (paired bootstrap)"
    )

    @field_validator("address")
    @classmethod
    def _ray_address(cls, value: str | None) -> str | None:
        if value is not None:
            _ray_endpoint(value)
        return value

    @field_validator("concurrency", mode="before")
    @classmethod
    def _no_yes_no_limits(cls, value: Any) -> Any:
        # `openai: yes` was read as 1 call in flight (the number fields of a section refuse yes/no; this is a mapping)
        for provider, n in value.items() if isinstance(value, dict) else ():
            if isinstance(n, bool):
                raise ValueError(f"{provider}: {str(n).lower()} is a yes/no value — give a number of calls in flight")
        return value

    @field_validator("concurrency")
    @classmethod
    def _positive(cls, value: dict[str, int]) -> dict[str, int]:
        for provider, n in value.items():
            if provider not in PROVIDERS:  # its limit would apply to nothing: the provider meant would run unlimited
                meant = difflib.get_close_matches(provider.lower(), sorted(PROVIDERS), n=1, cutoff=0.6)
                hint = f"did you mean '{meant[0]}'? — " if meant else ""
                raise ValueError(f"'{provider}' is not a hosted model provider; {hint}limits are per provider, the part before "
                                 f"':' in a model string: {', '.join(sorted(PROVIDERS))}")
            if n < 1:
                raise ValueError(f"concurrency for '{provider}' must be at least 1")
            if n > _MAX_CONCURRENCY:  # a lock file per slot, held open by each worker: 10**20 would never finish naming them
                raise ValueError(f"concurrency for '{provider}' is {n}, over {_MAX_CONCURRENCY} — each call in flight holds "
                                 f"one of that many lock files, kept open by every worker process: give at most {_MAX_CONCURRENCY}")
        return value

    @model_validator(mode="after")
    def _address_needs_ray(self) -> ExecutionSpec:
        if self.address is not None and self.backend != "ray":
            raise ValueError("address is a Ray address — set backend: ray, or remove address")
        if self.backend == "ray" and self.isolation == "none":
            raise ValueError("backend ray runs variants in Ray's worker processes — use isolation: process")
        return self

    def provider_limit(self, provider: str) -> int:
        """Hosted calls of one provider in flight at once, across the sweep."""
        return self.concurrency.get(provider, self.workers)

    def ray_endpoint(self) -> tuple[str, int] | None:
        """The host and port ``address`` connects to; None for a local instance or ``auto`` (found by Ray itself)."""
        return None if self.address is None else _ray_endpoint(self.address)


def _ray_endpoint(address: str) -> tuple[str, int] | None:
    """``ray://host:port`` or ``host:port`` -> (host, port); ``auto``, ``local`` -> None. ValueError on anything else."""
    if address in ("auto", "local"):
        return None
    where = address.removeprefix("ray://")
    host, _, port = where.rpartition(":")
    if "/" in where or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"'{address}' is not a Ray address — use auto (on a cluster node), host:6379 (the head's GCS port) "
                         "or ray://host:10001 (Ray Client)")
    return host.strip("[]"), int(port)
