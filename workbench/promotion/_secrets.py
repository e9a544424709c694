"""Refuse to write secrets to a deployment repository or the registry: the workbench's one secret detector
(``workbench.redaction``: secret environment values and detect-secrets' key shapes), reported by file and line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from workbench.redaction import Redactor

__all__ = ["SecretHit", "describe", "find_secrets", "scan_files"]


@dataclass(frozen=True)
class SecretHit:
    """Where something secret-looking was found. It never carries the secret itself."""

    file: str
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}"


def find_secrets(name: str, data: bytes | str, env_secrets: Mapping[str, str] | None = None) -> list[SecretHit]:
    """Every line of ``data`` that holds a known key shape or the value of a secret environment variable.

    Args:
        name: the file (or field) the data comes from, for the report.
        data: the content; bytes are decoded as UTF-8 (undecodable bytes replaced).
        env_secrets: the secret environment variables, name -> value (see ``workbench.redaction.secret_env_values``).
    """
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    return _hits(name, text, Redactor(env_secrets or {}))


def _hits(name: str, text: str, redactor: Redactor) -> list[SecretHit]:
    hits: list[SecretHit] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        kinds = dict.fromkeys(f.describe() for f in redactor.find(line))
        hits.extend(SecretHit(name, lineno, kind) for kind in kinds)
    return hits


def scan_files(files: Mapping[str, bytes], env_secrets: Mapping[str, str] | None = None) -> list[SecretHit]:
    """Scan every file of a bundle; binary files are scanned as text too (PNG text chunks can carry strings)."""
    redactor = Redactor(env_secrets or {})
    hits: list[SecretHit] = []
    for name in sorted(files):
        data = files[name]
        hits.extend(_hits(name, data if isinstance(data, str) else data.decode("utf-8", errors="replace"), redactor))
    return hits


def describe(hits: Iterable[SecretHit]) -> str:
    """One line naming up to five places (file:line: kind), never the values."""
    found = list(hits)
    shown = "; ".join(str(h) for h in found[:5])
    more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
    return f"{shown}{more}"
