"""Idempotency-Key on API POSTs (as Stripe): the same key and request within 24 h get the first
answer again and do nothing more; the same key with another request is a 409; keys belong to
one API key; a request that failed leaves its key free."""

import json
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, connections, transaction
from django.test import Client
from django.utils import timezone

from messaging.idempotency import idempotency_keys_purge
from messaging.keys import api_key_create
from messaging.models import Contact, IdempotencyKey, Message

MESSAGES, CONTACTS = "/api/v1/messages", "/api/v1/contacts"
SEND = {"to": "+12125550100", "body": "Your table is ready", "source": "one_to_one"}


@pytest.fixture
def key(world):
    return api_key_create(sub_account=world.a1, name="Tests")[1]


def post(client, key, data, *, idempotency_key="order-1001", path=MESSAGES):
    body = data if isinstance(data, str) else json.dumps(data)
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return client.post(path, body, content_type="application/json", headers=headers)


@pytest.mark.django_db
def test_the_same_request_again_is_answered_from_the_first_and_sends_nothing(client, key):
    first = post(client, key, SEND)
    again = post(client, key, '{"source": "one_to_one",  "body": "Your table is ready", "to": "+12125550100"}')
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Message.objects.count() == 1 and IdempotencyKey.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_request_is_409_and_changes_nothing(client, key):
    post(client, key, SEND)
    other_body = post(client, key, SEND | {"body": "Another text"})
    other_path = post(client, key, {"phone": "+12125550100"}, path=CONTACTS)
    for response in (other_body, other_path):
        assert response.status_code == 409 and response.json()["code"] == "idempotency_key_reused"
    assert Message.objects.count() == 1 and Contact.objects.filter(first_name="").count() == 0


@pytest.mark.django_db
def test_without_a_key_every_request_is_new(client, key):
    for _ in range(2):
        assert post(client, key, SEND, idempotency_key=None).status_code == 201
    assert Message.objects.count() == 2 and not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_keys_belong_to_one_api_key(client, key, world):
    """Two integrations may both call their first request "1"."""
    other_key = api_key_create(sub_account=world.a1, name="Zapier")[1]
    b1_key = api_key_create(sub_account=world.b1, name="Other tenant")[1]
    assert post(client, key, SEND, idempotency_key="1").status_code == 201
    assert post(client, other_key, SEND, idempotency_key="1").status_code == 201
    response = post(client, b1_key, SEND | {"to": world.b1_contact.phone}, idempotency_key="1")
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Message.objects.filter(sub_account=world.a1).count() == 2
    assert Message.objects.filter(sub_account=world.b1).count() == 1


@pytest.mark.django_db
def test_a_refused_request_does_not_use_up_its_key(client, key):
    """Nothing was done, so nothing is remembered: the corrected request may use the same key."""
    assert post(client, key, SEND | {"body": ""}).status_code == 400
    assert not IdempotencyKey.objects.exists()
    assert post(client, key, SEND).status_code == 201


@pytest.mark.django_db
def test_a_message_refused_by_a_rule_is_replayed_as_refused(client, key, world):
    """R2: the refusal is the answer (201 failed); asking again gets the same one, not a second row."""
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="permanent")
    first, again = post(client, key, SEND), post(client, key, SEND)
    assert first.json()["status"] == "failed" and again.content == first.content
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_kept_24_hours(client, key):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        post(client, key, SEND)
    with time_machine.travel(start + timedelta(hours=24) - timedelta(seconds=1), tick=False):
        assert post(client, key, SEND)["Idempotent-Replayed"] == "true"
        assert idempotency_keys_purge() == 0
    with time_machine.travel(start + timedelta(hours=24), tick=False):
        response = post(client, key, SEND)
        assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Message.objects.count() == 2 and IdempotencyKey.objects.count() == 1
    with time_machine.travel(start + timedelta(hours=48, seconds=1), tick=False):
        assert idempotency_keys_purge() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["", "   ", "x" * 256, "café", "tab\there"])
def test_a_malformed_key_is_400(client, key, bad):
    response = post(client, key, SEND, idempotency_key=bad)
    assert response.status_code == 400 and response.json()["code"] == "invalid_idempotency_key"
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks (CI runs it)")
def test_two_concurrent_first_uses_of_one_key_send_once(world, key):
    """The race: the second request's INSERT of the key waits on the unique index for the
    first's transaction, then reads its answer. Made deterministic by holding the contact's
    row lock, which the first request needs after it has inserted its key."""
    responses = {}

    def request(name):
        try:
            responses[name] = post(Client(), key, SEND)
        finally:
            connections.close_all()

    def waiting_on_locks():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # else frozen for the transaction
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return cursor.fetchone()[0]

    def wait_for(count):
        deadline = time.monotonic() + 30
        while waiting_on_locks() < count:
            assert time.monotonic() < deadline, "the requests never reached their lock waits"
            time.sleep(0.02)

    threads = [threading.Thread(target=request, args=(name,)) for name in ("first", "second")]
    with transaction.atomic():
        Contact.objects.select_for_update().get(pk=world.a1_contact.pk)
        threads[0].start()
        wait_for(1)  # the first holds its key and waits for the contact
        threads[1].start()
        wait_for(2)  # the second waits for the first's key
    for thread in threads:
        thread.join(timeout=30)
    assert responses["first"].status_code == responses["second"].status_code == 201
    assert responses["second"].content == responses["first"].content
    assert responses["second"]["Idempotent-Replayed"] == "true"
    assert Message.objects.count() == 1 and IdempotencyKey.objects.count() == 1
