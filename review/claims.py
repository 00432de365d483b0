"""Claims on review tasks: who works on which item, for how long (the lease).

A claim is one indexed `SELECT ... FOR UPDATE SKIP LOCKED` on the open tasks of a queue in
claim order (priority, due time, age), then an update that sets the claimer and a lease. Every
later write on the task is a compare-and-set on (state, claimer, lease token, lease not expired):
a lost lease makes it fail instead of overwriting someone else's work.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.utils import timezone

from backoffice.sql import column_list
from review import claims_postgres, permissions, trail
from review.models import Queue, ReviewTask
from review.trail import Action, System

# A reviewer holds at most this many claims per queue: the item on screen and one prefetched.
MAX_HELD_PER_QUEUE = 2


class LeaseLost(Exception):
    """The task is no longer claimed by this reviewer with this lease (expired, released, decided)."""

    def __init__(self, task_id: int, message: str = ""):
        super().__init__(message or f"the claim on task {task_id} is no longer yours")
        self.task_id = task_id


def lease_duration() -> timedelta:
    return timedelta(seconds=settings.REVIEW_LEASE_SECONDS)


# The claim in one statement: the indexed SELECT ... FOR UPDATE SKIP LOCKED picks the first open
# task in claim order (index task_claim_order) that no other transaction holds, the UPDATE leases it.
CLAIM_SQL = f"""
UPDATE {ReviewTask._meta.db_table}
SET state = %s, claimed_by_id = %s, lease_token = %s, lease_expires_at = %s, claimed_at = %s, started_at = %s
WHERE id = (
    SELECT id FROM {ReviewTask._meta.db_table}
    WHERE queue_id = %s AND state = %s
    ORDER BY priority DESC, due_at, id
    LIMIT 1
    {{lock}}
)
RETURNING {column_list(ReviewTask)}
"""


def _db(value, field: str):
    """A value as the database stores it in that column (raw SQL gets no field conversion:
    SQLite keeps UUIDs and datetimes as text in Django's own format)."""
    return ReviewTask._meta.get_field(field).get_db_prep_value(value, connection)


def _claim_sql() -> str:
    # SQLite (the embedded demo) has no row locks: it serialises writers, so the plain
    # conditional UPDATE is already exclusive there.
    return CLAIM_SQL.format(lock="FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else "")


@transaction.atomic(savepoint=False)  # called inside next_task_for: no savepoint round trips
def claim_next_task(*, queue: Queue, reviewer: User, prefetch: bool = False) -> ReviewTask | None:
    """Claim the first open task of `queue` for `reviewer`, or None when the queue is empty.

    Skips rows other claimers hold locked, so concurrent claimers never get the same task.
    A prefetched claim is not started (its time on screen starts with `start_task`).
    Related objects of the returned task are not loaded. No trail entry: a claim changes no
    document and decides nothing; who held the task and since when is on the task, and the
    decision's trail entry carries the claim time and the time spent. Keeping the hot path off
    the hash chain's head lock keeps claims concurrent.
    """
    now = timezone.now()
    expires = now + lease_duration()
    params = [
        ReviewTask.State.CLAIMED,
        reviewer.pk,
        _db(uuid.uuid4(), "lease_token"),
        _db(expires, "lease_expires_at"),
        _db(now, "claimed_at"),
        None if prefetch else _db(now, "started_at"),
        queue.pk,
        ReviewTask.State.OPEN,
    ]
    # raw() maps the returned columns onto the model and applies the fields' converters (JSON).
    task = next(iter(ReviewTask.objects.raw(_claim_sql(), params)), None)
    if task is None:
        return None
    task.queue = queue
    task.claimed_by = reviewer
    return task


def next_in_queue(*, slug: str, reviewer: User) -> tuple[Queue | None, ReviewTask | None]:
    """ "Next item" from a queue page: the queue named by `slug` if the reviewer holds it (else
    (None, None): the caller answers 404), and their next item there, as next_task_for."""
    if not reviewer.is_active:
        return None, None
    if connection.vendor == "postgresql":  # the grant, the lock and the claim in one round trip
        outcome = _next_on_postgres(reviewer, slug=slug)
        return outcome.queue, outcome.task
    queue = permissions.held_queue(reviewer, slug)
    if queue is None:
        return None, None
    return queue, next_task_for(queue=queue, reviewer=reviewer)


def _next_on_postgres(reviewer: User, queue: Queue | None = None, **how) -> claims_postgres.Outcome:
    now = timezone.now()
    queue_id = queue.pk if queue else None
    outcome = claims_postgres.next_item(
        reviewer_id=reviewer.pk, now=now, expires=now + lease_duration(), queue_id=queue_id, **how
    )
    if outcome.task is not None:
        outcome.task.claimed_by = reviewer
        outcome.task.queue = queue or outcome.queue
    return outcome


def next_task_for(*, queue: Queue, reviewer: User, exclude: int | None = None) -> ReviewTask | None:
    """The item to show next: the reviewer's held (prefetched or left) claim in `queue`, started
    now, else a new claim. None when the queue has nothing for them."""
    if connection.vendor == "postgresql":
        return _next_on_postgres(reviewer, queue, exclude=exclude).task
    # SQLite (the embedded demo) runs one writer at a time: no reviewer lock is needed.
    with transaction.atomic():
        held = held_claim(queue, reviewer, exclude=exclude)
        if held is not None:
            try:
                start_task(task=held, reviewer=reviewer)
                return held
            except LeaseLost:
                pass
        return claim_next_task(queue=queue, reviewer=reviewer)


def prefetch_task(*, queue: Queue, reviewer: User) -> ReviewTask | None:
    """Claim one item ahead, unless the reviewer already holds MAX_HELD_PER_QUEUE in `queue`."""
    if connection.vendor == "postgresql":
        return _next_on_postgres(reviewer, queue, ahead_limit=MAX_HELD_PER_QUEUE).task
    with transaction.atomic():  # SQLite: one writer at a time
        if held_claims(queue, reviewer).count() >= MAX_HELD_PER_QUEUE:
            return None
        return claim_next_task(queue=queue, reviewer=reviewer, prefetch=True)


def held_claims(queue: Queue, reviewer: User):
    return ReviewTask.objects.filter(
        queue=queue, state=ReviewTask.State.CLAIMED, claimed_by=reviewer, lease_expires_at__gt=timezone.now()
    )


# held_claims() in plain SQL for the hot path (every "next item"); ORM compilation costs more
# than the indexed look-up itself.
HELD_CLAIM_SQL = f"""
SELECT id, queue_id, claimed_by_id, lease_token, started_at FROM {ReviewTask._meta.db_table}
WHERE queue_id = %s AND state = %s AND claimed_by_id = %s AND lease_expires_at > %s AND id <> %s
ORDER BY started_at, claimed_at, id
LIMIT 1
"""


def held_claim(queue: Queue, reviewer: User, *, exclude: int | None = None) -> ReviewTask | None:
    """The reviewer's oldest live claim in a queue (an item they left, or the prefetched one);
    only the claim's own columns are loaded."""
    params = [
        queue.pk,
        ReviewTask.State.CLAIMED,
        reviewer.pk,
        _db(timezone.now(), "lease_expires_at"),
        exclude or 0,
    ]
    return next(iter(ReviewTask.objects.raw(HELD_CLAIM_SQL, params)), None)


def start_task(*, task: ReviewTask, reviewer: User) -> None:
    """Mark a held (possibly prefetched) claim as on screen from now, and renew its lease."""
    now = timezone.now()
    ReviewTask.objects.filter(
        pk=task.pk, state=ReviewTask.State.CLAIMED, claimed_by=reviewer, started_at__isnull=True
    ).update(started_at=now)
    renew_lease(task=task, reviewer=reviewer, lease_token=task.lease_token)
    task.started_at = task.started_at or now


def renew_lease(*, task: ReviewTask, reviewer: User, lease_token: uuid.UUID | str | None) -> datetime:
    """Extend a live lease (heartbeat). Raises LeaseLost when it expired or is not this reviewer's.

    Also extends the reviewer's other live claims in the same queue (the prefetched item).
    """
    now = timezone.now()
    expires = now + lease_duration()
    updated = ReviewTask.objects.filter(
        pk=task.pk,
        state=ReviewTask.State.CLAIMED,
        claimed_by=reviewer,
        lease_token=as_uuid(lease_token),
        lease_expires_at__gt=now,
    ).update(lease_expires_at=expires)
    if updated != 1:
        raise LeaseLost(task.pk)
    ReviewTask.objects.filter(
        queue_id=task.queue_id, state=ReviewTask.State.CLAIMED, claimed_by=reviewer, lease_expires_at__gt=now
    ).exclude(pk=task.pk).update(lease_expires_at=expires)
    task.lease_expires_at = expires
    return expires


@transaction.atomic
def release_task(*, task: ReviewTask, reviewer: User, lease_token: uuid.UUID | str | None) -> None:
    """Put a claimed task back in its queue ("not now"). Raises LeaseLost; writes task.released."""
    updated = ReviewTask.objects.filter(
        pk=task.pk,
        state=ReviewTask.State.CLAIMED,
        claimed_by=reviewer,
        lease_token=as_uuid(lease_token),
        lease_expires_at__gt=timezone.now(),
    ).update(**_OPEN_AGAIN)
    if updated != 1:
        raise LeaseLost(task.pk)
    trail.record(
        Action.TASK_RELEASED,
        actor=reviewer,
        document=task.document,
        data={"task": task.pk, "queue": task.queue.slug, "why": "released by the reviewer"},
    )


_OPEN_AGAIN = {
    "state": ReviewTask.State.OPEN,
    "claimed_by": None,
    "lease_token": None,
    "lease_expires_at": None,
    "claimed_at": None,
    "started_at": None,
}


def release_expired_leases(*, limit: int = 1000) -> int:
    """Return tasks whose lease expired to their queue (periodic job). Returns how many.

    Locks the expired rows with SKIP LOCKED, so a decision committing at the same moment wins
    and is not undone; one task.released trail entry per task, in the same transaction.
    """
    with transaction.atomic():
        now = timezone.now()
        expired = list(
            ReviewTask.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(state=ReviewTask.State.CLAIMED, lease_expires_at__lte=now)
            .select_related("document__process", "queue", "claimed_by")
            .defer("document__text")
            .order_by("lease_expires_at")[:limit]
        )
        if not expired:
            return 0
        ReviewTask.objects.filter(pk__in=[t.pk for t in expired], state=ReviewTask.State.CLAIMED).update(
            **_OPEN_AGAIN
        )
        for task in expired:
            trail.record(
                Action.TASK_RELEASED,
                actor=System("lease-expiry"),
                document=task.document,
                data={
                    "task": task.pk,
                    "queue": task.queue.slug,
                    "why": "lease expired",
                    "claimed_by": task.claimed_by.get_username() if task.claimed_by else None,
                    "lease_expired_at": task.lease_expires_at,
                },
            )
    return len(expired)


def as_uuid(value: uuid.UUID | str | None) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None
