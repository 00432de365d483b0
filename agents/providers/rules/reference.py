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
}


def _candidates(doc: Document) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for i in doc.nonempty:
        cells = doc.cells(i)
        for k, cell in enumerate(cells):
            m = NUMBER_LABEL.match(cell.text)
            if not m or NOT_A_NUMBER.search(cell.text.split(":")[0]):
                continue
            rest = (m.group("rest") or m.group("rest2") or m.group("rest3") or "").strip()
            has_word = bool(re.search(r"NUMBER|NUMMER|NUM|NO\b|NR|N°|Nº|#|NUMÉRO|NUMMER", cell.text, re.I))
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
    rank = {"explicit_label": 0, "under_label": 1, "title_label": 2}
    value, kind = min(found, key=lambda vk: rank[vk[1]])
    evidence.add(kind)
    evidence.add("repeated", min(1, sum(1 for v, _ in found if v == value) - 1))
    if any(v != value and rank[k] <= rank[kind] for v, k in found):
        evidence.add("rival")
    if len(value) >= 5:
        evidence.add("long_enough")
    return Finding(value, evidence)
