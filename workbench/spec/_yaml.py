"""YAML in and out: the loader and dumper (numbers read as YAML 1.2 and editors read them), a key given twice or aliases
expanding past a cap refused, the line of a field in a file, and PyYAML's errors as one line that says what to do."""

from __future__ import annotations

import re
from typing import Any

import yaml

from workbench.errors import SpecError

_MAX_YAML_VALUES = 100_000


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, reading a number with an exponent (``2e5``, ``1E-7``) as a number, as YAML 1.2 and editors
    do: YAML 1.1 wants a dot and a signed exponent (``2.0e+5``), so ``max_tokens: 2e5``, which the editor's schema check
    passed, was the text '2e5' ("unable to parse string as an integer")."""


# a number with an exponent and no dot, which YAML 1.1 reads as text
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, quoting a text that ``_Loader`` reads as a number: a variant id such as ``43457e157336``
    was written bare (YAML 1.1 reads it as text) and read back as a float (infinity)."""
_Dumper.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


class _EditableDumper(_Dumper):
    """``_Dumper`` writing a text of several lines as a literal block (``|``), a line of the file a line of the text:
    quoted, each line break was a blank line, and a line typed under another was read as the same line."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML falls back to quoting where a block cannot hold the text (a line ending in a space, a tab, a control character)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_EditableDumper.add_representer(str, _text)


def dump_yaml(data: Any, *, editable: bool = False) -> str:
    """``data`` as block YAML in the order given, Unicode as written, that ``read_yaml`` reads back as ``data``;
    ``editable``: texts of several lines as literal blocks, for a file people edit (``ExperimentSpec.save``)."""
    return yaml.dump(data, Dumper=_EditableDumper if editable else _Dumper, sort_keys=False, allow_unicode=True)


def _decimal_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """An integer with leading zeros (``seed: 0123``) is decimal, as YAML 1.2 and editors read it: YAML 1.1 read it as
    octal (83), a silently other seed or size than the one written and shown."""
    digits = str(loader.construct_scalar(node)).replace("_", "")
    if len(digits.lstrip("+-")) > 1 and digits.lstrip("+-")[0] == "0" and digits.lstrip("+-")[1].isdigit():
        return int(digits, 10)
    return int(yaml.SafeLoader.construct_yaml_int(loader, node))
_Loader.add_constructor("tag:yaml.org,2002:int", _decimal_int)


def read_yaml(text: str, *, yaml_1_1: bool = False) -> tuple[yaml.Node | None, Any]:
    """The YAML document ``text`` as nodes (for lines) and as data; safe tags only, numbers read as YAML 1.2 reads them
    (``yaml_1_1``: as PyYAML's safe loader reads them, for a file PyYAML wrote, which left ``1e5``-like text bare).

    Raises:
        yaml.YAMLError: not YAML, or nested deeper than the parser can follow (``[[[[...]]]]`` a few hundred levels
            deep made PyYAML's recursive composer raise RecursionError, reported as an internal error of workbench).
    """
    try:
        loader = yaml.SafeLoader if yaml_1_1 else _Loader
        return yaml.compose(text, Loader=loader), yaml.load(text, Loader=loader)
    except RecursionError:
        raise yaml.YAMLError("lists or mappings nested hundreds of levels deep — write the values out flatter") from None


def check_yaml_shape(node: yaml.Node, source: str) -> None:
    """Refuse a key given twice in one mapping (YAML keeps the last one silently: ``name:`` twice logged the sweep under
    the second name) and aliases that expand to more than ``_MAX_YAML_VALUES`` values (ten nested lists of ten aliases
    are a billion values, which any walk over the data would take forever on).

    Raises:
        SpecError: ``file:line: ...`` for the duplicate key, or for the first alias that makes the file too large.
    """
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:  # values once every alias is expanded; each node is counted once
        if id(n) not in sizes:
            sizes[id(n)] = 0  # a recursive alias counts as nothing more than itself
            if isinstance(n, yaml.MappingNode):
                _refuse_decimal_comma(n, source)
                seen: dict[str, int] = {}
                for key, value in n.value:
                    if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                        if key.value in seen:
                            raise SpecError(f"{source}:{key.start_mark.line + 1}: '{key.value}' is given twice in one mapping "
                                            f"(also on line {seen[key.value]}) — keep one")
                        seen[key.value] = key.start_mark.line + 1
                total = 1 + sum(size(k) + size(v) for k, v in n.value)
            elif isinstance(n, yaml.SequenceNode):
                total = 1 + sum(size(v) for v in n.value)
            else:
                total = 1
            if total > _MAX_YAML_VALUES:
                raise SpecError(f"{source}:{n.start_mark.line + 1}: this value expands to more than {_MAX_YAML_VALUES} values "
                                "through YAML aliases (*name) — write the values out, or use fewer nested aliases")
            sizes[id(n)] = total
        return sizes[id(n)]

    size(node)


def _refuse_decimal_comma(mapping: yaml.MappingNode, source: str) -> None:
    """Refuse a number written with a comma inside ``{...}``: YAML reads ``{temperature: 0,7}`` as temperature 0 and a
    key 7, which the spec then called "a key here is a number", and ``{size: 1,000}`` as size 1.

    Raises:
        SpecError: ``file:line: key: ...`` naming the number as written and what to write.
    """
    if not mapping.flow_style:
        return
    for (key, before), (after, empty) in zip(mapping.value, mapping.value[1:]):
        glued = (isinstance(before, yaml.ScalarNode) and isinstance(after, yaml.ScalarNode) and isinstance(empty, yaml.ScalarNode)
                 and before.style is None and after.style is None and empty.value == "" and empty.tag.endswith(":null")
                 and re.fullmatch(r"[-+]?\d+", before.value) is not None and re.fullmatch(r"\d+", after.value) is not None
                 and after.start_mark.index == before.end_mark.index + 1)  # the comma right after the number, no space
        if glued:
            written = f"{before.value},{after.value}"
            thousands = f" or {before.value}{after.value}, without the thousands separator" if len(after.value) == 3 else ""
            raise SpecError(f"{source}:{before.start_mark.line + 1}: {getattr(key, 'value', key)}: {written} — inside {{...}} a comma "
                            f"separates entries, so YAML read {before.value} and a key {after.value}: write {before.value}.{after.value}"
                            f"{thousands}")


# what to do about PyYAML's commonest complaints, by a piece of its problem text: a prompt written unquoted was
# "not valid YAML (mapping values are not allowed here)", with nothing to say that its "Question: " was the cause
_YAML_FIXES = (
    ("'\\t'", "indent with spaces, not tabs"),
    ("another document", "an experiment file holds one YAML document: remove this '---' line and what follows it, or split the file"),
    ("mapping values are not allowed", "a ': ' inside a value starts a mapping: put the value in quotes (template: \"Context: "
     "{context} ...\"), or write it on the lines under 'key: |'"),
    ("but found '{'", "a value starting with '{' is a YAML mapping: put the value in quotes (template: \"{context} ...\")"),
    ("but found '['", "a value starting with '[' is a YAML list: put the value in quotes"),
    ("undefined alias", "define the anchor (&name) before its first use (*name), or quote a value that starts with '*'"),
    ("cannot start any token", "a value starting with '@', '`' or '%' must be in quotes"),
    ("could not determine a constructor", "experiment files use no YAML tags (!name): remove it, or quote a value that starts with '!'"),
    ("end of stream", "a quote or bracket is not closed"),
    ("<stream end>", "a quote or bracket is not closed"),
)


def read_yaml_at(text: str, where: str) -> tuple[yaml.Node | None, Any]:
    """``read_yaml`` of the file ``where`` names, its syntax errors one line naming its line (``where:12: not valid
    YAML (...) — <what to do>``).

    Raises:
        SpecError: not YAML.
    """
    try:
        return read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise SpecError(f"{where}{f':{mark.line + 1}' if mark else ''}: {yaml_error_text(exc)}") from None


def yaml_error_text(exc: yaml.YAMLError) -> str:
    """``not valid YAML (<PyYAML's problem>) — <what to do>`` (pure): the fix for the commonest problems, else to check
    the syntax on that line."""
    problem = str(getattr(exc, "problem", None) or exc)
    if " — " in problem:  # says what to do already (read_yaml's own errors)
        return f"not valid YAML ({problem})"
    fix = next((f for piece, f in _YAML_FIXES if piece in problem), "check the syntax at that line (indentation, quotes, ': ')")
    return f"not valid YAML ({problem}) — {fix}"


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at ``loc`` (or of its deepest existing ancestor)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if _names(k, part)), None)
            key = next((k for k, _ in node.value if _names(k, part)), None)
            if found is None:
                return line
            line, node = (key.start_mark.line + 1 if key is not None else found.start_mark.line + 1), found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _names(key: yaml.Node, part: Any) -> bool:
    """Whether the YAML key ``key`` is the location part ``part``: its text, or for a key YAML reads as another kind of
    value (``on:``, ``1:``, ``~:``), that value."""
    if not isinstance(key, yaml.ScalarNode):
        return False
    if isinstance(part, str) or key.tag == "tag:yaml.org,2002:str":
        return key.value == part
    return bool(yaml.load(key.value, Loader=_Loader) == part)
