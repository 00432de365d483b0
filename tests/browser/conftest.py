"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group
from playwright.sync_api import Browser, Page, sync_playwright

from review.permissions import Role
from tests.conftest import PASSWORD

# Playwright's sync API runs an event loop in this thread; the ORM calls made by the tests
# themselves are synchronous and safe.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# One Chromium for the browser tests, stopped when they end: while Playwright's driver ran on to
# the end of the session, a database connection opened by a later test was left open, unseen by
# Django's close_all(), and dropping the test database warned that it was in use.
@pytest.fixture(scope="package")
def browser() -> Browser:
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: run `make chromium` (scripts/ensure-chromium)."
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Page:
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(autouse=True)
def role_groups(transactional_db):
    """Live-server tests flush the database, data migrations included: put the role groups back."""
    for name in Role.ALL:
        Group.objects.get_or_create(name=name)


def log_in(page: Page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/")
