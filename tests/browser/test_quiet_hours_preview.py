"""In the browser (R13): with quiet hours on, a bulk message to a contact whose own time zone is
in the middle of the night right now shows on the confirmation page as waiting for the window.
The zone is chosen from the current UTC hour, so the test holds at any time of day."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from accounts.models import SubAccount
from messaging.models import Contact
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser

NIGHT_HOUR = 3  # local 03:00–03:59: outside 08:00–21:00, and the window opens within VALIDITY_HOURS (10)


def night_zone(now: datetime) -> str:
    """An Etc/GMT±N zone where it is NIGHT_HOUR o'clock at `now` (POSIX sign: Etc/GMT+5 is UTC−5)."""
    offset = (NIGHT_HOUR - now.hour) % 24  # hours ahead of UTC, 0…23
    if offset > 14:  # Etc zones go from UTC−12 to UTC+14
        offset -= 24
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


def test_night_zone_is_at_night_at_every_utc_hour():
    for hour in range(24):
        for minute in (0, 59):
            now = datetime(2026, 3, 8, hour, minute, tzinfo=UTC)
            assert now.astimezone(ZoneInfo(night_zone(now))).hour == NIGHT_HOUR, now


def test_bulk_preview_counts_a_contact_outside_sending_hours(page, live_server, demo_data, settings):
    # The default policy's quiet hours (on for bulk, campaign, workflow); registration is another test's.
    settings.COMPLIANCE_POLICY = {"REGISTRATION_REQUIRED": False}
    settings.PUBLIC_BASE_URL = live_server.url
    sunrise = SubAccount.objects.get(name="Sunrise Dental")
    contact = Contact.objects.get(sub_account=sunrise, phone="+12125550100")
    assert contact.consent == "granted"
    zone = night_zone(datetime.now(UTC))
    Contact.objects.filter(pk=contact.pk).update(time_zone=zone)

    log_in(page, live_server.url, "owner@sunrise.test")
    page.get_by_role("link", name="Bulk SMS").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Bulk SMS")
    page.get_by_label("Message").fill("Hi {first_name}, our spring cleaning appointments are open")
    page.get_by_label("All contacts").check()
    page.get_by_role("button", name="Preview").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm bulk send")
    expect(page.get_by_test_id("total")).to_have_text("100")
    expect(page.get_by_test_id("skip-dnd")).to_have_text("3")  # the demo's DND and opted-out contacts
    expect(page.get_by_test_id("skip-consent")).to_have_text("7")
    wait_row = page.get_by_role("row").filter(has=page.get_by_test_id("quiet-wait"))
    expect(wait_row).to_contain_text("Waiting: outside their sending hours, sent when the window opens")
    count = int(page.get_by_test_id("quiet-wait").inner_text())
    # At least our contact; the others (New York numbers) wait, fail or go, with the time of day.
    assert 1 <= count <= 90, (zone, count)
    assert count + int(page.get_by_test_id("quiet-fail").inner_text()) <= 90
