"""Benchmark: loading a corpus folder of PDFs, HTML pages, Word documents or PowerPoint decks against the same text as
markdown (no model, no download).

Writes the handbook's pages ``--copies`` times over as .md files, as HTML pages (a <p> per paragraph), as PDFs (a
page per 40 lines of text, Helvetica), as Word documents (python-docx: a heading or a paragraph per markdown block) and
as decks (python-pptx: a slide per heading, titled by it, its paragraphs as the body's bullets), loads each folder with
``load_corpus`` in this one process, and prints each load's time and its ratio to the markdown folder's: what reading
PDFs (pypdf), HTML (BeautifulSoup), Word (python-docx) and PowerPoint (python-pptx) adds to a corpus load. Then the PDF,
HTML, Word and PowerPoint folders are loaded through a cache folder as ``run`` loads them
(``ExtractedTexts``): once into the empty cache (extracting, and keeping the texts) and once more from it (a warm run,
a dry run, a bundle load), with the ratio of the two.

    .venv/bin/python bench/corpus_formats.py [--copies 20]
"""

from __future__ import annotations

import argparse
import html
import tempfile
import time
from pathlib import Path

from docx.document import Document
from pptx.presentation import Presentation

from tests.datasets._docx import docx_bytes
from tests.datasets._pdfs import pdf_bytes
from tests.datasets._pptx import add_slide, pptx_bytes
from workbench.cache import ExtractedTexts
from workbench.datasets import load_corpus

ROOT = Path(__file__).resolve().parents[1]
LINES_PER_PAGE = 40


def _pdf(text: str) -> bytes:
    lines = [line for line in text.splitlines() if line.strip()]
    pages = ["\n".join(lines[i:i + LINES_PER_PAGE]) for i in range(0, len(lines), LINES_PER_PAGE)]
    return pdf_bytes(*pages)


def _html(text: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>\n" for p in text.split("\n\n") if p.strip())
    return f"<!DOCTYPE html><html><head><title>page</title><style>p {{}}</style></head><body>{paragraphs}</body></html>"


def _docx(text: str) -> bytes:
    def write(document: Document) -> None:
        for block in (b.strip() for b in text.split("\n\n") if b.strip()):
            hashes = len(block) - len(block.lstrip("#"))
            if hashes and "\n" not in block:
                document.add_heading(block[hashes:].strip(), min(hashes, 9))
            else:
                document.add_paragraph(block)
    return docx_bytes(write)


def _pptx(text: str) -> bytes:
    def write(deck: Presentation) -> None:
        title, body = None, []
        for block in [b.strip() for b in text.split("\n\n") if b.strip()] + ["# "]:  # the last heading ends the last slide
            if block.startswith("#") and "\n" not in block:
                if title is not None or body:
                    add_slide(deck, title, body)
                title, body = block.lstrip("#").strip(), []
            else:
                body.append(block)
    return pptx_bytes(write)


def write_folders(folder: Path, copies: int) -> tuple[int, int]:
    """The handbook's pages as .md, .html, .pdf, .docx and .pptx files under ``folder``; (files, PDF pages) per format."""
    pages = 0
    files = sorted((ROOT / "datasets" / "handbook").glob("*.md"))
    for n in range(copies):
        for source in files:
            text = source.read_text(encoding="utf-8").encode("latin-1", "replace").decode("latin-1")  # Helvetica's characters
            text = f"Copy {n}\n\n{text}"  # files of their own: the cache keeps one text per content
            name = f"{n}-{source.stem}"
            for kind, data in (("md", text.encode()), ("html", _html(text).encode()), ("pdf", _pdf(text)), ("docx", _docx(text)),
                               ("pptx", _pptx(text))):
                (folder / kind).mkdir(exist_ok=True)
                (folder / kind / f"{name}.{kind}").write_bytes(data)
            pages += -(-len([line for line in text.splitlines() if line.strip()]) // LINES_PER_PAGE)
    return copies * len(files), pages


def timed_load(folder: Path) -> float:
    load_corpus(folder, glob="*")  # imports and first reads are not the corpus's cost
    started = time.perf_counter()
    load_corpus(folder, glob="*")
    return time.perf_counter() - started


def cached_loads(folder: Path, cache_dir: Path) -> tuple[float, float]:
    """The seconds of a load into an empty cache folder, then of one from it (a process of its own would open the
    cache as these do: each load opens it when it meets its first PDF, HTML, Word or PowerPoint file)."""
    seconds = []
    for _ in range(2):
        with ExtractedTexts.in_folder(cache_dir) as texts:
            started = time.perf_counter()
            load_corpus(folder, glob="*", texts=texts)
            seconds.append(time.perf_counter() - started)
    return seconds[0], seconds[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=20, help="how many times the handbook's pages are written")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        files, pages = write_folders(Path(tmp), args.copies)
        times = {kind: timed_load(Path(tmp) / kind) for kind in ("md", "html", "pdf", "docx", "pptx")}
        cached = {kind: cached_loads(Path(tmp) / kind, Path(tmp) / f"cache-{kind}") for kind in ("html", "pdf", "docx", "pptx")}
    print(f"{files} files per format ({pages} PDF pages)")
    for kind, seconds in times.items():
        print(f"{kind:5} {seconds:7.3f} s  {seconds / times['md']:6.1f}x markdown")
    for kind, (cold, warm) in cached.items():
        print(f"{kind:5} through the cache: {cold:7.3f} s extracted and kept, {warm:7.3f} s read back ({cold / warm:5.1f}x faster; "
              f"{warm / times['md']:4.1f}x markdown)")


if __name__ == "__main__":
    main()
