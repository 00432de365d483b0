"""Queues of a process: created with the process, chosen when a document is routed."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from agents.autonomy import Reason
from agents.models import Process
from review.models import Queue

# Items a person must look at before anything else: the agent failed or the input is broken.
PRIORITY_BY_REASON = {
    Reason.UNREADABLE: 2,
    Reason.AGENT_ERROR: 2,
    Reason.VALIDATION_FAILED: 1,
    Reason.LOW_CONFIDENCE: 1,
}


def ensure_queues(process: Process) -> tuple[Queue, Queue]:
    """The review and escalation queues of a process, created on first use."""
    review, _ = Queue.objects.get_or_create(
        process=process,
        kind=Queue.Kind.REVIEW,
        defaults={"slug": f"{process.slug}-review", "name": f"{process.name}: review"},
    )
    escalation, _ = Queue.objects.get_or_create(
        process=process,
        kind=Queue.Kind.ESCALATION,
        defaults={"slug": f"{process.slug}-escalation", "name": f"{process.name}: escalations"},
    )
    return review, escalation


def review_queue_for(process: Process) -> Queue:
    queue = Queue.objects.filter(process=process, kind=Queue.Kind.REVIEW).first()
    return queue or ensure_queues(process)[0]


def priority_for(reason: str) -> int:
    return PRIORITY_BY_REASON.get(reason, 0)


def due_at_for(process: Process):
    return timezone.now() + timedelta(hours=process.sla_hours)
