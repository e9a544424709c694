"""Corpus folders written for a test: files by name, their content as bytes or UTF-8 text."""

from __future__ import annotations

from pathlib import Path

import workbench as wb
from workbench.datasets import load_corpus


def write_kb(folder: Path, files: dict[str, bytes | str]) -> Path:
    """``folder`` holding ``files`` (names may hold subfolders)."""
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def corpus_of(tmp_path: Path, files: dict[str, bytes | str], glob: str = "**/*") -> wb.Corpus:
    """The corpus of a folder ``kb`` in ``tmp_path`` holding ``files``."""
    return load_corpus(write_kb(tmp_path / "kb", files), glob=glob)
