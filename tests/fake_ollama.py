"""langchain-ollama's chat class as ``init_chat_model`` builds it, for tests of Ollama models on a machine without the
package: the fields each model was built with are recorded, and every call answers "ok". The real ChatOllama takes
``num_ctx`` as a field and sends it in each call's options (langchain-ai/langchain
libs/partners/ollama/langchain_ollama/chat_models.py)."""

from __future__ import annotations

import functools
import importlib.machinery
import sys
import types

import pytest


def fake_langchain_ollama(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """Install the fake package for this test; returns the fields of each ChatOllama built."""
    from langchain_core.messages import AIMessage

    built: list[dict[str, object]] = []

    class ChatOllama:
        def __init__(self, **fields: object) -> None:
            built.append(fields)

        def invoke(self, messages: object, config: object = None, **options: object) -> AIMessage:
            return AIMessage(content="ok", usage_metadata={"input_tokens": 9, "output_tokens": 1, "total_tokens": 10})

    package = types.ModuleType("langchain_ollama")
    package.__spec__ = importlib.machinery.ModuleSpec("langchain_ollama", None)
    package.ChatOllama = ChatOllama  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "langchain_ollama", package)
    # init_chat_model keeps the class it imported for a provider (an lru_cache): one of its own for this test, so that
    # another test's fake is not the one built, and this one is forgotten after it
    from langchain.chat_models import base

    monkeypatch.setattr(base, "_get_chat_model_creator", functools.lru_cache(base._get_chat_model_creator.__wrapped__))
    return built
