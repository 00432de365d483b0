"""The processes the product ships with, each served by the offline rules agent out of the box."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

CATEGORIES = (
    "meals",
    "travel",
    "lodging",
    "fuel",
    "office_supplies",
    "software",
    "utilities",
    "groceries",
    "other",
)

AMOUNT_RULES = {"min": "0.01", "max": "10000000"}

STANDARD_PROCESSES: list[dict[str, Any]] = [
    {
        "slug": "invoice-extraction",
        "name": "Invoice extraction",
        "description": "Supplier invoices: who issued it, its number, date, total due and currency.",
        "fields": [
            {"name": "vendor", "type": "string", "label": "Vendor"},
            {"name": "invoice_number", "type": "string", "label": "Invoice number"},
            {"name": "date", "type": "date", "label": "Invoice date"},
            {"name": "total", "type": "decimal", "label": "Total", "rules": AMOUNT_RULES},
            {"name": "currency", "type": "currency", "label": "Currency"},
        ],
        "ruleset": "extraction",
        "threshold": Decimal("0.85"),
    },
    {
        "slug": "receipt-extraction",
        "name": "Receipt extraction",
        "description": "Till receipts: merchant, its address, date, total paid and currency.",
        "fields": [
            {"name": "vendor", "type": "string", "label": "Merchant"},
            {"name": "date", "type": "date", "label": "Date"},
            {"name": "address", "type": "string", "label": "Address", "required": False},
            {"name": "total", "type": "decimal", "label": "Total", "rules": AMOUNT_RULES},
            {"name": "currency", "type": "currency", "label": "Currency"},
        ],
        "ruleset": "extraction",
        "threshold": Decimal("0.85"),
    },
    {
        "slug": "expense-classification",
        "name": "Expense classification",
        "description": "Expense lines sorted into accounting categories.",
        "fields": [
            {"name": "category", "type": "choice", "label": "Category", "choices": list(CATEGORIES)},
        ],
        "ruleset": "classification",
        "threshold": Decimal("0.80"),
    },
]
