"""The auditor's screens: the filtered trail, a document's timeline and verification, read-only and scoped."""

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from review import configuration, trail
from review.models import TrailEntry
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
        reverse("review:trail-verify"),
        reverse("review:trail-export", args=["csv"]),
    ):
        assert client.post(url).status_code == 405

    assert TrailEntry.objects.count() == before


def test_the_verification_page_reports_an_intact_trail(client, audrey):
    client.force_login(audrey)

    response = client.get(reverse("review:trail-verify"), {"run": "1"}, headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert b"The trail is intact" in response.content and b"<html" not in response.content


def test_the_verification_page_names_the_first_altered_entry(client, audrey, invoices):
    many_entries(invoices, 3)
    target = TrailEntry.objects.filter(process=invoices).order_by("-seq")[1]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE review_trailentry DISABLE TRIGGER review_trailentry_append_only")
        cursor.execute("UPDATE review_trailentry SET actor_label = 'forged' WHERE seq = %s", [target.seq])
        cursor.execute("ALTER TABLE review_trailentry ENABLE TRIGGER review_trailentry_append_only")
    client.force_login(audrey)

    response = client.get(reverse("review:trail-verify"), {"run": "1"})

    assert response.status_code == 200
    assert response.context["result"].finding.seq == target.seq
    assert f"First entry that does not match: #{target.seq}".encode() in response.content


def test_the_trail_pages_require_login(client, db):
    response = client.get(reverse("review:trail"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_non_ascii_digits_in_filters_get_a_clear_400(client, audrey, invoices):
    client.force_login(audrey)
    for params in ({"document": "²"}, {"before": "٣"}):
        response = client.get(reverse("review:trail"), params)
        assert response.status_code == 400, params
    assert client.get(reverse("review:trail-export", args=["csv"]), {"to_seq": "²"}).status_code == 400
