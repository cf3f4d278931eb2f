"""In the browser, under the carrier simulator as `make run` uses it (R12): Sunrise Dental's
owner searches numbers for sale by area code, buys one and sees it listed with the others, then
releases it after the confirmation page; the simulator's account has it, then no longer."""

import pytest
from playwright.sync_api import expect

from accounts.models import SubAccount
from messaging.providers.simulator import SimulatorProvider
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def owner_page(page, live_server, demo_data, settings):
    settings.SMS_BACKEND = "simulator"
    settings.PUBLIC_BASE_URL = live_server.url
    log_in(page, live_server.url, "owner@sunrise.test")
    return page


def test_search_buy_see_it_listed_and_release(owner_page, live_server):
    page, sunrise = owner_page, SubAccount.objects.get(name="Sunrise Dental")
    page.goto(f"{live_server.url}/s/{sunrise.pk}/settings/phone-numbers/")
    owned = page.get_by_test_id("owned-numbers")
    listed_before = owned.locator("tbody tr").count()

    search = page.get_by_test_id("number-search")
    search.get_by_label("Area code").fill("305")
    search.get_by_role("button", name="Search").click()
    results = page.get_by_test_id("number-results").locator("tbody tr")
    expect(results.first).to_contain_text("+1305")  # swapped in by htmx
    number = results.first.get_attribute("data-number")
    results.first.get_by_role("button", name="Buy").click()

    expect(page.get_by_role("status")).to_contain_text(f"Bought {number}")
    expect(owned.locator(f'tr[data-number="{number}"]')).to_be_visible()
    expect(owned.locator("tbody tr")).to_have_count(listed_before + 1)
    assert number in {n.number for n in SimulatorProvider().list_numbers()}
    hooks = sunrise.phone_numbers.get(number=number)
    assert hooks.provider_sid.startswith("PN")

    owned.locator(f'tr[data-number="{number}"]').get_by_role("link", name="Release").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Release {number}?")
    page.get_by_role("button", name=f"Release {number}").click()
    expect(page.get_by_role("status")).to_contain_text(f"Released {number}.")
    expect(owned.locator(f'tr[data-number="{number}"]')).to_have_count(0)
    expect(owned.locator("tbody tr")).to_have_count(listed_before)
    assert number not in {n.number for n in SimulatorProvider().list_numbers()}


def test_import_from_the_simulators_account(owner_page, live_server):
    page, sunrise = owner_page, SubAccount.objects.get(name="Sunrise Dental")
    page.goto(f"{live_server.url}/s/{sunrise.pk}/settings/phone-numbers/")
    page.get_by_role("link", name="Import from provider account").click()
    rows = page.get_by_test_id("importable-numbers").locator("tbody tr")
    expect(rows).to_have_count(2)  # the simulated account's numbers at start
    number = rows.first.get_attribute("data-number")
    rows.first.get_by_role("button", name="Import").click()
    expect(page.get_by_role("status")).to_contain_text(f"Imported {number}")
    expect(page.get_by_test_id("owned-numbers").locator(f'tr[data-number="{number}"]')).to_be_visible()
