"""Expand an experiment spec into its variants (a pure function). Every variant has a stable, content-derived id."""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

from workbench.spec import ChunkerSpec, ExperimentSpec, ModelSpec, PromptSpec, RetrievalSpec

__all__ = ["Variant", "expand_grid", "index_key"]


def _digest(payload: Any, n: int = 12) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:n]


def index_key(chunker: ChunkerSpec, embedding: str, corpus_hash: str = "") -> str:
    """Variants with the same chunker, embedding model (and corpus) share one index."""
    return _digest({"chunker": chunker.model_dump(mode="json"), "embedding": embedding, "corpus": corpus_hash}, 16)


@dataclass(frozen=True)
class Variant:
    """One point of the grid: a prompt, a model, a chunker and a retrieval setting."""

    prompt: PromptSpec
    model: ModelSpec
    chunker: ChunkerSpec
    retrieval: RetrievalSpec

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt.model_dump(mode="json", exclude_none=True),
            "model": self.model.model_dump(mode="json"),
            "chunker": self.chunker.model_dump(mode="json"),
            "retrieval": self.retrieval.model_dump(mode="json"),
        }

    @property
    def id(self) -> str:
        """Stable id: a hash of the variant's content (same content, same id, in any grid)."""
        return _digest(self.to_dict())

    @property
    def name(self) -> str:
        """Readable name: ``prompt|model|chunker|retrieval``."""
        return f"{self.prompt.name}|{self.model.short_name}|{self.chunker.label}|{self.retrieval.label}"

    @property
    def index_key(self) -> str:
        return index_key(self.chunker, self.retrieval.embedding)

    def params(self) -> dict[str, str]:
        """Flattened parameters, as logged to MLflow (``chunker.size``, ``model.params.max_tokens``...)."""
        flat: dict[str, str] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else k, v)
            else:
                flat[prefix] = json.dumps(value) if isinstance(value, (list, tuple)) else str(value)

        data = self.to_dict()
        data["prompt"] = {"name": self.prompt.name}  # the template text is an artifact, not a param
        data["model"]["kind"] = self.model.resolved_kind
        walk("", data)
        return flat


def expand_grid(spec: ExperimentSpec) -> list[Variant]:
    """All combinations of the spec's axes, in axis order (chunkers outermost so shared indexes are adjacent)."""
    variants = [
        Variant(prompt=p, model=m, chunker=c, retrieval=r)
        for c, r, m, p in itertools.product(spec.chunkers, spec.retrieval, spec.models, spec.prompts)
    ]
    seen: set[str] = set()
    unique = []
    for v in variants:
        if v.id not in seen:
            seen.add(v.id)
            unique.append(v)
    return unique
