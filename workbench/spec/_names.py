"""Names and paths in a spec: an experiment's, a prompt's or an entry's ``name`` (a file name on every system, Windows'
device names refused) and the files and folders it names, written as text or given as a ``pathlib.Path``."""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

# the names Windows keeps for devices, whatever follows a dot (con.txt) and in any case: no file or folder has them
_WINDOWS_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", *(f"{port}{i}" for port in ("COM", "LPT") for i in range(10))})


def file_name_problem(name: str) -> str | None:
    """Why a file or folder named ``name`` could not be checked out on Windows (pure): a device's name, or a name
    ending in a dot; None when it can."""
    if name.split(".")[0].upper() in _WINDOWS_DEVICES:
        return (f"'{name}' names a device on Windows (as CON, PRN, AUX, NUL, COM0-9 and LPT0-9 do, with any extension, in any "
                "case): no file or folder can have it there — rename it")
    if name.endswith("."):
        return f"'{name}' ends in a dot, which Windows drops from a file or folder name, so it names another one there — rename it"
    return None


def _a_file_name(value: str) -> str:
    """A name that can name a file or folder on every system a project is checked out on: an experiment's name is its
    artifact folder, a prompt's its bundle's file (``prompts/<name>.txt``), a registered model's its bundle's folder in
    a deployment repository. Refused rather than mapped to another file name: the name is also in run names, variant
    ids and the bundle's config, where a file named otherwise would have to be looked up."""
    if set(value) == {"."}:
        raise ValueError(f"'{value}' is not a usable name (it is a path to another folder) — use letters or digits too")
    problem = file_name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _path_text(value: Any) -> Any:
    value = os.fspath(value) if isinstance(value, os.PathLike) else value
    if isinstance(value, str) and not value.strip():  # "" would resolve to the experiment's own folder
        raise ValueError("the path is empty — give a file or folder (relative paths are from the experiment file)")
    return value


# a file or folder: written as text in YAML, given as a pathlib.Path as often as a string from Python
PathText = Annotated[str, BeforeValidator(_path_text)]

# An experiment's name is also its artifact folder's name, a prompt's is a bundle's file name and part of every
# variant's run name (PostgreSQL-backed stores keep run names in 250 characters)
NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
Name = Annotated[
    str,
    Field(min_length=1, max_length=100, pattern=NAME_PATTERN, description="letters, digits, '_', '-' and '.'"),
    AfterValidator(_a_file_name),
]
