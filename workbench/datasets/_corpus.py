"""``load_corpus``: the built-in Python reference, documents in memory, a file of documents (JSON Lines, CSV, Parquet,
read as a DataFrame of it is), or a folder's files as documents (links checked, PDF, HTML and Word files extracted)."""

from __future__ import annotations

import contextlib
import difflib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.datasets._cases import (
    _DOCUMENT_FIELDS, _check_unicode, _id_text, _json_default, _meant_document_field, _missing, _name, _shown, beside_ours, map_fix,
    named_otherwise,
)
from workbench.datasets._columns import DOCUMENT_COLUMNS, check_column_map, mapped_frame
from workbench.datasets._dataset_files import TableColumns, check_columns, csv_records, json_lines
from workbench.datasets._folders import PYTHON_REFERENCE, check_not_a_dataset, is_documents_file, _case_notes, _format_notes, _exact, _hidden, _leave_out, _no_match_fix, check_corpus_folder
from workbench.datasets._formats import Extracted, TextCache, extracted_once, file_format
from workbench.datasets._html import html_text
from workbench.datasets._pdf import pdf_text
from workbench.datasets._word import docx_text
from workbench.datasets._frames import _check_columns, _index_holds_ids
from workbench.datasets._models import Corpus, Document, document_id
from workbench.datasets._pages import page_label_id
from workbench.datasets._paths import missing_path_fix, on_disk
from workbench.datasets._slides import pptx_text
from workbench.datasets._text import _markup, _one_line_break, _utf8_text
from workbench.errors import DataError


def python_reference_corpus() -> Corpus:
    """The Python language reference topics that ship with CPython (``pydoc_data.topics``), one document per topic."""
    from pydoc_data.topics import topics

    docs = tuple(Document(id=key, text=topics[key], metadata={"source": "pydoc_data.topics"}) for key in sorted(topics))
    return Corpus(name=PYTHON_REFERENCE, documents=docs, source="pydoc_data.topics")


_CORPUS = "corpus"  # the experiment's entry a file of documents' columns are mapped in (see map_fix)


def _document(item: Any, n: int, where: str, in_file: bool = False) -> Document:
    """The ``n``-th (1-based) in-memory document, read at ``where``: a string, a dict with ``text`` (and ``id``, string
    ``metadata``), a ``Document``, or a LangChain ``Document`` (its ``id``, else its position; its metadata as text).
    ``in_file``: the dict is a file's record, whose fields the experiment's ``columns`` may map (a fix says how)."""
    from langchain_core.documents import Document as LangChainDocument

    if isinstance(item, Document):
        _check_trimmed(item.id, where)
        return item
    if isinstance(item, str):
        doc_id, text, metadata = _default_document_id(n), item, {}
    elif isinstance(item, LangChainDocument):
        doc_id, text, metadata = item.id or _default_document_id(n), item.page_content, item.metadata
    elif isinstance(item, Mapping):
        meant = next(((str(k), f) for k in item if k not in _DOCUMENT_FIELDS and (f := _meant_document_field(str(k))) is not None), None)
        both = beside_ours(meant[0], meant[1], item) if meant is not None and named_otherwise(meant[0], document=True) else None
        if both is not None:
            raise DataError(f"{where}: field '{_name(meant[0])}' is not known — {both}")  # type: ignore[index]
        if meant is not None:
            mapped = f", {map_fix(_CORPUS, meant[1], meant[0], item)}" if in_file and named_otherwise(meant[0], document=True) else ""
            raise DataError(f"{where}: field '{_name(meant[0])}' is not known — call it '{meant[1]}'{mapped} (a field of the document's own is "
                            "kept as its metadata)")
        if "text" not in item:
            close = difflib.get_close_matches("text", [str(k) for k in item], n=1, cutoff=0.6)
            meant = f"did you mean '{_name(close[0])}'? Call it 'text'" if close else "give each document its text"
            mapped = f", {map_fix(_CORPUS, 'text', names=item)}" if in_file and not close else ""  # one misspelt is renamed
            raise DataError(f"{where}: field 'text' is missing — {meant}, e.g. {{\"id\": \"travel\", \"text\": \"...\"}}{mapped}")
        doc_id, text, metadata = item.get("id"), item["text"], item.get("metadata") or {}
        # its fields of its own (a help centre export's url, product, updated...) are its metadata, as a case's are
        own = {str(k): v for k, v in item.items() if k not in _DOCUMENT_FIELDS and not _missing(v)}
        if own and isinstance(metadata, Mapping):
            twice = next((k for k in own if k in metadata), None)
            if twice is not None:
                raise DataError(f"{where}: field '{_name(twice)}' is given twice, beside 'metadata' and in it — keep one")
            metadata = {**own, **metadata}
        doc_id = _default_document_id(n) if _missing(doc_id) else _id_text(doc_id)
        text = "" if _missing(text) else text  # an empty cell of a DataFrame's text column (NaN): an empty document
    else:
        raise DataError(f"{where}: a {type(item).__name__} is not a document — give text, a dict with 'text' (and 'id'), or a LangChain Document")
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise DataError(f"{where}: field 'id': expected text, got {_shown(doc_id)} — give each document a non-empty id")
    if not isinstance(text, str):
        raise DataError(f"{where}: field 'text': expected text, got {_shown(text)} — give the document's text as a string")
    if not text.strip():
        raise DataError(f"{where}: empty document ('{doc_id}') — add its text, or leave it out")
    if not isinstance(metadata, Mapping):
        raise DataError(f"{where}: field 'metadata': expected an object, got {_shown(metadata)} — give a dict, or leave it out")
    _check_trimmed(doc_id, where)
    kept = {str(k): _metadata_text(v) for k, v in metadata.items()}
    for field_name, value in (("id", doc_id), ("text", text), *(("metadata", v) for v in kept.values())):
        _check_unicode(value, where, field_name)
    return Document(id=document_id(doc_id), text=text, metadata=kept)


def _metadata_text(value: Any) -> str:
    """A metadata value as a document keeps it: a list or an object (a help-desk export's nested ``meta``; a NumPy
    array, as Parquet reads a list) as its JSON text, as a dataset's case keeps it, not Python's repr; else its text."""
    if isinstance(value, (Mapping, list, tuple)) or getattr(value, "ndim", 0):
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value)


def _check_trimmed(doc_id: str, where: str) -> None:
    """Refuse a document id with spaces around it: a case's id is trimmed ('q1 ' in a spreadsheet is 'q1'), and 'a ' beside
    'a' made two documents that a label 'a' could not tell apart. Refused, not trimmed: a corpus's hash stays its ids'."""
    if doc_id != doc_id.strip():
        raise DataError(f"{where}: field 'id': '{doc_id}' has spaces around it, so a label '{doc_id.strip()}' does not name it — "
                        f"trim them: '{doc_id.strip()}'")


def _blank_id(item: Any, n: int) -> str | None:
    """The id of the ``n``-th (1-based) in-memory document when its text is empty (pure), else None."""
    from langchain_core.documents import Document as LangChainDocument

    if isinstance(item, str):
        return None if item.strip() else _default_document_id(n)
    if isinstance(item, LangChainDocument):
        return None if item.page_content.strip() else item.id or _default_document_id(n)
    if isinstance(item, Mapping) and "text" in item:
        text, doc_id = item["text"], item.get("id")
        if _missing(text) or (isinstance(text, str) and not text.strip()):
            return _default_document_id(n) if _missing(doc_id) else str(_id_text(doc_id))
    return None


def _default_document_id(n: int) -> str:
    """The id of the ``n``-th document (1-based) given without one: its position, like a case's."""
    return f"doc-{n}"


def _corpus_from_documents(source: Any, name: str, columns: Mapping[str, str]) -> Corpus:
    """A corpus of in-memory documents: a list (see ``_document``), or a DataFrame with a ``text`` (and ``id``) column,
    or with the columns ``columns`` maps to them (a ``pd.read_parquet`` of the file they were written for)."""
    import pandas as pd

    if columns and not isinstance(source, pd.DataFrame):
        raise DataError(f"columns: {_no_columns(source)}")
    if isinstance(source, Mapping):  # one document, or {id: text}: which one is not for us to guess
        raise DataError("cannot load a corpus from a dict — give a list: [{'id': ..., 'text': ...}] for one document, "
                        "[{'id': k, 'text': v} for k, v in docs.items()] for a dict of id -> text")
    if isinstance(source, pd.DataFrame):
        _check_columns(source, name)
        if columns:
            source = mapped_frame(source, columns, name)
        # a row of empty cells (a spreadsheet's emptied row, NaN in every column) is no document; the others keep their
        # positions, which errors and default ids name
        ids = _index_holds_ids(source, name, ("doc_id", "document_id", "source_id"), "document")
        items: list[tuple[int, Any]] = [(n, {**row, "id": index} if ids else row)
                                        for n, (index, row) in enumerate(zip(source.index.tolist(), source.to_dict(orient="records")), start=1)
                                        if not all(_missing(v) for v in row.values())]
    elif isinstance(source, (set, frozenset)):  # named by position in the order of its strings' hashes, new in each process
        raise DataError(f"{name}: a set of documents has no order, and documents without ids are named by their position (doc-1, "
                        "doc-2...) — give a list, e.g. sorted(docs)")
    elif isinstance(source, Iterable) and not isinstance(source, (str, bytes, Mapping)):
        items = list(enumerate(source, start=1))
    else:
        raise DataError(f"cannot load a corpus from {type(source).__name__} — give a folder, '{PYTHON_REFERENCE}', a list of "
                        "documents (text, dicts with 'text' and 'id', LangChain Documents) or a DataFrame with a 'text' column")
    return _checked_corpus(_in_memory(items, name, isinstance(source, pd.DataFrame)), name, name)


def _in_memory(items: list[tuple[int, Any]], name: str, frame: bool) -> Iterator[tuple[Document, str, str]]:
    """The documents of ``items`` (position, item), each with where it was given (``documents: document 3``, and
    ``document 3`` as a duplicate's message names the first); the first empty one
    refused with every later empty one named in the same line (a scraped export's blank pages, named at once as a
    corpus folder's empty files are: one was refused per run)."""
    for n, item in items:
        try:
            doc = _document(item, n, f"{name}: document {n - 1}")
        except DataError as exc:
            blank = [b for m, other in items if m > n and (b := _blank_id(other, m)) is not None]
            if not blank or _blank_id(item, n) is None:
                raise
            shown = ", ".join(f"'{b}'" for b in blank[:3]) + (", ..." if len(blank) > 3 else "")
            keep = ": keep the others, e.g. df[df['text'].fillna('').str.strip() != '']" if frame else ""
            raise DataError(f"{exc} (and {len(blank)} more empty document{'s' if len(blank) > 1 else ''}: {shown}){keep}") from None
        yield doc, f"{name}: document {n - 1}", f"document {n - 1}"


def _checked_corpus(read: Iterable[tuple[Document, str, str]], name: str, source: str) -> Corpus:
    """The corpus of the documents ``read``, each with where it was read (``docs.jsonl:7``) and that place within the
    source (``line 7``, ``row 6``, ``document 3``), checked for ids given twice."""
    docs: list[Document] = []
    first: dict[str, str] = {}
    for doc, where, at in read:
        if doc.id in first:  # labelled source ids (and retrieval metrics) could not tell them apart
            raise DataError(f"{where}: duplicate id '{doc.id}' (first at {first[doc.id]}) — ids must be unique: rename one")
        first[doc.id] = at
        docs.append(doc)
    if not docs:
        raise DataError(f"{source}: the corpus has no documents — give at least one")
    return Corpus(name=name, documents=tuple(docs), source=source)


def _document_column_fix(column: str, names: Sequence[str]) -> str | None:
    """What to do about a file of documents' column that is a document's field misnamed, or under another tool's name
    (the ``columns:`` entry reading it and the others named so); None for a column of the file's own (its metadata)."""
    meant = _meant_document_field(column)
    if meant is None:
        return None
    otherwise = named_otherwise(column, document=True)
    both = beside_ours(column, meant, names) if otherwise else None
    if both is not None:
        return both
    return f"call it '{meant}'{f', {map_fix(_CORPUS, meant, column, names)}' if otherwise else ''} (a column of the file's own is kept as its documents' metadata)"


_DOCUMENT_COLUMNS = TableColumns("document", _DOCUMENT_FIELDS, "text", "id,text,url", _document_column_fix)


def _records(path: Path, columns: Mapping[str, str]) -> Iterator[tuple[Mapping[str, Any], str, str]]:
    """The records of a file of documents, one at a time, each with where it was read (``docs.jsonl:7``,
    ``docs.parquet: row 6``) and that place within the file (``line 7``, ``row 6``); ``columns`` maps a document's
    fields to the file's names for them."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _parquet_rows(path, columns)
    read = csv_records(path, _DOCUMENT_COLUMNS, columns) if suffix == ".csv" else json_lines(path, "document", columns, "text")
    return ((row, where, f"line {where.removeprefix(f'{path}:')}") for row, where in read)


def _parquet_rows(path: Path, columns: Mapping[str, str]) -> Iterator[tuple[Mapping[str, Any], str, str]]:
    """A Parquet file's rows, a batch at a time, numbered from 0 as pandas shows them."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(f"{path}: reading Parquet needs pyarrow — pip install pyarrow, or save the documents as .jsonl or .csv") from None
    import pyarrow as pa

    try:
        table = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"{path}: not a Parquet file ({' '.join(str(exc).split())[:120]}) — save the documents with "
                        "df.to_parquet(), or as .jsonl or .csv") from None
    with contextlib.closing(table):
        names = table.schema_arrow.names
        read_as = dict(zip(names, check_columns(names, _DOCUMENT_COLUMNS, str(path), columns)))
        row = 0
        for batch in table.iter_batches(batch_size=1024):
            for record in batch.to_pylist():
                yield {read_as[k]: v for k, v in record.items()}, f"{path}: row {row}", f"row {row}"
                row += 1


def check_documents_columns(path: str | Path, columns: Mapping[str, str] | None = None) -> None:
    """Check a file of documents' column names (a CSV header, a JSON Lines file's first object, a Parquet schema) as
    loading it would, reading those alone: a form checks the corpus as it is picked (a file calling its text 'body' was
    refused only when the sweep read it); ``columns`` as ``load_corpus``'s. Any other file is left to its loader.

    Raises:
        DataError: one line naming the column, and the ``columns:`` entry mapping it (see ``check_columns``).
    """
    path = Path(path)
    if not is_documents_file(path) or not path.is_file():
        return
    mapped = check_column_map(columns, DOCUMENT_COLUMNS) if columns else {}
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            names = list(pq.read_schema(path).names)
        except Exception:  # noqa: BLE001 - not Parquet, or no pyarrow: loading it says which, in its own words
            return
        check_columns(names, _DOCUMENT_COLUMNS, str(path), mapped)
        return
    with contextlib.suppress(StopIteration):
        if suffix == ".csv":
            next(csv_records(path, _DOCUMENT_COLUMNS, mapped))  # its header is checked before the first row is read
        else:
            record, where = next(json_lines(path, "document", mapped, "text"))
            _document(record, 1, where, in_file=True)


def _corpus_from_file(path: Path, name: str | None, columns: Mapping[str, str]) -> Corpus:
    """A corpus of a file of documents (``is_documents_file``), read a record at a time: a ``text`` field or column
    (each document's text), ``id`` (else ``doc-1``, ``doc-2``... by position), and its other fields or columns the
    documents' metadata, as a DataFrame's are: the same documents give the same corpus, and the same hash; ``columns``
    names the file's columns holding ``text`` and ``id``, when it calls them otherwise."""
    if not path.is_file():
        raise DataError(f"{path}: corpus file not found — {missing_path_fix(path, 'check the path (relative paths are from the experiment file)')}")
    check_not_a_dataset(path)

    # a row of empty cells (a spreadsheet's emptied row) is no document, as a DataFrame's; the others are numbered
    kept = ((record, where, at) for record, where, at in _records(path, columns) if not all(_missing(v) for v in record.values()))
    documents = ((_document(dict(record), n, where, in_file=True), where, at) for n, (record, where, at) in enumerate(kept, start=1))
    return _checked_corpus(documents, name or path.stem, str(path))


_DEFAULT_GLOB = "**/*.md"


def load_corpus(source: str | Path | Any, *, glob: str = _DEFAULT_GLOB, exclude: Sequence[str] = (), name: str | None = None,
                texts: TextCache | None = None, columns: Mapping[str, str] | None = None) -> Corpus:
    """Load a corpus: the built-in ``python-reference``, a folder of files, a file of documents, or documents in memory.

    A ``.jsonl``, ``.ndjson``, ``.csv`` or ``.parquet`` file holds a document a line or a row, read a line (a Parquet
    batch) at a time: its ``text`` field or column, ``id`` (else ``doc-1``, ``doc-2``... by position) and its other fields
    its metadata, as a DataFrame's (the same documents, the same hash); ``glob`` and ``exclude`` are refused beside it.
    ``columns`` names the file's own columns (or fields) for ``text`` and ``id``: ``{"id": "doc_id", "text": "body"}``
    reads the same documents, and the same hash, as a file calling them ``id`` and ``text``.

    A folder's ``.pdf`` files are read as their text layer (pypdf), their pages apart by a blank line (``pages`` in the
    document's metadata); ``.html`` and ``.htm`` files as their visible text (BeautifulSoup), a block per line, their
    ``<title>`` first unless the text opens with it (and in the metadata); ``.docx`` files as their body (python-docx),
    headings as markdown's ``#``, list items as ``- ``, table rows as ``a | b``, their title first unless their first
    heading is it (and in the metadata), footnotes as markdown's ``[^1]``, tracked changes accepted, page headers,
    footers and comments left out (a ``.doc``, a ``.docm`` and a template are refused: save them as ``.docx``);
    ``.pptx`` decks (and ``.pptm``, ``.ppsx``) as their slides (python-pptx), a slide a page as a PDF's: its title as
    ``#``, its shapes' text in reading order, its speaker notes, hidden slides left out (see
    ``workbench.datasets._slides``); any other file as UTF-8 text.
    A file's document id is its path relative to the folder, without the suffix (``policies/travel``), in Unicode NFC.
    Hidden files and folders (``.ipynb_checkpoints/``, ``.git/``), ``mlruns/``, ``__pycache__/`` and ``node_modules/`` are
    left out unless the glob names them; linked
    files and folders are followed (see ``corpus_files``).

    In memory, ``source`` is a list of strings (ids ``doc-1``, ``doc-2``... by position), of dicts with ``text`` and
    optionally ``id`` and ``metadata``, of ``Document``s or of LangChain ``Document``s (their ``id``, else their
    position), or a DataFrame with a ``text`` column (and optionally ``id`` and ``metadata``).

    Args:
        source: the built-in corpus's name, a folder, a file of documents, or the documents.
        glob: which files of a folder are documents.
        exclude: patterns like ``glob``'s of files it picks that are not documents (never read), e.g. ``drafts/**``.
        name: the corpus's name (default: the folder's, the file's stem; ``documents`` for documents in memory).
        texts: where the texts of PDF, HTML and Word files extracted before are kept, and those extracted now are put (e.g.
            ``workbench.cache.ExtractedTexts.in_folder(wb.settings().cache_dir)``, what ``run`` and the widgets use);
            by default every one is extracted again.
        columns: a file of documents' (or a DataFrame's) columns holding a document's fields (``id``, ``text``), when
            they are named otherwise: our field -> the file's column.

    Raises:
        DataError: one line naming the folder's file, the file's line (a Parquet file's row), or the in-memory document by
            position, and what to do.
    """
    mapped = check_column_map(columns, DOCUMENT_COLUMNS) if columns else {}
    if mapped and isinstance(source, (str, Path)) and not (str(source) != PYTHON_REFERENCE and is_documents_file(source)):
        raise DataError(f"columns: {_no_columns(source)}")
    if not isinstance(source, (str, Path)):
        return _corpus_from_documents(source, name or "documents", mapped)
    if str(source) == PYTHON_REFERENCE:
        return python_reference_corpus()
    folder = on_disk(Path(source))
    if is_documents_file(folder) and not folder.is_dir():
        if glob != "**/*.md" or exclude:  # they pick a folder's files: the file's every document is read
            raise DataError(f"{folder}: a file of documents, not a folder — leave out {'glob' if glob != '**/*.md' else 'exclude'}, "
                            "which picks a folder's files (every document of the file is read)")
        return _corpus_from_file(folder, name, mapped)
    docs: list[Document] = []
    files: dict[str, Path] = {}
    refused: list[tuple[Path, DataError]] = []
    root = os.path.realpath(folder)
    by_case: list[Path] = []
    formats: list[Path] | None = [] if glob == _DEFAULT_GLOB else None  # a glob of its own picks what it means to
    for path in check_corpus_folder(folder, glob, exclude=exclude, by_case=by_case, formats=formats):
        try:
            doc = _folder_document(path, folder, glob, root, texts)
        except DataError as exc:  # read on: an export with many such files is named at once, not one file per run
            refused.append((path, exc))
            continue
        if doc is None:
            continue
        if doc.id in files:  # a.md and a.txt: labelled source ids (and retrieval metrics) could not tell them apart
            raise DataError(f"{path}: its document id '{doc.id}' is also {files[doc.id].name}'s — rename one, or "
                            f"{_leave_out(_exact(path.relative_to(folder)))}")
        files[doc.id] = path
        docs.append(doc)
    if refused:
        raise DataError(f"{refused[0][1]}{_others_refused([p.relative_to(folder) for p, _ in refused[1:]])}")
    if not docs:
        raise DataError(f"{folder}: no files match '{glob}' — {_no_match_fix(folder, glob, exclude)}")
    notes = (*_case_notes(folder, glob, by_case, name or folder.name), *_format_notes(folder, glob, formats or (), name or folder.name))
    return Corpus(name=name or folder.name, documents=tuple(docs), source=str(folder), notes=notes)


def _no_columns(source: Any) -> str:
    """Why ``columns`` is refused beside a corpus that is no file of documents (pure), and what to do."""
    if not isinstance(source, (str, Path)):
        return ("it names a file's (or a DataFrame's) columns, and the documents are given in memory as a list — name their "
                "fields 'id' and 'text' there")
    if str(source) == PYTHON_REFERENCE:
        return f"it names a file's columns, and the built-in '{PYTHON_REFERENCE}' corpus has none — remove columns"
    return (f"it names the columns of a .jsonl, .ndjson, .csv or .parquet file of documents, and {source} is a folder of files, each "
            "one document — remove columns")


# the machine's kernel and runtime state, which no link in a corpus may lead to: /proc/self/environ holds the process's
# keys, /run/secrets a container's, /var/run (a link to /run) a Kubernetes service account's token
_SYSTEM_FOLDERS = frozenset({"proc", "sys", "dev", "run"})


def _forbidden_target(path: Path, folder: Path, glob: str, root: str | None = None) -> str | None:
    """Why a corpus file that is a link, or lies in a linked folder, must not be read (None when it may be): where it
    leads is hidden (``~/.ssh/id_rsa``, ``~/.aws/credentials``, a ``.git/config`` holding a token), which the corpus
    would not read as a file of its own, or a system folder. A corpus cloned or unzipped from someone else can hold
    such a link, which nobody sees in a listing of its files; its text would be indexed, sent to the model and logged
    in every trace that retrieves it. Links to shared folders and files elsewhere are followed. ``root``: the folder's
    real path, when already known (a corpus's thousands of files share it)."""
    target, root = os.path.realpath(path), root or os.path.realpath(folder)
    if target == os.path.join(root, os.path.relpath(path, folder)):
        return None  # no link on the way: the corpus's own file, checked as such
    parts = Path(target).parts
    if len(parts) > 1 and parts[0] == os.sep and parts[1] in _SYSTEM_FOLDERS:
        return f"{path}: a link to {target}, in the system folder /{parts[1]}, which holds no documents — remove the link"
    beyond = Path(os.path.relpath(target, os.path.commonpath([target, root])))
    if _hidden(beyond, glob):
        return (f"{path}: a link to {target}, a hidden file or folder (keys and settings live there), which a corpus does not "
                "read — copy the file into the corpus if it is a document, or remove the link")
    return None


def _folder_document(path: Path, folder: Path, glob: str, root: str | None = None, texts: TextCache | None = None) -> Document | None:
    """The document a corpus folder's file holds (None for a pipe or a socket, never a document).

    Raises:
        DataError: a broken link, a link to a hidden or system file (see ``_forbidden_target``), a name that is not
            UTF-8, a file that is not UTF-8 text, a PDF, HTML page or Word document whose text cannot be extracted (see
            ``workbench.datasets._formats``), an empty one, or one whose id reads as a page label (``page_label_id``).
    """
    if not path.exists():
        raise DataError(f"{path}: a broken link (to {os.readlink(path)}) — point it at the file, remove it, or "
                        f"{_leave_out(_exact(path.relative_to(folder)))}")
    forbidden = _forbidden_target(path, folder, glob, root)
    if forbidden is not None:
        raise DataError(forbidden)
    if not path.is_file():
        return None
    relative = path.relative_to(folder)
    _check_utf8_name(relative, folder)
    doc_id = document_id(relative.with_suffix("").as_posix())
    paged = page_label_id(doc_id, relative.as_posix())  # before its text is read
    if paged is not None:
        raise DataError(f"{path}: {paged}, or {_leave_out(_exact(relative))}")
    if doc_id != doc_id.strip():  # as an id given in memory is (_check_trimmed): no label can name it
        raise DataError(f"{path}: its document id '{doc_id}' has spaces around it, so a label '{doc_id.strip()}' does not name it "
                        f"— rename the file, e.g. '{doc_id.strip()}{relative.suffix}', or {_leave_out(_exact(relative))}")
    extracted = _file_text(path, relative, texts)
    # one line break, as Python's text files and LangChain's TextLoader read it: a checkout with git's autocrlf (CRLF)
    # is the same corpus, the same hash and the same chunks as the repository it came from
    text = _one_line_break(extracted.text)
    if not text.strip():
        raise DataError(f"{path}: empty document — add its text, or {_leave_out(_exact(relative))}")
    return Document(id=doc_id, text=text, metadata={"path": str(relative), **extracted.metadata})


def _check_utf8_name(relative: Path, folder: Path) -> None:
    """Refuse a file whose name (or a folder's) is not UTF-8, e.g. Latin-1 names from an old zip archive: Python reads
    each such byte as a lone surrogate, and the corpus's hash, its index and MLflow cannot encode the document id."""
    name = str(relative)
    bad = next((ch for ch in name if "\udc80" <= ch <= "\udcff"), None)
    if bad is not None:
        shown = os.fsencode(folder / relative).decode("utf-8", "backslashreplace")
        raise DataError(f"{shown}: the file name is not UTF-8 (byte 0x{ord(bad) - 0xDC00:02x}) — rename it in UTF-8 "
                        f"(e.g. convmv -f latin1 -t utf8), or {_leave_out(_exact(relative))}")


# the formats read from the file's bytes, whatever they are (an HTML page is decoded first)
_BINARY_FORMATS = {"pdf": pdf_text, "docx": docx_text, "pptx": pptx_text}


def _file_text(path: Path, relative: Path, texts: TextCache | None = None) -> Extracted:
    """A corpus file's text by its format (see ``workbench.datasets._formats``): a PDF's text layer, an HTML page's
    visible text or a Word document's body (from ``texts`` when extracted before), or any other file read as UTF-8 text."""
    leave_out = _leave_out(_exact(relative))
    kind = file_format(path.name)
    try:
        data = path.read_bytes()
    except OSError as exc:  # no permission (a file only its team may read), or gone since the folder was listed
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc}) — give your user read access to it, or {leave_out}") from None
    if kind is None:
        return Extracted(_utf8_text(data, path, f"save it as UTF-8 text, or {leave_out}"))
    if kind == "html":
        return extracted_once(kind, data, lambda: html_text(_markup(data, path, f"save it as UTF-8, or {leave_out}")), texts)
    extract = _BINARY_FORMATS[kind]
    return extracted_once(kind, data, lambda: extract(data, str(path), leave_out), texts)


def _others_refused(others: list[Path]) -> str:
    """The end of the line refusing a corpus's first unreadable file: how many more there are, and the first few (pure)."""
    if not others:
        return ""
    shown = ", ".join(os.fsencode(p).decode("utf-8", "backslashreplace") for p in others[:5])
    return f" (and {len(others)} more file{'' if len(others) == 1 else 's'} refused: {shown}{', ...' if len(others) > 5 else ''})"
