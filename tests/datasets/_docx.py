"""Small real Word files for corpus tests: .docx documents written by python-docx, what Word adds that python-docx does
not write (tracked changes, content controls) put into their XML, and Office 97-2003 compound files written byte by byte."""

from __future__ import annotations

import io
import re
import struct
import zipfile
from collections.abc import Callable
from typing import Any

from docx.document import Document

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx_bytes(build: Callable[[Document], object], *, title: str = "") -> bytes:
    """A .docx whose body ``build`` writes into python-docx's blank document; ``title``: its core properties' title."""
    import docx

    document = docx.Document()
    document.core_properties.title = title
    build(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def element(xml: str) -> Any:
    """An element written as WordprocessingML (its ``w:`` namespace declared here)."""
    from docx.oxml import parse_xml

    return parse_xml(xml.replace(">", f" {W}>", 1))


def append_xml(document: Document, xml: str) -> None:
    """Append a body-level element (a paragraph, a content control) to the document's body."""
    document.element.body.sectPr.addprevious(element(xml))


def add_notes(document: Document, kind: str, notes: dict[str, str | tuple[str, ...]]) -> None:
    """Give the document a part of footnotes (``kind`` footnote) or endnotes holding these notes by their id, after the
    two separators Word writes first: a note's text, or its paragraphs after the first (holding its mark) as XML."""
    from docx.opc.constants import CONTENT_TYPE, RELATIONSHIP_TYPE
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    separators = "".join(f'<w:{kind} w:type="{t}" w:id="{i}"><w:p><w:r><w:{t}/></w:r></w:p></w:{kind}>'
                         for i, t in (("-1", "separator"), ("0", "continuationSeparator")))
    written = "".join(f'<w:{kind} w:id="{i}"><w:p><w:r><w:{kind}Ref/></w:r>'
                      + (f'<w:r><w:t xml:space="preserve"> {text}</w:t></w:r></w:p>' if isinstance(text, str) else f'</w:p>{"".join(text)}')
                      + f'</w:{kind}>' for i, text in notes.items())
    xml = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:{kind}s {W}>{separators}{written}</w:{kind}s>'
    content_type, relationship = ((CONTENT_TYPE.WML_FOOTNOTES, RELATIONSHIP_TYPE.FOOTNOTES) if kind == "footnote"
                                  else (CONTENT_TYPE.WML_ENDNOTES, RELATIONSHIP_TYPE.ENDNOTES))
    part = Part(PackURI(f"/word/{kind}s.xml"), content_type, xml.encode(), document.part.package)
    document.part.relate_to(part, relationship)


def with_main_content_type(data: bytes, content_type: str) -> bytes:
    """The same .docx with its main part declared as another content type (a .docm's, a template's, a workbook's)."""
    return _edited(data, "[Content_Types].xml", rb'(PartName="/word/document.xml" ContentType=")[^"]+', rb"\g<1>" + content_type.encode())


def as_strict(data: bytes) -> bytes:
    """The same .docx with its main part related as Word's "Strict Open XML" format relates it (names under
    purl.oclc.org, not openxmlformats.org)."""
    return _edited(data, "_rels/.rels", rb"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument",
                   b"http://purl.oclc.org/ooxml/officeDocument/relationships/officeDocument")


def _edited(data: bytes, name: str, pattern: bytes, replacement: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            target.writestr(item, re.sub(pattern, replacement, content) if item.filename == name else content)
    return out.getvalue()


def ole_bytes(*streams: str) -> bytes:
    """An OLE compound file (Office 97-2003's container) holding empty streams of these names: ``WordDocument`` for a
    .doc, ``EncryptionInfo`` and ``EncryptedPackage`` for a .docx that Word encrypted with a password."""
    end, free = 0xFFFFFFFE, 0xFFFFFFFF
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0) + struct.pack("<109I", 0, *[free] * 108))
    fat = struct.pack("<128I", 0xFFFFFFFD, end, *[free] * 126)  # sector 0: this table; sector 1: the directory
    names = ["Root Entry", *streams]
    entries = b"".join(_directory_entry(name, 5 if n == 0 else 2, child=1 if n == 0 else free,
                                        right=n + 1 if 0 < n < len(names) - 1 else free) for n, name in enumerate(names))
    directory = entries + bytes(512 - len(entries))
    return header + fat + directory


def _directory_entry(name: str, kind: int, *, child: int, right: int) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return (encoded.ljust(64, b"\0") + struct.pack("<HBBIII", len(encoded), kind, 1, 0xFFFFFFFF, right, child) + bytes(16)
            + struct.pack("<IQQIQ", 0, 0, 0, 0xFFFFFFFE, 0))
