"""The auditor's screens: the filtered trail, a document's timeline and verification, read-only and scoped."""

import re
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from review import configuration, trail, trail_verification_runs
from review.models import TrailEntry, TrailVerification
from review.trail import Action, System
from tests.helpers import CLEAN_INVOICE, receive_text

pytestmark = pytest.mark.django_db


def many_entries(process, n: int) -> None:
    with transaction.atomic():
        for i in range(n):
            trail.record(Action.AUTONOMY_CHANGED, actor=System("bulk"), process=process, data={"i": i})


def seqs(response) -> list[int]:
    """The seq of each row shown (read from the HTML: htmx fragments carry no template context)."""
    return [int(seq) for seq in re.findall(r'data-seq="(\d+)"', response.content.decode())]


def test_the_trail_page_lists_the_audited_entries_newest_first(client, audrey, invoices, paula):
    configuration.change_autonomy(process=invoices, changes={"audit_sample_rate": "0.2"}, actor=paula)
    client.force_login(audrey)

    response = client.get(reverse("review:trail"))

    assert response.status_code == 200
    assert seqs(response) == sorted(TrailEntry.objects.values_list("seq", flat=True), reverse=True)
    assert b"config.autonomy_changed" in response.content and b"paula" in response.content


def test_the_trail_is_keyset_paginated_and_htmx_gets_the_next_rows(client, audrey, invoices):
    many_entries(invoices, 60)
    client.force_login(audrey)

    first = client.get(reverse("review:trail"), {"process": "invoice-extraction"})
    cursor = first.context["next_cursor"]
    second = client.get(
        reverse("review:trail"),
        {"process": "invoice-extraction", "before": cursor},
        headers={"HX-Request": "true"},
    )

    all_seqs = list(
        TrailEntry.objects.filter(process=invoices).order_by("-seq").values_list("seq", flat=True)
    )
    assert seqs(first) == all_seqs[:50] and cursor == all_seqs[49]
    assert seqs(second) == all_seqs[50:]
    assert b"<html" not in second.content and b'data-seq="' in second.content


def test_the_trail_page_runs_a_fixed_number_of_queries(client, audrey, invoices):
    client.force_login(audrey)
    many_entries(invoices, 5)
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("review:trail"))
    many_entries(invoices, 60)
    with CaptureQueriesContext(connection) as large:
        client.get(reverse("review:trail"))

    assert len(large) == len(small)
    assert not any("count(" in q["sql"].lower() for q in large.captured_queries)


def test_the_trail_filters_by_actor_and_action(client, audrey, invoices, paula):
    many_entries(invoices, 3)
    configuration.change_autonomy(process=invoices, changes={"audit_sample_rate": "0.2"}, actor=paula)
    client.force_login(audrey)

    by_paula = client.get(reverse("review:trail"), {"actor": f"user:{paula.pk}"})
    by_job = client.get(reverse("review:trail"), {"actor": "system:bulk", "action": Action.AUTONOMY_CHANGED})

    assert [e.actor_label for e in by_paula.context["entries"]] == ["paula"]
    assert len(seqs(by_job)) == 3


def test_an_inverted_date_range_on_the_page_is_a_400_with_the_reason(client, audrey):
    client.force_login(audrey)

    response = client.get(reverse("review:trail"), {"date_from": "2025-02-01", "date_to": "2025-01-01"})

    assert response.status_code == 400
    assert b"inverted" in response.content


def test_a_document_timeline_shows_everything_that_happened_to_it_in_order(client, audrey, invoices):
    document = receive_text(invoices, CLEAN_INVOICE).document
    with transaction.atomic():
        trail.record(Action.TASK_RELEASED, actor=System("test"), document=document)
    client.force_login(audrey)

    response = client.get(reverse("review:timeline", args=[document.pk]))

    assert response.status_code == 200
    assert [e.action for e in response.context["entries"]] == [Action.DOCUMENT_RECEIVED, Action.TASK_RELEASED]


@pytest.mark.parametrize("persona", ["charlie", "alice", "paula"])
def test_users_who_audit_nothing_see_no_trail_and_no_timeline(client, request, invoices, persona):
    document = receive_text(invoices, CLEAN_INVOICE).document
    client.force_login(request.getfixturevalue(persona))

    page = client.get(reverse("review:trail"))

    assert page.status_code == 200 and "entries" not in page.context
    assert b"You audit no process" in page.content
    assert client.get(reverse("review:trail"), {"process": "invoice-extraction"}).status_code == 200
    assert client.get(reverse("review:timeline", args=[document.pk])).status_code == 404
    assert client.get(reverse("review:trail-verify")).status_code == 404


def test_an_unknown_process_on_the_trail_page_is_404(client, audrey):
    client.force_login(audrey)
    assert client.get(reverse("review:trail"), {"process": "nope"}).status_code == 404


def test_the_auditor_screens_accept_no_writes(client, audrey, invoices):
    client.force_login(audrey)
    document = receive_text(invoices, CLEAN_INVOICE).document
    before = TrailEntry.objects.count()

    for url in (
        reverse("review:trail"),
        reverse("review:timeline", args=[document.pk]),
        reverse("review:trail-export", args=["csv"]),
    ):
        assert client.post(url).status_code == 405
    # Asking for a verification queues a job; it writes nothing on the trail.
    assert client.post(reverse("review:trail-verify")).status_code == 302

    assert TrailEntry.objects.count() == before


def test_the_verification_page_reports_an_intact_trail(
    client, audrey, invoices, django_capture_on_commit_callbacks
):
    many_entries(invoices, 3)
    client.force_login(audrey)
    assert b"No verification has run yet" in client.get(reverse("review:trail-verify")).content

    with django_capture_on_commit_callbacks(execute=True) as queued:  # the worker's part, eagerly
        asked = client.post(reverse("review:trail-verify"), headers={"HX-Request": "true"})
    response = client.get(reverse("review:trail-verify"), headers={"HX-Request": "true"})  # the poll

    assert len(queued) == 1 and asked.status_code == 200
    assert response.status_code == 200
    assert b"The trail is intact" in response.content and b"<html" not in response.content
    verification = TrailVerification.objects.get()
    assert verification.state == TrailVerification.State.DONE and verification.intact
    assert verification.entries_checked == verification.head_seq == TrailEntry.objects.count()
    assert verification.requested_by == audrey and verification.head_hash in response.content.decode()


def test_the_verification_page_names_the_first_altered_entry(
    client, audrey, invoices, django_capture_on_commit_callbacks
):
    many_entries(invoices, 3)
    target = TrailEntry.objects.filter(process=invoices).order_by("-seq")[1]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE review_trailentry DISABLE TRIGGER review_trailentry_append_only")
        cursor.execute("UPDATE review_trailentry SET actor_label = 'forged' WHERE seq = %s", [target.seq])
        cursor.execute("ALTER TABLE review_trailentry ENABLE TRIGGER review_trailentry_append_only")
    client.force_login(audrey)

    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("review:trail-verify")).status_code == 302
    response = client.get(reverse("review:trail-verify"))

    assert response.status_code == 200
    assert response.context["latest"].finding["seq"] == target.seq
    assert response.context["latest"].finding["kind"] == "altered"
    assert f"First entry that does not match: #{target.seq}".encode() in response.content
    assert response.context["finding_entry"].pk == target.pk  # audrey audits invoices: named


def test_a_verification_under_way_is_followed_not_queued_twice(client, audrey, paula, invoices):
    many_entries(invoices, 2)
    client.force_login(audrey)
    client.post(reverse("review:trail-verify"))  # on-commit callbacks not run: it stays queued
    response = client.post(reverse("review:trail-verify"), headers={"HX-Request": "true"})

    assert TrailVerification.objects.count() == 1
    assert b'hx-trigger="every 2s"' in response.content and b"Queued" in response.content
    assert b"Verify now" not in response.content
    verification = TrailVerification.objects.get()

    assert trail_verification_runs.run_verification(verification.pk) == "done"
    assert trail_verification_runs.run_verification(verification.pk) == "skipped"  # redelivered: no rerun
    page = client.get(reverse("review:trail-verify"))
    assert b"The trail is intact" in page.content and b"every 2s" not in page.content

    client.force_login(paula)  # administers, audits nothing: no trail, no verification
    assert client.post(reverse("review:trail-verify")).status_code == 404
    assert TrailVerification.objects.count() == 1


@pytest.mark.parametrize("state", ["queued", "running"])
def test_a_stalled_verification_is_sent_to_a_worker_again_from_the_page(
    client, audrey, invoices, state, django_capture_on_commit_callbacks
):
    many_entries(invoices, 2)
    verification, _ = trail_verification_runs.request_verification(actor=audrey)
    long_ago = timezone.now() - trail_verification_runs.STALE_AFTER - timedelta(seconds=1)
    # Its message was lost (queued, never started) or its worker died (running, no heartbeat).
    TrailVerification.objects.filter(pk=verification.pk).update(
        state=state, requested_at=long_ago, heartbeat_at=long_ago if state == "running" else None
    )
    client.force_login(audrey)
    page = client.get(reverse("review:trail-verify"))
    assert b"No worker has reported on it" in page.content and b"Verify now" in page.content
    assert b"every 2s" not in page.content  # no endless polling of a job nobody runs

    with django_capture_on_commit_callbacks(execute=True) as sent:
        assert client.post(reverse("review:trail-verify")).status_code == 302

    assert len(sent) == 1 and TrailVerification.objects.count() == 1  # the same one, not a new one
    verification.refresh_from_db()
    assert verification.intact and verification.entries_checked == TrailEntry.objects.count()


def test_a_fresh_redelivery_of_a_running_verification_is_skipped(audrey, invoices):
    verification, _ = trail_verification_runs.request_verification(actor=audrey)
    TrailVerification.objects.filter(pk=verification.pk).update(
        state=TrailVerification.State.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    assert trail_verification_runs.run_verification(verification.pk) == "skipped"
    verification.refresh_from_db()
    assert verification.state == TrailVerification.State.RUNNING and verification.entries_checked == 0


def watched_walk(monkeypatch, verification, before_each=None):
    """The real walk, with the verification's row read at each heartbeat (`before_each` runs first)."""
    seen = []
    real_walk = trail_verification_runs.verify_trail

    def walk(*, chunk_size, on_progress):
        def observed(result):
            if before_each:
                before_each(result)
            on_progress(result)
            stored = TrailVerification.objects.values_list("entries_checked", flat=True)
            seen.append(stored.get(pk=verification.pk))

        return real_walk(chunk_size=chunk_size, on_progress=observed)

    monkeypatch.setattr(trail_verification_runs, "verify_trail", walk)
    return seen


def test_a_running_verification_reports_its_progress(audrey, invoices, monkeypatch):
    many_entries(invoices, 7)
    verification, _ = trail_verification_runs.request_verification(actor=audrey)
    seen = watched_walk(monkeypatch, verification)

    assert trail_verification_runs.run_verification(verification.pk, chunk_size=3) == "done"

    total = TrailEntry.objects.count()
    assert seen == list(range(0, total + 1, 3))  # stored at the start, then every three entries
    verification.refresh_from_db()
    assert verification.entries_checked == total and verification.progress_percent == 100


def test_a_walk_taken_over_by_another_worker_stops_writing(audrey, invoices, monkeypatch):
    many_entries(invoices, 7)
    verification, _ = trail_verification_runs.request_verification(actor=audrey)
    theirs = timezone.now() + timedelta(minutes=1)

    def taken_over_after_three(result):
        if result.entries_checked == 3:  # ours stalled; another worker claimed it meanwhile
            TrailVerification.objects.filter(pk=verification.pk).update(started_at=theirs, entries_checked=0)

    watched_walk(monkeypatch, verification, before_each=taken_over_after_three)

    assert trail_verification_runs.run_verification(verification.pk, chunk_size=3) == "skipped"
    verification.refresh_from_db()
    assert verification.state == TrailVerification.State.RUNNING and verification.started_at == theirs
    assert verification.entries_checked == 0 and verification.finished_at is None  # theirs, untouched
