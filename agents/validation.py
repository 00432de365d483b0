"""Validation of an agent's output against the process schema: types, required fields, simple rules.

`validate_output` returns errors per field (empty when the output is valid). A failed validation
always routes the document to review; the reviewer sees these messages beside the fields.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from agents.providers.base import FieldSpec, FieldType

CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
DEFAULT_MAX_PAST_DAYS = 366 * 15
DEFAULT_MAX_FUTURE_DAYS = 366


class FieldValueError(ValueError):
    """A value that does not fit its field's type or rules; the message is for the person."""


def parse_value(spec: FieldSpec, raw: Any, *, today: dt.date | None = None) -> Any:
    """Parse one value into its Python type, or raise FieldValueError with a readable message."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if spec.required:
            raise FieldValueError("is required")
        return None
    if not isinstance(raw, str | int | float | Decimal):
        raise FieldValueError("must be a single value")
    text = str(raw).strip()
    if spec.type == FieldType.DATE:
        return _parse_date(spec, text, today or dt.date.today())
    if spec.type == FieldType.DECIMAL:
        return _parse_decimal(spec, text)
    if spec.type == FieldType.CURRENCY:
        if not CURRENCY_CODE.match(text):
            raise FieldValueError("must be a three-letter currency code such as EUR")
        return text
    if spec.type == FieldType.CHOICE:
        if text not in spec.choices:
            raise FieldValueError(f"must be one of: {', '.join(spec.choices)}")
        return text
    pattern = spec.rules.get("pattern")
    if pattern and not re.search(pattern, text):
        raise FieldValueError("does not have the expected format")
    if len(text) > int(spec.rules.get("max_length", 500)):
        raise FieldValueError("is too long")
    return text


def _parse_date(spec: FieldSpec, text: str, today: dt.date) -> dt.date:
    try:
        value = dt.date.fromisoformat(text)
    except ValueError:
        raise FieldValueError("must be a date (YYYY-MM-DD)") from None
    if value < today - dt.timedelta(days=int(spec.rules.get("max_past_days", DEFAULT_MAX_PAST_DAYS))):
        raise FieldValueError("is implausibly far in the past")
    if value > today + dt.timedelta(days=int(spec.rules.get("max_future_days", DEFAULT_MAX_FUTURE_DAYS))):
        raise FieldValueError("is in the future")
    return value


def _parse_decimal(spec: FieldSpec, text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        raise FieldValueError("must be a number such as 1234.50") from None
    if not value.is_finite():
        raise FieldValueError("must be a finite number")
    if "min" in spec.rules and value < Decimal(str(spec.rules["min"])):
        raise FieldValueError(f"must be at least {spec.rules['min']}")
    if "max" in spec.rules and value > Decimal(str(spec.rules["max"])):
        raise FieldValueError(f"must be at most {spec.rules['max']}")
    return value


def validate_output(
    fields: tuple[FieldSpec, ...], output: dict[str, Any], *, today: dt.date | None = None
) -> dict[str, list[str]]:
    """Check every schema field of `output`; unknown keys are errors too."""
    errors: dict[str, list[str]] = {}
    for spec in fields:
        try:
            parse_value(spec, output.get(spec.name), today=today)
        except FieldValueError as exc:
            errors.setdefault(spec.name, []).append(str(exc))
    known = {spec.name for spec in fields}
    for name in output:
        if name not in known:
            errors.setdefault(name, []).append("is not a field of this process")
    return errors


def comparable_value(spec: FieldSpec, raw: Any) -> str | None:
    """A value for comparing agent and human answers: canonical when valid, else marked so that it
    never equals a valid value."""
    try:
        return canonical_value(spec, raw)
    except FieldValueError:
        return f"invalid:{raw!r}"


def canonical_value(spec: FieldSpec, raw: Any) -> str | None:
    """The stored form of a valid value: ISO dates, plain decimal strings, stripped text."""
    value = parse_value(spec, raw)
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")
    return str(value)
