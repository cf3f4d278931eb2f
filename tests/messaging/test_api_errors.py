"""The API's error contract (docs/API.md): every answer that is not a success is JSON,
`{"error": "<sentence>", "code": "<code>"}` (plus `"fields"` for field errors), with the status
and code listed there — also for a URL the API does not have, a 500 and a dead database."""

import json

import pytest
from django.db import ProgrammingError, connection
from django.test import Client

from messaging.keys import api_key_create
from messaging.models import Contact, Message

pytestmark = pytest.mark.django_db

CONTACTS, MESSAGES = "/api/v1/contacts", "/api/v1/messages"
SEND = {"to": "+12125550100", "body": "Hi", "source": "one_to_one"}


@pytest.fixture
def key(world):
    return api_key_create(sub_account=world.a1, name="Tests")[1]


def post(client, key, path, data, **extra):
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    extra.setdefault("content_type", "application/json")
    return client.post(path, body, headers={"Authorization": f"Bearer {key}"} | extra.pop("headers", {}), **extra)


def get(client, key, path):
    return client.get(path, headers={"Authorization": f"Bearer {key}"})


def assert_error(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert data["code"] == code and isinstance(data["error"], str) and data["error"]
    assert set(data) <= {"error", "code", "fields"}
    return data


def test_400_field_errors_name_the_field(client, key):
    response = post(client, key, MESSAGES, {"to": "+12125550100", "source": "one_to_one"})
    data = assert_error(response, 400, "invalid_fields")
    assert list(data["fields"]) == ["body"]


def test_400_malformed_json(client, key):
    assert_error(post(client, key, MESSAGES, "{"), 400, "malformed_json")


def test_400_refused_by_a_rule(client, key, world):
    """R4: a contact who opted out by text gets consent back only by texting START."""
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="permanent", consent="revoked")
    response = post(client, key, CONTACTS, {"phone": world.a1_contact.phone, "consent": {"source": "web"}})
    assert "opted out by text" in assert_error(response, 400, "refused")["error"]


def test_400_invalid_phone_in_the_path(client, key):
    assert_error(get(client, key, "/api/v1/contacts/hello"), 400, "invalid_phone")


def test_400_disallowed_host_is_json_under_the_api(client, key):
    response = client.get("/api/v1/contacts/+12125550100", headers={"Host": "evil.example"})
    assert_error(response, 400, "bad_request")


def test_401_without_a_valid_key(client):
    response = post(client, "tw_wrong", MESSAGES, SEND)
    assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"] == "Bearer"


def test_403_is_json_under_the_api(rf):
    """Not answered by any v1 endpoint today (a key only ever sees its own sub-account, and
    another tenant's ids are 404); a PermissionDenied under /api/ is JSON all the same."""
    from django.core.exceptions import PermissionDenied

    from config.errors import permission_denied

    response = permission_denied(rf.get("/api/v1/contacts"), PermissionDenied())
    assert_error(response, 403, "forbidden")
    assert b"<html" in permission_denied(rf.get("/s/"), PermissionDenied()).content.lower()


@pytest.mark.parametrize("path", ["/api/", "/api/v1/nothing-here", "/api/v2/messages", "/api/v1/messages/not-a-uuid"])
def test_404_for_any_unknown_api_url_and_method(client, key, path):
    assert_error(get(client, key, path), 404, "not_found")
    assert_error(client.delete(path), 404, "not_found")


def test_405_names_the_allowed_methods(client, key):
    response = client.delete(MESSAGES, headers={"Authorization": f"Bearer {key}"})
    assert_error(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, POST"


def test_409_idempotency_key_used_for_another_request(client, key):
    headers = {"Idempotency-Key": "order-1"}
    assert post(client, key, MESSAGES, SEND, headers=headers).status_code == 201
    assert_error(post(client, key, MESSAGES, SEND | {"body": "Other"}, headers=headers), 409, "idempotency_key_reused")


def test_413_over_the_api_limit_before_reading(client, key, settings):
    settings.API_MAX_REQUEST_BYTES = 1000
    response = post(client, key, MESSAGES, SEND | {"body": "x" * 1000})
    assert "1,000 bytes" in assert_error(response, 413, "payload_too_large")["error"]
    assert not Message.objects.exists()


def test_413_over_djangos_own_limit_too(client, key, settings):
    """DATA_UPLOAD_MAX_MEMORY_SIZE raises RequestDataTooBig, which Django answers with an HTML
    400 page; the API answers 413 JSON."""
    settings.API_MAX_REQUEST_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000, 1000
    assert_error(post(client, key, MESSAGES, SEND | {"body": "x" * 1500}), 413, "payload_too_large")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"]
)
def test_415_for_a_body_that_is_not_json(client, key, content_type):
    response = post(client, key, MESSAGES, json.dumps(SEND), content_type=content_type)
    assert_error(response, 415, "unsupported_media_type")
    assert not Message.objects.exists()


def test_json_with_utf8_charset_is_accepted(client, key):
    response = post(client, key, MESSAGES, json.dumps(SEND), content_type="application/json; charset=UTF-8")
    assert response.status_code == 201


def test_500_is_json_without_internals(key):
    """The database refuses a statement in a way no code expects: the client gets a sentence,
    the log gets the traceback."""

    def broken(execute, sql, params, many, context):
        raise ProgrammingError('relation "secret_table" does not exist at /srv/textwise/app.py')

    client = Client(raise_request_exception=False)
    with connection.execute_wrapper(broken):
        response = post(client, key, MESSAGES, SEND)
    data = assert_error(response, 500, "internal_error")
    assert "secret" not in response.content.decode() and "Traceback" not in data["error"]


def test_503_with_retry_after_while_the_database_is_unreachable(client, key, dead_database):
    with dead_database():
        for response in (post(client, key, MESSAGES, SEND), get(client, key, "/api/v1/contacts/+12125550100")):
            assert_error(response, 503, "service_unavailable")
            assert response["Retry-After"] == "30"
    assert not Message.objects.exists()
    assert post(client, key, MESSAGES, SEND).status_code == 201  # and back by itself
