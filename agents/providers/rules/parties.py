"""Who issued the document (vendor) and where they are (address), read from the letterhead."""

from __future__ import annotations

import re

from .document import Document
from .evidence import Evidence, Finding
from .issuer import (
    confirmed_by,
    customer_cells,
    domains,
    letters,
    ocr_defects,
    other_mentions,
    payee_names,
    repaired,
)
from .normalise import parse_amounts, parse_dates, squash

LEGAL_SUFFIX = re.compile(
    r"\b(SDN\.?\s?BHD|SDN|BHD|S/B|BERHAD|ENTERPRISE|ENTERPRISES|TRADING|PLT|LTD|LIMITED|LLC|INC|CORP|"
    r"CORPORATION|LLP|KG(?=\s*$)|CO\.(?!\s?(NO|REG))|COMPANY(?!\s?(NO|REG))|GMBH|AG|B\.V\.?|N\.V\.|SARL|SAS|PLC|PTE|PTY|S\.?A\.|S\.?L\.)(?![\w])"
)
BUSINESS_WORD = re.compile(
    r"\b(RESTORAN|RESTAURANT|CAFE|KOPITIAM|BAKER(Y|IES)|STATIONERY|HARDWARE|MART|MARKET|SHOP|STORE|"
    r"SUPERMARKET|PASARAYA|KEDAI|FARMASI|PHARMACY|BOOKS?|TRADING|ELECTRICAL|MACHINERY|HOTEL|"
    r"SERVICES?|INTERNATIONAL|MARKETING|HOLDINGS|INDUSTRIES|CENTRE|CENTER|GROCER|FOOD|"
    r"KITCHEN|BISTRO|BAR|TRADERS?|SYARIKAT|PERNIAGAAN|CHEMIST|OPTICAL|AUTO|MOTOR|PETROL|STATION)\b"
)
ADDRESS_WORD = re.compile(
    r"\b(JALAN|JLN|LORONG|LOT|NO\.?\s?:?\s?\d|TAMAN|TMN|BANDAR|KAMPUNG|KG|LEBUH|PERSIARAN|LEVEL|FLOOR|FLR|"
    r"BLOCK|BLK|WISMA|PLAZA|MALL|SEKSYEN|SECTION|STREET|ST\.?|ROAD|RD\.?|AVENUE|AVE|SUITE|UNIT|"
    r"INDUSTRI|PERINDUSTRIAN|KAWASAN|BATU|SIMPANG|OFF|STRAAT|STRASSE|WEG|RUE|PLEIN|G/F|GROUND|"
    r"LANE|BLVD|BOULEVARD|DRIVE|HIGHWAY|HWY|PARKWAY|\w{3,}(?:STRASSE|STRAßE|STRAAT))\b"
)
PLACE_WORD = re.compile(
    r"\b(SELANGOR|JOHOR|KUALA LUMPUR|K\.?L\.?|PUTRAJAYA|PULAU PINANG|PENANG|PERAK|KEDAH|MELAKA|MALACCA|"
    r"NEGERI SEMBILAN|PAHANG|TERENGGANU|KELANTAN|SABAH|SARAWAK|PERLIS|LABUAN|MALAYSIA|"
    r"DARUL EHSAN|DARUL TAKZIM|PETALING JAYA|SHAH ALAM|SUBANG|KLANG|PUCHONG|CHERAS|AMPANG|"
    r"KAJANG|SERI KEMBANGAN|BANGI|RAWANG|SEMENYIH|JOHOR BAHRU|SINGAPORE)\b"
)
NUMBER_LABEL = re.compile(r"^NO\s?[.:]\s?:?\s*")
HOUSE_NUMBER = re.compile(r"(NO\.?\s?)?\d+[A-Z]?(\s?[&,-]\s?\d+[A-Z]?)*\s?,?")
# The outlet's code and name printed under the town line, part of the address block: "1413-SETIA ALAM 2".
BRANCH_CODE = re.compile(r"\d{3,5}-[A-Z][A-Z0-9 .'&-]{2,30}")
# A line that only names the state or country, which may follow the postcode-and-town line.
STATE_LINE = re.compile(
    r"(?:\W*\b(?:SELANGOR|JOHOR|PERAK|KEDAH|MELAKA|MALACCA|NEGERI SEMBILAN|PAHANG|TERENGGANU|KELANTAN|SABAH|"
    r"SARAWAK|PERLIS|PULAU PINANG|PENANG|WILAYAH PERSEKUTUAN|KUALA LUMPUR|LABUAN|PUTRAJAYA|MALAYSIA|"
    r"DARUL \w+|D\.?\s?E)\b\W*)+"
)
POSTCODE = re.compile(r"(?<![\d-])\d{5}(?![\d-])")
# Postcodes of other formats, as evidence that an address is complete: UK "EC1V 2NX", Singapore's six digits.
OTHER_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}\b|\bSINGAPORE \d{6}\b")
# The town line that ends an address: "LEEDS LS1 5DL", "DENVER, CO 80202", "10115 BERLIN".
TOWN_LINE = re.compile(
    r"[A-Z][A-Z .'-]{2,},? (?:[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}|[A-Z]{2} \d{5}(?:-\d{4})?)|"
    r"\d{4,6} [A-Z][A-Z .'-]{2,}"
)
BOILERPLATE = re.compile(
    r"TAX INVOICE|INVOICE|RECEIPT|\bBILL\b|WELCOME|\bCOPY\b|\bTEL\b|TEL\s?:|PHONE|\bFAX|\bH/?P\b|GST|"
    r"\bREG\b|\bROC\b|\bCO\.?\s?NO|COMPANY NO|BUSINESS NO|\bBRN\b|EMAIL|E-MAIL|WWW\.|HTTP|@|"
    r"CASHIER|TABLE|\bDATE\b|\bTIME\b|THANK|ORDER|CUSTOMER|MEMBER|\bPOS\b|TERMINAL|OPEN|CLOSE|"
    r"\bSLIP\b|^CASH (SALE|BILL)|FACTUUR|FACTURE|RECHNUNG|SIMPLIFIED|GOODS SOLD|POSTED|SHOPPING|HOURS"
)
# Registration numbers and ownership notes printed around the name: "(519537-X)", "CO.REG: 933109-X".
REGISTRATION = re.compile(
    r"\s*[(\[]?\s*(?:CO\.?\s?(?:REG|NO)\.?\s*:?\s*|ROC\s*(?:NO)?\.?\s*:?\s*)?"
    r"\(?[A-Z]{0,3}\d{5,12}[-\s]?[A-Z]?\)?\s*[)\]]?\s*$"
)
OWNERSHIP_PREFIX = re.compile(r"^(DIMILIKI\s*(OLEH)?|OWNED BY|A MEMBER OF|OPERATED BY)\s*:?\s*")
BILL_TO = re.compile(r"BILL TO|BILL-TO|SHIP TO|SOLD TO|DELIVER TO|ATTN|T\.A\.V\.|FACTUURADRES|AFLEVERADRES|"
                     r"CUSTOMER|KLANT|KUNDE|CLIENT|RECHNUNG AN", re.I)  # fmt: skip

VENDOR_WEIGHTS = {
    "bias": -0.4,
    "legal_suffix": 1.6,  # "SDN BHD", "B.V.", "AG"
    "business_word": 0.6,
    "first_line": 0.7,  # the top line of the letterhead
    "joined_lines": -0.4,  # the name was split over two lines and rejoined
    "margin": 0.35,  # per point over the next best line (capped)
    "short": -1.0,  # under five letters
    "rival_legal_name": -0.8,  # another line nearby also carries a legal suffix
    "letter_spaced": -0.6,  # put together from a stylised, letter-spaced logo
    "logo_lookalikes": -1.2,  # ... in which digits were read as letters ("5 1 N A R")
    "name_line_above": -0.4,  # a name-like line right above the chosen one (a trade name, a branch?)
    "name_line_below": -1.0,  # a name-like line right below it that was not joined ("JIAWEI HOUSE")
    "legal_name_elsewhere": -0.5,  # no legal form here, but a legal name is printed nearby
    # Invoices: which party is the issuer (see issuer.py).
    "issuer_confirmed": 0.8,  # the payee / bank account holder / web domain names it too
    "unconfirmed_issuer": -0.8,  # a customer block is printed and nothing else names this party
    # Is the name as read intact?
    "digit_in_word": -2.0,  # "Kestre1", "STAT1ONERY": OCR read a letter as a digit
    "split_word": -1.8,  # "Logi stics", "PHARMAC Y": a word broken in two
    "run_together": -1.4,  # "FreightPte", "JAYAHARDWARE": two words run together
    "spacing_disagrees": -1.2,  # named again with the same letters but other spacing
    "mention_disagrees": -2.6,  # named again with a letter or two different: one was misread
}
ADDRESS_WEIGHTS = {
    "bias": -1.8,
    "postcode": 1.2,
    "place_name": 0.8,
    "address_word": 0.9,
    "lines_2_to_4": 0.6,
    "one_line": -0.5,
    "stopped_cleanly": 0.5,  # ended at a telephone / registration / title line
    # Doubts about where the address starts and ends (see _address_doubts).
    "skipped_line_before": -2.0,  # an address-shaped line between the name and the address was skipped
    "text_line_after": -2.0,  # the address stopped before a plain text line (a branch or mall name?)
    "ran_past_town": -1.2,  # lines other than the state follow the postcode-and-town line
    "starts_at_town": -1.5,  # the address is only its postcode-and-town line: the street is missing
    "open_end": -0.8,  # no postcode, town or state in the last line: cut short?
    "foreign_text": -1.5,  # a company name or an unbalanced bracket was read into the address
}

HEAD_LINES = 10  # the letterhead is within the first few non-empty lines
# Two or three short all-letter words and nothing that says "business": reads like a person's name.
PERSON_NAME = re.compile(r"[A-Z]{2,5}( [A-Z]{2,5}){1,2}")


def _is_noise_line(line: str) -> bool:
    letters = sum(ch.isalpha() for ch in line)
    return letters < 3 or letters < len(line) * 0.4 or bool(parse_amounts(line)) or bool(parse_dates(line))


def _line_score(upper: str, rank: int) -> float:
    if _is_noise_line(upper):
        return -9.0
    score = 1.0 - 0.6 * rank
    if LEGAL_SUFFIX.search(upper):
        score += 3.0
    if BUSINESS_WORD.search(upper):
        score += 0.5
    if rank == 0 and PERSON_NAME.fullmatch(upper) and not BUSINESS_WORD.search(upper):
        score -= 1.5  # a scanner's or cashier's name stamped above the letterhead
    if BOILERPLATE.search(upper) and not LEGAL_SUFFIX.search(upper):
        score -= 4.0
    if ADDRESS_WORD.search(upper) or POSTCODE.search(upper):
        score -= 3.0
    if BILL_TO.search(upper):
        score -= 4.0
    return score


def clean_name(name: str) -> str:
    name = OWNERSHIP_PREFIX.sub("", name.strip())
    name = re.sub(r"^#\d+\s+", "", name)  # a receipt counter printed before the name
    suffixes = list(LEGAL_SUFFIX.finditer(name.upper()))
    if suffixes:
        # After the legal form, keep a branch in words ("(JALAN KLANG LAMA)"), drop registration numbers.
        tail = name[suffixes[-1].end() :]
        cut = re.search(r"\(?\s*(CO\b|CO\.|NO\b|REG|ROC)|\S*\d", tail, re.I)
        if cut:
            name = name[: suffixes[-1].end() + cut.start()]
    for _ in range(2):
        name = REGISTRATION.sub("", name).strip(" ,:;-*")
    name = re.sub(r"\s+INVOICE$|^INVOICE\s+|\s+-\s+.*$", "", name, flags=re.I)
    return name.strip(" ,:;-*(")


SUFFIX_FIRST = re.compile(r"^(\(?[A-Z]\)|CO\.?|SDN|BHD|S/B|&|ENTERPRISES?|TRADING)(\W|$)")


def _name_like(text: str) -> bool:
    upper = text.upper()
    return not (
        PERSON_NAME.fullmatch(upper) or _is_noise_line(upper)
        or ADDRESS_WORD.search(upper) or BOILERPLATE.search(upper)
        or LEGAL_SUFFIX.search(upper) or BILL_TO.search(upper)
    )  # fmt: skip


def _completes_name(prev: str, current: str) -> bool:
    """A legal name broken over two lines: "POPULAR BOOK" / "CO. (M) SDN BHD"."""
    if prev.count("(") > prev.count(")") and not _is_noise_line(prev):
        return True  # "ENTERPRISE (SETIA" / "ALAM) SDN BHD"
    if not _name_like(prev) or prev.upper().startswith("DIMILIKI"):
        return False
    upper = current.upper()
    suffix = LEGAL_SUFFIX.search(upper)
    words_before = len(upper[: suffix.start()].split()) if suffix else 99
    return bool(SUFFIX_FIRST.match(upper)) or words_before <= 1 or prev.rstrip().endswith("&")


def _continues_name(first: str, nxt: str) -> bool:
    """The name goes on to the next line: "HOME MASTER HARDWARE &" / "ELECTRICAL"."""
    if not nxt or _is_noise_line(nxt) or ADDRESS_WORD.search(nxt.upper()) or BOILERPLATE.search(nxt.upper()):
        return False
    if LEGAL_SUFFIX.search(first.upper()):
        return first.count("(") > first.count(")") and not REGISTRATION.fullmatch(nxt.upper())
    return first.rstrip().endswith("&") or bool(SUFFIX_FIRST.match(nxt.upper()))


def _looks_like_address(text: str) -> bool:
    upper = text.upper()
    if BOILERPLATE.search(upper) or re.search(r"\bREG|\bROC\b|\bCO\.?\s?NO|GST", upper):
        return False
    return bool(ADDRESS_WORD.search(upper) or (POSTCODE.search(upper) and PLACE_WORD.search(upper)))


LOGO_DECORATION = re.compile(r"^[^\w(]+|[^\w).]+$")
LETTER_SPACED_WORD = re.compile(r"(?:\w ){1,}\w")


def unspaced_logo(raw: str) -> tuple[str, bool] | None:
    """A stylised, letter-spaced name as OCR reads it ("~~ S U N R 1 S E   M A R T ~~") put back
    together ("SUNRISE MART"), with whether digits had to be read as the letters they resemble."""
    words = []
    for block in re.split(r"\s{2,}", raw.strip()):  # the logo's words, up to whatever follows it
        word = LOGO_DECORATION.sub("", block)
        if not LETTER_SPACED_WORD.fullmatch(word):
            if word:
                break
            continue
        words.append(word.replace(" ", ""))
    if not words:
        return None
    if max(len(w) for w in words) < 3:
        return None
    fixed = [w.translate(LOGO_LOOKALIKES) if sum(ch.isalpha() for ch in w) >= 2 else w for w in words]
    return " ".join(fixed), fixed != words


LOGO_LOOKALIKES = str.maketrans("0158", "OISB")
# A word of letters with one digit that looks like a letter in it: "TW1N", "0CEAN", "MIN1".
LOOKALIKE_IN_WORD = re.compile(r"(?=[A-Z]*[0158][A-Z]*$)(?=(?:[0158]*[A-Z]){3})[A-Z0158]{4,}")


def _head(doc: Document) -> list[tuple[int, str]]:
    """The letterhead lines (for layout documents, each cell is a line of its own)."""
    head: list[tuple[int, str]] = []
    for i in doc.nonempty[: HEAD_LINES * 2]:
        logo = unspaced_logo(doc.raw_lines[i])
        if logo:
            parts = [logo[0]]
        elif doc.is_layout:  # a logo may share its row with a title: test each wide-gapped block
            parts = []
            for block in re.split(r"\s{5,}", doc.raw_lines[i].strip()):
                block_logo = unspaced_logo(block)
                parts += [block_logo[0]] if block_logo else [squash(c) for c in re.split(r"\s{3,}", block)]
        else:
            parts = [doc.lines[i]]
        if doc.is_layout:  # "Amazon Web Services Invoice" titles an invoice with its issuer
            parts = [re.sub(r"(?<=\w{4})\s+INVOICE$", "", p, flags=re.I) for p in parts]
        head.extend((i, p) for p in parts)
    return head[: HEAD_LINES * (3 if doc.is_layout else 1)]


def extract_vendor(doc: Document) -> tuple[Finding, int | None]:
    """The vendor and the index of its last line (where the address starts)."""
    evidence = Evidence(VENDOR_WEIGHTS)
    head = _head(doc)
    if not doc.is_layout:
        # On a receipt the name comes before the address: look no further than the first address line.
        address_at = next((r for r, (_, t) in enumerate(head) if r > 0 and _looks_like_address(t)), None)
        if address_at is not None:
            head = head[:address_at]
    customers: set[tuple[int, str]] = set()
    payees: list[tuple[int, str]] = []
    sites: list[str] = []
    if doc.is_layout:
        head += _sender_lines(doc)
        customers, payees, sites = customer_cells(doc), payee_names(doc), domains(doc)
        present = {letters(clean_name(t)) for _, t in head}
        extra = [(i, p) for i, p in payees if letters(p) not in present and _line_score(p.upper(), 1) > -2]
        head += extra[:2]
    if not head:
        return Finding(None, evidence), None

    payee_on_top = any(confirmed_by(clean_name(t), payees, []) == "payee" for _, t in head[:4])

    def score(rank: int, line_index: int, text: str) -> float:
        value = _line_score(text.upper(), rank)
        if not doc.is_layout:
            return value
        if (line_index, squash(text)) in customers:
            value -= 5.0
        confirmed = confirmed_by(clean_name(text), payees, sites)
        if confirmed == "payee" and not payee_on_top:
            # The payee is the issuer wherever it is printed: judged as if it stood high in the letterhead.
            value = max(value, _line_score(text.upper(), 1) - 1.0)
        return value + {"payee": 3.0, "domain": 1.5}.get(confirmed or "", 0.0)

    scored = sorted(
        ((score(rank, i, text), rank) for rank, (i, text) in enumerate(head)),
        key=lambda sr: (-sr[0], sr[1]),
    )
    best_score, rank = scored[0]
    if best_score < -2:
        return Finding(None, evidence), None
    line_index, text = head[rank]
    last = line_index
    first = rank
    while (
        first > 0 and rank - first < 2 and head[first - 1][0] != head[first][0]
        and _completes_name(head[first - 1][1], text)
    ):  # fmt: skip
        first -= 1
        text = f"{head[first][1]} {text}"
    joined_forward = rank + 1 < len(head) and _continues_name(text, head[rank + 1][1])
    if joined_forward:
        text = f"{text} {head[rank + 1][1]}"
        last = head[rank + 1][0]
    if first < rank or joined_forward:
        evidence.add("joined_lines")
    name = clean_name(text)
    upper = name.upper()
    if LEGAL_SUFFIX.search(upper):
        evidence.add("legal_suffix")
    if BUSINESS_WORD.search(upper):
        evidence.add("business_word")
    if first == 0:
        evidence.add("first_line")
    if sum(ch.isalpha() for ch in name) < 5:
        evidence.add("short")
    blocks = re.split(r"\s{5,}", doc.raw_lines[line_index].strip())
    logo = next(filter(None, map(unspaced_logo, blocks)), None)
    if any(LOOKALIKE_IN_WORD.fullmatch(w) for w in upper.split()):
        # "TW1N", "MIN1": a letter read as a digit
        evidence.add("logo_lookalikes" if logo else "digit_in_word")
    if logo:
        evidence.add("letter_spaced")
        if logo[1]:
            evidence.add("logo_lookalikes")
    runner_up = scored[1][0] if len(scored) > 1 else 0.0
    evidence.add("margin", max(0.0, min(4.0, best_score - runner_up)))
    rivals = [
        t for r, (_, t) in enumerate(head[:8]) if abs(r - rank) > 1 and LEGAL_SUFFIX.search(t.upper())
        and clean_name(t).upper() != upper and not BILL_TO.search(t)
    ]  # fmt: skip
    if rivals and LEGAL_SUFFIX.search(upper):
        evidence.add("rival_legal_name")
    if not doc.is_layout:
        _vendor_doubts(doc, evidence, head, first, rank + (1 if joined_forward else 0), upper)
    else:
        if confirmed_by(name, payees, sites):
            evidence.add("issuer_confirmed")
        elif customers and not LEGAL_SUFFIX.search(upper):
            evidence.add("unconfirmed_issuer")
    if not logo:
        name = _check_spelling(doc, evidence, name, {head[r][0] for r in range(first, rank + 1)} | {last})
    return Finding(name or None, evidence), last


def _check_spelling(doc: Document, evidence: Evidence, name: str, used: set[int]) -> str:
    """Doubts about the name as read, from its own shape and from the other places it is printed;
    when another mention has the same letters, the better-formed spelling of the two is returned."""
    defects = ocr_defects(name)
    mentions = other_mentions(doc, name, used)
    kinds = {kind for kind, _ in mentions}
    if "spacing" in kinds:
        others = [t for kind, t in mentions if kind == "spacing"]
        options = [name, repaired(name)] + [m for t in others for m in (t, repaired(t))]
        options = [o for o in options if clean_name(o) == o or o == name]
        best = min(options, key=lambda o: (len(ocr_defects(o)), options.index(o)))
        if ocr_defects(best) or defects or not any(ocr_defects(o) for o in [name, *others] if o != best):
            # The letterhead's spelling was damaged, or which spelling is intact is unclear.
            evidence.add("spacing_disagrees")
        if best != name:  # the better-formed spelling was taken, a repair that may still be wrong
            for defect in sorted(set(defects)):
                evidence.add(defect, 0.5)
        name, defects = best, ocr_defects(best)
    elif "differs" in kinds and "same" not in kinds:
        evidence.add("mention_disagrees")
    for defect in sorted(set(defects)):
        evidence.add(defect)
    return name


def _vendor_doubts(
    doc: Document, evidence: Evidence, head: list[tuple[int, str]], first: int, last: int, upper: str
) -> None:
    """Signs that the name printed on the receipt has more to it, or that another line is the vendor."""
    if first > 0 and _name_like(head[first - 1][1]):
        evidence.add("name_line_above")  # "AMPANG 210" over "FIRST CITY PARKING SDN BHD"
    if last + 1 < len(head) and _name_like(head[last + 1][1]) and not _looks_like_address(head[last + 1][1]):
        evidence.add("name_line_below")  # "RESTAURANT JIAWEI" over "JIAWEI HOUSE"
    if not LEGAL_SUFFIX.search(upper):
        used = {i for i, _ in head[first : last + 1]}
        if any(
            LEGAL_SUFFIX.search(doc.upper[i]) and not BILL_TO.search(doc.upper[i])
            and not _is_noise_line(doc.upper[i]) for i in doc.nonempty[: HEAD_LINES + 4] if i not in used
        ):  # fmt: skip
            evidence.add("legal_name_elsewhere")  # "BURGER KING" above "... DEWINA HOST SDN BHD"


def _sender_lines(doc: Document) -> list[tuple[int, str]]:
    """Invoices name their issuer again in the footer or a sender line ("Sold by X, Inc.")."""
    found = []
    for i in doc.nonempty[HEAD_LINES * 2 :]:
        for cell in doc.cells(i):
            if (
                LEGAL_SUFFIX.search(cell.text.upper())
                and len(cell.text) < 60
                and not _is_noise_line(cell.text)
            ):
                found.append((i, cell.text))
    return found[:4]


ADDRESS_STOP = re.compile(
    r"\bTEL|PHONE|\bFAX|\bH/?P\b|EMAIL|E-MAIL|WWW\.|HTTP|GST|\bSST\b|TAX|INVOICE|RECEIPT|\bDATE\b|"
    r"CASHIER|\bBILL\b|\bREG\b|\bROC\b|\bCO\.?\s?NO|COMPANY NO|BUSINESS|\bBRN\b|OPEN|WELCOME|\bSLIP\b|"
    r"\bDOC\b|TABLE|ORDER|\bCASH\b|MEMBER|COUNTER|TERMINAL|CHECK|SALES|NUMBER|\d{2,3}[- ]?\d{3,4}[- ]\d{4}|"
    r"\b[A-Z]+\s?:"
)
# OCR ran the street number into the street name: "50FOUNDRY LANE" (not "2ND FLOOR", "12TH").
GLUED_NUMBER = re.compile(r"^(\d{1,4})(?!(?:ST|ND|RD|TH)\b)([A-Z]{3,}\b)", re.I)
STREET_NUMBER = re.compile(r"^(NO\.?\s?)?\d+[A-Z]?(-\d+)?[A-Z]?\s?[,&]")


def _address_like(upper: str) -> bool:
    return bool(
        ADDRESS_WORD.search(upper) or POSTCODE.search(upper) or PLACE_WORD.search(upper)
        or STREET_NUMBER.match(upper)
    )  # fmt: skip


def _is_registration(upper: str) -> bool:
    return bool(
        REGISTRATION.fullmatch(upper) or re.search(r"\bREG|\bROC\b|\bCO\.?\s?NO|COMPANY NO|GST", upper)
    )


def _letterhead_has_columns(doc: Document, vendor_last_line: int) -> bool:
    """Whether the name and the lines under it share their rows with another column.

    A layout document whose letterhead is one column (a till receipt, centred or not, whose item
    table alone has columns) reads like a receipt; an invoice's letterhead sits beside a title or a
    meta block, and there the lines under the name may belong to another address.
    """
    first = doc.nonempty[0] if doc.nonempty else 0
    window = [i for i in doc.nonempty if first <= i <= vendor_last_line + 3]
    return any(doc.has_columns(i) for i in window)


def extract_address(doc: Document, vendor_last_line: int | None) -> Finding:
    """The lines printed under the vendor's name, from the first address-like one to a stop line."""
    evidence = Evidence(ADDRESS_WEIGHTS)
    if vendor_last_line is None or (doc.is_layout and _letterhead_has_columns(doc, vendor_last_line)):
        return Finding(None, evidence)  # invoices print several addresses: not worth a guess
    parts: list[str] = []
    stopped_cleanly = False
    ended = False  # the postcode-and-town line has been read: only a bracketed branch name may follow
    first_at = last_at = None  # the lines the address was read from
    town_parts = None  # how many parts there were when the postcode-and-town line ended the address
    for i in range(vendor_last_line + 1, min(len(doc.lines), vendor_last_line + 12)):
        line, upper = doc.lines[i], doc.upper[i]
        if not line:
            continue
        stop = (
            ADDRESS_STOP.search(upper) or _is_registration(upper) or parse_amounts(line) or parse_dates(line)
        )
        if not parts:
            if i - vendor_last_line > 5:
                break
            starts = ADDRESS_WORD.search(upper) or STREET_NUMBER.match(upper) or POSTCODE.search(upper)
            if ADDRESS_WORD.search(upper):  # "NO: 28, JALAN ASTANA 1C," and "31,31A, JALAN HANG TUAH 9,"
                body = NUMBER_LABEL.sub("", upper)
                stop = ADDRESS_STOP.search(body) or _is_registration(body) or parse_dates(line)
            letters = sum(ch.isalpha() for ch in upper)
            if letters < 3 and HOUSE_NUMBER.fullmatch(upper):  # "NO.1," above "JLN PUTERI 1/6,"
                following = next((doc.upper[j] for j in range(i + 1, len(doc.lines)) if doc.lines[j]), "")
                letters = 3 if ADDRESS_WORD.search(following) and not ADDRESS_STOP.search(following) else 0
            if not stop and starts and not upper.startswith("(") and letters >= 3:
                parts.append(GLUED_NUMBER.sub(r"\1 \2", line.strip(" ,")))
                first_at = last_at = i
                ended = bool(POSTCODE.search(upper) and (PLACE_WORD.search(upper) or upper.endswith(".")))
            continue  # branch names, registration numbers and dates between the name and the street
        if stop:
            stopped_cleanly = True
            break
        if doc.is_layout and doc.has_columns(i):
            return Finding(None, evidence)  # the letterhead runs beside another block (bill-to, meta)
        place_only = PLACE_WORD.search(upper) and not ADDRESS_WORD.search(upper) and len(upper.split()) <= 4
        branch = ended and BRANCH_CODE.fullmatch(upper)
        if sum(ch.isalpha() for ch in upper) < 3 or (
            ended and not upper.startswith("(") and not place_only and not branch
        ):
            stopped_cleanly = ended
            break
        if ended and town_parts is None and not branch:
            town_parts = len(parts)
        parts.append(line.strip(" ,"))
        last_at = i
        ended = bool((POSTCODE.search(upper) and PLACE_WORD.search(upper)) or "MALAYSIA" in upper or branch)
        if len(parts) >= 6:
            break
    if not parts:
        return Finding(None, evidence)
    address = ", ".join(parts)
    upper = address.upper()
    if POSTCODE.search(upper) or OTHER_POSTCODE.search(upper):
        evidence.add("postcode")
    if PLACE_WORD.search(upper) or TOWN_LINE.fullmatch(parts[-1].upper().rstrip(" .,")):
        evidence.add("place_name")
    if ADDRESS_WORD.search(upper):
        evidence.add("address_word")
    if len(parts) == 1:
        evidence.add("one_line")
    elif len(parts) <= 4:
        evidence.add("lines_2_to_4")
    if stopped_cleanly:
        evidence.add("stopped_cleanly")
    if town_parts is not None and not all(STATE_LINE.fullmatch(p.upper()) for p in parts[town_parts:]):
        evidence.add("ran_past_town")  # "..., 56000 KUALA LUMPUR" then "AEON SHAH ALAM": a branch, or more?
    _address_doubts(doc, evidence, parts, vendor_last_line, first_at, last_at)
    return Finding(address, evidence)


def _address_doubts(
    doc: Document, evidence: Evidence, parts: list[str], vendor_last_line: int, first_at: int, last_at: int
) -> None:
    """Signs that the address may have been cut short, started late or run on into other lines."""
    before = [i for i in doc.nonempty if vendor_last_line < i < first_at]
    if before and _may_be_address_part(doc.upper[before[-1]]) and _address_shaped(doc.upper[before[-1]]):
        evidence.add("skipped_line_before")  # "NO: 28, JALAN ASTANA 1C," or "A-G-06, DATARAN GLOMAC,"
    after = next((i for i in doc.nonempty if i > last_at), None)
    if after is not None and _may_be_address_part(doc.upper[after]) and not LABELLED.search(doc.upper[after]):
        evidence.add("text_line_after")  # a branch or mall line ("1413-SETIA ALAM 2", "KSL CITY")
    first = parts[0].upper()
    last = next((p.upper() for p in reversed(parts) if not BRANCH_CODE.fullmatch(p.upper())), first)
    if re.match(r"\d{5}\b", first):
        evidence.add("starts_at_town")
    if not (POSTCODE.search(last) or PLACE_WORD.search(last) or OTHER_POSTCODE.search(last)
            or TOWN_LINE.fullmatch(last.rstrip(" .,"))):  # fmt: skip
        evidence.add("open_end")
    upper = " ".join(parts).upper()
    if LEGAL_SUFFIX.search(upper) or upper.count("(") != upper.count(")"):
        evidence.add("foreign_text")


LABELLED = re.compile(r"\b[A-Z]+\s?:|NUMBER|THIS IS|CARRY|DINE|TAKE ?AWAY")


def _address_shaped(upper: str) -> bool:
    return bool(ADDRESS_WORD.search(upper) or STREET_NUMBER.match(upper) or upper.rstrip().endswith(","))


def _may_be_address_part(upper: str) -> bool:
    """A line that is not clearly something else (a phone, registration, title, date or amount line)."""
    if _is_registration(upper) or LEGAL_SUFFIX.search(upper) or BOILERPLATE.search(upper):
        return False
    if parse_amounts(upper) or parse_dates(upper):
        return False
    if re.search(r"\bTEL|PHONE|\bFAX|EMAIL|WWW|HTTP|\d{2,3}[- ]?\d{3,4}[- ]\d{4}", upper):
        return False
    return sum(ch.isalpha() for ch in upper) >= 3
