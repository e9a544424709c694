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

    from workbench.redaction import redactor
    redactor().redact("key sk-...T3BlbkFJ...")   # 'key [REDACTED:openai_token]'
"""

from __future__ import annotations

import base64
import binascii
import bisect
import dataclasses
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
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


SECRET_NAME_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL")
_SECRET_LAST_WORDS = frozenset({"PASS", "PWD", "PW", "PAT", "AUTH"})  # DB_PASS, MYSQL_PWD, GH_PAT, REDISCLI_AUTH
_SECRET_NAMES = frozenset({"SSHPASS"})  # sshpass's
_MIN_SECRET = 8  # a shorter environment value ("1", "true", "en_US") would match everywhere
_NOT_SECRET = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null", "enabled", "disabled", "default"})
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_CACHE_MAX_CHARS = 8192  # longer texts are scanned every time rather than kept in the cache
# the cache holds texts up to this many characters in all, not a number of texts: a sweep redacts each question's
# retrieved chunks again for every variant, and 4,096 texts thrashed past a few hundred questions (1,000 questions x 5
# chunks cycle through 5,000+ texts: each variant found none of the previous one's)
_CACHE_CHARS = 32 * 2**20
_PRIVATE_KEY = "private_key"
_LOCATION = re.compile(r"[/~.]|[A-Za-z]:[\\/]|[A-Za-z][A-Za-z0-9+.-]*://")  # a path or a URL (see Redactor._cut_values)
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


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


def _label(secret_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", secret_type.lower()).strip("_")


@dataclass(frozen=True)
class _Detector:
    """One detect-secrets plugin; with ``gate``, it only sees the lines holding one of those words (lowercase)."""

    label: str
    plugin: Any
    gate: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()  # the text must hold one of these (as written) for any of its patterns to match

    def admits(self, text: str) -> bool:
        return not self.gate or any(word in text for word in self.gate)

    def may_find(self, text: str) -> bool:
        """False when the text holds none of ``needs``: skipping it then finds the same, in a substring search."""
        return not self.needs or any(literal in text for literal in self.needs)


# key shapes detect-secrets 1.5 has no detector for (provider documentation gives the prefixes)
_SHAPES = (
    ("anthropic_api_key", r"sk-ant-[A-Za-z0-9_-]{20,}"),
    # OpenAI's keys, with or without the "T3BlbkFJ" of its legacy keys (project, service-account and admin keys), and
    # the sk- keys of OpenAI-compatible providers (DeepSeek, Moonshot, ...): 30+ characters after sk-, a digit among
    # them (see _REQUIRED; a lookahead for the digit scanned the rest of the token from every "sk-" in it: 'sk-' repeated
    # along 20 KB took seconds)
    ("openai_token", r"\bsk-(?!ant-)[A-Za-z0-9][A-Za-z0-9_-]{29,}"),
    ("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}"),
    ("github_fine_grained_token", r"\bgithub_pat_[A-Za-z0-9_]{22,}"),
    # a key handed over in a URL's query (``OPENAI_BASE_URL=https://proxy/v1?api-key=...``, Google's ``?key=``,
    # Azure Functions' ``?code=``, signed URLs' ``&sig=``), as error messages and proxies echo URLs: the value only
    ("url_query_secret", r"(?i)[?&](?:[\w.-]*(?:key|token|secret|passw|pwd|sig|auth|credential)[\w.-]*|code)=(?P<value>[^&\s#'\"<>]+)"),
    # an Authorization header echoed in an error (``Bearer <token>``): the token, when it holds a digit (not prose)
    ("bearer_token", r"\bBearer\s+(?P<value>(?=[A-Za-z._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,})"),
)

# any Authorization header's value, after the header's name (a request echoed whole, a dict of headers): after a
# scheme that says a credential follows (``Token``, ``ApiKey``, a Basic token holding no ':'), any 8 characters;
# with none (a key sent bare), 8 holding a digit and a letter: not "Authorization: required for this endpoint"
_AUTHORIZATION = ("authorization_header", r"(?i)\b(?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:"
                                  r"(?:bearer|basic|token|api-?key|key|bot|ssws|oauth|negotiate|ntlm)[ \t]+(?P<value>[A-Za-z0-9._~+/=-]{8,})"
                                  r"|(?P<bare>(?=[A-Za-z._~+/=-]*\d)(?=[0-9._~+/=-]*[A-Za-z])[A-Za-z0-9._~+/=-]{8,}))")

# a field or header named like a secret with its value written bare, which detect-secrets' keyword detector (quotes
# after '=', names spelt with '_') passes: an echoed ``x-api-key:`` (Anthropic's header) or ``api-key:`` (Azure's), a
# libpq DSN's ``password=...``, a YAML ``password: ...``, an env line's ``MY_TOKEN=...`` or ``DB_PASS=...`` (the last
# words of is_secret_name); the name ends with the word (not max_tokens, tokenizer, GIT_AUTHOR), the value is 8
# characters or more holding a letter and a digit (see _REQUIRED)
_SECRET_FIELD = ("secret_field", r"(?i)(?:api[-_]?key|access[-_]?key|secret[-_]?key|private[-_]?key|auth[-_]?key|client[-_]?secret|secret"
                                 r"|token|passw(?:or)?d|pwd|passphrase|[-_](?:pass|pw|pat|auth))[\"'\]]{0,2}[ \t]*[:=][ \t]*[\"']?(?P<value>[^\s\"'`,;&<>{}\[\]()]{8,})")
_SECRET_FIELD_GATE = ("key", "secret", "token", "pass", "pwd", "_pw", "-pw", "_pat", "-pat", "_auth", "-auth")

# what a shape's value must also hold to be a key (checked on the value found, not by a lookahead rescanning the text)
_REQUIRED = {
    "openai_token": re.compile(r"\d"),  # a legacy key's T3BlbkFJ holds one
    "secret_field": re.compile(r"^(?=.*\d)(?=.*[A-Za-z])", re.DOTALL),  # not a number, a word or a variable's NAME
}


@dataclass(frozen=True)
class _Shape:
    """A detector of one key shape, with the ``analyze_string`` of a detect-secrets plugin; a pattern with a group
    named ``value`` (or ``bare``) yields that group (the secret in its context), else the whole match; with
    ``required``, only the values that hold it."""

    pattern: str
    required: re.Pattern[str] | None = None

    def analyze_string(self, text: str) -> Iterator[str]:
        for m in re.finditer(self.pattern, text):
            groups = m.groupdict()
            value = groups.get("value") or groups.get("bare") or m.group(0)
            if self.required is None or self.required.search(value):
                yield value


class _Jwt:
    """detect-secrets' JSON Web Token detector, in linear time: its pattern (``eyJ...``, a dot, ...) was tried again
    from every ``eyJ`` of a token holding no dot after them, each time reading the rest of it ('eyJ' repeated along 20
    KB took 0.6 s, 100 KB 15 s). Within a run of the first part's characters only the first ``eyJ`` is tried: every
    later one ends at the same place. Each match is checked as detect-secrets checks it (its parts decode as base64,
    the first two as JSON)."""

    pattern = re.compile(r"eyJ[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+\.?[A-Za-z0-9_.+/=-]*?")  # detect-secrets' own
    part = re.compile(r"[A-Za-z0-9_=-]+")

    def analyze_string(self, text: str) -> Iterator[str]:
        from detect_secrets.plugins.jwt import JwtTokenDetector

        pos = 0
        while (run := self.part.search(text, pos)) is not None:
            start = text.find("eyJ", run.start(), run.end())
            m = self.pattern.match(text, start) if start >= 0 else None
            if m is None:
                pos = run.end()
                continue
            if JwtTokenDetector.is_formally_valid(m.group()):
                yield m.group()
            pos = m.end()


class _Npmrc:
    """detect-secrets' npm detector (``//registry/:_authToken=<token>``, the line of an ``.npmrc``) in linear time, for
    one line: its ``//.+/:_authToken=`` read the rest of the line again from every ``//`` (a minified page's links:
    130 KB took a second, a MB a minute). As its pattern does, it takes the last ``/:_authToken=`` with a ``//`` and a
    character before it whose value is ``npm_...`` (to the end of the line) or 36 hex digits and dashes."""

    marker = "/:_authToken="
    value = re.compile(r"\s*(?:(npm_.+)|([A-Fa-f0-9-]{36}))")

    def analyze_string(self, line: str) -> Iterator[str]:
        first = line.find("//")
        at = line.rfind(self.marker)
        while first >= 0 and at >= first + 3:
            m = self.value.match(line, at + len(self.marker))
            if m is not None:
                yield from (group for group in m.groups() if group)
                return
            at = line.rfind(self.marker, 0, at)


class _BasicHeader:
    """An ``Authorization: Basic <base64 of user:password>`` header echoed in an error or a reply: what httpx sends
    for a base URL with credentials in it (``https://user:key@proxy/v1``), the password readable to anyone who decodes
    it. Only a value that decodes to ``user:password`` is yielded, not prose such as "Basic information"."""

    pattern = re.compile(r"\bBasic\s+(?P<value>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])")

    def analyze_string(self, text: str) -> Iterator[str]:
        for m in self.pattern.finditer(text):
            try:
                decoded = base64.b64decode(m.group("value"), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                continue
            if ":" in decoded:
                yield m.group("value")


class _UrlLogin:
    """The password of a URL's login (``scheme://user:password@host``), as URL parsers read it, in linear time.

    detect-secrets' detector takes no login holding one of RFC 3986's delimiters, but a login may hold ``!$&'()*+,;=``
    as written (a generated password's ``+`` and ``=``, a typed one's ``!`` or ``$``), and a password written without
    percent-encoding its ``/``, ``?``, ``#``, ``@`` or ``:`` runs to the address's last '@' (``without_credentials``
    reads it so): ``postgresql://bob:Pa$$w0rd!@db/mlflow`` was logged as written. A URL's text runs to the next
    whitespace or the next ``://``; a user holding ``/``, ``?``, ``#`` or ``[`` is a host and path
    (``https://a.example/b:c@d``), a "password" of digits and a path a port (``http://localhost:4873/@scope/pkg``).
    With ``token``, it yields instead a login that is a token given alone (``https://<token>@host``, see
    ``_LOGIN_TOKEN``)."""

    separator = "://"
    space = re.compile(r"\s")
    port = re.compile(r"\d+[/?#]")
    mask = re.compile(r"\*+|…")  # a password already hidden (``config.shown_uri``'s ``user:***@``)

    def __init__(self, *, token: bool = False) -> None:
        self.token = token  # yield a token given as the whole login (``https://<token>@host``), not a password

    def analyze_string(self, text: str) -> Iterator[str]:
        at = text.find(self.separator)
        while at >= 0:
            begin = at + len(self.separator)
            after = text.find(self.separator, begin)
            space = self.space.search(text, begin, len(text) if after < 0 else after)
            end = space.start() if space is not None else len(text) if after < 0 else after
            login = text.rfind("@", begin, end)
            userinfo = text[begin:login] if login >= 0 else None
            password = None if userinfo is None else _login_token(userinfo) if self.token else self._password(userinfo)
            if password is not None:
                yield password
            at = after

    def _password(self, userinfo: str) -> str | None:
        """The password of a login (``user:password``), None when it has none or is no login (see the class)."""
        user, colon, password = userinfo.partition(":")  # a user may be left out (redis://:password@host)
        if not (colon and password) or any(c in user for c in "/?#[]"):
            return None
        return None if self.port.match(password) or self.mask.fullmatch(password) else password


# a URL's login that is a token, not a user's name: no ':' in it, 16 characters or more holding a digit and a letter
# (a Sentry DSN's key, a git remote's https://<token>@host); ``bob``, ``mlflow_admin`` are names (config.shown_uri's too)
_LOGIN_TOKEN = re.compile(r"(?=[^\d]*\d)(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9._~+=%-]{16,}")


def _login_token(userinfo: str) -> str | None:
    """The login itself when it is a token given alone (see ``_LOGIN_TOKEN``), else None."""
    return userinfo if _LOGIN_TOKEN.fullmatch(userinfo) else None


class _Keyword:
    """detect-secrets' keyword detector (``api_key = "..."``, ``"password": "..."``, ``'...' == password``) in linear
    time, yielding every assignment of a line, not the first of each of its patterns.

    Its patterns (a denylisted word, ``\\w*``, then an assignment) were searched from every denylisted word of a
    line, each reading on to the end of its run of word characters: a run repeating one ('pwd' x 1,300: 4 KB) took
    10 s, 20 KB of 'password' two minutes. Every word of a run leads to the assignment its first one leads to (the
    ``\\w*`` after it reads on to the run's end), so each pattern is tried once per run, from its first denylisted
    word, and not again inside what it matched; the comparison form from the quote before each ``==`` or ``!=``; the
    semicolon form no further than where its match must end (see ``_semicolon_end``)."""

    comparison = re.compile(r"(['\"`])[ \t]*[!=]{2,3}")
    # the semicolon form (``private_key "..."``;): a value's last character, its closing quote, then ';'
    closing = re.compile(r"(?<=[^\x0b,'\"`])['\"`];")
    boundary = re.compile(r"[\x0b'\"]")  # no value runs across one
    run = re.compile(r"\w*")
    space = re.compile(r"\s")
    nonspace = re.compile(r"\S")

    def __init__(self) -> None:
        from detect_secrets.plugins import keyword

        self.semicolon = keyword.FOLLOWED_BY_QUOTES_AND_SEMICOLON_REGEX
        self.preceded = keyword.PRECEDED_BY_EQUAL_COMPARISON_SIGNS_QUOTES_REQUIRED_REGEX
        table = keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
        self.preceded_group = table[self.preceded]
        self.followed = tuple((pattern, group) for pattern, group in table.items() if pattern is not self.preceded)
        self.first_word = re.compile(keyword.DENYLIST_REGEX, re.IGNORECASE)  # a word and the rest of its run

    def analyze_string(self, line: str) -> Iterator[str]:
        starts = [m.start() for m in self.first_word.finditer(line)]
        closings = [m.start() for m in self.closing.finditer(line)]
        bounds = [m.start() for m in self.boundary.finditer(line)] if closings else []
        for pattern, group in self.followed:
            matched_to = 0
            for start in starts:
                if start < matched_to:
                    continue
                end = self._semicolon_end(line, start, closings, bounds) if pattern is self.semicolon else len(line)
                if end is not None and (m := pattern.match(line, start, end)) is not None:
                    matched_to = m.end()
                    yield m.group(group)
        for m in self.comparison.finditer(line):
            opening = line.rfind(m.group(1), 0, m.start())
            found = self.preceded.match(line, opening) if opening >= 0 else None
            if found is not None:
                yield found.group(self.preceded_group)

    def _semicolon_end(self, line: str, start: int, closings: list[int], bounds: list[int]) -> int | None:
        """Where a match of the semicolon form from ``start`` must end by, None when it cannot match: after the last
        closing quote and ';' before the first boundary after the farthest opening quote its pattern can reach (a word
        run, 50 characters without a space, spaces). Its value (which may hold '`') read on to the end of the line from
        every start, then back to a closing: a line repeating 'pwd=`' took a second per 4 KB. The pattern matched up to
        there finds what it found on the whole line: no closing lies between there and the value's end. ``closings``
        and ``bounds`` are where the line's closings and boundaries (quotes, vertical tabs) are, found once."""
        if not closings:
            return None
        after_word = self.run.match(line, start).end()
        space = self.space.search(line, after_word, after_word + 50)
        opening = self.nonspace.search(line, space.start() if space else min(after_word + 50, len(line)))
        at = bisect.bisect_right(bounds, opening.start()) if opening else len(bounds)  # the first boundary after it
        stop = bounds[at] if at < len(bounds) else len(line)
        last = bisect.bisect_right(closings, stop) - 1
        return closings[last] + 2 if last >= 0 and closings[last] > start else None


@functools.lru_cache(maxsize=1)
def _detectors() -> tuple[_Detector, ...]:
    """detect-secrets' pattern detectors and ``_SHAPES``, built once. No high-entropy detector, no public-IP one.

    Each detector whose patterns all hold one of a few literals, case-sensitive, skips the texts holding none of them
    (``_NEEDS``): most texts a sweep logs hold none, and its patterns (a JWT's Python loop over every word, a class of
    characters at every position) cost more than a substring search.

    The keyword detector (``api_key = "..."``) and the assignment-shaped ones (Cloudant, IBM, SoftLayer) are slow
    on long text, so they only see lines that hold one of the words their patterns require: every word of the
    keyword detector's list (``detect_secrets.plugins.keyword.DENYLIST``) contains key, pass, pwd, secret or
    contrase; the others need key/pw/pass/token or the service's name; the npm one (``_Npmrc``), ``_authToken``.
    tests/test_redaction.py checks each detector still finds its own shape through these gates.
    """
    from detect_secrets.plugins.artifactory import ArtifactoryDetector
    from detect_secrets.plugins.aws import AWSKeyDetector
    from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
    from detect_secrets.plugins.basic_auth import BasicAuthDetector
    from detect_secrets.plugins.cloudant import CloudantDetector
    from detect_secrets.plugins.discord import DiscordBotTokenDetector
    from detect_secrets.plugins.github_token import GitHubTokenDetector
    from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
    from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
    from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
    from detect_secrets.plugins.jwt import JwtTokenDetector
    from detect_secrets.plugins.keyword import KeywordDetector
    from detect_secrets.plugins.mailchimp import MailchimpDetector
    from detect_secrets.plugins.npm import NpmDetector
    from detect_secrets.plugins.private_key import PrivateKeyDetector
    from detect_secrets.plugins.pypi_token import PypiTokenDetector
    from detect_secrets.plugins.sendgrid import SendGridDetector
    from detect_secrets.plugins.slack import SlackDetector
    from detect_secrets.plugins.softlayer import SoftlayerDetector
    from detect_secrets.plugins.square_oauth import SquareOAuthDetector
    from detect_secrets.plugins.stripe import StripeDetector
    from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
    from detect_secrets.plugins.twilio import TwilioKeyDetector

    own = (
        *(_Detector(label, _Shape(pattern, _REQUIRED.get(label))) for label, pattern in _SHAPES),
        _Detector("basic_auth_header", _BasicHeader()),
        _Detector(_AUTHORIZATION[0], _Shape(_AUTHORIZATION[1])),  # after the Bearer and Basic ones: theirs are more precise
        _Detector(_label(BasicAuthDetector.secret_type), _UrlLogin()),
        _Detector(_label(JwtTokenDetector.secret_type), _Jwt()),
    )
    assignment = ("key", "pw", "pass", "token", "cloudant", "softlayer")
    # detect-secrets' OpenAI detector (sk-...T3BlbkFJ...) is the openai_token shape's: its pattern read the rest of the
    # token again from every 'sk-' in it (seconds on 20 KB of 'sk-'), and the shape finds every key it found; its basic
    # auth detector is _UrlLogin's, which finds every password it found and those holding a URL's delimiters
    plain = (
        AWSKeyDetector, GitHubTokenDetector, GitLabTokenDetector, SlackDetector, StripeDetector,
        PrivateKeyDetector, PypiTokenDetector, SendGridDetector,
        TwilioKeyDetector, MailchimpDetector, DiscordBotTokenDetector, TelegramBotTokenDetector, SquareOAuthDetector,
        AzureStorageKeyDetector, ArtifactoryDetector,
    )
    gated = (CloudantDetector, IbmCloudIamDetector, IbmCosHmacDetector, SoftlayerDetector)
    detectors = (
        *own,
        *(_Detector(_label(cls.secret_type), cls()) for cls in plain),
        _Detector("url_login_token", _UrlLogin(token=True)),  # after them: a GitHub token as the login is a github_token
        *(_Detector(_label(cls.secret_type), cls(), assignment) for cls in gated),
        _Detector(_label(NpmDetector.secret_type), _Npmrc(), ("_authtoken",)),
        # last: a named shape wins over "a secret-sounding assignment"
        _Detector(_label(KeywordDetector.secret_type), _Keyword(), ("key", "pass", "pwd", "secret", "contrase")),
        # after it: what both find is a secret_keyword, as before
        _Detector(_SECRET_FIELD[0], _Shape(_SECRET_FIELD[1], _REQUIRED[_SECRET_FIELD[0]]), _SECRET_FIELD_GATE),
    )
    return tuple(dataclasses.replace(d, needs=_NEEDS.get(d.label, ())) for d in detectors)


# the literals one of which every pattern of a detector holds, as written (its patterns are case-sensitive): read off
# each pattern (``_SHAPES``, the classes above, detect-secrets 1.5's denylists); tests/test_redaction.py checks that
# each detector still finds its shape
_NEEDS: dict[str, tuple[str, ...]] = {
    "anthropic_api_key": ("sk-ant-",), "openai_token": ("sk-",), "huggingface_token": ("hf_",), "google_api_key": ("AIza",),
    "github_fine_grained_token": ("github_pat_",), "bearer_token": ("Bearer",), "basic_auth_header": ("Basic",),
    "json_web_token": ("eyJ",), "github_token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), "gitlab_token": ("gl", "GR1348941"),
    "stripe_access_key": ("k_live_",), "private_key": ("PRIVATE KEY", "PuTTY-User-Key-File-2"), "pypi_token": ("pypi-",),
    "sendgrid_api_key": ("SG.",), "twilio_api_key": ("AC", "SK"), "mailchimp_access_key": ("-us",),
    "square_oauth_secret": ("sq0csp-",), "azure_storage_account_access_key": ("AccountKey=",),
    "artifactory_credentials": ("AKC", "AP"), "telegram_bot_token": (":",),
}


_TOKEN_RUN = re.compile(r"[A-Za-z0-9_-]+")  # a run of _TOKEN_CHARS


def _detect(detector: _Detector, text: str) -> Iterator[tuple[int, int]]:
    """Where the values a detector yields occur, each run on to the end of its token: some detectors yield a
    capture group rather than the whole key (the GitHub one yields ``ghp`` of ``ghp_<36 characters>``), a JWT's
    signature follows the part the detector matches."""
    runs: _Runs | None = None
    for value in set(detector.plugin.analyze_string(text)):
        if value and value.strip() and not value.startswith("[REDACTED:"):
            for start, end in _occurrences(text, value):
                if end < len(text) and text[end] in _TOKEN_CHARS:
                    runs = runs or _Runs(text)
                    end = runs.end_of(end)
                yield start, end


class _Runs:
    """The runs of token characters of a text, found once: where the run holding a position ends. Scanning on from
    each occurrence of a value instead took seconds on a few kilobytes where a detector's shape repeats along one
    token (``ghp_ghp_ghp_...``, ``AKIAAKIA...``): every occurrence scanned the rest of the token again."""

    def __init__(self, text: str) -> None:
        found = [(m.start(), m.end()) for m in _TOKEN_RUN.finditer(text)]
        self._starts = [s for s, _ in found]
        self._ends = [e for _, e in found]

    def end_of(self, position: int) -> int:
        """The end of the run holding ``position`` (a position inside one)."""
        return self._ends[bisect.bisect_right(self._starts, position) - 1]


def _occurrences(text: str, value: str) -> Iterator[tuple[int, int]]:
    """Where ``value`` occurs in ``text``; a short value (a URL's password "pw") only as a whole word."""
    if len(value) >= _MIN_SECRET:
        pattern = re.escape(value)
    else:
        pattern = r"(?<![A-Za-z0-9])" + re.escape(value) + r"(?![A-Za-z0-9])"
    for m in re.finditer(pattern, text):
        yield m.start(), m.end()


def _private_key_end(text: str, end: int) -> int:
    """A private key is redacted from its BEGIN line to its END line (the detector matches the header only)."""
    stop = text.find("-----END", end)
    if stop < 0:
        return len(text)
    close = text.find("-----", stop + 8)
    return len(text) if close < 0 else close + 5


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
        self._cached_redact = cachetools.cached(cachetools.LRUCache(_CACHE_CHARS, getsizeof=len), lock=threading.Lock(), info=True)(self._redact)

    def find(self, text: str) -> list[Finding]:
        """Every secret in ``text``, in order, overlapping findings merged."""
        if len(text) < _MIN_SECRET:
            return []
        found: list[Finding] = []
        if self._env_pattern is not None:
            found.extend(Finding(self._env_names[m.group(0)], m.start(), m.end(), True) for m in self._env_pattern.finditer(text))
            found.extend(self._cut_values(text))
        lower = text.lower()
        lines: list[tuple[int, str, str]] | None = None
        for detector in _detectors():
            if not detector.may_find(text):
                continue
            if not detector.gate:  # one pass over the whole text
                spans = [(0, start, end) for start, end in _detect(detector, text)]
            else:  # only the lines that hold a word the detector needs (detect-secrets scans line by line too)
                if not detector.admits(lower):
                    continue
                if lines is None:
                    lines, offset = [], 0
                    for line in text.splitlines(keepends=True):
                        lines.append((offset, line, line.lower()))
                        offset += len(line)
                spans = [(offset, s, e) for offset, line, low in lines if detector.admits(low) for s, e in _detect(detector, line)]
            for offset, start, end in spans:
                stop = _private_key_end(text, offset + end) if detector.label == _PRIVATE_KEY else offset + end
                found.append(Finding(detector.label, offset + start, stop))
        return _merge(found)

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
        if len(text) > _CACHE_MAX_CHARS:
            return self._redact(text)
        return self._cached_redact(text)

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
