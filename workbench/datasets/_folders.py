"""Corpus folders: which files a glob picks and exclude patterns leave out (hidden files and folders aside, names
compared in NFC), the folder checked before it is read, and the fixes suggested when a glob picks nothing or a
labelled file is not read."""

from __future__ import annotations

import contextlib
import os
import re
from collections import Counter
from collections.abc import Collection, Sequence
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path

from workbench.datasets._cases import _DOCUMENT_OTHER_NAMES
from workbench.datasets._formats import file_format
from workbench.datasets._models import document_id
from workbench.datasets._paths import missing_path_fix, on_disk
from workbench.datasets._text import _is_utf16, read_text
from workbench.errors import DataError

# the built-in corpus (see _corpus.python_reference_corpus), named where a corpus folder is expected
PYTHON_REFERENCE = "python-reference"


def pattern_inside_folder(glob: str) -> bool:
    """Whether a corpus glob picks files inside its folder: not empty, not absolute, no ``..``."""
    return bool(glob.strip()) and not Path(glob).is_absolute() and ".." not in Path(glob).parts


# folders of the project's own runs: a corpus at the project's root (path: .) read MLflow's artifacts (each run's
# prompt_template.txt, variant.yaml...) as documents, and its hash changed with every sweep, rebuilding every index;
# and of installed or compiled code: node_modules' READMEs were documents under '**/*.md', and __pycache__'s .pyc
# files refused a whole '**/*' corpus as binary, with no glob that leaves them out
_NOT_DOCUMENTS = frozenset({"mlruns", "__pycache__", "node_modules"})
# how Office's owner files start: '~$handbook.docx' (162 bytes naming who has the document open) lies beside each
# document open in Word, Excel or PowerPoint, hidden by Windows; a shared folder of Word documents being edited was
# refused as a corpus for holding them
_OWNER_FILE = "~$"


def _set_aside(part: str) -> bool:
    return part.startswith(".") and part not in (".", "..") or part.startswith(_OWNER_FILE) or part in _NOT_DOCUMENTS


def _hidden(relative: Path, glob: str) -> bool:
    """Whether a file lies in a hidden file or folder (``.git/``, ``.ipynb_checkpoints/``), is an Office owner file
    (``~$handbook.docx``), or lies in ``mlruns/`` (MLflow's store and artifacts), ``__pycache__/`` or ``node_modules/``,
    that the glob does not name.

    Like a shell's glob, ``*`` and ``**`` do not match a leading dot: Jupyter's checkpoint copies and version control
    files are not documents, nor are the runs a sweep logs next to the corpus. A pattern that spells such a name out
    (``.notes/*.md``, ``mlruns/**/*.txt``) still picks it.
    """
    return _hidden_parts(relative.parts, glob)


def _hidden_parts(parts: Sequence[str], glob: str) -> bool:
    """``_hidden`` of a relative path given as its parts (a corpus walk names thousands of files: no Path for each)."""
    named = _named_aside(glob)
    return any(_set_aside(part) and not any(fnmatchcase(part, n) for n in named) for part in parts)


@lru_cache(maxsize=64)
def _named_aside(glob: str) -> tuple[str, ...]:
    """The hidden names (see ``_set_aside``) a glob spells out (pure)."""
    return tuple(part for part in Path(glob).parts if _set_aside(part))


def _glob_parts_match(parts: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Whether a relative path's parts match a glob's: ``*`` within one name, ``**`` any number of folders."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(_glob_parts_match(parts[i:], rest) for i in range(len(parts) + 1))
    return bool(parts) and fnmatchcase(parts[0], head) and _glob_parts_match(parts[1:], rest)


def _pattern_parts(glob: str) -> tuple[str, ...]:
    """A corpus pattern's parts as names are compared, in NFC (pure); one ending in '/' (``drafts/``) names a folder:
    everything under it."""
    parts = tuple(document_id(part) for part in Path(glob).parts)
    return (*parts, "**") if glob.endswith("/") and parts[-1:] != ("**",) else parts


def _excluded_by(relative: str, exclude: Sequence[str]) -> str | None:
    """The first of a corpus's ``exclude`` patterns that leaves out the file at ``relative`` (posix, to the folder)."""
    parts = tuple(document_id(part) for part in Path(relative).parts)
    return next((p for p in exclude if _glob_parts_match(parts, _pattern_parts(p))), None)


def _leave_out(pattern: str) -> str:
    """The end of a message refusing a corpus folder's file: how to leave it out (pure). ``pattern``: its path relative
    to the folder, or a pattern picking it."""
    return "leave it out: corpus exclude: ['" + pattern.replace("'", "''") + "']"  # as YAML quotes it


def _exact(relative: Path) -> str:
    """An exclude pattern picking only the file at ``relative`` (pure): its glob characters escaped, a name that is not
    UTF-8 with '?' for each undecodable byte, which no one can type."""
    posix = re.sub(r"([*?\[])", r"[\1]", relative.as_posix())
    return re.sub("[\udc80-\udcff]", "?", posix)


def corpus_files(folder: Path, glob: str, *, exclude: Sequence[str] = (), hidden: bool = False, by_case: list[Path] | None = None,
                 formats: list[Path] | None = None) -> list[Path]:
    """The files (and broken links) under ``folder`` that ``glob`` picks and no ``exclude`` pattern leaves out, sorted,
    entering linked folders; ``by_case``, when given, receives those it would pick but for the case of their names
    (``README.MD`` under ``**/*.md``); ``formats`` those it leaves out that are of a format read as a document's text
    (``.pdf``, ``.html``, ``.docx``, ``.pptx``...).

    An excluded file is never opened, and a folder whose every file an ``exclude`` pattern leaves out (``drafts/**``)
    never walked: a broken link, a binary or an empty file left out so is no error.

    Sorted by their names in Unicode NFC, as their document ids are: a copy of the corpus whose names macOS or a zip
    archive wrote decomposed (``e`` + U+0301 sorts before ``f``, ``é`` after it) holds its documents in the same order,
    so it has the same hash, chunks and indexes, and a bundle evaluated on the one loads on the other.

    Python's own ``**`` (before 3.13) does not enter a linked folder, while ``*/`` does: a corpus with a shared folder
    linked into it lost those documents silently. A linked folder is entered once: one that leads back to a folder
    already walked (a loop, or a second link to it) is not walked again. Hidden files and folders (see ``_hidden``) are
    left out, and never walked, unless ``hidden``: a corpus at a project's root walked every file of its ``.venv`` and
    ``.git`` (87,000 files, 6 s) to keep none of them.
    """
    # names compared in NFC, as document ids are: 'Ünïcødé/*.md' typed in an experiment picks the folder macOS or a zip
    # archive wrote decomposed
    pattern = tuple(document_id(part) for part in Path(glob).parts)
    depth = None if "**" in pattern else len(pattern) - 1  # how deep a pattern without '**' can reach
    left_out = [_pattern_parts(p) for p in exclude]
    # an exclude pattern ending in '**' that matches a folder matches everything under it: that folder is not walked
    whole_folders = [p for p in left_out if p[-1:] == ("**",)]
    any_case = tuple(part.casefold() for part in pattern)
    seen: set[str] = set()
    found: list[Path] = []
    for top, dirs, names in os.walk(folder, followlinks=True, onerror=lambda exc: _unlisted(folder, exc)):
        here = Path(top)
        seen.add(os.path.realpath(top))
        inside = here.relative_to(folder).parts  # once per folder, not per file (pathlib took most of a 10,000-file walk)
        named = tuple(map(document_id, inside))
        dirs[:] = [] if depth is not None and len(inside) >= depth else [
            d for d in sorted(dirs) if os.path.realpath(here / d) not in seen and (hidden or not _hidden_parts((*inside, d), glob))
            and not any(_glob_parts_match((*named, document_id(d)), p) for p in whole_folders)]
        if left_out:
            names = [n for n in names if not any(_glob_parts_match((*named, document_id(n)), p) for p in left_out)]
        picked = [n for n in names if _glob_parts_match((*named, document_id(n)), pattern)]
        found += [here / n for n in picked if hidden or not _hidden_parts((*inside, n), glob)]
        if formats is not None and len(picked) < len(names):
            formats += [here / n for n in sorted(set(names).difference(picked)) if file_format(n) is not None
                        and (hidden or not _hidden_parts((*inside, n), glob))]
        if by_case is not None and len(picked) < len(names):  # only the names left out are matched again, case aside
            folded, left = tuple(part.casefold() for part in named), set(names).difference(picked)
            by_case += [here / n for n in sorted(left) if _glob_parts_match((*folded, document_id(n).casefold()), any_case)
                        and (hidden or not _hidden_parts((*inside, n), glob))]
    return sorted(found, key=lambda p: [document_id(part) for part in p.parts])


def _unlisted(folder: Path, exc: OSError) -> None:
    """Refuse the corpus whose walk could not list a folder (no permission to read it, a share gone): ``os.walk``
    skips such a folder without a word, and the corpus lacked its documents.

    Raises:
        DataError: naming the folder, and the exclude pattern leaving it out.
    """
    where = Path(exc.filename) if exc.filename is not None else folder
    fix = "give your user read access to it"
    if where != folder:
        fix += ", or " + _leave_out(f"{_exact(where.relative_to(folder))}/**")
    raise DataError(f"{where}: cannot list the folder ({exc.strerror or exc}) — {fix}")


def left_out_fix(folder: Path, glob: str, relative: str, exclude: Sequence[str] = ()) -> str:
    """What to do about a labelled source whose file (``relative`` to the corpus folder) the corpus does not read: take
    it out of the exclude pattern leaving it out, widen the glob, save it as UTF-8, move it out of the hidden folder
    holding it, or, for a binary file (an image, a PDF), drop the label."""
    excluded = _excluded_by(relative, exclude)
    if excluded is not None:
        return f"its file {relative} is left out by the corpus exclude '{excluded}': remove that pattern, or drop the label"
    try:
        if file_format(relative) is None:  # a PDF's or a page's text is read whatever its bytes
            read_text(folder / relative, "")
    except DataError:  # not UTF-8 text, or not readable at all
        with contextlib.suppress(OSError):
            data = (folder / relative).read_bytes()
            if b"\0" in data and not _is_utf16(data):
                return f"its file {relative} is binary (an image, a spreadsheet), which no corpus reads: drop the label"
        return f"its file {relative} is not UTF-8 text: save it as UTF-8 and widen the corpus glob '{glob}' to read it, or drop the label"
    hidden = next((part for part in Path(relative).parts if _set_aside(part)), None)
    if hidden is not None and any(p.relative_to(folder).as_posix() == relative for p in corpus_files(folder, glob, hidden=True)):
        start = _OWNER_FILE if hidden.startswith(_OWNER_FILE) else "."
        where, fix = (f"its name starts with '{start}'", "rename it") if hidden == Path(relative).name else (f"under '{hidden}'", f"move it out of '{hidden}'")
        return f"its file {relative} is left out as hidden ({where}), which the corpus reads only when its glob names it: {fix}, or drop the label"
    return f"its file {relative} is not read with the corpus glob '{glob}': widen the glob, or drop the label"


def _no_match_fix(folder: Path, glob: str, exclude: Sequence[str] = ()) -> str:
    """What to do when a corpus glob picks no file (or exclude leaves out all it picks): the pattern that would, or the
    general advice."""
    if exclude and corpus_files(folder, glob):
        return f"the corpus exclude {list(exclude)} leaves out every file the glob picks: remove a pattern from exclude"
    if "{" in glob and "}" in glob:
        return "'{a,b}' is not glob syntax here — give one pattern, e.g. '**/*.md', or '**/*' for every file"
    slashed = glob.replace("\\", "/")
    if slashed != glob and pattern_inside_folder(slashed) and any(p.is_file() for p in corpus_files(folder, slashed)):
        return f"a glob separates folders with '/', as on every system (Windows too) — use glob: '{slashed}'"
    deeper = f"**/{glob}"
    if not glob.startswith("**") and any(p.is_file() for p in corpus_files(folder, deeper)):
        return f"'{glob}' looks only at the top of the folder; its files are in subfolders — use glob: '{deeper}'"
    if any(p.is_file() for p in corpus_files(folder, glob, hidden=True)):
        return ("every matching file is hidden (its name or a folder's starts with '.', its name with '~$', or it is under mlruns/, "
                "__pycache__/ or node_modules/) — name that folder in the glob")
    files = [p for p in corpus_files(folder, "**/*") if p.is_file() and p.suffix]
    suffixes = Counter(p.suffix.lower() for p in files)
    if suffixes:  # e.g. a folder of .txt files under the default '**/*.md'
        suffix = min(suffixes, key=lambda s: (-suffixes[s], s))  # the most common; a tie goes to the first by name
        ending = _suffix_pattern(suffix, {p.suffix for p in files})
        return f"its files are mostly {suffix if '[' in ending else ending} — use glob: '**/*{ending}'"
    return "check the folder or the corpus 'glob'"


def _suffix_pattern(suffix: str, spellings: Collection[str]) -> str:
    """A glob ending that matches ``suffix`` as the files spell it (pure): ``.MD`` for files all named ``.MD``, and
    ``.[mM][dD]`` for a mix (globs are case-sensitive: '**/*.md' picks no ``A.MD``)."""
    spelt = {s for s in spellings if s.lower() == suffix}
    if len(spelt) == 1:
        return next(iter(spelt))
    return "." + _any_case(suffix[1:])


def _any_case(text: str) -> str:
    """A glob piece matching ``text`` in any case of its letters (pure): 'md' is '[mM][dD]'."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.lower() != c.upper() else c for c in text)


def check_corpus_folder(folder: Path, glob: str, *, exclude: Sequence[str] = (), by_case: list[Path] | None = None,
                        formats: list[Path] | None = None) -> list[Path]:
    """The files of a corpus folder that ``glob`` picks and ``exclude`` does not leave out, without reading them (a form
    checks a corpus as it is typed); ``by_case``, when given, receives those it would pick but for the case of their names.

    Raises:
        DataError: the folder is a file or missing, the glob or an exclude pattern leaves it, or no file is picked.
    """
    folder = on_disk(folder)
    if folder.is_file() and is_documents_file(folder):  # the corpus's one file, which holds its documents
        check_not_a_dataset(folder)
        return [folder]
    if folder.is_file():
        raise DataError(f"{folder}: the corpus is {_corpus_file_fix(folder)}")
    if not folder.is_dir():
        fix = missing_path_fix(folder, f"give a folder of documents (.md, .txt, .pdf, .html, .docx, .pptx...) or '{PYTHON_REFERENCE}'")
        raise DataError(f"{folder}: corpus folder not found — {fix}")
    if not pattern_inside_folder(glob):
        raise DataError(f"corpus glob '{glob}': give a pattern relative to the corpus folder {folder}, e.g. '**/*.md' (no '..')")
    if isinstance(exclude, str):  # read as a list of its characters: '*.png' left out every file, '*' being one
        raise DataError(f"corpus exclude '{exclude}': give a list of patterns, e.g. exclude=['{exclude}']")
    outside = next((i for i, pattern in enumerate(exclude) if not pattern_inside_folder(pattern)), None)
    if outside is not None:
        raise DataError(f"corpus exclude[{outside}] '{exclude[outside]}': give a pattern relative to the corpus folder {folder}, "
                        "e.g. 'drafts/**' (no '..')")
    found = corpus_files(folder, glob, exclude=exclude, by_case=by_case, formats=formats)
    if not found:
        raise DataError(f"{folder}: no files match '{glob}' — {_no_match_fix(folder, glob, exclude)}")
    return found


_ARCHIVES = {".zip": "unzip {name} -d {stem}", ".tar": "tar -xf {name}", ".tgz": "tar -xzf {name}", ".tar.gz": "tar -xzf {name}",
             ".tar.bz2": "tar -xjf {name}", ".tar.xz": "tar -xJf {name}", ".7z": "7z x {name}", ".rar": "unrar x {name}"}


# the files holding many documents, one a line or a row, which ``load_corpus`` reads as its documents
DOCUMENT_FILE_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".parquet")
# tables it does not read, and how to save them as one it does
_OTHER_TABLES = {".json": "a JSON array of objects: jq -c '.[]' {name} > {stem}.jsonl", ".tsv": "pd.read_csv('{name}', sep='\\t').to_csv('{stem}.csv', index=False)",
                 ".xlsx": "in Excel: 'CSV UTF-8 (Comma delimited)'", ".xls": "in Excel: 'CSV UTF-8 (Comma delimited)'"}


def is_documents_file(path: str | Path) -> bool:
    """Whether ``path`` names a file of documents, one a line or a row (pure): a ``.jsonl``, ``.ndjson``, ``.csv`` or
    ``.parquet`` file, which ``load_corpus`` reads as its documents (not as a folder of files)."""
    return Path(path).suffix.lower() in DOCUMENT_FILE_SUFFIXES


def reads_as_documents(path: str | Path) -> bool:
    """Whether ``path`` is a file of documents as far as its first line tells (it reads that line, nothing more): a
    ``is_documents_file`` whose first line (after Excel's ``sep=,``) names a ``text`` field or column, as documents
    have, or names it as another tool does (``body``, ``content``: read with ``columns``) without a ``question``; a
    dataset's names a ``question`` and a labels file neither. A Parquet file is taken at its name (its first bytes are
    its values)."""
    path = Path(path)
    if not is_documents_file(path) or not path.is_file():
        return False
    if path.suffix.lower() == ".parquet":
        return True
    with contextlib.suppress(OSError), path.open("rb") as file:
        first = file.readline(8192).decode("utf-8", "replace")
        if first.lstrip("\ufeff").startswith("sep="):
            first = file.readline(8192).decode("utf-8", "replace")
        if re.search(r"\btext\b", first):
            return True
        return not re.search(r"\bquestion\b", first) and bool(re.search(_TEXT_NAMED_OTHERWISE, first))
    return False


# a document's text under another tool's name as a first line may hold it: a CSV column, or a JSON line's key
_TEXT_NAMED_OTHERWISE = r'(?:^|[,;\t"])\s*(?:%s)\s*(?:[,;\t"]|$)' % "|".join(_DOCUMENT_OTHER_NAMES["text"])


def check_not_a_dataset(path: Path) -> None:
    """Refuse a file of documents that is the dataset's file (its first line holds a ``question``), typed where the corpus goes.

    Raises:
        DataError: it is.
    """
    if path.suffix.lower() != ".parquet" and _asks_questions(path):  # a Parquet file's first bytes are its values, not its columns
        raise DataError(f"{path}: the corpus is a dataset file (its first line holds a 'question'), not a file of documents — give "
                        "the documents' file or folder")


def _asks_questions(path: Path) -> bool:
    """Whether a JSONL or CSV file's first line names a ``question`` field or column without a ``text``: the dataset's
    file, typed where the corpus goes."""
    with contextlib.suppress(OSError), path.open("rb") as file:
        first = file.readline(8192).decode("utf-8", "replace")
        return bool(re.search(r"\bquestion\b", first)) and not re.search(r"\btext\b", first)
    return False


def _corpus_file_fix(path: Path) -> str:
    """What a corpus path that is a file is, and what to do: an archive (a wiki's zipped export) is unpacked, and a
    binary file (an image, a spreadsheet) exported as text, since a glob picking either reads one binary document,
    refused; a text file, a PDF, an HTML page or a Word document is picked by a glob in its folder."""
    suffix = next((s for s in _ARCHIVES if path.name.lower().endswith(s)), None)
    if suffix is not None:
        unpack = _ARCHIVES[suffix].format(name=path.name, stem=path.name[: -len(suffix)])
        return f"an archive, not a folder — unpack it ({unpack}) and give the folder of its files"
    other = _OTHER_TABLES.get(path.suffix.lower())
    if other is not None:
        saved = other.format(name=path.name, stem=path.stem)
        return (f"a {path.suffix.lower()} file, which a corpus does not read — save its documents as .jsonl, .csv or .parquet "
                f"with a 'text' column ({saved})")
    kind = file_format(path.name)
    if kind is None:
        with contextlib.suppress(OSError), path.open("rb") as file:
            if b"\0" in file.read(8192):
                return ("a binary file (an image, a spreadsheet), not a folder — export its text as .md or .txt files "
                        "into a folder, and give that folder")
    what = {"pdf": "a PDF", "html": "an HTML page", "docx": "a Word document", "pptx": "a PowerPoint presentation", None: "a file"}[kind]
    return f"{what}, not a folder — give its folder, with glob: '{_exact(Path(path.name))}' to use only it"


def _case_notes(folder: Path, glob: str, by_case: Sequence[Path], name: str) -> tuple[str, ...]:
    """One line when a corpus glob leaves out files only by the case of their names (pure): ``README.MD`` or ``NOTES.TXT``
    beside ``.md`` and ``.txt`` files (a Windows or a scanner's export) were no documents, without a word, since the glob
    picked the others."""
    if not by_case:
        return ()
    files, shown = _files_shown(folder, by_case)
    return (f"corpus '{name}': {files} ({shown}) left out only by the case of {'its name' if len(by_case) == 1 else 'their names'}, which the glob "
            f"'{glob}' matches as written — {_any_case_fix(glob)}",)


def _format_notes(folder: Path, glob: str, left_out: Sequence[Path], name: str) -> tuple[str, ...]:
    """One line when the default glob leaves out files of the formats a corpus reads (pure): a folder of markdown, HTML
    pages and Word documents, given with no glob, was its markdown alone, without a word."""
    if not left_out:
        return ()
    files, shown = _files_shown(folder, left_out)
    return (f"corpus '{name}': {files} of formats it reads ({shown}) {'is' if len(left_out) == 1 else 'are'} left out by the default "
            f"glob '{glob}' — give glob: '**/*' to read them (with exclude for the files that are no documents), or list them in exclude",)


def _files_shown(folder: Path, files: Sequence[Path]) -> tuple[str, str]:
    """``3 files`` and the first three of them, relative to ``folder`` (pure): ``'a.html', 'b.docx', 'c.pdf', ...``."""
    shown = ", ".join(f"'{p.relative_to(folder).as_posix()}'" for p in files[:3]) + (", ..." if len(files) > 3 else "")
    return f"{len(files)} file{'' if len(files) == 1 else 's'}", shown


def _any_case_fix(glob: str) -> str:
    """How to pick files whatever the case of their suffix (pure): the glob with its suffix in both cases, when it ends in one."""
    head, dot, suffix = glob.rpartition(".")
    if not dot or not suffix.isalnum() or "/" in suffix:
        return "write the glob as the files' names are cased, or rename them"
    return f"use glob: '{head}.{_any_case(suffix)}' to read them, or rename them"
