"""Trail verifications as background jobs: an auditor asks, a worker walks the chain, the page shows
progress and the outcome (review/trail_verify.py does the walk).

One at a time: a request while one is queued or running returns that one, as each walk reads the
whole trail (two requests in the same instant may both queue one: both only read). A run is
claimed with a compare-and-set (queued, or running with a stale heartbeat: its worker died), so a
redelivered task or a second worker never runs it twice, and a crash leaves it visibly failed.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from review.models import TrailVerification
from review.trail_verify import Verification, verify_trail

logger = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=10)  # a running walk without a heartbeat this long is taken over
RECENT = 10  # verifications the page lists

State = TrailVerification.State


@transaction.atomic
def request_verification(*, actor: User) -> tuple[TrailVerification, bool]:
    """Queue a verification, or return the one under way; True when a new one was queued.
    The Celery task is enqueued on commit."""
    from review import tasks

    stale = timezone.now() - STALE_AFTER
    under_way = (
        TrailVerification.objects.filter(
            Q(state=State.QUEUED) | Q(state=State.RUNNING, heartbeat_at__gte=stale)
        )
        .order_by("-id")
        .first()
    )
    if under_way is not None:
        return under_way, False
    verification = TrailVerification.objects.create(requested_by=actor)
    tasks.enqueue_trail_verification(verification.pk)
    return verification, True


def run_verification(verification_id: int) -> str:
    """Claim the verification, walk the chain with heartbeats, store the outcome.

    Returns "done", "failed" or "skipped" (someone else has it, it is finished, or it is missing).
    """
    now = timezone.now()
    claimable = Q(state=State.QUEUED) | Q(state=State.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    claimed = TrailVerification.objects.filter(claimable, pk=verification_id).update(
        state=State.RUNNING, started_at=now, heartbeat_at=now, entries_checked=0, checkpoints_checked=0
    )
    if claimed != 1:
        return "skipped"
    jobs = TrailVerification.objects.filter(pk=verification_id)

    def progress(result: Verification) -> None:
        jobs.update(
            head_seq=result.head_seq, entries_checked=result.entries_checked, heartbeat_at=timezone.now()
        )

    try:
        result = verify_trail(on_progress=progress)
    except Exception as exc:  # a crash must leave the verification visibly failed, not running forever
        logger.exception("trail verification %s failed", verification_id)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        jobs.update(state=State.FAILED, error_message=error, finished_at=timezone.now())
        return "failed"
    jobs.update(
        state=State.DONE,
        head_seq=result.head_seq,
        head_hash=result.head_hash,
        entries_checked=result.entries_checked,
        checkpoints_checked=result.checkpoints_checked,
        finding=dataclasses.asdict(result.finding) if result.finding else None,
        heartbeat_at=timezone.now(),
        finished_at=timezone.now(),
    )
    return "done"


def recent_verifications() -> list[TrailVerification]:
    return list(TrailVerification.objects.select_related("requested_by").order_by("-id")[:RECENT])
