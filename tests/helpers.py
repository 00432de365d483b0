"""Small builders shared by tests (no fixtures here: those live in conftest.py)."""

from __future__ import annotations

from agents.models import Process
from review import intake

CLEAN_INVOICE = """\
ACME Industrial Supplies Ltd
12 Harbour Road, Leeds LS1 4AB

INVOICE
Invoice No: INV-2024-0042
Invoice Date: 14/03/2024

Description              Qty   Unit      Amount
Steel brackets            10   12.50     125.00
Hex bolts (box)            4    8.75      35.00

Subtotal                                 160.00
VAT 20%                                   32.00
TOTAL DUE                         GBP    192.00
"""


def receive_text(process: Process, text: str, name: str = "doc.txt", actor=None):
    return intake.receive(process=process, filename=name, data=text.encode(), source="upload", actor=actor)
