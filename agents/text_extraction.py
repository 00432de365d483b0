"""Reading the text out of a delivered file: plain text in any common encoding, PDF text layers.

`read_text` never raises for a damaged PDF: it returns the problem instead, so the document is
stored and routed to review rather than lost. Files it cannot take at all raise UnsupportedFile.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import PurePath

from pypdf import PdfReader
from pypdf.errors import PyPdfError

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = {".txt", ".text", ".csv", ".md"}
PDF_SUFFIXES = {".pdf"}
ACCEPTED_SUFFIXES = TEXT_SUFFIXES | PDF_SUFFIXES


class UnsupportedFile(ValueError):
    """The file cannot be taken; the message says why, for the person who sent it."""


@dataclass(frozen=True)
class ReadResult:
    text: str
    content_type: str
    encoding: str = ""
    problem: str = ""  # "corrupt_pdf" | "no_text_layer" | ""


def read_text(filename: str, data: bytes) -> ReadResult:
    """The text of a delivered file. NUL characters are dropped: PostgreSQL text cannot hold them."""
    read = _read(filename, data)
    if "\x00" in read.text:
        return ReadResult(read.text.replace("\x00", ""), read.content_type, read.encoding, read.problem)
    return read


def _read(filename: str, data: bytes) -> ReadResult:
    suffix = PurePath(filename).suffix.lower()
    if not data:
        raise UnsupportedFile("The file is empty.")
    if suffix in PDF_SUFFIXES or data.startswith(b"%PDF-"):
        return _read_pdf(data)
    if suffix not in TEXT_SUFFIXES:
        accepted = ", ".join(sorted(ACCEPTED_SUFFIXES))
        raise UnsupportedFile(f"Files of type '{suffix or 'none'}' are not accepted (accepted: {accepted}).")
    return _read_plain_text(data)


def _read_plain_text(data: bytes) -> ReadResult:
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return ReadResult(data.decode(encoding, errors="replace"), "text/plain", encoding)
    try:
        return ReadResult(data.decode("utf-8"), "text/plain", "utf-8")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data or _control_share(data) > 0.05:
        raise UnsupportedFile("The file is not text: save it as UTF-8 text or PDF and send it again.")
    # Legacy single-byte text (Windows-1252 is a superset of Latin-1 for printable text).
    return ReadResult(data.decode("cp1252", errors="replace"), "text/plain", "cp1252")


def _control_share(data: bytes) -> float:
    controls = sum(1 for byte in data if byte < 32 and byte not in (9, 10, 12, 13))
    return controls / len(data)


def _read_pdf(data: bytes) -> ReadResult:
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text(extraction_mode="layout") or "" for page in reader.pages]
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        logger.info("unreadable PDF: %s", exc)
        return ReadResult("", "application/pdf", problem="corrupt_pdf")
    text = "\n".join(pages).strip("\n")
    if not text.strip():
        return ReadResult("", "application/pdf", problem="no_text_layer")
    return ReadResult(text, "application/pdf", "pdf")
