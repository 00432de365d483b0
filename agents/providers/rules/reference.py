"""The invoice number: the value after (or under) an invoice-number label."""

from __future__ import annotations

import re

from .document import Document
from .evidence import Evidence, Finding

NUMBER_LABEL = re.compile(
    r"^(?:INVOICE|INV|TAX INVOICE|BILL|RECEIPT|FACTUUR|FACTURE|RECHNUNG|FACTURA|DOC(?:UMENT)?|CASH BILL)\b"
    r"\s*(?:NUMBER|NUMMER|NUM|NO|NR|N°|Nº|#|NUMÉRO)?\.?\s*[:#]?\s*(?P<rest>.*)$|"
    r"^(?:FACTUURNUMMER|RECHNUNGSNR|RECHNUNGSNUMMER|INVOICE_NUMBER)\.?\s*[:#]?\s*(?P<rest2>.*)$|"
    r"^#\s*(?P<rest3>\S+)$",
    re.I,
)
# The same labels as OCR misreads them ("In voice No.", "lnvoice #", "Invoicc No."), tried only when the
# clean labels find nothing; what they give is believed less.
NOISY_LABEL = re.compile(
    r"^[I1l] ?N ?V ?[O0] ?[I1l] ?[CE] ?[EC]\s*(?:NUMBER|NUMB ER|N ?[O0]|#)\.?\s*[:#]?\s*(?P<rest>.*)$", re.I
)
# A letter OCR confuses with a digit, inside a run of digits: "2O23/2118", "INV-2024-95OO1".
DIGIT_LOOKALIKE = re.compile(r"(?<=\d)[OIlSB](?=[\dOIlSB/.\-]|$)|(?<=\d[/.\-])[OIlSB](?=\d)")
# A short letter segment with a digit that looks like a letter in it ("N0-87218", "5I-1234", "1NV-2024"):
# either a real code or a misread one, and nothing tells which.
MIXED_SEGMENT = re.compile(
    r"(?:^|[/.\-])(?=[A-Z0158]{2,4}(?:[/.\-]|$))(?=[A-Z]*[0158])(?=[0158]*[A-Z])[A-Z0158]+", re.I
)
LOOKALIKE_DIGITS = str.maketrans("OIlSB", "01158")
LETTER_LOOKALIKES = str.maketrans("0158", "OISB")
VALUE = re.compile(r"^[A-Z0-9][\w/.\-]*\d[\w/.\-]*$|^[A-Z0-9]*\d[\w/.\-]*$", re.I)
NOT_A_NUMBER = re.compile(r"DATE|DATUM|TOTAL|AMOUNT|PAGE|SEITE", re.I)

WEIGHTS = {
    "bias": -0.6,
    "explicit_label": 1.6,  # "Invoice Number:", "Factuurnummer:", "Facture n°"
    "title_label": 0.8,  # "Invoice INV/2023/03/0008" as a heading
    "under_label": 1.0,  # printed under its column header
    "repeated": 0.8,  # the same number printed again (e.g. in a footer)
    "rival": -1.2,
    "long_enough": 0.5,  # at least five characters
    "sole_candidate": 0.6,  # one value in the whole document, after an explicit label or under a header
    "noisy_label": -1.0,  # the label itself was misread ("In voice No.")
    "lookalike_repaired": -1.2,  # letters read as digits ("2O23" -> "2023"): the OCR may be wrong elsewhere
    "mixed_segment": -1.5,  # "N0-87218": a letter prefix holding a digit that looks like a letter
}


def _candidates(doc: Document) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for i in doc.nonempty:
        cells = doc.cells(i)
        for k, cell in enumerate(cells):
            m = NUMBER_LABEL.match(cell.text)
            noisy = NOISY_LABEL.match(cell.text) if not m else None
            if noisy and not NOT_A_NUMBER.search(cell.text.split(":")[0]):
                rest = noisy.group("rest").strip()
                kind = "noisy_label"
            elif not m or NOT_A_NUMBER.search(cell.text.split(":")[0]):
                continue
            else:
                rest = (m.group("rest") or m.group("rest2") or m.group("rest3") or "").strip()
                has_word = bool(re.search(r"NUMBER|NUMMER|NUM|NO\b|NR|N°|Nº|#|NUMÉRO", cell.text, re.I))
                kind = "explicit_label" if has_word or m.group("rest2") else "title_label"
            options = [(rest.split()[0], kind)] if rest else []
            if not rest and k + 1 < len(cells):
                options.append((cells[k + 1].text.split()[0], kind))
            if not rest:
                below = doc.cell_below(i, cell, depth=2)
                options += [(below[1].text.split()[0], "under_label")] if below else []
            for token, how in options:
                token = token.strip(" :#,")
                if VALUE.match(token) and not re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}", token):
                    found.append((token, how))
                    break
    return found


def extract_invoice_number(doc: Document) -> Finding:
    evidence = Evidence(WEIGHTS)
    found = _candidates(doc)
    if not found:
        return Finding(None, evidence)
    rank = {"explicit_label": 0, "under_label": 1, "title_label": 2, "noisy_label": 3}
    value, kind = min(found, key=lambda vk: rank[vk[1]])
    evidence.add("explicit_label" if kind == "noisy_label" else kind)
    if kind == "noisy_label":
        evidence.add("noisy_label")
    evidence.add("repeated", min(1, sum(1 for v, _ in found if v == value) - 1))
    if any(v != value and rank[k] <= rank[kind] for v, k in found):
        evidence.add("rival")
    if len(value) >= 5:
        evidence.add("long_enough")
    if kind in ("explicit_label", "under_label") and {v for v, _ in found} == {value}:
        evidence.add("sole_candidate")
    if MIXED_SEGMENT.search(value):
        evidence.add("mixed_segment")
    repaired = _repair_lookalikes(value)
    if repaired != value:
        evidence.add("lookalike_repaired")
        value = repaired
    return Finding(value, evidence)


def _letters_back(m: re.Match[str]) -> str:
    segment = m.group()
    return segment.translate(LETTER_LOOKALIKES) if sum(c.isalpha() for c in segment) >= 2 else segment


def _repair_lookalikes(value: str) -> str:
    """Read letters that stand among digits as the digits they resemble: "2O23/2118" -> "2023/2118"."""
    # "1NV-2O23": a segment that is mostly letters takes its look-alike digits back as letters; with
    # one letter ("5I-1234") which character is the misread one is anyone's guess.
    value = MIXED_SEGMENT.sub(_letters_back, value)
    if MIXED_SEGMENT.search(value):
        return value
    for _ in range(len(value)):  # "95OO1": each repaired letter lets the next one be read
        repaired = DIGIT_LOOKALIKE.sub(lambda m: m.group().translate(LOOKALIKE_DIGITS), value)
        if repaired == value:
            break
        value = repaired
    return value
