"""Redaction at the boundary: a key planted in the environment, a prompt template, a corpus document and a provider's
error messages reaches neither the sqlite MLflow store (any table), nor an artifact, nor an export, nor a log line,
nor a widget; a literal key in the experiment file is refused. Unit tests of the redactor itself come first."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

import yaml

import workbench as wb
from workbench.config import Settings, settings
from workbench.errors import SpecError
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.prompts import RenderedPrompt
from workbench.redaction import Redactor, RedactingFilter, find_secrets, redact, secret_env_values
from workbench.spec import ExperimentSpec, load_experiment
from workbench.testing import HashingEmbedder, ScriptedModel

from tests.complexity import assert_linear_time

ROOT = Path(__file__).resolve().parents[1]
# built from pieces so that this file itself is not a key to a scanner; the shape of a real OpenAI key
KEY_BODY = "Xy7Qm2Lp9Rt4Vw8Zb3Nc"
KEY = "sk-test-" + KEY_BODY + "T3BlbkFJ" + "Hd6Jf1Kg5Ls0Pq2Rs9Tu"
PASSWORD = "hunter2" + "Hunter2"
STORE_URI = f"postgresql://bob:{PASSWORD}@db.internal:5432/mlflow"
ENV_MARKER = "[REDACTED:OPENAI_API_KEY]"
URI_MARKER = "postgresql://bob:[REDACTED:basic_auth_credentials]@db.internal:5432/mlflow"


# -- the redactor -------------------------------------------------------------------------------------------------


def test_values_of_secret_environment_variables_are_replaced_by_their_name() -> None:
    red = Redactor({"OPENAI_API_KEY": KEY, "MY_SERVICE_TOKEN": "zq8-opaque-value-77", "DB_PASSWORD": "correct horse battery",
                    "PATH": "/usr/local/bin:/usr/bin", "TOKENIZERS_PARALLELISM": "false", "SHORT_KEY": "abc",
                    "MAX_TOKENS": "100000000", "HF_HUB_DISABLE_TOKEN": "1"})
    assert set(red.env_secrets) == {"OPENAI_API_KEY", "MY_SERVICE_TOKEN", "DB_PASSWORD"}
    text = f"key={KEY}; token zq8-opaque-value-77 and 'correct horse battery' in /usr/local/bin false 100000000"
    assert red.redact(text) == (f"key={ENV_MARKER}; token [REDACTED:MY_SERVICE_TOKEN] and '[REDACTED:DB_PASSWORD]' "
                                "in /usr/local/bin false 100000000")


def test_secret_variables_named_pass_pwd_pat_or_auth_are_redacted_and_the_working_folder_is_not() -> None:
    # only KEY, TOKEN, SECRET, PASSWORD or CREDENTIAL in a name made its value a secret: a database password in DB_PASS
    # or MYSQL_PWD, a GitHub token in GH_PAT, redis-cli's REDISCLI_AUTH were logged as written when an error quoted them
    secrets = {"DB_PASS": "zq8opaque01", "SMTP_PASSWD": "zq8opaque02", "MYSQL_PWD": "zq8opaque03", "PGPASSWORD": "zq8opaque04",
               "GH_PAT": "zq8opaque05", "REDISCLI_AUTH": "zq8opaque06", "GPG_PASSPHRASE": "zq8opaque07", "DB_PW": "zq8opaque08",
               "SSHPASS": "zq8opaque09", "NPM_CONFIG__AUTH": "zq8opaque10"}
    harmless = {"PWD": "/home/u/project", "OLDPWD": "/home/u", "PATH": "/usr/local/bin:/usr/bin", "PASSWORD_MIN_LENGTH": "8",
                "PGPASSFILE": "/home/u/.pgpass", "AUTH_PROVIDER": "keycloak-realm", "GIT_AUTHOR_NAME": "Alice Example",
                "PATTERN_FILE": "/home/u/patterns.txt", "COMPASS_MODE": "northbound", "BYPASS_PROXY": "localhost,internal"}
    assert set(secret_env_values({**secrets, **harmless})) == set(secrets)
    red = Redactor({**secrets, **harmless})
    assert red.redact("mysql -u bob -pzq8opaque03 failed in /home/u/project") == "mysql -u bob -p[REDACTED:MYSQL_PWD] failed in /home/u/project"


def test_a_secret_variables_value_cut_short_where_a_message_was_cut_is_still_redacted() -> None:
    """A judge's failed call keeps its error's first 500 characters, a judge's reply its first 200, a ragas reason its
    first 160: a key quoted across the cut was kept as its first half, which no longer equals the variable's value and
    was logged to MLflow as written. The start of a secret value ending where its text ends (or at a character no key
    holds: the cut's '…', a quote) is redacted when it is at least half of the value."""
    opaque = "zq8Xm2Lp9Rt4Vw8Zb3Nc7Hd6Jf1Kg5Ls"  # no known shape: only its variable says it is a key
    red = Redactor({"AZURE_OPENAI_API_KEY": opaque, "SOME_TOKEN": "localhost-secret-4417"})
    half = opaque[:20]
    for text in (f"judge call failed: 401 bad key {half}", f"the judge said: 'bad key {half}…'", f"key={half}', other"):
        assert half not in red.redact(text), text
        assert "[REDACTED:AZURE_OPENAI_API_KEY]" in red.redact(text)
    # text sharing a short start with a value, or running on with other characters, is not the value
    for text in (f"{opaque[:12]} is less than half", f"{opaque[:20]}QQ runs on", "http://localhost:5000"):
        assert red.redact(text) == text, text
    # a secret variable naming a file or an address: its start is a folder, which messages name all the time
    red = Redactor({"GOOGLE_APPLICATION_CREDENTIALS": "/home/u/project/key.json", "AUTH_TOKEN_URL": "https://auth.example/oauth/token"})
    for text in ("cache in /home/u/project/.workbench/cache", "see https://auth.example/oauth/?x=1"):
        assert red.redact(text) == text, text


KNOWN_SHAPES = [
    (KEY, "openai_token"),
    ("AKIA" + "IOSFODNN7EXAMPLE", "aws_access_key"),
    ("ghp_" + "wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx", "github_token"),
    ("glpat-" + "abcdefghij0123456789", "gitlab_token"),
    ("xoxb-" + "123456789012-abcdefghijkl", "slack_token"),
    ("sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "stripe_access_key"),
    ("eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "json_web_token"),
    ("SG." + "ngeVfQFYQlKU0ufo8x5d1A.TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr", "sendgrid_api_key"),
    ("pypi-AgEIcHlwaS5vcmc" + "x" * 70, "pypi_token"),
    ("sk-ant-" + "api03-Zx8kq2WmP4vN7rT1yB5cH9jL3dF6gS0aQ", "anthropic_api_key"),
    ("sk-proj-" + "Zx8kq2WmP4vN7rT1yB5cH9jL3dF6gS0aQ_n4Rt-Yb7Wc2Xe9", "openai_token"),  # no T3BlbkFJ in it
    ("sk-svcacct-" + "Q2w9Er7Ty4Ui1Op6As3Df8Gh5Jk0Lz", "openai_token"),
    ("sk-" + "3f9c0a7be21d4c6f8a9b0c1d2e3f4a5b", "openai_token"),  # an OpenAI-compatible provider's (DeepSeek's shape)
    ("hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "huggingface_token"),
    ("AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "google_api_key"),
    ("github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "github_fine_grained_token"),
]


@pytest.mark.parametrize(("secret", "label"), KNOWN_SHAPES)
def test_known_key_shapes_are_found(secret: str, label: str) -> None:
    red = Redactor({})
    assert red.redact(f"the key is {secret} — keep it safe") == f"the key is [REDACTED:{label}] — keep it safe"
    assert [f.kind for f in red.find(secret)] == [label]


OTHER_SHAPES = [  # detect-secrets' shapes the tests above hold no example of
    ("AC" + "a1b2c3d4" * 4, "twilio_api_key"), ("SK" + "a1b2c3d4" * 4, "twilio_api_key"),
    ("a1b2c3d4" * 4 + "-us12", "mailchimp_access_key"), ("sq0csp-" + "Ab1_" * 10 + "xyz", "square_oauth_secret"),
    ("AccountKey=" + "Ab1+" * 22, "azure_storage_account_access_key"), ("AKC" + "p8abcdefghij", "artifactory_credentials"),
    ("APB" + "abcd1234XY", "artifactory_credentials"), ("123456789:" + "AAH" + "b1C2d3E4f5" * 3 + "xy", "telegram_bot_token"),
]


@pytest.mark.parametrize(("secret", "label"), OTHER_SHAPES)
def test_detectors_skipping_texts_without_their_literals_still_find_their_shapes(secret: str, label: str) -> None:
    # each detector skips a text holding none of the literals all its patterns hold (most texts a sweep logs)
    red = Redactor({})
    assert [f.kind for f in red.find(f"the key is {secret} next")] == [label]
    assert secret not in red.redact(f"the key is {secret} next")


GATED = [  # the detectors that only see lines holding the words they need
    ('api_key = "' + "zz9opaquevalue77" + '"', "secret_keyword"),
    ('password: "' + "correct-horse-battery" + '"', "secret_keyword"),
    ("cloudant_password='" + "a" * 64 + "'", "cloudant_credentials"),
    ("ibm_cloud_iam_key = '" + "A" * 44 + "'", "ibm_cloud_iam_key"),
    ("cos_hmac_secret_access_key = '" + "f" * 48 + "'", "ibm_cos_hmac_credentials"),
    ("softlayer_api_key = '" + "b" * 64 + "'", "softlayer_credentials"),
    ("//registry.npmjs.org/:_authToken=" + "npm_" + "aB3" * 12, "npm_tokens"),
    ("//npm.internal/r/:_authToken= " + "12345678-1234-1234-1234-1234567890ab", "npm_tokens"),
]


@pytest.mark.parametrize(("line", "label"), GATED)
def test_gated_detectors_still_find_their_shapes(line: str, label: str) -> None:
    assert [f.kind for f in Redactor({}).find(line)] == [label]


FOLDED = [
    ("paſſword: " + "zq8opaque77x", "secret_field"), ("ſecret = '" + "zz9opaquevalue77" + "'", "secret_keyword"),
    ("API_KEY = '" + "zz9opaquevalue77" + "'", "secret_keyword"),
]


@pytest.mark.parametrize(("line", "label"), FOLDED)
def test_gated_detectors_see_the_lines_their_case_insensitive_patterns_match(line: str, label: str) -> None:
    # a long s matches 's' in a case-insensitive pattern, but lowered it is no 's': the line held no "pass" or
    # "secret" for the gates, and the key went out as written
    assert [f.kind for f in Redactor({}).find(line)] == [label]
    assert "[REDACTED:" in Redactor({}).redact(line)


def test_a_line_in_several_texts_is_read_by_the_gated_detectors_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # a prompt holds the lines of the chunks its trace's retrieve span holds, and the same chunks come back for every
    # variant: the keyword detector (and the other gated ones) read each such line again for every text holding it
    from workbench.redaction._detectors import _detectors

    keyword = next(d for d in _detectors() if d.label == "secret_keyword")
    read: list[str] = []
    analyze = keyword.plugin.analyze_string
    monkeypatch.setattr(keyword.plugin, "analyze_string", lambda line: read.append(line) or analyze(line))
    line = 'api_key = "' + "zz9opaquevalue77" + '"\n'
    chunk, prompt = f"Set it so:\n{line}", f"Context: one\n{line}Question: how is it set?\nAnswer:"
    red = Redactor({})
    for text in (chunk, prompt, "another " + chunk):
        found = red.find(text)
        assert [(f.kind, text[f.start:f.end]) for f in found] == [("secret_keyword", "zz9opaquevalue77")], text
    assert read.count(line) == 1


def test_what_the_gated_detectors_find_in_a_remembered_line_is_what_they_find_in_a_new_one() -> None:
    # every detector's own examples, alone, among other lines and after them, through a redactor that has read each
    # line before and through one that has not: the same findings at the same places
    lines = [*[f"the key is {secret} next" for secret, _ in KNOWN_SHAPES + OTHER_SHAPES], *[line for line, _ in GATED], *[line for line, _ in FOLDED],
             "password = 'short'", "no secret here, just a key word and a pass"]
    warm = Redactor({})
    for line in lines:
        warm.find(line)
    for i, line in enumerate(lines):
        for text in (line, f"{lines[i - 1]}\n{line}\n{lines[(i + 1) % len(lines)]}", f"x\r\n{line}\r\n", line + "\n" + line):
            cold = Redactor({}).find(text)
            assert warm.find(text) == cold, text
            assert [f.kind for f in cold] or line.startswith(("password = 'short'", "no secret")), text


def test_the_gated_detectors_are_the_last_ones() -> None:
    # ``Redactor.find`` adds their findings, line by line, after the others': the order a merged finding's kind rests on
    from workbench.redaction._detectors import _detectors

    gated = [bool(d.gate) for d in _detectors()]
    assert gated == sorted(gated) and any(gated)


def test_a_gate_lowers_every_character_a_case_insensitive_pattern_matches_to_a_letter() -> None:
    # the proof the gates rest on: whatever a detector's ``(?i)`` pattern reads as an ASCII letter, the gate reads so too
    import re
    import string
    import sys

    from workbench.redaction._detectors import _folded

    every = "".join(map(chr, range(sys.maxunicode + 1)))
    for letter in string.ascii_lowercase:
        missed = [hex(ord(c)) for c in set(re.findall(letter, every, re.IGNORECASE)) if letter not in _folded(c)]
        assert not missed, (letter, missed)


@pytest.mark.parametrize("unit", ["ghp_", "AKIA", "sk-", "sk-ant-", "eyJ", "=eyJ", "/", "//a/:_authToken=", "://", "xoxb-1-", "token=",
                                  "x-api-key: ", "://u:p", "pwd", "password", "apikey", "secret_", "`'a'==pwd",
                                  "Authorization: Token ", "pwd=`", "secret `x", "api_key `a`", "db_pass="])
def test_redacting_text_built_to_be_slow_takes_linear_time(unit: str) -> None:
    # a corpus page, question or answer repeating one key shape's start: each detector whose pattern (or the run on to
    # the end of a found key's token) read the rest of the token again from every start took 2 to 10 s on 20 KB, and
    # minutes on a 100 KB chunk or document; a whole minified page's links ('//' x 2000) took a second
    red = Redactor({})
    assert_linear_time(lambda n: red.redact((unit * (n // len(unit) + 1))[:n]), 5_000)


def test_the_semicolon_assignment_form_is_found_as_detect_secrets_finds_it() -> None:
    # a line repeating 'pwd=`' took a second per 4 KB: the keyword detector's ``private_key "...";`` form now stops
    # where its match must end; on lines mixing its words, quotes and separators it still masks what its pattern finds
    import random

    from detect_secrets.plugins.keyword import FOLLOWED_BY_QUOTES_AND_SEMICOLON_REGEX as semicolon

    pieces = ["pwd", "password", "secret", "`", "'", '"', ";", "=", ":", " ", ",", "a", "x1", "]", "ñ", "_key", "api_key"]
    rng, red, found = random.Random(7), Redactor({}), 0
    for _ in range(3000):
        line = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        m = semicolon.search(line)
        if m is not None and m.group(3).strip():
            found += 1
            assert any(f.start <= m.start(3) and m.end(3) <= f.end for f in red.find(line)), repr(line)
    assert found > 20


def test_a_password_in_a_url_is_masked_and_the_rest_of_the_url_kept() -> None:
    red = Redactor({})
    assert red.redact(f"store {STORE_URI} is down") == f"store {URI_MARKER} is down"
    assert red.redact("http://alice:pw@mlflow.example.com/") == "http://alice:[REDACTED:basic_auth_credentials]@mlflow.example.com/"
    assert red.redact("http://mlflow.example.com/ and sqlite:////tmp/x/mlflow.db") == "http://mlflow.example.com/ and sqlite:////tmp/x/mlflow.db"


@pytest.mark.parametrize("password", [
    "Pa$$w0rd!Blue", "AbC+dEf/gH1=", "it's(a)*secret*,ok;yes&no", "hunter2/s3cretQQ", "hunter2?s3cretQQ", "hunter2#s3cretQQ",
    "hunter2@s3cretQQ", "hunter2:se@cr3tQQ/x",
])
def test_a_url_password_holding_delimiters_is_masked_whole(password: str) -> None:
    """RFC 3986 lets a login hold ``!$&'()*+,;=`` as written (a generated password's ``+`` and ``=``, a typed one's ``!``
    or ``$``), and URL parsers read a password up to the address's last '@' (``without_credentials``): detect-secrets'
    detector takes no password holding any of them, so ``postgresql://bob:Pa$$w0rd!@db`` was logged as written."""
    red = Redactor({})
    for uri in (f"postgresql://bob:{password}@db.internal:5432/mlflow", f"https://bob:{password}@proxy.example/v1?x=1"):
        text = f"cannot reach {uri} (refused)"
        masked = red.redact(text)
        assert masked == text.replace(password, "[REDACTED:basic_auth_credentials]"), masked
        assert red.redact(masked) == masked
    assert red.redact(f"redis://:{password}@cache:6379/0") == "redis://:[REDACTED:basic_auth_credentials]@cache:6379/0"  # no user
    two = f'["https://bob:{password}@a.example/v1","https://alice:pw2Secret@b.example"]'
    assert red.redact(two) == '["https://bob:[REDACTED:basic_auth_credentials]@a.example/v1","https://alice:[REDACTED:basic_auth_credentials]@b.example"]'


def test_a_url_with_a_port_and_an_at_in_its_path_is_no_login() -> None:
    red = Redactor({})
    for text in ("https://host.example:8443/scope/@me", "http://[::1]:5000/api/@x and http://a.example/b:c@d",
                 "mailto:bob@example.com", "user:pw@host without a scheme", "https://bob:@host.example",
                 "postgresql://alice:***@db/mlflow"):  # hidden already, by config.shown_uri
        assert red.redact(text) == text


@pytest.mark.parametrize("password", ["Hunter2+Secret=", "hunter2/s3cretQQ", "hunter2#s3cretQQ"])
def test_a_login_whose_password_holds_delimiters_is_refused_in_the_spec(tmp_path: Path, password: str) -> None:
    # it was accepted (and logged with the experiment), or, with an unencoded '/' or '#' (which URL parsers cut the
    # password at), told to go in OPENAI_API_KEY, a variable that takes no Chroma login
    path = tmp_path / "leaky.yaml"
    path.write_text(SPEC.format(field="temperature", value=0) + f"index_store: {{url: 'http://bob:{password}@chroma.team:8000'}}\n",
                    encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_experiment(path)
    assert str(info.value) == (f"{path}:11: index_store.url: the URL holds a password (user:password@host) — leave index_store "
                               "out of the experiment and set WORKBENCH_CHROMA_URL to the URL with its login instead")


@pytest.mark.parametrize("text", [
    "Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",  # Django REST framework's, echoed
    "{'Authorization': 'Token zq8opaquevalue77', 'Accept': 'application/json'}",
    "authorization: Basic Zm9vYmFyYmF6cXV4",  # no ':' inside once decoded: a token sent as Basic, not a user:password
    "Proxy-Authorization: ApiKey zqopaquevalue",  # no digit in it
    'headers={"Authorization": "zq8opaquevalue77"}',  # a key sent with no scheme (some APIs take it so)
])
def test_an_echoed_authorization_header_of_any_scheme_is_masked(text: str) -> None:
    """Only ``Bearer`` tokens holding a digit and ``Basic`` values decoding to user:password were masked: a ``Token``
    header, a Basic token, a key sent bare in the header left the process as written when an error echoed the request."""
    red = Redactor({})
    secret = next(s for s in ("9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "zq8opaquevalue77", "Zm9vYmFyYmF6cXV4", "zqopaquevalue") if s in text)
    masked = red.redact(text)
    assert secret not in masked and masked == text.replace(secret, "[REDACTED:authorization_header]"), masked


def test_authorization_prose_is_kept() -> None:
    red = Redactor({})
    for text in ("Authorization: required for this endpoint", "Authorization: invalid signature", "the Authorization header is missing",
                 "Authorization: Bearer token missing", "authorization: denied (check the credentials)"):
        assert red.redact(text) == text, text


def test_a_token_given_as_a_urls_whole_login_is_masked() -> None:
    # https://<token>@host (a Sentry DSN, a git remote, a tracking server taking its token as the user) has no ':' in its
    # login, and only a password after one was masked
    red = Redactor({})
    token = "0123456789abcdef0123456789abcdef"
    assert red.redact(f"POST https://{token}@o1.ingest.example.io/api/1 failed") == (
        "POST https://[REDACTED:url_login_token]@o1.ingest.example.io/api/1 failed")
    for text in ("postgresql://bob@db/mlflow", "ssh://git@github.com/org/repo", "https://mlflow_admin@mlflow.example/",
                 "https://host.example/scope/@me2024abcdefghijklm"):
        assert red.redact(text) == text, text


def test_a_key_in_a_url_query_or_an_echoed_bearer_header_is_masked_and_the_rest_kept() -> None:
    # a proxy's base URL carrying its key, echoed back by a server's error message; no environment variable holds it
    red = Redactor({})
    error = "Error code: 404 - {'message': 'no route /v1?api-key=q7Zs3cr3tv&api-version=2024-06-01/chat/completions'}"
    assert red.redact(error) == "Error code: 404 - {'message': 'no route /v1?api-key=[REDACTED:url_query_secret]&api-version=2024-06-01/chat/completions'}"
    assert red.redact("GET https://gw.example/v1?alt=json&key=AbC123xyz&sig=0f9e8d") == (
        "GET https://gw.example/v1?alt=json&key=[REDACTED:url_query_secret]&sig=[REDACTED:url_query_secret]"
    )
    assert red.redact("https://f.azurewebsites.net/api/chat?code=Zm9vYmFy0==") == "https://f.azurewebsites.net/api/chat?code=[REDACTED:url_query_secret]"
    assert red.redact("invalid header 'Authorization: Bearer tok_9a8b7c6d5e'") == "invalid header 'Authorization: Bearer [REDACTED:bearer_token]'"
    for text in ("https://docs.example/search?q=what+is+a+key&page=2", "Bearer bonds and bearer instruments", "?api-version=2024-06-01"):
        assert red.redact(text) == text


@pytest.mark.parametrize("text", [
    'headers: {"x-api-key": "zq8opaquevalue77", "anthropic-version": "2023-06-01"}',  # Anthropic's header, echoed
    "X-Api-Key: zq8opaquevalue77", "api-key: zq8opaquevalue77",  # Azure OpenAI's
    "connection to host=db user=bob password=hunter2Hunter2 dbname=mlflow failed",  # a libpq keyword DSN
    "store:\n  password: hunter2Hunter2\n", "MY_SERVICE_TOKEN=zq8opaquevalue77 ./run.sh", "client_secret=zq8opaquevalue77 next",
    "DB_PASS=zq8opaquevalue77 ./migrate", "GH_PAT: zq8opaquevalue77", "export REDISCLI_AUTH=zq8opaquevalue77", "db-pw=zq8opaquevalue77",
])
def test_a_secret_named_field_or_header_written_without_quotes_is_masked(text: str) -> None:
    """detect-secrets' keyword detector wants the value quoted after '=' and its names spelt with '_' (api_key): an
    echoed x-api-key or api-key header, a libpq DSN's password=..., a YAML password: ... or an env line kept their key
    when no environment variable of this process held it (a key given in code, another process's)."""
    red = Redactor({})
    secret = "hunter2Hunter2" if "hunter2" in text else "zq8opaquevalue77"
    masked = red.redact(text)
    assert secret not in masked and "[REDACTED:" in masked, masked
    assert masked.replace(next(f.marker for f in red.find(text)), secret) == text  # the rest is kept


def test_every_secret_assignment_of_a_line_is_masked_not_the_first_of_each_form() -> None:
    # detect-secrets' keyword detector reports the first match of each of its patterns in a line: the second key of a
    # JSON object echoed on one line was kept
    line = '{"password": "correct-horse-battery", "api_key": "zz-opaque-value", "db_password": "staple-of-paper"}'
    masked = Redactor({}).redact(line)
    assert masked == '{"password": "[REDACTED:secret_keyword]", "api_key": "[REDACTED:secret_keyword]", "db_password": "[REDACTED:secret_keyword]"}'
    assert Redactor({}).redact("if 'correct-horse-battery' == password:") == "if '[REDACTED:secret_keyword]' == password:"


def test_fields_named_like_secrets_holding_no_key_are_kept() -> None:
    red = Redactor({})
    for text in ("max_tokens=100000000 input_tokens: 12345678", "api_key_env: OPENAI_API_KEY", "token_f1=0.81234567",
                 "secret: Rotate keys every 90 days", "cache key=3f9c0a7be21d4c6f8a9b0c1d2e3f4a5b", "tokenizer=bert-base-uncased",
                 "password: [REDACTED:DB_PASSWORD]", "password_env=DB_PASSWORD2", "bypass=proxy2.internal", "oauth=v2enabled",
                 "GIT_AUTHOR=alice2024", "compass: N51W0123", "MY_PATH=/usr/bin2"):
        assert red.redact(text) == text, text


def test_echoed_basic_credentials_are_masked_and_prose_is_kept() -> None:
    # OPENAI_BASE_URL=https://wbuser:<password>@proxy/v1: httpx sends the pair as Basic auth, a proxy echoes it back in
    # its error (or a reply), and no environment variable holds the encoded form
    import base64

    encoded = base64.b64encode(b"wbuser:Pa55w0rdVerySecret99").decode()
    red = Redactor({"OPENAI_BASE_URL": "https://wbuser:Pa55w0rdVerySecret99@proxy.example/v1"})
    assert red.redact(f"Error code: 401 - invalid credentials: Basic {encoded}") == (
        "Error code: 401 - invalid credentials: Basic [REDACTED:basic_auth_header]"
    )
    assert red.redact("Authorization: Basic dXNlcjpwYXNz") == "Authorization: Basic [REDACTED:basic_auth_header]"
    for text in ("Basic information about lists", "Basic usage: Basic Tutorials", "Basic QWxhZGRpbg== (no colon inside)"):
        assert red.redact(text) == text


def test_a_url_is_written_down_without_its_credentials_query_or_fragment() -> None:
    from workbench.redaction import without_credentials

    assert without_credentials(STORE_URI) == "postgresql://db.internal:5432/mlflow"
    assert without_credentials("https://proxy.example:8443/v1/?api-key=q7Zs3cr3tv#x") == "https://proxy.example:8443/v1/"
    for uri in ("sqlite:////tmp/x/mlflow.db", "http://[::1]:5000/api", "file:///tmp/mlruns", "https://host.example/scope/@me"):
        assert without_credentials(uri) == uri  # nothing to take out: the same text


@pytest.mark.parametrize("password", ["hunter2/s3cretQQ", "hunter2:se@cr3tQQ/x", "hunter2#s3cretQQ", "hunter2?s3cretQQ", "hunter2@s3cretQQ"])
def test_a_password_written_without_percent_encoding_is_taken_out_of_a_url_whole(password: str) -> None:
    """URL parsers cut a password at its unencoded '/', '?', '#' or second '@': the rest of it was written down as the
    server's host or path (a hosted model's identity, logged with every run; the error naming a bad base URL)."""
    from workbench.redaction import without_credentials

    for scheme in ("https://", ""):
        url = f"{scheme}bob:{password}@proxy.example:8443/v1"
        assert without_credentials(url) == f"{scheme}proxy.example:8443/v1"
        assert without_credentials(url, marked=True) == f"{scheme}…@proxy.example:8443/v1"
    assert without_credentials(f"https://bob:{password}@proxy.example/v1?key=q#f", marked=True) == "https://…@proxy.example/v1?…"


def test_a_private_key_block_is_redacted_whole() -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nq8Xk2\n-----END RSA PRIVATE KEY-----"
    assert Redactor({}).redact(f"before\n{block}\nafter") == "before\n-----[REDACTED:private_key]\nafter"


def test_hashes_ids_and_ordinary_text_are_left_alone() -> None:
    red = Redactor({"OPENAI_API_KEY": KEY})
    samples = [
        hashlib.sha256(b"dataset").hexdigest(), uuid.uuid4().hex, f"tr-{uuid.uuid4().hex}", str(uuid.uuid4()),
        "skeleton task-based sk-short AKIA123 risk-management-framework-for-everyone",
        "sk-learn-style-names-of-packages-and-long-slugs the task-9 desk-11 list",
        "The asker-of-questions asks: what is the secret of a good API key policy? Rotate keys every 90 days.",
        "models:\n  - id: openai:gpt-4o-mini\n    api_key_env: OPENAI_API_KEY\nchunker: recursive-800/80",
        'password = os.environ["DB_PASSWORD"]',
        "1.0 0.25 3.14159 2026-12-02T17:34:45Z 12345678901234567890",
    ]
    for text in samples:
        assert red.redact(text) == text, text
    for path in [*(ROOT / "datasets").rglob("*"), *(ROOT / "experiments").glob("*.yaml")]:  # corpora, cases, specs
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert red.find(text) == [], path


def test_redaction_is_idempotent_and_redact_obj_copies() -> None:
    red = Redactor({"OPENAI_API_KEY": KEY})
    text = f"{KEY} at {STORE_URI} and ghp_" + "a" * 36
    once = red.redact(text)
    assert red.redact(once) == once and KEY not in once and PASSWORD not in once
    data = {"params": {"api": KEY, KEY: [1, KEY, ("x", KEY)]}, "n": 3, "ok": None}
    clean = red.redact_obj(data)
    assert clean == {"params": {"api": ENV_MARKER, ENV_MARKER: [1, ENV_MARKER, ("x", ENV_MARKER)]}, "n": 3, "ok": None}
    assert data["params"]["api"] == KEY  # the input is unchanged


def test_the_process_redactor_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    plain = "zq8-opaque-value-77"
    assert redact(plain) == plain
    monkeypatch.setenv("MY_SERVICE_TOKEN", plain)
    assert redact(plain) == "[REDACTED:MY_SERVICE_TOKEN]"
    assert [f.kind for f in find_secrets(f"x {plain}")] == ["MY_SERVICE_TOKEN"]
    monkeypatch.setenv("MY_SERVICE_TOKEN", "zq8-rotated-value-88")  # the same variable, a new value
    assert redact(f"{plain} zq8-rotated-value-88") == f"{plain} [REDACTED:MY_SERVICE_TOKEN]"
    monkeypatch.delenv("MY_SERVICE_TOKEN")
    assert redact("zq8-rotated-value-88") == "zq8-rotated-value-88"
    assert secret_env_values({"X_CREDENTIALS": "/home/u/creds.json", "X_KEY": "true"}) == {"X_CREDENTIALS": "/home/u/creds.json"}


def test_log_lines_of_every_workbench_logger_are_redacted(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level(logging.INFO)
    logging.getLogger("workbench.tracking._mlflow").warning("cannot log %s to %s", KEY, STORE_URI)
    try:
        raise RuntimeError(f"provider refused {KEY}")
    except RuntimeError:
        logging.getLogger("workbench").exception("variant failed")
    assert KEY not in caplog.text and PASSWORD not in caplog.text
    assert f"cannot log {ENV_MARKER} to {URI_MARKER}" in caplog.text
    assert f"RuntimeError: provider refused {ENV_MARKER}" in caplog.text
    assert any(isinstance(f, RedactingFilter) for f in logging.getLogger("workbench").filters)


def test_log_lines_of_the_http_clients_and_sdks_the_workbench_calls_through_are_redacted(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """httpx logs every request's URL at INFO (a key in a base URL's query string with it), the openai client its
    requests and the server's replies at DEBUG: with logging on (basicConfig(level=INFO) in a notebook) they printed
    the keys no workbench log line carried."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").info('HTTP Request: POST http://proxy.example/v1/chat/completions?api-key=q7Zs3cr3tv "HTTP/1.1 200 OK"')
    logging.getLogger("openai._base_client").debug("HTTP Response: %s", f"401 Incorrect API key provided: {KEY}")
    logging.getLogger("mlflow.utils.rest_utils").debug("API request to %s failed", STORE_URI)
    assert "q7Zs3cr3tv" not in caplog.text and KEY not in caplog.text and PASSWORD not in caplog.text
    assert "?api-key=[REDACTED:url_query_secret]" in caplog.text and f"provided: {ENV_MARKER}" in caplog.text
    logging.getLogger("httpxtra").info("other libraries' loggers are left alone: %s", KEY)
    assert KEY in caplog.records[-1].getMessage()


# -- the spec refuses literal keys ----------------------------------------------------------------------------------

SPEC = """\
name: leaky
dataset: {{path: cases.jsonl}}
corpus: {{builtin: python-reference}}
prompts:
  - {{name: p, template: "Context: {{context}} Question: {{question}}"}}
models:
  - id: openai:gpt-4o-mini
    params:
      {field}: {value}
chunkers: [{{strategy: recursive}}]
"""


def test_a_literal_key_in_a_spec_field_is_refused_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = tmp_path / "leaky.yaml"
    path.write_text(SPEC.format(field="api_key", value="sk-" + "abc123def456ghi789jkl"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_experiment(path)
    assert str(info.value) == (f"{path}:9: models[0].params.api_key: looks like a literal API key — "
                               "put it in an environment variable (e.g. OPENAI_API_KEY) instead")
    path.write_text(SPEC.format(field="temperature", value=0) + f"description: {KEY}\n", encoding="utf-8")
    with pytest.raises(SpecError, match=rf"^{path}:11: description: looks like a literal API key — "):
        load_experiment(path)


def test_a_login_in_a_url_of_the_spec_is_refused_naming_the_variable_that_takes_it(tmp_path: Path) -> None:
    """The README's Chroma URL with a login, written in the experiment, was "looks like a literal API key — put it in an
    environment variable (e.g. OPENAI_API_KEY)": no such variable takes a Chroma server's login."""
    path = tmp_path / "leaky.yaml"
    path.write_text(SPEC.format(field="temperature", value=0) + "index_store: {url: 'http://bob:hunter2@chroma.team:8000'}\n",
                    encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_experiment(path)
    assert str(info.value) == (f"{path}:11: index_store.url: the URL holds a password (user:password@host) — leave index_store "
                               "out of the experiment and set WORKBENCH_CHROMA_URL to the URL with its login instead")
    assert "hunter2" not in str(info.value)
    path.write_text(SPEC.format(field="base_url", value="'http://bob:hunter2@llm.team/v1'"), encoding="utf-8")
    with pytest.raises(SpecError, match=rf"^{path}:9: models\[0\].params.base_url: the URL holds a password \(user:password@host\) "
                                        r"— keep the login out of the experiment file \(in an environment variable\) instead$"):
        load_experiment(path)


def test_a_spec_built_in_python_refuses_a_literal_key_without_quoting_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    data = yaml.safe_load(SPEC.format(field="temperature", value=0))
    data["models"] = [{"id": KEY}]  # pasted where the model string goes: the unknown-model error would quote it
    with pytest.raises(SpecError) as info:
        ExperimentSpec.from_dict(data, source="notebook")
    assert str(info.value) == ("notebook: models[0].id: looks like a literal API key — "
                               "put it in an environment variable (e.g. OPENAI_API_KEY) instead")
    assert KEY not in str(info.value)


def test_a_spec_value_equal_to_a_secret_variable_names_that_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "opaque-value-without-shape-42")
    path = tmp_path / "leaky.yaml"
    path.write_text(SPEC.format(field="temperature", value=0).replace("name: leaky", "name: leaky\ndescription: opaque-value-without-shape-42"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_experiment(path)
    assert str(info.value) == (f"{path}:2: description: looks like a literal API key — "
                               "put it in an environment variable (e.g. ANTHROPIC_API_KEY) instead")
    path.write_text(SPEC.format(field="temperature", value=0), encoding="utf-8")
    assert load_experiment(path).name == "leaky"  # no key: loads


# -- nothing leaks: a real sweep, promotion and export on a real sqlite store ------------------------------------

DOC = ("# Deployments\n\nStaging deployments are approved by the on-call lead. The staging service authenticates with "
       f"the deploy key {KEY} which is rotated every quarter. " + "Production changes need a second reviewer. " * 12)
CASES = [
    {"id": "q1", "question": "Who approves staging deployments?", "reference": "the on-call lead", "source_ids": ["deploy"]},
    {"id": "q2", "question": "How often is the deploy key rotated?", "reference": "every quarter", "source_ids": ["deploy"]},
    {"id": "q3", "question": "What do production changes need?", "reference": "a second reviewer", "source_ids": ["deploy"]},
]
TEMPLATE = f"Context: {{context}}\nService key: {KEY}\nQuestion: {{question}}\nAnswer:"


def _answer(prompt: RenderedPrompt) -> str:
    """q2: the provider refuses, quoting the key; q3: the provider cannot reach its store; else an answer quoting it."""
    question = prompt.text.split("Question:")[-1]
    if "rotated" in question:
        raise RuntimeError(f"401 Unauthorized: Incorrect API key provided: {KEY}")
    if "production changes" in question:
        raise ConnectionError(f"could not reach {STORE_URI}")
    return f"the on-call lead (key {KEY})"


class _RefusingEmbedder(HashingEmbedder):
    """Embeds short texts; a long chunk (the 800-character chunker's) fails with the key and a password in the text."""

    def embed(self, texts: Any) -> list[list[float]]:
        if any(len(t) > 400 for t in texts):
            raise RuntimeError(f"embedding endpoint {STORE_URI} refused key {KEY}")
        return super().embed(texts)


def _project(root: Path) -> Path:
    (root / "corpus").mkdir(parents=True)
    (root / "corpus" / "deploy.md").write_text(DOC, encoding="utf-8")
    (root / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CASES), encoding="utf-8")
    (root / "prompts").mkdir()
    (root / "prompts" / "keyed.txt").write_text(TEMPLATE, encoding="utf-8")
    (root / "experiment.yaml").write_text(
        "name: redaction\n"
        "dataset: {path: cases.jsonl}\n"
        "corpus: {path: corpus}\n"
        "prompts: [{name: keyed, file: prompts/keyed.txt}]\n"
        f"models: [{{id: '{GEMMA_ID}', params: {{max_tokens: 16}}}}]\n"
        "chunkers: [{strategy: recursive, size: 200, overlap: 20}, {strategy: recursive, size: 800, overlap: 80}]\n"
        "retrieval: [{k: 2}]\n",
        encoding="utf-8",
    )
    return root / "experiment.yaml"


def _store_text(db: Path) -> str:
    """Every text and blob cell of every table of the sqlite store (the WAL included: read through sqlite)."""
    con = sqlite3.connect(db)
    try:
        parts = []
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for row in con.execute(f'SELECT * FROM "{table}"'):
                parts.extend(c.decode("utf-8", "replace") if isinstance(c, bytes) else c for c in row if isinstance(c, (str, bytes)))
        return "\n".join(parts)
    finally:
        con.close()


def _files_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in sorted(folder.rglob("*")) if p.is_file() and ".git" not in p.parts)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def _assert_clean(text: str, where: str) -> None:
    assert KEY not in text and KEY_BODY not in text, f"the key leaked into {where}"
    assert PASSWORD not in text, f"the store password leaked into {where}"


@pytest.fixture
def cfg(tmp_path: Path) -> Settings:
    return settings(root=tmp_path / "home", tracking_uri=f"sqlite:///{tmp_path / 'home' / 'mlruns' / 'mlflow.db'}")


def test_a_planted_key_reaches_no_table_artifact_export_log_or_widget(
    tmp_path: Path, cfg: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("WORKBENCH_USER", "alice")
    caplog.set_level(logging.INFO, logger="workbench")
    spec = load_experiment(_project(tmp_path / "project"))
    models = {GEMMA_ID: ScriptedModel(_answer, model_id=GEMMA_ID), MINILM_ID: _RefusingEmbedder(model_id=MINILM_ID)}
    result = wb.run(spec, settings=cfg, models=models, index_store=MemoryIndexStore(), progress=False)

    by_chunker = {v.variant.chunker.size: v for v in result.variants}
    finished, failed = by_chunker[200], by_chunker[800]
    assert finished.status == "FINISHED" and failed.status == "FAILED", [v.outcome.error for v in result.variants]
    assert KEY in (failed.outcome.error or "")  # in the process the error is whole; only what leaves it is redacted
    assert {r.case.id for r in finished.records if r.error} == {"q2", "q3"}
    assert any(KEY in r.answer for r in finished.records)  # the answers quote it; the table a notebook shows does not
    _assert_clean(finished.records_frame().to_json(), "records_frame()")
    assert ENV_MARKER in finished.records_frame().to_json()

    from mlflow import MlflowClient

    client = MlflowClient(cfg.tracking_uri)
    error_tag = client.get_run(failed.run_id).data.tags["workbench.error"]
    assert f"embedding endpoint {URI_MARKER} refused key {ENV_MARKER}" in error_tag
    for run in (client.get_run(result.parent_run_id), client.get_run(finished.run_id), client.get_run(failed.run_id)):
        for value in [*run.data.tags.values(), *run.data.params.values()]:
            _assert_clean(value, f"a tag or param of run {run.info.run_id}")

    # a human's comment is free text too
    from workbench.widgets import QuestionInspector

    inspector = QuestionInspector(result, tracking_uri=cfg.tracking_uri, user="rita")
    inspector.rate(finished.variant.name, False, comment=f"it printed the key {KEY}")
    shown = "\n".join([inspector.header.value, *(card.body.value + card.status.value for card in inspector.cards.children)])
    _assert_clean(shown, "the question inspector")

    promotion = wb.promote(finished.run_id, name="redaction", alias="staging", gates=[{"kind": "min_questions", "n": 1}], settings=cfg,
                           override_reason="its two failed questions are the point of this test")  # they fail the "every question answered" gate
    repo = tmp_path / "deploy"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.name", "Deploy Bot")
    _git(repo, "config", "user.email", "deploy@example.invalid")
    export = wb.export("redaction", "staging", repo=repo, settings=cfg, checkout=True)
    assert promotion.version == "1" and "prompts/keyed.txt" in export.files

    store, artifacts, exported = _store_text(Path(cfg.tracking_uri.removeprefix("sqlite:///"))), _files_text(cfg.artifact_root), _files_text(repo)
    for text, where in ((store, "the sqlite store"), (artifacts, "the artifacts"), (exported, "the export"), (caplog.text, "the log")):
        _assert_clean(text, where)
    # the marker is there instead (so this test would see a leak): in traces, tables, tags, prompt files and the export
    assert ENV_MARKER in store and URI_MARKER in store and ENV_MARKER in artifacts
    assert ENV_MARKER in (repo / export.bundle_dir / "prompts" / "keyed.txt").read_text(encoding="utf-8")
    assert "it printed the key [REDACTED:OPENAI_API_KEY]" in store  # the feedback's rationale


class _CountingRedactor(Redactor):
    def __init__(self) -> None:
        super().__init__({})
        self.scans = 0

    def find(self, text: str):  # type: ignore[no-untyped-def]
        self.scans += 1
        return super().find(text)


def test_a_variant_finds_the_previous_variants_chunks_redacted_on_a_thousand_question_dataset() -> None:
    # the cache kept 4,096 texts: 1,000 questions x 5 retrieved chunks went through it in a cycle, so every variant
    # scanned every chunk again (1,000 questions x 3 variants: 22,283 of 24,000 texts scanned, 16 s; now 11,418, 8.5 s)
    redactor = _CountingRedactor()
    chunks = [f"chunk {i}: the retrieved text of a document, as the trace shows it" for i in range(5000)]
    for _variant in range(2):
        for chunk in chunks:
            assert redactor.redact(chunk) == chunk
    assert redactor.scans == len(chunks)


def test_an_error_cut_across_a_key_leaves_no_piece_of_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # a proxy's 401 quoting the key it received, after a long message, kept to its first 500 characters somewhere (the
    # judge cuts between words: tests/scoring/test_judge.py)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "zq8Xm2Lp9Rt4Vw8Zb3Nc7Hd6Jf1Kg5Ls")
    policy = ("the gateway explains its policy at length. " * 10)[:410]  # the key starts at the error's 481st character
    said = f"401 Unauthorized: {policy}Received API Key = zq8Xm2Lp9Rt4Vw8Zb3Nc7Hd6Jf1Kg5Ls"
    cut = f"judge call failed: RuntimeError: {said}"[:500]
    assert "zq8Xm2Lp9Rt4" in cut and "zq8Xm2Lp9Rt4Vw8Zb3Nc7Hd6Jf1Kg5Ls" not in cut  # cut across the key
    assert "zq8Xm2Lp9Rt4" not in redact(cut) and redact(cut).endswith("Received API Key = [REDACTED:AZURE_OPENAI_API_KEY]")

