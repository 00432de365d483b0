"""Text clean-up and parsing of the printed forms of amounts and dates.

Everything here is pure and locale-agnostic: callers decide what a parsed value means.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

# pdftotext -layout separates columns with runs of spaces; receipts transcribed line by line do not.
CELL_GAP = re.compile(r"\s{3,}")


@dataclass(frozen=True)
class Cell:
    """A run of text on one line, with its column span (used to find a value printed under a label)."""

    text: str
    start: int
    end: int


def clean_text(text: str) -> str:
    """NFKC-normalise (full-width digits, ligatures) and drop control characters but keep line breaks."""
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")


def split_cells(line: str) -> list[Cell]:
    cells = []
    pos = 0
    line = line.expandtabs()
    for part in CELL_GAP.split(line):
        start = line.find(part, pos)
        if part.strip():
            lead = len(part) - len(part.lstrip())
            cells.append(Cell(part.strip(), start + lead, start + len(part.rstrip())))
        pos = start + len(part)
    return cells


def squash(text: str) -> str:
    """Collapse runs of whitespace to one space."""
    return " ".join(text.split())


# --- amounts -------------------------------------------------------------------------------

# An amount as printed: optional sign and currency, digits with optional thousands separators, and a
# decimal part of exactly two digits (receipts and invoices print cents; bare integers are too often
# quantities, item codes or phone numbers to be trusted as money).
AMOUNT = re.compile(
    r"(?<![\w.,/:-])"
    r"(?P<sign>-\s?)?"
    r"(?P<cur>RM|MYR|USD|EUR|GBP|SGD|S\$|US\$|\$|€|£)?\s?"
    r"(?P<sign2>-\s?)?"
    r"(?P<num>\d{1,3}(?:[,.' ]\d{3})+|\d*)"
    r"(?P<dec>[.,]\d{2})"
    r"(?![\d%]|[.,]\d)"
    r"(?:\s?(?P<cur2>€|EUR|USD|MYR|RM))?"
)


@dataclass(frozen=True)
class Amount:
    value: Decimal
    start: int
    end: int
    currency_mark: str  # the symbol or code printed next to the amount, "" when none


def parse_amounts(line: str) -> list[Amount]:
    found = []
    for m in AMOUNT.finditer(line):
        digits = re.sub(r"[,.' ]", "", m.group("num"))
        try:
            value = Decimal(digits + "." + m.group("dec")[1:])
        except InvalidOperation:  # pragma: no cover - the pattern admits only digits
            continue
        if m.group("sign") or m.group("sign2"):
            value = -value
        mark = m.group("cur") or m.group("cur2") or ""
        found.append(Amount(value, m.start(), m.end(), mark))
    return found


def format_amount(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


# --- dates ---------------------------------------------------------------------------------

MONTHS = {
    # English, Malay, German, Dutch, French; three-letter prefixes are matched too.
    "jan": 1, "january": 1, "januari": 1, "januar": 1, "janvier": 1,
    "feb": 2, "february": 2, "februari": 2, "februar": 2, "fevrier": 2, "février": 2,
    "mar": 3, "march": 3, "mac": 3, "mac.": 3, "maret": 3, "märz": 3, "maerz": 3, "maart": 3, "mars": 3,
    "apr": 4, "april": 4, "avril": 4,
    "may": 5, "mei": 5, "mai": 5, "mey": 5,
    "jun": 6, "june": 6, "juni": 6, "juin": 6,
    "jul": 7, "july": 7, "juli": 7, "juillet": 7,
    "aug": 8, "august": 8, "ogos": 8, "ogo": 8, "augustus": 8, "aout": 8, "août": 8,
    "sep": 9, "sept": 9, "september": 9, "septembre": 9,
    "oct": 10, "october": 10, "okt": 10, "oktober": 10, "octobre": 10,
    "nov": 11, "november": 11, "novembre": 11,
    "dec": 12, "december": 12, "dis": 12, "disember": 12, "dez": 12, "dezember": 12, "decembre": 12,
    "décembre": 12,
}  # fmt: skip
MONTH_NAME = r"(?P<mon>[A-Za-zéûä]{3,9}\.?)"

DATE_PATTERNS = (
    # 2018-12-25, 2018/12/25
    ("ymd", re.compile(r"(?<!\d)(?P<y>(?:19|20)\d\d)[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)")),
    # 25/12/2018, 12/25/2018, 25-12-18, 25.12.18 (order settled later)
    ("num", re.compile(
        r"(?<![\d/.-])(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})(?!\d|/|-\d{1,2}[/.-])"
    )),
    # 25 DEC 2018, 25-DEC-18, 7. Mai 2014, 25DEC2018
    ("dmy_text", re.compile(
        r"(?<![\d])(?P<d>\d{1,2})\.?[\s/-]?" + MONTH_NAME + r"[\s/,.-]*(?P<y>\d{4}|\d{2})(?![\d])"
    )),
    # DEC 25, 2018 / August 3 , 2014
    ("mdy_text", re.compile(MONTH_NAME + r"\s?(?P<d>\d{1,2})\s?(?:st|nd|rd|th)?\s?,?\s?(?P<y>\d{4})(?!\d)")),
    # 20180304
    ("compact", re.compile(r"(?<!\d)(?P<y>20\d\d)(?P<m>[01]\d)(?P<d>[0-3]\d)(?!\d)")),
    # 25032018
    ("compact", re.compile(r"(?<!\d)(?P<d>[0-3]\d)(?P<m>[01]\d)(?P<y>20\d\d)(?!\d)")),
)  # fmt: skip


@dataclass(frozen=True)
class DateMatch:
    value: date
    start: int
    end: int
    kind: str
    ambiguous: bool  # day and month could be swapped and both readings are valid dates
    alternative: date | None  # the other reading, when ambiguous


def _year(text: str) -> int:
    year = int(text)
    return year + 2000 if year < 100 else year


def _month(name: str) -> int | None:
    return MONTHS.get(name.lower().rstrip("."))


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def parse_dates(line: str, *, month_first: bool = False) -> list[DateMatch]:
    """Every date printed on a line. `month_first` settles 01/02/2019-style ambiguity (US style)."""
    found: list[DateMatch] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in DATE_PATTERNS:
        for m in pattern.finditer(line):
            if any(s < m.end() and m.start() < e for s, e in taken):
                continue
            match = _interpret(kind, m, month_first)
            if match is not None:
                found.append(match)
                taken.append((m.start(), m.end()))
    return sorted(found, key=lambda d: d.start)


def _interpret(kind: str, m: re.Match[str], month_first: bool) -> DateMatch | None:
    g = m.groupdict()
    if kind in ("ymd", "compact"):
        value = _safe_date(int(g["y"]), int(g["m"]), int(g["d"]))
        return DateMatch(value, m.start(), m.end(), kind, False, None) if value else None
    if kind in ("dmy_text", "mdy_text"):
        month = _month(g["mon"])
        value = _safe_date(_year(g["y"]), month, int(g["d"])) if month else None
        return DateMatch(value, m.start(), m.end(), kind, False, None) if value else None
    a, b, year = int(g["a"]), int(g["b"]), _year(g["y"])
    day_first = _safe_date(year, b, a)
    month_first_reading = _safe_date(year, a, b)
    if day_first and month_first_reading and a != b:
        chosen, other = (month_first_reading, day_first) if month_first else (day_first, month_first_reading)
        return DateMatch(chosen, m.start(), m.end(), kind, True, other)
    value = day_first or month_first_reading
    return DateMatch(value, m.start(), m.end(), kind, False, None) if value else None
