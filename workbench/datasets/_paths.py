"""Paths as typed: found in either Unicode form of their names, and what to do about one that does not exist."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from workbench.datasets._models import document_id


def on_disk(path: Path) -> Path:
    """``path`` as the file system spells it: a name typed in one Unicode form (an editor writes "é" composed, NFC)
    finds the file or folder that macOS or a zip archive wrote in the other (e + a combining accent), as document ids
    and corpus globs already do. ``path`` itself when it exists, or when no name of its folder reads the same."""
    if path.exists():
        return path
    found = Path(path.anchor) if path.anchor else Path()
    for part in path.parts[1:] if path.anchor else path.parts:
        step = found / part
        if not step.exists() and found.is_dir():
            wanted = document_id(part)
            with contextlib.suppress(OSError):  # a folder it may not list: the path stays as typed
                step = next((entry for entry in found.iterdir() if document_id(entry.name) == wanted), step)
        found = step
    return found if found.exists() else path


def missing_path_fix(path: str | Path, fix: str) -> str:
    """What to do about a path that does not exist: ``fix``, unless the path holds what was meant as an environment
    variable (``$DATA_DIR``, ``${HOME}``): paths are taken as written, so say that instead; or Windows' separators
    (``data\\eval.jsonl``, written on Windows), where the path with ``/`` exists: ``\\`` is part of a name elsewhere."""
    var = re.search(r"\$\{?[A-Za-z_]\w*\}?", str(path))
    if var:
        return f"write the path out: '{var.group()}' is not expanded (paths are taken as written, relative to the experiment file)"
    forward = Path(str(path).replace("\\", "/"))
    if "\\" in str(path) and on_disk(forward).exists():
        return f"write '/' between folders, not '\\' (which is part of a file name here): {forward} exists, and Windows reads '/' too"
    return fix


def cwd_relative_fix(written: str, base: Path) -> str | None:
    """What to write for a path relative to the current folder where it is read from ``base`` (the experiment file's
    folder), when it is found only from the current folder (``datasets/q.jsonl`` in ``experiments/x.yaml``, run from the
    project's root); None when the path is found from ``base``, is absolute, or is found from neither (pure but for
    the file system)."""
    given = Path(written).expanduser()
    if given.is_absolute() or on_disk(base / given).exists():
        return None
    here = Path.cwd() / given
    if not on_disk(here).exists() or os.path.realpath(base) == os.path.realpath(Path.cwd()):
        return None
    meant = Path(os.path.relpath(here, base)).as_posix()
    return f"'{written}' is found from the current folder, but paths are relative to the experiment file's folder ({base}): write '{meant}'"
