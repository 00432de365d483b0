"""An auditor verifies the decision trail from the browser: the walk is queued, followed, and shown."""

from __future__ import annotations

import pytest
from django.db import transaction
from playwright.sync_api import Page, expect

from review import trail
from review.models import TrailEntry, TrailVerification
from review.trail import Action, System
from tests.browser.conftest import log_in

pytestmark = pytest.mark.browser


def test_an_auditor_verifies_the_trail_and_sees_it_intact(page: Page, live_server, audrey, invoices):
    with transaction.atomic():
        for i in range(12):
            trail.record(Action.AUTONOMY_CHANGED, actor=System("bulk"), process=invoices, data={"i": i})
    log_in(page, live_server, "audrey")
    page.goto(f"{live_server.url}/trail/")
    page.get_by_role("link", name="Verify integrity").click()
    expect(page.get_by_text("No verification has run yet")).to_be_visible()

    page.get_by_role("button", name="Verify now").click()  # htmx POST; tasks run eagerly here

    expect(page.locator(".verify-ok")).to_contain_text("The trail is intact")
    total = TrailEntry.objects.count()  # the bulk entries and the grants the fixtures recorded
    expect(page.locator(".verify-ok")).to_contain_text(f"{total} entries checked up to #{total}")
    verification = TrailVerification.objects.get()
    assert verification.intact and verification.requested_by == audrey
