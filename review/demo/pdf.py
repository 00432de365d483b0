"""Render plain monospace text as a PDF with a real text layer (fpdf2, core font Courier)."""

from __future__ import annotations

import datetime as dt

from fpdf import FPDF

FONT_SIZE = 8.5  # Courier is 0.6 em wide: ~105 columns fit on an A4 page between 12 mm margins
LINE_HEIGHT = 3.9
FIXED_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)  # fixed metadata keeps the bytes deterministic


def to_pdf_bytes(text: str) -> bytes:
    """Return a PDF whose text layer is ``text``, one PDF line per text line, spaces kept."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_margins(12, 12, 12)
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("Courier", size=FONT_SIZE)
    for line in text.splitlines() or [""]:
        safe = line.expandtabs(4).encode("latin-1", "replace").decode("latin-1")
        pdf.cell(0, LINE_HEIGHT, safe, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
