""" "Next item" and "claim ahead" as the views run them: on PostgreSQL one batch (the grant, the
reviewer's lock, resume-or-claim). The same behaviour holds on SQLite through the ORM path
(tests/test_embedded_demo.py drives it there)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from review import claims, permissions
from review.models import Queue, ReviewTask
from tests.conftest import make_user
from tests.reviewing import make_task, media, run_at_once  # noqa: F401

pytestmark = pytest.mark.usefixtures("media")
SLUG = "invoice-extraction-review"


def decide(task: ReviewTask) -> None:
    """Take the task off the reviewer's hands as a decision would (state only)."""
    ReviewTask.objects.filter(pk=task.pk).update(state=ReviewTask.State.DECIDED, decided_at=timezone.now())


def test_next_item_claims_in_priority_then_due_then_age_order(alice, invoices):
    late_low = make_task(invoices, priority=0, due_in=timedelta(hours=1))
    due_later = make_task(invoices, priority=2, due_in=timedelta(hours=5))
    older_same_due = make_task(invoices, priority=2, due_in=timedelta(hours=2))
    newer_same_due = make_task(invoices, priority=2, due_in=timedelta(hours=2))
    ReviewTask.objects.filter(pk=newer_same_due.pk).update(due_at=older_same_due.due_at)

    order = []
    for _ in range(4):
        queue, task = claims.next_in_queue(slug=SLUG, reviewer=alice)
        assert queue.slug == SLUG
        order.append(task.pk)
        decide(task)

    assert order == [older_same_due.pk, newer_same_due.pk, due_later.pk, late_low.pk]
    queue, task = claims.next_in_queue(slug=SLUG, reviewer=alice)
    assert (queue.name, task) == ("Invoice extraction: review", None)


def test_next_item_sets_the_claim_and_lease_in_the_database(alice, invoices):
    make_task(invoices)
    before = timezone.now()

    _, task = claims.next_in_queue(slug=SLUG, reviewer=alice)

    stored = ReviewTask.objects.get(pk=task.pk)
    assert stored.state == ReviewTask.State.CLAIMED and stored.claimed_by == alice
    assert stored.lease_token == task.lease_token is not None
    assert stored.started_at == stored.claimed_at == task.started_at >= before
    assert stored.lease_expires_at == task.lease_expires_at > before + timedelta(minutes=1)


def test_next_item_resumes_the_held_item_instead_of_claiming_another(alice, invoices):
    make_task(invoices)
    make_task(invoices)
    _, first = claims.next_in_queue(slug=SLUG, reviewer=alice)
    ReviewTask.objects.filter(pk=first.pk).update(lease_expires_at=timezone.now() + timedelta(seconds=5))

    _, again = claims.next_in_queue(slug=SLUG, reviewer=alice)

    assert again.pk == first.pk and again.lease_token == first.lease_token
    assert ReviewTask.objects.filter(claimed_by=alice).count() == 1
    assert ReviewTask.objects.get(pk=first.pk).lease_expires_at > timezone.now() + timedelta(minutes=1)


def test_the_item_left_on_screen_comes_before_the_one_claimed_ahead(alice, invoices):
    queue = Queue.objects.get(slug=SLUG)
    for _ in range(3):
        make_task(invoices)
    _, shown = claims.next_in_queue(slug=SLUG, reviewer=alice)
    ahead = claims.prefetch_task(queue=queue, reviewer=alice)
    assert ahead is not None and ahead.pk != shown.pk
    assert ReviewTask.objects.get(pk=ahead.pk).started_at is None  # claimed, not yet on screen

    assert claims.next_in_queue(slug=SLUG, reviewer=alice)[1].pk == shown.pk
    decide(shown)
    _, now_shown = claims.next_in_queue(slug=SLUG, reviewer=alice)

    assert now_shown.pk == ahead.pk
    assert ReviewTask.objects.get(pk=ahead.pk).started_at is not None


def test_claim_ahead_stops_at_the_limit_and_ignores_expired_claims(alice, invoices):
    queue = Queue.objects.get(slug=SLUG)
    for _ in range(4):
        make_task(invoices)
    _, shown = claims.next_in_queue(slug=SLUG, reviewer=alice)
    assert claims.prefetch_task(queue=queue, reviewer=alice) is not None
    assert claims.prefetch_task(queue=queue, reviewer=alice) is None  # holds MAX_HELD_PER_QUEUE
    assert ReviewTask.objects.filter(claimed_by=alice).count() == claims.MAX_HELD_PER_QUEUE

    ReviewTask.objects.filter(pk=shown.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert claims.prefetch_task(queue=queue, reviewer=alice) is not None  # an expired claim is not held


def test_after_a_decision_the_next_item_excludes_the_decided_one(alice, invoices):
    queue = Queue.objects.get(slug=SLUG)
    make_task(invoices)
    make_task(invoices)
    _, shown = claims.next_in_queue(slug=SLUG, reviewer=alice)

    following = claims.next_task_for(queue=queue, reviewer=alice, exclude=shown.pk)

    assert following.pk != shown.pk
    assert following.queue is queue and following.claimed_by == alice


def test_next_item_in_a_queue_the_reviewer_does_not_hold_claims_nothing(alice, bob, invoices, receipts):
    make_task(invoices)
    receipt_task = make_task(receipts)

    assert claims.next_in_queue(slug="receipt-extraction-review", reviewer=alice) == (None, None)
    assert claims.next_in_queue(slug="no-such-queue", reviewer=alice) == (None, None)
    alice.is_active = False
    assert claims.next_in_queue(slug=SLUG, reviewer=alice) == (None, None)

    assert ReviewTask.objects.filter(state=ReviewTask.State.CLAIMED).count() == 0
    assert claims.next_in_queue(slug="receipt-extraction-review", reviewer=bob)[1].pk == receipt_task.pk


def test_a_queue_granted_to_a_group_is_held_by_its_members(invoices):
    member = make_user("gina")
    team = Group.objects.create(name="invoice team")
    permissions.grant_queue(Queue.objects.get(slug=SLUG), team)
    task = make_task(invoices)
    assert claims.next_in_queue(slug=SLUG, reviewer=member) == (None, None)

    member.groups.add(team)

    assert claims.next_in_queue(slug=SLUG, reviewer=member)[1].pk == task.pk


def test_next_item_is_one_round_trip(alice, invoices, django_assert_num_queries):
    make_task(invoices)
    with django_assert_num_queries(1):
        claims.next_in_queue(slug=SLUG, reviewer=alice)


def test_the_claim_uses_the_claim_index(alice, invoices):
    """The claim statement inside review_next_item(), planned as the function plans it (a
    generic plan: the queue is a parameter, the state a literal that matches the partial index)."""
    make_task(invoices)
    queue = Queue.objects.get(slug=SLUG)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(
            "PREPARE claim_order(bigint) AS SELECT o.id FROM review_reviewtask o "
            "WHERE o.queue_id = $1 AND o.state = 'open' ORDER BY o.priority DESC, o.due_at, o.id "
            "LIMIT 1 FOR UPDATE SKIP LOCKED"
        )
        cursor.execute(f"EXPLAIN EXECUTE claim_order({int(queue.pk)})")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE claim_order")
    assert "Index Scan using task_claim_order" in plan, plan
    assert "Sort" not in plan


def test_the_function_holds_the_claim_sql_the_index_test_checks():
    """The test above plans a copy of the function's claim statement: keep the two the same."""
    from importlib import import_module

    install = import_module("review.migrations.0008_next_item_function").INSTALL
    assert "WHERE o.queue_id = q.id AND o.state = 'open'" in install
    assert "ORDER BY o.priority DESC, o.due_at, o.id" in install
    assert "FOR UPDATE SKIP LOCKED" in install


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_reviewers_never_receive_the_same_item(processes, invoices):
    queue = Queue.objects.get(slug=SLUG)
    for _ in range(40):
        make_task(invoices)
    reviewers = [make_user(f"reviewer{i}") for i in range(20)]
    for reviewer in reviewers:
        permissions.grant_queue(queue, reviewer)

    def work(reviewer) -> list[int]:
        got: list[int] = []
        for _ in range(3):  # next item, claim ahead, decide, next item again
            _, task = claims.next_in_queue(slug=SLUG, reviewer=reviewer)
            ahead = claims.prefetch_task(queue=queue, reviewer=reviewer)
            got += [t.pk for t in (task, ahead) if t is not None and t.pk not in got]
            if task is not None:
                decide(task)
        return got

    results = {reviewers[i].pk: got for i, got in run_at_once(work, reviewers).items()}
    claimed = [pk for got in results.values() for pk in got]
    assert len(set(claimed)) == len(claimed) == 40  # every item went to exactly one reviewer
    owners = dict(ReviewTask.objects.exclude(state=ReviewTask.State.OPEN).values_list("pk", "claimed_by_id"))
    assert all(owners[pk] == reviewer for reviewer, got in results.items() for pk in got)


def test_the_task_table_is_vacuumed_after_a_fixed_number_of_changes(db):
    """Claims leave dead entries at the head of the claim index until a vacuum (migration 0009)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [ReviewTask._meta.db_table])
        options = set(cursor.fetchone()[0] or [])
    assert {"autovacuum_vacuum_scale_factor=0", "autovacuum_vacuum_threshold=5000"} <= options
