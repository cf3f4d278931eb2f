"""Browser tests: Playwright (sync API) driving Debian's chromium at /usr/bin/chromium against
pytest-django's `live_server`. Never a browser download; CI installs the `chromium` package.

Run with `make test-browser`; `make test` leaves them out (`-m "not browser"`)."""

import os
from pathlib import Path

import pytest
from django.core.management import call_command

# Playwright's sync API keeps an asyncio event loop in this thread, so Django would refuse ORM
# calls made from the test (and the fixtures) with SynchronousOnlyOperation.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def browser():
    """One headless chromium for the whole session."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(`apt-get install chromium`). Never `playwright install`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser):
    """A fresh page in a fresh context (no cookies shared between tests)."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def demo_data(transactional_db):
    """The `seed_demo` world (agencies, sub-accounts, one login per role) in the test database."""
    call_command("seed_demo")
