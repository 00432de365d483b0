"""The demo document generator: deterministic, valid truth, a sensible share of hard cases, real PDFs."""

import datetime as dt
import io
import re
from collections import Counter
from decimal import Decimal

import pypdf

from review.demo.generator import CATEGORIES, HARD_CASES, DemoDocument, generate, to_pdf_bytes

FIELDS = {
    "invoice-extraction": {"vendor", "invoice_number", "date", "total", "currency"},
    "receipt-extraction": {"vendor", "date", "address", "total", "currency"},
    "expense-classification": {"category"},
}
CURRENCIES = {"USD", "EUR", "GBP", "MYR", "SGD", "AUD"}


def _amounts(text: str) -> set[Decimal]:
    """Every money amount printed in the text, read as 1,234.50 or 1.234,50."""
    found = set()
    for token in re.findall(r"\d[\d.,]*\d", text):
        if re.fullmatch(r"\d{1,3}(\.\d{3})*,\d{2}", token):
            found.add(Decimal(token.replace(".", "").replace(",", ".")))
        elif re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}|\d+\.\d{2}", token):
            found.add(Decimal(token.replace(",", "")))
    return found


def _clean(docs: list[DemoDocument], process: str | None = None) -> list[DemoDocument]:
    return [d for d in docs if not d.hard and (process is None or d.process_slug == process)]


def test_same_seed_same_documents():
    assert generate(7, 60) == generate(7, 60)


def test_different_seeds_differ():
    first, second = generate(1, 30), generate(2, 30)
    assert [d.text for d in first] != [d.text for d in second]


def test_count_mix_and_unique_filenames():
    docs = generate(3, 200)
    assert len(docs) == 200
    mix = Counter(d.process_slug for d in docs)
    assert mix == {"invoice-extraction": 80, "receipt-extraction": 80, "expense-classification": 40}
    assert len({d.filename for d in docs}) == len(docs)
    for doc in docs:
        assert doc.filename.endswith(".pdf" if doc.as_pdf else ".txt")
    assert any(d.as_pdf for d in docs) and not all(d.as_pdf for d in docs)
    assert generate(3, 0) == []
    assert len(generate(3, 1)) == 1


def test_truth_fields_and_formats():
    for doc in generate(11, 300):
        assert set(doc.truth) == FIELDS[doc.process_slug], doc.filename
        assert all(isinstance(v, str) and v for v in doc.truth.values())
        if "date" in doc.truth:
            assert dt.date.fromisoformat(doc.truth["date"]).isoformat() == doc.truth["date"]
        if "total" in doc.truth:
            assert re.fullmatch(r"\d+\.\d{2}", doc.truth["total"]), doc.truth["total"]
            assert Decimal(doc.truth["total"]) > 0
        if "currency" in doc.truth:
            assert doc.truth["currency"] in CURRENCIES
        if "category" in doc.truth:
            assert doc.truth["category"] in CATEGORIES
        assert set(doc.hard) <= set(HARD_CASES[doc.process_slug])
        assert doc.text.strip()


def test_clean_documents_print_their_truth():
    docs = generate(5, 200)
    for doc in _clean(docs, "invoice-extraction") + _clean(docs, "receipt-extraction"):
        assert doc.truth["vendor"] in doc.text, doc.filename
        assert Decimal(doc.truth["total"]) in _amounts(doc.text), doc.filename
    for doc in _clean(docs, "invoice-extraction"):
        assert doc.truth["invoice_number"] in doc.text
    for doc in _clean(docs, "receipt-extraction"):
        assert doc.truth["address"] in " ".join(doc.text.split())


def test_clean_numeric_dates_are_unambiguous():
    for doc in _clean(generate(9, 300)):
        if "date" not in doc.truth:
            continue
        day = dt.date.fromisoformat(doc.truth["date"])
        mdy, dmy = f"{day.month:02d}/{day.day:02d}/{day.year}", f"{day.day:02d}/{day.month:02d}/{day.year}"
        for numeric in (mdy, dmy):
            if numeric in doc.text:
                assert day.day > 12 or day.day == day.month, doc.text


def test_hard_share_within_band_and_every_case_occurs():
    for seed in range(5):
        docs = generate(seed, 200)
        share = sum(bool(d.hard) for d in docs) / len(docs)
        assert 0.18 <= share <= 0.27, (seed, share)
    seen = Counter(h for d in generate(21, 1000) for h in d.hard)
    assert set(seen) == {h for cases in HARD_CASES.values() for h in cases}


def test_hard_cases_keep_the_human_truth():
    for doc in generate(13, 600):
        if "ambiguous_date" in doc.hard:
            day = dt.date.fromisoformat(doc.truth["date"])
            assert day.day <= 12 and day.day != day.month
        if "logo_vendor" in doc.hard:
            assert doc.truth["vendor"] not in doc.text
        if "no_currency" in doc.hard and "ocr_noise" not in doc.hard:
            assert doc.truth["currency"] not in doc.text
        if "deposit_balance" in doc.hard and "ocr_noise" not in doc.hard:
            assert len(_amounts(doc.text)) >= 4 and Decimal(doc.truth["total"]) in _amounts(doc.text)
        if "no_signals" in doc.hard:
            assert doc.truth["category"] == "other"


def test_pdf_round_trips_through_pypdf():
    docs = [d for d in _clean(generate(7, 120)) if d.process_slug != "expense-classification"]
    picked = [d for d in docs if d.process_slug == "invoice-extraction"][:3]
    picked += [d for d in docs if d.process_slug == "receipt-extraction"][:3]
    for doc in picked:
        data = to_pdf_bytes(doc.text)
        assert data.startswith(b"%PDF-")
        reader = pypdf.PdfReader(io.BytesIO(data))
        extracted = "\n".join(page.extract_text() for page in reader.pages)
        assert doc.truth["vendor"] in extracted
        assert Decimal(doc.truth["total"]) in _amounts(extracted)
    assert to_pdf_bytes("A  B\n\nC") == to_pdf_bytes("A  B\n\nC")
