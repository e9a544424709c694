"""Retrieval settings of the grid: how documents are chunked (``ChunkerSpec``), how chunks are retrieved
(``RetrievalSpec``: k, fetch_k, MMR, the embedder) and where the index is kept (``IndexStoreSpec``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from workbench.models import MINILM_ID
from workbench.spec._base import _EMBEDDER_PATTERN, _known_model, _NamedSpec, _Spec
from workbench.spec._names import Name


class ChunkerSpec(_Spec):
    """How documents are cut. ``size``/``overlap`` are characters (default 800/80), except for ``token``: tokens of the
    embedding model (default 200/20, within the 254 MiniLM reads)."""

    strategy: Literal["recursive", "token", "markdown", "sentence"] = Field(
        description="recursive: at paragraphs, then lines, then words; token: the same, counted in the embedding model's tokens; markdown: a section per # to ### header, longer ones cut as recursive; sentence: whole sentences up to size"
    )
    size: int = Field(default=800, ge=16, le=100_000, description="largest chunk: characters (default 800), tokens for token (default 200)")
    overlap: int = Field(default=80, ge=0, description="shared with the next chunk, smaller than size: characters (default 80), tokens for token (default 20)")

    @model_validator(mode="before")
    @classmethod
    def _token_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        # tokens: 800 would leave two thirds of each chunk unread; and with its size given, the overlap was the
        # characters' 80 (80 tokens of a 100-token chunk repeated in the next one)
        defaults = {"size": 200, "overlap": 20} if data.get("strategy") == "token" else {}
        size, overlap = data.get("size"), defaults.get("overlap", cls.model_fields["overlap"].default)
        if "overlap" not in data and isinstance(size, int) and not isinstance(size, bool) and size <= overlap:
            raise ValueError(f"overlap {overlap} (the default) must be smaller than size {size} — give an overlap, e.g. "
                             f"overlap: {size // 10}")
        return {**defaults, **data}

    @model_serializer(mode="wrap")
    def _token_sizes_written(self, handler: SerializerFunctionWrapHandler) -> Any:
        # a token chunker's defaults are not the fields' (800/80): left out as defaults, a saved 800/80 read back as 200/20
        data = handler(self)
        if isinstance(data, dict) and self.strategy == "token":
            return {"strategy": self.strategy, "size": self.size, "overlap": self.overlap, **data}
        return data

    @model_validator(mode="after")
    def _overlap_fits(self) -> ChunkerSpec:
        if self.overlap >= self.size:
            raise ValueError(f"overlap {self.overlap} must be smaller than size {self.size} — lower the overlap")
        return self

    @property
    def label(self) -> str:
        return f"{self.strategy}-{self.size}/{self.overlap}"


def _fetch_k_error(entry: RetrievalSpec) -> str:
    given = "" if "fetch_k" in entry.model_fields_set else " (the default)"
    return (f"fetch_k {entry.fetch_k}{given} must be more than k {entry.k} for mmr: MMR picks k of the fetch_k closest chunks, so "
            f"with no more of them than k it keeps them all, the chunks a similarity search finds — give fetch_k: {entry.advised_fetch_k}")


def _mmr_chooses(entry: RetrievalSpec) -> RetrievalSpec:
    """Refuse an experiment's MMR entry with no more candidates than it keeps (pure). fetch_k == k (k: 20 with the
    default fetch_k) was accepted: MMR kept every candidate, the chunks a similarity search finds, only reordered, and
    the variant named mmr was no more diverse than similarity. Checked in an experiment, not in ``RetrievalSpec``: a
    variant stored or a bundle exported by an older workbench still reads as it ran."""
    if entry.search == "mmr" and entry.fetch_k <= entry.k:
        raise ValueError(_fetch_k_error(entry))
    return entry


class RetrievalSpec(_NamedSpec):
    """How chunks are found: embedding model, top ``k``, plain similarity or maximal marginal relevance."""

    embedding: str = Field(default=MINILM_ID, description="the embedding model (provider:model) the index is built with, e.g. "
                           "huggingface:models/my-embedder (a sentence-transformers folder, relative to the experiment file)",
                           json_schema_extra={"pattern": _EMBEDDER_PATTERN})
    k: int = Field(default=4, ge=1, le=100, description="chunks retrieved for each question")
    search: Literal["similarity", "mmr"] = Field(default="similarity", description="similarity: the k closest chunks; mmr: close but unlike each other")
    fetch_k: int = Field(default=20, ge=1, le=1000, description="candidates considered by MMR")
    mmr_lambda: float = Field(default=0.5, ge=0.0, le=1.0, description="MMR's balance: 1 the closest chunks, 0 the most diverse")
    name: Name | None = Field(
        default=None, description="its name in variant names (default: k and search, e.g. k4-similarity); needed when two "
        "entries would share one, e.g. two embedding models at one k",
    )

    @field_validator("embedding")
    @classmethod
    def _known(cls, value: str) -> str:
        return _known_model(value, "embedder")

    @property
    def advised_fetch_k(self) -> int:
        """The ``fetch_k`` an MMR entry is advised when its own is not more than its ``k``: four times ``k``."""
        return 4 * self.k

    @model_validator(mode="after")
    def _fetch_k(self) -> RetrievalSpec:
        if self.search == "mmr" and self.fetch_k < self.k:
            raise ValueError(_fetch_k_error(self))
        return self

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"k{self.k}-{self.search}"

    def as_retrieving(self) -> RetrievalSpec:
        """This entry with the MMR settings at their defaults when it searches by similarity, which reads neither
        ``fetch_k`` nor ``mmr_lambda``: two entries equal in this form retrieve the same chunks."""
        if self.search == "mmr":
            return self
        return self.model_copy(update={f: type(self).model_fields[f].default for f in ("fetch_k", "mmr_lambda")})


class IndexStoreSpec(_Spec):
    """Where the sweep's vector indexes live: a Chroma server (``chroma run``) that every worker and machine shares.

    Without this section (or ``WORKBENCH_CHROMA_URL``) indexes are kept in a local Chroma under ``.workbench/indexes``.
    """

    url: str = Field(description="the Chroma server, e.g. http://127.0.0.1:8000 (https://proxy.example/chroma behind a proxy)")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        try:
            # a path is the server's place behind a proxy (``https://proxy/chroma``), which the store asks
            valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port is None or parts.port > 0)
        except ValueError:  # a port that is not a number
            valid = False
        if not valid:
            raise ValueError(f"'{value}' is not a Chroma server URL — use http://host:port, e.g. http://127.0.0.1:8000 (or "
                             "https://proxy/path for one behind a proxy)")
        return value
