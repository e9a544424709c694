"""A variant's traces, built in memory and written in bulk.

MLflow's live tracing exports every span as it ends (one store transaction per span) and each assessment logged on a
finished trace is another transaction: ~11 per question on sqlite, the one MLflow writer's main cost. The workbench
logs traces after the fact, from recorded timings, so it builds them here instead: spans are MLflow ``LiveSpan``s on a
private OpenTelemetry tracer (no exporter), a trace's assessments ride on its ``TraceInfo``, and ``write_traces`` stores each
trace with ``start_trace`` (info, tags, metadata, assessments: one transaction) and the spans of 50 traces with one
``log_spans``. What lands in the store is what the live path writes: the same spans, previews and metadata (the store adds the
token usage up from the spans), but for the source and git commit, which are the trace's run's (``_environment``).
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.tracking._unreachable import is_unreachable

__all__ = ["TraceBuilder", "write_traces"]

_BATCH = 50  # traces started, then their spans stored in one log_spans call


@dataclass
class TraceBuilder:
    """One trace: a root span, its children, its tags and assessments. Span setters go through ``wrap`` (redaction)."""

    experiment_id: str
    root: Any
    wrap: Any
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    assessments: list[Any] = field(default_factory=list)
    _spans: list[Any] = field(default_factory=list)

    @classmethod
    def start(
        cls, name: str, span_type: str, *, experiment_id: str, inputs: Any, start_time_ns: int, tags: dict[str, str],
        metadata: dict[str, str], attributes: dict[str, Any], wrap: Any,
    ) -> "TraceBuilder":
        from mlflow.entities.span import LiveSpan
        from mlflow.tracing.utils import generate_trace_id_v3

        otel = _tracer().start_span(name, start_time=start_time_ns, attributes=_start_attributes(start_time_ns, experiment_id))
        root = LiveSpan(otel, generate_trace_id_v3(otel), span_type)
        built = cls(experiment_id, wrap(root), wrap, dict(tags), dict(metadata))
        built._spans.append(root)
        built.root.set_inputs(inputs)
        built.root.set_attributes(attributes)
        return built

    @property
    def trace_id(self) -> str:
        return self.root.trace_id

    def span(self, name: str, span_type: str, *, parent: Any, inputs: Any, start_time_ns: int, attributes: dict[str, Any] | None = None) -> Any:
        from mlflow.entities.span import LiveSpan
        from opentelemetry import trace as otel_trace

        parent_otel = getattr(parent, "_target", parent)._span
        otel = _tracer().start_span(
            name, context=otel_trace.set_span_in_context(parent_otel), start_time=start_time_ns, attributes=_start_attributes(start_time_ns)
        )
        live = LiveSpan(otel, self.trace_id, span_type)
        self._spans.append(live)
        span = self.wrap(live)
        span.set_inputs(inputs)
        if attributes:
            span.set_attributes(attributes)
        return span

    def finish(self) -> tuple[Any, list[Any]]:
        """The trace's ``TraceInfo`` (with its assessments) and its finished spans, once the root span has ended."""
        from mlflow.entities import Trace, TraceData, TraceInfo, TraceLocation, TraceState
        from mlflow.tracing.constant import TRACE_SCHEMA_VERSION, TRACE_SCHEMA_VERSION_KEY, SpanAttributeKey, TraceMetadataKey, TraceTagKey
        from mlflow.tracing.utils import add_size_stats_to_trace_metadata

        root = self._spans[0]
        if root.end_time_ns is None:
            raise RuntimeError(f"trace {self.trace_id}: its root span has not ended")
        spans = [s.to_immutable_span() for s in self._spans]
        metadata = {
            **_environment(),
            TRACE_SCHEMA_VERSION_KEY: str(TRACE_SCHEMA_VERSION),
            **self.metadata,
            TraceMetadataKey.INPUTS: _preview(root._span.attributes.get(SpanAttributeKey.INPUTS)),
            TraceMetadataKey.OUTPUTS: _preview(root._span.attributes.get(SpanAttributeKey.OUTPUTS)),
        }
        for assessment in self.assessments:
            assessment.trace_id = self.trace_id
        info = TraceInfo(
            trace_id=self.trace_id,
            trace_location=TraceLocation.from_experiment_id(self.experiment_id),
            request_time=root.start_time_ns // 1_000_000,
            execution_duration=(root.end_time_ns - root.start_time_ns) // 1_000_000,
            state=TraceState.ERROR if root.status.status_code == "ERROR" else TraceState.OK,
            trace_metadata=metadata,
            tags={**self.tags, TraceTagKey.TRACE_NAME: root.name},
        )
        # as MLflow's live tracing counts it: when the root span ends, before any assessment is logged on the trace
        add_size_stats_to_trace_metadata(Trace(info, TraceData(spans)))
        info.assessments = list(self.assessments)
        return info, spans


def write_traces(
    client: Any, experiment_id: str, traces: Iterable[TraceBuilder], on_written: Callable[[int], None] | None = None,
) -> list[str]:
    """Store ``traces`` through a ``TracingClient``, 50 at a time: one ``start_trace`` each, then their spans in one
    ``log_spans``. ``traces`` is read as they are written (a generator keeps a batch in memory, not a variant's every
    trace). A batch cut short (Ctrl+C, a full disk, a value the store refuses) takes the traces it started back out:
    the store holds whole traces only, never one the MLflow UI cannot open for want of its spans. ``on_written`` is
    called with the number of traces stored so far after each batch (5,000 questions take minutes to log)."""
    written: list[str] = []
    pending = iter(traces)
    while batch := [t.finish() for t in itertools.islice(pending, _BATCH)]:  # a transaction's size stays bounded too
        _write_batch(client, experiment_id, batch)
        written.extend(info.trace_id for info, _ in batch)
        if on_written is not None:
            on_written(len(written))
    return written


def _write_batch(client: Any, experiment_id: str, batch: Sequence[tuple[Any, list[Any]]]) -> None:
    started: list[str] = []
    try:
        for info, _ in batch:
            started.append(info.trace_id)  # before the call: one cut short may have been stored
            client.start_trace(info)
        client.log_spans(experiment_id, [span for _, spans in batch for span in spans])
    except BaseException as exc:
        if not is_unreachable(exc):  # a server that is gone would make the error wait out MLflow's retries again
            with contextlib.suppress(Exception):
                client.delete_traces(experiment_id, trace_ids=started)
        raise


def _start_attributes(start_time_ns: int, experiment_id: str | None = None) -> dict[str, str]:
    """What MLflow's ``start_span_no_context`` records on a span it starts at a given time (and on a root span)."""
    from mlflow.tracing.constant import SpanAttributeKey

    attributes = {SpanAttributeKey.START_TIME_NS: json.dumps(start_time_ns)}
    if experiment_id is not None:
        attributes[SpanAttributeKey.EXPERIMENT_ID] = json.dumps(experiment_id)
    return attributes


def _environment() -> dict[str, str]:
    """The environment metadata MLflow gives a trace, without its git commit, branch and repository: MLflow looks those
    up once per process, from the current folder (a notebook kernel's traces kept its first sweep's commit). A trace's
    source is its run's, which the caller gives in ``metadata``."""
    from mlflow.tracing.utils.environment import resolve_env_metadata
    from mlflow.utils.mlflow_tags import MLFLOW_GIT_BRANCH, MLFLOW_GIT_COMMIT, MLFLOW_GIT_REPO_URL

    return {k: v for k, v in resolve_env_metadata().items() if k not in (MLFLOW_GIT_BRANCH, MLFLOW_GIT_COMMIT, MLFLOW_GIT_REPO_URL)}


def _preview(value: str | None) -> str:
    from mlflow.tracing.constant import MAX_CHARS_IN_TRACE_INFO_METADATA, TRUNCATION_SUFFIX

    if not value:
        return ""
    if len(value) > MAX_CHARS_IN_TRACE_INFO_METADATA:
        return value[: MAX_CHARS_IN_TRACE_INFO_METADATA - len(TRUNCATION_SUFFIX)] + TRUNCATION_SUFFIX
    return value


_TRACER: Any = None


def _tracer() -> Any:
    """An OpenTelemetry tracer of its own (no processors, no exporter): its spans reach the store only via ``write_traces``."""
    global _TRACER
    if _TRACER is None:
        import mlflow
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider

        # the resource MLflow's own provider gives its spans (a default one would become service.* tags on the trace)
        resource = Resource({"telemetry.sdk.language": "python", "telemetry.sdk.name": "mlflow", "telemetry.sdk.version": mlflow.__version__})
        _TRACER = TracerProvider(resource=resource).get_tracer("workbench.tracking")
    return _TRACER
