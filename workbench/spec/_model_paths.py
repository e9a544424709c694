"""Model strings that name a path on this machine (a ``llamacpp:`` GGUF file, a ``huggingface:`` model folder): made
relative to the experiment file's folder rather than to the working directory, as its other paths are."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.models import names_a_folder


def _absolute_model_paths(data: Any, base: Path) -> tuple[Any, frozenset[str]]:
    """``data`` with every relative ``llamacpp:<path>`` model string, and every ``huggingface:<folder>`` one naming a
    folder there (a value, or a ``pricing:`` key), made relative to the experiment file's folder, like its dataset,
    corpus and prompt paths, rather than to the working directory; and the absolute forms of those models (written
    relative again on save)."""
    relative: set[str] = set()

    def absolute(model: str) -> str:
        provider, _, path = model.partition(":")
        if path.startswith(("/", "~")) or not _relative_model_path(model, base):
            return model
        relative.add(made := f"{provider}:{os.path.normpath(base / path)}")
        return made

    return _map_model_strings(data, absolute), frozenset(relative)


def _relative_model_path(model: str, base: Path) -> bool:
    """Whether a model string names a path relative to ``base``: a ``llamacpp:`` file written relative, or a
    ``huggingface:`` folder written as a path (``./models/m``) or that is one under ``base`` (any other
    ``huggingface:`` name is a model on the hub)."""
    provider, _, path = model.partition(":")
    if Path(path).expanduser().is_absolute():
        return False
    return provider == "llamacpp" or names_a_folder(model) or (base / path).is_dir()


def _map_model_strings(data: Any, change: Callable[[str], str]) -> Any:
    """``data`` with ``change`` applied to every ``llamacpp:<path>`` and ``huggingface:<name>`` model string in it (a
    value, or a ``pricing:`` key)."""
    if isinstance(data, str):
        return change(data) if data.partition(":")[0] in _PATH_PROVIDERS and data.partition(":")[2] else data
    if isinstance(data, dict):
        return {(_map_model_strings(k, change) if isinstance(k, str) else k): _map_model_strings(v, change) for k, v in data.items()}
    if isinstance(data, list):
        return [_map_model_strings(v, change) for v in data]
    return data


# providers whose model strings may name a path on this machine: a GGUF file, a (sentence-transformers) model folder
_PATH_PROVIDERS = ("llamacpp", "huggingface")
