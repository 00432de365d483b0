"""The first screen after login and the document pages: scoped, bounded, and behind a login."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agents import services
from review import triage
from tests.helpers import CLEAN_INVOICE, receive_text

pytestmark = pytest.mark.django_db


def triaged(process, text, name):
    document = receive_text(process, text, name).document
    triage.triage_document(document.pk)
    return document


@pytest.mark.parametrize("name", ["review:home", "review:documents", "review:upload"])
def test_pages_require_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_health_check_is_deliberately_public(client, db):
    assert client.get("/healthz").content == b"ok"


def test_overview_counts_accepted_and_waiting_by_reason(client, paula, invoices):
    services.set_autonomy(
        process=invoices,
        changes={"autonomy_mode": "autonomous", "confidence_threshold": "0.5", "audit_sample_rate": "0"},
    )
    triaged(invoices, CLEAN_INVOICE, "good.txt")
    triaged(invoices, "not an invoice\n", "bad.txt")
    client.force_login(paula)

    response = client.get(reverse("review:home"))

    summary = next(s for s in response.context["summaries"] if s.process == invoices)
    assert summary.auto_accepted == 1 and summary.waiting == 1
    assert summary.waiting_by_reason == {"validation_failed": 1}
    html = response.content.decode()
    assert "Accepted automatically" in html and "Validation failed" in html and "good.txt" in html


def test_overview_shows_only_the_processes_a_user_works_on(client, bob, invoices, receipts):
    triaged(invoices, CLEAN_INVOICE, "secret-invoice.txt")
    client.force_login(bob)  # bob reviews receipts only
    response = client.get(reverse("review:home"))
    assert [s.process for s in response.context["summaries"]] == [receipts]
    assert "secret-invoice.txt" not in response.content.decode()


def test_user_with_no_grants_sees_an_explanation(client, charlie):
    client.force_login(charlie)
    assert "not been given any process" in client.get(reverse("review:home")).content.decode()


def test_document_of_another_process_answers_404(client, bob, invoices):
    document = triaged(invoices, CLEAN_INVOICE, "inv.txt")
    client.force_login(bob)
    assert client.get(reverse("review:document", args=[document.pk])).status_code == 404
    assert client.get(reverse("review:document-file", args=[document.pk])).status_code == 404
    assert client.get(reverse("review:documents"), {"process": "invoice-extraction"}).status_code == 404


def test_document_page_shows_text_as_text_output_and_confidence(client, paula, invoices):
    document = triaged(invoices, CLEAN_INVOICE.replace("ACME", "<script>alert(1)</script>ACME"), "x.txt")
    client.force_login(paula)
    html = client.get(reverse("review:document", args=[document.pk])).content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert "INV-2024-0042" in html and "Policy in force" in html


def test_document_list_pages_with_a_keyset_cursor_and_a_fixed_number_of_queries(client, paula, invoices):
    for i in range(55):
        triaged(invoices, CLEAN_INVOICE.replace("0042", f"{i:04d}"), f"inv-{i}.txt")
    client.force_login(paula)
    client.get(reverse("review:documents"))  # warm the session and permission caches

    with CaptureQueriesContext(connection) as queries:
        first = client.get(reverse("review:documents"))
    assert len(first.context["documents"]) == 50
    assert len(queries) <= 12  # fixed, whatever the page size: no query per row

    cursor = first.context["next_cursor"]
    second = client.get(reverse("review:documents"), {"before": cursor}, HTTP_HX_REQUEST="true")
    fragment = second.content.decode()
    assert "<html" not in fragment  # the htmx fragment only
    assert fragment.count("<tr data-state=") == 5
    first_names = {d.original_name for d in first.context["documents"]}
    second_names = {f"inv-{i}.txt" for i in range(55) if f">inv-{i}.txt<" in fragment}
    assert len(second_names) == 5 and not first_names & second_names


def test_a_malformed_cursor_is_ignored_not_a_server_error(client, paula, invoices):
    client.force_login(paula)
    for before in ("²", "٣", "9" * 40, "-1", "abc"):
        assert client.get(reverse("review:documents"), {"before": before}).status_code == 200


def test_a_reviewer_sees_the_documents_of_their_queue_not_the_whole_process(client, alice, paula, invoices):
    services.set_autonomy(
        process=invoices,
        changes={"autonomy_mode": "autonomous", "confidence_threshold": "0.5", "audit_sample_rate": "0"},
    )
    accepted = triaged(invoices, CLEAN_INVOICE, "never-reviewed.txt")  # auto-accepted: no task
    waiting = triaged(invoices, "not an invoice\n", "in-alices-queue.txt")
    client.force_login(alice)

    assert client.get(reverse("review:document", args=[accepted.pk])).status_code == 404
    assert client.get(reverse("review:document", args=[waiting.pk])).status_code == 200
    listing = client.get(reverse("review:documents")).content.decode()
    assert "in-alices-queue.txt" in listing and "never-reviewed.txt" not in listing

    client.force_login(paula)  # administers the process: sees it all
    assert client.get(reverse("review:document", args=[accepted.pk])).status_code == 200
