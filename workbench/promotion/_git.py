"""The git boundary of an export: plumbing commands that build a commit without touching the working tree.

An export writes blobs and a tree with a private index file, creates the commit object, and only then creates the
branch with one ``update-ref`` (which refuses to overwrite an existing branch). Until that last step nothing a user
can see changes (HEAD, refs, index, working tree); an interruption leaves at most unreachable objects that
``git gc`` removes. Tests subclass ``GitRepo`` to inject failures between the steps.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

from workbench.promotion._errors import ExportError


def _local_part(name: str) -> str:
    """``name`` as the part of an address before the @ (pure): letters and digits kept, each run of anything else one
    dot ('Jane Doe' is 'Jane.Doe': an address with a space is two words to mailmap and `git log --author`)."""
    return re.sub(r"[^\w+-]+", ".", name).strip(".") or "workbench"


def _git_error(output: str, *, files: int = 3) -> str:
    """What git said went wrong, on one line (pure): its ``error:`` and ``fatal:`` lines with the files listed under
    them (up to ``files``), else its last line. The last line alone was "Aborting" for a checkout that local changes
    or an untracked file (a link where the bundle goes) blocked, naming neither."""
    # git names blobs written from stdin "(null)": "fatal: Unable to add (null) to database" only repeats the error above it
    lines = [line for line in output.strip().splitlines() if "(null)" not in line]
    said: list[str] = []
    listed = 0
    for line in lines:
        if line.startswith(("error: ", "fatal: ")):
            said.append(line.split(": ", 1)[1].strip())
            listed = 0
        elif said and line.startswith("\t") and line.strip():
            listed += 1
            if listed <= files:
                said.append(line.strip())
            elif listed == files + 1:
                said.append("...")
    return " ".join(said) if said else (lines[-1].strip() if lines else "")


# what git (or the system under it) says when this user may not write to the repository's files
_UNWRITABLE = ("insufficient permission", "permission denied", "operation not permitted", "read-only file system")


def git_failure(command: str, path: Path, output: str, code: int) -> str:
    """One line for a git command that failed (pure): git's words (``_git_error``), and what to do when they say the
    repository cannot be written to by this user (a deployment clone of another user, a read-only mount)."""
    said = f"git {command} failed in {path}: {_git_error(output) or f'exit {code}'}"
    if any(marker in output.lower() for marker in _UNWRITABLE):
        return (f"{said} — this user cannot write to the repository (a read-only folder or mount, or another user's clone): "
                "export as a user who may write to it, or into a clone of your own and push the branch from there")
    return said


def _changed_paths(porcelain_z: str) -> list[str]:
    """The paths of ``git status --porcelain -z`` output as written (pure): without ``-z`` git quotes a path with a
    space or a non-ASCII letter ("notes \\303\\251.txt"), and a rename is "old -> new". A rename or copy names its new
    path, the old one following it."""
    entries = porcelain_z.split("\0")
    paths: list[str] = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) > 3:
            paths.append(entry[3:])
            if entry[0] in "RC":
                i += 1  # the path it was renamed or copied from
    return paths


class GitRepo:
    """A git repository worked on through the ``git`` command line.

    Args:
        path: the repository folder (or any folder inside it).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().resolve()

    def _run(
        self, *args: str, env: Mapping[str, str] | None = None, check: bool = True, stdin: bytes | None = None,
    ) -> subprocess.CompletedProcess[str]:
        try:
            raw = subprocess.run(
                ["git", *args], cwd=self.path, env={**os.environ, **(env or {})}, input=stdin, capture_output=True, timeout=120
            )
        except FileNotFoundError:
            raise ExportError("git is not installed — install git to export bundles") from None
        proc = subprocess.CompletedProcess(raw.args, raw.returncode, raw.stdout.decode(errors="replace"), raw.stderr.decode(errors="replace"))
        if check and proc.returncode != 0:
            raise ExportError(git_failure(args[0], self.path, proc.stderr or proc.stdout, proc.returncode))
        return proc

    def toplevel(self) -> Path:
        """The repository root; raises when ``path`` is not inside a git repository."""
        if self.path.exists() and not self.path.is_dir():
            raise ExportError(f"{self.path}: a file, not a folder — give the folder of a git repository")
        if not self.path.is_dir():
            raise ExportError(f"{self.path}: folder not found — give the path of a git repository")
        proc = self._run("rev-parse", "--show-toplevel", check=False)
        if proc.returncode != 0 and self._run("rev-parse", "--git-dir", check=False).returncode == 0:
            raise ExportError(f"{self.path}: a git repository without a working tree (bare, or a .git folder) — export into "
                              "a clone's working tree (git clone), then push the new branch from there")
        if proc.returncode != 0:
            raise ExportError(f"{self.path}: not a git repository — run 'git init' there or give another --repo")
        return Path(proc.stdout.strip())

    def head(self) -> str | None:
        """The commit HEAD points at, or None in a repository without commits."""
        proc = self._run("rev-parse", "--verify", "-q", "HEAD", check=False)
        return proc.stdout.strip() or None

    def current_branch(self) -> str | None:
        """The branch HEAD is on, None when HEAD is detached."""
        return self._run("symbolic-ref", "--short", "-q", "HEAD", check=False).stdout.strip() or None

    def status(self) -> str:
        """``git status --porcelain`` (empty when clean, untracked files included)."""
        return self._run("status", "--porcelain").stdout

    def changed(self) -> list[str]:
        """The paths ``git status`` lists (untracked files included), as written; empty when the tree is clean."""
        return _changed_paths(self._run("status", "--porcelain", "-z").stdout)

    def branch_exists(self, branch: str) -> bool:
        return self._run("show-ref", "--verify", "--quiet", f"refs/heads/{branch}", check=False).returncode == 0

    def branch_in_the_way(self, branch: str) -> str | None:
        """A branch whose name makes ``branch`` impossible to create: ``promote`` blocks ``promote/x``, and ``promote/x/y``
        blocks ``promote/x`` (git keeps branches as files and folders)."""
        parts = branch.split("/")
        for i in range(1, len(parts)):
            if self.branch_exists("/".join(parts[:i])):
                return "/".join(parts[:i])
        below = self._run("for-each-ref", "--count=1", "--format=%(refname:short)", f"refs/heads/{branch}/", check=False).stdout.strip()
        return below or None

    def object_type(self, commit: str, path: str) -> str | None:
        """``blob``, ``tree`` or ``commit`` (a submodule) for ``path`` in ``commit``, None when it is not there.

        Read from the listing of its folder: ``cat-file -t`` found no submodule (its commit is in its own repository)."""
        folder, _, name = path.rpartition("/")
        return self.entries(commit, folder).get(name)

    def entries(self, commit: str, folder: str) -> dict[str, str]:
        """The names in ``folder`` (``""``: the repository's top) in ``commit`` and what each is (``blob``, ``tree`` or
        ``commit``); none when the folder is not there."""
        proc = self._run("ls-tree", "-z", f"{commit}:{folder}" if folder else commit, check=False)
        if proc.returncode != 0:
            return {}
        found = {}
        for entry in proc.stdout.split("\0"):
            meta, _, name = entry.partition("\t")
            if name:
                found[name] = meta.split(" ")[1]
        return found

    def files_in(self, commit: str, folder: str) -> list[str]:
        """The files under ``folder`` in ``commit``, relative to it (none when the folder is not there)."""
        if self.object_type(commit, folder) != "tree":
            return []
        return [f for f in self._run("ls-tree", "-r", "-z", "--name-only", f"{commit}:{folder}").stdout.split("\0") if f]

    def read_text(self, commit: str, path: str) -> str | None:
        """The text of the file ``path`` in ``commit``, None when it is not there."""
        if self.object_type(commit, path) != "blob":
            return None
        return self._run("cat-file", "blob", f"{commit}:{path}").stdout

    def check_branch_name(self, branch: str) -> None:
        if self._run("check-ref-format", "--branch", branch, check=False).returncode != 0:
            raise ExportError(f"'{branch}' is not a valid git branch name — pass another branch name")

    def identity_env(self, user: str) -> dict[str, str]:
        """Author/committer variables when git has no identity configured (a CI checkout, a fresh container)."""
        env: dict[str, str] = {}
        name = user.strip() or "workbench"  # git refuses an empty name
        if not self._run("config", "user.name", check=False).stdout.strip() and "GIT_AUTHOR_NAME" not in os.environ:
            env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = name
        if not self._run("config", "user.email", check=False).stdout.strip() and "GIT_AUTHOR_EMAIL" not in os.environ:
            env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = f"{_local_part(name)}@workbench.invalid"
        return env

    # -- building a commit with a private index ------------------------------------------------------------------

    def hash_object(self, data: bytes) -> str:
        """Store ``data`` as a blob, byte for byte (no core.autocrlf or attribute conversion); returns its id. From
        memory: a copy on disk would outlive an export killed meanwhile (kill -9 skips every clean-up)."""
        return self._run("hash-object", "-w", "--no-filters", "--stdin", stdin=data).stdout.strip()

    def read_tree(self, index: Path, commit: str | None) -> None:
        """Fill the private index with ``commit``'s tree (or leave it empty)."""
        if commit is not None:
            self._run("read-tree", commit, env={"GIT_INDEX_FILE": str(index)})

    def remove_from_index(self, index: Path, folder: str) -> None:
        """Remove ``folder`` (relative to the repository root, whatever folder ``path`` is) from the private index."""
        self._run("rm", "--cached", "-r", "-q", "--ignore-unmatch", "--", f":(top,literal){folder}", env={"GIT_INDEX_FILE": str(index)})

    def add_to_index(self, index: Path, blob: str, path: str) -> None:
        self._run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env={"GIT_INDEX_FILE": str(index)})

    def write_tree(self, index: Path) -> str:
        return self._run("write-tree", env={"GIT_INDEX_FILE": str(index)}).stdout.strip()

    def commit_tree(self, tree: str, parent: str | None, message: str, env: Mapping[str, str]) -> str:
        args = ["commit-tree", tree, "-m", message] + (["-p", parent] if parent else [])
        return self._run(*args, env=env).stdout.strip()

    def create_branch(self, branch: str, commit: str) -> None:
        """Create ``branch`` at ``commit`` in one step; fails if the branch appeared meanwhile."""
        self._run("update-ref", "-m", "workbench export", f"refs/heads/{branch}", commit, "")

    def checkout(self, branch: str) -> None:
        self._run("checkout", "-q", branch)

    def delete_branch(self, branch: str, commit: str) -> None:
        """Delete ``branch`` if it still points at ``commit``."""
        self._run("update-ref", "-d", f"refs/heads/{branch}", commit)
