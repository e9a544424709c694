"""Shared fixtures. Network access is blocked for every test (loopback stays open for local servers)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import workbench  # noqa: F401  (telemetry off before anything else is imported)
from workbench.config import Settings, settings
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.testing import HashingEmbedder, ScriptedModel

ROOT = Path(__file__).resolve().parents[1]

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("127."):
        raise OSError(f"network access blocked in tests: {address!r}")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _block_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture
def wb_settings(tmp_path: Path) -> Settings:
    """Settings rooted in a temp dir: sqlite MLflow store, Chroma indexes and sandboxes all under ``tmp_path``."""
    return settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")


@pytest.fixture(scope="session")
def shared_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index/sandbox home for the whole session, so integration tests build each real index once."""
    return tmp_path_factory.mktemp("workbench-home")


@pytest.fixture
def real_settings(tmp_path: Path, shared_home: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for integration tests: a fresh sqlite store per test, indexes shared across the session."""
    monkeypatch.setenv("WORKBENCH_HOME", str(shared_home))
    return settings(root=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")


def echo_context_answer(prompt) -> str:  # type: ignore[no-untyped-def]
    """A scripted answer: the first sentence of the context (what the base Gemma model tends to do)."""
    text = prompt.text
    context = text.split("Context:", 1)[-1].split("Question:", 1)[0].strip()
    return context.split(". ")[0][:200] if context else "I don't know based on the provided context."


@pytest.fixture
def fake_models() -> dict[str, object]:
    """The embedded default model ids mapped to deterministic fakes."""
    return {GEMMA_ID: ScriptedModel(echo_context_answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
