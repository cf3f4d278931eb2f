"""The pages under the Content-Security-Policy (config/csp.py): chromium reports no violation on
any of them — no inline script, handler or style is left — and what used to be inline script
(templates use data- attributes handled by static/js/app.js) still works."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import SubAccount
from messaging import keys
from messaging.management.commands.seed_demo import DEMO_PASSWORD
from messaging.models import ApiKey, Contact
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def violations(page):
    """Chromium's console errors that name the Content Security Policy, for the whole test."""
    seen = []
    page.on("console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None)
    return seen


def sunrise():
    return SubAccount.objects.get(name="Sunrise Dental")


def test_every_page_of_a_sub_account_runs_without_a_csp_violation(page, live_server, demo_data, violations):
    sub = sunrise()
    contact = Contact.objects.filter(sub_account=sub).order_by("phone").first()
    log_in(page, live_server.url, "owner@sunrise.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sunrise Dental")
    pages = [
        reverse("subaccount_dashboard", args=[sub.pk]),  # ramp card, rate charts (inline SVG)
        reverse("conversation_list", args=[sub.pk]),
        reverse("conversation", args=[sub.pk, contact.pk]),
        reverse("contact_list", args=[sub.pk]),
        reverse("contact_detail", args=[sub.pk, contact.pk]),
        reverse("consent_proof", args=[sub.pk, contact.pk]),
        reverse("bulk_index", args=[sub.pk]),
        reverse("api_key_list", args=[sub.pk]),
        reverse("business_info", args=[sub.pk]),
        reverse("password_change"),
    ]
    for path in pages:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("networkidle")
    assert violations == []


def test_htmx_swaps_work_under_the_policy(page, live_server, demo_data, violations):
    """The contact search is an htmx GET that swaps the list in place."""
    sub = sunrise()
    log_in(page, live_server.url, "owner@sunrise.test")
    page.goto(live_server.url + reverse("contact_list", args=[sub.pk]))
    first = Contact.objects.filter(sub_account=sub).order_by("phone").first()
    with page.expect_response(re.compile(r"/contacts/\?")) as searched:
        page.get_by_role("searchbox").fill(first.phone)
    assert searched.value.request.headers.get("hx-request") == "true"
    results = page.get_by_test_id("contact-results")
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(results).to_contain_text(first.phone)
    assert violations == []


def test_the_switcher_goes_to_the_chosen_sub_account(page, live_server, demo_data, violations):
    log_in(page, live_server.url, "admin@acme.test")
    harbor = SubAccount.objects.get(name="Harbor Fitness")
    page.get_by_test_id("switcher").locator("summary").click()
    page.get_by_test_id("sidebar-switch-results").get_by_role("link", name="Harbor Fitness").click()
    expect(page).to_have_url(re.compile(re.escape(f"/s/{harbor.pk}/") + r"$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbor Fitness")
    assert violations == []


def test_revoking_an_api_key_asks_first(page, live_server, demo_data, violations):
    sub = sunrise()
    key, _raw = keys.api_key_create(sub_account=sub, name="Zapier")
    log_in(page, live_server.url, "owner@sunrise.test")
    page.goto(live_server.url + reverse("api_key_list", args=[sub.pk]))
    asked = []

    def answer(dialog, accept):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, accept=False))
    page.get_by_role("button", name="Revoke").click()
    page.wait_for_load_state("networkidle")
    assert asked == ["Revoke Zapier? Requests using it will be refused at once."]
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None  # dismissed: nothing sent

    page.once("dialog", lambda d: answer(d, accept=True))
    with page.expect_navigation():
        page.get_by_role("button", name="Revoke").click()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert violations == []


def test_the_proof_of_opt_in_prints(page, live_server, demo_data, violations):
    sub = sunrise()
    contact = Contact.objects.filter(sub_account=sub).order_by("phone").first()
    # window.print would open the print dialog of a headless browser: counted instead.
    page.add_init_script("window.print = () => { window.printed = (window.printed || 0) + 1; };")
    log_in(page, live_server.url, "owner@sunrise.test")
    page.goto(live_server.url + reverse("consent_proof", args=[sub.pk, contact.pk]))
    page.get_by_role("button", name="Print / Save as PDF").click()
    assert page.evaluate("window.printed") == 1
    assert violations == []


def test_the_admin_runs_under_the_strict_policy(page, live_server, demo_data, violations):
    """Django's admin has no inline script or style of its own (unlike django-rq's dashboard)."""
    page.goto(live_server.url + "/admin/")
    page.get_by_label("Email address").fill("root@demo.test")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    for path in ("/admin/accounts/user/", "/admin/accounts/user/add/", "/admin/messaging/contact/"):
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
    assert violations == []
