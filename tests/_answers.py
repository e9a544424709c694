"""Scripted answers of the suite's fake models, apart from conftest.py: a sweep's worker process unpickles a fake
model's answer function by reference, importing the module that defines it, and conftest.py brings pytest with it."""

from __future__ import annotations

from workbench.prompts import RenderedPrompt

__all__ = ["echo_context_answer"]


def echo_context_answer(prompt: RenderedPrompt) -> str:
    """A scripted answer: the first sentence of the context (what the base Gemma model tends to do)."""
    text = prompt.text
    context = text.split("Context:", 1)[-1].split("Question:", 1)[0].strip()
    return context.split(". ")[0][:200] if context else "I don't know based on the provided context."
