"""Per-API-key rate limits on the JSON API (429 + Retry-After, counted in Redis), and the
Twilio webhooks, which are never throttled."""

import json
import logging
from datetime import UTC, datetime

import pytest
import time_machine

from messaging.keys import api_key_create
from messaging.models import Message, ReceiptEvent
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 15, 0, 0, tzinfo=UTC)
CONTACT = "/api/v1/contacts/+12125550100"  # world.a1_contact
MESSAGES = "/api/v1/messages"


@pytest.fixture
def limits(settings):
    """6 requests a minute (one per 10 s), at most 3 at once; the clock stands still at T0."""
    settings.API_RATE_LIMIT_PER_MINUTE, settings.API_RATE_LIMIT_BURST = 6, 3
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def key_of(world, sub_account=None):
    return api_key_create(sub_account=sub_account or world.a1, name="Tests", user=world.a1_owner)[1]


def get(client, key, path=CONTACT):
    return client.get(path, headers={"Authorization": f"Bearer {key}"})


def test_429_after_the_burst_with_retry_after_and_the_error_shape(client, world, limits):
    key = key_of(world)
    answers = [get(client, key) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [(r["X-RateLimit-Limit"], r["X-RateLimit-Remaining"]) for r in answers] == [
        ("3", "2"),
        ("3", "1"),
        ("3", "0"),
    ]

    refused = get(client, key)
    assert refused.status_code == 429 and refused["Content-Type"] == "application/json"
    assert refused["Retry-After"] == "10" and refused["X-RateLimit-Remaining"] == "0"
    assert refused.json() == {
        "error": "Too many requests with this API key (at most 6 a minute, 3 at once). Retry after 10 s.",
        "code": "rate_limited",
    }


def test_a_refused_send_sends_nothing(client, world, limits, memory_provider):
    key = key_of(world)
    for _ in range(3):
        get(client, key)
    body = json.dumps({"to": "+12125550100", "body": "Hi", "source": "one_to_one"})
    response = client.post(MESSAGES, body, content_type="application/json", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 429
    assert not Message.objects.exists() and memory_provider.outbox == []


def test_another_key_is_not_affected(client, world, limits):
    spent, same_sub_account, other_tenant = key_of(world), key_of(world), key_of(world, world.b1)
    for _ in range(4):
        get(client, spent)
    assert get(client, spent).status_code == 429
    assert get(client, same_sub_account).status_code == 200
    assert get(client, other_tenant, "/api/v1/contacts/+14155550100").status_code == 200


def test_the_allowance_refills_at_the_rate(client, world, limits):
    key = key_of(world)
    for _ in range(3):
        get(client, key)
    limits.shift(9.9)
    assert get(client, key)["Retry-After"] == "1"  # still refused, and a refused request costs nothing
    limits.shift(0.1)
    assert get(client, key).status_code == 200  # one more after 10 s
    assert get(client, key).status_code == 429
    limits.shift(60)
    answers = [get(client, key) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]  # a full burst again, never more


def test_every_answer_to_a_known_key_carries_the_headers(client, world, limits):
    key = key_of(world)
    missing = get(client, key, "/api/v1/contacts/+12125559999")
    assert missing.status_code == 404 and missing["X-RateLimit-Remaining"] == "2"
    assert "X-RateLimit-Limit" not in get(client, "not-a-key")  # 401: no key, nothing counted


def test_zero_turns_the_limit_off(client, world, settings):
    settings.API_RATE_LIMIT_PER_MINUTE, settings.API_RATE_LIMIT_BURST = 0, 1
    key = key_of(world)
    answers = [get(client, key) for _ in range(5)]
    assert {r.status_code for r in answers} == {200} and "X-RateLimit-Limit" not in answers[0]


def test_redis_down_lets_requests_through_with_a_warning(client, world, limits, settings, caplog):
    """Fail open (the reason is in messaging/throttle.py): an unreachable counter is no 5xx."""
    key = key_of(world)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    with caplog.at_level(logging.WARNING, logger="accounts.throttle"):
        answers = [get(client, key) for _ in range(5)]
    assert {r.status_code for r in answers} == {200} and "X-RateLimit-Limit" not in answers[0]
    assert "Redis unavailable" in caplog.text


# --- Webhooks -------------------------------------------------------------------------------


def test_webhooks_are_never_throttled(client, world, settings):
    """A flood of signed receipts and inbound texts from one address, with the API limits at
    their tightest: every one answered 200 and stored (a refused receipt could be lost, and an
    inbound text could be a STOP)."""
    settings.API_RATE_LIMIT_PER_MINUTE, settings.API_RATE_LIMIT_BURST = 1, 1
    key = key_of(world)
    assert [get(client, key).status_code for _ in range(2)] == [200, 429]  # the same client, throttled on the API
    receipts = [
        post_signed(client, "/webhooks/twilio/status", {"MessageSid": f"SM{i:04}", "MessageStatus": "delivered"})
        for i in range(60)
    ]
    texts = [
        post_signed(
            client,
            "/webhooks/twilio/inbound",
            {"MessageSid": f"SMin{i:03}", "From": f"+1212555{i:04}", "To": "+16465550101", "Body": "Hi"},
        )
        for i in range(20)
    ]
    assert {r.status_code for r in receipts + texts} == {200}
    assert ReceiptEvent.objects.filter(provider_sid__startswith="SM0").count() == 60
    assert Message.objects.filter(direction="inbound", provider_sid__startswith="SMin").count() == 20
