"""Which format a corpus file is read as, and its text extracted once.

A corpus folder's PDF, HTML, Word and PowerPoint files are read by the modules named after them (``_pdf``, ``_html``,
``_word``, ``_slides``; what Word and PowerPoint files share in ``_office``): what a reader sees, not the bytes that
draw it. Each library is imported only when a corpus holds such a file: ``workbench run`` on a folder of markdown
never loads them. Any other file is read as UTF-8 text by the loader.

Extraction costs milliseconds a page, on every load of the corpus: ``extracted_once`` keeps each file's text in a
``TextCache`` (the project's cache, handed in by the runner, the CLI and the widgets), keyed on the file's bytes, the
extracting package's version and ``EXTRACTOR_REVISION``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath
from typing import Literal, Protocol


# the packages whose versions decide a PDF's, an HTML page's, a Word document's or a PowerPoint deck's text, hence the
# corpus's hash: a run records them
FORMAT_PACKAGES = ("beautifulsoup4", "pypdf", "python-docx", "python-pptx")
# bump it when workbench's own reading (_pdf, _html, _word, _slides) changes what it returns for the same file: the texts
# kept are then stale
EXTRACTOR_REVISION = 4  # 2: a PDF keeps where its pages start (metadata 'page_starts'); 3: a Word document's numbered
# lists and headings, list levels by style name, vertically merged cells, list markers and text boxes in table cells;
# 4: a slide's columns read as columns, pictures' alt text read (a slide's, a Word document's), a Word note's list
# items with their markers, a cell merged down rows repeated without its note markers

Format = Literal["pdf", "html", "docx", "pptx"]


@dataclass(frozen=True)
class Extracted:
    """A file's text and what is worth keeping beside it as the document's metadata (``pages``, ``title``)."""

    text: str
    metadata: dict[str, str] = field(default_factory=dict)


def first_line(exc: Exception) -> str:
    shown = str(exc).strip().splitlines()
    return shown[0][:200] if shown else "no detail"


# -- by suffix -------------------------------------------------------------------------------------------------------

def file_format(name: str | PurePath) -> Format | None:
    """Which format a corpus file of this name (or path) is read as, by its suffix in any case: ``pdf``, ``html``,
    ``docx`` (Word's files), ``pptx`` (PowerPoint's, read by ``workbench.datasets._slides``), or None for text (pure)."""
    return _FORMATS.get(PurePath(name).suffix.lower())


# a legacy .doc, a .docm and a template are refused in a line saying to save them as .docx, not as binary "text"; so
# are a legacy .ppt, .pps or .pot, and a PowerPoint template, as .pptx (a .pptm and a .ppsx show are read)
_FORMATS: dict[str, Format] = {".pdf": "pdf", ".html": "html", ".htm": "html",
                               **dict.fromkeys((".docx", ".doc", ".docm", ".dotx", ".dotm"), "docx"),
                               **dict.fromkeys((".pptx", ".pptm", ".ppsx", ".ppsm", ".potx", ".potm", ".ppt", ".pps", ".pot"), "pptx")}
_PACKAGE_OF: dict[Format, str] = {"pdf": "pypdf", "html": "beautifulsoup4", "docx": "python-docx", "pptx": "python-pptx"}


# -- extracted once --------------------------------------------------------------------------------------------------

class TextCache(Protocol):
    """Where the texts of a corpus's PDF and HTML files are kept between loads (``workbench.cache.ExtractedTexts``, in
    the project's cache): any process may read what another extracted."""

    def get(self, key: str) -> Extracted | None: ...

    def put(self, key: str, extracted: Extracted) -> None: ...


@lru_cache(maxsize=None)
def installed_version(package: str) -> str | None:
    """The installed version of a package (None when it is not): read once per process, as the package itself is
    imported once (an upgrade in a running notebook still extracts with the old one until its kernel restarts)."""
    from importlib import metadata

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def extraction_key(kind: Format, data: bytes) -> str | None:
    """What a file's extracted text depends on, hashed (pure but for the package's version): its bytes, its format,
    the version of the package that extracts it and ``EXTRACTOR_REVISION``. None when that package is not installed
    (extraction then says so)."""
    package = _PACKAGE_OF[kind]
    version = installed_version(package)
    if version is None:
        return None
    digest = hashlib.sha256(f"{kind}\0{package}=={version}\0r{EXTRACTOR_REVISION}\0".encode())
    digest.update(data)
    return digest.hexdigest()


def extracted_once(kind: Format, data: bytes, extract: Callable[[], Extracted], texts: TextCache | None) -> Extracted:
    """A PDF's or HTML page's text, from ``texts`` when it was extracted before, else ``extract()``'s, kept there.
    A file ``extract`` refuses (a DataError) is not kept: it is refused again on the next load, which is no slower
    than the refusal was, until it is fixed or left out."""
    key = extraction_key(kind, data) if texts is not None else None
    if texts is None or key is None:
        return extract()
    found = texts.get(key)
    if found is None:
        found = extract()
        texts.put(key, found)
    return found
