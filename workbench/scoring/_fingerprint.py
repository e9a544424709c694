"""The digest of a scorer's code, part of what a later sweep checks before reusing a finished run (pure logic)."""

from __future__ import annotations

import contextlib
import dis
import functools
import hashlib
import inspect
import os
import re
import site
import sys
import sysconfig
import types
from collections.abc import Callable
from typing import Any

__all__ = ["code_digest"]


def code_digest(fn: Callable[..., Any]) -> str:
    """A digest of a function's code: its source where Python can find it (a module, a notebook cell), else its
    bytecode, constants and names, nested functions (the scorer a factory returns) included; then what the code reads
    that a notebook user edits next to it: the plain values (numbers, strings, containers of them, regexes) of the
    globals and closure variables it names, and the code of the functions and classes that it names (``cut``, or
    ``helpers.cut`` through a module) from its own top-level package, its notebook or any other module of the team's
    own (not an installed library's), followed the same way."""
    digest = hashlib.sha256()
    _add_code(fn, digest, set())
    return digest.hexdigest()


def _add_code(fn: Any, digest: Any, seen: set[int]) -> None:
    seen.add(id(fn))
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object: its class's __call__
        code = getattr(getattr(type(fn), "__call__", None), "__code__", None)
    plain = code is not None and inspect.isfunction(fn) and not hasattr(fn, "__wrapped__")  # getsource reads a wrapped one's inner function
    source = _source(code, code.co_filename) if plain else _object_source(fn)
    if source is not None:
        digest.update(source.encode())
    else:
        if code is None:
            digest.update(f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(type(fn)))}".encode())
        else:
            _add_bytecode(code, digest)
    if code is None:
        return
    scope = getattr(fn, "__globals__", {})
    cells = dict(zip(code.co_freevars, getattr(fn, "__closure__", None) or ()))
    named: dict[str, Any] = {}
    for name in _names(code):
        first, *attributes = name.split(".")
        if first in cells:
            with contextlib.suppress(ValueError):  # a cell not filled yet
                named.setdefault(*_through_modules(first, cells[first].cell_contents, attributes, fn))
        elif first in scope:
            named.setdefault(*_through_modules(first, scope[first], attributes, fn))
    for name in sorted(named):
        _add_value(name, named[name], fn, digest, seen)


def _through_modules(name: str, value: Any, attributes: list[str], owner: Any) -> tuple[str, Any]:
    """``helpers.cut`` and the function it names, read from the module ``value`` called ``name``, while the modules on
    the way are followed (see ``_followed``): ``name`` and ``value`` as given for anything else (``ctx.text`` reads
    ``ctx``, ``json.loads`` an installed library's module)."""
    for attribute in attributes:
        if not isinstance(value, types.ModuleType) or not _followed(value.__name__, owner):
            break
        name, value = f"{name}.{attribute}", getattr(value, attribute, None)
    return name, value


@functools.lru_cache(maxsize=4096)
def _source(code: Any, filename: str | None = None) -> str | None:
    """A function's source, read once per code object (a sweep digests the helpers its scorers share, and every sweep of
    a notebook kernel its scorers again; an edited cell is a new code object)."""
    return _object_source(code)


def _object_source(obj: Any) -> str | None:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        return None


def _add_bytecode(code: Any, digest: Any) -> None:
    digest.update(code.co_code)
    digest.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if inspect.iscode(const):
            _add_bytecode(const, digest)
        else:
            digest.update(repr(const).encode())


def _followed(module: str, owner: Any) -> bool:
    """Whether code of ``module`` is digested with ``owner``'s: a module of the owner's top-level package (a built-in
    scorer reads answers through helpers of other workbench modules), or of the team's own code (a notebook's, a
    project's modules beside it), not an installed library's (whose version the run records)."""
    return module.split(".")[0] == str(getattr(owner, "__module__", "")).split(".")[0] or _teams_own(module)


@functools.lru_cache(maxsize=4096)
def _teams_own(module: str) -> bool:
    """Whether ``module`` is the team's own code: a notebook's (``__main__``) or a file outside the interpreter's
    standard library and installed packages (read once per module)."""
    if module == "__main__":
        return True
    path = getattr(sys.modules.get(module), "__file__", None)
    return path is not None and not os.path.realpath(path).startswith(_library_roots())


@functools.lru_cache(maxsize=1)
def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    roots |= {*site.getsitepackages(), site.getusersitepackages()}
    return tuple(os.path.join(os.path.realpath(root), "") for root in roots)


@functools.lru_cache(maxsize=4096)
def _names(code: Any) -> frozenset[str]:
    """The global and free variable names a code object and the functions nested in it read (not the attribute
    names in ``co_names``: ``ctx.text`` does not read a global ``text``), each with the attributes read from it at
    once (``helpers.cut`` for ``helpers.cut()``: a module's function)."""
    names: set[str] = set()
    chain: list[str] = []
    for i in dis.get_instructions(code):
        if i.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF"):
            if chain:
                names.add(".".join(chain))
            chain = [str(i.argval)] if i.opname != "LOAD_DEREF" or i.argval in code.co_freevars else []
        elif i.opname in ("LOAD_ATTR", "LOAD_METHOD") and chain:
            chain.append(str(i.argval))
        elif chain:
            names.add(".".join(chain))
            chain = []
    if chain:
        names.add(".".join(chain))
    names |= set(code.co_freevars)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _names(const)
    return frozenset(names)


def _add_value(name: str, value: Any, owner: Any, digest: Any, seen: set[int]) -> None:
    if inspect.isfunction(value) and _followed(value.__module__, owner):  # a helper beside the scorer or in its package
        if id(value) not in seen:
            digest.update(f"\0{name}=".encode())
            _add_code(value, digest, seen)
        return
    if inspect.isclass(value) and _followed(value.__module__, owner):  # e.g. the judge reply a scorer parses with its methods
        if id(value) not in seen:
            seen.add(id(value))
            digest.update(f"\0{name}=".encode())
            for key in sorted(vars(value)):
                method = getattr(vars(value)[key], "__func__", vars(value)[key])  # a staticmethod's or classmethod's function
                if inspect.isfunction(method) and id(method) not in seen:
                    _add_code(method, digest, seen)
        return
    text = _plain_repr(value)
    if text is not None:
        digest.update(f"\0{name}={text}".encode())


def _plain_repr(value: Any) -> str | None:
    """A canonical text of a constant-like value (the same in every process), or None for anything else."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return repr(value)
    if isinstance(value, re.Pattern):
        return f"re({value.pattern!r}, {value.flags})"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain_repr(v) for v in value]
        if any(i is None for i in items):
            return None
        ordered = sorted(items) if isinstance(value, (set, frozenset)) else items  # a set's order differs by process
        return f"{type(value).__name__}({', '.join(ordered)})"  # type: ignore[arg-type]
    if isinstance(value, dict):
        pairs = [(_plain_repr(k), _plain_repr(v)) for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(pairs)) + "}"  # type: ignore[type-var]  # built from a set, its order differs by process
    return None
