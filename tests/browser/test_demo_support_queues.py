"""On the demo data (`seed_demo`), every support queue has something in it, and each item leads
to the sub-account in that state: the limit extension request at level 8 (R7), the held snowshoe
send with its justification (R11), the appeal of a permanent suspension (R9), and the rate-risk
list led by the temporarily suspended sub-account (R8), whose end reads in its zone and in UTC."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def support(page, live_server, demo_data):
    log_in(page, live_server.url, "support@demo.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Support")
    return page


def test_each_support_queue_is_non_empty_on_the_demo_data(support, live_server):
    page = support
    page.get_by_role("link", name="limit extension requests", exact=True).click()
    requests = page.get_by_test_id("limit-request")
    expect(requests).to_have_count(1)
    expect(requests).to_contain_text("Northwind Digital · Lakeside Realty asks for 8000/day")

    page.goto(f"{live_server.url}/support/")
    page.get_by_role("link", name="snowshoeing justifications", exact=True).click()
    holds = page.get_by_test_id("snowshoe-hold")
    expect(holds).to_have_count(1)
    expect(holds).to_contain_text("Birch Salon: 20 messages held")
    expect(holds).to_contain_text("Four salons, one number each")

    page.goto(f"{live_server.url}/support/")
    page.get_by_role("link", name="suspension appeals", exact=True).click()
    waiting = page.get_by_test_id("waiting").get_by_role("row").filter(has_text="Cedar Law")
    expect(waiting).to_have_count(1)
    waiting.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Appeal of Cedar Law (Northwind Digital)")
    expect(page.get_by_test_id("appeal-status")).to_have_text("Awaiting support")

    page.goto(f"{live_server.url}/support/")
    page.get_by_role("link", name="rate risk", exact=True).click()
    first = page.get_by_test_id("risk-list").locator("tbody tr").first
    expect(first).to_contain_text("Maple Auto")
    # R8: the suspension ends at 00:00 UTC: said in the sub-account's zone (Denver) and in UTC.
    expect(first.get_by_test_id("status")).to_contain_text(re.compile(r"Suspended until .* M[SD]T \(00:00 UTC\)"))
    cedar = page.get_by_test_id("row-cedar-law")
    expect(cedar.get_by_test_id("status")).to_have_text("Permanently suspended")


def test_the_demo_owner_sees_history(page, live_server, demo_data):
    """Sunrise Dental's owner lands on a sub-account with conversations (the latest text as it
    was sent, replies unread), DND contacts and an opted-out one."""
    log_in(page, live_server.url, "owner@sunrise.test")
    page.get_by_role("link", name="Conversations").first.click()
    expect(page.get_by_text("Perfect, thanks!").first).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("{first_name}")
