"""Hostile and malformed input at every edge. The API answers each with a 4xx JSON error and
changes nothing; the carrier's signed webhooks answer 200 and store what can be used, with the
characters PostgreSQL refuses stripped (a STOP with odd bytes is still an opt-out, R3), and
never a 5xx for a request that retrying cannot fix."""

import json

import pytest

from compliance.models import ConsentEvent
from messaging import dispatch, services
from messaging.keys import api_key_create
from messaging.models import Contact, IdempotencyKey, Message, MessageEvent, ReceiptEvent, Status, Tag
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db

CONTACTS, MESSAGES = "/api/v1/contacts", "/api/v1/messages"
STATUS, INBOUND, VOICE = "/webhooks/twilio/status", "/webhooks/twilio/inbound", "/webhooks/twilio/voice-status"
NEW = "+12125550177"  # a number no contact has
SEND = {"to": NEW, "body": "Hi", "source": "one_to_one"}


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# (case, path, body, content type, extra headers, status, code, the field named or None)
API_CASES = [
    ("array 100,000 deep", MESSAGES, nested(100_000), None, {}, 413, "payload_too_large", None),
    ("array 5,000 deep", MESSAGES, nested(5_000), None, {}, 400, "malformed_json", None),
    ("array 5,000 deep in a field", MESSAGES, '{"to": ' + nested(5_000) + "}", None, {}, 400, "malformed_json", None),
    ("objects 20 deep in consent", CONTACTS, '{"phone": "' + NEW + '", "consent": ' + '{"a": ' * 20 + "1" + "}" * 21,
     None, {}, 400, "malformed_json", None),
    ("NUL in the body", MESSAGES, SEND | {"body": "Hi\x00there"}, None, {}, 400, "invalid_fields", "body"),
    ("NUL in a name", CONTACTS, {"phone": NEW, "first_name": "Ava\x00"}, None, {}, 400, "invalid_fields", "first_name"),
    ("NUL in a tag", CONTACTS, {"phone": NEW, "tags": ["vip\x00"]}, None, {}, 400, "invalid_fields", "tags[0]"),
    ("NUL in consent", CONTACTS, {"phone": NEW, "consent": {"source": "\x00"}}, None, {}, 400, "invalid_fields",
     "consent.source"),
    ("lone surrogate in the body", MESSAGES, '{"to": "' + NEW + '", "body": "\\ud800", "source": "one_to_one"}', None,
     {}, 400, "invalid_fields", "body"),
    ("lone surrogate in a key", CONTACTS, '{"phone": "' + NEW + '", "\\udfff": 1}', None, {}, 400, "invalid_fields",
     "(key)"),
    ("phone as a list", CONTACTS, {"phone": [NEW]}, None, {}, 400, "invalid_fields", "phone"),
    ("phone as a number", CONTACTS, {"phone": 12125550177}, None, {}, 400, "invalid_fields", "phone"),
    ("body as a list", MESSAGES, SEND | {"body": ["a"]}, None, {}, 400, "invalid_fields", "body"),
    ("to as a list", MESSAGES, SEND | {"to": [NEW]}, None, {}, 400, "invalid_fields", "to"),
    ("source as a list", MESSAGES, SEND | {"source": ["one_to_one"]}, None, {}, 400, "invalid_fields", "source"),
    ("email as an object", CONTACTS, {"phone": NEW, "email": {"a": "b"}}, None, {}, 400, "invalid_fields", "email"),
    ("name as true", CONTACTS, {"phone": NEW, "last_name": True}, None, {}, 400, "invalid_fields", "last_name"),
    ("consent time as a number", CONTACTS, {"phone": NEW, "consent": {"at": 1700000000}}, None, {}, 400,
     "invalid_fields", "consent.at"),
    ("tags as a string", CONTACTS, {"phone": NEW, "tags": "vip"}, None, {}, 400, "invalid_fields", "tags"),
    ("a tag that is a number", CONTACTS, {"phone": NEW, "tags": [1]}, None, {}, 400, "invalid_fields", "tags"),
    ("51 tags", CONTACTS, {"phone": NEW, "tags": [f"t{i}" for i in range(51)]}, None, {}, 400, "invalid_fields",
     "tags"),
    ("10,000 tags", CONTACTS, {"phone": NEW, "tags": [f"t{i}" for i in range(10_000)]}, None, {}, 413,
     "payload_too_large", None),
    ("a 5,000-character tag", CONTACTS, {"phone": NEW, "tags": ["x" * 5000]}, None, {}, 400, "invalid_fields", "tags"),
    ("a 51-character tag", CONTACTS, {"phone": NEW, "tags": ["x" * 51]}, None, {}, 400, "invalid_fields", "tags"),
    ("NaN", CONTACTS, '{"phone": "' + NEW + '", "first_name": NaN}', None, {}, 400, "malformed_json", None),
    ("a key twice", MESSAGES, '{"to": "' + NEW + '", "to": "+12125550100", "body": "Hi", "source": "one_to_one"}',
     None, {}, 400, "malformed_json", None),
    ("a 5,000-digit number", CONTACTS, '{"phone": "' + NEW + '", "n": ' + "9" * 5000 + "}", None, {}, 400,
     "malformed_json", None),
    ("not UTF-8", MESSAGES, b'{"to": "\xff"}', None, {}, 400, "malformed_json", None),
    ("an array", MESSAGES, "[]", None, {}, 400, "malformed_json", None),
    ("form-encoded", MESSAGES, "to=%2B12125550177&body=Hi&source=one_to_one", "application/x-www-form-urlencoded", {},
     415, "unsupported_media_type", None),
    ("text/plain", MESSAGES, json.dumps(SEND), "text/plain", {}, 415, "unsupported_media_type", None),
    ("over 64 kB", MESSAGES, SEND | {"body": "x" * 70_000}, None, {}, 413, "payload_too_large", None),
    ("a 300-character Idempotency-Key", MESSAGES, SEND, None, {"Idempotency-Key": "k" * 300}, 400,
     "invalid_idempotency_key", None),
]  # fmt: skip


def rows():
    models = (Contact, Tag, ConsentEvent, Message, MessageEvent, IdempotencyKey, ReceiptEvent)
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture
def key(world):
    return api_key_create(sub_account=world.a1, name="Tests")[1]


@pytest.mark.parametrize(
    ("path", "body", "content_type", "headers", "status", "code", "field"),
    [case[1:] for case in API_CASES],
    ids=[case[0] for case in API_CASES],
)
def test_hostile_api_request_is_a_4xx_json_error_and_changes_nothing(
    client, key, path, body, content_type, headers, status, code, field
):
    before = rows()
    response = client.post(
        path,
        body if isinstance(body, str | bytes) else json.dumps(body),
        content_type=content_type or "application/json",
        headers={"Authorization": f"Bearer {key}"} | headers,
    )
    assert (response.status_code, response["Content-Type"]) == (status, "application/json")
    data = response.json()
    assert data["code"] == code and data["error"]
    if field:
        assert field in data["fields"], data
    assert rows() == before


def test_a_100000_deep_array_is_a_400_also_under_a_larger_body_limit(client, key, settings):
    """Never a RecursionError, whatever the size limit is set to."""
    settings.API_MAX_REQUEST_BYTES = 1024 * 1024
    for body in (nested(100_000), '{"to": ' + nested(100_000) + "}", '{"a": ' * 100_000 + "1" + "}" * 100_000):
        response = client.post(
            MESSAGES, body, content_type="application/json", headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 400 and response.json()["code"] == "malformed_json"


# --- The carrier's webhooks (signed) ---------------------------------------------------------


@pytest.fixture
def sent(world):
    message = services.message_send_one(sub_account=world.a1, contact=world.a1_contact, body="Hi", source="one_to_one")
    dispatch.dispatch_batch([str(message.pk)])
    message.refresh_from_db()
    return message


def inbound(body, **params):
    return {"MessageSid": "SM" + "f" * 32, "From": "+12125550100", "To": "+16465550101", "Body": body} | params


def opted_out(world):
    contact = Contact.objects.get(pk=world.a1_contact.pk)
    return contact.dnd == "permanent" and contact.consent == "revoked"


def stored_inbound(world):
    return Message.objects.get(direction="inbound")


def texted_back(world):
    return Message.objects.filter(source="missed_call_text_back", contact=world.a1_contact).count() == 1


WEBHOOK_CASES = [
    ("STOP with a NUL after it", INBOUND, lambda s: inbound("STOP\x00"),
     lambda w, s: opted_out(w) and stored_inbound(w).body == "STOP"),
    ("STOP with a NUL inside", INBOUND, lambda s: inbound("S\x00TOP"),
     lambda w, s: opted_out(w) and stored_inbound(w).body == "STOP"),
    ("a text with a NUL", INBOUND, lambda s: inbound("Running late\x00, see you at 10"),
     lambda w, s: stored_inbound(w).body == "Running late, see you at 10" and not opted_out(w)),
    ("STOP with a 300-character sid", INBOUND, lambda s: inbound("STOP", MessageSid="SM" + "a" * 298),
     lambda w, s: opted_out(w) and stored_inbound(w).provider_sid is None),
    ("a NUL in From", INBOUND, lambda s: inbound("Hello", From="+1212555\x000100"),
     lambda w, s: stored_inbound(w).contact_id == w.a1_contact.pk),
    ("a 500-character status", STATUS, lambda s: {"MessageSid": s.provider_sid, "MessageStatus": "delivered" * 55},
     lambda w, s: not ReceiptEvent.objects.exists() and Message.objects.get(pk=s.pk).status == Status.SENT),
    ("a 500-character sid", STATUS, lambda s: {"MessageSid": "SM" + "b" * 498, "MessageStatus": "delivered"},
     lambda w, s: not ReceiptEvent.objects.exists()),
    ("a 500-character error code", STATUS,
     lambda s: {"MessageSid": s.provider_sid, "MessageStatus": "undelivered", "ErrorCode": "3" * 500},
     lambda w, s: ReceiptEvent.objects.get().error_code == "" and len(ReceiptEvent.objects.get().payload["ErrorCode"])
     == 500 and Message.objects.get(pk=s.pk).status == Status.UNDELIVERED),
    ("a NUL in the error code", STATUS,
     lambda s: {"MessageSid": s.provider_sid, "MessageStatus": "undelivered", "ErrorCode": "30005\x00"},
     lambda w, s: Message.objects.get(pk=s.pk).error_code == "30005"),
    ("a NUL in the sid", STATUS, lambda s: {"MessageSid": s.provider_sid + "\x00", "MessageStatus": "delivered"},
     lambda w, s: Message.objects.get(pk=s.pk).status == Status.DELIVERED),
    ("a NUL in another field", STATUS,
     lambda s: {"MessageSid": s.provider_sid, "MessageStatus": "delivered", "ApiVersion": "2010-04-01\x00"},
     lambda w, s: ReceiptEvent.objects.get().payload["ApiVersion"] == "2010-04-01"),
    ("an unknown status", STATUS, lambda s: {"MessageSid": s.provider_sid, "MessageStatus": "exploded"},
     lambda w, s: ReceiptEvent.objects.get().status == "exploded" and Message.objects.get(pk=s.pk).status == "sent"),
    ("a 500-character call sid", VOICE,
     lambda s: {"CallSid": "CA" + "c" * 498, "CallStatus": "no-answer", "From": "+12125550100", "To": "+16465550101"},
     lambda w, s: texted_back(w)),
    ("a NUL in the call status", VOICE,
     lambda s: {"CallSid": "CA1", "CallStatus": "no-answer\x00", "From": "+12125550100\x00", "To": "+16465550101"},
     lambda w, s: texted_back(w)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "params", "stored"), [case[1:] for case in WEBHOOK_CASES], ids=[case[0] for case in WEBHOOK_CASES]
)
def test_hostile_signed_webhook_is_200_and_what_can_be_used_is_stored(client, world, sent, path, params, stored):
    world.a1.missed_call_text_back = True
    world.a1.save(update_fields=["missed_call_text_back"])
    response = post_signed(client, path, params(sent))
    assert response.status_code == 200
    assert stored(world, sent)
