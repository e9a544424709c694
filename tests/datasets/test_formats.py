"""PDF and HTML files in a corpus folder: their text, not their bytes or markup, is the document."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

import workbench as wb
from workbench.datasets import left_out_fix, load_corpus
from workbench.errors import DataError
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import MemoryTracker

from tests.complexity import assert_linear_time
from tests.datasets._docx import docx_bytes
from tests.datasets._pdfs import encrypted_pdf_bytes, pdf_bytes
from tests.datasets._pptx import add_slide, pptx_bytes
from tests.datasets._files import corpus_of

TRAVEL = "Travel policy\nBook flights 14 days ahead of the trip."
RECEIPTS = "Expenses\nSubmit receipts within 30 days (scanned copies are fine)."


def test_a_pdfs_document_is_the_text_of_its_pages_apart_by_a_blank_line(tmp_path: Path) -> None:
    corpus = corpus_of(tmp_path, {"policies/Handbook.PDF": pdf_bytes(TRAVEL, None, RECEIPTS)}, glob="**/*.PDF")
    (doc,) = corpus.documents
    assert doc.id == "policies/Handbook"
    assert doc.text == f"{TRAVEL}\n\n{RECEIPTS}"  # the page without text leaves no gap
    assert doc.metadata == {"path": "policies/Handbook.PDF", "pages": "3", "page_starts": f"0 {len(TRAVEL) + 2} {len(TRAVEL) + 2}"}


def test_a_pdf_that_restricts_only_printing_is_read_and_one_locked_by_a_password_is_refused(tmp_path: Path) -> None:
    assert corpus_of(tmp_path, {"open.pdf": encrypted_pdf_bytes(TRAVEL, user_password="")}).documents[0].text == TRAVEL
    with pytest.raises(DataError, match=r"^\S+/kb/locked\.pdf: an encrypted PDF that opens only with a password — save a copy "
                                        r"without it \(qpdf --decrypt .*\), or leave it out: corpus exclude: \['locked\.pdf'\]$"):
        corpus_of(tmp_path, {"locked.pdf": encrypted_pdf_bytes(TRAVEL, user_password="secret")}, glob="locked.pdf")


def test_a_scanned_pdf_without_a_text_layer_is_told_to_be_ocred_or_left_out(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^\S+/kb/scan\.pdf: a PDF with no text layer \(2 pages without text: a scan\?\) — OCR it "
                                        r"\(ocrmypdf in\.pdf out\.pdf\), or leave it out: corpus exclude: \['scan\.pdf'\]$"):
        corpus_of(tmp_path, {"scan.pdf": pdf_bytes(None, None)})


@pytest.mark.parametrize("content", [
    pdf_bytes(TRAVEL)[:150],  # a download cut short
    b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
    b"<html>saved as .pdf by mistake</html>",
    b"",
])
def test_a_damaged_pdf_is_one_line_naming_it_and_what_to_do(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(DataError) as caught:
        corpus_of(tmp_path, {"notes.md": "# Notes\n", "broken.pdf": content})
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{tmp_path}/kb/broken.pdf: not a readable PDF (")
    assert message.endswith("— the file may be truncated or damaged: download or export it again, or leave it out: corpus "
                            "exclude: ['broken.pdf']")


def test_pypdfs_warnings_about_a_file_it_reads_anyway_are_not_printed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # a wrong cross-reference offset, which pypdf repairs, logging a warning on each load of the corpus
    data = pdf_bytes(TRAVEL)
    start = data.rindex(b"startxref\n") + len(b"startxref\n")
    moved = data[:start] + str(int(data[start:].split(b"\n")[0]) + 7).encode() + b"\n%%EOF\n"
    logging.getLogger("pypdf").setLevel(logging.NOTSET)
    with caplog.at_level(logging.DEBUG):
        assert corpus_of(tmp_path, {"moved.pdf": moved}).documents[0].text == TRAVEL
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pypdf")] == []
    assert logging.getLogger("pypdf").level == logging.NOTSET  # put back: a notebook's own use of pypdf still logs


def test_what_a_broken_font_map_makes_of_a_pdfs_text_is_read_as_replacement_characters(tmp_path: Path) -> None:
    # a lone surrogate in a document's text failed the sweep where the corpus was hashed
    corpus = corpus_of(tmp_path, {"odd.pdf": pdf_bytes("ABC", to_unicode={"A": "D800", "B": "0000", "C": "0043"})})
    assert corpus.documents[0].text == "\ufffd\ufffdC"
    assert len(corpus.hash) == 64 and json.loads(corpus.to_jsonl())["text"] == "\ufffd\ufffdC"


PAGE = """<!DOCTYPE html>
<html><head><title>Expenses &ndash; Handbook</title><style>p { color: red }</style>
<script>var tracking = "<p>not text</p>";</script></head>
<body><!-- saved from a wiki -->
<h1>Expenses</h1>
<p>Submit   receipts
   within 30&nbsp;days &amp; keep &lt;copies&gt;.</p>
<ul><li>Hotels</li><li>Trains</li></ul>
<table><tr><th>Item</th><th>Limit</th></tr><tr><td>Meals</td><td>&euro;40</td></tr></table>
<noscript>Enable JavaScript</noscript><template><p>hidden row</p></template>
<p>Ask <a href="/finance">finance</a><br>first.</p>
</body></html>
"""


def test_an_html_pages_document_is_its_visible_text_in_blocks_and_lines(tmp_path: Path) -> None:
    (doc,) = corpus_of(tmp_path, {"wiki/expenses.html": PAGE}).documents
    assert doc.id == "wiki/expenses"
    assert doc.text == ("Expenses – Handbook\n\nExpenses\n\nSubmit receipts within 30 days & keep <copies>.\n\nHotels\nTrains\n\n"
                        "Item | Limit\nMeals | €40\n\nAsk finance\nfirst.")
    assert doc.metadata == {"path": "wiki/expenses.html", "title": "Expenses – Handbook"}


def test_a_page_that_leaves_its_paragraphs_items_and_cells_open_is_read_in_the_same_lines() -> None:
    from workbench.datasets._html import html_text

    closed = "<p>Limits</p><ul><li>Hotels</li><li>Trains</li></ul><table><tr><td>Meals</td><td>40</td></tr><tr><td>Taxi</td><td>25</td></tr></table>"
    left_open = "<p>Limits<ul><li>Hotels<li>Trains</ul><table><tr><td>Meals<td>40<tr><td>Taxi<td>25</table>"
    assert html_text(left_open).text == html_text(closed).text == "Limits\n\nHotels\nTrains\n\nMeals | 40\nTaxi | 25"


def test_reading_a_long_page_takes_time_linear_in_its_length() -> None:
    # editing bs4's tree (a line break inserted beside each block) costs time linear in an element's siblings: a 15 MB
    # page of code took two minutes, 40 times what BeautifulSoup takes to parse it
    from workbench.datasets._html import html_text

    assert_linear_time(lambda n: html_text("<div>" + "".join(f"<p>line {i} &amp; <b>more</b></p>" for i in range(n)) + "</div>"), 2_000)


def test_a_pages_title_is_not_repeated_when_its_text_opens_with_it_and_htm_is_html(tmp_path: Path) -> None:
    page = "<html><head><title>Leave</title></head><body><h1>Leave</h1><p>27 days.</p></body></html>"
    assert corpus_of(tmp_path, {"leave.HTM": page}).documents[0].text == "Leave\n\n27 days."


def test_an_html_page_is_read_in_the_charset_it_declares_else_as_utf8(tmp_path: Path) -> None:
    latin = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252"></head><body><p>Caf\xe9 \u20ac 5</p></body></html>'
    assert corpus_of(tmp_path, {"menu.html": latin.encode("cp1252")}).documents[0].text == "Café € 5"
    with pytest.raises(DataError, match=r"kb/old\.html:1: not UTF-8 \(byte 0xe9 at offset 18\) — save it as UTF-8, or leave it "
                                        r"out: corpus exclude: \['old\.html'\]"):
        corpus_of(tmp_path, {"old.html": "<html><body><p>Caf\xe9</p></body></html>".encode("latin-1")}, glob="old.html")


def test_a_mixed_folder_reads_markdown_pdf_and_html_under_one_glob_and_still_refuses_images(tmp_path: Path) -> None:
    corpus = corpus_of(tmp_path, {"leave.md": "# Leave\n\n27 days.\n", "travel.pdf": pdf_bytes(TRAVEL), "expenses.htm": f"<p>{RECEIPTS}</p>"})
    assert [(d.id, d.text) for d in corpus.documents] == [("expenses", RECEIPTS.replace("\n", " ")), ("leave", "# Leave\n\n27 days.\n"),
                                                          ("travel", TRAVEL)]
    with pytest.raises(DataError, match=r"kb/logo\.png:3: binary data \(NUL byte at offset 8\), not UTF-8 text"):
        corpus_of(tmp_path, {"logo.png": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"})


def test_a_folder_of_pdfs_under_the_default_glob_is_told_to_pick_them(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no files match '\*\*/\*\.md' — its files are mostly \.pdf — use glob: '\*\*/\*\.pdf'"):
        corpus_of(tmp_path, {"a.pdf": pdf_bytes(TRAVEL), "b.pdf": pdf_bytes(RECEIPTS), "c.txt": "c"}, glob="**/*.md")


@pytest.mark.parametrize(("name", "what"), [("handbook.pdf", "a PDF"), ("page.html", "an HTML page")])
def test_a_pdf_or_a_page_given_as_the_corpus_is_told_to_give_its_folder(tmp_path: Path, name: str, what: str) -> None:
    (tmp_path / name).write_bytes(pdf_bytes(TRAVEL) + b"\0" if name.endswith(".pdf") else b"<p>x</p>")
    with pytest.raises(DataError, match=rf"{name}: the corpus is {what}, not a folder — give its folder, with glob: '{name}' to use only it"):
        load_corpus(tmp_path / name)
    assert load_corpus(tmp_path, glob=name).documents[0].id == Path(name).stem


def test_a_labelled_pdf_the_glob_leaves_out_is_told_to_widen_the_glob(tmp_path: Path) -> None:
    (tmp_path / "handbook.pdf").write_bytes(pdf_bytes(TRAVEL))
    assert left_out_fix(tmp_path, "**/*.md", "handbook.pdf") == ("its file handbook.pdf is not read with the corpus glob '**/*.md': "
                                                                 "widen the glob, or drop the label")


def test_a_corpus_of_markdown_imports_no_pdf_html_word_or_powerpoint_library(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# A\n", encoding="utf-8")
    (tmp_path / "b.pdf").write_bytes(pdf_bytes(TRAVEL))
    (tmp_path / "c.docx").write_bytes(docx_bytes(lambda document: document.add_paragraph(RECEIPTS)))
    (tmp_path / "d.pptx").write_bytes(pptx_bytes(lambda deck: add_slide(deck, "Expenses", [RECEIPTS])))
    code = ("import json, sys, workbench as wb\n"
            "def loaded(glob):\n"
            "    wb.load_corpus(sys.argv[1], glob=glob)\n"
            "    return sorted(m for m in ('pypdf', 'bs4', 'docx', 'pptx') if m in sys.modules)\n"
            "print(json.dumps([loaded('*.md'), loaded('*')]))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [[], ["docx", "pptx", "pypdf"]]


def test_each_run_records_the_versions_of_the_packages_reading_pdfs_html_pages_word_documents_and_decks() -> None:
    # a promoted configuration's report names them: another pypdf may read other text, another corpus hash
    from importlib import metadata

    from workbench.tracking._run_tags import package_versions

    recorded = json.loads(package_versions())
    packages = ("pypdf", "beautifulsoup4", "python-docx", "python-pptx")
    assert {p: recorded.get(p) for p in packages} == {p: metadata.version(p) for p in packages}


def test_a_bundle_refusing_a_changed_pdf_corpus_names_the_packages_that_read_it(tmp_path: Path) -> None:
    # workbench among them: its own reading changes too (a Word document's numbered lists, read as bullets before)
    from workbench.promotion._bundle import _extracted_fix

    assert _extracted_fix(corpus_of(tmp_path / "md", {"a.md": "# A\n"})) == ""
    assert _extracted_fix(corpus_of(tmp_path / "pdf", {"a.md": "# A\n", "b.pdf": pdf_bytes(TRAVEL)})) == (
        " and the versions of workbench, beautifulsoup4, pypdf, python-docx and python-pptx its EVALUATION.md names (which read its "
        "PDFs, HTML pages, Word documents and PowerPoint decks)")


def test_a_sweep_over_a_pdf_corpus_retrieves_and_answers_from_its_text(tmp_path: Path, wb_settings) -> None:  # type: ignore[no-untyped-def]
    corpus_of(tmp_path, {"travel.pdf": pdf_bytes(TRAVEL, "Trains are booked in second class."), "expenses.html": f"<h1>Expenses</h1><p>{RECEIPTS}</p>"})
    cases = [{"question": "How far ahead are flights booked?", "reference": "14 days ahead", "source_ids": ["travel"]},
             {"question": "When are receipts submitted?", "reference": "within 30 days", "source_ids": ["expenses"]}]
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    spec = wb.ExperimentSpec.from_dict({
        "name": "pdf-kb", "dataset": {"path": "cases.jsonl"}, "corpus": {"path": "kb", "glob": "**/*"},
        "prompts": [{"name": "p", "template": "Context: {context}\nQuestion: {question}"}], "models": [{"id": GEMMA_ID}],
        "chunkers": [{"strategy": "recursive", "size": 200, "overlap": 0}], "retrieval": [{"k": 1}]}, base_dir=tmp_path)

    def answer(prompt) -> str:  # type: ignore[no-untyped-def]
        context = prompt.text.split("Context:", 1)[1].split("Question:", 1)[0]
        return "14 days ahead" if "14 days ahead" in context else "within 30 days" if "within 30 days" in context else "unknown"

    result = wb.run(spec, settings=wb_settings, index_store=MemoryIndexStore(), tracker=MemoryTracker(), progress=False,
                    models={GEMMA_ID: ScriptedModel(answer, model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)})
    (variant,) = result.variants
    assert [[h.chunk.doc_id for h in r.hits] for r in variant.records] == [["travel"], ["expenses"]]
    assert [r.answer for r in variant.records] == ["14 days ahead", "within 30 days"]
    assert "Book flights 14 days ahead" in variant.records[0].prompt and "<" not in variant.records[1].prompt
