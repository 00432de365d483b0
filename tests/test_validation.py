"""Validation of agent output against the process schema."""

import datetime as dt

from agents.providers.base import FieldSpec
from agents.validation import validate_output

FIELDS = (
    FieldSpec("vendor"),
    FieldSpec("date", "date"),
    FieldSpec("total", "decimal", rules={"min": "0.01"}),
    FieldSpec("currency", "currency"),
    FieldSpec("category", "choice", required=False, choices=("meals", "travel")),
)
TODAY = dt.date(2024, 6, 1)


def test_valid_output_has_no_errors():
    output = {
        "vendor": "ACME",
        "date": "2024-05-01",
        "total": "12.50",
        "currency": "EUR",
        "category": "meals",
    }
    assert validate_output(FIELDS, output, today=TODAY) == {}


def test_each_type_and_rule_is_checked():
    output = {"vendor": "", "date": "yesterday", "total": "-3", "currency": "euro", "category": "lodging"}
    errors = validate_output(FIELDS, output, today=TODAY)
    assert errors == {
        "vendor": ["is required"],
        "date": ["must be a date (YYYY-MM-DD)"],
        "total": ["must be at least 0.01"],
        "currency": ["must be a three-letter currency code such as EUR"],
        "category": ["must be one of: meals, travel"],
    }


def test_fields_outside_the_schema_and_future_dates_are_errors():
    output = {"vendor": "A", "date": "2031-01-01", "total": "1", "currency": "EUR", "iban": "X"}
    errors = validate_output(FIELDS, output, today=TODAY)
    assert errors == {"date": ["is in the future"], "iban": ["is not a field of this process"]}


def test_optional_field_may_be_empty_but_not_a_number_field_with_text():
    output = {"vendor": "A", "date": "2024-05-01", "total": "twelve", "currency": "EUR", "category": None}
    assert validate_output(FIELDS, output, today=TODAY) == {"total": ["must be a number such as 1234.50"]}
