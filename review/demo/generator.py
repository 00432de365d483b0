"""Seeded generator of realistic demo documents (invoices, receipts, expense lines) with known truth.

Everything is invented from the word lists below; nothing is copied from real documents.  The same
seed always yields the same documents.  About 22% of documents carry one or two injected
difficulties, named in ``DemoDocument.hard``; their truth stays what a careful human would enter
(the printed grand total, the issue date, the vendor's proper name, the currency of the vendor's
country when none is printed).
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from agents.catalogue import CATEGORIES
from review.demo.pdf import to_pdf_bytes

__all__ = ["CATEGORIES", "HARD_CASES", "DemoDocument", "generate", "to_pdf_bytes"]

INVOICE, RECEIPT, CLASSIFY = "invoice-extraction", "receipt-extraction", "expense-classification"
KIND_CYCLE = (INVOICE, RECEIPT, INVOICE, RECEIPT, CLASSIFY)  # 40% / 40% / 20%
HARD_SHARE = 0.22
CENT = Decimal("0.01")

HARD_CASES = {
    INVOICE: (
        "ocr_noise",
        "no_total_label",
        "totals_mismatch",
        "ambiguous_date",
        "early_second_date",
        "deposit_balance",
        "no_currency",
        "logo_vendor",
    ),
    RECEIPT: (
        "ocr_noise",
        "no_total_label",
        "totals_mismatch",
        "ambiguous_date",
        "deposit_balance",
        "no_currency",
        "logo_vendor",
    ),
    CLASSIFY: ("mixed_signals", "no_signals", "ocr_noise"),
}
CONFLICTS = (
    frozenset({"no_total_label", "deposit_balance"}),
    frozenset({"mixed_signals", "no_signals"}),
    frozenset({"ambiguous_date", "early_second_date"}),
)  # a second date would resolve the ambiguity

VENDOR_WORDS = (
    "Brightwater",
    "Silverline",
    "Bluepeak",
    "Kestrel",
    "Ironbark",
    "Meadowlark",
    "Copperleaf",
    "Harborlight",
    "Lumen",
    "Crescent",
    "Oakridge",
    "Tidewater",
    "Willowmere",
    "Granite",
    "Amberfield",
    "Juniper",
    "Northgate",
    "Quillstone",
    "Riverbend",
    "Starling",
)
VENDOR_NOUNS = (
    "Analytics",
    "Logistics",
    "Supplies",
    "Engineering",
    "Consulting",
    "Design Studio",
    "Print Works",
    "Facilities",
    "Systems",
    "Trading",
    "Software",
    "Electrical",
    "Catering",
    "Freight",
)
STREET_NAMES = (
    "Maple",
    "Harbour",
    "Station",
    "Mill",
    "Linden",
    "Cedar",
    "Orchard",
    "Kingfisher",
    "Beacon",
    "Chapel",
    "Willow",
    "Market",
    "Foundry",
    "Riverside",
)
MY_STREETS = (
    "BUKIT BINTANG",
    "SS 2/24",
    "PERMAS 10",
    "DEDAP 13",
    "KLANG LAMA",
    "IMPIAN 3",
    "MERANTI 7",
    "SERDANG RAYA",
    "USJ 10/1",
    "TUN RAZAK",
)
MY_TAMAN = ("TAMAN MUTIARA", "TAMAN SRI PUTRI", "TAMAN DAMAI JAYA", "TAMAN BUKIT INDAH", "TAMAN MEWAH")
SHOP_WORDS = (
    "SRI MAWAR",
    "SINAR JAYA",
    "HAPPY CORNER",
    "GOLDEN LEAF",
    "EVERGREEN",
    "BINTANG TIMUR",
    "SUNRISE",
    "PERMATA",
    "TWIN PALM",
    "MAJU JAYA",
    "RED LANTERN",
    "BLUE OCEAN",
)

REGIONS = {
    "USD": dict(
        country="USA",
        sign="$",
        tax=("Sales Tax", ("6", "7.25", "8.875")),
        order="mdy",
        suffixes=("Inc.", "LLC", "Co."),
        cities=(
            ("Austin", "TX 78701"),
            ("Denver", "CO 80202"),
            ("Columbus", "OH 43215"),
            ("Portland", "OR 97204"),
        ),
        formats=("%m/%d/%Y", "%b %d, %Y", "%B %d, %Y", "%Y-%m-%d"),
        taxid="EIN 8{d}-{d7}",
        phone="({d3}) {d3}-{d4}",
    ),
    "EUR": dict(
        country="Germany",
        sign="EUR",
        tax=("VAT", ("19", "7")),
        order="dmy",
        suffixes=("GmbH", "AG", "KG"),
        cities=(("Berlin", "10115"), ("Hamburg", "20095"), ("Leipzig", "04109"), ("Cologne", "50667")),
        formats=("%d.%m.%Y", "%Y-%m-%d", "%d %B %Y"),
        taxid="VAT ID: DE{d9}",
        phone="+49 {d2} {d7}",
    ),
    "GBP": dict(
        country="United Kingdom",
        sign="£",
        tax=("VAT", ("20",)),
        order="dmy",
        suffixes=("Ltd", "LLP", "plc"),
        cities=(
            ("London", "EC1V 2NX"),
            ("Manchester", "M1 4BT"),
            ("Leeds", "LS1 5DL"),
            ("Bristol", "BS1 6QA"),
        ),
        formats=("%d/%m/%Y", "%d %b %Y", "%d %B %Y"),
        taxid="VAT Reg No: GB {d3} {d4} {d2}",
        phone="0{d2}0 {d3} {d4}",
    ),
    "MYR": dict(
        country="Malaysia",
        sign="RM",
        tax=("GST", ("6",)),
        order="dmy",
        suffixes=("Sdn Bhd", "Enterprise", "Trading"),
        cities=(
            ("Kuala Lumpur", "50450 W.P."),
            ("Petaling Jaya", "46200 Selangor"),
            ("Johor Bahru", "81100 Johor"),
            ("Shah Alam", "40000 Selangor"),
        ),
        formats=("%d/%m/%Y", "%d-%m-%Y", "%d %b %Y"),
        taxid="GST Reg No: 000{d9}",
        phone="0{d}-{d4} {d4}",
    ),
    "SGD": dict(
        country="Singapore",
        sign="S$",
        tax=("GST", ("8", "9")),
        order="dmy",
        suffixes=("Pte Ltd",),
        cities=(("Singapore", "238859"), ("Singapore", "049315"), ("Singapore", "609601")),
        formats=("%d/%m/%Y", "%d %b %Y"),
        taxid="GST Reg No: 20{d7}K",
        phone="+65 {d4} {d4}",
    ),
    "AUD": dict(
        country="Australia",
        sign="A$",
        tax=("GST", ("10",)),
        order="dmy",
        suffixes=("Pty Ltd",),
        cities=(("Sydney", "NSW 2000"), ("Melbourne", "VIC 3000"), ("Brisbane", "QLD 4000")),
        formats=("%d/%m/%Y", "%d %B %Y"),
        taxid="ABN {d2} {d3} {d3} {d3}",
        phone="(0{d}) {d4} {d4}",
    ),
}
INVOICE_CURRENCIES = ("USD", "EUR", "GBP", "MYR", "SGD", "AUD")
RECEIPT_CURRENCIES = ("MYR", "MYR", "MYR", "SGD", "USD", "GBP")

INVOICE_ITEMS = (  # description, unit price range, quantity range
    ("Consulting services (hours)", (80, 220), (2, 40)),
    ("Data pipeline maintenance - monthly", (400, 2500), (1, 1)),
    ("Freight charge per pallet", (45, 180), (1, 12)),
    ("Printed brochures A5, box of 500", (60, 140), (1, 10)),
    ("Safety gloves, carton", (18, 40), (1, 20)),
    ("Cloud hosting - standard plan", (29, 199), (1, 3)),
    ("On-site installation", (150, 900), (1, 2)),
    ("Cat6 cable, 305m reel", (90, 160), (1, 6)),
    ("Office cleaning - weekly visit", (70, 160), (1, 5)),
    ("Design revisions (hours)", (60, 140), (1, 16)),
    ("Catering - lunch buffet per person", (12, 35), (10, 60)),
    ("Software licence, per seat/year", (120, 480), (1, 25)),
    ("Replacement filter set", (25, 75), (1, 8)),
    ("Courier delivery", (8, 35), (1, 5)),
)
PAYMENT_TERMS = (("Net 30", 30), ("Net 14", 14), ("Net 45", 45), ("30 days from invoice date", 30))
TOTAL_LABELS = ("TOTAL {cur}", "Total Due ({cur})", "Grand Total {cur}", "Invoice Total ({cur})")
SHOP_TYPES = {  # receipt shop type -> items with a typical price
    "MINI MARKET": (
        ("FRESH MILK 1L", "6.90"),
        ("WHITE BREAD 400G", "3.20"),
        ("EGGS GRADE A 10S", "4.50"),
        ("INSTANT NOODLES 5S", "5.60"),
        ("COOKING OIL 2KG", "12.90"),
        ("RICE 5KG", "18.50"),
        ("MINERAL WATER 1.5L", "1.80"),
    ),
    "RESTORAN": (
        ("NASI LEMAK AYAM", "9.50"),
        ("TEH TARIK", "2.40"),
        ("ROTI CANAI", "1.60"),
        ("CHICKEN RICE", "8.00"),
        ("ICED LEMON TEA", "3.50"),
        ("FRIED KUEY TEOW", "8.50"),
    ),
    "HARDWARE": (
        ("PVC PIPE 1/2IN 3M", "7.80"),
        ("WOOD SCREW 1IN 100PCS", "4.90"),
        ("PAINT BRUSH 2IN", "5.50"),
        ("MASKING TAPE 24MM", "2.90"),
        ("CABLE TIE 200MM", "3.60"),
        ("SILICONE SEALANT", "14.90"),
    ),
    "STATIONERY": (
        ("A4 PAPER 80GSM", "12.50"),
        ("BALL PEN BLUE", "1.20"),
        ("STAPLER NO.10", "8.90"),
        ("FILE FOLDER", "2.30"),
        ("CORRECTION TAPE", "3.90"),
        ("HIGHLIGHTER SET", "6.50"),
    ),
    "PHARMACY": (
        ("VITAMIN C 1000MG", "29.90"),
        ("PLASTER STRIPS 20S", "4.80"),
        ("HAND SANITIZER 500ML", "9.90"),
        ("FACE MASK 50S", "15.00"),
        ("COUGH SYRUP 120ML", "12.60"),
    ),
}
EXPENSE_MERCHANTS = {
    "meals": ("Blue Fern Bistro", "Golden Wok Noodle House", "Harbour Grill", "Cafe Lumiere"),
    "travel": ("SkyJet Airways", "MetroCab", "RailLink Express", "CityRide Taxi"),
    "lodging": ("Harbourview Hotel", "Pinecrest Inn", "Orchid Suites", "Lakeside Lodge"),
    "fuel": ("Petrolux Station 221", "FastFuel Highway", "Greenline Energy Stn"),
    "office_supplies": ("PaperTrail Stationers", "Deskmate Office Store", "InkWell Supplies"),
    "software": ("CloudDesk", "Codeharbor", "Sheetwise", "VectorPad"),
    "utilities": ("City Power & Light", "AquaNet Water", "FiberLink Broadband", "Metro Gas Co"),
    "groceries": ("FreshMart", "Green Basket Supermarket", "Daily Harvest Grocer"),
    "other": ("Lucky Paws Pet Shop", "QuickPost Courier", "Sparkle Dry Cleaning", "Bloom Florist"),
}
EXPENSE_ITEMS = {
    "meals": ("lunch set", "2x cappuccino", "chicken rice", "team dinner", "club sandwich", "iced lemon tea"),
    "travel": (
        "economy ticket KUL-SIN",
        "taxi fare",
        "train ticket return",
        "airport transfer",
        "baggage fee",
    ),
    "lodging": ("room 2 nights", "deluxe room 1 night", "city tax", "late checkout"),
    "fuel": ("unleaded 95 32.5L", "diesel 40L", "RON97 20.1L", "petrol pump 4"),
    "office_supplies": (
        "A4 paper 5 reams",
        "toner cartridge",
        "whiteboard markers",
        "stapler",
        "file folders",
    ),
    "software": ("monthly subscription", "annual licence 5 seats", "pro plan upgrade", "cloud storage 1TB"),
    "utilities": ("electricity bill March", "water bill", "internet 100Mbps monthly", "gas usage Q1"),
    "groceries": ("milk 2L", "eggs 30s", "bread", "rice 5kg", "fruit and vegetables"),
    "other": ("parcel delivery", "dry cleaning 3 items", "flower bouquet", "pet food 10kg"),
}
MIXED_PAIRS = (  # (merchant that points elsewhere, category of what was bought: that decides)
    ("Petrolux Station 221", "meals"),
    ("Harbourview Hotel", "meals"),
    ("FreshMart", "office_supplies"),
    ("PaperTrail Stationers", "software"),
    ("SkyJet Airways", "lodging"),
    ("Orchid Suites", "travel"),
)
OPAQUE_MERCHANTS = ("SQ *{code}", "POS PURCHASE {num}", "PAYPAL *{code}", "CARD TXN {num}")
OCR_SWAPS = {"O": "0", "0": "O", "l": "1", "1": "l", "I": "1", "S": "5", "5": "S", "B": "8", "e": "c"}


@dataclass(frozen=True)
class DemoDocument:
    process_slug: str
    filename: str
    text: str
    truth: dict[str, str]
    hard: tuple[str, ...]
    as_pdf: bool


def generate(seed: int, count: int) -> list[DemoDocument]:
    """Return ``count`` documents, the same ones for the same seed."""
    rng = random.Random(seed)
    kinds = [KIND_CYCLE[i % len(KIND_CYCLE)] for i in range(count)]
    rng.shuffle(kinds)
    hard_indices = set(rng.sample(range(count), round(count * HARD_SHARE))) if count else set()
    builders = {INVOICE: _invoice, RECEIPT: _receipt, CLASSIFY: _expense}
    docs, names = [], set()
    for i, kind in enumerate(kinds):
        hard = _pick_hard(rng, kind) if i in hard_indices else ()
        doc = builders[kind](rng, i, hard)
        if doc.filename in names:
            stem, ext = doc.filename.rsplit(".", 1)
            doc = DemoDocument(**{**doc.__dict__, "filename": f"{stem}-{i}.{ext}"})
        names.add(doc.filename)
        docs.append(doc)
    return docs


def _pick_hard(rng: random.Random, kind: str) -> tuple[str, ...]:
    picked = rng.sample(HARD_CASES[kind], 2 if rng.random() < 0.2 else 1)
    if any(conflict <= set(picked) for conflict in CONFLICTS):
        picked = picked[:1]
    return tuple(sorted(picked))


# ---- small helpers ------------------------------------------------------------------------------


def _money(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(rng.randint(int(low * 100), int(high * 100))) / 100


def _fmt(amount: Decimal, comma: bool = False, thousands: bool = True) -> str:
    text = f"{amount:,.2f}" if thousands else f"{amount:.2f}"
    return text.translate(str.maketrans(",.", ".,")) if comma else text


def _digits(rng: random.Random, template: str) -> str:
    """Fill each ``{dN}`` (``{d}`` = one digit) with N fresh random digits."""
    return re.sub(
        r"\{d(\d*)\}", lambda m: "".join(str(rng.randint(0, 9)) for _ in range(int(m[1] or 1))), template
    )


def _date(rng: random.Random) -> dt.date:
    return dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(900))


def _is_ambiguous(fmt: str) -> bool:
    return fmt in ("%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y")


def _date_format(rng: random.Random, region: dict, day: dt.date, ambiguous: bool) -> str:
    """A format for the region; numeric day/month orders only when the day makes them unambiguous."""
    if ambiguous:
        return "%m/%d/%Y" if region["order"] == "mdy" else "%d/%m/%Y"
    fmt = rng.choice(region["formats"])
    if _is_ambiguous(fmt) and day.day <= 12 and day.day != day.month:
        fmt = next(f for f in region["formats"] if not _is_ambiguous(f))
    return fmt


def _ambiguous_day(rng: random.Random, day: dt.date) -> dt.date:
    return day.replace(day=rng.choice([d for d in range(1, 13) if d != day.month]))


def _company(rng: random.Random, region: dict) -> str:
    return f"{rng.choice(VENDOR_WORDS)} {rng.choice(VENDOR_NOUNS)} {rng.choice(region['suffixes'])}"


def _address(rng: random.Random, currency: str) -> list[str]:
    region = REGIONS[currency]
    city, post = rng.choice(region["cities"])
    num, street = rng.randint(2, 240), rng.choice(STREET_NAMES)
    if currency == "MYR":
        return [
            f"NO. {num}, JALAN {rng.choice(MY_STREETS)}, {rng.choice(MY_TAMAN)},",
            f"{post.split()[0]} {city.upper()}, {' '.join(post.split()[1:]).upper().rstrip('.')}.",
        ]
    if currency == "SGD":
        return [f"{num} {street} Road #0{rng.randint(1, 9)}-{rng.randint(10, 99)}", f"Singapore {post}"]
    if currency == "EUR":
        return [f"{street}strasse {num}", f"{post} {city}", region["country"]]
    if currency == "USD":
        return [
            f"{num} {street} {rng.choice(('St', 'Ave', 'Blvd'))}, Suite {rng.randint(100, 900)}",
            f"{city}, {post}",
            region["country"],
        ]
    return [f"{num} {street} {rng.choice(('Road', 'Street', 'Lane'))}", f"{city} {post}", region["country"]]


def _logo(rng: random.Random, name: str) -> str:
    """The name as a spaced-out logo line, as OCR reads a stylised header (some letters misread)."""
    spaced = "   ".join(" ".join(word) for word in name.upper().split())
    noisy = "".join(OCR_SWAPS[c] if c in "OIS" and rng.random() < 0.5 else c for c in spaced)
    deco = rng.choice(("~~", "**", "=#=", "//"))
    return f"{deco} {noisy} {deco}"


def _ocr_noise(rng: random.Random, text: str, rate: float = 0.035) -> str:
    out, changed = [], False
    for char in text:
        roll = rng.random()
        if char in OCR_SWAPS and roll < rate:
            out.append(OCR_SWAPS[char])
        elif char == " " and roll < rate / 2:
            out.append("")  # words run together
        elif char.isalpha() and roll < rate / 6:
            out.append(char + " ")  # a word broken in two
        else:
            out.append(char)
            continue
        changed = True
    noisy = "".join(out)
    if not changed:
        index = next((i for i, c in enumerate(noisy) if c in OCR_SWAPS), 0)
        noisy = noisy[:index] + OCR_SWAPS.get(noisy[index : index + 1], "") + noisy[index + 1 :]
    return noisy


def _two_columns(left: list[str], right: list[str], width: int = 46) -> list[str]:
    rows = max(len(left), len(right))
    left, right = left + [""] * (rows - len(left)), right + [""] * (rows - len(right))
    return [f"{a.ljust(width - 2)}  {b}".rstrip() for a, b in zip(left, right, strict=True)]


# ---- invoices ----------------------------------------------------------------------------------


def _invoice(rng: random.Random, index: int, hard: tuple[str, ...]) -> DemoDocument:
    currency = rng.choice(INVOICE_CURRENCIES)
    region = REGIONS[currency]
    vendor, customer = _company(rng, region), _company(rng, region)
    comma = currency == "EUR" and rng.random() < 0.7
    issued = _date(rng)
    if "ambiguous_date" in hard:
        issued = _ambiguous_day(rng, issued)
    fmt = _date_format(rng, region, issued, "ambiguous_date" in hard)
    terms, days = rng.choice(PAYMENT_TERMS)
    due = issued + dt.timedelta(days=days)
    year = issued.year
    number = rng.choice(
        (
            f"INV-{year}-{rng.randint(1, 99999):05d}",
            f"{year}/{rng.randint(1, 9999):04d}",
            f"A{rng.randint(100000, 999999)}",
            f"{vendor[:2].upper()}-{rng.randint(1000, 99999)}",
        )
    )

    lines = []
    for desc, (low, high), (qlo, qhi) in rng.sample(INVOICE_ITEMS, rng.randint(1, 5)):
        qty, unit = rng.randint(qlo, qhi), _money(rng, low, high)
        lines.append((desc, qty, unit, qty * unit))
    subtotal = sum((amount for *_, amount in lines), Decimal(0))
    tax_label, rates = region["tax"]
    rate = Decimal(rng.choice(rates))
    tax = (subtotal * rate / 100).quantize(CENT, ROUND_HALF_UP)
    total = subtotal + tax
    printed = list(lines)
    if "totals_mismatch" in hard:  # one line printed wrong; the document's own totals stay as issued
        k = rng.randrange(len(printed))
        desc, qty, unit, amount = printed[k]
        printed[k] = (desc, qty, unit, amount + _money(rng, 5, 150) * rng.choice((1, -1)))

    no_cur = "no_currency" in hard
    cur = "" if no_cur else currency
    top = [_logo(rng, vendor)] if "logo_vendor" in hard else [vendor, *_address(rng, currency)]
    if "logo_vendor" in hard:
        top += _address(rng, currency)
    top.append(f"Tel {_digits(rng, region['phone'])}  |  {_digits(rng, region['taxid'])}")
    title = "INVOICE" if tax_label == "Sales Tax" else "TAX INVOICE"
    right = [title]
    if "early_second_date" in hard:  # a delivery or due date printed first, beside the vendor name
        delivered = issued - dt.timedelta(days=rng.randint(1, 9))
        early = rng.choice((("Delivery Date", delivered), ("Due Date", due)))
        right = [f"{early[0]}: {early[1].strftime(fmt)}", title]
    if len(top[0]) > 56:
        top.insert(1, "")
    text_lines = _two_columns(top, right, 60)
    meta = [
        f"{rng.choice(('Invoice No.:', 'Invoice #:', 'Invoice Number:')):<16}{number}",
        f"{'Invoice Date:':<16}{issued.strftime(fmt)}",
    ]
    if "ambiguous_date" not in hard and "early_second_date" not in hard:
        meta.append(f"{'Due Date:':<16}{due.strftime(fmt)}")
    meta.append(f"{'PO Number:':<16}PO-{rng.randint(10000, 99999)}")
    bill_to = ["Bill To:", customer, "Attn: Accounts Payable", *_address(rng, currency)]
    text_lines += ["", *_two_columns(bill_to, meta), ""]
    if not no_cur:
        text_lines.append(f"All amounts in {currency}")
    text_lines += [f"{'Description':<40}{'Qty':>5}{'Unit Price':>14}{'Amount':>15}", "-" * 74]
    for desc, qty, unit, amount in printed:
        text_lines.append(f"{desc:<40}{qty:>5}{_fmt(unit, comma):>14}{_fmt(amount, comma):>15}")
    text_lines.append("-" * 74)
    label = "Amount" if "no_total_label" in hard else rng.choice(TOTAL_LABELS).format(cur=cur)
    label = label.replace(" ()", "").strip()
    sums = [("Subtotal", subtotal), (f"{tax_label} {rate}%", tax), (label, total)]
    if "deposit_balance" in hard:
        deposit = (total * Decimal(rng.choice(("0.2", "0.3", "0.5")))).quantize(CENT)
        sums += [("Less deposit received", -deposit), (f"Balance Due {cur}".strip(), total - deposit)]
    text_lines += [f"{name:>57}{_fmt(value, comma):>17}" for name, value in sums]
    text_lines += [
        "",
        f"Payment terms: {terms}. Please quote the invoice number with your payment.",
        f"Bank transfer: {_digits(rng, 'ACCT {d4} {d4} {d4}')}",
    ]
    text_lines.append(
        "Thank you for your business." if "logo_vendor" in hard else f"Thank you for your business. {vendor}"
    )
    text = "\n".join(text_lines) + "\n"
    if "ocr_noise" in hard:
        text = _ocr_noise(rng, text)
    as_pdf = rng.random() < 0.85
    safe_number = number.replace("/", "-")
    return DemoDocument(
        INVOICE,
        f"{safe_number}.{'pdf' if as_pdf else 'txt'}",
        text,
        {
            "vendor": vendor,
            "invoice_number": number,
            "date": issued.isoformat(),
            "total": f"{total:.2f}",
            "currency": currency,
        },
        hard,
        as_pdf,
    )


# ---- receipts ----------------------------------------------------------------------------------


def _receipt(rng: random.Random, index: int, hard: tuple[str, ...]) -> DemoDocument:
    currency = rng.choice(RECEIPT_CURRENCIES)
    region = REGIONS[currency]
    shop_type = rng.choice(tuple(SHOP_TYPES))
    word = rng.choice(SHOP_WORDS)
    if currency == "MYR":
        vendor = f"{shop_type} {word}" if shop_type == "RESTORAN" else f"{word} {shop_type}"
        vendor += rng.choice(("", " SDN BHD", " ENTERPRISE"))
    else:
        vendor = f"{word} {'CAFE' if shop_type == 'RESTORAN' else shop_type}"
    address_lines = [line.upper() for line in _address(rng, currency)[:2]]
    address = " ".join(address_lines)
    when = _date(rng)
    if "ambiguous_date" in hard:
        when = _ambiguous_day(rng, when)
    fmt = _date_format(rng, region, when, "ambiguous_date" in hard)
    sign = "" if "no_currency" in hard else region["sign"]

    items = []
    for name, price in rng.sample(SHOP_TYPES[shop_type], rng.randint(1, 5)):
        unit = (Decimal(price) * Decimal(rng.choice(("0.9", "1", "1", "1.1")))).quantize(CENT)
        qty = rng.randint(1, 3)
        items.append((name, qty, unit, qty * unit))
    subtotal = sum((amount for *_, amount in items), Decimal(0))
    tax_label, rates = region["tax"]
    rate = Decimal(rates[0])
    tax = (subtotal * rate / 100).quantize(CENT, ROUND_HALF_UP)
    gross = subtotal + tax
    total = (gross * 20).quantize(Decimal(1), ROUND_HALF_UP) / 20 if currency == "MYR" else gross
    total = total.quantize(CENT)
    if "totals_mismatch" in hard:
        k = rng.randrange(len(items))
        name, qty, unit, amount = items[k]
        items[k] = (name, qty, unit, amount + _money(rng, 0.5, 9) * rng.choice((1, -1)))

    width = 42
    head = [_logo(rng, vendor)] if "logo_vendor" in hard else [vendor]
    if currency == "MYR":
        head.append(f"({rng.randint(100000, 999999)}-{rng.choice('AKPTW')})")
    head += [*address_lines, "TEL: " + _digits(rng, region["phone"])]
    if currency != "USD":
        head.append(_digits(rng, region["taxid"]).upper())
    titles = ("TAX INVOICE", "RECEIPT", "CASH BILL") if currency == "MYR" else ("RECEIPT", "SALES RECEIPT")
    head += [
        rng.choice(titles),
        f"DATE: {when.strftime(fmt)}  TIME: {rng.randint(8, 22):02d}:{rng.randint(0, 59):02d}",
        f"DOC NO: CS{rng.randint(100000, 999999)}  CASHIER: {rng.randint(1, 9):02d}",
        "-" * width,
        f"{'ITEM':<20}{'QTY':>4}{'PRICE':>8}{'AMT':>10}",
    ]
    for name, qty, unit, amount in items:
        unit_text, amount_text = _fmt(unit, thousands=False), _fmt(amount, thousands=False)
        head.append(f"{name[:19]:<20}{qty:>4}{unit_text:>8}{amount_text:>10}")
    head.append("-" * width)

    def row(label: str, value: Decimal, money_sign: str = "") -> str:
        amount = f"{money_sign} {_fmt(value, thousands=False)}".strip()
        return f"{label:<{width - len(amount)}}{amount}"

    rows = [row("SUB TOTAL", subtotal), row(f"{tax_label} {rate}%", tax)]
    if currency == "MYR":
        rows.append(row("ROUNDING ADJ", total - gross))
    label = "AMOUNT" if "no_total_label" in hard else rng.choice(("TOTAL", "TOTAL AMOUNT", "NETT TOTAL"))
    rows.append(row(label, total, sign))
    due = total
    if "deposit_balance" in hard:
        deposit = (total * Decimal("0.4")).quantize(Decimal(1))
        due = total - deposit
        rows += [row("LESS DEPOSIT PAID", -deposit), row("BALANCE", due, sign)]
    if rng.random() < 0.7:
        cash = max(Decimal(10), (due / 10).quantize(Decimal(1), rounding=ROUND_CEILING) * 10)
        rows += [row("CASH", cash, sign), row("CHANGE", cash - due, sign)]
    else:
        rows.append(row(f"CARD **** {rng.randint(1000, 9999)}", due, sign))
    tail = ["-" * width, "THANK YOU. PLEASE COME AGAIN.", "GOODS SOLD ARE NOT RETURNABLE."]
    text = "\n".join(head + rows + tail) + "\n"
    if "ocr_noise" in hard:
        text = _ocr_noise(rng, text)
    as_pdf = rng.random() < 0.25
    return DemoDocument(
        RECEIPT,
        f"receipt-{index:04d}.{'pdf' if as_pdf else 'txt'}",
        text,
        {
            "vendor": vendor,
            "date": when.isoformat(),
            "address": address,
            "total": f"{total:.2f}",
            "currency": currency,
        },
        hard,
        as_pdf,
    )


# ---- expense lines to classify -----------------------------------------------------------------


def _expense(rng: random.Random, index: int, hard: tuple[str, ...]) -> DemoDocument:
    category = rng.choice(CATEGORIES)
    merchant = rng.choice(EXPENSE_MERCHANTS[category])
    if "mixed_signals" in hard:
        merchant, category = rng.choice(MIXED_PAIRS)
    items = ", ".join(rng.sample(EXPENSE_ITEMS[category], rng.randint(1, 2)))
    if "no_signals" in hard:  # nothing to go on: a careful human files it as "other"
        category, items = "other", rng.choice(("", "purchase", "misc."))
        merchant = rng.choice(OPAQUE_MERCHANTS).format(
            code=_digits(rng, "{d4}").replace("0", "Q"), num=_digits(rng, "{d6}")
        )
    currency = rng.choice(INVOICE_CURRENCIES)
    amount = _fmt(_money(rng, 3, 400))
    day = _date(rng)
    text = (
        rng.choice(
            (
                f"{day.isoformat()}  {merchant.upper()}  {items}  {currency} {amount}",
                f"Merchant: {merchant}\nItems: {items}\nAmount: {currency} {amount}",
                f"{day.strftime('%d %b')}  {merchant} - {items} - {amount} {currency}",
            )
        )
        .replace(" -  - ", " - ")
        .replace("    ", "  ")
        + "\n"
    )
    if "ocr_noise" in hard:
        text = _ocr_noise(rng, text, rate=0.06)
    return DemoDocument(CLASSIFY, f"expense-{index:04d}.txt", text, {"category": category}, hard, False)
