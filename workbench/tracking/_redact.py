"""The one door from the workbench to MLflow: every argument of every call is redacted on its way out.

``redacting(target)`` wraps an ``MlflowClient``, a ``TracingClient``, the ``mlflow`` module (spans, assessments) or a
live span. Each method call is forwarded with its arguments redacted by ``workbench.redaction``: strings, dicts, lists,
MLflow entities (params, tags, metrics' names, feedback and expectations), DataFrames (column names and text cells).
Spans it returns are wrapped too, so their inputs, outputs and attributes are redacted when they are set. Files
handed over by path (``log_artifacts``) are not read here: what the workbench writes into them is redacted before.
Each string also has its NUL characters replaced by U+FFFD: PostgreSQL's text columns refuse them ("PostgreSQL text fields
cannot contain NUL (0x00) bytes"), and a provider error quoting a binary reply ended a sweep on a team's store, where
the same sweep logged on sqlite; the same text is logged on every store.
"""

from __future__ import annotations

import inspect
from typing import Any

from workbench.redaction import Redactor, redactor

__all__ = ["redacted", "redacting"]


def redacting(target: Any) -> Any:
    """``target`` behind the redacting proxy (the same object when it already is)."""
    return target if isinstance(target, _Redacting) else _Redacting(target)


def redacted(value: Any) -> Any:
    """A redacted copy of a value handed to MLflow other than through a call (strings, containers, entities)."""
    return _clean(value, redactor())


class _Redacting:
    """Forwards attribute reads to its target; methods are called with redacted arguments."""

    __slots__ = ("_target",)

    def __init__(self, target: Any) -> None:
        object.__setattr__(self, "_target", target)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not inspect.isroutine(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:  # no functools.wraps: it cost more than the call, ~14 times a trace
            red = redactor()
            result = value(*(_clean(a, red) for a in args), **{k: _clean(v, red) for k, v in kwargs.items()})
            return _Redacting(result) if _is_span(result) else result

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __repr__(self) -> str:
        return f"redacting({self._target!r})"


def _is_span(value: Any) -> bool:
    from mlflow.entities import Span

    return isinstance(value, Span)


_PLAIN = frozenset({bool, int, float, bytes})  # values holding no text, by exact type (a subclass takes the long way)


def _text(value: str, red: Redactor) -> str:
    """A string as MLflow is given it: redacted, and with U+FFFD for each NUL character, which PostgreSQL cannot store."""
    return red.redact(value).replace("\x00", "\ufffd")


def _clean(value: Any, red: Redactor) -> Any:
    """A redacted copy of one argument (the argument itself when it holds no text)."""
    kind = type(value)
    if kind is str:  # most of what a trace hands over: checked first, by its exact type
        return _text(value, red)
    if value is None or kind in _PLAIN:
        return value
    if isinstance(value, _Redacting):
        return value._target
    if isinstance(value, str):
        return _text(value, red)
    if isinstance(value, (bool, int, float, bytes)):
        return value
    if isinstance(value, dict):
        return {_clean(k, red): _clean(v, red) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v, red) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_clean(v, red) for v in value)
    return _clean_entity(value, red)


def _clean_entity(value: Any, red: Redactor) -> Any:
    import pandas as pd
    from mlflow.entities import AssessmentError, ExperimentTag, Expectation, Feedback, Metric, Param, RunTag

    if isinstance(value, (Param, RunTag, ExperimentTag)):
        return type(value)(_text(value.key, red), _text(str(value.value), red))
    if isinstance(value, Metric):
        key = _text(value.key, red)
        return value if key == value.key else Metric(key, value.value, value.timestamp, value.step, value.model_id,
                                                     value.dataset_name, value.dataset_digest, value.run_id)
    if isinstance(value, AssessmentError):
        return AssessmentError(value.error_code, _clean(value.error_message, red), _clean(value.stack_trace, red))
    if isinstance(value, Feedback):
        return Feedback(
            name=_text(value.name, red), value=_clean(value.value, red), error=_clean(value.error, red), source=value.source,
            trace_id=value.trace_id, metadata=_clean(value.metadata, red), span_id=value.span_id,
            create_time_ms=value.create_time_ms, last_update_time_ms=value.last_update_time_ms,
            rationale=_clean(value.rationale, red), overrides=value.overrides, valid=value.valid,
        )
    if isinstance(value, Expectation):
        return Expectation(
            name=_text(value.name, red), value=_clean(value.value, red), source=value.source, trace_id=value.trace_id,
            metadata=_clean(value.metadata, red), span_id=value.span_id, create_time_ms=value.create_time_ms,
            last_update_time_ms=value.last_update_time_ms,
        )
    if isinstance(value, pd.DataFrame):
        frame = value.rename(columns=lambda c: _text(c, red) if isinstance(c, str) else c)
        for column in frame.columns:
            kind = frame[column].dtype
            if not (pd.api.types.is_numeric_dtype(kind) or pd.api.types.is_bool_dtype(kind) or pd.api.types.is_datetime64_any_dtype(kind)):
                frame[column] = frame[column].map(lambda v: _clean(v, red))
        return frame
    return value
