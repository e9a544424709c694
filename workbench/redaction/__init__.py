"""Redaction at the boundary: a secret never leaves the process.

One ``Redactor`` replaces, in any text, (a) the values of secret-like environment variables (see ``is_secret_name``;
also at least half of one, where a message was cut across it) and (b) the key shapes that detect-secrets' detectors
know (OpenAI, AWS, GitHub, Slack, Stripe, JWTs, private keys, passwords in URLs, ``api_key = "..."`` assignments...),
plus keys in a URL's query string (``?key=``, ``&api-key=``), tokens given as a URL's whole login
(``https://<token>@host``), echoed ``Authorization`` headers of any scheme, and Anthropic, Hugging Face, Google API
and GitHub fine-grained keys, with a marker:
``[REDACTED:OPENAI_API_KEY]``, ``[REDACTED:basic_auth_credentials]``. Everything the workbench writes outside the
process (MLflow params, tags, metric names, artifacts, traces, exports, log lines, widget output) goes through it.

detect-secrets' high-entropy detectors are deliberately not used: content hashes (64 hex digits), run ids and
trace ids are high-entropy strings the workbench writes everywhere, and they are not secrets.

Pure apart from ``redactor()``, which reads the environment each time it is called (tests and notebooks set keys
late), and ``install_log_redaction()``, which installs the logging filter.

The detectors themselves, and where each value they find occurs, are in ``_detectors``.

    from workbench.redaction import redactor
    redactor().redact("key sk-...T3BlbkFJ...")   # 'key [REDACTED:openai_token]'
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import cachetools

from workbench.errors import shortened
from workbench.redaction._detectors import (
    _MIN_SECRET, _TOKEN_CHARS, _detect, _detectors, _folded, _gate_words_in, _gated_spans, _private_key_end,
)

__all__ = [
    "Finding",
    "LOGGERS",
    "RedactingFilter",
    "Redactor",
    "find_secrets",
    "install_log_redaction",
    "is_secret_name",
    "quoted_error",
    "redact",
    "redactor",
    "secret_env_values",
    "valid_unicode",
    "without_credentials",
]


def valid_unicode(text: str) -> str:
    """``text`` with each lone UTF-16 surrogate replaced by U+FFFD (a split pair joined): text that UTF-8 can encode.

    A model's JSON reply may carry ``"\\ud83d"`` (half an emoji, cut at the token limit), which decodes to a lone
    surrogate that no UTF-8 writer (MLflow's store, pandas/pyarrow, a JSON artifact) accepts; so may an error message
    quoting it, or a file name read with Python's surrogateescape.
    """
    if text.isascii():  # most text a sweep logs: no surrogate in it (a flag of the string, not a scan)
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


SECRET_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL")
_SECRET_LAST_WORDS = frozenset({"PASS", "PWD", "PW", "PAT", "AUTH"})  # DB_PASS, MYSQL_PWD, GH_PAT, REDISCLI_AUTH
_SECRET_NAMES = frozenset({"SSHPASS"})  # sshpass's
_NOT_SECRET = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled", "default"})
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_CACHE_MAX_CHARS = 8192  # longer texts are scanned every time rather than kept in the cache
# the cache holds texts up to this many characters in all, not a number of texts: a sweep redacts each question's
# retrieved chunks again for every variant, and 4,096 texts thrashed past a few hundred questions (1,000 questions x 5
# chunks cycle through 5,000+ texts: each variant found none of the previous one's)
_CACHE_CHARS = 32 * 2**20
_LINE_CACHE_MAX_CHARS = 2048  # a longer line is read by the gated detectors every time (a minified page's one line)
_LINE_CACHE_LINES = 8192  # lines a redactor remembers what the gated detectors found in (16 MB of lines at most)
_PRIVATE_KEY = "private_key"
_LOCATION = re.compile(r"[/~.]|[A-Za-z]:[\\/]|[A-Za-z][A-Za-z0-9+.-]*://")  # a path or a URL (see Redactor._cut_values)


@dataclass(frozen=True)
class Finding:
    """A secret found in a text: where, and what kind. It never carries the secret itself.

    Attributes:
        kind: the environment variable whose value it is (``OPENAI_API_KEY``) or the detector's label
            (``openai_token``, ``aws_access_key``, ``basic_auth_credentials``, ``secret_keyword``...).
        start: offset of the first character.
        end: offset after the last character.
        from_env: True when it is the value of a secret environment variable.
    """

    kind: str
    start: int
    end: int
    from_env: bool = False

    @property
    def marker(self) -> str:
        """What replaces the secret: ``[REDACTED:<kind>]``."""
        return f"[REDACTED:{self.kind}]"

    def describe(self) -> str:
        """Words for a message: ``the value of $OPENAI_API_KEY`` or ``a OpenAI Token``-style label."""
        return f"the value of ${self.kind}" if self.from_env else f"a secret ({self.kind})"


def is_secret_name(name: str) -> bool:
    """True when an environment variable's name says it holds a secret: KEY, TOKEN, SECRET, PASSWORD, PASSWD,
    PASSPHRASE or CREDENTIAL in it (``PGPASSWORD``), or a last word PASS, PWD, PW, PAT or AUTH after another one
    (``DB_PASS``, ``MYSQL_PWD``, ``GH_PAT``, ``REDISCLI_AUTH``), or ``SSHPASS``. Not ``PWD`` (the working folder),
    ``PATH``, ``PGPASSFILE`` or ``AUTH_PROVIDER``: a word leading a name says what the value is about, the last one
    what it is."""
    upper = name.upper()
    if any(part in upper for part in SECRET_NAME_PARTS) or upper in _SECRET_NAMES:
        return True
    words = [w for w in re.split(r"[^A-Z0-9]+", upper) if w]
    return len(words) > 1 and words[-1] in _SECRET_LAST_WORDS


def _is_secret_value(value: str) -> bool:
    value = value.strip()
    return len(value) >= _MIN_SECRET and value.lower() not in _NOT_SECRET and not _NUMBER.fullmatch(value)


def secret_env_values(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment variables that hold secrets by their name, name -> value (stripped).

    Short, boolean-ish and numeric values (``TOKENIZERS_PARALLELISM=false``, ``MAX_TOKENS=4096``) are left out:
    they are not secrets and would match ordinary text.
    """
    return {k: v.strip() for k, v in environ.items() if is_secret_name(k) and _is_secret_value(v)}


# a URL's login: a user and a colon, then everything up to the URL's last '@' (a password written without
# percent-encoding its '@', ':', '/', '?' or '#' still ends there, as ``config.shown_uri`` reads it), or a user (a token)
# alone before an '@'; with the scheme before it, or none (``OLLAMA_HOST=bob:pw@host:11434``)
_LOGIN = re.compile(r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)|(?![A-Za-z][A-Za-z0-9+.-]*://))(?:[^:/@\s?#]+:\S*|[^:/@\s?#]+)@")
_QUERY = re.compile(r"[?#].*", re.DOTALL)


def without_credentials(uri: str, *, marked: bool = False) -> str:
    """A URL without the parts that may hold a secret: user and password, query string and fragment (the same text
    when it has none of them), for writing a server's address down (pure). A password written without
    percent-encoding its ``/``, ``@``, ``?`` or ``#`` is taken out whole: URL parsers cut it there, and wrote the rest
    of it down as the host or path. With ``marked``, ``…@`` and ``?…`` stand where they were, for a message about the
    address as written (``http://…@proxy:99999/v1?…``)."""
    found = _LOGIN.match(uri)
    rest = uri if found is None else f"{found.group('scheme') or ''}{'…@' if marked else ''}{uri[found.end():]}"
    return _QUERY.sub("?…" if marked else "", rest)


def _merge(findings: list[Finding]) -> list[Finding]:
    """Overlapping findings become one; its kind is the environment variable's when one is involved, else the
    first detector's (the detector order ranks named shapes above keyword assignments)."""
    merged: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            keep = f if (f.from_env and not last.from_env) else last
            merged[-1] = Finding(keep.kind, last.start, max(last.end, f.end), keep.from_env)
        else:
            merged.append(f)
    return merged


class Redactor:
    """Finds and replaces secrets in text: the values of secret environment variables and detect-secrets' key shapes.

    Args:
        environ: the environment whose secret-like variables are redacted by value (``os.environ``, or a mapping
            in tests). It is read here, once; the redactor is immutable afterwards.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.env_secrets: Mapping[str, str] = dict(secret_env_values(environ or {}))
        by_value: dict[str, str] = {}
        for name, value in sorted(self.env_secrets.items()):
            by_value.setdefault(value, name)
        self._env_names = by_value
        # longest first, so a value that contains another is matched whole
        values = sorted(by_value, key=len, reverse=True)
        self._env_pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None
        self._cache: cachetools.LRUCache[str, str] = cachetools.LRUCache(_CACHE_CHARS, getsizeof=len)
        self._lines: cachetools.LRUCache[str, tuple[tuple[str, int, int], ...]] = cachetools.LRUCache(_LINE_CACHE_LINES)
        self._lock = threading.Lock()

    def find(self, text: str) -> list[Finding]:
        """Every secret in ``text``, in order, overlapping findings merged."""
        if len(text) < _MIN_SECRET:
            return []
        found: list[Finding] = []
        if self._env_pattern is not None:
            found.extend(Finding(self._env_names[m.group(0)], m.start(), m.end(), True) for m in self._env_pattern.finditer(text))
            found.extend(self._cut_values(text))
        lower = _folded(text)
        gated = False
        for detector in _detectors():
            if detector.gate:  # these come last (see ``_gated_spans``): found line by line below
                gated = gated or detector.admits(lower)
                continue
            if not detector.may_find(text):
                continue
            for start, end in _detect(detector, text):  # one pass over the whole text
                stop = _private_key_end(text, end) if detector.label == _PRIVATE_KEY else end
                found.append(Finding(detector.label, start, stop))
        if gated:
            offset = 0
            for line in text.splitlines(keepends=True):
                found.extend(Finding(label, offset + start, offset + end) for label, start, end in self._gated(line))
                offset += len(line)
        return _merge(found)

    def _gated(self, line: str) -> tuple[tuple[str, int, int], ...]:
        """What the gated detectors find in one line (``_gated_spans``), remembered by the line: a prompt holds the
        lines of the chunks its trace's retrieve span holds too, and the same chunks come back for every variant."""
        if not _gate_words_in(line):
            return ()
        if len(line) > _LINE_CACHE_MAX_CHARS:
            return _gated_spans(line)
        return self._remembered(self._lines, line, _gated_spans)

    def _remembered(self, cache: cachetools.LRUCache[str, Any], text: str, compute: Any) -> Any:
        """``compute(text)``, kept in ``cache`` under the text itself (the lock held only to read and write the cache)."""
        with self._lock:
            found = cache.get(text)
        if found is None:
            found = compute(text)
            with self._lock:
                cache[text] = found
        return found

    def _cut_values(self, text: str) -> Iterator[Finding]:
        """The starts of secret values cut short where a message was cut: at least half of a value (and ``_MIN_SECRET``
        characters), ending where the text ends or at a character no key runs on with (the cut's ``…``, a quote).
        A judge's failed call keeps its error's first 500 characters, its reply's first 200: the start of a key quoted
        across the cut no longer equals the value, and left the process as written. Text that goes on with other key
        characters after a value's start is another token, not the value; a value naming a file or an address is no
        key, and its start (a folder, a server) is named by messages all the time."""
        for value, name in self._env_names.items():
            if _LOCATION.match(value):
                continue
            least = max(_MIN_SECRET, len(value) // 2)
            head = value[:least]
            at = text.find(head)
            while at >= 0:
                end = at + least
                while end < len(text) and end - at < len(value) and text[end] == value[end - at]:
                    end += 1
                if end - at < len(value) and (end == len(text) or text[end] not in _TOKEN_CHARS):
                    yield Finding(name, at, end, True)
                at = text.find(head, at + 1)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``[REDACTED:<kind>]`` (the same text when there is none), as valid
        Unicode (``valid_unicode``): what is redacted leaves the process (MLflow, tables, logs), and must encode."""
        text = valid_unicode(text)
        if len(text) < _MIN_SECRET:  # nothing ``find`` reports is shorter: a trace's dict keys, a ``k``, a status
            return text
        if len(text) > _CACHE_MAX_CHARS:
            return self._redact(text)
        # the text itself is the cache's key (a trace redacts ~90 texts, most of them seen before: a span's keys, the
        # retrieved chunks again for every variant); a decorator's key and bookkeeping cost as much as the look-up
        return self._remembered(self._cache, text, self._redact)  # type: ignore[no-any-return]

    def _redact(self, text: str) -> str:
        findings = self.find(text)
        if not findings:
            return text
        out, pos = [], 0
        for f in findings:
            out.append(text[pos : f.start])
            out.append(f.marker)
            pos = f.end
        out.append(text[pos:])
        return "".join(out)

    def redact_obj(self, obj: Any) -> Any:
        """A copy of ``obj`` with every string redacted: dict keys and values, list/tuple/set items, nested.

        Other values (numbers, None, objects) are returned as they are; the input is never changed.
        """
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, Mapping):
            return {self.redact_obj(k): self.redact_obj(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.redact_obj(v) for v in obj]
        if isinstance(obj, tuple) and not hasattr(obj, "_fields"):
            return tuple(self.redact_obj(v) for v in obj)
        if isinstance(obj, (set, frozenset)):
            return type(obj)(self.redact_obj(v) for v in obj)
        return obj


@functools.lru_cache(maxsize=8)
def _redactor_for(env_secrets: frozenset[tuple[str, str]]) -> Redactor:
    return Redactor(dict(env_secrets))


_last: tuple[dict[Any, Any], Redactor] | None = None  # the environment's raw data when ``redactor()`` last looked, and its redactor


def redactor() -> Redactor:
    """The process's redactor, for the environment as it is now (rebuilt only when a secret variable changed).

    An unchanged environment is recognised by comparing ``os.environ``'s raw data with the last one seen (a dict
    comparison in C): a sweep redacts thousands of strings, and decoding and classifying every variable for each one
    was most of the cost of logging its traces.
    """
    global _last
    data = getattr(os.environ, "_data", None)  # CPython's raw mapping behind os.environ
    seen = _last
    if data is not None and seen is not None and seen[0] == data:
        return seen[1]
    found = _redactor_for(frozenset(secret_env_values(os.environ).items()))
    if data is not None:
        _last = (dict(data), found)
    return found


def redact(text: str) -> str:
    """``redactor().redact(text)``: the text with every secret replaced by a marker."""
    return redactor().redact(text)


def quoted_error(error: str, limit: int = 200) -> str:
    """An error as a note or a reason quotes it: its first line, redacted, then cut short between words (cut after
    redaction, so no key is cut in half and let through; a proxy's HTML error page is hundreds of kilobytes)."""
    return shortened(next(iter(redact(error).strip().splitlines()), ""), limit)


def find_secrets(text: str) -> list[Finding]:
    """``redactor().find(text)``: the secrets in a text, for checks that refuse rather than redact."""
    return redactor().find(text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts a record's message (arguments merged in) and its exception text.

    Installed on the ``workbench`` logger by ``install_log_redaction``; add it to your own handlers to redact the
    records of other libraries too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        red = redactor()
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: leave it to the handler to report
            return True
        clean = red.redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = red.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = red.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = red.redact(record.stack_info)
        return True


_FILTER = RedactingFilter()

# the loggers whose records can carry what the workbench sends to a server: its own, and those of the HTTP clients and
# provider SDKs it calls through, which log each request's URL (httpx at INFO: "HTTP Request: POST https://proxy/v1?
# api-key=..."), and, at DEBUG, its options and replies (a server's error echoing the key)
LOGGERS = (
    "workbench", "httpx", "httpcore", "urllib3", "requests", "openai", "anthropic", "langchain", "langchain_core",
    "langchain_openai", "langchain_anthropic", "mlflow",
)
_redacted_loggers: set[str] = set()


def install_log_redaction(*logger_names: str) -> None:
    """Redact every record of the named loggers (default: ``LOGGERS``) and their child loggers (idempotent).

    The filter is added to each logger itself; because a logger's filters do not see the records of its children
    (``workbench.tracking._mlflow``, ``openai._base_client``...), the log-record factory applies the same filter to
    those when they are made (only records of a level some logger handles are made: logging that is off costs nothing).
    """
    names = logger_names or LOGGERS
    for name in names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
    _redacted_loggers.update(names)
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_workbench_redacts", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _redacts(record.name):
            _FILTER.filter(record)
        return record

    factory._workbench_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def _redacts(logger_name: str) -> bool:
    """Whether a logger's records are redacted: it is one of the installed loggers, or a child of one."""
    head = logger_name.partition(".")[0]
    return (head in _redacted_loggers or logger_name in _redacted_loggers
            or any(logger_name.startswith(f"{n}.") for n in _redacted_loggers if "." in n))
