"""An admin applies the simulator's recommended threshold and sees it audited; a reviewer cannot get in."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from review.models import TrailEntry
from review.trail import Action
from tests.autonomy_data import shadow_data
from tests.browser.conftest import log_in
from tests.reviewing import media  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("media")]
SCREENSHOTS = os.environ.get("SCREENSHOT_DIR", "")


def test_an_admin_applies_the_recommended_threshold_and_sees_it_audited(
    page: Page, live_server, paula, invoices
):
    shadow_data(invoices, User.objects.create_user("rita"))
    log_in(page, live_server, "paula")
    page.get_by_role("link", name="Autonomy").click()
    page.get_by_role("link", name=invoices.name).click()
    expect(page.locator("svg.risk-chart .marker.recommended")).to_be_visible()
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/admin-simulator.png", full_page=True)
    page.get_by_role("button", name="Apply recommended threshold 0.61").click()
    expect(page.locator(".messages")).to_contain_text("Threshold set to the recommended 0.61")
    row = page.locator("table.config-trail tbody tr").first
    expect(row).to_contain_text("paula")
    expect(row).to_contain_text("confidence_threshold")
    expect(row).to_contain_text("0.61")
    expect(page.locator("#id_confidence_threshold")).to_have_value("0.610")
    if SCREENSHOTS:
        page.screenshot(path=f"{SCREENSHOTS}/admin-simulator-applied.png", full_page=True)
    entry = TrailEntry.objects.get(process=invoices, action=Action.AUTONOMY_CHANGED)
    assert entry.actor_label == "paula" and entry.data["changes"]["confidence_threshold"][1] == "0.61"


def test_a_reviewer_cannot_open_the_admin_pages(page: Page, live_server, alice, paula, invoices):
    log_in(page, live_server, "alice")
    expect(page.get_by_role("link", name="Queues")).to_be_visible()
    expect(page.get_by_role("link", name="Autonomy")).to_have_count(0)
    for path in (f"/autonomy/{invoices.slug}/", f"/autonomy/{invoices.slug}/evaluation/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 404, path
    page.goto(f"{live_server.url}/autonomy/")
    expect(page.get_by_text("You administer no process")).to_be_visible()
