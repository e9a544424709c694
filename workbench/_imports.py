"""Import-time costs of other libraries that every workbench process would pay for nothing.

``jsonschema`` (imported by Chroma) imports ``rfc3987_syntax`` for its ``iri`` formats, and that module compiles about
40 Earley parsers when it is imported: 2-3 s on these machines, in every ``workbench`` command, notebook kernel and
worker that opens an index, for a format no workbench schema uses (python-jsonschema/jsonschema#1428). Until the import
is lazy upstream, jsonschema gets a stand-in whose ``is_valid_syntax`` imports the real module on its first call, so
an ``iri`` check still validates exactly as before, only later.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import types
from typing import Any

_SLOW = "rfc3987_syntax"
_LOCK = threading.Lock()


class _Deferred(types.ModuleType):
    """Stands in for ``rfc3987_syntax`` until something uses it, then becomes the real module."""

    def is_valid_syntax(self, term: str, value: str) -> bool:
        return bool(_real().is_valid_syntax(term, value))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # the import system asks for __path__ and the like: not a use
            raise AttributeError(name)
        return getattr(_real(), name)


def _real() -> types.ModuleType:
    with _LOCK:  # two threads validating at once import it once
        if isinstance(sys.modules.get(_SLOW), _Deferred):
            del sys.modules[_SLOW]
        return importlib.import_module(_SLOW)


def defer_slow_imports() -> None:
    """Install the stand-in, unless the module is missing or already imported (idempotent)."""
    if _SLOW in sys.modules or importlib.util.find_spec(_SLOW) is None:
        return
    stub = _Deferred(_SLOW)
    sys.modules[_SLOW] = stub


defer_slow_imports()
