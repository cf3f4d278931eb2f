"""Browser tests: Playwright (sync API) driving Debian's chromium at /usr/bin/chromium against
pytest-django's `live_server`. Never a browser download; CI installs the `chromium` package.

Run with `make test-browser`; `make test` leaves them out (`-m "not browser"`)."""

import os
from pathlib import Path

import pytest
from django.core.management import call_command

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


@pytest.fixture(scope="package")
def browser():
    """One headless chromium for all of tests/browser.

    While Playwright's sync API is running, this thread has a running asyncio loop, so Django
    refuses ORM calls from the tests and fixtures (SynchronousOnlyOperation) unless
    DJANGO_ALLOW_ASYNC_UNSAFE is set. It is set only for Playwright's lifetime, not at import:
    pytest imports this conftest even for `-m "not browser"`, and the variable would leak into
    the other tests (and their subprocesses: `check --deploy` fails with async.E001). Package
    scope ends it when pytest leaves tests/browser, so a plain `pytest` run is unaffected too.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(`apt-get install chromium`). Never `playwright install`.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    saved = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        playwright = sync_playwright().start()
        try:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
        finally:
            playwright.stop()
    finally:
        if saved is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = saved


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
