"""The reviewer's screens: queue home page, claiming through HTTP, the review panel, htmx decisions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from agents.models import Document
from review import claims, decisions
from review.models import Decision, Queue, ReviewTask
from tests.reviewing import INVOICE_OUTPUT, make_task, media  # noqa: F401

pytestmark = pytest.mark.usefixtures("media")
HTMX = {"HTTP_HX_REQUEST": "true"}


def claimed(task: ReviewTask, user) -> ReviewTask:
    got = claims.claim_next_task(queue=task.queue, reviewer=user)
    assert got.pk == task.pk
    return got


def fields_of(task: ReviewTask, **changes) -> dict[str, str]:
    data = {f"field-{name}": value for name, value in INVOICE_OUTPUT.items()}
    data.update({f"field-{name}": value for name, value in changes.items()})
    return data | {"lease": str(task.lease_token)}


def test_queue_page_lists_only_the_queues_the_user_holds_with_their_figures(
    client, alice, bob, invoices, receipts
):
    done = claimed(make_task(invoices, priority=5), alice)
    make_task(invoices, due_in=timedelta(hours=-2))
    make_task(invoices)
    make_task(receipts)
    decisions.approve_task(task=done, reviewer=alice, lease_token=done.lease_token)
    ReviewTask.objects.filter(queue__process=invoices).update(created_at=timezone.now() - timedelta(hours=3))
    client.force_login(alice)

    response = client.get(reverse("review:queues"))

    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-queue="invoice-extraction-review"' in body
    assert "receipt-extraction" not in body and "invoice-extraction-escalation" not in body
    row = response.context["rows"][0]
    assert (row.open_count, row.overdue_count, row.mine_today) == (2, 1, 1)
    assert timezone.now() - row.oldest_created_at > timedelta(hours=2)
    assert "3\xa0hours" in body


def test_queue_page_caps_its_counts_so_a_huge_queue_costs_no_more(client, alice, invoices, monkeypatch):
    from review import selectors

    monkeypatch.setattr(selectors, "COUNT_CAP", 3)
    for _ in range(5):
        make_task(invoices, due_in=timedelta(hours=-1))
    client.force_login(alice)

    response = client.get(reverse("review:queues"))

    row = response.context["rows"][0]
    assert (row.open_count, row.overdue_count) == (3, 3) and row.open_capped and row.overdue_capped
    assert ">3+" in response.content.decode().replace(" ", "")


def test_queue_page_runs_a_fixed_number_of_queries(
    client, django_assert_max_num_queries, alice, sam, invoices
):
    from review import permissions

    for queue in Queue.objects.all():
        permissions.grant_queue(queue, alice)
    for _ in range(3):
        make_task(invoices)
    client.force_login(alice)
    with django_assert_max_num_queries(9):
        response = client.get(reverse("review:queues"))
    assert len(response.context["rows"]) == Queue.objects.count()


def test_a_user_without_queues_is_told_so(client, charlie):
    client.force_login(charlie)
    response = client.get(reverse("review:queues"))
    assert response.status_code == 200
    assert "You do not hold any queue yet" in response.content.decode()


def test_next_item_claims_and_opens_the_review_screen(client, alice, invoices):
    task = make_task(invoices)
    client.force_login(alice)

    response = client.post(reverse("review:queue-next", args=["invoice-extraction-review"]))

    assert response.status_code == 302 and response.url == reverse("review:task", args=[task.pk])
    task.refresh_from_db()
    assert task.state == ReviewTask.State.CLAIMED and task.claimed_by == alice
    page = client.get(response.url)
    assert page.status_code == 200
    assert f'name="lease" value="{task.lease_token}"' in page.content.decode()


def test_next_item_resumes_the_item_the_reviewer_already_holds(client, alice, invoices):
    held = claimed(make_task(invoices), alice)
    make_task(invoices)
    client.force_login(alice)

    response = client.post(reverse("review:queue-next", args=["invoice-extraction-review"]))

    assert response.url == reverse("review:task", args=[held.pk])
    assert ReviewTask.objects.filter(state=ReviewTask.State.CLAIMED).count() == 1


def test_next_item_on_an_empty_queue_goes_back_to_the_queues(client, alice, invoices):
    client.force_login(alice)
    response = client.post(reverse("review:queue-next", args=["invoice-extraction-review"]), follow=True)
    assert "nothing left to review" in response.content.decode()


def test_review_screen_shows_low_confidence_fields_first_with_reason_and_reasoning(client, alice, invoices):
    task = claimed(make_task(invoices), alice)
    client.force_login(alice)

    response = client.get(reverse("review:task", args=[task.pk]))

    body = response.content.decode()
    rows = [row.spec.name for row, _ in response.context["rows"]]
    assert rows[0] == "date"  # confidence 0.55, under the threshold
    assert "confidence below the threshold 0.85" in body
    assert 'class="conf conf-low">0.55<' in body
    assert "Low confidence" in body and "Found the total on the TOTAL DUE line." in body
    assert 'type="date"' in body and 'inputmode="decimal"' in body


def test_document_text_with_html_is_shown_as_text(client, alice, invoices):
    task = claimed(make_task(invoices, text="<script>alert('x')</script><b>Total</b> 12.00"), alice)
    client.force_login(alice)

    body = client.get(reverse("review:task", args=[task.pk])).content.decode()

    assert "<script>alert" not in body and "<b>Total</b>" not in body
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&lt;b&gt;Total&lt;/b&gt;" in body


def test_a_pdf_is_shown_beside_the_fields(client, alice, invoices):
    task = claimed(make_task(invoices, content_type="application/pdf", data=b"%PDF-1.4 test"), alice)
    client.force_login(alice)

    body = client.get(reverse("review:task", args=[task.pk])).content.decode()

    assert f'<iframe class="pdf" src="{reverse("review:document-file", args=[task.document_id])}"' in body


def test_htmx_approve_answers_with_the_next_item_panel(client, alice, invoices):
    first = claimed(make_task(invoices, priority=2), alice)
    second = make_task(invoices, priority=1)
    client.force_login(alice)

    response = client.post(
        reverse("review:task-approve", args=[first.pk]), {"lease": first.lease_token}, **HTMX
    )

    assert response.status_code == 200
    assert response["HX-Push-Url"] == reverse("review:task", args=[second.pk])
    body = response.content.decode()
    assert f'data-task="{second.pk}"' in body and "<html" not in body
    assert Decision.objects.get().task_id == first.pk
    assert ReviewTask.objects.get(pk=second.pk).claimed_by == alice


def test_the_prefetched_item_is_shown_next_without_a_new_claim(client, alice, invoices):
    first = claimed(make_task(invoices, priority=2), alice)
    second = make_task(invoices, priority=1)
    third = make_task(invoices, priority=0)
    client.force_login(alice)

    assert (
        client.post(reverse("review:queue-prefetch", args=["invoice-extraction-review"])).status_code == 204
    )
    assert (
        client.post(reverse("review:queue-prefetch", args=["invoice-extraction-review"])).status_code == 204
    )
    prefetched = ReviewTask.objects.get(pk=second.pk)
    assert prefetched.claimed_by == alice and prefetched.started_at is None
    assert ReviewTask.objects.get(pk=third.pk).state == ReviewTask.State.OPEN  # at most two held

    response = client.post(
        reverse("review:task-approve", args=[first.pk]), {"lease": first.lease_token}, **HTMX
    )

    assert f'data-task="{second.pk}"' in response.content.decode()
    assert ReviewTask.objects.get(pk=second.pk).started_at is not None
    assert ReviewTask.objects.get(pk=third.pk).state == ReviewTask.State.OPEN


def test_the_last_item_answers_with_an_empty_queue(client, alice, invoices):
    task = claimed(make_task(invoices), alice)
    client.force_login(alice)

    response = client.post(
        reverse("review:task-approve", args=[task.pk]), {"lease": task.lease_token}, **HTMX
    )

    assert response.status_code == 200 and "Nothing left in" in response.content.decode()


def test_htmx_correction_records_the_new_values(client, alice, invoices):
    task = claimed(make_task(invoices), alice)
    client.force_login(alice)

    response = client.post(
        reverse("review:task-correct", args=[task.pk]), fields_of(task, total="200.10"), **HTMX
    )

    assert response.status_code == 200
    decision = Decision.objects.get()
    assert decision.action == "correct" and decision.changes == {"total": ["192.00", "200.10"]}


def test_a_correction_of_the_wrong_type_shows_the_error_inline_and_saves_nothing(client, alice, invoices):
    task = claimed(make_task(invoices), alice)
    client.force_login(alice)

    response = client.post(
        reverse("review:task-correct", args=[task.pk]),
        fields_of(task, total="lots", date="yesterday"),
        **HTMX,
    )

    assert response.status_code == 422
    body = response.content.decode()
    assert "must be a number such as 1234.50" in body and "must be a date (YYYY-MM-DD)" in body
    assert 'value="lots"' in body  # what the reviewer typed stays in the field
    assert not Decision.objects.exists()
    assert ReviewTask.objects.get(pk=task.pk).state == ReviewTask.State.CLAIMED


def test_a_correction_with_a_field_outside_the_schema_is_refused(client, alice, invoices):
    task = claimed(make_task(invoices), alice)
    client.force_login(alice)

    response = client.post(
        reverse("review:task-correct", args=[task.pk]), fields_of(task) | {"field-iban": "X"}, **HTMX
    )

    assert response.status_code == 422
    assert "iban is not a field of this process" in response.content.decode()
    assert not Decision.objects.exists()


def test_approving_invalid_agent_output_asks_for_a_correction(client, alice, invoices):
    task = claimed(make_task(invoices, output=INVOICE_OUTPUT | {"currency": "pounds"}), alice)
    client.force_login(alice)

    response = client.post(
        reverse("review:task-approve", args=[task.pk]), {"lease": task.lease_token}, **HTMX
    )

    assert response.status_code == 422
    assert "must be a three-letter currency code" in response.content.decode()
    assert not Decision.objects.exists()


def test_reject_needs_a_reason(client, alice, invoices):
    task = claimed(make_task(invoices), alice)
    client.force_login(alice)

    response = client.post(reverse("review:task-reject", args=[task.pk]), {"lease": task.lease_token}, **HTMX)
    assert response.status_code == 422 and "Say why the item is rejected." in response.content.decode()
    assert not Decision.objects.exists()

    response = client.post(
        reverse("review:task-reject", args=[task.pk]),
        {"lease": task.lease_token, "reason": "duplicate"},
        **HTMX,
    )
    assert response.status_code == 200
    assert Document.objects.get(pk=task.document_id).state == Document.State.REJECTED


def test_the_specialist_sees_the_escalation_note(client, alice, sam, invoices):
    task = claimed(make_task(invoices), alice)
    client.force_login(alice)
    response = client.post(
        reverse("review:task-escalate", args=[task.pk]),
        {"lease": task.lease_token, "note": "Is <this> the VAT number?"},
        **HTMX,
    )
    assert response.status_code == 200

    client.force_login(sam)
    response = client.post(reverse("review:queue-next", args=["invoice-extraction-escalation"]), follow=True)

    body = response.content.decode()
    assert "Escalated by alice" in body and "Is &lt;this&gt; the VAT number?" in body
    assert 'id="escalate-box"' not in body  # specialists resolve; there is nowhere further to escalate


def test_a_replayed_post_answers_409_and_records_one_decision(client, alice, invoices):
    task = claimed(make_task(invoices), alice)
    make_task(invoices)
    client.force_login(alice)
    url = reverse("review:task-approve", args=[task.pk])

    assert client.post(url, {"lease": task.lease_token}, **HTMX).status_code == 200
    replay = client.post(url, {"lease": task.lease_token}, **HTMX)

    assert replay.status_code == 409
    assert "This item has already been decided" in replay.content.decode()
    assert Decision.objects.count() == 1


def test_a_post_without_the_csrf_token_is_refused(alice, invoices):
    task = claimed(make_task(invoices), alice)
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post(reverse("review:task-approve", args=[task.pk]), {"lease": task.lease_token})

    assert response.status_code == 403
    assert not Decision.objects.exists()


def test_heartbeat_keeps_the_claim_and_reports_a_lost_one(client, alice, invoices):
    task = claimed(make_task(invoices), alice)
    client.force_login(alice)
    url = reverse("review:task-heartbeat", args=[task.pk])

    assert client.post(url, {"lease": task.lease_token}, **HTMX).status_code == 204
    ReviewTask.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    lost = client.post(url, {"lease": task.lease_token}, **HTMX)

    assert lost.status_code == 409 and "Your claim on this item was lost" in lost.content.decode()


def test_put_back_returns_the_item_to_the_queue(client, alice, invoices):
    task = claimed(make_task(invoices), alice)
    client.force_login(alice)

    response = client.post(reverse("review:task-release", args=[task.pk]), {"lease": task.lease_token})

    assert response.status_code == 302
    assert ReviewTask.objects.get(pk=task.pk).state == ReviewTask.State.OPEN


def test_a_task_claimed_by_someone_else_is_read_only(client, alice, invoices):
    from review import permissions
    from tests.conftest import make_user

    task = claimed(make_task(invoices), alice)
    carol = make_user("carol", "reviewer")
    permissions.grant_queue(task.queue, carol)
    client.force_login(carol)

    body = client.get(reverse("review:task", args=[task.pk])).content.decode()

    assert "Another reviewer is working on this item." in body
    assert 'id="btn-approve"' not in body and str(task.lease_token) not in body
