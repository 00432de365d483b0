"""The currency: symbols and codes printed next to amounts, then codes anywhere, then country hints."""

from __future__ import annotations

import re
from collections import Counter

from .document import Document
from .evidence import Evidence, Finding
from .normalise import parse_amounts

MARKS = {"RM": "MYR", "MYR": "MYR", "€": "EUR", "EUR": "EUR", "£": "GBP", "GBP": "GBP", "USD": "USD",
         "US$": "USD", "S$": "SGD", "SGD": "SGD"}  # fmt: skip
CODES = re.compile(r"\b(MYR|USD|EUR|GBP|SGD|AUD|CAD|JPY|CNY|IDR|THB|INR|CHF|HKD|NZD|PHP)\b|€|£|\bRM\s?\d")
WORDS = {"US DOLLAR": "USD", "EURO": "EUR", "RINGGIT": "MYR", "POUND STERLING": "GBP"}
DOLLAR_BY_COUNTRY = {"SG": "SGD", "US": "USD"}
CURRENCY_BY_COUNTRY = {"MY": "MYR", "SG": "SGD", "US": "USD", "GB": "GBP", "EU": "EUR"}

WEIGHTS = {
    "bias": -0.2,
    "mark_on_amounts": 2.2,  # printed next to the figures
    "code_in_text": 1.2,  # written elsewhere, e.g. "All charges are in US Dollars"
    "country_hint": 1.0,  # inferred from where the document comes from
    "dollar_assumed_usd": -0.6,  # a bare "$" with no country to say which dollar
    "rival": -1.2,  # another currency is printed too
}


def extract_currency(doc: Document) -> Finding:
    evidence = Evidence(WEIGHTS)
    on_amounts: Counter[str] = Counter()
    dollars = 0
    for line in doc.lines:
        for amount in parse_amounts(line):
            mark = amount.currency_mark.upper()
            if mark == "$":
                dollars += 1
            elif mark in MARKS:
                on_amounts[MARKS[mark]] += 1
    in_text: Counter[str] = Counter()
    for m in CODES.finditer(doc.full_upper):
        token = m.group(0)
        code = (
            "EUR" if token == "€" else "GBP" if token == "£" else "MYR" if token.startswith("RM") else token
        )
        in_text[code] += 1
    for word, code in WORDS.items():
        if word in doc.full_upper:
            in_text[code] += 2
    countries = doc.countries
    if dollars:
        country = max((c for c in DOLLAR_BY_COUNTRY if c in countries), key=countries.get, default=None)
        code = DOLLAR_BY_COUNTRY.get(country, "USD") if country else ("MYR" if "MY" in countries else "USD")
        if "MY" in countries and not country:
            code = "MYR"  # Malaysian receipts sometimes print "$" for ringgit
        on_amounts[code] += dollars
        if not country and code == "USD" and not in_text:
            evidence.add("dollar_assumed_usd")

    if on_amounts:
        code = on_amounts.most_common(1)[0][0]
        evidence.add("mark_on_amounts")
        if in_text.get(code):
            evidence.add("code_in_text")
    elif in_text:
        code = in_text.most_common(1)[0][0]
        evidence.add("code_in_text")
    elif countries:
        country = max(countries, key=countries.get)
        code = CURRENCY_BY_COUNTRY[country]
        evidence.add("country_hint")
        return Finding(code, evidence)
    else:
        return Finding(None, evidence)
    if CURRENCY_BY_COUNTRY.get(max(countries, key=countries.get, default="")) == code:
        evidence.add("country_hint")
    rivals = (set(on_amounts) | {c for c, n in in_text.items() if n > 1}) - {code}
    if rivals:
        evidence.add("rival")
    return Finding(code, evidence)
