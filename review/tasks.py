"""Celery tasks: thin, take ids, idempotent, and retried only on named transient errors."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from agents import services
from review import claims, triage

# Idempotent tasks that take an id: retried when the database is briefly unreachable, and
# acknowledged only once done, so a worker that dies mid-task leaves it for another.
RETRIED_ON_DATABASE_ERRORS = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "max_retries": 8,
    "acks_late": True,
}


@shared_task(**RETRIED_ON_DATABASE_ERRORS)
def triage_document(document_id: int) -> str:
    """Run the agent on a received document and route it (no-op if it was already triaged)."""
    return triage.triage_document(document_id)


@shared_task
def requeue_stalled_documents() -> int:
    """Periodic: documents whose worker died, or whose task never reached the broker, run again."""
    ids = services.requeue_stalled(older_than=timedelta(seconds=settings.TRIAGE_STALL_SECONDS))
    for document_id in ids:
        triage_document.delay(document_id)
    return len(ids)


def enqueue_triage(document_id: int) -> None:
    """Queue triage once the current transaction commits (a broker outage leaves it for the requeue job)."""
    transaction.on_commit(lambda: triage_document.delay(document_id), robust=True)


@shared_task
def release_expired_leases() -> int:
    """Periodic: tasks whose reviewer's lease ran out go back to their queue."""
    return claims.release_expired_leases()


@shared_task
def checkpoint_trail() -> int:
    """Periodic: copy the trail's head out of the table, so deleting the newest entries shows."""
    from review.trail import write_checkpoint

    return write_checkpoint(reason="periodic").seq


@shared_task
def guard_against_drift() -> list[str]:
    """Periodic: demote to shadow every autonomous process whose audited accuracy misses its target."""
    from review.evaluation.drift import check_all_autonomous

    return check_all_autonomous()


@shared_task(**RETRIED_ON_DATABASE_ERRORS)
def evaluate_version(evaluation_id: int) -> str:
    """Replay the labelled set through an agent version (no-op if the evaluation is taken or finished)."""
    from review.evaluation import replay

    return replay.run_evaluation(evaluation_id)


def enqueue_evaluation(evaluation_id: int) -> None:
    """Queue a version evaluation once the current transaction commits."""
    transaction.on_commit(lambda: evaluate_version.delay(evaluation_id), robust=True)


@shared_task(**RETRIED_ON_DATABASE_ERRORS)
def verify_trail(verification_id: int) -> str:
    """Walk the whole decision trail for an auditor (no-op if the verification is taken or finished)."""
    from review import trail_verification_runs

    return trail_verification_runs.run_verification(verification_id)


def enqueue_trail_verification(verification_id: int) -> None:
    """Queue a trail verification once the current transaction commits."""
    transaction.on_commit(lambda: verify_trail.delay(verification_id), robust=True)
