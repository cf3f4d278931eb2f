"""In the browser (R8/R9): the agency admin sees the suspension on the agency overview and the
banner on the dashboard with its rate charts, ticks the acknowledgement, types `confirm`, lifts
the suspension, and the banner is gone."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Agency, SubAccount
from compliance import rates
from compliance.models import RateBucket, Suspension, Violation
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def suspended_sunrise(demo_data):
    """Sunrise Dental, suspended for a high error rate, with a week of traffic; Acme is 100 days
    old, so its admin may lift the suspension (R9)."""
    now = timezone.now()
    Agency.objects.filter(name="Acme Marketing").update(created_at=now - timedelta(days=100))
    sunrise = SubAccount.objects.get(name="Sunrise Dental")
    for day in range(7):  # these hours' counters replace the demo history's (seed_demo), if any
        RateBucket.objects.update_or_create(
            sub_account=sunrise, hour=rates.hour_of(now - timedelta(days=day)),
            defaults=dict(outbound=100, finalized=100, delivered=100 - 2 * day, undelivered=2 * day, opt_outs=day % 2),
        )  # fmt: skip
    violation = Violation.objects.create(
        sub_account=sunrise, kind="error_rate", level="suspension", action="Temporary suspension",
        detail={"error_rate": "14 %", "opt_out_rate": "0 %"},
    )  # fmt: skip
    return Suspension.objects.create(
        sub_account=sunrise, cause="error_rate", violation=violation, started_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=6),
    )  # fmt: skip


def test_agency_admin_lifts_a_suspension(page, live_server, suspended_sunrise):
    log_in(page, live_server.url, "admin@acme.test")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme Marketing")
    row = page.get_by_test_id("row-sunrise-dental")
    expect(row.get_by_test_id("status")).to_contain_text("Suspended until")
    expect(row.get_by_test_id("sent")).to_have_text("100")

    row.get_by_role("link", name="Sunrise Dental").click()
    banner = page.get_by_test_id("suspension-banner")
    expect(banner).to_contain_text("Bulk, workflow and campaign sending is suspended until")
    expect(banner).to_contain_text("(high error rate: 14 % in 24 h)")
    expect(banner).to_contain_text("One-to-one messages, test SMS, resends and missed-call text back still go.")

    # The charts render and are visible, each with a point per day of traffic.
    for name in ("Error rate", "Opt-out rate"):
        chart = page.get_by_role("img", name=re.compile(rf"^{name}, daily, over the last 30 days: 7 day"))
        expect(chart).to_be_visible()
        expect(chart.locator("circle")).to_have_count(7)
    expect(page.get_by_test_id("error-value")).to_have_text("0 %")

    # The form does nothing until both the box is ticked and `confirm` typed (required fields).
    page.get_by_role("button", name="Lift suspension").click()
    expect(banner).to_be_visible()
    page.get_by_label("I understand the cause of this suspension").check()
    page.get_by_label("Type “confirm” to lift the suspension").fill("confirm")
    page.get_by_role("button", name="Lift suspension").click()

    expect(page.locator(".messages")).to_contain_text("Suspension lifted")
    expect(page.get_by_test_id("suspension-banner")).to_have_count(0)
    expect(page.get_by_test_id("suspensions")).to_contain_text("by admin@acme.test")
    suspended_sunrise.refresh_from_db()
    assert suspended_sunrise.lifted_at is not None and suspended_sunrise.lifted_by.email == "admin@acme.test"
