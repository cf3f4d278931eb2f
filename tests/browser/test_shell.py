"""The sidebar and the account switcher in a real browser (issue 15): at 1366 px every nav item
is one line and no page is wider than the window; at 390 px the sidebar folds into a Menu button
that opens it (with and without JavaScript); the switcher finds a sub-account by search."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import SubAccount
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser

# Each nav item's label box is one line high: its height is at most its line height (+ rounding).
ONE_LINE = """() => [...document.querySelectorAll('.sidebar .nav-item, .sidebar .nav-heading')]
  .filter(el => el.offsetParent !== null)
  .map(el => {
    const label = el.querySelector('.nav-label, span');
    const lh = parseFloat(getComputedStyle(label).lineHeight);
    return {text: el.innerText.trim(), heading: el.classList.contains('nav-heading'),
            height: label.getBoundingClientRect().height, lineHeight: lh,
            itemHeight: el.getBoundingClientRect().height};
  })"""
OVERFLOW = "() => ({scroll: document.documentElement.scrollWidth, viewport: window.innerWidth})"


def sunrise():
    return SubAccount.objects.get(name="Sunrise Dental")


def section_paths(sub):
    names = ["subaccount_dashboard", "conversation_list", "contact_list", "bulk_index", "automations_index",
             "business_info", "phone_numbers", "api_key_list", "webhook_list"]  # fmt: skip
    return [reverse(name, args=[sub.pk]) for name in names]


def assert_one_line_items(page, expected_at_least):
    items = page.evaluate(ONE_LINE)
    assert len(items) >= expected_at_least, items
    for item in items:
        assert item["height"] <= item["lineHeight"] + 1, item  # no wrapped label
    heights = {round(i["itemHeight"]) for i in items if not i["heading"]}
    assert max(heights) - min(heights) <= 2, items  # every nav item the same (one-line) height


def assert_no_horizontal_overflow(page, path):
    sizes = page.evaluate(OVERFLOW)
    assert sizes["scroll"] <= sizes["viewport"], (path, sizes)


def test_sidebar_at_1366_px_one_line_items_and_no_overflow(browser, live_server, demo_data):
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    try:
        sub = sunrise()
        log_in(page, live_server.url, "owner@sunrise.test")
        labels = ["Dashboard", "Conversations", "Contacts", "Bulk SMS", "Automations", "Business Info",
                  "Phone numbers", "API keys", "Webhooks"]  # fmt: skip
        nav = page.get_by_test_id("subaccount-nav")
        for path, label in zip(section_paths(sub), labels, strict=True):
            page.goto(live_server.url + path)
            expect(nav).to_be_visible()
            # The page's own section is the one marked, and only it.
            expect(nav.locator("[aria-current=page]")).to_have_count(1)
            expect(nav.locator("[aria-current=page]")).to_have_text(label)
            assert_one_line_items(page, expected_at_least=9)
            assert_no_horizontal_overflow(page, path)
        expect(page.get_by_role("link", name="Menu")).to_be_hidden()  # only on narrow screens
        box = page.locator(".sidebar").bounding_box()
        assert box["x"] == 0 and box["width"] == 240 and box["height"] >= 800 - 1
    finally:
        context.close()


def test_sidebar_at_390_px_folds_into_a_menu_that_opens(browser, live_server, demo_data):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        sub = sunrise()
        log_in(page, live_server.url, "owner@sunrise.test")
        nav = page.get_by_test_id("subaccount-nav")
        menu = page.get_by_role("button", name="Menu")
        for path in section_paths(sub):
            page.goto(live_server.url + path)
            expect(nav).to_be_hidden()  # folded: the page starts with its content
            assert_no_horizontal_overflow(page, path)
        expect(menu).to_have_attribute("aria-expanded", "false")
        menu.click()
        expect(nav).to_be_visible()
        expect(menu).to_have_attribute("aria-expanded", "true")
        assert_one_line_items(page, expected_at_least=9)
        assert_no_horizontal_overflow(page, "menu open")
        page.get_by_role("link", name="Contacts").click()
        expect(page).to_have_url(re.compile(re.escape(reverse("contact_list", args=[sub.pk])) + r"$"))
        expect(nav).to_be_hidden()  # a new page starts folded again
        menu.click()
        expect(nav).to_be_visible()
        page.keyboard.press("Escape")
        expect(nav).to_be_hidden()
    finally:
        context.close()


def test_the_menu_opens_without_javascript(browser, live_server, demo_data):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "owner@sunrise.test")
        nav = page.get_by_test_id("subaccount-nav")
        expect(nav).to_be_hidden()
        page.get_by_role("button", name="Menu").click()  # a link to #sidebar-panel: CSS :target
        expect(nav).to_be_visible()
        expect(nav.get_by_role("link", name="Bulk SMS")).to_be_visible()
    finally:
        context.close()


def test_switcher_finds_a_subaccount_by_search(page, live_server, demo_data):
    log_in(page, live_server.url, "admin@acme.test")
    switcher = page.get_by_test_id("switcher")
    switcher.locator("summary").click()
    results = page.get_by_test_id("sidebar-switch-results")
    expect(results.get_by_role("link")).to_have_count(2)  # Acme's two, not Globex's
    with page.expect_response(re.compile(r"/switch/\?q=harb")) as searched:
        page.get_by_role("searchbox", name="Find a sub-account").fill("harb")
    assert searched.value.request.headers.get("hx-request") == "true"  # htmx, in place
    expect(results.get_by_role("link")).to_have_count(1)
    results.get_by_role("link", name=re.compile("Harbor Fitness")).click()
    harbor = SubAccount.objects.get(name="Harbor Fitness")
    expect(page).to_have_url(re.compile(re.escape(f"/s/{harbor.pk}/") + r"$"))
    expect(page.get_by_test_id("current-subaccount")).to_have_text("Harbor Fitness")
    expect(page.get_by_test_id("subaccount-nav").locator("[aria-current=page]")).to_have_text("Dashboard")

    # Another tenant's sub-account is not found.
    page.get_by_test_id("switcher").locator("summary").click()
    page.get_by_role("searchbox", name="Find a sub-account").fill("Pine")
    expect(results).to_contain_text("No sub-account matches “Pine”.")


def test_switcher_search_works_without_javascript(browser, live_server, demo_data):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "admin@acme.test")
        page.get_by_test_id("switcher").locator("summary").click()
        page.get_by_role("searchbox", name="Find a sub-account").fill("sunrise")
        page.get_by_role("button", name="Search").first.click()
        expect(page).to_have_url(re.compile(r"/switch/\?q=sunrise$"))
        page.get_by_test_id("switch-results").get_by_role("link", name=re.compile("Sunrise Dental")).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Sunrise Dental")
    finally:
        context.close()


def test_support_sees_their_queues_in_the_sidebar(page, live_server, demo_data):
    log_in(page, live_server.url, "support@demo.test")
    queues = page.get_by_test_id("support-nav")
    for name in ["All agencies", "Suspension appeals", "Limit extensions", "Snowshoeing holds", "Rate risk"]:
        expect(queues.get_by_role("link", name=re.compile(name))).to_be_visible()
    queues.get_by_role("link", name=re.compile("Suspension appeals")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Suspension appeals")
    expect(queues.locator("[aria-current=page]")).to_contain_text("Suspension appeals")
