"""Small real PDFs for corpus tests, written byte by byte: Helvetica text streams, one per page."""

from __future__ import annotations

import io


def _escaped(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _content(page: str | None) -> bytes:
    """A page's content stream: its lines of text from the top, or (None) a filled square and no text, as a scan's
    image is to a text extractor."""
    if page is None:
        return b"0 0 1 rg 72 72 200 200 re f"
    lines = " T* ".join(f"({_escaped(line)}) Tj" for line in page.split("\n"))
    return f"BT /F1 12 Tf 14 TL 72 720 Td {lines} ET".encode("latin-1")


def pdf_bytes(*pages: str | None, to_unicode: dict[str, str] | None = None) -> bytes:
    """A PDF of the given pages (text, with '\\n' between lines; None for a page without text). ``to_unicode``: the
    font's character map, character -> the 4 hex digits of its UTF-16 code unit (what a PDF's text means, read back)."""
    count = len(pages)
    page_ids = [4 + 2 * i for i in range(count)]
    cmap_id = 4 + 2 * count
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: f"<< /Type /Pages /Kids [{' '.join(f'{p} 0 R' for p in page_ids)}] /Count {count} >>".encode(),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding%s >>"
           % (b" /ToUnicode %d 0 R" % cmap_id if to_unicode else b""),
    }
    if to_unicode:
        pairs = " ".join(f"<{ord(char):02X}> <{unit}>" for char, unit in to_unicode.items())
        cmap = (f"/CIDInit /ProcSet findresource begin 12 dict begin begincmap 1 begincodespacerange <00> <FF> endcodespacerange "
                f"{len(to_unicode)} beginbfchar {pairs} endbfchar endcmap end end").encode()
        objects[cmap_id] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap)
    for page_id, page in zip(page_ids, pages):
        stream = _content(page)
        objects[page_id] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                            f"/Contents {page_id + 1} 0 R >>").encode()
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in sorted(objects))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def encrypted_pdf_bytes(text: str, *, user_password: str, owner_password: str = "owner") -> bytes:
    """A one-page PDF encrypted with AES-256 by pypdf: ``user_password`` "" opens without one (a PDF that only
    restricts printing or copying)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes(text))))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
