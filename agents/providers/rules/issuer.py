"""Evidence about which party issued an invoice, and whether the name as read is intact.

An invoice names two parties. The customer sits under a "Bill to" / "Ship to" / "Sold to" label;
the issuer is the one the money goes to ("Payable to", the bank account's holder, "Sold by"), whose
web or e-mail domain is printed, and who is named again in the footer. A name read by OCR may also
be damaged: a word split in two ("Logi stics"), two words run together ("FreightPte"), a letter
read as a digit ("Kestre1"). Another mention of the same company in the document shows which.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

from .document import Document
from .normalise import squash

CUSTOMER_LABEL = re.compile(
    r"^(BILL(ED)?[ -]?TO|SHIP(PED)?[ -]?TO|SOLD[ -]TO|DELIVER(ED)?[ -]TO|INVOICE[ -]TO|CUSTOMER|CLIENT|"
    r"FACTUURADRES|AFLEVERADRES|LEVERADRES|RECHNUNGSADRESSE|LIEFERADRESSE|RECHNUNG AN|ADRESSE DE FACTURATION|"
    r"ADRESSE DE LIVRAISON|KLANT|KUNDE)\b\W*(ADDRESS|ADRES)?\W*$"
)
PAYEE_LABEL = re.compile(
    r"(?:PAYABLE TO|PAY TO|REMIT TO|ACCOUNT NAME|ACCOUNT HOLDER|NAME OF ACCOUNT|BENEFICIARY|"
    r"TITULAIRE(?: DU COMPTE)?|KONTOINHABER|TEN NAME VAN|T\.?N\.?V\.|SOLD BY|ISSUED BY|SERVICE PROVIDER|"
    r"(?:SUPPLIER|SELLER|FROM)(?=\s*:))\s*:?\s*",
    re.I,
)
DOMAIN = re.compile(r"([\w.-]+)@([\w-]+)\.|(?:WWW\.|HTTPS?://(?:WWW\.)?)([\w-]+)\.", re.I)
GENERIC_DOMAIN = {"gmail", "yahoo", "hotmail", "outlook", "example", "mail", "gmx", "icloud", "fake"}

# Words of company names that are not run into others in print; used to spot split or joined words.
VOCABULARY = {
    "STATIONERY", "HARDWARE", "PHARMACY", "ENTERPRISE", "ENTERPRISES", "TRADING", "RESTORAN",
    "RESTAURANT", "ELECTRICAL", "MACHINERY", "SERVICES", "SERVICE", "INTERNATIONAL", "MARKETING",
    "HOLDINGS", "INDUSTRIES", "LOGISTICS", "ENGINEERING", "CONSULTING", "SOFTWARE", "SYSTEMS",
    "SOLUTIONS", "TECHNOLOGIES", "TECHNOLOGY", "FACILITIES", "FREIGHT", "CATERING", "SUPPLIES",
    "DESIGN", "STUDIO", "PARTNERS", "BAKERY", "KITCHEN", "LIMITED", "COMPANY", "CORPORATION",
    "BERHAD", "MARKET", "BOOKS", "HOTEL", "CAFE", "PRINT", "WORKS", "GROUP", "MEDIA", "PTE", "LTD",
    "SDN", "BHD", "LLC", "LLP", "INC", "GMBH", "PTY", "PLC",
}  # fmt: skip
LONG_WORDS = [word for word in VOCABULARY if len(word) >= 7]
# Lower-case words that belong in a mixed-case name: "Bureau van Dijk", "Banque de France".
PARTICLES = {
    "de", "du", "des", "la", "le", "les", "van", "der", "den", "von", "und", "and", "of", "the",
    "et", "en", "y", "da", "di", "do", "del", "zu", "am", "im", "for", "a", "an", "e", "to",
}  # fmt: skip
# Digits OCR reads for letters and back, and "c" for "e": folded when comparing two mentions.
CONFUSABLE = str.maketrans("0158ci", "olsbel")


WEB_ADDRESS = re.compile(r"\S*(?:@|WWW\.|HTTPS?:|\.COM\b|\.NET\b|\.ORG\b|\.MY\b)\S*", re.I)
SOCIAL = re.compile(r"FACEBOOK|INSTAGRAM|TWITTER|\bFB\b|\bIG\b|LIKE US|FOLLOW US")


def letters(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def _fold(text: str) -> str:
    return letters(text).translate(CONFUSABLE)


def customer_cells(doc: Document) -> set[tuple[int, str]]:
    """The cells of the blocks under a customer label ("Bill to:", "Factuuradres"), a few lines deep."""
    found: set[tuple[int, str]] = set()
    for i in doc.nonempty[:60]:
        for cell in doc.cells(i):
            label = cell.text.upper()
            if not CUSTOMER_LABEL.match(label):
                continue
            seen = 0
            for j in range(i + 1, len(doc.raw_lines)):
                if not doc.lines[j]:
                    continue
                seen += 1
                if seen > 4:
                    break
                for other in doc.cells(j):
                    if other.start <= cell.end + 2 and cell.start - 2 <= other.end + 8:
                        found.add((j, squash(other.text)))
    return found


def payee_names(doc: Document) -> list[tuple[int, str]]:
    """Names the money goes to or the goods come from: "Payable to X", "Titulaire du compte : X"."""
    found = []
    for i in doc.nonempty:
        for cell in doc.cells(i):
            match = PAYEE_LABEL.search(cell.text)
            if not match or (match.start() and cell.text[match.start() - 1].isalnum()):
                continue
            name = cell.text[match.end() :].strip(" .,;:")
            if not name:  # the label alone: the name is the cell below ("Service Provider:")
                below = doc.cell_below(i, cell, depth=2)
                while below and below[1].text.startswith("("):
                    below = doc.cell_below(below[0], below[1], depth=1)
                name = below[1].text.strip(" .,;:") if below else ""
            name = re.split(r"\s[-\u2013|]\s|\s{2,}", name)[0]
            if sum(ch.isalpha() for ch in name) >= 3 and len(name) <= 60 and not re.search(r"\d{3}", name):
                found.append((i, squash(name)))
    return found


def domains(doc: Document) -> list[str]:
    found = []
    for match in DOMAIN.finditer(doc.text):
        for part in match.groups():
            key = letters(part or "")
            if len(key) >= 4 and key not in GENERIC_DOMAIN:
                found.append(key)
    return found


LEGAL_FORM = re.compile(r"\b(INC|LTD|LLC|B\.?V|AG|GMBH|SARL|CO|CORP|LIMITED|PTE|SDN|BHD)\b\.?", re.I)


def confirmed_by(name: str, payees: list[tuple[int, str]], sites: list[str]) -> str | None:
    """Whether a payee line or a web/e-mail domain names this company ("payee", "domain")."""
    key = letters(LEGAL_FORM.sub("", name))
    if len(key) < 4:
        return None
    for _, payee in payees:
        other = letters(payee)
        inside = key in other or (other in key and len(key) <= len(other) + 8)
        if key == other or (len(other) >= 4 and inside):
            return "payee"
    if any(key in site or (len(site) >= 5 and site in key) for site in sites):
        return "domain"
    return None


# ---- is the name intact? ----------------------------------------------------------------------


def ocr_defects(name: str) -> list[str]:
    """Signs that a name was damaged by OCR: "split_word", "run_together"."""
    tokens = name.split()
    mixed = any(ch.islower() for ch in name) and any(ch.isupper() for ch in name)
    defects = []
    for k, token in enumerate(tokens):
        prev = tokens[k - 1] if k else ""
        fragment = token[0].islower() and token.isalpha() and token not in PARTICLES
        if k and mixed and fragment and prev[-1:].isalpha() and token.upper() not in VOCABULARY:
            defects.append("split_word")  # "Logi stics", "Br ightwater"
        elif (
            k
            and prev.isalpha()
            and token.isalpha()
            and (prev + token).upper() in VOCABULARY
            and not (prev.upper() in VOCABULARY or token.upper() in VOCABULARY)
        ):
            defects.append("split_word")  # "STAT IONERY", "ENTERPR ISE"
        if mixed and re.search(r"[a-z][A-Z][a-z]", token):
            parts = re.split(r"(?<=[a-z])(?=[A-Z])", token)
            if any(p.upper() in VOCABULARY for p in parts):
                defects.append("run_together")  # "FreightPte", "HarborlightTrading"
        elif (
            not mixed
            and len(token) >= 9
            and token.isalpha()
            and token.upper() not in VOCABULARY
            and any(
                len(token) >= len(word) + 3 and (token.startswith(word) or token.endswith(word))
                for word in LONG_WORDS
            )
        ):
            defects.append("run_together")  # "JAYAHARDWARE"
    return defects


def repaired(name: str) -> str:
    """The name with split fragments joined and run-together words parted where it is safe to tell."""
    tokens = name.split()
    mixed = any(ch.islower() for ch in name) and any(ch.isupper() for ch in name)
    out: list[str] = []
    for token in tokens:
        prev = out[-1] if out else ""
        if prev and prev.isalpha() and token.isalpha() and (
            (mixed and token[0].islower() and token not in PARTICLES and token.upper() not in VOCABULARY)
            or ((prev + token).upper() in VOCABULARY and prev.upper() not in VOCABULARY)
        ):  # fmt: skip
            out[-1] = prev + token
            continue
        out.append(token)
    if mixed:
        out = [re.sub(r"(?<=[a-z]{3})(?=[A-Z][a-z]{1,})", " ", t) for t in out]
    return " ".join(out)


def other_mentions(doc: Document, name: str, skip: set[int]) -> list[tuple[str, str]]:
    """Other places the company is named: ("same", text), ("spacing", text) when only the spacing
    differs, or ("differs", text) when a few letters differ (one of the two was misread)."""
    key = letters(name)
    if len(key) < 6:
        return []
    folded = _fold(name)
    spaced = re.sub(r"\W+", " ", name.upper()).strip()
    found = []
    for i in doc.nonempty:
        if i in skip:
            continue
        if SOCIAL.search(doc.upper[i]):
            continue
        line = WEB_ADDRESS.sub(" ", doc.lines[i])
        compact = letters(line)
        if key in compact:
            plain = re.sub(r"\W+", " ", line.upper())
            if re.search(rf"(?<!\w){re.escape(spaced)}(?!\w)", plain):
                found.append(("same", line))
            elif " " in _span(line, key).strip() or " " not in name.strip():  # not a handle: "GOLDENKEYMAKER"
                found.append(("spacing", _span(line, key)))
            continue
        if len(compact) < len(key) * 0.7:
            continue
        if folded in _fold(line) or _near(folded, _fold(line)):
            found.append(("differs", line))
    return found


def _near(key: str, text: str) -> bool:
    """A window of `text` that matches `key` but for a letter or two."""
    n = len(key)
    starts = {m.start() for m in re.finditer(re.escape(key[:3]), text)}
    starts |= {m.end() - n for m in re.finditer(re.escape(key[-3:]), text)}
    for s in starts:
        if s < 0 or s + n - 1 > len(text):
            continue
        window = text[s : s + n + 1]
        if SequenceMatcher(None, key, window, autojunk=False).ratio() >= 0.88:
            return True
    return False


def _span(line: str, key: str) -> str:
    """The part of `line` whose letters are `key`, with its own spacing."""
    positions = [k for k, ch in enumerate(line) if ch.isalnum()]
    compact = "".join(line[k].lower() for k in positions)
    at = compact.find(key)
    if at < 0:
        return line
    start, end = positions[at], positions[at + len(key) - 1] + 1
    while end < len(line) and line[end] == ".":
        end += 1
    return line[start:end]
