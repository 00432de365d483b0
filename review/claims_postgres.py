""" "Next item" and "claim ahead" on PostgreSQL: one call to review_next_item(), one round trip.

The function (migration review/0008_next_item_function, which says what it does step by step)
checks the grant, takes the reviewer's lock, renews their live claims, and resumes or claims,
with `UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)` on the partial index
task_claim_order. Done statement by statement from Python the same work costs six round trips;
this is the product's hot path. claims.py calls this on PostgreSQL; on SQLite (the embedded demo)
it runs the same steps through the ORM.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from backoffice.sql import execute_prepared
from review.models import Queue, ReviewTask

NEXT_ITEM_SQL = (
    "SELECT * FROM review_next_item(%s::integer, %s::text, %s::bigint, %s::timestamptz, %s::timestamptz, "
    "%s::uuid, %s::bigint, %s::integer, %s::boolean)"
)


@dataclass(frozen=True)
class Outcome:
    queue: Queue | None  # None: no such queue, or the reviewer does not hold it
    task: ReviewTask | None  # None: nothing for them (empty queue, or the claim-ahead limit reached)


def next_item(
    *,
    reviewer_id: int,
    now: datetime,
    expires: datetime,
    slug: str | None = None,
    queue_id: int | None = None,
    exclude: int | None = None,
    ahead_limit: int | None = None,
) -> Outcome:
    """Resume or claim the reviewer's next item in a queue (by `slug`, grant checked, or by a
    `queue_id` already checked). With `ahead_limit`, claim one item ahead instead (not started),
    unless the reviewer already holds that many live claims there."""
    # In a transaction of its own the claim commits without waiting for the disk; inside a
    # decision's transaction, the decision keeps its synchronous commit.
    relax_commit = not connection.in_atomic_block
    params = [
        reviewer_id,
        slug,
        queue_id,
        now,
        expires,
        uuid.uuid4(),
        exclude or 0,
        ahead_limit,
        relax_commit,
    ]
    with connection.cursor() as cursor:
        execute_prepared(cursor, NEXT_ITEM_SQL, params)
        row = cursor.fetchone()
    if row is None:
        return Outcome(queue=None, task=None)
    queue = Queue(id=row[0], process_id=row[1], slug=row[2], name=row[3], kind=row[4], created_at=row[5])
    if row[6] is None:
        return Outcome(queue=queue, task=None)
    task = ReviewTask(
        id=row[6],
        queue=queue,
        claimed_by_id=reviewer_id,
        state=ReviewTask.State.CLAIMED,
        lease_token=row[7],
        lease_expires_at=expires,
        started_at=row[8],
        claimed_at=row[9],
    )
    return Outcome(queue=queue, task=task)
