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

STALE_AFTER = timedelta(minutes=10)  # a walk without a heartbeat (or a start) this long has stalled
RECENT = 10  # verifications the page lists

State = TrailVerification.State


class TakenOver(Exception):
    """Another worker claimed this verification after ours stalled: ours stops writing."""


def is_stalled(verification: TrailVerification, *, now=None) -> bool:
    """Queued but never started, or running without a heartbeat, for STALE_AFTER: its message was
    lost or its worker died. Asking again sends it to a worker again."""
    limit = (now or timezone.now()) - STALE_AFTER
    if verification.state == State.QUEUED:
        return verification.requested_at < limit
    return verification.state == State.RUNNING and (verification.heartbeat_at or limit) <= limit


@transaction.atomic
def request_verification(*, actor: User) -> tuple[TrailVerification, bool]:
    """Queue a verification, or return the one under way; True when a task was sent. A stalled
    one is sent to a worker again rather than left behind. The task is enqueued on commit."""
    from review import tasks

    under_way = (
        TrailVerification.objects.filter(state__in=[State.QUEUED, State.RUNNING]).order_by("-id").first()
    )
    if under_way is not None and not is_stalled(under_way):
        return under_way, False
    verification = under_way or TrailVerification.objects.create(requested_by=actor)
    tasks.enqueue_trail_verification(verification.pk)
    return verification, True


def run_verification(verification_id: int, *, chunk_size: int = 5000) -> str:
    """Claim the verification, walk the chain with heartbeats, store the outcome.

    The claim's start time fences every later write: if this walk stalls and another worker takes
    the verification over, this one stops at its next heartbeat and writes nothing more.
    Returns "done", "failed" or "skipped" (someone else has it, it is finished, or it is missing).
    """
    now = timezone.now()
    claimable = Q(state=State.QUEUED) | Q(state=State.RUNNING, heartbeat_at__lt=now - STALE_AFTER)
    claimed = TrailVerification.objects.filter(claimable, pk=verification_id).update(
        state=State.RUNNING, started_at=now, heartbeat_at=now, entries_checked=0, checkpoints_checked=0
    )
    if claimed != 1:
        return "skipped"
    ours = TrailVerification.objects.filter(pk=verification_id, state=State.RUNNING, started_at=now)

    def progress(result: Verification) -> None:
        updated = ours.update(
            head_seq=result.head_seq, entries_checked=result.entries_checked, heartbeat_at=timezone.now()
        )
        if not updated:
            raise TakenOver

    try:
        result = verify_trail(chunk_size=chunk_size, on_progress=progress)
    except TakenOver:
        return "skipped"
    except Exception as exc:  # a crash must leave the verification visibly failed, not running forever
        logger.exception("trail verification %s failed", verification_id)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        ours.update(state=State.FAILED, error_message=error, finished_at=timezone.now())
        return "failed"
    ours.update(
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
