"""The pages of a document, and the sources that name them: ``handbook``, ``handbook#page=12``, ``handbook#page=3-4``.

A PDF's text (and a PowerPoint deck's, a slide a page) keeps where each of its pages starts, as character offsets in
``Document.metadata['page_starts']`` (one a page, in order, space-separated: ``"0 1834 3920"``), so the text, the chunks
and their vectors are what they were without them, and a chunk's pages follow from its offsets; the corpus hash covers
them (``Corpus.hash``), its index key does not (``Corpus.text_hash``). A corpus given as JSONL may carry the same
metadata for documents of its own.

A source is written as a PDF viewer's open parameter (``file.pdf#page=12``) after the document's id: a question's
labelled source may name a page or a range of pages of a document, and a retrieved chunk of a paged document is shown
with the pages it lies on. A label covers a retrieved chunk of its document, and, when it names pages, only one lying
on at least one of them.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from workbench.datasets._formats import file_format

__all__ = ["PAGE_STARTS", "Source", "is_relevant", "labels_covering", "page_label_id", "page_starts", "page_word",
           "pages_between", "pages_label_problem", "pages_metadata"]

PAGE_STARTS = "page_starts"
_PAGES = re.compile(r"#page=(\d+)(?:-(\d+))?")


@dataclass(frozen=True)
class Source:
    """A document, or pages of it (``pages``: the first and last, counted from 1)."""

    doc_id: str
    pages: tuple[int, int] | None = None

    @staticmethod
    def parse(text: str) -> Source:
        """The source a label or a retrieved source names (pure): ``doc#page=N`` or ``doc#page=N-M``; any other text is
        a document id as it is."""
        return _parsed(text)

    def __str__(self) -> str:
        if self.pages is None:
            return self.doc_id
        first, last = self.pages
        return f"{self.doc_id}#page={first}" if first == last else f"{self.doc_id}#page={first}-{last}"

    def covers(self, retrieved: Source) -> bool:
        """Whether a chunk retrieved from ``retrieved`` is relevant to this label (pure): one of its document, on a page
        this label names when it names pages (a chunk whose pages are unknown is on none of them)."""
        if retrieved.doc_id != self.doc_id:
            return False
        if self.pages is None:
            return True
        return retrieved.pages is not None and retrieved.pages[0] <= self.pages[1] and self.pages[0] <= retrieved.pages[1]


@lru_cache(maxsize=65536)  # the retrieval metrics read each question's sources four times, and documents recur
def _parsed(text: str) -> Source:
    at = text.rfind("#page=")
    found = _PAGES.fullmatch(text, at) if at > 0 else None
    if found is None:
        return Source(text)
    first = int(found[1])
    return Source(text[:at], (first, int(found[2]) if found[2] else first))


def page_label_id(doc_id: str, file: str | None = None) -> str | None:
    """Why a document cannot have the id ``doc_id`` (pure), as the end of a line naming the document or ``file`` (the
    corpus file it was read from, which the fix renames): one ending as a page label does (``report#page=2``, of a file
    named ``report#page=2.txt``) reads as pages of another document wherever a source is read (dataset labels, retrieved
    sources, the retrieval metrics, which know no corpus), so no label could name it and its retrieved chunks would
    count for that document's pages; None for any other id."""
    label = Source.parse(doc_id)
    if label.pages is None:
        return None
    first, last = label.pages
    named = f"page {first}" if first == last else f"pages {first}-{last}"
    head, _, tail = (file or doc_id).rpartition("#page=")
    return (f"its document id '{doc_id}' reads as {named} of document '{label.doc_id}' (a page label), so no label could "
            f"name it — rename {'the file' if file else 'it'}, e.g. '{head}-page-{tail}'")


def labels_covering(retrieved: Sequence[str], labels: Iterable[str]) -> list[tuple[str, ...]]:
    """For each retrieved chunk's source (as ``Chunk.source`` writes it), in order, the labelled sources it is relevant
    to, in sorted order (pure; see ``Source.covers``)."""
    of_document: dict[str, list[tuple[str, Source]]] = {}
    for text in sorted(labels):
        label = Source.parse(text)
        of_document.setdefault(label.doc_id, []).append((text, label))
    covering = []
    for text in retrieved:
        source = Source.parse(text)
        covering.append(tuple(label_text for label_text, label in of_document.get(source.doc_id, ()) if label.covers(source)))
    return covering


def is_relevant(retrieved: str, labels: Iterable[str]) -> bool:
    """Whether a chunk retrieved from ``retrieved`` is relevant to any of the labelled sources ``labels`` (pure)."""
    return bool(labels_covering([retrieved], labels)[0])


def page_starts(metadata: dict[str, str]) -> tuple[int, ...] | None:
    """Where each page of a document starts in its text, from its metadata (pure); None when it keeps no pages, or keeps
    them as something other than ascending offsets from 0."""
    kept = metadata.get(PAGE_STARTS, "").split()
    if not kept or not all(n.isdecimal() for n in kept):
        return None
    starts = tuple(int(n) for n in kept)
    return starts if starts[0] == 0 and list(starts) == sorted(starts) else None


def page_word(metadata: Mapping[str, str]) -> Literal["page", "slide"]:
    """What a page of a document is called, by its metadata (pure): "slide" for a PowerPoint deck's (its ``path`` a
    file read as a deck), "page" for a PDF's or any other's. The one place that decides it: the ChunkExplorer says
    where a chunk lies with it, and a label naming pages without text says what they are."""
    return "slide" if file_format(metadata.get("path", "")) == "pptx" else "page"


def pages_between(starts: Sequence[int], start: int, end: int) -> tuple[int, int] | None:
    """The first and last page (from 1) that the text ``[start, end)`` lies on, given where pages start (pure); None
    for a stretch not located (``start`` -1). A page without text starts where the next one does, so nothing lies on it."""
    if start < 0 or end <= start:
        return None
    return bisect_right(starts, start), bisect_right(starts, end - 1)


def pages_label_problem(label: Source, starts: Sequence[int] | None, length: int | None = None, *, deck: bool = False) -> str | None:
    """What is wrong with a label naming pages of a document whose pages start at ``starts`` (pure), as the end of a
    line naming the label; None when nothing is (or it names no pages). Given the document's text ``length``, a label
    naming only pages without text (a scanned page; a ``deck``'s hidden slide or picture) is one too: no chunk lies on
    them, so it could never be found. A ``deck``'s pages are named as its slides."""
    if label.pages is None:
        return None
    if starts is None:
        return (f"document '{label.doc_id}' has no pages (only the text of a PDF or a PowerPoint deck keeps where its pages "
                f"start) — label the document ('{label.doc_id}')")
    first, last = label.pages
    count = len(starts)
    if (first < 1 or last > count) and deck:
        return f"deck '{label.doc_id}' has slides 1 to {count} — name slides among them (page=N is the deck's slide N, counted from 1)"
    if first < 1 or last > count:
        return f"document '{label.doc_id}' has pages 1 to {count} — name pages among them (pages count from 1)"
    if last < first:
        return f"the range ends before it starts — write its first page first ('{label.doc_id}#page={last}-{first}')"
    if length is not None and (starts[last] if last < count else length) == starts[first - 1]:
        named = f"page {first}" if first == last else f"pages {first}-{last}"
        if deck:
            one = first == last
            return (f"{named} of deck '{label.doc_id}' {'is a hidden slide or one' if one else 'are hidden slides or slides'} without "
                    f"text ({'a picture' if one else 'pictures'} without alt text), so no chunk lies on {'it' if one else 'them'} — "
                    "label the slides holding the answer (page=N is the deck's slide N, hidden ones counted)")
        return (f"{named} of document '{label.doc_id}' {'has' if first == last else 'have'} no text (a scan or a blank page), "
                f"so no chunk lies on {'it' if first == last else 'them'} — label the pages holding the answer, or OCR the PDF (ocrmypdf in.pdf out.pdf)")
    return None


def pages_metadata(pages: list[str], length: int) -> dict[str, str]:
    """A paged document's metadata (pure): its page count, and where each of ``pages`` starts in their text joined by
    blank lines (``length`` long), a page without text where the next one does."""
    starts, at = [], 0
    for page in pages:
        starts.append(min(at, length))
        at += len(page) + 2 if page else 0
    return {"pages": str(len(pages)), PAGE_STARTS: " ".join(map(str, starts))}
