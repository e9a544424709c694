"""A corpus folder holding a subfolder its reader may not list (an HR team's ``confidential/`` on a shared drive) is one
line naming that folder, not a corpus that silently lacks its documents: the walk skipped such a folder without a word,
so the sweep, its scores and the bundle answered from part of the corpus."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.datasets import load_corpus
from workbench.errors import DataError

NOBODY = 65534


@contextlib.contextmanager
def as_team_member() -> Iterator[None]:
    """Read files as a user without root's override of file permissions (the tests may run as root, whom a folder's
    mode 000 does not stop): the effective user and group become nobody's until the block ends."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.fixture
def shared_drive() -> Iterator[Path]:
    """A corpus folder nobody may reach (not under pytest's tmp_path, whose parents only their owner may enter)."""
    top = Path(tempfile.mkdtemp(prefix="workbench-shared-drive-", dir="/tmp"))
    top.chmod(0o755)
    kb = top / "kb"
    (kb / "confidential").mkdir(parents=True)
    (kb / "leave.md").write_text("# Leave\n\nFull-time employees get 28 days of annual leave.\n", encoding="utf-8")
    (kb / "confidential" / "salaries.md").write_text("# Salaries\n\nSalaries are paid on the 25th.\n", encoding="utf-8")
    for folder in (kb, kb / "confidential"):
        folder.chmod(0o755)
    for file in kb.rglob("*.md"):
        file.chmod(0o644)
    yield kb
    (kb / "confidential").chmod(0o755)
    shutil.rmtree(top)


def test_the_corpus_reads_as_a_team_member(shared_drive: Path) -> None:
    # the fixture itself: every document is read when every folder may be listed
    load_corpus(shared_drive, glob="**/*.md")  # the modules a read imports, imported as root
    with as_team_member():
        docs = load_corpus(shared_drive, glob="**/*.md")
    assert [d.id for d in docs.documents] == ["confidential/salaries", "leave"]


def test_a_subfolder_that_cannot_be_listed_is_named(shared_drive: Path) -> None:
    load_corpus(shared_drive, glob="**/*.md")
    (shared_drive / "confidential").chmod(0o000)
    with as_team_member(), pytest.raises(DataError) as caught:
        load_corpus(shared_drive, glob="**/*.md")
    assert str(caught.value) == (f"{shared_drive / 'confidential'}: cannot list the folder (Permission denied) — give your user "
                                 "read access to it, or leave it out: corpus exclude: ['confidential/**']")


def test_a_subfolder_left_out_is_never_listed(shared_drive: Path) -> None:
    load_corpus(shared_drive, glob="**/*.md")
    (shared_drive / "confidential").chmod(0o000)
    with as_team_member():
        docs = load_corpus(shared_drive, glob="**/*.md", exclude=["confidential/**"])
    assert [d.id for d in docs.documents] == ["leave"]


@pytest.mark.parametrize("name", ["payslips.txt", "payslips.html"])
def test_a_file_that_cannot_be_read_is_told_its_exclude(shared_drive: Path, name: str) -> None:
    # as every other corpus file refused (empty, not UTF-8, a scan without text): what to do includes leaving it out
    path = shared_drive / "confidential" / name
    path.write_text("<p>Payslips are sent on the 25th.</p>\n" if name.endswith(".html") else "Payslips are sent on the 25th.\n")
    load_corpus(shared_drive, glob="**/*")
    path.chmod(0o000)
    with as_team_member(), pytest.raises(DataError) as caught:
        load_corpus(shared_drive, glob="**/*")
    assert str(caught.value).startswith(f"{path}: cannot read the file (Permission denied) — give your user read access to it, "
                                        f"or leave it out: corpus exclude: ['confidential/{name}']"), caught.value


def test_a_corpus_folder_that_cannot_be_listed_is_named(shared_drive: Path) -> None:
    # was "no files match '**/*.md' — check the folder or the corpus 'glob'": the glob was fine
    load_corpus(shared_drive, glob="**/*.md")
    shared_drive.chmod(0o000)
    try:
        with as_team_member(), pytest.raises(DataError) as caught:
            load_corpus(shared_drive, glob="**/*.md")
    finally:
        shared_drive.chmod(0o755)
    assert str(caught.value) == f"{shared_drive}: cannot list the folder (Permission denied) — give your user read access to it"
