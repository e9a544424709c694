"""The text of a corpus folder's PDF and HTML files: what a reader sees, not the bytes that draw it.

A PDF's text layer is extracted with pypdf, its pages joined by a blank line; an HTML page's visible text with
BeautifulSoup (Python's own "html.parser"), its blocks (headings, paragraphs, list items, table rows) on lines of their
own so that chunkers split where the page does. Both libraries are imported only when a corpus holds such a file:
``workbench run`` on a folder of markdown never loads them. Any other file is read as UTF-8 text by the loader.

Extraction costs milliseconds a page, on every load of the corpus: ``extracted_once`` keeps each file's text in a
``TextCache`` (the project's cache, handed in by the runner, the CLI and the widgets), keyed on the file's bytes, the
extracting package's version and ``EXTRACTOR_REVISION``.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import logging
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePath
from typing import TYPE_CHECKING, Literal, Protocol

from workbench.errors import DataError

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

# the packages whose versions decide a PDF's or an HTML page's text, hence the corpus's hash: a run records them
FORMAT_PACKAGES = ("beautifulsoup4", "pypdf")
# bump it when this module's own extraction changes what it returns for the same file: the texts kept are then stale
EXTRACTOR_REVISION = 1

Format = Literal["pdf", "html"]


@dataclass(frozen=True)
class Extracted:
    """A file's text and what is worth keeping beside it as the document's metadata (``pages``, ``title``)."""

    text: str
    metadata: dict[str, str] = field(default_factory=dict)


# -- PDF -------------------------------------------------------------------------------------------------------------

# pypdf logs the oddities of a file it reads anyway (a wrong cross-reference offset, a missing font width) on its own
# loggers, which printed them on every load of the corpus. Its level is set and put back under a lock, since threads (a
# notebook's widgets, a sweep's) may load corpora at once; pypdf is pure Python, so they lose no parallelism.
_PYPDF_LOGGER_LOCK = threading.Lock()
# what a font's broken character map can make pypdf give: lone surrogates (which the corpus hash cannot encode) and
# NUL, each read as the replacement character
_UNENCODABLE = re.compile("[\ud800-\udfff\x00]")


@contextlib.contextmanager
def _quiet_pypdf() -> Iterator[None]:
    logger = logging.getLogger("pypdf")
    with _PYPDF_LOGGER_LOCK:
        level = logger.level
        logger.setLevel(logging.CRITICAL)
        try:
            yield
        finally:
            logger.setLevel(level)


def pdf_text(data: bytes, where: str, leave_out: str) -> Extracted:
    """The text layer of a PDF's pages, joined by a blank line; its page count as metadata.

    Args:
        data: the file's bytes.
        where: the file, as error messages name it.
        leave_out: the end of a message saying how to leave the file out of the corpus.

    Raises:
        DataError: an encrypted PDF that opens only with a password, a PDF without a text layer (a scan), or one pypdf
            cannot parse (truncated, corrupt).
    """
    from pypdf import PasswordType, PdfReader
    from pypdf.errors import DependencyError

    with _quiet_pypdf():
        try:
            reader = PdfReader(io.BytesIO(data))
            # most "encrypted" PDFs only restrict printing or copying and open with the empty password, as viewers do
            locked = reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED
            pages = [] if locked else [page.extract_text() or "" for page in reader.pages]
        except DependencyError as exc:  # AES without the cryptography package
            raise DataError(f"{where}: an encrypted PDF, which pypdf reads only with another package ({_first_line(exc)}) — "
                            f"pip install cryptography, or {leave_out}") from None
        # pypdf raises what its parser meets on a malformed file (PdfReadError, but also KeyError, ValueError, TypeError,
        # AssertionError, zlib.error...): every one of them means the same to the corpus, at this one boundary
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"{where}: not a readable PDF ({type(exc).__name__}: {_first_line(exc)}) — the file may be "
                            f"truncated or damaged: download or export it again, or {leave_out}") from None
    if locked:
        raise DataError(f"{where}: an encrypted PDF that opens only with a password — save a copy without it "
                        f"(qpdf --decrypt --password=... in.pdf out.pdf), or {leave_out}")
    text = _UNENCODABLE.sub("\ufffd", "\n\n".join(page.strip() for page in pages if page.strip()))
    if not text:
        raise DataError(f"{where}: a PDF with no text layer ({len(pages)} page{'' if len(pages) == 1 else 's'} without text: a "
                        f"scan?) — OCR it (ocrmypdf in.pdf out.pdf), or {leave_out}")
    return Extracted(text, {"pages": str(len(pages))})


def _first_line(exc: Exception) -> str:
    shown = str(exc).strip().splitlines()
    return shown[0][:200] if shown else "no detail"


# -- HTML ------------------------------------------------------------------------------------------------------------

# what a browser does not show as the page's text; <head> holds <title>, taken apart
_HIDDEN = frozenset({"head", "script", "style", "noscript", "template", "svg", "iframe", "object"})
# blocks a blank line separates, as markdown's paragraphs are (a recursive chunker cuts at blank lines first)
_PARAGRAPHS = frozenset({"address", "article", "aside", "blockquote", "dl", "details", "div", "fieldset", "figure",
                         "figcaption", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "main", "nav",
                         "ol", "p", "pre", "section", "summary", "table", "ul"})
# blocks on a line of their own
_LINES = frozenset({"br", "caption", "dd", "dt", "li", "tr"})
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"\s+")
# where blocks start and end, as characters pages do not hold (C0 separators, not allowed in HTML), until the text is
# laid out in lines
_PARAGRAPH, _LINE = "\x1e", "\x1f"
_MARKS = re.compile(r" *[\x1e\x1f][\s\x1e\x1f]*")  # with the spaces around them
# a charset a page declares in its first bytes: <meta charset="..."> or <meta http-equiv="Content-Type" content="...; charset=...">
_DECLARED_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)


def declared_charset(data: bytes) -> str | None:
    """The encoding an HTML page declares in its first 2 KB, when Python knows it and it is not UTF-8 (pure): a page
    saved by a browser from a Windows-1252 or Shift JIS site says so in a <meta> tag."""
    found = _DECLARED_CHARSET.search(data[:2048])
    if found is None:
        return None
    try:
        name = codecs.lookup(found.group(1).decode("ascii")).name
    except LookupError:
        return None
    return None if name == "utf-8" else name


def html_text(markup: str) -> Extracted:
    """The visible text of an HTML page (pure): scripts, styles and <head> dropped, entities decoded, each heading,
    paragraph, list item and table row on a line of its own and paragraphs apart, whitespace as a browser collapses
    it (kept inside <pre>). The page's <title> is the first line unless the text already starts with it (its <h1>
    often does), and is kept as metadata."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    title_tag = next((t for t in soup.find_all("title") if t.find_parent("svg") is None), None)  # an icon's <title> is no page's
    title = _SPACES.sub(" ", title_tag.get_text()).strip() if title_tag else ""
    text = _tidy("".join(_visible_pieces(soup)))
    if title and not text.startswith(title):
        text = f"{title}\n\n{text}".strip()
    return Extracted(text, {"title": title} if title else {})


def _visible_pieces(soup: BeautifulSoup) -> Iterator[str]:
    """The page's visible strings in order, with marks where its blocks start and end and a separator before each
    table cell. Walked once, with a stack of its open elements rather than recursion (a page may nest deeper than Python
    recurses) or edits of the tree (each of which bs4 does in time linear in an element's siblings: a 15 MB page took
    two minutes)."""
    from bs4.element import NavigableString, PreformattedString, Tag

    stack: list[tuple[Iterator[object], str, bool]] = [(iter(soup.contents), "", False)]
    while stack:
        children, after, in_pre = stack[-1]
        node = next(children, None)
        if node is None:
            stack.pop()
            yield after
        elif isinstance(node, Tag) and node.name not in _HIDDEN:
            mark = _PARAGRAPH if node.name in _PARAGRAPHS else _LINE if node.name in _LINES else ""
            # a separator before each cell, not after it: html.parser closes no element the page leaves open, so the
            # cells of '<tr><td>a<td>b' are nested, and end together
            yield " | " if node.name in _CELLS else mark
            stack.append((iter(node.contents), mark, in_pre or node.name == "pre"))
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):  # not comments, <!DOCTYPE>, CDATA
            yield str(node) if in_pre else _SPACES.sub(" ", node)


def _tidy(text: str) -> str:
    """The marked text as lines (pure): a run of marks is a blank line when a paragraph's is among them, else one line
    break; the spaces beside them, and the separator before a row's first cell, dropped."""
    lines = _MARKS.sub(lambda run: "\n\n" if _PARAGRAPH in run.group() else "\n", text).split("\n")
    return "\n".join(line.removeprefix("| ").rstrip() for line in lines).strip()


# -- by suffix -------------------------------------------------------------------------------------------------------

def file_format(name: str | PurePath) -> Format | None:
    """Which format a corpus file of this name (or path) is read as, by its suffix in any case: ``pdf``, ``html``, or
    None for text (pure)."""
    return _FORMATS.get(PurePath(name).suffix.lower())


_FORMATS: dict[str, Format] = {".pdf": "pdf", ".html": "html", ".htm": "html"}
_PACKAGE_OF: dict[Format, str] = {"pdf": "pypdf", "html": "beautifulsoup4"}


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
