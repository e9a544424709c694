"""What every spec section shares: ``_Spec`` (unknown keys, NaN and yes/no numbers refused), ``_NamedSpec`` for axis
entries with a ``name:``, the checks of a model string and its kind, and a fraction given as a percent."""

from __future__ import annotations

from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, SerializerFunctionWrapHandler, model_serializer, model_validator

from workbench.errors import ModelError
from workbench.models import PROVIDERS, ModelKind, check_kind, check_model_id


def _known_model(value: str, role: str) -> str:
    """Validate a model string for a spec field (pydantic turns the ValueError into a located error)."""
    try:
        check_model_id(value, role=role)
    except ModelError as exc:
        raise ValueError(str(exc)) from None
    return value


def _servable_as(model_id: str, kind: ModelKind | None) -> None:
    """Check a spec entry's ``kind`` against its model (pydantic turns the ValueError into a located error)."""
    try:
        check_kind(model_id, kind)
    except ModelError as exc:
        raise ValueError(str(exc)) from None


# what an editor can check of a model string (the loader checks the rest): its provider, the part before ':'
_GENERATOR_PATTERN = f"^({'|'.join(['local', 'llamacpp', *sorted(PROVIDERS)])}):.+$"
_EMBEDDER_PATTERN = f"^({'|'.join(['local', *sorted(PROVIDERS)])}):.+$"


def _is_number_field(annotation: Any) -> bool:
    """Whether a field holds a number (``int``, ``float``, optionally None), not a yes/no value."""
    kinds = set(get_args(annotation)) if get_origin(annotation) in (Union, UnionType) else {annotation}
    return bool(kinds & {int, float}) and bool not in kinds


class _Spec(BaseModel):
    # no spec number may be NaN or infinite: a NaN threshold compares false both ways and would pass every gate
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_yes_no_numbers(cls, data: Any) -> Any:
        # pydantic reads YAML's `k: yes`, `limit: true` or `temperature: no` as 1 or 0: a typo run as a real setting
        if isinstance(data, dict):
            for key, value in data.items():
                field = cls.model_fields.get(key) if isinstance(key, str) else None
                if isinstance(value, bool) and field is not None and _is_number_field(field.annotation):
                    raise ValueError(f"{key}: {str(value).lower()} is a yes/no value — give a number")
        return data


class _NamedSpec(_Spec):
    """An axis entry with an optional ``name:`` for variant names (models, retrieval settings)."""

    @model_serializer(mode="wrap")
    def _no_default_name(self, handler: SerializerFunctionWrapHandler) -> Any:
        # left out when not given, so an entry's dump (and every variant id built from it) is what it was before names
        data = handler(self)
        if isinstance(data, dict) and data.get("name") is None:
            data.pop("name", None)
        return data


def _fraction_not_percent(value: Any) -> Any:
    """An interval's coverage written as a percentage (``confidence: 95``) is refused saying so; "less than 1" did not."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 50 < value < 100:
        raise ValueError(f"{value:g} reads as a percentage — write it as a fraction, e.g. {value / 100:g}")
    return value
