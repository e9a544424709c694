"""What Word documents and PowerPoint decks share: the OLE container of their Office 97-2003 files and of a password-
protected one, the Strict Open XML they may be saved as, and their blocks joined as markdown's paragraphs."""

from __future__ import annotations

import io
import zipfile

# an OLE compound file's first bytes: a Word 97-2003 .doc (or another Office 97-2003 file), or a .docx that Word
# encrypted with a password, which it stores as an "EncryptedPackage" stream inside such a file, not as a zip archive
OLE_FILE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
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


def saved_as_strict(data: bytes) -> bool:
    """Whether a zip archive is a document Word saved as "Strict Open XML", whose main part python-docx does not find
    (it is related by a name under purl.oclc.org)."""
    try:
        return _STRICT_DOCUMENT in zipfile.ZipFile(io.BytesIO(data)).read("_rels/.rels")
    except (zipfile.BadZipFile, KeyError, OSError, EOFError):
        return False
