"""Pydantic's validation errors as one line: ``file:line: field: what is wrong — what to do`` (the field named as
written in YAML, a field put in the wrong section, a near-miss name, a bound or number said plainly)."""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Any, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from workbench.spec._gates import _GATE_KINDS
from workbench.spec._names import NAME_PATTERN
from workbench.spec._router import _MODEL_TAG, _ROUTER_TAG
from workbench.spec._yaml import _line_of


def describe_validation_error(
    exc: ValidationError, source: str, node: yaml.Node | None = None, model: type[BaseModel] | None = None,
) -> str:
    """One line for the first error of a validation: ``source:line: field: what is wrong — what to do``.

    Args:
        exc: the pydantic error.
        source: the file (or other source) that was validated.
        node: the YAML document (``yaml.compose``) the data came from, to find the line; without it no line is given.
        model: the model that was validated, to suggest the field a misspelt one means.
    """
    if node is None:
        return f"{source}: {_first_error(exc, model)}"
    return f"{source}:{_line_of(node, _yaml_loc(_reported_error(exc)))}: {_first_error(exc, model)}"


def _reported_error(exc: ValidationError) -> Any:
    """The error a line reports: the first, except that a misspelt field (``idd`` for ``id``) is both a required field
    missing and an unknown one beside it, and the unknown one is what the user wrote and must fix."""
    errors = exc.errors()
    first = errors[0]
    if first["type"] != "missing":
        return first
    parent = _yaml_loc(first)[:-1]
    return next((e for e in errors if e["type"] == "extra_forbidden" and _yaml_loc(e)[:-1] == parent), first)


def _yaml_loc(err: Any) -> tuple[Any, ...]:
    """Where an error is in the YAML: its location without pydantic's validator names and union tags (a gate's kind:
    ``gates[0].metric.min`` is the ``min`` of ``gates[0]``), and at the ``kind:`` key when that names no gate."""
    parts = [p for p in err["loc"] if not _is_internal(p)]
    loc = tuple(p for i, p in enumerate(parts)
                if not (i >= 2 and p in _GATE_KINDS and isinstance(parts[i - 1], int) and parts[i - 2] == "gates"))
    return (*loc, "kind") if err["type"] == "union_tag_invalid" else loc


def _is_internal(part: Any) -> bool:
    """Pydantic adds validator names (``function-after[...]``) and union tags to error locations; they are not YAML keys."""
    return isinstance(part, str) and ("[" in part or part.startswith(("function-", "tagged-union")) or part in (_MODEL_TAG, _ROUTER_TAG))


# a field under the name LangChain's splitters and retrievers or LlamaIndex give it, where ours is beside: a retrieval
# entry's top_k was told to go under models.params, where top_k is a sampler setting, not the chunks retrieved
_OTHER_TOOLS_NAMES = {"chunk_size": "size", "chunk_overlap": "overlap", "top_k": "k", "similarity_top_k": "k", "search_type": "search",
                      "lambda_mult": "mmr_lambda"}


def _first_error(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    err = _reported_error(exc)
    loc = _yaml_loc(err)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] in ("union_tag_not_found", "union_tag_invalid"):
        msg = _gate_kind_fix(err)
    elif err["type"] == "invalid_key":
        key = err.get("input")
        # YAML 1.1 reads the keys on, off, yes and no as yes/no values, 1 as a number: pydantic said "Keys should be strings"
        words = "YAML reads on, off, yes and no as yes/no values" if isinstance(key, bool) else "a field's name is text"
        loc = loc[:-1]  # ``yes: 3`` was located at [1], a list's second entry
        msg = f"a key here is {_kind_of(key)}, not a field's name — {words}: write the key in quotes, or remove it"
    elif err["type"] == "missing":
        msg = "required field is missing — add it"
    elif err["type"] == "extra_forbidden":
        # spelt right but written a level too high (a model's temperature beside its id, workers at the top): "did you
        # mean 'scorers'?" for workers, "check its spelling" for temperature
        moved = _moved_field_fix(model, _models_beside(model, loc), str(loc[-1]), err.get("input")) if loc and model else None
        meant = difflib.get_close_matches(str(loc[-1]), sorted(_fields_beside(model, loc)), n=1, cutoff=0.6) if loc else []
        ours = _OTHER_TOOLS_NAMES.get(str(loc[-1])) if loc else None
        if ours is not None and ours in _fields_beside(model, loc):
            shown = yaml.safe_dump(err.get("input"), default_flow_style=True, width=2**16).removesuffix("\n...\n").strip()
            msg = f"unknown field — '{loc[-1]}' is '{ours}' here: write {ours}: {shown}"
        elif moved is not None:
            msg = f"unknown field — {moved}"
        else:
            msg = (f"unknown field — did you mean '{meant[0]}'?" if meant else "unknown field — check its spelling") + \
                " (see the JSON schema: workbench schema)"
    elif err["type"] in ("tuple_type", "list_type"):
        msg = f"expected a list, got {_kind_of(err.get('input'))} — write one '- item' per line, or [a, b] (even for one item)"
    elif err["type"] in ("dict_type", "model_type", "model_attributes_type"):
        value, fields = err.get("input"), _fields_beside(model, (*loc, "id"))
        # models: [local:gemma3-270m], retrieval: [local:all-minilm-l6-v2], chunkers: [recursive], dataset: d.jsonl,
        # corpus: python-reference: the text is the value of the entry's main field
        mains = ("builtin",) if value == "python-reference" else ("id", "embedding", "strategy", "path")
        main = next((f for f in mains if f in fields), None) if isinstance(value, str) else None
        if main is not None:
            msg = f"expected a mapping, got the text {value!r} — write it as {{{main}: {value}}}"
        else:
            msg = f"expected a mapping, got {_kind_of(value)} — write its fields as 'key: value' lines under it"
    elif err["type"] == "string_type":
        msg = f"expected text, got {_kind_of(err.get('input'))} — write it as one string, in quotes"
    elif err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == NAME_PATTERN:
        value = str(err.get("input"))
        # accents dropped, not the letters that carry them: 'ünïcode' is 'unicode', not '-n-code'
        ascii_value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
        usable = re.sub(r"[^A-Za-z0-9_.-]+", "-", ascii_value).strip("-") or "my-name"
        msg = f"{value!r} may hold only the letters A-Z and a-z, digits, '_', '-' and '.' — e.g. {usable!r}"
    elif err["type"] == "literal_error":  # "Input should be 'recursive', 'token', ..." for `strategy: Recursive`
        options = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        value = err.get("input")
        meant = [o for o in options if isinstance(value, str) and o.casefold() == value.strip().casefold()] or \
            difflib.get_close_matches(str(value), options, n=1, cutoff=0.75)  # not 'sentence' for 'semantic'
        allowed = f"one of {err.get('ctx', {}).get('expected')}" if len(options) > 1 else err.get("ctx", {}).get("expected")
        msg = f"{value!r} is not {allowed} — " + (f"did you mean '{meant[0]}'?" if meant else "use one of them" if len(options) > 1 else "use it")
    elif err["type"] == "too_short" and isinstance(err.get("input"), (list, tuple)):
        msg = "the list is empty, so the grid would have no variants — give at least one entry"
    elif err["type"] in ("float_parsing", "int_parsing") and isinstance(err.get("input"), str):
        msg = not_a_number(err["input"], whole=err["type"] == "int_parsing")
    else:
        msg = out_of_range(err) or msg
    return f"{_loc_text(loc)}: {msg}"


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "spec"


def _kind_of(value: Any) -> str:
    """What a YAML value is, in the words of the file: nothing, text, a number, a mapping..."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return "a yes/no value"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return f"the text {value!r}" if len(value) <= 40 else "a text"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a mapping (key: value)" if isinstance(value, dict) else type(value).__name__


def _models_beside(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> list[type[BaseModel]]:
    """The models whose fields are allowed where ``loc``'s last part was written (a list index or a dict key is walked
    through)."""
    models = [model] if model is not None else []
    for part in loc[:-1]:
        inner = [m for current in models if isinstance(part, str) and part in current.model_fields
                 for m in _models_in(current.model_fields[part].annotation)]
        if inner or isinstance(part, str) and not any(part in m.model_fields for m in models):
            models = inner or models  # a key of a mapping (pricing: {model: ...}) keeps the models of its values
    return models


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation can hold (through Optional, unions, lists, tuples and dict values)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _fields_beside(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> set[str]:
    """The field names allowed where ``loc``'s last part was written (a list index or a dict key is walked through)."""
    return {name for m in _models_beside(model, loc) for name in m.model_fields}


def _moved_field_fix(root: type[BaseModel], models: list[type[BaseModel]], name: str, value: Any) -> str | None:
    """Where a field that is no field here belongs, written as it would be (pure): ``temperature`` of a model entry
    under its ``params``, ``workers`` of the experiment under ``execution``, or from the top for a field only one part
    of the file has (``k`` of a chunker under ``retrieval``); None when it belongs nowhere, or in several places."""
    path = next((h for m in models if (h := _home(m, name)) is not None), None)
    if path is None and sum(name in m.model_fields for m in _all_models(root)) == 1:
        path = _home(root, name)
    if path is None:
        return None
    shown = yaml.safe_dump(value, default_flow_style=True, width=2**16).removesuffix("\n...\n").strip()
    text = f"{{{name}: {shown}}}"
    for field, is_list in reversed(path):
        text = f"{{{field}: [{text}]}}" if is_list else f"{{{field}: {text}}}"
    return f"'{name}' is no field here: it goes under {'.'.join(f for f, _ in path)}, e.g. {text[1:-1]}"


def _home(model: type[BaseModel], name: str, seen: frozenset[type[BaseModel]] = frozenset()) -> tuple[tuple[str, bool], ...] | None:
    """The shallowest path of fields (each with whether it holds a list) below ``model`` to a model that has a field
    ``name``: ``(("execution", False),)`` for ``workers``; None when none has (mappings such as ``pricing`` are not
    walked into: their keys are the user's)."""
    found: list[tuple[tuple[str, bool], ...]] = []
    for field, info in model.model_fields.items():
        if get_origin(info.annotation) is dict:
            continue
        for inner in _models_in(info.annotation):
            if inner in seen:
                continue
            step = ((field, _is_list(info.annotation)),)
            below = () if name in inner.model_fields else _home(inner, name, seen | {model})
            if below is not None:
                found.append(step + below)
    return min(found, key=len) if found else None


def _is_list(annotation: Any) -> bool:
    """Whether a field holds a list of entries (``tuple[X, ...]``, optionally None)."""
    return any(get_origin(a) in (tuple, list) for a in (annotation, *get_args(annotation)))


def _all_models(model: type[BaseModel]) -> set[type[BaseModel]]:
    """``model`` and every model its fields can hold, however deep."""
    found = {model}
    for info in model.model_fields.values():
        for inner in _models_in(info.annotation):
            if inner not in found:
                found |= _all_models(inner)
    return found


def _gate_kind_fix(err: Any) -> str:
    """What to write for a gate whose ``kind`` is missing or names no gate (pure)."""
    kinds = ", ".join(_GATE_KINDS)
    given = err.get("input") if isinstance(err.get("input"), dict) else {}
    if err["type"] == "union_tag_invalid":
        meant = difflib.get_close_matches(str(err.get("ctx", {}).get("tag")), list(_GATE_KINDS), n=1, cutoff=0.6)
        fix = f"did you mean '{meant[0]}'? (the kinds: {kinds})" if meant else f"use one of: {kinds}"
        return f"{str(given.get('kind'))!r} is not a gate kind — {fix}"
    # the kind whose fields are the ones given: {metric: token_f1, min: 0.3} is a metric gate
    keys = set(given) - {"kind"}
    fits = [kind for kind, cls in _GATE_KINDS.items()
            if keys <= set(cls.model_fields) and {f for f, info in cls.model_fields.items() if info.is_required()} <= keys]
    return f"'kind' is missing — add kind: {fits[0]}" if len(fits) == 1 else f"'kind' is missing — add kind: one of {kinds}"


def not_a_number(text: str, *, whole: bool) -> str:
    """What is wrong with ``text`` given for a number field, and what to write instead (pure): a share written as a
    percentage ('5%' for a gate's rate or min) was "unable to parse string as a number"."""
    percent = re.fullmatch(r"\s*([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)\s*%\s*", text)
    if percent is not None and not whole:
        return f"{text!r} is a percentage — write it as a fraction, {float(percent.group(1)) / 100:g}"
    comma = _comma_number_fix(text, whole=whole)
    if comma is not None:
        return comma
    kind = "a whole number" if whole else "a number"
    return f"{text!r} is text, not {kind} — write {kind} without quotes or units"


def _comma_number_fix(text: str, *, whole: bool) -> str | None:
    """What to write for a number written with a comma (``temperature: 0,7``, ``max_tokens: 1,000``), which YAML reads
    as text; None for other text (pure)."""
    digits = text.strip()
    thousands = re.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+", digits) is not None
    decimal = re.fullmatch(r"([-+]?\d*),(\d+)", digits)
    if thousands and (whole or decimal is None):
        return f"{text!r} is written with a thousands separator — write {digits.replace(',', '')}"
    if decimal is None:
        return None
    point = f"{decimal[1] or '0'}.{decimal[2]}"
    if whole:
        return f"{text!r} is written with a decimal comma, and this field takes a whole number — write one, e.g. {round(float(point))}"
    also = f" (or {digits.replace(',', '')}, if the comma separates thousands)" if thousands else ""
    return f"{text!r} is written with a decimal comma — write {point}{also}"


def not_finite(value: Any) -> str:
    """What is wrong with a NaN or infinite number given for a spec's number, and what to do (pure): pydantic said
    "Input should be a finite number", the value not shown."""
    shown = repr(value) if isinstance(value, str) else {"nan": ".nan", "inf": ".inf", "-inf": "-.inf"}.get(str(value), str(value))
    past = " (a number past 1e308 reads as .inf)" if shown.endswith(".inf") else ""
    return f"{shown} is not a finite number{past} — give a finite number"


def out_of_range(err: Any) -> str | None:
    """What is wrong with a value outside a field's bounds, or an empty text, and what to give instead (pure), for one of
    pydantic's errors; None for another error. Pydantic's own "Input should be greater than or equal to 1" said neither
    what was written nor what to do (``k: 0``, ``limit: 0``, ``seed: -1``, ``name: ''``)."""
    if err["type"] == "finite_number":
        return not_finite(err.get("input"))
    bound = _BOUNDS.get(err["type"])
    if bound is not None:
        key, text = bound
        return f"{_plain(err.get('input'))} {text.format(bound=_plain(err.get('ctx', {}).get(key)))}"
    if err["type"] == "string_too_short" and isinstance(err.get("input"), str) and not err["input"].strip():
        return "empty text — write a value"
    if err["type"] == "string_too_long" and isinstance(err.get("input"), str):
        text = err["input"]
        return f"'{text if len(text) <= 40 else text[:39] + '…'}' is {len(text)} characters, over the {err.get('ctx', {}).get('max_length')} it may hold — shorten it"
    return None


# pydantic's bound errors, each as what is wrong with the value and what to give instead
_BOUNDS = {
    "greater_than_equal": ("ge", "is below {bound}, the least it may be — give {bound} or more"),
    "greater_than": ("gt", "must be more than {bound} — give a number above {bound}"),
    "less_than_equal": ("le", "is over {bound}, the most it may be — give {bound} or less"),
    "less_than": ("lt", "must be less than {bound} — give a number below {bound}"),
}


def _plain(value: Any) -> Any:
    """A whole float as the whole number it is (pure): a bound of 0.0 or 1.0 reads 0 or 1, as the field is written."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _meant_scorer(name: str, known: list[str]) -> str:
    """What to write for a scorer name that is none (pure): the one it most likely is, a close spelling ('blue') or the
    one name holding it ('f1', 'rouge'), then the known names; a list of 23 names was all that 'blue' was told."""
    close = difflib.get_close_matches(name.strip().lower(), known, n=1, cutoff=0.75)
    holding = [k for k in known if name.strip().lower() in k.split("_")]
    meant = close or (holding if len(holding) == 1 else [])
    names = f"known scorers: {', '.join(known)}"
    return f"did you mean '{meant[0]}'? ({names})" if meant else names
