"""The "extraction" ruleset: vendor, date, total, currency, address and invoice number."""

from __future__ import annotations

from collections.abc import Callable

from .currency import extract_currency
from .dates import extract_date
from .document import Document
from .evidence import Evidence, Finding
from .parties import extract_address, extract_vendor
from .reference import extract_invoice_number
from .total import extract_total

ALIASES = {"company": "vendor", "issuer": "vendor", "amount": "total", "invoice_no": "invoice_number"}


def extract(text: str, names: list[str]) -> dict[str, Finding]:
    """A finding for each requested field name; unknown names are reported as not found."""
    doc = Document(text)
    wanted = {name: ALIASES.get(name, name) for name in names}
    findings: dict[str, Finding] = {}
    vendor_last_line: int | None = None
    if {"vendor", "address"} & set(wanted.values()):
        vendor, vendor_last_line = extract_vendor(doc)
        findings["vendor"] = vendor
    simple: dict[str, Callable[[Document], Finding]] = {
        "date": extract_date,
        "total": extract_total,
        "currency": extract_currency,
        "invoice_number": extract_invoice_number,
    }
    for canonical in set(wanted.values()):
        if canonical in simple:
            findings[canonical] = simple[canonical](doc)
        elif canonical == "address":
            findings["address"] = extract_address(doc, vendor_last_line)
    return {
        name: findings.get(canonical) or Finding(None, Evidence({})) for name, canonical in wanted.items()
    }
