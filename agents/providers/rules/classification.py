"""The "classification" ruleset: an expense category from merchant names and keywords."""

from __future__ import annotations

import math
import re

from .document import Document
from .evidence import FLOOR, Evidence, Finding

# Pattern -> weight per category. Letterhead hits (the merchant's own name) count double.
KEYWORDS: dict[str, tuple[tuple[str, float], ...]] = {
    "meals": (
        (r"RESTORAN|RESTAURANT|CAFE|CAFÉ|COFFEE|KOPITIAM|BISTRO|DINER|EATERY|CANTEEN|FOOD ?COURT", 3),
        (r"BURGER|PIZZA|SUSHI|NASI|MEE|NOODLE|CHICKEN|RICE|TEH|KOPI|LATTE|CAPPUCCINO|MEAL|LUNCH|DINNER", 1),
        (r"SANDWICH|\bTEA\b|SALAD|SOUP|JUICE|DESSERT|SNACK", 1),
        (r"BREAKFAST|TABLE ?NO|PAX|DINE ?IN|TAKE ?AWAY|SERVICE CHARGE|WAITER|BAR\b|GRILL|BAKER(Y|IES)", 1.5),
        (r"MCDONALD|KFC|STARBUCKS|SUBWAY|DOMINO|TEALIVE|OLDTOWN|MARRYBROWN|TEXAS CHICKEN", 3),
    ),
    "travel": (
        (r"AIRLINE|AIRWAYS|AIRASIA|FLIGHT|BOARDING|AIRPORT|TAXI|UBER|GRAB(CAR)?\b|LYFT|RAILWAY|TRAIN|KTM", 3),
        (r"\bBUS\b|COACH|TOLL|PARKING|CAR ?RENTAL|FERRY|TICKET|FARE|E-?TICKET|PASSENGER|BAGGAGE|TRIP", 1.5),
    ),
    "lodging": (
        (r"HOTEL|MOTEL|\bINN\b|RESORT|HOSTEL|LODGE|AIRBNB|BOOKING\.COM|GUEST ?HOUSE|HOMESTAY|SUITES", 3),
        (r"ROOM|NIGHTS?|CHECK[- ]?IN|CHECK[- ]?OUT|ACCOMMODATION|TOURISM TAX|CITY TAX|FOLIO", 1.5),
    ),
    "fuel": (
        (r"PETRONAS|PETRON|SHELL|CALTEX|\bBHP\b|ESSO|CHEVRON|EXXON|\bBP\b|FUEL|PETROL|GASOLINE", 3),
        (r"DIESEL|RON ?9[57]|RON ?100|UNLEADED|PUMP|LITRES?|\bLTR\b|NOZZLE|V-POWER|PRIMAX", 2),
    ),
    "office_supplies": (
        (r"STATIONERY|STATIONERS|OFFICE|PRINTING|PHOTOCOPY|BOOKSTORE|BOOK ?SHOP|POPULAR BOOK", 3),
        (r"\bPEN\b|PENCIL|PAPER|A4|TONER|INK|CARTRIDGE|FILE|FOLDER|STAPLER|ENVELOPE|NOTEBOOK|MARKER|TAPE", 1),
        (r"GLUE|SCISSORS|BINDER|CALCULATOR|LAMINAT|PRINTER|ERASER|RULER|CORRECTION|HIGHLIGHTER|CLIP", 1),
    ),
    "software": (
        (r"SOFTWARE|SUBSCRIPTION|LICEN[CS]E|SAAS|CLOUD|HOSTING|DOMAIN|WEB SERVICES|\bAWS\b|AZURE|GITHUB", 3),
        (r"MICROSOFT|ADOBE|GOOGLE WORKSPACE|DROPBOX|SLACK|ZOOM|ATLASSIAN|OPENAI|EXCHANGE|SERVER|API", 1.5),
        (r"MONTHLY PLAN|ANNUAL PLAN|PRO PLAN|PLAN UPGRADE|USAGE|COMPUTE|STORAGE|BANDWIDTH", 1),
        (r"DATA TRANSFER|SEAT", 1),
    ),
    "utilities": (
        (r"ELECTRICITY|TENAGA|\bTNB\b|WATER BILL|SYABAS|INDAH WATER|UTILITY|UTILITIES|\bGAS\b BILL", 3),
        (r"BROADBAND|INTERNET|FIBRE|FIBER|TELEKOM|\bTM\b|UNIFI|MOBILE BILL|POSTPAID|KWH|METER", 2),
        (r"ACCOUNT NO|BILLING PERIOD|TARIFF|CONSUMPTION|SEWERAGE", 1),
    ),
    "groceries": (
        (r"SUPERMARKET|HYPERMARKET|GROCER|GROCERY|PASARAYA|MINI ?MARKET|SPEED MART|\bMART\b|AEON|TESCO", 3),
        (r"GIANT|MYDIN|LOTUS|JAYA GROCER|VILLAGE GROCER|NSK|ECONSAVE|FRESH|SAYUR|VEGETABLE|FRUIT", 1.5),
        (r"MILK|BREAD|EGG|SUGAR|FLOUR|COOKING OIL|DETERGENT|TISSUE|SHAMPOO|SOAP|BISCUIT|\bKG\b|GARDENIA", 1),
    ),
}  # fmt: skip
COMPILED = {cat: tuple((re.compile(p), w) for p, w in pats) for cat, pats in KEYWORDS.items()}
LETTERHEAD_LINES = 6
MAX_HITS_PER_PATTERN = 3

WEIGHTS = {
    "bias": -1.2,
    "margin": 0.9,  # per point of score over the runner-up (capped)
    "evidence": 0.5,  # per log-point of total score for the winner
    "letterhead_hit": 0.8,  # the merchant's own name says it
    # Another category has evidence too (a hotel bill for a sandwich, a fuel station selling dinner):
    # the line is genuinely ambiguous, so a person should look, whatever the winner's score.
    "competing_category": -1.6,
    "competing_share": -2.0,  # times runner-up score / winner score
}


def score_categories(doc: Document) -> tuple[dict[str, float], set[str]]:
    head = "\n".join(doc.upper[i] for i in doc.nonempty[:LETTERHEAD_LINES])
    body = doc.full_upper
    scores: dict[str, float] = {}
    in_head: set[str] = set()
    for category, patterns in COMPILED.items():
        total = 0.0
        for pattern, weight in patterns:
            hits = min(MAX_HITS_PER_PATTERN, len(pattern.findall(body)))
            head_hits = min(1, len(pattern.findall(head)))
            total += weight * (hits + head_hits)
            if head_hits and weight >= 2:
                in_head.add(category)
        if total:
            scores[category] = total
    return scores, in_head


def classify(text: str, choices: tuple[str, ...]) -> Finding:
    evidence = Evidence(WEIGHTS)
    scores, in_head = score_categories(Document(text))
    allowed = {c: s for c, s in scores.items() if not choices or c in choices}
    fallback = "other" if not choices or "other" in choices else None
    if not allowed:
        return Finding(fallback, Evidence({"bias": math.log(FLOOR / (1 - FLOOR)) + 1.0}))
    ordered = sorted(allowed.items(), key=lambda cs: (-cs[1], cs[0]))
    best, best_score = ordered[0]
    runner_up = ordered[1][1] if len(ordered) > 1 else 0.0
    evidence.add("margin", min(4.0, (best_score - runner_up) / 2))
    evidence.add("evidence", math.log1p(best_score))
    if best in in_head:
        evidence.add("letterhead_hit")
    if runner_up:
        evidence.add("competing_category")
        evidence.add("competing_share", runner_up / best_score)
    return Finding(best, evidence)
