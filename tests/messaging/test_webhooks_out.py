"""Outgoing webhooks (issue 16): signed delivery, backoff, 410, SSRF guard, stable event ids."""

import http.server
import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import django_rq
import pytest
import time_machine
from django.utils import timezone

from messaging import webhooks_out
from messaging.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from messaging.webhooks_out.safety import UnsafeUrl, resolve_safe


class Receiver:
    def __init__(self, status=200):
        self.status, self.delay = status, 0
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                time.sleep(outer.delay)
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def endpoint(sub_account, url, events=("message.status",)):
    return WebhookEndpoint.objects.create(
        sub_account=sub_account, url=url, events=list(events), secret=webhooks_out.new_secret()
    )


def doc_recipe():
    """The receiver recipe of docs/API.md, executed as written there."""
    doc = Path("docs/API.md").read_text()
    code = doc.split("Verify a delivery (Python):\n\n```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(code, namespace)  # noqa: S102 - the documented snippet, verbatim
    return namespace["verify"]


def test_signed_delivery_verifies(world, receiver):
    ep = endpoint(world.a1, receiver.url)
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {"status": "delivered"})
    delivery = webhooks_out.deliver(delivery.pk)
    assert delivery.state == DeliveryState.DELIVERED and delivery.last_status_code == 200
    headers, body = receiver.requests[0]
    assert headers["Textwise-Event-Id"] == str(delivery.event_id)
    verify = doc_recipe()
    assert verify(ep.secret, headers["Textwise-Signature"], body)
    assert not verify("whsec_other", headers["Textwise-Signature"], body)


def test_emit_only_to_subscribed_enabled_endpoints_of_the_tenant(world, receiver):
    endpoint(world.a1, receiver.url, events=["message.inbound"])
    endpoint(world.b1, receiver.url)
    off = endpoint(world.a1, receiver.url)
    off.enabled = False
    off.save()
    assert webhooks_out.emit(world.a1.pk, "message.status", {}) == []
    with pytest.raises(ValueError):
        webhooks_out.emit(world.a1.pk, "no.such.event", {})


def test_retries_back_off_with_a_stable_event_id_then_give_up(world, receiver):
    receiver.status = 500
    ep = endpoint(world.a1, receiver.url)
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        waits = []
        for _ in range(20):
            d = webhooks_out.deliver(delivery.pk)
            if d.state != DeliveryState.PENDING:
                break
            waits.append((d.next_attempt_at - timezone.now()).total_seconds())
            clock.move_to(d.next_attempt_at)
        assert waits[:4] == [30, 60, 120, 240]
        assert d.state == DeliveryState.FAILED
        assert timezone.now() - d.first_attempt_at <= timedelta(hours=24)
    ids = {h["Textwise-Event-Id"] for h, _ in receiver.requests}
    assert ids == {str(delivery.event_id)} and len(receiver.requests) == d.attempts
    ep.refresh_from_db()
    assert not ep.enabled


def test_gone_disables_the_endpoint_at_once(world, receiver):
    receiver.status = 410
    ep = endpoint(world.a1, receiver.url)
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
    assert webhooks_out.deliver(delivery.pk).state == DeliveryState.FAILED
    ep.refresh_from_db()
    assert not ep.enabled
    assert webhooks_out.emit(world.a1.pk, "message.status", {}) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/latest",
        "https://[::1]/x",
        "https://100.64.0.1/x",
        "https://0.0.0.0/x",
        "https://224.0.0.1/x",
        "https://[fd00::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[::ffff:10.0.0.1]/x",
        "https://[64:ff9b::a00:1]/x",
        "https://[2002:7f00:1::]/x",
        "https://[fe80::1]/x",
    ],  # fmt: skip
)
def test_ssrf_refused(url):
    with pytest.raises(UnsafeUrl):
        resolve_safe(url)


@pytest.mark.parametrize("ip", ["93.184.216.34", "[2606:2800:220:1:248:1893:25c8:1946]", "[::ffff:93.184.216.34]"])
def test_public_addresses_accepted(ip):
    assert resolve_safe(f"https://{ip}/x").hostname == ip.strip("[]")


def test_http_refused_without_the_setting(settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    with pytest.raises(UnsafeUrl):
        resolve_safe("http://example.com/x")


def test_hostname_resolving_to_loopback_refused_at_delivery(world, monkeypatch, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    ep = endpoint(world.a1, "https://rebind.example/hook")
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("127.0.0.1", 443))])
    d = webhooks_out.deliver(delivery.pk)
    assert d.last_status_code is None and d.last_error.startswith("refused")
    assert WebhookDelivery.objects.get(pk=d.pk).endpoint == ep


def test_inbound_text_and_opt_out_emit_events(world, receiver, run_jobs):
    from messaging.inbound import inbound_receive

    endpoint(world.a1, receiver.url, events=["message.inbound", "contact.opted_out"])
    with django_capture_on_commit():
        inbound_receive(sid="SMin1", from_="+12125550100", to="+16465550101", body="STOP")
    run_jobs()
    types = sorted(WebhookDelivery.objects.values_list("event_type", "state"))
    assert types == [("contact.opted_out", "delivered"), ("message.inbound", "delivered")]
    assert len(receiver.requests) == 2


def django_capture_on_commit():
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks(execute=True)


def test_violation_recorded_reaches_webhooks_through_the_compliance_signal(world, receiver):
    # compliance sends a signal (it never imports messaging); messaging's receiver emits.
    from compliance.models import Violation

    endpoint(world.a1, receiver.url, events=["violation.recorded"])
    Violation.objects.create(sub_account=world.a1, kind=Violation.Kind.SNOWSHOE, action="blocked")
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event_type == "violation.recorded" and delivery.body["data"]["kind"] == "snowshoe"


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.0.0.5", "169.254.169.254", "::1"])
def test_hostname_resolving_to_unsafe_address_refused_at_save(world, monkeypatch, settings, ip):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", (ip, 443))])
    with pytest.raises(UnsafeUrl):
        webhooks_out.endpoint_create(sub_account=world.a1, url="https://hooks.example/x", events=["message.status"])
    assert not WebhookEndpoint.objects.exists()


def test_public_address_accepted_at_save_and_connected_to_by_ip(world, monkeypatch, settings):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("93.184.216.34", 443))])
    ep = webhooks_out.endpoint_create(sub_account=world.a1, url="https://hooks.example/x", events=["message.status"])
    assert ep.secret.startswith("whsec_")
    target = resolve_safe("https://hooks.example:8443/x?a=1")
    assert target == ("https://93.184.216.34:8443/x?a=1", "hooks.example:8443", "hooks.example")


def test_sweep_enqueues_due_retries_on_the_webhooks_queue(world, receiver, run_jobs):
    receiver.status = 503
    endpoint(world.a1, receiver.url)
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
    webhooks_out.sweep()  # due at once (the enqueue on commit did not run here)
    assert django_rq.get_queue("webhooks").count == 1 and django_rq.get_queue("default").count == 0
    run_jobs()
    receiver.status = 200
    webhooks_out.sweep()  # not due yet: 30 s later
    assert django_rq.get_queue("webhooks").count == 0
    with time_machine.travel(timezone.now() + timedelta(seconds=31)):
        webhooks_out.sweep()
        run_jobs()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.attempts == 2 and len(receiver.requests) == 2
