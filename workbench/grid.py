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
    """One point of the grid: a chunker and a retrieval setting, and (unless it only retrieves) a prompt and a model.

    A retrieval-only variant (``prompt`` and ``model`` None) retrieves for every question and is scored on the
    retrieval metrics alone; it shares its index with every variant of the same chunker and embedding model.
    """

    prompt: PromptSpec | None
    model: ModelSpec | None
    chunker: ChunkerSpec
    retrieval: RetrievalSpec

    @property
    def generates(self) -> bool:
        """Whether this variant generates answers (False for a retrieval-only variant)."""
        return self.model is not None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.prompt is not None and self.model is not None:
            out["prompt"] = self.prompt.model_dump(mode="json", exclude_none=True)
            out["model"] = self.model.model_dump(mode="json", exclude={"cache"})  # how it is run, not what it answers
        out["chunker"] = self.chunker.model_dump(mode="json")
        out["retrieval"] = self.retrieval.model_dump(mode="json")
        return out

    @property
    def id(self) -> str:
        """Stable id: a hash of the variant's content (same content, same id, in any grid)."""
        return _digest(self.to_dict())

    @property
    def name(self) -> str:
        """Readable name: ``prompt|model|chunker|retrieval`` (``chunker|retrieval`` for a retrieval-only variant)."""
        axes = [self.chunker.label, self.retrieval.label]
        if self.prompt is not None and self.model is not None:
            axes = [self.prompt.name, self.model.short_name, *axes]
        return "|".join(axes)

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
        if self.prompt is not None and self.model is not None:
            data["prompt"] = {"name": self.prompt.name}  # the template text is an artifact, not a param
            data["model"]["kind"] = self.model.resolved_kind
        walk("", data)
        return flat


def expand_grid(spec: ExperimentSpec, *, generate: bool = True) -> list[Variant]:
    """All combinations of the spec's axes, in axis order (chunkers outermost so shared indexes are adjacent).

    Without generation (``generate=False``, or a spec without ``models:``) the grid is chunkers x retrieval settings:
    retrieval-only variants.
    """
    answering: list[tuple[PromptSpec | None, ModelSpec | None]] = (
        [(p, m) for m, p in itertools.product(spec.models, spec.prompts)] if generate and spec.models else [(None, None)]
    )
    variants = [
        Variant(prompt=p, model=m, chunker=c, retrieval=r)
        for c, r, (p, m) in itertools.product(spec.chunkers, spec.retrieval, answering)
    ]
    seen: set[str] = set()
    unique = []
    for v in variants:
        if v.id not in seen:
            seen.add(v.id)
            unique.append(v)
    return unique
