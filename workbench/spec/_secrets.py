"""Literal keys refused in an experiment file: a value that looks like an API key, equals a secret environment
variable, or is a URL with a login in it, named by file, line and field with where it belongs instead."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from workbench.errors import SpecError
from workbench.spec._validation import _loc_text
from workbench.spec._yaml import _line_of


def _refuse_literal_keys(data: Any, node: yaml.Node | None, source: str) -> None:
    """Refuse an experiment whose YAML holds a literal key: a string value that detect-secrets recognises as a key
    (also as the value of a secret-named field, ``api_key: sk-...``) or that equals a secret environment variable.

    Raises:
        SpecError: ``<file>:<line>: <field>: looks like a literal API key — put it in an environment variable
            (e.g. OPENAI_API_KEY) instead`` (the variable it equals, when it is one).
    """
    from workbench.redaction import redactor

    red = redactor()
    for loc, value in _string_values(data, ()):
        name = next((p for p in reversed(loc) if isinstance(p, str)), "")
        found = red.find(value) or [  # a secret-named field's value: detect-secrets' keyword detector on `name: "value"`
            f for f in red.find(f'{name}: "{value}"') if not _names_a_variable(value)
        ]
        if found:
            var = next((f.kind for f in found if f.from_env), "OPENAI_API_KEY")
            line = _line_of(node, loc)
            where = f"{source}{f':{line}' if line is not None else ''}: {_loc_text(loc)}"
            if _url_password(value):  # a Chroma server's login: "e.g. OPENAI_API_KEY" named no variable that takes it
                raise SpecError(f"{where}: the URL holds a password (user:password@host) — {_login_fix(loc)}")
            raise SpecError(f"{where}: looks like a literal API key — put it in an environment variable (e.g. {var}) instead")


# the variable that takes a URL field's value, login included, in place of the experiment file
_URL_VARIABLES = {("index_store", "url"): ("index_store", "WORKBENCH_CHROMA_URL")}


def _url_password(value: str) -> bool:
    """Whether ``value`` is a URL with a login in it (``http://user:password@host``) (pure), read as
    ``without_credentials`` reads it: a password written without percent-encoding its '/' or '#', which URL parsers cut
    there (and found no password), was told to go in OPENAI_API_KEY."""
    from workbench.redaction import without_credentials

    return "://" in value and without_credentials(value.strip(), marked=True).partition("://")[2].startswith("…@")


def _login_fix(loc: tuple[Any, ...]) -> str:
    """What to do with a login found in the URL at ``loc`` (pure)."""
    if tuple(loc) in _URL_VARIABLES:
        section, variable = _URL_VARIABLES[tuple(loc)]
        return f"leave {section} out of the experiment and set {variable} to the URL with its login instead"
    return "keep the login out of the experiment file (in an environment variable) instead"


def _names_a_variable(value: str) -> bool:
    """``OPENAI_API_KEY``: the name of an environment variable, which is what a spec should hold."""
    return value.isupper() and value.replace("_", "").isalnum() and not value[0].isdigit()


def _string_values(data: Any, loc: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], str]]:
    if isinstance(data, str):
        yield loc, data
    elif isinstance(data, dict):
        for key, value in data.items():
            yield from _string_values(value, (*loc, key))
    elif isinstance(data, (list, tuple)):
        for i, value in enumerate(data):
            yield from _string_values(value, (*loc, i))
