"""What Word documents and PowerPoint decks share: a package opened, or refused in one line (an Office 97-2003 file, a
password-protected one, another file of the same application, one saved as Strict Open XML, a damaged one), the title in
its core properties, a picture's alt text, and its blocks joined as markdown's paragraphs."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any, TypeVar

from workbench.datasets._formats import first_line
from workbench.errors import DataError

T = TypeVar("T")

# an OLE compound file's first bytes: a Word 97-2003 .doc (or another Office 97-2003 file), or a .docx that Word
# encrypted with a password, which it stores as an "EncryptedPackage" stream inside such a file, not as a zip archive
_OLE_FILE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_STRICT_DOCUMENT = b"http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument"


def joined_blocks(blocks: list[tuple[str, bool]]) -> str:
    """The text of a document's blocks, each with whether it is a list item (pure): an item on the line after the item
    before it, any other block a blank line apart, as markdown's paragraphs are (a recursive chunker cuts there first)."""
    pieces: list[str] = []
    after_item = False
    for block, item in blocks:
        if pieces:
            pieces.append("\n" if item and after_item else "\n\n")
        pieces.append(block)
        after_item = item
    return "".join(pieces)


# what Office (or a library) writes where no one wrote alt text: the picture's name ("Picture 3", as the shape is named),
# its file's name, or Office's own guess at what it shows ("A picture containing text  Description automatically
# generated"), which says what the picture looks like, not what it says
_DEFAULT_NAME = re.compile(r"(?:picture|image|graphic|grafik|bild|imagen|immagine|content placeholder)\s*\d*", re.IGNORECASE)
_FILE_NAME = re.compile(r"\S*\.(?:png|jpe?g|gif|bmp|tiff?|emf|wmf|svg|webp|heic)", re.IGNORECASE)
_GENERATED = "description automatically generated"
_PANDOC_FIGURE = "fig:"  # pandoc titles a figure's picture so (and writes it before a deck's picture's file name)


def alt_text(description: str | None, title: str | None, name: str | None) -> str:
    """A picture's alt text as its document reads it (pure): ``[Image: its title: its description]`` (either alone when
    the other is empty or the same; no colon after a title ending as a sentence does), its whitespace collapsed; "" when none was written, or only what Office or a
    library writes there itself: its ``name`` ("Picture 3"), a default name, a file name, an alt text Office generated
    (pandoc's "fig:" before a figure's alt text is left out too).

    Args:
        description: the ``descr`` of its non-visual properties (Office's Edit Alt Text box).
        title: their ``title`` (older Office versions' alt text title).
        name: their ``name``, the shape's name in the Selection Pane.
    """
    own = " ".join((name or "").split()).casefold()
    written = []
    for text in (title, description):
        text = " ".join((text or "").split()).removeprefix(_PANDOC_FIGURE).strip()
        if (text and text.casefold() != own and not _DEFAULT_NAME.fullmatch(text) and not _FILE_NAME.fullmatch(text)
                and _GENERATED not in text.casefold() and text.casefold() not in map(str.casefold, written)):
            written.append(text)
    if not written:
        return ""
    first, *rest = written
    return f"[Image: {first}{' ' if first[-1] in '.:;!?' else ': '}{rest[0]}]" if rest else f"[Image: {first}]"


def _saved_as_strict(data: bytes) -> bool:
    """Whether a zip archive is a document Word saved as "Strict Open XML", whose main part python-docx does not find
    (it is related by a name under purl.oclc.org)."""
    try:
        return _STRICT_DOCUMENT in zipfile.ZipFile(io.BytesIO(data)).read("_rels/.rels")
    except (zipfile.BadZipFile, KeyError, OSError, EOFError):
        return False


@dataclass(frozen=True)
class OfficeFormat:
    """An Office application's files as a corpus reads them: which main parts it reads, and how its refusals name them.

    Attributes:
        document: what one file is, after "a" ("Word document", "PowerPoint presentation").
        application: the application, as its menus are named ("Word", "PowerPoint").
        suffix: the suffix of the files it reads (".docx", ".pptx"), which a refused file is told to be saved as.
        save_as: the file type the application's Save As lists for it ("Word Document", "PowerPoint Presentation").
        legacy: its Office 97-2003 file ("a Word 97-2003 document (.doc)").
        protect: the Info menu's entry that encrypts it ("Protect Document").
        main_parts: the content types of the main parts read.
        others: the other main parts the application writes (a template, a macro-enabled file), each as a refusal names it.
        open: the package of a file's bytes (python-docx's or python-pptx's, imported only when a file is read).
    """

    document: str
    application: str
    suffix: str
    save_as: str
    legacy: str
    protect: str
    main_parts: frozenset[str]
    others: Mapping[str, str]
    open: Callable[[IO[bytes]], Any]

    @property
    def _save_as(self) -> str:
        return f", which is not read — save it as a {self.save_as} ({self.suffix})"

    def read(self, data: bytes, where: str, leave_out: str, read: Callable[[Any, Any], T]) -> T:
        """What ``read`` makes of a file's package and main part.

        Args:
            data: the file's bytes.
            where: the file, as error messages name it.
            leave_out: the end of a message saying how to leave the file out of the corpus.
            read: what to make of the package and its main part, once the part is one this format reads.

        Raises:
            DataError: an Office 97-2003 file, a password-protected file, another file of the application (a template),
                one saved as Strict Open XML, or a file that cannot be read (truncated, damaged, or another kind of file
                named as this one).
        """
        if data.startswith(_OLE_FILE):
            raise DataError(self._ole_refusal(data, where, leave_out))
        # python-docx and python-pptx raise what zipfile, lxml and their own parts meet in a malformed file (BadZipFile,
        # KeyError, XMLSyntaxError, ValueError...): every one of them means the same to the corpus, at this one boundary
        try:
            package = self.open(io.BytesIO(data))
            part = package.main_document_part
            content_type = part.content_type
            read_it = content_type in self.main_parts
            found = read(package, part) if read_it else None
        except Exception as exc:  # noqa: BLE001
            if _saved_as_strict(data):
                raise DataError(f"{where}: a {self.document} saved as Strict Open XML{self._save_as}, or {leave_out}") from None
            raise DataError(f"{where}: not a readable {self.document} ({type(exc).__name__}: {first_line(exc)}) — the file may be "
                            f"truncated or damaged, or another kind of file named {self.suffix}: save it again as {self.suffix}, "
                            f"or {leave_out}") from None
        if not read_it:
            what = self.others.get(content_type, f"an Office file but not a {self.document} (its main part is {content_type})")
            raise DataError(f"{where}: {what}{self._save_as}, or {leave_out}")
        return found  # type: ignore[return-value]

    def _ole_refusal(self, data: bytes, where: str, leave_out: str) -> str:
        app = self.application
        if _ENCRYPTED_PACKAGE in data:
            return (f"{where}: a password-protected {self.document} — save a copy without the password ({app}: File > Info > "
                    f"{self.protect} > Encrypt with Password, cleared), or {leave_out}")
        return (f"{where}: {self.legacy} or another Office 97-2003 file, which is not read — save it as {self.suffix} ({app}: File "
                f"> Save As > {self.save_as}, or libreoffice --headless --convert-to {self.suffix[1:]} FILE), or {leave_out}")


def core_title(package: Any, title_of: Callable[[Any], str | None]) -> str:
    """The title in a package's core properties, ``title_of`` its core properties part ("" when it has none: python-docx
    and python-pptx would make one up)."""
    try:
        part = package.part_related_by("http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties")
    except KeyError:
        return ""
    return " ".join((title_of(part) or "").split())
