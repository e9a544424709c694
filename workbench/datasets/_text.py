"""Reading a file's bytes as text: UTF-8 (a byte-order mark dropped), with one line naming the line and byte offset
of what is not (UTF-16, binary data, another encoding); an HTML page in the encoding it declares."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from workbench.datasets._html import declared_charset
from workbench.errors import DataError

_BOM = b"\xef\xbb\xbf"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _is_utf16(data: bytes) -> bool:
    """Whether bytes are UTF-16 text: a byte-order mark, and they decode as UTF-16."""
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    try:
        data.decode("utf-16")
    except UnicodeDecodeError:
        return False
    return True


def read_text(path: Path, fix: str) -> str:
    """A text file's content: UTF-8 (an optional BOM is dropped), no NUL bytes.

    Args:
        path: the file.
        fix: what the user should do, ending every error message (e.g. ``save the file as UTF-8``).

    Raises:
        DataError: one line naming the file, the line and the byte offset of the first bad byte, or why the file
            cannot be read.
    """
    return _utf8_text(_read_bytes(path), path, fix)


def utf8_lines(path: Path, fix: str) -> Iterator[tuple[int, str]]:
    """A text file's lines, numbered from 1, read one at a time (a 2 GB export is never held whole, nor twice): as
    ``read_text`` reads them, each ending in ``\n`` (the last one maybe not), a first byte-order mark dropped; lines
    end at ``\n`` only, a ``\r`` before it kept (``_one_line_break`` is the reader's).

    Raises:
        DataError: as ``read_text``: one line naming the file, the line and the byte offset of the first bad byte.
    """
    try:
        file = path.open("rb")
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc}) — check that it exists and is readable") from None
    with file:
        offset = 0
        for lineno, data in enumerate(file, start=1):
            skip = len(_BOM) if lineno == 1 and data.startswith(_BOM) else 0
            if lineno == 1 and data.startswith((b"\xff\xfe", b"\xfe\xff")):  # no UTF-8 text starts so
                raise DataError(f"{path}:1: UTF-16 text (byte-order mark 0x{data[0]:02x}{data[1]:02x}), not UTF-8 — {fix}")
            nul = data.find(b"\0")
            if nul >= 0:
                raise DataError(f"{path}:{lineno}: binary data (NUL byte at offset {offset + nul}), not UTF-8 text — {fix}")
            try:
                text = data[skip:].decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = skip + exc.start
                nul_at = _first_nul(path)  # an image or a spreadsheet is said to be binary, wherever its first NUL is
                if nul_at is not None:
                    raise DataError(f"{path}:{nul_at[0]}: binary data (NUL byte at offset {nul_at[1]}), not UTF-8 text — {fix}") from None
                raise DataError(f"{path}:{lineno}: not UTF-8 (byte 0x{data[bad]:02x} at offset {offset + bad}) — {fix}") from None
            yield lineno, text
            offset += len(data)


def _first_nul(path: Path) -> tuple[int, int] | None:
    """The line and byte offset of a file's first NUL byte, read a block at a time, or None."""
    lines, offset = 1, 0
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            nul = block.find(b"\0")
            if nul >= 0:
                return lines + block.count(b"\n", 0, nul), offset + nul
            lines, offset = lines + block.count(b"\n"), offset + len(block)
    return None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc}) — check that it exists and is readable") from None


def _utf8_text(data: bytes, path: Path, fix: str) -> str:
    """``read_text`` of bytes already read."""
    if _is_utf16(data):  # Excel's "Unicode Text", PowerShell's '>' and Out-File: not binary, only another encoding
        raise DataError(f"{path}:1: UTF-16 text (byte-order mark 0x{data[0]:02x}{data[1]:02x}), not UTF-8 — {fix}")
    nul = data.find(b"\0")
    if nul >= 0:
        raise DataError(f"{path}:{_line_of(data, nul)}: binary data (NUL byte at offset {nul}), not UTF-8 text — {fix}")
    skip = len(_BOM) if data.startswith(_BOM) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        raise DataError(f"{path}:{_line_of(data, offset)}: not UTF-8 (byte 0x{data[offset]:02x} at offset {offset}) — {fix}") from None


def _markup(data: bytes, path: Path, fix: str) -> str:
    """An HTML page's markup, from its bytes: in the encoding it declares (a page saved from a Windows-1252 site), else
    UTF-8."""
    charset = None if data.startswith(_BOM) else declared_charset(data)
    if charset is None:
        return _utf8_text(data, path, fix)
    try:
        return data.decode(charset)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}:{_line_of(data, exc.start)}: not {charset}, the encoding the page declares (byte "
                        f"0x{data[exc.start]:02x} at offset {exc.start}) — {fix}") from None


def _one_line_break(text: str) -> str:
    r"""``text`` with each line break ``\n`` (pure): ``\r\n`` and a lone ``\r`` count as one line, as they do in
    a CSV file's rows, so line numbers stay as they were."""
    return text.replace("\r\n", "\n").replace("\r", "\n")
