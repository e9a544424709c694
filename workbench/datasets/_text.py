"""Reading a file's bytes as text: UTF-8 (a byte-order mark dropped), with one line naming the line and byte offset
of what is not (UTF-16, binary data, another encoding); an HTML page in the encoding it declares."""

from __future__ import annotations

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
