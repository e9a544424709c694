"""A sweep's inputs: its dataset and corpus, from the experiment's files or given in memory, checked against each other."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection
from pathlib import Path, PurePosixPath
from typing import Any

from workbench.datasets import (
    PYTHON_REFERENCE,
    Corpus,
    Dataset,
    Source,
    TextCache,
    check_limit,
    cwd_relative_fix,
    document_id,
    is_documents_file,
    left_out_fix,
    load_corpus,
    load_dataset,
    page_word,
    pages_label_problem,
)
from workbench.errors import DataError, SpecError
from workbench.spec import CorpusRef, ExperimentSpec

__all__ = ["in_memory_spec", "load_inputs", "load_spec_corpus", "load_spec_dataset", "sweep_inputs"]



def load_spec_dataset(spec: ExperimentSpec, limit: int | None = None) -> Dataset:
    """The spec's dataset, with ``limit`` (default: the spec's) and its length caps on questions and references.

    Raises:
        SpecError: the spec names no dataset (it is given to ``run`` in memory).
    """
    ref = spec.dataset
    if ref is None:
        raise SpecError(_no_data(spec, "dataset", "add dataset: {path: ...}", "the cases: wb.run(exp, dataset=df)"))
    return load_dataset(
        _found(spec, ref.path, "dataset file"), limit=ref.limit if limit is None else limit, max_question_chars=ref.max_question_chars,
        max_reference_chars=ref.max_reference_chars, columns=ref.columns
    )


def _found(spec: ExperimentSpec, written: str, what: str) -> Path:
    """``written`` resolved from the experiment file's folder (``spec.resolve``).

    Raises:
        DataError: it is not found there but is from the current folder (a path written from the project's root in
            ``experiments/x.yaml``): saying what to write, where the loader would say only that it is not found.
    """
    path = spec.resolve(written)
    fix = cwd_relative_fix(written, spec.base_dir)
    if fix is not None:
        raise DataError(f"{path}: {what} not found — {fix}")
    return path


def load_spec_corpus(spec: ExperimentSpec, *, texts: TextCache | None = None) -> Corpus:
    """The spec's corpus: its built-in one, or its folder (relative to the experiment file) read with its glob, its
    PDF, HTML and Word files' texts from ``texts`` when extracted before (see ``load_corpus``).

    Raises:
        SpecError: the spec names no corpus (it is given to ``run`` in memory).
    """
    if spec.corpus is None:
        raise SpecError(_no_data(spec, "corpus", "add corpus: {path: ...} or {builtin: python-reference}", "the documents: wb.run(exp, corpus=docs)"))
    return _read_corpus(spec, spec.corpus, texts)


def _read_corpus(spec: ExperimentSpec, ref: CorpusRef, texts: TextCache | None) -> Corpus:
    source = ref.builtin or _found(spec, ref.path or "", "corpus file" if is_documents_file(ref.path or "") else "corpus folder")
    return load_corpus(source, glob=ref.glob, exclude=ref.exclude, texts=texts, columns=ref.columns)


def _corpus_ref(spec: ExperimentSpec, given: Any) -> CorpusRef | None:
    """Where a sweep's corpus is read from (pure): the spec's own; or a folder given in its place (relative to the
    working directory), read with the spec's glob and exclude when the spec's corpus is a folder too, with the defaults
    when it is the built-in one or none; or a file of documents (``is_documents_file``), read whole, with the columns
    of the spec's when that is a file of documents too; or the built-in corpus given by name. None for documents given
    in memory."""
    if given is None:
        return spec.corpus
    if not isinstance(given, (str, Path)):
        return None
    if str(given) == PYTHON_REFERENCE:
        return CorpusRef(builtin=PYTHON_REFERENCE)
    path = str(Path(given).expanduser().absolute())
    if spec.corpus is not None and spec.corpus.path is not None and is_documents_file(path) == is_documents_file(spec.corpus.path):
        return spec.corpus.model_copy(update={"path": path})
    return CorpusRef(path=path)


def _frame_columns(spec: ExperimentSpec, documents: Any) -> dict[str, str] | None:
    """The spec's corpus columns for documents given in memory as a DataFrame (a ``pd.read_parquet`` of its file), None
    for other documents: a list's fields are ours."""
    import pandas as pd

    if spec.corpus is None or not spec.corpus.columns or not isinstance(documents, pd.DataFrame):
        return None
    return dict(spec.corpus.columns)


def _no_data(spec: ExperimentSpec, field: str, add: str, given: str) -> str:
    """Why a spec without a dataset or corpus cannot run (pure): its file's missing field, as any other would be named."""
    if spec.source_file is not None:
        return f"{spec.source_file}:1: {field}: required field is missing — {add}"
    return f"experiment '{spec.name}' names no {field} — {add}, or pass {given}"


def in_memory_spec(spec: ExperimentSpec, dataset: Any = None, corpus: Any = None) -> ExperimentSpec:
    """The spec a sweep over in-memory data runs and logs (pure): without the file dataset or corpus it replaces, so
    its logged experiment.yaml never names a file the sweep did not read."""
    return spec.model_copy(update={k: None for k, v in (("dataset", dataset), ("corpus", corpus)) if v is not None})


def sweep_inputs(spec: ExperimentSpec, limit: int | None, *, dataset: Any, corpus: Any, texts: TextCache | None = None) -> tuple[ExperimentSpec, Dataset, Corpus]:
    """The spec a sweep runs and logs, and its dataset and corpus: data given to ``run`` is loaded under the
    experiment's own spec (its dataset's limit and caps, its corpus folder's glob and exclude), then the spec leaves out
    the files that data replaced (``in_memory_spec``)."""
    loaded_dataset, loaded_corpus = load_inputs(spec, limit, dataset=dataset, corpus=corpus, texts=texts)
    return in_memory_spec(spec, dataset, corpus), loaded_dataset, loaded_corpus


def _given_dataset(spec: ExperimentSpec, value: Any, limit: int | None) -> Dataset:
    """A dataset handed to ``run``: a ``Dataset`` or a DataFrame (checked row by row, like a file). It replaces the
    spec's dataset file, not the spec's ``limit`` and length caps, which apply to it as they would to the file: an
    experiment saying ``limit: 8`` evaluated every row of the frame instead (hosted models billed for each)."""
    ref = spec.dataset
    limit = ref.limit if limit is None and ref is not None else limit
    if isinstance(value, Dataset):
        return value.head(check_limit(limit))
    if ref is None:
        return load_dataset(value, limit=limit)
    # the spec's columns too: a pd.read_csv of its file is the file's cases, and hash (a frame renamed already is read as is)
    return load_dataset(value, limit=limit, max_question_chars=ref.max_question_chars, max_reference_chars=ref.max_reference_chars,
                        columns=ref.columns)


def load_inputs(spec: ExperimentSpec, limit: int | None = None, *, dataset: Any = None, corpus: Any = None,
                texts: TextCache | None = None) -> tuple[Dataset, Corpus]:
    """Load the spec's dataset and corpus, and check that every labelled source id exists in the corpus.

    Args:
        spec: the experiment.
        limit: evaluate only the first ``limit`` cases (default: the spec's).
        dataset: cases in memory instead of the spec's: a ``Dataset`` or a DataFrame.
        corpus: documents instead of the spec's: a ``Corpus``, anything ``load_corpus`` reads in memory, or a folder
            (see ``_corpus_ref``: read with the spec's glob and exclude when the spec's corpus is a folder).
        texts: where a corpus folder's PDF, HTML and Word texts extracted before are kept (see ``load_corpus``).
    """
    dataset = load_spec_dataset(spec, limit) if dataset is None else _given_dataset(spec, dataset, limit)
    ref = _corpus_ref(spec, corpus)
    if corpus is None:
        corpus = load_spec_corpus(spec, texts=texts)
    elif ref is not None:
        corpus = _read_corpus(spec, ref, texts)
    elif not isinstance(corpus, Corpus):
        corpus = load_corpus(corpus, columns=_frame_columns(spec, corpus))
    ids = corpus.ids
    missing = [(i, case, s) for i, case in enumerate(dataset.cases) for s in case.source_ids if Source.parse(s).doc_id not in ids]
    if missing:
        i, case, first = missing[0]
        label = Source.parse(first)
        left_out = _file_left_out(spec, ref, label.doc_id)
        fix = left_out_fix(spec.resolve(ref.path), ref.glob, left_out, ref.exclude) if left_out and ref and ref.path else _source_id_fix(label.doc_id, corpus)
        # the whole label: several labels joined in one ('a#page=2, b') are a page label of no document to Source.parse
        joined = _joined_ids_fix(first, ids, csv=dataset.source.lower().endswith(".csv"))
        raise DataError(
            f"{dataset.where(i)}: case '{case.id}': field 'source_ids': '{first}' is not a document of corpus "
            f"'{corpus.name}' — {joined or _with_pages(fix, label)}{_other_missing_ids(first, [s for _, _, s in missing])}"
        )
    _check_pages(dataset, corpus)
    return dataset, corpus


def _with_pages(fix: str, label: Source) -> str:
    """The fix of a label naming pages of a document the corpus lacks, with the ids it suggests naming the same pages
    (pure): 'handbook.pdf#page=12' is 'handbook#page=12'."""
    if label.pages is None:
        return fix
    return re.sub(r"did you mean '([^']*)'\?", lambda m: f"did you mean '{Source(m[1], label.pages)}'?", fix)


def _check_pages(dataset: Dataset, corpus: Corpus) -> None:
    """Refuse the first label naming pages its document does not have: a document without pages (not a PDF or a
    PowerPoint deck), page 0, a page past its last, a range ending before it starts, or only pages without text (a
    deck's hidden slides); one line naming the dataset's line."""
    for i, case in enumerate(dataset.cases):
        for text in case.source_ids:
            label = Source.parse(text)
            document = corpus.get(label.doc_id)
            problem = pages_label_problem(label, corpus.page_starts.get(label.doc_id), len(document.text),
                                          deck=page_word(document.metadata) == "slide")
            if problem is not None:
                raise DataError(f"{dataset.where(i)}: case '{case.id}': field 'source_ids': '{text}': {problem}")


def _other_missing_ids(first: str, missing: list[str]) -> str:
    """The end of the line refusing a dataset's first source id the corpus lacks: the other ids it lacks, each counted
    once and a few of them shown (pure), so a dataset labelled in another scheme (file names, another corpus) is seen as
    such in one run. An id many questions label is one id to fix, not one per question."""
    others = [s for s in dict.fromkeys(missing) if s != first]
    if not others:
        return ""
    shown = ", ".join(f"'{s}'" for s in others[:3])
    return f" (and {len(others)} more source id{'' if len(others) == 1 else 's'} the corpus lacks: {shown}{', ...' if len(others) > 3 else ''})"


def _file_left_out(spec: ExperimentSpec, ref: CorpusRef | None, doc_id: str) -> str | None:
    """The file of the corpus folder ``ref`` (relative to it) whose document id is ``doc_id`` (one the corpus glob leaves
    out, as the corpus has no such document), or None. A close spelling of another document is then not what was meant."""
    if ref is None or ref.path is None or is_documents_file(ref.path):
        return None
    folder = spec.resolve(ref.path)
    files = (p.relative_to(folder) for p in sorted(folder.rglob("*")) if p.is_file())
    return next((f.as_posix() for f in files if document_id(f.with_suffix("").as_posix()) == doc_id), None)


def _source_id_fix(name: str, corpus: Corpus) -> str:
    """What to write instead of a source id the corpus does not have (pure): the document it most likely names (the
    id without its file suffix, with '/' for '\\', without the folders above the corpus or with those inside it, in
    another case, the document whose metadata holds it, or a close spelling), a page label as page labels are written,
    or else the general rule."""
    ids = corpus.ids
    paged = _page_label_fix(name, ids)
    if paged is not None:
        return paged
    path = PurePosixPath(name.strip().replace("\\", "/"))
    lowered = {i.lower(): i for i in ids}
    # the longest tail first: 'datasets/handbook/benefits.md', written from the project's root, is 'benefits' of the
    # corpus datasets/handbook
    tails = [PurePosixPath(*path.parts[i:]) for i in range(len(path.parts)) if path.parts[i] != "/"]
    for candidate in dict.fromkeys(c for tail in tails for c in (tail.as_posix(), tail.with_suffix("").as_posix() if tail.suffix else tail.as_posix())):
        found = candidate if candidate in ids else lowered.get(candidate.lower())
        if found:
            why = " (a file's document id is its path in the corpus folder, without the suffix)" if candidate != path.as_posix() else ""
            return f"did you mean '{found}'?{why}"
    # written inside a subfolder of the corpus: 'leave' of a corpus at the project's root is 'docs/leave'
    inside = sorted(i for i in ids if i.endswith("/" + path.with_suffix("").as_posix()))
    if len(inside) == 1:
        return f"did you mean '{inside[0]}'? (a file's document id is its path in the corpus folder, without the suffix)"
    held = _metadata_fix(name, corpus)
    if held is not None:
        return held
    number = name.strip()
    padded = sorted(i for i in ids if i.isdecimal() and i != number and int(i) == int(number)) if number.isdecimal() else []
    if len(padded) == 1:  # a spreadsheet read '007' as the number 7
        return f"did you mean '{padded[0]}'? (a spreadsheet drops a number's leading zeros: format the column as text)"
    close = difflib.get_close_matches(name, list(ids), n=1, cutoff=0.8)
    if close:
        return f"did you mean '{close[0]}'?"
    return "use the document ids of that corpus"


_LOOSE_PAGES = re.compile(r"\s*page\s*=\s*(\d+)\s*(?:-\s*(\d+)?\s*)?", re.IGNORECASE)


def _page_label_fix(name: str, ids: Collection[str]) -> str | None:
    """How to write a page label of a document the corpus has, written otherwise (pure): 'handbook#PAGE=2',
    'handbook#page= 2' or 'handbook#page=2-' are 'handbook#page=2'; None when the text before its last '#' is no id."""
    doc_id, hash_mark, pages = name.rpartition("#")
    if not hash_mark or doc_id not in ids:
        return None
    form = f"'{doc_id}#page=N' or '{doc_id}#page=N-M'"
    found = _LOOSE_PAGES.fullmatch(pages)
    if found is None:
        return f"a page label is written {form}, a document label '{doc_id}'"
    first = int(found[1])
    return f"did you mean '{Source(doc_id, (first, int(found[2] or first)))}'? (a page label is written {form})"


def _joined_ids_fix(name: str, ids: Collection[str], *, csv: bool) -> str | None:
    """How to give several labels written as one, joined with commas, spaces, ';' or '|' (pure), or None when the
    parts are not all labels of documents in ``ids`` (a page label, 'handbook#page=2', is one of 'handbook'): a CSV cell
    separates them with '|' (or is a JSON list); a JSON list gives each its own item, where '|', which a CSV cell splits
    at, was advised to a JSONL file and kept the ids one."""
    parts = [p for p in re.split(r"[,;|\s]+", name.strip()) if p]
    if len(parts) < 2 or not all(Source.parse(p).doc_id in ids for p in parts):
        return None
    if csv:
        return f"separate several ids with '|' ({'|'.join(parts)}) or give a JSON list"
    return f"give each id as its own item of the list: {json.dumps(parts, ensure_ascii=False)}"


def _metadata_fix(name: str, corpus: Corpus) -> str | None:
    """The document whose metadata holds ``name`` as a value, as the fix of a source id naming it so (pure), or None:
    LangChain's loaders keep a document's file in ``metadata['source']`` and give it no id, so handed to ``wb.run`` in
    memory such documents are ``doc-1``, ``doc-2``... by position, and a dataset labelled with their files matched none."""
    wanted = name.strip()
    for doc in corpus.documents:
        key = next((k for k, v in doc.metadata.items() if str(v).strip() == wanted), None)  # a Document made by hand may hold numbers
        if key is not None:
            return (f"did you mean '{doc.id}'? (its metadata '{key}' is '{wanted}': a document given without an id is named by "
                    "its position) or give each document its id, e.g. LangChain's Document(id=...)")
    return None
