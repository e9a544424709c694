"""GGUF files written for tests: a header, string metadata and a few bytes of tensor data, which workbench's header
check reads as a whole GGUF file (and llama.cpp refuses to load: they hold no model)."""

from __future__ import annotations

import struct
from pathlib import Path


def _text(value: str) -> bytes:
    data = value.encode()
    return struct.pack("<Q", len(data)) + data


def gguf_bytes(metadata: dict[str, str | int] | None = None, *, tensor_bytes: int = 0, version: int = 3, ggml_type: int = 0,
               values: int | None = None) -> bytes:
    """A GGUF file holding ``metadata`` (strings, and whole numbers as uint32) and, with ``tensor_bytes``, one tensor's data of that many bytes (aligned at
    32, as GGUF lays tensor data out): ``values`` values (default: as many as F32 fits) of ``ggml_type`` (0: F32; 9: Q8_1,
    40 bytes a block of 32). Files of other metadata (``{"general.name": "v2"}``) have other sha256s."""
    metadata = metadata or {}
    tensors = 1 if tensor_bytes else 0
    out = b"GGUF" + struct.pack("<IQQ", version, tensors, len(metadata))
    for key, value in metadata.items():
        out += _text(key) + (struct.pack("<II", 4, value) if isinstance(value, int) else struct.pack("<I", 8) + _text(value))
    if tensors:
        count = tensor_bytes // 4 if values is None else values
        out += _text("weights") + struct.pack("<IQIQ", 1, count, ggml_type, 0)  # 1 dim, offset 0
        out += bytes(-len(out) % 32) + bytes(tensor_bytes)
    return out


def gguf_file(path: Path, metadata: dict[str, str | int] | None = None, *, cut: int = 0, **tensor: int) -> Path:
    """``gguf_bytes`` written at ``path``, less its last ``cut`` bytes."""
    data = gguf_bytes(metadata, **tensor)
    path.write_bytes(data[: len(data) - cut])
    return path
