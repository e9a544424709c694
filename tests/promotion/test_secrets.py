"""The secret scanner that guards exports and audit texts (workbench.redaction's detector, reported by file:line)."""

from __future__ import annotations

from workbench.promotion import find_secrets, scan_files
from workbench.promotion._secrets import describe
from workbench.redaction import secret_env_values

FAKE_OPENAI = "sk-" + "proj-" + "a1B2c3D4e5F6g7H8i9J0" + "T3BlbkFJ" + "kLmN0pQrStUvWxYz1234"  # the shape of a real key
FAKE_AWS = "AKIA" + "ABCDEFGHIJKLMNOP"


def test_finds_key_patterns_with_file_and_line() -> None:
    text = f"model: openai:gpt-4o\napi_key: {FAKE_OPENAI}\nnothing here\naws: {FAKE_AWS}\n"
    hits = find_secrets("config.yaml", text)
    assert [(h.file, h.line) for h in hits] == [("config.yaml", 2), ("config.yaml", 4)]
    assert "openai" in hits[0].kind and "aws" in hits[1].kind
    assert FAKE_OPENAI not in hits[0].kind


def test_finds_private_keys_and_passwords_in_urls() -> None:
    assert find_secrets("a", "-----BEGIN RSA PRIVATE KEY-----\nMIIE")
    assert find_secrets("a", "tracking: https://bob:hunter22@mlflow.example.com/")
    assert not find_secrets("a", "tracking: https://mlflow.example.com/ and sqlite:////tmp/x/mlflow.db")


def test_finds_values_of_secret_environment_variables() -> None:
    env = secret_env_values({"MY_SERVICE_TOKEN": "zq8-opaque-value-77", "PATH": "/usr/bin", "SHORT_TOKEN": "1", "HOME": "/root"})
    assert set(env) == {"MY_SERVICE_TOKEN"}  # short values would match everywhere
    hits = scan_files({"prompts/p.txt": b"use zq8-opaque-value-77 here", "config.yaml": b"fine"}, env)
    assert [str(h) for h in hits] == ["prompts/p.txt:1: the value of $MY_SERVICE_TOKEN"]


def test_reports_never_contain_the_secret() -> None:
    hits = scan_files({"a.txt": f"x {FAKE_OPENAI}".encode()} | {f"f{i}.txt": FAKE_AWS.encode() for i in range(6)})
    text = describe(hits)
    assert FAKE_OPENAI not in text and FAKE_AWS not in text
    assert "and 2 more" in text


def test_ordinary_text_is_not_flagged() -> None:
    text = ("skeleton task-based sk-short AKIA123 sha256 3f2a9c0e5b7d1f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a\n"
            "The asker-of-questions asks. risk-management-framework-for-everyone")
    assert find_secrets("EVALUATION.md", text) == []
