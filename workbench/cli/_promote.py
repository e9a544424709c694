"""``workbench promote``, ``export`` and ``rollback``: a variant run gated into an alias, the alias's bundle committed to a
deployment repository, an alias pointed back at its previous holder; and the gates file ``promote --gates`` reads.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.cli._inputs import _GATE_EXAMPLE, _input_file, _store
from workbench.results import printable
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.spec import GateSpec


def _cmd_promote(args: argparse.Namespace) -> int:
    from workbench.config import settings
    from workbench.promotion import GateFailed, GateMetricUnknown, promote

    read = _gates_file(args.gates)
    uri = _store(args, must_exist=True)
    try:
        done = promote(
            args.run_id, name=args.name, alias=args.alias, gates=read.gates if read else None, override_reason=args.reason,
            require_staging=False if args.no_require_staging else None, settings=settings(tracking_uri=uri),
        )
    except GateMetricUnknown as exc:
        if read is None:
            raise
        raise WorkbenchError(f"{read.located(exc.gate, exc.field)}: {exc.problem}") from None
    except GateFailed as exc:
        print(printable(exc.report.summary()), file=sys.stderr)
        print(f"blocked: {len(exc.report.failed)} gate(s) failed — fix them, or pass --reason '...' to override (recorded)", file=sys.stderr)
        return 1
    print(done)
    return 0


@dataclass(frozen=True)
class _GatesFile:
    """The gates of a gates file, and where each is in it (its YAML node, and its place: ``promotion.gates[1]``)."""

    path: str
    gates: tuple[GateSpec, ...]
    nodes: tuple[Any, ...]
    where: tuple[str, ...]

    def located(self, gate: int, field: str) -> str:
        """``file:line: promotion.gates[1].metric``: where a gate's field is written."""
        return f"{self.path}:{_line_of(self.nodes[gate], field)}: {self.where[gate]}.{field}"


def _line_of(node: Any, field: object) -> int:
    """The line of ``field``'s key in a gate's mapping ``node``, else of the gate itself."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            if getattr(key, "value", None) == field:
                return int(key.start_mark.line) + 1
    return int(node.start_mark.line) + 1


def _gates_file(path: str | None) -> _GatesFile | None:
    """Gates from a YAML file: a list of gates, or a mapping with ``gates:`` (an experiment file's ``promotion:`` works).

    Raises:
        WorkbenchError: ``file:line: field: what is wrong — what to do`` for a missing, empty, binary or non-YAML file
            and for a gate with a wrong kind, field or value.
    """
    if path is None:
        return None
    import yaml

    from workbench.spec import check_yaml_shape, read_yaml

    text = _input_file(path, "gates")
    try:
        node, data = read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise WorkbenchError(f"{path}:{mark.line + 1 if mark else 1}: not valid YAML ({getattr(exc, 'problem', exc)}) — fix the "
                             f"syntax, {_GATE_EXAMPLE}") from None
    if node is not None:
        check_yaml_shape(node, path)  # a gate's `min:` given twice kept the last one
    where = ""
    for key in ("promotion", "gates"):
        if isinstance(data, dict) and key in data:
            node = next(v for k, v in node.value if getattr(k, "value", None) == key)
            data, where = data[key], f"{where}.{key}" if where else key
    if not isinstance(data, list) or not data:
        line = node.start_mark.line + 1 if node is not None else 1
        raise WorkbenchError(f"{path}:{line}: {where or 'gates'}: expected a non-empty list of gates — {_GATE_EXAMPLE}")
    places = tuple(f"{where or 'gates'}[{i}]" for i in range(len(data)))
    gates = tuple(_gate(item, item_node, path, place) for item, item_node, place in zip(data, node.value, places))
    return _GatesFile(path, gates, tuple(node.value), places)


def _gate(item: object, node: Any, path: str, where: str) -> GateSpec:
    """One gate of a gates file, validated by its kind; errors name the line of the offending field."""
    from pydantic import ValidationError

    from workbench.spec import BeatsHolderGate, MaxCostGate, MaxFailedRateGate, MetricGate, MinQuestionsGate, not_a_number, out_of_range

    kinds: dict[str, Any] = {
        cls.model_fields["kind"].default: cls for cls in (MetricGate, MinQuestionsGate, MaxCostGate, MaxFailedRateGate, BeatsHolderGate)
    }

    def line_of(field: object) -> int:
        return _line_of(node, field)

    if not isinstance(item, dict):
        raise WorkbenchError(f"{path}:{line_of(None)}: {where}: expected a mapping with 'kind', got {item!r} — {_GATE_EXAMPLE}")
    kind = item.get("kind")
    if kind not in kinds:
        problem = "'kind' is missing" if kind is None else f"kind {kind!r} is not a gate kind"
        raise WorkbenchError(f"{path}:{line_of('kind')}: {where}.kind: {problem} — use one of: {', '.join(kinds)}")
    cls = kinds[str(kind)]
    takes = ", ".join(f for f in cls.model_fields if f != "kind")
    try:
        return cls.model_validate(item)
    except ValidationError as exc:
        # a misspelt field (max_usd for usd) is both unknown and a required one missing: the misspelling is the cause
        err = next((e for e in exc.errors() if e["type"] == "extra_forbidden"), exc.errors()[0])
        field = err["loc"][0] if err["loc"] else None
        msg = {"missing": "required field is missing", "extra_forbidden": "unknown field"}.get(err["type"], err["msg"].removeprefix("Value error, "))
        meant = difflib.get_close_matches(str(field), [f for f in cls.model_fields if f not in item], n=1, cutoff=0.5)
        if err["type"] == "extra_forbidden" and meant:
            msg = f"unknown field — did you mean '{meant[0]}'?"
        elif err["type"] in ("float_parsing", "int_parsing") and isinstance(err.get("input"), str):  # min: high, rate: 5%
            msg = not_a_number(err["input"], whole=err["type"] == "int_parsing")
        else:
            msg = out_of_range(err) or msg
        shown = f"{where}.{field}" if field is not None else where
        raise WorkbenchError(f"{path}:{line_of(field)}: {shown}: {msg} — a {kind} gate takes {takes}") from None


def _cmd_export(args: argparse.Namespace) -> int:
    from workbench.config import settings
    from workbench.promotion import export

    uri = _store(args, must_exist=True)
    result = export(
        args.name, args.alias, repo=args.repo, bundle_dir=args.bundle_dir, branch=args.branch, allow_dirty=args.allow_dirty,
        checkout=args.checkout, settings=settings(tracking_uri=uri),
    )
    print(result)
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from workbench.config import settings
    from workbench.promotion import rollback

    uri = _store(args, must_exist=True)
    print(rollback(args.name, alias=args.alias, reason=args.reason, settings=settings(tracking_uri=uri)))
    return 0
