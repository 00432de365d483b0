"""The document as the extractors see it: cleaned lines, their cells, and locale hints."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from .normalise import Cell, clean_text, split_cells, squash

# Hints of where a document comes from, for currency and for reading 01/02 dates.
COUNTRY_HINTS = {
    "MY": re.compile(
        r"\b(SDN\.? ?BHD|S/B|BHD|MALAYSIA|JALAN|JLN|TAMAN|SELANGOR|JOHOR|KUALA LUMPUR|PULAU PINANG|"
        r"PENANG|PERAK|KEDAH|MELAKA|SABAH|SARAWAK|PAHANG|GST ID|GST REG|SST)\b"
    ),
    "SG": re.compile(r"\b(SINGAPORE|PTE\.? LTD)\b"),
    "US": re.compile(r"\b(U\.?S\.?A\.?|UNITED STATES|[A-Z]{2} \d{5}(?:-\d{4})?)\b"),
    "GB": re.compile(r"\b(UNITED KINGDOM|LONDON|VAT REG)\b"),
    "EU": re.compile(
        r"\b(NEDERLAND|DEUTSCHLAND|FRANCE|BELGI[EË]|ÖSTERREICH|ESPAÑA|ITALIA|BTW|MWST|USTID|TVA|SIRET|"
        r"B\.V\.|GMBH|SARL|IBAN)\b"
    ),
}


# A word printed with its letters spaced out, as OCR reads a stylised logo: "S U N R I S E".
LETTER_SPACED = re.compile(r"\W{0,3}\s*(?:\w ){2,}\w\s*\W{0,3}")


@dataclass
class Document:
    text: str
    raw_lines: list[str] = field(init=False)  # layout kept, for column look-ups
    lines: list[str] = field(init=False)  # whitespace squashed
    upper: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.raw_lines = [line.rstrip() for line in clean_text(self.text).split("\n")]
        self.lines = [squash(line) for line in self.raw_lines]
        self.upper = [line.upper() for line in self.lines]

    @cached_property
    def nonempty(self) -> list[int]:
        return [i for i, line in enumerate(self.lines) if line]

    @cached_property
    def is_layout(self) -> bool:
        """True for pdftotext -layout output, where columns are separated by runs of spaces."""
        return sum(1 for line in self.raw_lines if re.search(r"\S\s{3,}\S", line)) >= 3

    def has_columns(self, index: int) -> bool:
        """True when a line holds two or more columns (text, a gap of 3+ spaces, text).

        Indentation does not count: centred till receipts start their lines with spaces but keep
        one column. A letter-spaced logo ("S U N R I S E   M A R T") is one column too.
        """
        cells = self.cells(index)
        return len(cells) > 1 and not all(LETTER_SPACED.fullmatch(c.text) for c in cells)

    @cached_property
    def full_upper(self) -> str:
        return "\n".join(self.upper)

    def cells(self, index: int) -> list[Cell]:
        return split_cells(self.raw_lines[index])

    def cell_below(self, index: int, cell: Cell, depth: int = 3) -> tuple[int, Cell] | None:
        """The first cell under `cell` (overlapping its columns) within `depth` non-empty lines."""
        seen = 0
        for j in range(index + 1, len(self.raw_lines)):
            if not self.lines[j]:
                continue
            seen += 1
            if seen > depth:
                return None
            for other in self.cells(j):
                if other.start <= cell.end + 2 and cell.start - 2 <= other.end:
                    return j, other
        return None

    @cached_property
    def countries(self) -> dict[str, int]:
        text = self.full_upper
        return {code: len(p.findall(text)) for code, p in COUNTRY_HINTS.items() if p.search(text)}
