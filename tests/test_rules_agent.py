"""The offline rules agent on synthetic receipts and invoices (no Django, no files from outside the repo)."""

import pytest

from agents.providers.base import AgentSpec, FieldSpec, FieldType, ProviderError
from agents.providers.rules import RulesProvider

RECEIPT = """\
KEDAI MAJU JAYA SDN BHD
(123456-X)
NO. 12, JALAN MERANTI 3,
TAMAN SRI MUDA,
40400 SHAH ALAM, SELANGOR
TEL: 03-5555 1234
GST ID: 000123456789
TAX INVOICE
DATE: 25/12/2018 14:32:10
CASHIER: AMIRAH
ITEM QTY PRICE AMOUNT
MINERAL WATER 1.5L 2 2.50 5.00
WHITE BREAD 1 3.95 3.95
SUBTOTAL 8.95
TOTAL GST 6% 0.54
ROUNDING ADJ -0.04
TOTAL ROUNDED RM 9.45
CASH RM 20.00
CHANGE RM 10.55
THANK YOU. PLEASE COME AGAIN.
"""

# Two different amounts, each printed as a bare "TOTAL", and nothing that says which was paid.
CONFLICTING_RECEIPT = """\
KEDAI RUNCIT AH SENG
25/12/2018
BISCUITS 4.20
COFFEE 12.80
TOTAL 17.00
TOTAL 21.40
"""

INVOICE = """\
                                                           Acme Widgets Ltd
                                                           500 Market Street
                                                           San Francisco, CA 94105
Bill To:
Globex Corporation                                  Invoice Number:          INV-2024-0042
12 Elm Road                                         Invoice Date:            03/15/2024
Springfield, IL 62701                               Due Date:                04/14/2024

Description                                Quantity          Unit Price           Amount
Widget, large                                    2             $100.00          $200.00
Installation                                     1              $50.00           $50.00

                                                              Subtotal          $250.00
                                                              Tax (8%)           $20.00
                                                              Total             $270.00
"""

EURO_INVOICE = """\
Beispiel Software GmbH - Hauptstrasse 1 - 10115 Berlin

Rechnung
Rechnungsnr.                 RE-77812
Rechnungsdatum               7. Mai 2024

Pos.   Beschreibung                         Betrag
1      Lizenz Jahresabo                     1.190,00 €

                               Gesamtbetrag  1.190,00 EUR
"""

CATEGORY_CHOICES = (
    "meals", "travel", "lodging", "fuel", "office_supplies", "software", "utilities", "groceries", "other",
)  # fmt: skip


def extraction_spec(*names: str) -> AgentSpec:
    types = {"date": FieldType.DATE, "total": FieldType.DECIMAL, "currency": FieldType.CURRENCY}
    fields = tuple(FieldSpec(name, types.get(name, FieldType.STRING)) for name in names)
    return AgentSpec("receipts", "rules", "rules", "", fields, {"ruleset": "extraction"})


def classification_spec() -> AgentSpec:
    field = FieldSpec("category", FieldType.CHOICE, choices=CATEGORY_CHOICES)
    return AgentSpec("expenses", "rules", "rules", "", (field,), {"ruleset": "classification"})


def run(text: str, *names: str):
    return RulesProvider().run(extraction_spec(*names), text).fields


def test_it_reads_a_receipt_into_iso_values():
    fields = run(RECEIPT, "vendor", "date", "total", "currency", "address")

    assert fields["vendor"].value == "KEDAI MAJU JAYA SDN BHD"
    assert fields["date"].value == "2018-12-25"
    assert fields["total"].value == "9.45"  # the rounded amount paid, not the subtotal
    assert fields["currency"].value == "MYR"
    assert fields["address"].value == "NO. 12, JALAN MERANTI 3, TAMAN SRI MUDA, 40400 SHAH ALAM, SELANGOR"
    assert all(f.method == "rules" for f in fields.values())
    assert all(0.0 <= f.confidence <= 1.0 for f in fields.values())


def test_it_returns_only_the_fields_asked_for():
    fields = run(RECEIPT, "total", "date")

    assert set(fields) == {"total", "date"}


def test_it_reads_a_layout_invoice():
    fields = run(INVOICE, "vendor", "invoice_number", "date", "total", "currency")

    assert fields["vendor"].value == "Acme Widgets Ltd"
    assert fields["invoice_number"].value == "INV-2024-0042"
    assert fields["date"].value == "2024-03-15"  # the invoice date, not the due date
    assert fields["total"].value == "270.00"
    assert fields["currency"].value == "USD"


def test_it_reads_european_amounts_dates_and_labels():
    fields = run(EURO_INVOICE, "invoice_number", "date", "total", "currency")

    assert fields["invoice_number"].value == "RE-77812"
    assert fields["date"].value == "2024-05-07"
    assert fields["total"].value == "1190.00"
    assert fields["currency"].value == "EUR"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("TOTAL RM 12.50", "MYR"),
        ("Total € 12,50", "EUR"),
        ("Amount due $12.50", "USD"),
        ("KEDAI ABC SDN BHD\nJALAN AMAN, 43000 KAJANG, SELANGOR\nTOTAL 12.50", "MYR"),
    ],
)
def test_it_infers_the_currency_from_symbols_codes_and_country(text, expected):
    assert run(text, "currency")["currency"].value == expected


def test_a_conflicting_total_is_less_confident_than_a_cross_checked_one():
    checked = run(RECEIPT, "total")["total"]
    conflicting = run(CONFLICTING_RECEIPT, "total")["total"]

    assert conflicting.value in ("17.00", "21.40")
    assert checked.confidence > conflicting.confidence + 0.2
    assert checked.confidence >= 0.9


def test_an_ambiguous_date_is_less_confident_than_an_unambiguous_one():
    ambiguous = run("SHOP ABC\nDATE: 03/04/2019\nTOTAL 5.00", "date")["date"]
    clear = run("SHOP ABC\nDATE: 25/04/2019\nTOTAL 5.00", "date")["date"]

    assert ambiguous.value == "2019-04-03"  # day first unless the document says otherwise
    assert clear.value == "2019-04-25"
    assert clear.confidence > ambiguous.confidence


def test_a_missing_field_is_none_with_low_confidence():
    fields = run("HELLO WORLD\nNOTHING TO SEE", "total", "date", "invoice_number")

    for result in fields.values():
        assert result.value is None
        assert result.confidence <= 0.05


@pytest.mark.parametrize("text", ["", "   \n\t  "])
def test_empty_text_raises_no_text(text):
    with pytest.raises(ProviderError) as excinfo:
        RulesProvider().run(extraction_spec("total"), text)

    assert excinfo.value.code == "no_text"


def test_it_is_deterministic():
    spec = extraction_spec("vendor", "date", "total", "currency", "address", "invoice_number")
    first = RulesProvider().run(spec, RECEIPT + INVOICE)
    second = RulesProvider().run(spec, RECEIPT + INVOICE)

    assert first == second


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RESTORAN NASI KANDAR PELITA\nNASI LEMAK 2 7.00\nTEH TARIK 2 3.60\nTOTAL 10.60", "meals"),
        ("PETRONAS SETIA ALAM\nRON95 25.00 LITRES 12.10\nTOTAL RM 25.00", "fuel"),
        ("GRAND HOTEL KUALA LUMPUR\nROOM 1203 2 NIGHTS\nTOURISM TAX 20.00\nTOTAL 420.00", "lodging"),
        (
            "POPULAR BOOK CO. (M) SDN BHD\nA4 PAPER 80GSM 1 12.90\nPEN BLUE 3 4.50\nTOTAL 17.40",
            "office_supplies",
        ),
        (
            "Amazon Web Services Invoice\nAWS Data Transfer $0.01\nCompute usage $4.10\nTotal $4.11",
            "software",
        ),
        ("TENAGA NASIONAL BERHAD\nELECTRICITY BILL\nBILLING PERIOD 01/03-31/03\nKWH 350", "utilities"),
        ("99 SPEED MART S/B\nGARDENIA BREAD 3.80\nMILK 1L 6.50\nEGG 10S 4.20\nTOTAL 14.50", "groceries"),
        ("AIRASIA BERHAD\nFLIGHT AK6123 KUL-PEN\nBOARDING PASS\nFARE 129.00", "travel"),
    ],
)
def test_it_classifies_the_expense_category(text, expected):
    result = RulesProvider().run(classification_spec(), text).fields["category"]

    assert result.value == expected
    assert result.confidence >= 0.6
    assert result.method == "rules"


def test_gibberish_is_other_with_low_confidence():
    result = RulesProvider().run(classification_spec(), "XQZT PLORB\nWIBBLE 0000 FNORD").fields["category"]

    assert result.value == "other"
    assert result.confidence < 0.2


def test_a_weak_mixed_signal_is_less_confident_than_a_clear_one():
    clear = RulesProvider().run(classification_spec(), "PETRONAS\nRON95 LITRES 40.00").fields["category"]
    mixed = RulesProvider().run(classification_spec(), "SHOP\nMILK 3.00\nPEN 2.00").fields["category"]

    assert clear.confidence > mixed.confidence


# A till receipt centred with leading spaces, whose item table has columns: still one letterhead column.
CENTRED_RECEIPT = """\
          SUNRISE MINI MARKET
           134 CHAPEL STREET
            LEEDS LS1 5DL
         TEL: 0140 402 4264
              RECEIPT
   DATE: 08 Jun 2024  TIME: 20:44
ITEM                 QTY   PRICE       AMT
MINERAL WATER 1.5L     1    1.80      1.80
WHITE BREAD            2    1.20      2.40
SUB TOTAL                             4.20
TOTAL                               £ 4.20
"""


def test_it_reads_the_address_of_a_centred_receipt_with_a_column_table():
    result = RulesProvider().run(extraction_spec("vendor", "address"), CENTRED_RECEIPT)
    assert result.fields["vendor"].value == "SUNRISE MINI MARKET"
    assert result.fields["address"].value == "134 CHAPEL STREET, LEEDS LS1 5DL"
    assert result.fields["address"].confidence >= 0.85


def test_an_address_beside_another_column_is_not_guessed():
    # A one-column letterhead over a layout invoice is the issuer's address...
    result = RulesProvider().run(extraction_spec("address"), INVOICE)
    assert result.fields["address"].value == "500 Market Street, San Francisco, CA 94105"
    # ...but lines that share their rows with a bill-to block may be someone else's.
    two_columns = LABELLED_INVOICE.format(label="Number:", number="A243647").replace(
        "162 Foundry St, Suite 398", "162 Foundry St, Suite 398                     Ship To: 9 Elm Road"
    )
    result = RulesProvider().run(extraction_spec("address"), two_columns)
    assert result.fields["address"].value is None


LABELLED_INVOICE = """\
Kestrel Systems LLC                                         INVOICE
162 Foundry St, Suite 398
Columbus, OH 43215

Bill To:                                      Invoice {label}    {number}
Amberfield Consulting Co.                     Invoice Date:   2023-06-05
Description                               Qty    Unit Price         Amount
Consulting services (hours)                 2        100.00         200.00
                                                    Total           200.00
"""


def test_a_labelled_unique_invoice_number_is_confident():
    text = LABELLED_INVOICE.format(label="Number:", number="A243647")
    result = RulesProvider().run(extraction_spec("invoice_number"), text)
    assert result.fields["invoice_number"].value == "A243647"
    assert result.fields["invoice_number"].confidence >= 0.85


@pytest.mark.parametrize(
    "label, number, expected",
    [
        ("No.:", "2O23/2118", "2023/2118"),  # a letter O among the digits
        ("No.:", "1NV-2O23-19616", "INV-2023-19616"),  # digits among the prefix's letters
        ("No.:", "N0-87218", "N0-87218"),  # which one is misread cannot be told
    ],
)
def test_an_ocr_noisy_invoice_number_is_repaired_or_doubted(label, number, expected):
    text = LABELLED_INVOICE.format(label=label, number=number)
    result = RulesProvider().run(extraction_spec("invoice_number"), text)
    assert result.fields["invoice_number"].value == expected
    assert result.fields["invoice_number"].confidence < 0.85


def test_a_misread_label_still_finds_the_number_but_doubts_it():
    text = LABELLED_INVOICE.format(label="No.:", number="A243647").replace("Invoice No.", "In voice No.")
    result = RulesProvider().run(extraction_spec("invoice_number"), text)
    assert result.fields["invoice_number"].value == "A243647"
    assert result.fields["invoice_number"].confidence < 0.85


def test_rival_invoice_numbers_are_doubted():
    text = LABELLED_INVOICE.format(label="Number:", number="A243647") + "Invoice No.: B998877\n"
    result = RulesProvider().run(extraction_spec("invoice_number"), text)
    assert result.fields["invoice_number"].confidence < 0.85


def test_a_letter_spaced_logo_is_read_as_a_name_but_doubted_when_repaired():
    text = "** S U N R 1 S E   P H A R M A C Y **\n217 KINGFISHER ROAD\nMANCHESTER M1 4BT\nTEL: 0520 427 3167"
    result = RulesProvider().run(extraction_spec("vendor"), text)
    assert result.fields["vendor"].value == "SUNRISE PHARMACY"
    assert result.fields["vendor"].confidence < 0.85


def test_classification_is_unsure_when_merchant_and_purchase_disagree():
    from agents.providers.base import AgentSpec, FieldSpec
    from agents.providers.rules import RulesProvider

    spec = AgentSpec(
        "expense-classification",
        "rules",
        "",
        "",
        (FieldSpec("category", "choice", choices=("meals", "fuel", "lodging", "other")),),
        {"ruleset": "classification"},
    )
    clear = RulesProvider().run(spec, "Merchant: Golden Spoon Restaurant\nItems: chicken rice, lunch set\n")
    mixed = RulesProvider().run(spec, "Merchant: Shell Petrol Station\nItems: team dinner, chicken rice\n")
    assert clear.fields["category"].value == "meals"
    assert mixed.fields["category"].confidence < 0.8 <= clear.fields["category"].confidence


# --- confidence evidence: doubts about where the address and the vendor name start and end ----------

from agents.providers.rules.extraction import extract  # noqa: E402


def _reasons(text: str, field: str) -> set[str]:
    return {name for name, _ in extract(text, ["vendor", "address"])[field].evidence.reasons}


def test_address_branch_code_line_is_read_and_stays_confident():
    text = (
        "KEDAI MAJU S/B (123456-X)\nLOT 12, JALAN ANGSA,\nTAMAN MEGAH\n"
        "41150 KLANG, SELANGOR\n1413-TAMAN MEGAH 2\nGST ID : 000123\n"
    )
    finding = extract(text, ["vendor", "address"])["address"]
    assert finding.value == "LOT 12, JALAN ANGSA, TAMAN MEGAH, 41150 KLANG, SELANGOR, 1413-TAMAN MEGAH 2"
    assert finding.confidence >= 0.85


def test_address_followed_by_a_plain_text_line_is_doubted():
    plain = "KEDAI MAJU SDN BHD\nNO 8, JALAN BESAR,\n56000 KUALA LUMPUR, MALAYSIA\nTEL : 03-1234 5678\n"
    branch = plain.replace("MALAYSIA\n", "MALAYSIA\nMID VALLEY\n")
    assert "text_line_after" not in _reasons(plain, "address")
    assert "text_line_after" in _reasons(branch, "address")
    conf = {t: extract(t, ["vendor", "address"])["address"].confidence for t in (plain, branch)}
    assert conf[branch] < 0.85 <= conf[plain]


def test_address_with_a_skipped_street_line_before_it_is_doubted():
    text = (
        "KEDAI MAJU SDN BHD\nA-G-06, DATARAN MEGAH,\n"
        "JALAN SS6/5A, KELANA JAYA,\n47301 PETALING JAYA, SELANGOR\nTEL: 03-1234 5678\n"
    )
    finding = extract(text, ["vendor", "address"])["address"]
    assert finding.value.startswith("JALAN SS6/5A")
    assert "skipped_line_before" in _reasons(text, "address")
    assert finding.confidence < 0.85


def test_address_numbered_with_a_label_or_alone_on_its_line_is_read_whole():
    labelled = "KEDAI MAJU SDN BHD\nNO: 28, JALAN ASTANA 1C,\n41050 KLANG, SELANGOR\nTEL: 03-1234 5678\n"
    alone = "KEDAI MAJU SDN BHD\nNO.1,\nJLN PUTERI 1/6,\n47100 PUCHONG, SELANGOR\nTEL: 03-1234 5678\n"
    assert extract(labelled, ["address"])["address"].value == "NO: 28, JALAN ASTANA 1C, 41050 KLANG, SELANGOR"
    assert extract(alone, ["address"])["address"].value == "NO.1, JLN PUTERI 1/6, 47100 PUCHONG, SELANGOR"


def test_address_that_is_only_the_town_line_or_runs_past_it_is_doubted():
    town_only = "KEDAI MAJU SDN BHD\n(123456-X)\n41400 KLANG, SELANGOR\nTEL: 03-1234 5678\n"
    run_on = (
        "KEDAI MAJU SDN BHD\nNO 8, JALAN BESAR,\n"
        "56000 KUALA LUMPUR, MALAYSIA\nAMPANG POINT CENTRE\nTEL: 03-1234 5678\n"
    )
    state = (
        "KEDAI MAJU SDN BHD\nNO 8, JALAN BESAR,\n"
        "47301 PETALING JAYA\nSELANGOR DARUL EHSAN\nTEL: 03-1234 5678\n"
    )
    assert "starts_at_town" in _reasons(town_only, "address")
    assert "ran_past_town" in _reasons(run_on, "address")
    assert "ran_past_town" not in _reasons(state, "address")


def test_address_cut_short_or_with_a_company_name_in_it_is_doubted():
    open_end = "KEDAI MAJU SDN BHD\nNO 8, JALAN BESAR,\nTAMAN MEGAH\nTEL: 03-1234 5678\n"
    foreign = (
        "BURGER HUT\nLOT 23, MEZZANINE LEVEL\n"
        "SATELLITE BUILDING\nDEWINA HOST SDN BHD (434286-P)\nTEL : 03-1234 5678\n"
    )
    assert "open_end" in _reasons(open_end, "address")
    assert "foreign_text" in _reasons(foreign, "address")


def test_vendor_with_another_name_line_or_a_legal_name_nearby_is_doubted():
    clean = "KEDAI MAJU SDN BHD\n(123456-X)\nNO 8, JALAN BESAR,\n56000 KUALA LUMPUR\n"
    below = "RESTORAN MAJUJAYA\nMAJUJAYA HOUSE\n002693074-K\n13, JLN TASIK UTAMA 8\n57000 KL\n"
    elsewhere = (
        "BURGER HUT\nLOT 23, JALAN MEGAH\n"
        "47301 PETALING JAYA\nDEWINA HOST SDN BHD (434286-P)\nTEL : 03-1234 5678\n"
    )
    assert not {"name_line_below", "legal_name_elsewhere", "name_line_above"} & _reasons(clean, "vendor")
    assert "name_line_below" in _reasons(below, "vendor")
    assert "legal_name_elsewhere" in _reasons(elsewhere, "vendor")
    conf = {t: extract(t, ["vendor"])["vendor"].confidence for t in (clean, below, elsewhere)}
    assert conf[below] < conf[clean] and conf[elsewhere] < conf[clean]


BILL_TO_INVOICE = """\
                                                                    INVOICE
Bill To:                                        Invoice Number:     INV-2044
Northwind Traders Ltd                           Invoice Date:       12/03/2024
12 Harbour Road                                 Due Date:           12/04/2024
Leeds LS1 5DL



Description                                   Qty     Unit Price       Amount
Consulting services                             2         150.00       300.00
                                                          Total GBP    300.00


Please make checks payable to: Brightfield Analytics
Brightfield Analytics  |  VAT Reg GB 123 4567 89  |  accounts@brightfield-analytics.co.uk
"""


def test_bill_to_party_is_not_the_vendor_and_the_payee_is():
    found = extract(BILL_TO_INVOICE, ["vendor", "invoice_number"])
    assert found["vendor"].value == "Brightfield Analytics"
    assert "issuer_confirmed" in _reasons(BILL_TO_INVOICE, "vendor")
    assert found["invoice_number"].value == "INV-2044"


FOOTER_ISSUER = """\
ACME HOLDINGS                                                       Facture n° 7781
Service achats                                                      Date : 02/05/2023
4 rue des Lilas
75011 Paris



Désignation                                   Quantité        Montant HT
Annonce légale                                    1              120,00 €
                                                  Total TTC :    144,00 €

Virement    BANQUE EXEMPLE - Titulaire du compte : ORBITAL MEDIA
            IBAN : FR76 0000 0000 0000 0000 0000 000

                                   ORBITAL MEDIA
          Siège social : 1 avenue Exemple - 69000 LYON - contact@orbital-media.example
"""


def test_issuer_named_only_in_the_footer_and_the_account_holder_line_is_found():
    assert extract(FOOTER_ISSUER, ["vendor"])["vendor"].value == "ORBITAL MEDIA"


def test_customer_block_alone_gives_no_confident_vendor():
    text = (
        "           Factuuradres                                          Afleveradres\n\n"
        "           Strategic Corp                                        J. Jansen\n"
        "           Fakestreet 46                                         Fakestreet 46\n"
        "           3500 MJ Utrecht                                       3500 MJ Utrecht\n\n"
        " Klant                        Factuur datum                 Factuur\n"
        " SC0303                       8-9-2022                      VF1005193039\n"
    )
    vendor = extract(text, ["vendor"])["vendor"]
    assert vendor.value != "Strategic Corp" or vendor.confidence < 0.5


SPLIT_NAME_INVOICE = """\
Harborlight Logi stics Pte Ltd                              TAX INVOICE
8 Marina View
Singapore 018960
Tel 6123 4567  |  UEN 201912345K

Bill To:                                    Invoice #:      HA-29311
Oakridge Electrical Pte Ltd                 Invoice Date:   20 July 2023

Description                                   Qty    Unit Price     Amount
Freight handling                                1        500.00     500.00
                                                  TOTAL SGD         500.00

Thank you for your business. HarborlightLogistics Pte Ltd
"""


def test_a_split_word_vendor_is_doubted_and_the_better_spelling_returned():
    vendor = extract(SPLIT_NAME_INVOICE, ["vendor"])["vendor"]
    assert vendor.confidence < 0.85
    assert vendor.value == "Harborlight Logistics Pte Ltd"
    receipt = "EVERGREEN HA RDWARE ENTERPRISE\nNO 8, JALAN BESAR,\n56000 KUALA LUMPUR\nTOTAL RM 9.45\n"
    assert "split_word" in _reasons(receipt, "vendor")
    assert extract(receipt, ["vendor"])["vendor"].confidence < 0.85


def test_a_vendor_spelt_differently_elsewhere_is_doubted():
    text = SPLIT_NAME_INVOICE.replace("Logi stics", "Logistics").replace(
        "HarborlightLogistics", "Harborlight Logistlcs"
    )
    vendor = extract(text, ["vendor"])["vendor"]
    assert vendor.value == "Harborlight Logistics Pte Ltd"
    assert "mention_disagrees" in _reasons(text, "vendor")
    assert vendor.confidence < 0.85
    clean = SPLIT_NAME_INVOICE.replace("Logi stics", "Logistics")
    clean = clean.replace("HarborlightLogistics", "Harborlight Logistics")
    assert extract(clean, ["vendor"])["vendor"].confidence >= 0.9
