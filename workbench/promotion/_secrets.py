"""Find API-key-like strings before anything is written to a deployment repository or the registry (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# (description, pattern). Patterns are deliberately specific: a false positive blocks an export.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an OpenAI/Anthropic-style API key (sk-...)", re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_\-]{20,}")),
    ("an AWS access key id (AKIA...)", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token (ghp_...)", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
    ("a GitHub fine-grained token", re.compile(r"\bgithub_pat_[A-Za-z0-9_]{40,}\b")),
    ("a Hugging Face token (hf_...)", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")),
    ("a Google API key (AIza...)", re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b")),
    ("a Slack token (xox...)", re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}")),
    ("a private key block", re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
    ("a password in a URL", re.compile(r"\b[a-z][a-z0-9+.\-]*://[^/\s:@]+:[^/\s@]+@")),
)

# Environment variables whose values are secrets by name.
_SECRET_ENV = re.compile(r"(?:_API_KEY|_APIKEY|_TOKEN|_SECRET|_SECRET_KEY|_PASSWORD|_ACCESS_KEY)$|^(?:API_KEY|TOKEN|SECRET)$", re.I)
_MIN_ENV_SECRET = 8  # shorter values (e.g. "1", "true") would match everywhere


@dataclass(frozen=True)
class SecretHit:
    """Where something secret-looking was found. It never carries the secret itself."""

    file: str
    line: int
    kind: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind}"


def secret_env_values(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment variables that hold secrets by their name (``*_API_KEY``, ``*_TOKEN``...), name -> value."""
    return {k: v for k, v in environ.items() if _SECRET_ENV.search(k) and len(v.strip()) >= _MIN_ENV_SECRET}


def find_secrets(name: str, data: bytes | str, env_secrets: Mapping[str, str] | None = None) -> list[SecretHit]:
    """Every line of ``data`` that holds a known key pattern or the value of a secret environment variable."""
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    hits: list[SecretHit] = []
    values = {k: v.strip() for k, v in (env_secrets or {}).items()}
    for lineno, line in enumerate(text.splitlines(), start=1):
        for kind, pattern in _PATTERNS:
            if pattern.search(line):
                hits.append(SecretHit(name, lineno, kind))
        for var, value in values.items():
            if value in line:
                hits.append(SecretHit(name, lineno, f"the value of ${var}"))
    return hits


def scan_files(files: Mapping[str, bytes], env_secrets: Mapping[str, str] | None = None) -> list[SecretHit]:
    """Scan every file of a bundle; binary files are scanned as text too (PNG text chunks can carry strings)."""
    hits: list[SecretHit] = []
    for name in sorted(files):
        hits.extend(find_secrets(name, files[name], env_secrets))
    return hits


def describe(hits: Iterable[SecretHit]) -> str:
    """One line naming up to five places (file:line: kind), never the values."""
    found = list(hits)
    shown = "; ".join(str(h) for h in found[:5])
    more = f" (and {len(found) - 5} more)" if len(found) > 5 else ""
    return f"{shown}{more}"
