"""A PDF's pages: where each starts in its text, the sources naming them, and the checks of labels naming pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.datasets import Corpus, Document, load_corpus
from workbench.datasets._pages import Source, page_starts, page_word, pages_between, pages_label_problem
from workbench.errors import DataError

from tests.datasets._pdfs import pdf_bytes

TRAVEL = "Travel policy\nBook flights 14 days ahead of the trip."
RECEIPTS = "Expenses\nSubmit receipts within 30 days (scanned copies are fine)."
MEALS = "Meals\nUp to 40 EUR a day."


def handbook(tmp_path: Path, *pages: str | None) -> tuple[str, tuple[int, ...] | None]:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "handbook.pdf").write_bytes(pdf_bytes(*pages))
    (doc,) = load_corpus(tmp_path / "kb", glob="*.pdf").documents
    return doc.text, page_starts(doc.metadata)


def test_a_pdf_keeps_where_each_of_its_pages_starts_and_a_page_without_text_starts_where_the_next_does(tmp_path: Path) -> None:
    text, starts = handbook(tmp_path, TRAVEL, None, RECEIPTS, MEALS, None)
    assert text == f"{TRAVEL}\n\n{RECEIPTS}\n\n{MEALS}"  # the text is what it was: its hash, chunks and vectors too
    assert starts is not None and len(starts) == 5
    assert [text[a:].split("\n")[0] for a in starts[:4]] == ["Travel policy", "Expenses", "Expenses", "Meals"]
    assert starts[4] == len(text)
    assert pages_between(starts, text.index("Book"), text.index("trip") + 4) == (1, 1)
    assert pages_between(starts, text.index("Submit"), text.index("Up to")) == (3, 4)  # a chunk across two pages
    assert pages_between(starts, -1, -1) is None  # a chunk not located


@pytest.mark.parametrize(("text", "source"), [
    ("handbook#page=12", Source("handbook", (12, 12))),
    ("policies/handbook#page=3-4", Source("policies/handbook", (3, 4))),
    ("handbook", Source("handbook")),
    ("notes#page=x", Source("notes#page=x")),  # not a page: an id as it is
    ("#page=2", Source("#page=2")),
])
def test_a_source_names_a_document_or_its_pages_as_a_pdf_viewer_opens_them(text: str, source: Source) -> None:
    assert Source.parse(text) == source
    assert str(source) == text


def test_a_page_label_covers_the_chunks_of_its_document_on_its_pages_and_a_document_label_all_of_them() -> None:
    on_3_4, on_5, unknown = Source("h", (3, 4)), Source("h", (5, 5)), Source("h")
    assert Source.parse("h#page=4").covers(on_3_4) and not Source.parse("h#page=4").covers(on_5)
    assert not Source.parse("h#page=4").covers(unknown)  # pages unknown: on none of them
    assert all(Source("h").covers(s) for s in (on_3_4, on_5, unknown)) and not Source("g").covers(on_5)


def test_a_label_naming_pages_a_document_lacks_says_what_to_do() -> None:
    assert pages_label_problem(Source("h", (2, 3)), (0, 10, 20)) is None
    assert pages_label_problem(Source("h", (0, 0)), (0, 10)) == "document 'h' has pages 1 to 2 — name pages among them (pages count from 1)"
    assert pages_label_problem(Source("h", (3, 3)), (0, 10)) == "document 'h' has pages 1 to 2 — name pages among them (pages count from 1)"
    assert pages_label_problem(Source("h", (2, 1)), (0, 10)) == "the range ends before it starts — write its first page first ('h#page=1-2')"
    assert pages_label_problem(Source("h", (1, 1)), None) == ("document 'h' has no pages (only the text of a PDF or a PowerPoint "
                                                              "deck keeps where its pages start) — label the document ('h')")
    blank = "of document 'h' {} no text (a scan or a blank page), so no chunk lies on {} — label the pages holding the answer, or OCR the PDF (ocrmypdf in.pdf out.pdf)"
    assert pages_label_problem(Source("h", (2, 2)), (0, 10, 10), 20) == "page 2 " + blank.format("has", "it")  # a scan between pages
    assert pages_label_problem(Source("h", (2, 3)), (0, 10, 10), 10) == "pages 2-3 " + blank.format("have", "them")  # the last two
    assert pages_label_problem(Source("h", (1, 2)), (0, 10, 10), 20) is None  # a range with text on one of its pages
    assert pages_label_problem(Source("h", (2, 2)), (0, 10, 10), None) is None  # the text's length unknown: not looked at
    assert pages_label_problem(Source("h", (2, 3)), (0, 10, 10), 10, deck=True) == (  # a deck's last two slides hidden
        "pages 2-3 of deck 'h' are hidden slides or slides without text (pictures without alt text), so no chunk lies on them — "
        "label the slides holding the answer (page=N is the deck's slide N, hidden ones counted)")
    assert pages_label_problem(Source("h", (3, 3)), (0, 10), deck=True) == (
        "deck 'h' has slides 1 to 2 — name slides among them (page=N is the deck's slide N, counted from 1)")
    assert page_starts({"page_starts": "5 10"}) is None and page_starts({"page_starts": "0 x"}) is None  # not offsets from 0


def test_a_corpus_without_pages_hashes_as_before_pages_were_kept() -> None:
    # the hash computed by the formula of every workbench before hashes covered pages (ids and texts, in order): its
    # runs' reuse keys and tags, its indexes and its bundles keep their keys
    corpus = Corpus("kb", (Document("travel", "Book flights 14 days ahead."),
                           Document("policies/meals", "Up to 40 EUR a day.", metadata={"path": "policies/meals.md", "title": "Meals"})))
    assert corpus.hash == corpus.text_hash == "dc9ed60b8e9c934bba5f6bfb6d3addccb68dd89b4dbd529a8d4e28bddb87d394"


def test_a_blank_cover_page_added_to_a_pdf_is_another_corpus_with_the_same_text(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "leave.md").write_text("Leave\nTwenty-seven days a year.\n", encoding="utf-8")
    (tmp_path / "kb" / "handbook.pdf").write_bytes(pdf_bytes(TRAVEL, RECEIPTS))
    first = load_corpus(tmp_path / "kb", glob="*")
    (tmp_path / "kb" / "handbook.pdf").write_bytes(pdf_bytes(None, TRAVEL, RECEIPTS))  # a cover without text: the pages one on
    covered = load_corpus(tmp_path / "kb", glob="*")
    assert covered.get("handbook").text == first.get("handbook").text and covered.text_hash == first.text_hash
    assert covered.hash != first.hash and first.hash != first.text_hash  # the hash of a corpus with pages covers them
    assert covered.hashed_as(covered.hash) and covered.hashed_as(covered.text_hash)  # the text's: recorded before pages were
    assert not covered.hashed_as(first.hash)
    assert load_corpus(tmp_path / "kb", glob="*").hash == covered.hash  # the same files, the same hash


@pytest.mark.parametrize(("name", "doc_id", "renamed"), [
    ("report#page=2.txt", "report#page=2", "report-page-2.txt"),
    ("notes/scan#page=3-4.md", "notes/scan#page=3-4", "notes/scan-page-3-4.md"),
])
def test_a_file_whose_document_id_reads_as_a_page_label_is_refused_in_one_line(tmp_path: Path, name: str, doc_id: str, renamed: str) -> None:
    # 'report#page=2' was read as page 2 of a document 'report' by every label and retrieved source: a question could not
    # label it, and a label 'report' would count its chunks
    (tmp_path / "kb" / "notes").mkdir(parents=True)
    (tmp_path / "kb" / "report.md").write_text("The report.\n", encoding="utf-8")
    (tmp_path / "kb" / name).write_text("Its second page, as a file.\n", encoding="utf-8")
    label = Source.parse(doc_id)
    pages = f"page {label.pages[0]}" if label.pages[0] == label.pages[1] else f"pages {label.pages[0]}-{label.pages[1]}"  # type: ignore[index]
    with pytest.raises(DataError) as raised:
        load_corpus(tmp_path / "kb", glob="**/*")
    assert str(raised.value) == (f"{tmp_path / 'kb' / name}: its document id '{doc_id}' reads as {pages} of document "
                                 f"'{label.doc_id}' (a page label), so no label could name it — rename the file, e.g. "
                                 f"'{renamed}', or leave it out: corpus exclude: ['{name}']")


def test_a_document_given_in_memory_whose_id_reads_as_a_page_label_is_refused_in_one_line() -> None:
    with pytest.raises(DataError) as raised:
        load_corpus([{"id": "report", "text": "The report."}, {"id": "report#page=2", "text": "Its second page."}], name="docs")
    assert str(raised.value) == ("corpus 'docs': document 1: its document id 'report#page=2' reads as page 2 of document 'report' "
                                 "(a page label), so no label could name it — rename it, e.g. 'report-page-2'")
    assert load_corpus([{"id": "report#PAGE=2", "text": "x"}, {"id": "report#page=two", "text": "y"}]).ids == {"report#PAGE=2", "report#page=two"}


@pytest.mark.parametrize(("path", "word"), [("decks/Travel.PPTX", "slide"), ("show.ppsx", "slide"), ("handbook.pdf", "page"),
                                            ("notes.md", "page"), (None, "page")])
def test_a_decks_pages_are_called_slides_and_any_other_documents_pages(path: str | None, word: str) -> None:
    assert page_word({"path": path} if path else {}) == word
