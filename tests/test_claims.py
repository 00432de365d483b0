"""Claiming the next item: order, leases, heartbeats, expiry, and concurrent claimers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from review import claims, decisions, tasks
from review.claims import LeaseLost
from review.models import Decision, Queue, ReviewTask, TrailEntry
from tests.reviewing import make_task, media, run_at_once  # noqa: F401

pytestmark = pytest.mark.usefixtures("media")


@pytest.fixture
def invoice_queue(invoices) -> Queue:
    return Queue.objects.get(process=invoices, kind=Queue.Kind.REVIEW)


def test_claim_takes_highest_priority_then_earliest_due_then_oldest(alice, invoices, invoice_queue):
    late_low = make_task(invoices, priority=0, due_in=timedelta(hours=1))
    due_later = make_task(invoices, priority=2, due_in=timedelta(hours=5))
    older_same_due = make_task(invoices, priority=2, due_in=timedelta(hours=2))
    newer_same_due = make_task(invoices, priority=2, due_in=timedelta(hours=2))
    ReviewTask.objects.filter(pk=newer_same_due.pk).update(due_at=older_same_due.due_at)

    order = [claims.claim_next_task(queue=invoice_queue, reviewer=alice).pk for _ in range(4)]

    assert order == [older_same_due.pk, newer_same_due.pk, due_later.pk, late_low.pk]
    assert claims.claim_next_task(queue=invoice_queue, reviewer=alice) is None


def test_claim_sets_a_lease_and_stays_off_the_trail(alice, invoices, invoice_queue):
    task = make_task(invoices)

    claimed = claims.claim_next_task(queue=invoice_queue, reviewer=alice)

    task.refresh_from_db()
    assert claimed.pk == task.pk
    assert task.state == ReviewTask.State.CLAIMED and task.claimed_by == alice
    assert task.lease_token is not None and task.started_at is not None
    expected = timezone.now() + timedelta(seconds=settings.REVIEW_LEASE_SECONDS)
    assert abs((task.lease_expires_at - expected).total_seconds()) < 30
    assert task.claimed_at is not None
    assert not TrailEntry.objects.filter(action="task.claimed").exists()  # the decision entry carries it


def test_a_prefetched_claim_is_not_started_until_shown(alice, invoices, invoice_queue):
    make_task(invoices)

    task = claims.claim_next_task(queue=invoice_queue, reviewer=alice, prefetch=True)
    assert task.started_at is None
    claims.start_task(task=task, reviewer=alice)

    task.refresh_from_db()
    assert task.started_at is not None


def test_claim_ignores_other_queues_and_claimed_tasks(alice, bob, invoices, receipts, invoice_queue):
    make_task(receipts)
    taken = make_task(invoices)
    claims.claim_next_task(queue=invoice_queue, reviewer=bob)  # takes `taken`, whoever holds it

    assert claims.claim_next_task(queue=invoice_queue, reviewer=alice) is None
    assert ReviewTask.objects.get(pk=taken.pk).claimed_by == bob


def test_the_claim_query_can_use_the_claim_index(alice, invoices, invoice_queue):
    make_task(invoices)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM review_reviewtask WHERE queue_id = %s AND state = 'open' "
            "ORDER BY priority DESC, due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED",
            [invoice_queue.pk],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "task_claim_order" in plan
    assert "Sort" not in plan


def test_heartbeat_renews_the_lease_of_the_item_and_the_prefetched_one(alice, invoices, invoice_queue):
    make_task(invoices)
    make_task(invoices)
    task = claims.claim_next_task(queue=invoice_queue, reviewer=alice)
    ahead = claims.claim_next_task(queue=invoice_queue, reviewer=alice, prefetch=True)
    soon = timezone.now() + timedelta(seconds=5)
    ReviewTask.objects.filter(pk__in=[task.pk, ahead.pk]).update(lease_expires_at=soon)

    claims.renew_lease(task=task, reviewer=alice, lease_token=task.lease_token)

    for pk in (task.pk, ahead.pk):
        assert ReviewTask.objects.get(pk=pk).lease_expires_at > soon + timedelta(seconds=60)


def test_renewing_with_a_wrong_token_or_by_someone_else_is_refused(alice, bob, invoices, invoice_queue):
    make_task(invoices)
    task = claims.claim_next_task(queue=invoice_queue, reviewer=alice)

    with pytest.raises(LeaseLost):
        claims.renew_lease(task=task, reviewer=alice, lease_token="not-a-uuid")
    with pytest.raises(LeaseLost):
        claims.renew_lease(task=task, reviewer=bob, lease_token=task.lease_token)


def test_an_expired_lease_cannot_be_renewed(alice, invoices, invoice_queue):
    make_task(invoices)
    task = claims.claim_next_task(queue=invoice_queue, reviewer=alice)
    ReviewTask.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(LeaseLost):
        claims.renew_lease(task=task, reviewer=alice, lease_token=task.lease_token)


def test_expired_leases_return_to_the_queue_with_a_trail_entry(alice, invoices, invoice_queue):
    make_task(invoices)
    make_task(invoices)
    expired = claims.claim_next_task(queue=invoice_queue, reviewer=alice)
    live = claims.claim_next_task(queue=invoice_queue, reviewer=alice)
    ReviewTask.objects.filter(pk=expired.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    assert tasks.release_expired_leases() == 1

    expired.refresh_from_db()
    assert expired.state == ReviewTask.State.OPEN
    assert expired.claimed_by is None and expired.lease_token is None and expired.claimed_at is None
    assert ReviewTask.objects.get(pk=live.pk).state == ReviewTask.State.CLAIMED
    entry = TrailEntry.objects.get(action="task.released")
    assert (
        entry.actor_kind == "system"
        and entry.data["why"] == "lease expired"
        and entry.data["claimed_by"] == "alice"
    )
    assert claims.release_expired_leases() == 0


def test_the_release_job_is_scheduled_with_celery_beat():
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "review.tasks.release_expired_leases" in schedule


def test_a_decision_after_the_lease_expired_answers_409_and_records_nothing(
    client, alice, invoices, invoice_queue
):
    make_task(invoices)
    task = claims.claim_next_task(queue=invoice_queue, reviewer=alice)
    ReviewTask.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    client.force_login(alice)

    response = client.post(reverse("review:task-approve", args=[task.pk]), {"lease": str(task.lease_token)})

    assert response.status_code == 409
    assert "Your claim on this item was lost" in response.content.decode()
    assert not Decision.objects.exists()


def test_a_released_task_taken_by_someone_else_cannot_be_decided_by_the_first(alice, invoices, invoice_queue):
    make_task(invoices)
    first = claims.claim_next_task(queue=invoice_queue, reviewer=alice)
    ReviewTask.objects.filter(pk=first.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    claims.release_expired_leases()
    second = claims.claim_next_task(queue=invoice_queue, reviewer=alice)

    with pytest.raises(LeaseLost):
        decisions.approve_task(task=first, reviewer=alice, lease_token=first.lease_token)
    decisions.approve_task(task=second, reviewer=alice, lease_token=second.lease_token)
    assert Decision.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_claimers_never_receive_the_same_task(processes, invoices):
    from tests.conftest import make_user

    queue = Queue.objects.get(process=invoices, kind=Queue.Kind.REVIEW)
    for _ in range(30):
        make_task(invoices)
    reviewers = [make_user(f"reviewer{i}") for i in range(20)]

    def work(reviewer) -> list[int]:
        got = []
        for _ in range(3):
            task = claims.claim_next_task(queue=queue, reviewer=reviewer)
            if task is not None:
                got.append(task.pk)
        return got

    results = {reviewers[i].pk: got for i, got in run_at_once(work, reviewers).items()}
    claimed = [pk for got in results.values() for pk in got]
    assert len(claimed) == 30  # every task claimed once: 60 attempts on 30 tasks
    assert len(set(claimed)) == len(claimed)
    rows = ReviewTask.objects.filter(state=ReviewTask.State.CLAIMED).values_list("pk", "claimed_by_id")
    owner = dict(rows)
    assert all(owner[pk] == reviewer for reviewer, got in results.items() for pk in got)
