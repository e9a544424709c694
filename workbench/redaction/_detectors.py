"""The detectors ``Redactor`` runs over a text: detect-secrets' pattern detectors and the key shapes it has none for,
each gated so that it only reads the texts (or lines) that could hold its shape, and where each value it finds occurs.

Pure; ``_detectors()`` builds them once, importing detect-secrets on first use.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import dataclasses
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_MIN_SECRET = 8  # a shorter environment value ("1", "true", "en_US") would match everywhere
_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


# characters a case-insensitive pattern matches to an ASCII letter that ``str.lower`` turns into something else: the long
# s (``ſ`` matches s) and the dotless i and dotted capital I (``ı``, ``İ`` match i). A gate's words are looked for in
# text lowered with these folded first: ``paſſword: <key>`` matched the secret_field and keyword detectors' patterns, but
# its line held no "pass" once lowered, so neither detector saw it and the key was logged as written
_FOLD = str.maketrans({"\u017f": "s", "\u0131": "i", "\u0130": "i"})


def _folded(text: str) -> str:
    """``text`` lowered as a gate reads it: every line a detector's case-insensitive pattern matches holds its words."""
    return text.lower() if text.isascii() else text.translate(_FOLD).lower()


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


def _gated_spans(line: str) -> tuple[tuple[str, int, int], ...]:
    """What the gated detectors find in one line, in their order: (label, start, end). The gated detectors are the last
    of ``_detectors()``, so ``Redactor.find`` adding these after the others' findings keeps the order it always had
    (which decides a merged finding's kind). A detector with ``needs`` skips a line holding none of them: every match
    of its patterns holds one, and none of them holds a line break."""
    low = _folded(line)
    return tuple((d.label, s, e) for d in _detectors() if d.gate and d.admits(low) and d.may_find(line) for s, e in _detect(d, line))


@functools.lru_cache(maxsize=1)
def _gate_words() -> tuple[str, ...]:
    return tuple(sorted({word for d in _detectors() for word in d.gate}))


def _gate_words_in(line: str) -> bool:
    """Whether a line holds a word some gated detector needs (``_folded``, as each gate reads it)."""
    low = _folded(line)
    return any(word in low for word in _gate_words())


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
