"""Reviewers and specialists at work in Chromium: keyboard only, no full page loads between items."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from agents.models import Document
from review.models import Decision, Queue, ReviewTask
from tests.browser.conftest import log_in
from tests.reviewing import make_task, media  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("media")]


def start_queue(page: Page, live_server, slug: str) -> None:
    """From the queue page, focus the queue's button and press Enter: no mouse."""
    page.goto(live_server.url + reverse("review:queues"))
    page.focus(f'tr[data-queue="{slug}"] button')
    page.keyboard.press("Enter")
    page.wait_for_url("**/tasks/*/")


def two_items_on_screen(page: Page, live_server, invoices) -> tuple[ReviewTask, ReviewTask]:
    """Two items in alice's queue, the first on her screen by keyboard; the page is marked so a
    full page load shows (window.stillTheSamePage is gone after one)."""
    first = make_task(invoices, priority=2)
    second = make_task(invoices, priority=1)
    log_in(page, live_server, "alice")
    start_queue(page, live_server, "invoice-extraction-review")
    expect(page.locator(f'.task-head[data-task="{first.pk}"]')).to_be_visible()
    page.evaluate("window.stillTheSamePage = true")
    return first, second


def test_a_reviewer_approves_one_item_by_keyboard_and_corrects_the_next(live_server, page, alice, invoices):
    first, second = two_items_on_screen(page, live_server, invoices)
    page.keyboard.press("a")

    expect(page.locator(f'.task-head[data-task="{second.pk}"]')).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True  # swapped in by htmx, no page load
    assert page.url.endswith(reverse("review:task", args=[second.pk]))

    page.keyboard.press("f")  # the first field: the lowest confidence (date)
    assert page.evaluate("document.activeElement.dataset.field") == "date"
    for _ in range(5):
        if page.evaluate("document.activeElement.dataset.field") == "total":
            break
        page.keyboard.press("Control+ArrowDown")  # next field, also from inside one
    page.keyboard.press("Control+a")
    page.keyboard.type("200.10")
    page.keyboard.press("Control+Enter")

    expect(page.locator(".queue-empty")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True
    approved, corrected = Decision.objects.order_by("pk")
    assert (approved.task_id, approved.action, approved.reviewer.username) == (first.pk, "approve", "alice")
    assert (corrected.task_id, corrected.action) == (second.pk, "correct")
    assert corrected.changes == {"total": ["192.00", "200.10"]}
    assert Document.objects.get(pk=second.document_id).final_fields["total"] == "200.10"


def test_keys_pressed_before_the_next_item_settles_still_go_through_htmx(live_server, page, alice, invoices):
    first, second = two_items_on_screen(page, live_server, invoices)
    # htmx wires a swapped-in panel when it settles (20 ms): slow that down to hold the window a
    # fast typist can hit open, and type into it.
    page.evaluate("htmx.config.defaultSettleDelay = 3000")
    page.keyboard.press("a")
    expect(page.locator(f'.task-head[data-task="{second.pk}"]')).to_be_visible()

    page.keyboard.press("a")  # at once: the second panel is not wired by htmx yet

    expect(page.locator(".queue-empty")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True  # no plain form post, no page load
    assert list(Decision.objects.order_by("pk").values_list("task_id", flat=True)) == [first.pk, second.pk]


def test_a_wrong_value_is_shown_inline_and_the_help_lists_the_keys(live_server, page, alice, invoices):
    make_task(invoices)
    log_in(page, live_server, "alice")
    start_queue(page, live_server, "invoice-extraction-review")

    page.keyboard.press("?")
    expect(page.locator("#help-overlay")).to_be_visible()
    expect(page.locator("#help-overlay")).to_contain_text("Approve as is")
    page.keyboard.press("Escape")
    expect(page.locator("#help-overlay")).to_be_hidden()

    page.focus('[data-field="total"]')
    page.keyboard.press("Control+a")
    page.keyboard.type("a lot")
    page.keyboard.press("Control+Enter")

    expect(page.locator('tr.has-error[data-field-row="total"] .field-error')).to_contain_text(
        "must be a number"
    )
    assert page.evaluate("document.activeElement.dataset.field") == "total"
    assert not Decision.objects.exists()


def test_document_text_with_script_tags_is_shown_and_never_run(live_server, page, alice, invoices):
    hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> TOTAL 12.00'
    make_task(invoices, text=hostile)
    log_in(page, live_server, "alice")

    start_queue(page, live_server, "invoice-extraction-review")

    expect(page.locator("#doc-text")).to_contain_text("<script>window.pwned = 1</script>")
    assert page.evaluate("typeof window.pwned") == "undefined"
    assert page.locator("#doc-text script, #doc-text img").count() == 0


def test_a_specialist_resolves_an_escalation_with_the_reviewers_note(
    live_server, browser, page, alice, sam, invoices
):
    task = make_task(invoices)
    log_in(page, live_server, "alice")
    start_queue(page, live_server, "invoice-extraction-review")
    page.keyboard.press("e")
    page.keyboard.type("Two totals on the page; which is due?")
    page.keyboard.press("Control+Enter")
    expect(page.locator(".queue-empty")).to_be_visible()

    specialist = browser.new_context().new_page()
    log_in(specialist, live_server, "sam")
    start_queue(specialist, live_server, "invoice-extraction-escalation")
    expect(specialist.locator(".escalation-note")).to_contain_text("Escalated by alice")
    expect(specialist.locator(".escalation-note")).to_contain_text("Two totals on the page; which is due?")
    specialist.keyboard.press("a")
    expect(specialist.locator(".queue-empty")).to_be_visible()
    specialist.context.close()

    follow_up = ReviewTask.objects.get(escalated_from=task)
    assert follow_up.queue.kind == Queue.Kind.ESCALATION
    assert follow_up.decision.reviewer.username == "sam" and follow_up.decision.action == "approve"
    assert Document.objects.get(pk=task.document_id).state == Document.State.ACCEPTED


def test_a_reviewer_of_one_queue_cannot_reach_another_queues_items(live_server, page, alice, bob, invoices):
    invoice_task = make_task(invoices)
    log_in(page, live_server, "bob")

    page.goto(live_server.url + reverse("review:queues"))
    expect(page.locator('tr[data-queue="receipt-extraction-review"]')).to_be_visible()
    expect(page.locator('tr[data-queue="invoice-extraction-review"]')).to_have_count(0)
    response = page.goto(live_server.url + reverse("review:task", args=[invoice_task.pk]))
    assert response.status == 404
    response = page.goto(live_server.url + reverse("review:document", args=[invoice_task.document_id]))
    assert response.status == 404
    assert ReviewTask.objects.get(pk=invoice_task.pk).state == ReviewTask.State.OPEN
