"""The JSON API: contacts and messages of the key's sub-account, token auth, JSON errors, and
a send that goes through the same pipeline (and rules) as every other send."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from compliance.models import ConsentEvent
from messaging.keys import api_key_create, api_key_revoke
from messaging.models import ApiKey, Contact, Message, Status

pytestmark = pytest.mark.django_db

DND_REFUSAL = "Cannot send messages as DND is active for SMS."


@pytest.fixture
def api(client, world):
    """`api.post(path, data)` / `api.get(path)` with a valid key of a1."""
    _, raw = api_key_create(sub_account=world.a1, name="Tests", user=world.a1_owner)

    class Api:
        key = raw

        def post(self, path, data, *, key=raw):
            body = data if isinstance(data, str | bytes) else json.dumps(data)
            return client.post(path, body, content_type="application/json", headers=auth(key))

        def get(self, path, *, key=raw):
            return client.get(path, headers=auth(key))

    return Api()


def auth(key):
    return {"Authorization": f"Bearer {key}"} if key else {}


CONTACTS = "/api/v1/contacts"
MESSAGES = "/api/v1/messages"


# --- Contacts -------------------------------------------------------------------------------


def test_create_contact_with_tags_and_consent_record(world, api):
    response = api.post(CONTACTS, {
        "phone": "(212) 555-0142", "first_name": "Cleo", "last_name": "Diaz", "email": "cleo@example.com",
        "tags": ["lead", "vip"],
        "consent": {"source": "Web form", "at": "2026-01-15T10:30:00Z", "ip": "203.0.113.9",
                    "url": "https://sunrise.example/book"},
    })  # fmt: skip
    assert response.status_code == 201
    data = response.json()
    contact = Contact.objects.get(sub_account=world.a1, phone="+12125550142")
    assert data == {
        "id": str(contact.pk), "phone": "+12125550142", "first_name": "Cleo", "last_name": "Diaz",
        "email": "cleo@example.com", "tags": ["lead", "vip"], "dnd": "none", "consent": True,
    }  # fmt: skip
    event = ConsentEvent.objects.get(contact=contact)
    assert (event.kind, event.source, event.ip_or_method, event.url) == (
        "opt_in", "Web form", "203.0.113.9", "https://sunrise.example/book",
    )  # fmt: skip
    assert event.at == datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def test_create_contact_with_only_a_phone_has_no_consent(world, api):
    response = api.post(CONTACTS, {"phone": "+12125550143"})
    assert response.status_code == 201
    assert response.json()["consent"] is False and response.json()["tags"] == []
    assert not ConsentEvent.objects.filter(contact__phone="+12125550143").exists()


def test_existing_contact_is_updated_with_the_given_fields_only(world, api):
    Contact.objects.filter(pk=world.a1_contact.pk).update(last_name="Adams", email="ava@example.com")
    response = api.post(CONTACTS, {"phone": "212-555-0100", "last_name": "Baker", "tags": ["patient"]})
    assert response.status_code == 200
    data = response.json()
    assert (data["id"], data["first_name"], data["last_name"], data["email"], data["tags"]) == (
        str(world.a1_contact.pk), "Ava", "Baker", "ava@example.com", ["patient"],
    )  # fmt: skip
    assert Contact.objects.filter(sub_account=world.a1, phone="+12125550100").count() == 1


def test_consent_at_defaults_to_now(world, api):
    with time_machine.travel("2026-02-01 12:00:00Z", tick=False):
        assert api.post(CONTACTS, {"phone": "+12125550144", "consent": {}}).status_code == 201
    event = ConsentEvent.objects.get(contact__phone="+12125550144")
    assert event.at == datetime(2026, 2, 1, 12, tzinfo=UTC) and event.source == "api"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phone": "not a number"}, "phone"),
        ({"phone": "+1 555"}, "phone"),
        ({}, "phone"),
        ({"phone": "+12125550145", "email": "nope"}, "email"),
        ({"phone": "+12125550145", "tags": "vip"}, "tags"),
        ({"phone": "+12125550145", "consent": "yes"}, "consent"),
        ({"phone": "+12125550145", "consent": {"at": "yesterday"}}, "consent.at"),
        ({"phone": "+12125550145", "consent": {"url": "not a url"}}, "consent.url"),
    ],
)
def test_invalid_contact_is_a_400_with_field_errors(world, api, payload, field):
    response = api.post(CONTACTS, payload)
    assert response.status_code == 400
    assert field in response.json()["fields"] and response.json()["error"]
    assert not Contact.objects.filter(phone="+12125550145").exists()


def test_get_contact_by_e164_plain_and_url_encoded(world, api):
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="temporary", consent="granted")
    for path in ("/api/v1/contacts/+12125550100", "/api/v1/contacts/%2B12125550100"):
        response = api.get(path)
        assert response.status_code == 200, path
        assert response.json() == {
            "id": str(world.a1_contact.pk), "phone": "+12125550100", "first_name": "Ava", "last_name": "",
            "email": "", "tags": [], "dnd": "temporary", "consent": True,
        }  # fmt: skip
    assert reverse("api_contact_detail", args=["+12125550100"]) == "/api/v1/contacts/+12125550100"


def test_get_contact_invalid_number_is_400_and_unknown_is_404(world, api):
    assert api.get("/api/v1/contacts/hello").status_code == 400
    assert api.get("/api/v1/contacts/+12125550199").json() == {"error": "Not found.", "code": "not_found"}
    assert api.get("/api/v1/contacts/+12125550199").status_code == 404


def test_another_tenants_contact_is_404(world, api):
    assert api.get(f"/api/v1/contacts/{world.b1_contact.phone}").status_code == 404


def test_posting_another_tenants_number_creates_a_contact_in_the_keys_sub_account(world, api):
    assert api.post(CONTACTS, {"phone": world.b1_contact.phone}).status_code == 201
    assert Contact.objects.filter(phone=world.b1_contact.phone).count() == 2
    assert Contact.objects.get(pk=world.b1_contact.pk).first_name == "Ben"


# --- Messages -------------------------------------------------------------------------------


def test_send_to_consented_contact_is_queued_then_sent(world, api, run_jobs, memory_provider,
                                                       django_capture_on_commit_callbacks):  # fmt: skip
    Contact.objects.filter(pk=world.a1_contact.pk).update(consent="granted")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(MESSAGES, {"to": "+12125550100", "body": "See you at 10", "source": "workflow"})
    assert response.status_code == 201
    data = response.json()
    assert set(data) == {"id", "status", "body_sent", "failure_reason"}
    assert (data["status"], data["body_sent"], data["failure_reason"]) == ("queued", "See you at 10", "")
    run_jobs()
    assert [(s.to, s.body) for s in memory_provider.outbox] == [("+12125550100", "See you at 10")]
    message = Message.objects.get(pk=data["id"])
    assert message.status == Status.SENT and message.provider_sid.startswith("SM")
    assert message.contact_id == world.a1_contact.pk and message.source == "workflow"
    assert memory_provider.outbox[0].from_ == "+16465550101"

    detail = api.get(reverse("api_message_detail", args=[data["id"]])).json()
    assert detail == {
        "id": data["id"], "status": "sent", "error_code": "", "provider_sid": message.provider_sid,
        "body_sent": "See you at 10", "failure_reason": "", "source": "workflow",
    }  # fmt: skip


def test_send_to_dnd_contact_is_201_failed_with_the_reason(world, api, run_jobs, memory_provider,
                                                           django_capture_on_commit_callbacks):  # fmt: skip
    """R2: refused, but recorded, so nothing is silently dropped."""
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="permanent", consent="granted")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(MESSAGES, {"to": world.a1_contact.phone, "body": "Hi", "source": "one_to_one"})
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["failure_reason"]) == ("failed", DND_REFUSAL)
    run_jobs()
    assert memory_provider.outbox == []


def test_workflow_to_contact_without_consent_is_201_failed(world, api):
    """R10: workflow sends need an opt-in on record."""
    response = api.post(MESSAGES, {"to": world.a1_contact.phone, "body": "Hi", "source": "workflow"})
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "failed" and "consent" in data["failure_reason"].lower()
    assert Message.objects.get(pk=data["id"]).status == Status.FAILED


def test_unknown_to_creates_the_contact_without_consent(world, api):
    response = api.post(MESSAGES, {"to": "646 555 0177", "body": "Welcome!", "source": "one_to_one"})
    assert response.status_code == 201 and response.json()["status"] == "queued"
    contact = Contact.objects.get(sub_account=world.a1, phone="+16465550177")
    assert contact.consent == "none" and Message.objects.get(pk=response.json()["id"]).contact == contact


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"to": "+12125550100", "body": "Hi", "source": "bulk"}, "source"),
        ({"to": "+12125550100", "body": "Hi", "source": "keyword_reply"}, "source"),
        ({"to": "+12125550100", "body": "Hi"}, "source"),
        ({"to": "+12125550100", "body": "", "source": "workflow"}, "body"),
        ({"to": "+12125550100", "body": "   ", "source": "workflow"}, "body"),
        ({"to": "+12125550100", "body": "x" * 1601, "source": "workflow"}, "body"),
        ({"to": "banana", "body": "Hi", "source": "workflow"}, "to"),
        ({"body": "Hi", "source": "workflow"}, "to"),
    ],
)
def test_invalid_message_is_400_and_nothing_is_created(world, api, payload, field):
    response = api.post(MESSAGES, payload)
    assert response.status_code == 400 and field in response.json()["fields"]
    assert not Message.objects.exists()


def test_unknown_to_with_invalid_body_creates_no_contact(world, api):
    assert api.post(MESSAGES, {"to": "+16465550178", "body": "", "source": "workflow"}).status_code == 400
    assert not Contact.objects.filter(phone="+16465550178").exists()


def test_another_tenants_message_is_404_and_unknown_id_too(world, api):
    theirs = world.message_of(world.b1_contact)
    assert api.get(reverse("api_message_detail", args=[theirs.pk])).status_code == 404
    assert api.get(reverse("api_message_detail", args=[uuid.uuid4()])).status_code == 404
    assert api.get("/api/v1/messages/not-a-uuid").json() == {"error": "Not found.", "code": "not_found"}


# --- Auth, JSON, methods --------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "tw_wrong", "not-even-prefixed"])
def test_missing_or_wrong_key_is_401(world, api, key):
    for response in (api.get("/api/v1/contacts/+12125550100", key=key), api.post(MESSAGES, {}, key=key)):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"
        assert response.json()["error"]


def test_other_auth_schemes_are_401(world, api, client):
    response = client.get("/api/v1/contacts/+12125550100", headers={"Authorization": f"Basic {api.key}"})
    assert response.status_code == 401


def test_revoked_key_is_401(world, api):
    key = ApiKey.objects.get(sub_account=world.a1)
    api_key_revoke(key=key, user=world.a1_owner)
    assert api.get("/api/v1/contacts/+12125550100").status_code == 401


def test_last_used_is_recorded_at_most_once_a_minute(world, api):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        api.get("/api/v1/contacts/+12125550100")
    assert ApiKey.objects.get().last_used_at == start
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        api.get("/api/v1/contacts/+12125550100")
    assert ApiKey.objects.get().last_used_at == start
    with time_machine.travel(start + timedelta(seconds=60), tick=False):
        api.get("/api/v1/contacts/+12125550100")
    assert ApiKey.objects.get().last_used_at == start + timedelta(seconds=60)


@pytest.mark.parametrize("body", ["{not json", "", "[1, 2]", '"hello"', b"\xff\xfe"])
def test_malformed_json_is_400(world, api, body):
    for path in (CONTACTS, MESSAGES):
        response = api.post(path, body)
        assert response.status_code == 400
        assert response.json()["error"].startswith("Malformed JSON: ")


def test_wrong_method_is_405(world, api, client):
    assert api.get(CONTACTS).status_code == 405
    response = api.post("/api/v1/contacts/+12125550100", {})
    assert response.status_code == 405 and response["Allow"] == "GET" and response.json()["error"]
    assert client.delete(MESSAGES, headers=auth(api.key)).status_code == 405


def test_api_is_csrf_exempt(world, api, settings):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post(CONTACTS, {"phone": "+12125550146"}, content_type="application/json", headers=auth(api.key))
    assert response.status_code == 201
