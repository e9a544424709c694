"""What a sweep's numbers will not say of its dataset and corpus, known before anything runs: labelled documents
with copies under other ids, HTML pages read as text."""

from __future__ import annotations

import re
from collections.abc import Set

from workbench.datasets import Corpus, Dataset, Document, Source

__all__ = ["corpus_markup_notes", "corpus_notes", "dataset_copy_notes"]


# a comment's body never runs past its "-->": one reading of the leading comments (".*?" inside a repeated group tried
# every way of splitting N comments among the repeats, 2**N, so a markdown page opening with 30 comment
# lines hung `workbench run` and the RunPanel once the sweep had ended)
_HTML_PAGE = re.compile(r"\s*(?:<!--(?:(?!-->).)*-->\s*)*<(?:!doctype\s+html|html)[\s>]", re.IGNORECASE | re.DOTALL)


def corpus_notes(dataset: Dataset, corpus: Corpus) -> tuple[str, ...]:
    """What a sweep's numbers will not say of its dataset and corpus, known before anything runs (pure): labelled
    documents with copies under other ids, HTML pages (``workbench run --dry-run`` says them before the sweep does)."""
    return (*corpus.notes, *dataset_copy_notes(dataset, corpus), *corpus_markup_notes(corpus))


def dataset_copy_notes(dataset: Dataset, corpus: Corpus) -> tuple[str, ...]:
    """One line when a labelled source document has a copy under another id (a page a wiki export holds twice) that
    some question labelling the one does not label (pure): retrieval ranks the copies alike, so such a question scores
    no hit, or a lower rank, whenever the copy comes first. Said by a sweep and by its dry run."""
    documents = [{Source.parse(label).doc_id for label in case.source_ids} for case in dataset.cases]  # a page's label names its document
    labelled = set().union(*documents)
    skewed = [ids for ids in _document_copies(corpus, labelled) if any(set(ids) & labels and not set(ids) <= labels for labels in documents)]
    if not skewed:
        return ()
    shown = ", ".join(" = ".join(f"'{i}'" for i in ids) for ids in skewed[:3])
    more = f" and {len(skewed) - 3} more" if len(skewed) > 3 else ""
    return (f"corpus '{corpus.name}': labelled documents have copies under other ids ({shown}{more}): a question labelled "
            "with one copy scores no hit, or a lower rank, when retrieval finds another — remove the copies, or label every copy",)


def corpus_markup_notes(corpus: Corpus) -> tuple[str, ...]:
    """One line when documents of the corpus are HTML pages (a wiki's or Confluence's export) (pure): a document is read
    as it is written, so their tags, navigation, scripts and styles are chunked, embedded and retrieved as text. Said by
    a sweep and by its dry run."""
    pages = [doc.id for doc in corpus.documents if _is_html(doc)]
    if not pages:
        return ()
    shown = ", ".join(f"'{i}'" for i in pages[:3]) + (", ..." if len(pages) > 3 else "")
    return (f"corpus '{corpus.name}': HTML pages, {len(pages)} of {len(corpus)} documents ({shown}): their tags, scripts "
            "and styles are chunked and embedded as text — save the pages as .html files in a corpus folder, which reads their "
            "visible text, or export them as markdown or text",)


def _is_html(doc: Document) -> bool:
    """Whether a document is an HTML page (pure): a text that opens as a page does (a corpus folder's .html and .htm
    files are read as their visible text, which does not)."""
    return bool(_HTML_PAGE.match(doc.text[:4096]))


def _document_copies(corpus: Corpus, of: Set[str]) -> list[tuple[str, ...]]:
    """The ids of documents holding the same text as one of the documents ``of``, whitespace and line endings aside
    (pure), one tuple per such text held more than once, in corpus order.

    Only documents that open and end with the same words as one of them are compared whole: respacing every text of
    the corpus took 4 s on a 95 MB export, on every sweep's notes, and held a second copy of it meanwhile."""
    ends = {_ends(doc.text) for doc in corpus.documents if doc.id in of}
    by_text: dict[str, list[str]] = {}
    for doc in corpus.documents:
        if _ends(doc.text) in ends:
            by_text.setdefault(" ".join(doc.text.split()), []).append(doc.id)
    return [tuple(ids) for ids in by_text.values() if len(ids) > 1 and not of.isdisjoint(ids)]


def _ends(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The first and last three words of a text (pure): equal for two texts equal with their whitespace aside."""
    return tuple(text.split(maxsplit=3)[:3]), tuple(text.rsplit(maxsplit=3)[-3:])
