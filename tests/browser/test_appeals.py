"""In the browser (R9, R12): a permanently suspended sub-account's owner follows the banner to the
appeal form, uploads both screenshots and sends the appeal; Settings → Phone numbers shows the
phone system's refusal. Support staff open the appeal from their queue, fetch the screenshots,
ask for proof of opt-in for one number; the owner sees the request and the proof, answers;
support approves and the owner's banner is gone."""

import re
import struct
import zlib

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import SubAccount
from compliance.models import Appeal, Suspension, Violation
from messaging.models import Contact
from tests.browser.conftest import TIMEOUT_MS
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser

COLLECTION_URL = "https://sunrisedentalcare.example.com/join"
ASKED_NUMBER = "+12125550100"  # seed_demo's first Sunrise contact: consented, with an opt-in record


def png(rgb: tuple[int, int, int]) -> bytes:
    """A valid 1×1 PNG of one colour (no image library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1×1, 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes([0, *rgb])))
        + chunk(b"IEND", b"")
    )  # fmt: skip


OPT_IN_PNG, CHECKBOX_PNG = png((255, 0, 0)), png((0, 0, 255))


@pytest.fixture
def permanent_sunrise(demo_data):
    """Sunrise Dental, permanently suspended (R9) since now."""
    sunrise = SubAccount.objects.get(name="Sunrise Dental")
    violation = Violation.objects.create(
        sub_account=sunrise, kind="error_rate", level="suspension",
        action="Permanent suspension (3 suspensions within 30 days)", detail={"error_rate": "14 %"},
    )  # fmt: skip
    return Suspension.objects.create(
        sub_account=sunrise, kind="permanent", cause="error_rate", violation=violation, started_at=timezone.now(),
        ends_at=None,
    )  # fmt: skip


@pytest.fixture
def support_page(browser):
    """A second browser context, so the owner and support staff stay logged in side by side."""
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def flash(page):
    return page.locator(".messages")


def test_appeal_a_permanent_suspension_to_approval(browser, page, support_page, live_server, permanent_sunrise):
    base = live_server.url
    sunrise = permanent_sunrise.sub_account
    owner, support = page, support_page

    # --- The owner: banner → appeal form → sent ---------------------------------------------
    log_in(owner, base, "owner@sunrise.test")
    expect(owner).to_have_url(re.compile(re.escape(f"{base}/s/{sunrise.pk}/") + "$"))
    banner = owner.get_by_test_id("suspension-banner")
    expect(banner).to_contain_text("Sending is permanently suspended after repeated violations.")
    expect(banner).to_contain_text("No SMS of any kind can be sent and no phone number can be added")
    banner.get_by_role("link", name="Appeal with your proof of opt-in").click()

    expect(owner.get_by_role("heading", level=1)).to_have_text("Suspension appeals")
    form = owner.get_by_test_id("appeal-form")
    expect(form).to_be_visible()
    form.get_by_label("Screenshot of the initial opt-in text").set_input_files(
        {"name": "opt-in.png", "mimeType": "image/png", "buffer": OPT_IN_PNG}
    )
    form.get_by_label("Screenshot of the consent checkbox").set_input_files(
        {"name": "checkbox.png", "mimeType": "image/png", "buffer": CHECKBOX_PNG}
    )
    form.get_by_label("URL of the page where numbers are collected").fill(COLLECTION_URL)
    form.get_by_label("How consent is obtained").fill("Patients tick an unticked box on the booking form.")
    form.get_by_label("I confirm the activity that caused the errors or opt-outs has stopped").check()
    form.get_by_label("Business use case (optional)").fill("Appointment reminders for our patients.")
    form.get_by_role("button", name="Send the appeal to support").click()

    expect(flash(owner)).to_contain_text("Your appeal was sent to support.")
    expect(owner.get_by_role("heading", level=1)).to_have_text(re.compile(r"^Appeal of "))
    expect(owner.get_by_test_id("appeal-status")).to_have_text("Awaiting support")
    appeal = Appeal.objects.get(sub_account=sunrise)
    assert (appeal.suspension_id, appeal.submitted_by.email) == (permanent_sunrise.pk, "owner@sunrise.test")
    detail_url = f"{base}/s/{sunrise.pk}/appeals/{appeal.pk}/"
    expect(owner).to_have_url(detail_url)

    # R9/R12: the phone-number settings page shows the phone system's refusal, not the numbers.
    owner.get_by_role("link", name="Phone numbers").click()
    refusal = owner.get_by_test_id("numbers-unauthorized")
    expect(refusal).to_contain_text("Failed to retrieve Phone Numbers")
    expect(refusal).to_contain_text("Lead Connector returned Unauthorized")
    expect(refusal.get_by_role("link", name="Appeal the suspension")).to_be_visible()
    expect(owner.get_by_text("+16465550101")).to_have_count(0)
    expect(owner.get_by_test_id("number-search")).to_have_count(0)  # R12: no new numbers

    # --- Support: queue → appeal → screenshots → ask for proof of one number ------------------
    log_in(support, base, "support@demo.test")
    support.get_by_role("link", name="suspension appeals", exact=True).click()
    expect(support.get_by_role("heading", level=1)).to_have_text("Suspension appeals")
    row = support.get_by_test_id("waiting").get_by_role("row").filter(has_text="Sunrise Dental")
    expect(row).to_contain_text("Acme Marketing")
    row.get_by_role("link").click()

    expect(support.get_by_role("heading", level=1)).to_have_text("Appeal of Sunrise Dental (Acme Marketing)")
    expect(support.get_by_test_id("appeal-status")).to_have_text("Awaiting support")
    expect(support.get_by_role("link", name=COLLECTION_URL)).to_have_attribute("href", COLLECTION_URL)
    expect(support.get_by_text("Patients tick an unticked box on the booking form.")).to_be_visible()
    expect(support.get_by_text("Appointment reminders for our patients.")).to_be_visible()
    links = support.get_by_role("link", name="screenshot", exact=True)
    expect(links).to_have_count(2)
    for link, expected in zip(links.all(), (OPT_IN_PNG, CHECKBOX_PNG), strict=True):
        response = support.request.get(base + link.get_attribute("href"))
        assert response.status == 200, link.get_attribute("href")
        assert response.headers["content-type"] == "image/png"
        assert response.body() == expected
    # The files are not public: without a login the link leads to the login page.
    anonymous = browser.new_context()
    try:
        response = anonymous.request.get(base + links.first.get_attribute("href"), max_redirects=0)
        assert response.status == 302 and response.headers["location"].startswith("/accounts/login/")
    finally:
        anonymous.close()

    support.get_by_label("Action").select_option(label="Ask for more information")
    support.get_by_label("Message").fill("Please show the opt-in of this number.")
    support.get_by_label("Numbers to prove opt-in for").fill("(212) 555-0100")
    support.get_by_role("button", name="Record").click()
    expect(flash(support)).to_contain_text("Appeal of Sunrise Dental: more information requested.")
    # Sunrise's appeal left the waiting queue (the demo's Cedar Law appeal still waits).
    expect(support.get_by_test_id("waiting").get_by_role("row").filter(has_text="Sunrise Dental")).to_have_count(0)
    assert Appeal.objects.get(pk=appeal.pk).numbers_requested == [ASKED_NUMBER]

    # --- The owner sees the request and the proof table, answers -----------------------------
    owner.goto(f"{base}/s/{sunrise.pk}/appeals/")
    expect(owner.get_by_test_id("appeal-status")).to_have_text("More information requested")
    expect(owner.get_by_test_id("no-appeal")).to_have_text("An appeal of this suspension is already with support.")
    owner.goto(detail_url)
    expect(owner.get_by_test_id("info-request")).to_have_text("Please show the opt-in of this number.")
    contact = Contact.objects.get(sub_account=sunrise, phone=ASKED_NUMBER)
    event = contact.consent_events.get(kind="opt_in")
    proof = owner.get_by_test_id("proof")
    proof_row = proof.locator("tbody tr")
    expect(proof_row).to_have_count(1)
    expect(proof_row).to_contain_text(ASKED_NUMBER)
    expect(proof_row).to_contain_text(f"{contact.name} · {contact.email}")
    expect(proof_row).to_contain_text(COLLECTION_URL)
    expect(proof_row).to_contain_text(event.ip_or_method)
    owner.get_by_label("Your answer").fill("The opt-in record is in the table above.")
    owner.get_by_role("button", name="Send the answer").click()
    expect(flash(owner)).to_contain_text("Your answer was sent to support.")
    expect(owner.get_by_test_id("appeal-status")).to_have_text("Awaiting support")
    expect(owner.get_by_test_id("respond")).to_have_count(0)

    # --- Support approves ---------------------------------------------------------------------
    support.goto(f"{base}/support/appeals/")
    row = support.get_by_test_id("waiting").get_by_role("row").filter(has_text="Sunrise Dental")
    expect(row).to_contain_text("yes,")
    row.get_by_role("link").click()
    expect(support.get_by_test_id("response")).to_have_text("The opt-in record is in the table above.")
    expect(support.get_by_test_id("proof")).to_contain_text(ASKED_NUMBER)
    support.get_by_label("Action").select_option(label="Approve")
    support.get_by_role("button", name="Record").click()
    expect(flash(support)).to_contain_text("Appeal of Sunrise Dental: approved.")
    decided = support.get_by_role("row").filter(has_text="support@demo.test")
    expect(decided).to_contain_text("Approved")

    # --- The owner: no banner, the numbers are back -------------------------------------------
    owner.goto(f"{base}/s/{sunrise.pk}/")
    expect(owner.get_by_role("heading", level=1)).to_have_text("Sunrise Dental")
    expect(owner.get_by_test_id("suspension-banner")).to_have_count(0)
    owner.goto(detail_url)
    expect(owner.get_by_test_id("appeal-status")).to_have_text("Approved")
    expect(owner.get_by_test_id("decision-note")).to_contain_text("Approved: the suspension is lifted.")
    owner.get_by_role("link", name="Phone numbers").click()
    expect(owner.get_by_test_id("numbers-unauthorized")).to_have_count(0)
    expect(owner.get_by_role("cell", name="+16465550101")).to_be_visible()
    expect(owner.get_by_test_id("number-search")).to_be_visible()  # one suspension: not restricted (R12)

    permanent_sunrise.refresh_from_db()
    assert permanent_sunrise.lifted_at is not None and permanent_sunrise.lifted_by.email == "support@demo.test"
