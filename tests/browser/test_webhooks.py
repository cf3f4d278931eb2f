"""In the browser: Sunrise Dental's owner adds a webhook endpoint pointing at a real HTTP receiver
started here, copies the signing secret shown once, sends a test event and sees it delivered with
status 200 in the log (refreshed by itself). The receiver answers 200 only when the signature
verifies with the recipe of docs/API.md and the copied secret; then the secret is rolled, and a
delivery signed with the old one no longer verifies."""

import http.server
import json
import threading

import pytest
from playwright.sync_api import expect

from accounts.models import SubAccount
from messaging.models import WebhookDelivery
from tests.browser.test_login_roles import log_in
from tests.messaging.test_webhooks_out import doc_recipe

pytestmark = pytest.mark.browser


class VerifyingReceiver:
    """Answers 200 to a delivery whose signature verifies with `secret`, else 401."""

    def __init__(self):
        self.secret, self.received, verify, outer = "", [], doc_recipe(), self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ok = bool(outer.secret) and verify(outer.secret, self.headers["Textwise-Signature"], body)
                outer.received.append((self.headers["Textwise-Event-Id"], json.loads(body), ok))
                self.send_response(200 if ok else 401)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/textwise"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True  # the receiver is on this machine
    r = VerifyingReceiver()
    yield r
    r.close()


def test_create_copy_secret_send_test_event_see_it_delivered(page, live_server, demo_data, receiver, run_jobs):
    sunrise = SubAccount.objects.get(name="Sunrise Dental")
    csp = []  # the pages keep to the Content-Security-Policy (no inline script or style)
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    log_in(page, live_server.url, "owner@sunrise.test")
    page.goto(f"{live_server.url}/s/{sunrise.pk}/")
    page.get_by_test_id("subaccount-nav").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings · Webhooks")
    expect(page.get_by_test_id("webhooks-empty")).to_contain_text("No webhooks yet")

    form = page.get_by_test_id("webhook-create")
    form.get_by_label("Address (URL)").fill("https://10.0.0.8/hooks")  # a private network: refused
    form.get_by_label("Inbound message").check()
    form.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_test_id("webhook-create")).to_contain_text("private or reserved network")
    expect(form.get_by_label("Address (URL)")).to_have_value("https://10.0.0.8/hooks")  # the input is kept
    expect(form.get_by_label("Inbound message")).to_be_checked()

    form.get_by_label("Address (URL)").fill(receiver.url)
    form.get_by_label("Message status").check()
    form.get_by_role("button", name="Add endpoint").click()
    shown = page.get_by_test_id("new-webhook-secret")
    expect(shown).to_contain_text("shown only this once")
    secret = shown.get_by_label(f"Signing secret for {receiver.url}").input_value()
    assert secret.startswith("whsec_")
    row = page.get_by_test_id("webhook-endpoints").locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("message.inbound")
    expect(row).to_contain_text("On")
    receiver.secret = secret  # pasted into the receiver's configuration

    shown.get_by_role("link", name="Open this endpoint").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Webhook to {receiver.url}")
    assert secret not in page.content()  # never shown again
    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_role("status")).to_contain_text("Test event sent")
    log = page.get_by_test_id("delivery-log").locator("tbody tr")
    expect(log).to_have_count(1)
    expect(log.get_by_test_id("delivery-state")).to_have_text("Pending")

    run_jobs()  # the RQ worker delivers it
    expect(log.get_by_test_id("delivery-state")).to_have_text("Delivered")  # the log refreshed by itself
    expect(log.get_by_test_id("delivery-answer")).to_have_text("HTTP 200")
    expect(log).to_contain_text("webhook.test")
    delivery = WebhookDelivery.objects.get(endpoint__sub_account=sunrise)
    expect(log).to_contain_text(str(delivery.event_id))
    assert receiver.received == [(str(delivery.event_id), delivery.body, True)]

    # Roll the secret: the receiver still has the old one, so the next delivery is refused (401).
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Roll secret").click()
    new_secret = page.get_by_test_id("new-webhook-secret").get_by_label("Signing secret").input_value()
    assert new_secret.startswith("whsec_") and new_secret != secret
    page.goto(page.url.rsplit("roll-secret/", 1)[0])
    log.first.get_by_role("button", name="Send again").click()
    expect(page.get_by_role("status")).to_contain_text("with the same event id")
    run_jobs()
    expect(log).to_have_count(2)
    expect(log.first.get_by_test_id("delivery-answer")).to_have_text("HTTP 401")
    assert receiver.received[-1][0] == str(delivery.event_id) and receiver.received[-1][2] is False
    assert csp == []
