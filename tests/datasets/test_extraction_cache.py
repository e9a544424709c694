"""A corpus's PDF and HTML texts are extracted once and kept in the project's cache (kind ``text``): a warm run, a
dry run, a ChunkExplorer or a second load reads them back instead of running pypdf and BeautifulSoup again."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import workbench as wb
from workbench.cache import DiskCacheStore, ExtractedTexts, MemoryCacheStore
from workbench.cli import main
from workbench.config import Settings
from workbench.datasets import _formats, load_corpus
from workbench.errors import DataError
from workbench.models import GEMMA_ID, MINILM_ID
from workbench.pipeline import MemoryIndexStore
from workbench.testing import HashingEmbedder, ScriptedModel
from workbench.tracking import MemoryTracker

from tests.datasets._docx import docx_bytes
from tests.datasets._pdfs import pdf_bytes
from tests.datasets._pptx import add_slide, pptx_bytes
from tests.datasets._files import write_kb

TRAVEL = "Travel policy\nBook flights 14 days ahead of the trip."
RECEIPTS = "Expenses\nSubmit receipts within 30 days."


@pytest.fixture
def extractions(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many PDFs pypdf opened and HTML pages BeautifulSoup parsed."""
    import bs4
    import pypdf

    counts = {"pdf": 0, "html": 0}

    def counted(kind: str, real: type) -> type:
        def make(*args: object, **kwargs: object) -> object:
            counts[kind] += 1
            return real(*args, **kwargs)
        return make  # type: ignore[return-value]

    monkeypatch.setattr(pypdf, "PdfReader", counted("pdf", pypdf.PdfReader))
    monkeypatch.setattr(bs4, "BeautifulSoup", counted("html", bs4.BeautifulSoup))
    return counts


def test_a_second_load_reads_the_texts_back_and_markdown_is_not_kept(tmp_path: Path, extractions: dict[str, int]) -> None:
    kb = write_kb(tmp_path / "kb", {"travel.pdf": pdf_bytes(TRAVEL, "Trains: second class."), "expenses.html": f"<title>Exp</title><p>{RECEIPTS}</p>",
                                    "leave.md": "# Leave\n"})
    store = MemoryCacheStore()
    first = load_corpus(kb, glob="*", texts=ExtractedTexts(store))
    second = load_corpus(kb, glob="*", texts=ExtractedTexts(store))
    assert extractions == {"pdf": 1, "html": 1}
    assert second == first and second.hash == first.hash
    assert second.get("travel").metadata == {"path": "travel.pdf", "pages": "2", "page_starts": f"0 {len(TRAVEL) + 2}"} and second.get("expenses").metadata["title"] == "Exp"
    assert store.info().entries == {"text": 2}  # the markdown file is read, as cheaply as it would be hashed


def test_a_changed_file_and_another_package_version_are_extracted_again(tmp_path: Path, extractions: dict[str, int],
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    kb = write_kb(tmp_path / "kb", {"travel.pdf": pdf_bytes(TRAVEL)})
    texts = ExtractedTexts(MemoryCacheStore())
    load_corpus(kb, glob="*", texts=texts)
    (kb / "travel.pdf").write_bytes(pdf_bytes(RECEIPTS))
    assert load_corpus(kb, glob="*", texts=texts).documents[0].text == RECEIPTS
    assert extractions["pdf"] == 2
    load_corpus(kb, glob="*", texts=texts)
    assert extractions["pdf"] == 2

    real = _formats.installed_version
    monkeypatch.setattr(_formats, "installed_version", lambda package: "99.0" if package == "pypdf" else real(package))
    load_corpus(kb, glob="*", texts=texts)
    assert extractions["pdf"] == 3
    monkeypatch.setattr(_formats, "EXTRACTOR_REVISION", _formats.EXTRACTOR_REVISION + 1)  # our own extraction changed
    load_corpus(kb, glob="*", texts=texts)
    assert extractions["pdf"] == 4


def test_a_word_documents_text_is_kept_and_another_python_docx_extracts_it_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from docx.package import Package

    kb = write_kb(tmp_path / "kb", {"travel.docx": docx_bytes(lambda document: document.add_paragraph(TRAVEL), title="Travel")})
    opened: list[object] = []
    real_open, real_version = Package.open, _formats.installed_version
    monkeypatch.setattr(Package, "open", classmethod(lambda cls, file: opened.append(file) or real_open(file)))
    store = MemoryCacheStore()
    first = load_corpus(kb, glob="*", texts=ExtractedTexts(store))
    second = load_corpus(kb, glob="*", texts=ExtractedTexts(store))
    assert len(opened) == 1 and store.info().entries == {"text": 1}
    assert second == first and second.documents[0].metadata == {"path": "travel.docx", "title": "Travel"}
    monkeypatch.setattr(_formats, "installed_version", lambda package: "99.0" if package == "python-docx" else real_version(package))
    assert load_corpus(kb, glob="*", texts=ExtractedTexts(store)) == first
    assert len(opened) == 2


def test_a_word_text_kept_by_an_older_extraction_is_extracted_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = docx_bytes(lambda document: document.add_paragraph("Taxis", style="List Number"))
    kb = write_kb(tmp_path / "kb", {"travel.docx": data})
    store = MemoryCacheStore()
    with monkeypatch.context() as older:  # revision 2 read a numbered item as a bullet
        older.setattr(_formats, "EXTRACTOR_REVISION", 2)
        ExtractedTexts(store).put(_formats.extraction_key("docx", data) or "", _formats.Extracted("- Taxis"))
    assert load_corpus(kb, glob="*", texts=ExtractedTexts(store)).documents[0].text == "1. Taxis"
    assert store.info().entries == {"text": 2}


def test_a_decks_text_and_slides_are_kept_and_another_python_pptx_extracts_them_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pptx.package import Package

    def deck(deck):  # type: ignore[no-untyped-def]
        add_slide(deck, "Travel", ["Book flights 14 days ahead."])
        add_slide(deck, "Expenses", ["Submit receipts within 30 days."])

    kb = write_kb(tmp_path / "kb", {"travel.pptx": pptx_bytes(deck, title="Policies")})
    opened: list[object] = []
    real_open, real_version = Package.open, _formats.installed_version
    monkeypatch.setattr(Package, "open", classmethod(lambda cls, file: opened.append(file) or real_open(file)))
    store = MemoryCacheStore()
    first = load_corpus(kb, glob="*", texts=ExtractedTexts(store))
    second = load_corpus(kb, glob="*", texts=ExtractedTexts(store))
    assert len(opened) == 1 and store.info().entries == {"text": 1}
    assert second == first and second.documents[0].metadata == first.documents[0].metadata == {
        "path": "travel.pptx", "pages": "2", "page_starts": f"0 {first.documents[0].text.index('# Expenses')}", "title": "Policies"}
    monkeypatch.setattr(_formats, "installed_version", lambda package: "99.0" if package == "python-pptx" else real_version(package))
    assert load_corpus(kb, glob="*", texts=ExtractedTexts(store)) == first
    assert len(opened) == 2


def test_a_refused_file_is_not_kept_and_is_refused_again(tmp_path: Path, extractions: dict[str, int]) -> None:
    kb = write_kb(tmp_path / "kb", {"scan.pdf": pdf_bytes(None)})
    store = MemoryCacheStore()
    for _ in range(2):
        with pytest.raises(DataError, match="a PDF with no text layer"):
            load_corpus(kb, glob="*", texts=ExtractedTexts(store))
    assert extractions["pdf"] == 2 and store.info().entries == {}


def test_cache_info_shows_the_texts_and_cache_clear_removes_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str], extractions: dict[str, int]) -> None:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    kb = write_kb(tmp_path / "kb", {"a.pdf": pdf_bytes(TRAVEL), "b.htm": f"<p>{RECEIPTS}</p>"})
    texts = ExtractedTexts.in_folder(tmp_path / "home" / "cache")
    load_corpus(kb, glob="*", texts=texts)
    load_corpus(kb, glob="*", texts=texts)
    texts.close()
    assert main(["cache", "info"]) == 0
    assert re.search(r"text\s+2 entries\s+2 hits\s+2 misses", capsys.readouterr().out)
    assert main(["cache", "clear"]) == 0
    assert "removed 2 cache entries" in capsys.readouterr().out
    texts = ExtractedTexts.in_folder(tmp_path / "home" / "cache")
    load_corpus(kb, glob="*", texts=texts)
    texts.close()
    assert extractions == {"pdf": 2, "html": 2}


def test_an_unusable_cache_folder_only_costs_the_extraction(tmp_path: Path, extractions: dict[str, int]) -> None:
    (tmp_path / "cache").write_text("not a folder")  # WORKBENCH_CACHE_DIR pointing at a file: the sweep says so, not the corpus
    kb = write_kb(tmp_path / "kb", {"a.pdf": pdf_bytes(TRAVEL)})
    texts = ExtractedTexts.in_folder(tmp_path / "cache")
    assert load_corpus(kb, glob="*", texts=texts).documents[0].text == TRAVEL
    assert load_corpus(kb, glob="*", texts=texts).documents[0].text == TRAVEL
    assert extractions["pdf"] == 2


def pdf_experiment(tmp_path: Path) -> wb.ExperimentSpec:
    write_kb(tmp_path / "kb", {"travel.pdf": pdf_bytes(TRAVEL), "expenses.html": f"<h1>Expenses</h1><p>{RECEIPTS}</p>"})
    cases = [{"question": "How far ahead are flights booked?", "reference": "14 days ahead", "source_ids": ["travel"]}]
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return wb.ExperimentSpec.from_dict({
        "name": "pdf-kb", "dataset": {"path": "cases.jsonl"}, "corpus": {"path": "kb", "glob": "**/*"},
        "prompts": [{"name": "p", "template": "Context: {context}\nQuestion: {question}"}], "models": [{"id": GEMMA_ID}],
        "chunkers": [{"strategy": "recursive", "size": 200, "overlap": 0}], "retrieval": [{"k": 1}]}, base_dir=tmp_path)


def test_a_warm_run_over_a_pdf_corpus_extracts_nothing(tmp_path: Path, wb_settings: Settings, extractions: dict[str, int]) -> None:
    spec = pdf_experiment(tmp_path)
    models = {GEMMA_ID: ScriptedModel(lambda prompt: "14 days", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    tracker = MemoryTracker()
    first = wb.run(spec, settings=wb_settings, index_store=MemoryIndexStore(), tracker=tracker, progress=False, models=models)
    assert extractions == {"pdf": 1, "html": 1}
    plan = wb.plan_sweep(spec, settings=wb_settings, models=models)  # a dry run reads the texts too
    warm = wb.run(spec, settings=wb_settings, index_store=MemoryIndexStore(), tracker=tracker, progress=False, models=models)
    assert extractions == {"pdf": 1, "html": 1}
    assert warm.corpus.hash == first.corpus.hash and plan is not None
    store = DiskCacheStore(wb_settings.cache_dir)
    assert store.info().entries.get("text") == 2
    store.close()


def test_a_dry_run_in_a_fresh_folder_extracts_but_keeps_nothing(tmp_path: Path, wb_settings: Settings, extractions: dict[str, int]) -> None:
    spec = pdf_experiment(tmp_path)
    models = {GEMMA_ID: ScriptedModel(lambda prompt: "14 days", model_id=GEMMA_ID), MINILM_ID: HashingEmbedder(model_id=MINILM_ID)}
    wb.plan_sweep(spec, settings=wb_settings, models=models)
    assert extractions == {"pdf": 1, "html": 1} and not wb_settings.cache_dir.exists()


def test_a_chunk_explorer_made_again_over_a_pdf_folder_extracts_nothing(tmp_path: Path, wb_settings: Settings,
                                                                         extractions: dict[str, int]) -> None:
    from workbench.widgets import ChunkExplorer

    spec = pdf_experiment(tmp_path)
    for _ in range(2):
        explorer = ChunkExplorer(tmp_path / "kb", glob="**/*", experiment=spec, run_options={"settings": wb_settings})
    assert extractions == {"pdf": 1, "html": 1} and explorer.corpus.get("travel").text == TRAVEL


def test_a_bundle_keeps_its_corpus_texts_only_in_a_project_with_a_workbench_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                                  extractions: dict[str, int]) -> None:
    # a deployment's repository without .workbench/ is left without one: its next export would refuse it as uncommitted
    from workbench.promotion._bundle import _project_texts

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WORKBENCH_CACHE_DIR", raising=False)
    kb = write_kb(tmp_path / "kb", {"a.pdf": pdf_bytes(TRAVEL)})
    for _ in range(2):
        with _project_texts() as texts:
            load_corpus(kb, glob="*", texts=texts)
    assert texts is None and not (tmp_path / "home").exists() and extractions["pdf"] == 2
    (tmp_path / "home").mkdir()
    for _ in range(2):
        with _project_texts() as texts:
            load_corpus(kb, glob="*", texts=texts)
    assert extractions["pdf"] == 3


def test_a_cache_that_fails_while_read_costs_only_the_extraction(tmp_path: Path, extractions: dict[str, int]) -> None:
    from workbench.errors import WorkbenchError

    class Damaged(MemoryCacheStore):
        def get(self, kind, key):  # type: ignore[no-untyped-def]
            raise WorkbenchError("cache.db: the answer cache cannot be read (database disk image is malformed)")

    kb = write_kb(tmp_path / "kb", {"a.pdf": pdf_bytes(TRAVEL), "b.pdf": pdf_bytes(RECEIPTS)})
    store = Damaged()
    assert [d.text for d in load_corpus(kb, glob="*", texts=ExtractedTexts(store)).documents] == [TRAVEL, RECEIPTS]
    assert extractions["pdf"] == 2 and store.info().entries == {}
