"""Document-level confidence from per-field confidences."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from agents.providers.base import FieldSpec


def decisive_confidences(
    fields: tuple[FieldSpec, ...], output: dict[str, Any], confidences: dict[str, float]
) -> dict[str, float]:
    """The confidences that bear on the decision: every required field, and optional fields the agent
    filled. An optional field left empty (an address the receipt does not print) blocks nothing."""
    return {
        spec.name: confidences[spec.name]
        for spec in fields
        if spec.name in confidences and (spec.required or output.get(spec.name) not in (None, ""))
    }


def overall_confidence(
    fields: tuple[FieldSpec, ...], output: dict[str, Any], confidences: dict[str, float]
) -> float | None:
    """The weakest decisive field decides: a document is only as trustworthy as its least certain field."""
    values = [float(value) for value in decisive_confidences(fields, output, confidences).values()]
    return min(values) if values else None


def fields_below_threshold(
    confidences: dict[str, float], threshold: Decimal, field_thresholds: dict[str, str]
) -> list[str]:
    """Fields whose confidence is under their own threshold (or the document's), lowest first."""
    below = []
    for name, confidence in confidences.items():
        limit = Decimal(str(field_thresholds.get(name, threshold)))
        if confidence is None or Decimal(str(confidence)) < limit:
            below.append(name)
    return sorted(below, key=lambda name: confidences.get(name) or 0.0)
