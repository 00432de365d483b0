"""Query parameters as the views need them; a malformed value is None, never a 500."""

from __future__ import annotations


def whole_number(value: str) -> int | None:
    """A non-negative whole number, or None. ASCII digits only: str.isdigit() accepts "²" and "٣",
    which int() refuses; 18 digits always fit a bigint column."""
    value = value.strip()
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def number_text(value: float | None, places: int = 4) -> str:
    """A figure for a CSV cell: fixed decimals, empty when there is none."""
    return "" if value is None else f"{value:.{places}f}"
