"""The pure autonomy decision: given a run and the process's policy, accept or send to review.

No I/O here: `decide` reads only its arguments, so the same inputs always give the same verdict,
and the policy it applied is returned with it to be stored beside the decision.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from agents.confidence import fields_below_threshold


class Reason:
    """Why a document went to review (or "" when it was accepted automatically)."""

    UNREADABLE = "unreadable"
    AGENT_ERROR = "agent_error"
    VALIDATION_FAILED = "validation_failed"
    AUTONOMY_OFF = "autonomy_off"
    SHADOW_MODE = "shadow_mode"
    LOW_CONFIDENCE = "low_confidence"
    AUDIT_SAMPLE = "audit_sample"

    CHOICES = [
        (UNREADABLE, "Document unreadable"),
        (AGENT_ERROR, "Agent error"),
        (VALIDATION_FAILED, "Validation failed"),
        (AUTONOMY_OFF, "Autonomy off"),
        (SHADOW_MODE, "Shadow mode"),
        (LOW_CONFIDENCE, "Low confidence"),
        (AUDIT_SAMPLE, "Audit sample"),
    ]


@dataclass(frozen=True)
class Policy:
    mode: str
    threshold: str
    field_thresholds: dict[str, str]
    audit_sample_rate: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunFacts:
    """What the decision needs to know about a run."""

    confidences: dict[str, float]
    overall_confidence: float | None
    validation_errors: dict[str, list[str]]
    error_code: str


@dataclass(frozen=True)
class Verdict:
    accept: bool
    reason: str  # one of Reason, "" when accepted
    would_auto_accept: bool  # the verdict autonomous mode would give (measured in shadow mode)
    low_fields: tuple[str, ...]
    audit_draw: float
    policy: Policy


def audit_draw(process_slug: str, document_checksum: str) -> float:
    """A number in [0, 1) fixed by the document, so a retry can never change who is audited."""
    digest = hashlib.sha256(f"audit:{process_slug}:{document_checksum}".encode()).hexdigest()
    return int(digest[:13], 16) / 16**13


def decide(
    *,
    facts: RunFacts,
    mode: str,
    threshold: Decimal,
    field_thresholds: dict[str, str],
    audit_sample_rate: Decimal,
    process_slug: str,
    document_checksum: str,
) -> Verdict:
    """Accept automatically only in autonomous mode, with a valid, confident run not drawn for audit."""
    policy = Policy(
        mode=mode,
        threshold=str(threshold),
        field_thresholds={name: str(value) for name, value in field_thresholds.items()},
        audit_sample_rate=str(audit_sample_rate),
    )
    draw = audit_draw(process_slug, document_checksum)
    low = tuple(fields_below_threshold(facts.confidences, threshold, field_thresholds))
    if facts.overall_confidence is None or Decimal(str(facts.overall_confidence)) < threshold:
        # No confidence at all (nothing decisive was reported) is never confident.
        low = low or tuple(facts.confidences) or ("(no confidence)",)
    confident = not facts.error_code and not facts.validation_errors and not low
    sampled = draw < float(audit_sample_rate)

    if facts.error_code == Reason.UNREADABLE:
        reason = Reason.UNREADABLE
    elif facts.error_code:
        reason = Reason.AGENT_ERROR
    elif facts.validation_errors:
        reason = Reason.VALIDATION_FAILED
    elif mode == "manual":
        reason = Reason.AUTONOMY_OFF
    elif mode == "shadow":
        reason = Reason.SHADOW_MODE
    elif low:
        reason = Reason.LOW_CONFIDENCE
    elif sampled:
        reason = Reason.AUDIT_SAMPLE
    else:
        reason = ""
    return Verdict(
        accept=reason == "",
        reason=reason,
        would_auto_accept=confident and not sampled,
        low_fields=low,
        audit_draw=draw,
        policy=policy,
    )
