"""In the browser: Business Info → Keyword replies. The owner edits the HELP reply, sees the live
preview follow what they type (business name filled in), Save is refused without "Msg&data rates
may apply" (the error names it, the text stays in the box, nothing saved), then saved with it."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import SubAccount
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser

WITHOUT_RATES = "{business_name}: questions? Call 212-555-0100. Reply STOP to opt out."
WITH_RATES = WITHOUT_RATES + " Msg&data rates may apply."
HELP_BOX = re.compile(r"^HELP reply:?$")  # the English box (the Spanish one is "HELP reply (Spanish)")


def test_edit_the_help_reply_with_live_preview_refused_then_saved(page, live_server, demo_data):
    log_in(page, live_server.url, "owner@sunrise.test")
    page.get_by_role("link", name="Business Info").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Business Info")
    replies = page.get_by_test_id("keyword-replies")
    preview = page.get_by_test_id("keyword-preview-help_reply")
    expect(preview).to_have_text("Sunrise Dental Care: Reply STOP to unsubscribe. Msg&data rates may apply.")

    box = replies.get_by_role("textbox", name=HELP_BOX)
    box.fill(WITHOUT_RATES)
    # the live preview follows the typing, {business_name} filled in; nothing is saved yet
    expect(preview).to_have_text("Sunrise Dental Care: questions? Call 212-555-0100. Reply STOP to opt out.")
    # changing the business name updates the keyword previews too
    page.get_by_label("Business name").fill("Sunrise Smiles")
    expect(preview).to_have_text("Sunrise Smiles: questions? Call 212-555-0100. Reply STOP to opt out.")
    page.get_by_label("Business name").fill("Sunrise Dental Care")
    expect(preview).to_contain_text("Sunrise Dental Care: questions?")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("The HELP reply must also contain “Msg&data rates may apply”.")).to_be_visible()
    expect(replies.get_by_role("textbox", name=HELP_BOX)).to_have_value(WITHOUT_RATES)  # kept to fix, never lost
    assert SubAccount.objects.get(name="Sunrise Dental").help_reply == ""

    replies.get_by_role("textbox", name=HELP_BOX).fill(WITH_RATES)
    expect(preview).to_have_text(
        "Sunrise Dental Care: questions? Call 212-555-0100. Reply STOP to opt out. Msg&data rates may apply."
    )
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Business Info saved.")).to_be_visible()
    expect(page.get_by_test_id("keyword-preview-help_reply")).to_have_text(
        "Sunrise Dental Care: questions? Call 212-555-0100. Reply STOP to opt out. Msg&data rates may apply."
    )
    assert SubAccount.objects.get(name="Sunrise Dental").help_reply == WITH_RATES


def test_the_spanish_replies_preview_live_too(page, live_server, demo_data):
    log_in(page, live_server.url, "owner@sunrise.test")
    page.get_by_role("link", name="Business Info").click()
    page.get_by_text("Replies to contacts who write in Spanish").click()
    preview = page.get_by_test_id("keyword-preview-es_help_reply")
    expect(preview).to_have_text(
        "Sunrise Dental Care: Responda PARAR para darse de baja. Pueden aplicarse tarifas de mensajes y datos."
    )
    page.get_by_label("HELP reply (Spanish)").fill("{business_name}: llame al 212-555-0100.")
    expect(preview).to_have_text("Sunrise Dental Care: llame al 212-555-0100.")
