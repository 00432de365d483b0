"""The amount paid or due: labelled candidates, then arithmetic cross-checks between them."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from .document import Document
from .evidence import Evidence, Finding
from .normalise import Amount, format_amount, parse_amounts

# What the text left of an amount says it is. Checked in order: the first pattern that matches wins,
# so "TOTAL SALES (EXCLUDING GST)" is a subtotal and "TOTAL INCLUSIVE GST" is a total.
LABEL_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("change", re.compile(r"CHANGE|KEMBALI|\bBAKI\b|CHG\b")),
    ("incl", re.compile(r"(TOTAL|AMOUNT|AMT|SALES|JUMLAH|BILL)\b.*\b(INC|INCL|INCLUSIVE|INKL)\b")),
    ("due", re.compile(
        r"\bTTC\b|ROUNDED|AFTER ROUND|NETT? (TOTAL|AMOUNT|AMT)|GRAND|TOTAL ROUND|\bDUE\b|PAYABLE|TO PAY"
    )),
    ("subtotal", re.compile(r"EXCL|EXKL|OHNE|BEFORE|\bHT\b|SUB\W?TOTAL|SUBTOTAAL|ZWISCHEN|SOUS|NET OF")),
    ("qty", re.compile(r"\bQTY|QUANTITY|\bITEM|\bPCS\b|\bUNITS?\b|\bNO\. OF")),
    ("rounding", re.compile(r"ROUND|\bADJ")),
    ("tendered", re.compile(r"CASH|TUNAI|TENDER|CARD|VISA|MASTER|AMEX|\bPAID|PAYMENT|DEBIT|CREDIT|"
                            r"RECEIVED|IDEAL|BETAALD|VOUCHER|E-?WALLET|BOOST|GRABPAY")),
    ("discount", re.compile(r"DISC|SAVING|PROMO|KORTING|RABATT|REMISE|LESS\b")),
    ("tax", re.compile(r"GST|\bTAX|\bVAT\b|TVA|\bBTW\b|MWST|\bSST\b|SERVICE CH|SVC|\bSC\b")),
    ("due", re.compile(r"TOTAL AMOUNT|TOTAL AMT|TOTAAL|TOTAL \w{3}\b|\bTTL")),
    ("total", re.compile(r"TOTAL|JUMLAH|SUMME|MONTANT|BEDRAG|BETRAG|\bAMOUNT\b|\bAMT\b")),
)  # fmt: skip
TOTAL_KINDS = ("due", "incl", "total")

# Log-odds weights for the chosen total (see evidence.py).
WEIGHTS = {
    "bias": -1.6,
    "label_due": 2.4,  # "TOTAL ROUNDED", "AMOUNT DUE", "TOTAL INCL. GST"
    "label_total": 1.8,  # a bare "TOTAL"
    "label_column": 1.2,  # printed under a total column header
    "unlabelled": 0.0,
    "repeated": 0.6,  # the same value printed under another total label (up to twice)
    "cash_minus_change": 1.4,  # tendered - change = value
    "paid_exactly": 0.8,  # a card or cash line for exactly this value
    "subtotal_plus_tax": 1.0,  # subtotal + tax (- discount) = value
    "after_rounding": 1.2,  # a rounding adjustment turns another total into this one
    "largest": 0.5,  # no other non-tendered amount is larger
    "conflict": -1.3,  # another value has an equally strong total label and nothing explains it
    "margin": 0.35,  # per point of score over the runner-up (capped)
}
LABEL_REASON = {"due": "label_due", "incl": "label_due", "total": "label_total", "column": "label_column"}
# How much each label kind contributes when choosing between candidate values.
KIND_SCORE = {"due": 3.4, "incl": 2.8, "total": 2.2, "column": 1.5, "none": 0.0}


@dataclass
class Candidate:
    amount: Amount
    line: int
    kind: str  # one of the LABEL_KINDS names, "column" or "none"


def label_kind(label: str) -> str:
    label = label.upper()
    for kind, pattern in LABEL_KINDS:
        if pattern.search(label):
            return kind
    return "none"


def find_candidates(doc: Document) -> list[Candidate]:
    found: list[Candidate] = []
    previous_label = ""
    for i, line in enumerate(doc.lines):
        amounts = parse_amounts(line)
        if not amounts:
            previous_label = line if line and len(line) < 40 else ""
            continue
        prefix_end = 0
        for n, amount in enumerate(amounts):
            label = line[prefix_end : amount.start].strip(" :.=*#-")
            prefix_end = amount.end
            if not label and n == 0:
                label = previous_label
            kind = label_kind(_nearest_cell(label)) if doc.is_layout else label_kind(label)
            if kind == "rounding" and abs(amount.value) >= 1:
                kind = "due"  # "ROUNDING RM 169.80": the rounded total, not the adjustment
            if kind == "none" and n > 0:
                kind = "secondary"  # a second figure after a labelled one: usually tax or quantity
            if kind == "none" and doc.is_layout:
                kind = _column_kind(doc, i, line, amount)
            found.append(Candidate(amount, i, kind))
        previous_label = ""
    _mark_amount_after_rounding(found)
    return found


def _nearest_cell(label: str) -> str:
    cells = [c for c in re.split(r"\s{3,}", label) if c.strip()]
    return cells[-1] if cells else ""


def _column_kind(doc: Document, index: int, line: str, amount: Amount) -> str:
    """A figure in a table row takes the kind of the header printed above its column."""
    raw = doc.raw_lines[index]
    text = line[amount.start : amount.end]
    col = raw.find(text)
    if col < 0:
        return "none"
    for j in range(index - 1, max(-1, index - 4), -1):
        for cell in doc.cells(j):
            if cell.start <= col + len(text) and col <= cell.end and not parse_amounts(cell.text):
                return "column" if label_kind(cell.text) in TOTAL_KINDS else "none"
    return "none"


def _mark_amount_after_rounding(found: list[Candidate]) -> None:
    """An unlabelled amount right after a rounding line is the rounded total (common on receipts)."""
    for k in range(1, len(found)):
        prev, cur = found[k - 1], found[k]
        if cur.kind == "none" and prev.kind == "rounding" and cur.line == prev.line + 1:
            cur.kind = "due"


def extract_total(doc: Document) -> Finding:
    evidence = Evidence(WEIGHTS)
    candidates = find_candidates(doc)
    by_kind: dict[str, list[Decimal]] = defaultdict(list)
    for c in candidates:
        by_kind[c.kind].append(c.amount.value)
    labelled: dict[Decimal, list[Candidate]] = defaultdict(list)
    for c in candidates:
        if c.kind in (*TOTAL_KINDS, "column") and c.amount.value > 0:
            labelled[c.amount.value].append(c)
    pool = labelled or {
        c.amount.value: [c] for c in candidates if c.kind in ("none", "secondary") and c.amount.value > 0
    }
    if not pool:
        return Finding(None, evidence)

    scored = sorted(
        ((_score(value, cands, by_kind), value) for value, cands in pool.items()),
        key=lambda sv: (sv[0][0], sv[1]),
        reverse=True,
    )
    (best_score, checks), best = scored[0]
    runner_up = scored[1][0][0] if len(scored) > 1 else 0.0

    kinds = {c.kind for c in pool[best]}
    strongest = next((k for k in (*TOTAL_KINDS, "column") if k in kinds), "")
    evidence.add(LABEL_REASON.get(strongest, "unlabelled"))
    evidence.add("repeated", min(2, len(pool[best]) - 1))
    for check in checks:
        evidence.add(check)
    evidence.add("margin", min(4.0, best_score - runner_up))
    if _unexplained_rival(best, strongest, labelled, by_kind):
        evidence.add("conflict")
    return Finding(format_amount(best), evidence)


def _score(
    value: Decimal, cands: list[Candidate], by_kind: dict[str, list[Decimal]]
) -> tuple[float, list[str]]:
    kinds = [c.kind for c in cands]
    score = max(KIND_SCORE.get(k, 0.0) for k in kinds) + 0.3 * min(2, len(kinds) - 1)
    checks = []
    tendered, change = by_kind.get("tendered", []), by_kind.get("change", [])
    if any(t - c == value for t in tendered for c in change if c > 0):
        checks.append("cash_minus_change")
    elif value in tendered:
        checks.append("paid_exactly")
    totals = [v for k in (*TOTAL_KINDS, "column", "none") for v in by_kind.get(k, [])]
    roundings = [r for r in by_kind.get("rounding", []) if r != 0]
    if any(t + r == value for t in totals for r in roundings if t != value):
        checks.append("after_rounding")
    subtotals, taxes = by_kind.get("subtotal", []), [*by_kind.get("tax", []), Decimal(0)]
    discounts = [Decimal(0), *(abs(d) for d in by_kind.get("discount", []))]
    parts = [v for k in ("subtotal", "incl", "total", "tax") for v in by_kind.get(k, []) if v and v != value]
    if any(s + t - d == value for s in subtotals for t in taxes for d in discounts if s != value or t) or any(
        a + b == value for n, a in enumerate(parts) for b in parts[n + 1 :]
    ):
        checks.append("subtotal_plus_tax")
    others = [v for k, vs in by_kind.items() if k not in ("tendered", "change") for v in vs]
    if others and value >= max(others):
        checks.append("largest")
    bonus = {"cash_minus_change": 1.6, "paid_exactly": 0.8, "after_rounding": 1.6, "subtotal_plus_tax": 1.0,
             "largest": 0.4}  # fmt: skip
    score += sum(bonus[c] for c in checks)
    # A pre-rounding total is superseded by the rounded one.
    if any(value + r in by_kind.get("due", []) for r in roundings):
        score -= 1.5
    return score, checks


def _unexplained_rival(
    best: Decimal, strongest: str, labelled: dict[Decimal, list[Candidate]], by_kind: dict[str, list[Decimal]]
) -> bool:
    roundings = by_kind.get("rounding", [])
    for value, cands in labelled.items():
        if value == best or not any(c.kind == strongest for c in cands):
            continue
        if any(value + r == best or best + r == value for r in roundings):
            continue
        return True
    return False
