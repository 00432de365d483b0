"""The document date: the transaction or invoice date, not a due, order or period date."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from .document import Document
from .evidence import Evidence, Finding
from .normalise import DateMatch, parse_dates

ISSUE_LABEL = re.compile(
    r"INVOICE DATE|BILL DATE|DATE OF ISSUE|ISSUE DATE|FACTUURDATUM|FACTUUR DATUM|RECHNUNGSDATUM|"
    r"DATE DE FACTURE|TAX DATE|RECEIPT DATE|TRANS(ACTION)? DATE"
)
DATE_LABEL = re.compile(r"\bDATE|\bDATUM|\bTARIKH|\bDT\b|\bFECHA|\bDATA\b")
OTHER_DATE = re.compile(
    r"DUE|VERVAL|ZAHLUNGSZIEL|ECHEANCE|ÉCHÉANCE|EXPIR|VALID|ORDER|BESTEL|PERIOD|FROM|UNTIL|\bTO\b|\bBIS\b|"
    r"DELIVERY|LEVER|SHIP|BIRTH|JOIN|MEMBER|START|END\b|\bDU\b|\bAU\b|PRINT|OPEN"
)
TIME = re.compile(r"\b\d{1,2}\s?:\s?\d{2}(?:\s?:\s?\d{2})?\b")
US_STYLE = re.compile(r"\$|\bUSD\b|UNITED STATES|\b[A-Z]{2} \d{5}\b")

WEIGHTS = {
    "bias": 1.8,
    "issue_label": 1.8,  # "Invoice Date", "Factuurdatum"
    "date_label": 1.2,  # "DATE:"
    "with_time": 0.8,  # printed with a time of day: a transaction timestamp
    "other_label": -1.5,  # "Due date", "Order date", "period"
    "repeated": 0.6,  # the same date printed again
    "unambiguous": 0.6,  # day and month cannot be swapped
    "ambiguous": -1.0,  # 01/02-style: read by the document's locale
    "implausible_year": -2.5,
    "rival": -0.9,  # another labelled date with a different value
    "margin": 0.3,
}
SCORE = {"issue_label": 3.0, "date_label": 2.0, "with_time": 1.2, "other_label": -2.5, "first": 0.5}


@dataclass
class DateCandidate:
    match: DateMatch
    line: int
    reasons: list[str]


def _month_first(doc: Document) -> bool:
    """Read 01/02 as January 2 when the document prints unambiguous US-style dates or looks American."""
    votes = 0
    for line in doc.lines:
        for m in re.finditer(r"(?<![\d/.-])(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})(?![\d/-])", line):
            a, b = int(m.group(1)), int(m.group(2))
            if a > 12 >= b:
                votes -= 2
            elif b > 12 >= a:
                votes += 2
    if votes == 0 and "MY" not in doc.countries and "EU" not in doc.countries:
        votes += 1 if US_STYLE.search(doc.full_upper) else 0
    return votes > 0


def find_dates(doc: Document) -> list[DateCandidate]:
    month_first = _month_first(doc)
    found: list[DateCandidate] = []
    for i, line in enumerate(doc.lines):
        if not line:
            continue
        for match in parse_dates(line, month_first=month_first):
            context = doc.upper[i][: match.start]
            reasons = []
            if ISSUE_LABEL.search(context):
                reasons.append("issue_label")
            elif OTHER_DATE.search(context[-30:]):
                reasons.append("other_label")
            elif DATE_LABEL.search(context[-25:]):
                reasons.append("date_label")
            elif doc.is_layout:
                reasons.extend(_header_above(doc, i, line, match))
            if TIME.search(line[match.end :]) or TIME.search(line[: match.start]):
                reasons.append("with_time")
            found.append(DateCandidate(match, i, reasons))
    return found


def _header_above(doc: Document, index: int, line: str, match: DateMatch) -> list[str]:
    """In a layout table the label may be printed above the date, in the same column."""
    text = line[match.start : match.end]
    col = doc.raw_lines[index].find(text)
    for j in range(index - 1, max(-1, index - 3), -1):
        for cell in doc.cells(j):
            if cell.start <= col + len(text) and col <= cell.end:
                header = cell.text.upper()
                if ISSUE_LABEL.search(header):
                    return ["issue_label"]
                if OTHER_DATE.search(header):
                    return ["other_label"]
                if DATE_LABEL.search(header):
                    return ["date_label"]
    return []


def extract_date(doc: Document) -> Finding:
    evidence = Evidence(WEIGHTS)
    candidates = [c for c in find_dates(doc) if 1990 <= c.match.value.year <= 2040]
    if not candidates:
        return Finding(None, evidence)
    scores: dict[date, float] = defaultdict(float)
    for rank, c in enumerate(candidates):
        s = sum(SCORE[r] for r in c.reasons) + (SCORE["first"] if rank == 0 else 0.0)
        scores[c.match.value] = max(scores[c.match.value], s) + (0.3 if scores[c.match.value] else 0.0)
    ordered = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    best, best_score = ordered[0]
    runner_up = ordered[1][1] if len(ordered) > 1 else min(0.0, best_score)
    mine = [c for c in candidates if c.match.value == best]
    reasons = {r for c in mine for r in c.reasons}
    for reason in ("issue_label", "date_label", "with_time"):
        if reason in reasons:
            evidence.add(reason)
            if reason != "with_time":
                break
    if "other_label" in reasons and not reasons & {"issue_label", "date_label"}:
        evidence.add("other_label")
    evidence.add("repeated", min(2, len(mine) - 1))
    evidence.add("ambiguous" if all(c.match.ambiguous for c in mine) else "unambiguous")
    if not 2000 <= best.year <= date.today().year + 1:
        evidence.add("implausible_year")
    rivals = [
        c for c in candidates if c.match.value != best and {"issue_label", "date_label"} & set(c.reasons)
    ]
    if rivals and not (reasons & {"issue_label"}):
        evidence.add("rival")
    evidence.add("margin", min(3.0, best_score - runner_up))
    return Finding(best.isoformat(), evidence)
