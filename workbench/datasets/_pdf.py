"""The text layer of a corpus folder's PDFs, read with pypdf: its pages joined by a blank line, where each starts kept."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import threading
from collections.abc import Iterator

from workbench.datasets._formats import Extracted, first_line
from workbench.datasets._pages import pages_metadata
from workbench.errors import DataError

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
    """The text layer of a PDF's pages, joined by a blank line; its page count, and where each page starts in the text
    (see ``workbench.datasets._pages``), as metadata.

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
            raise DataError(f"{where}: an encrypted PDF, which pypdf reads only with another package ({first_line(exc)}) — "
                            f"pip install cryptography, or {leave_out}") from None
        # pypdf raises what its parser meets on a malformed file (PdfReadError, but also KeyError, ValueError, TypeError,
        # AssertionError, zlib.error...): every one of them means the same to the corpus, at this one boundary
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"{where}: not a readable PDF ({type(exc).__name__}: {first_line(exc)}) — the file may be "
                            f"truncated or damaged: download or export it again, or {leave_out}") from None
    if locked:
        raise DataError(f"{where}: an encrypted PDF that opens only with a password — save a copy without it "
                        f"(qpdf --decrypt --password=... in.pdf out.pdf), or {leave_out}")
    pages = [page.strip() for page in pages]
    text = _UNENCODABLE.sub("\ufffd", "\n\n".join(page for page in pages if page))
    if not text:
        raise DataError(f"{where}: a PDF with no text layer ({len(pages)} page{'' if len(pages) == 1 else 's'} without text: a "
                        f"scan?) — OCR it (ocrmypdf in.pdf out.pdf), or {leave_out}")
    return Extracted(text, pages_metadata(pages, len(text)))
