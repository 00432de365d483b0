"""Document-level confidence from per-field confidences."""

from __future__ import annotations

from decimal import Decimal

from agents.providers.base import FieldSpec


def overall_confidence(fields: tuple[FieldSpec, ...], confidences: dict[str, float]) -> float | None:
    """The weakest field decides: a document is only as trustworthy as its least certain field.

    Optional fields the agent left empty do not count. None when there is nothing to judge.
    """
    values = [
        float(confidences[spec.name])
        for spec in fields
        if spec.name in confidences and (spec.required or confidences[spec.name] is not None)
    ]
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
