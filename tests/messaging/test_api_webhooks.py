"""The webhook endpoints' API: list, create (the secret once), read, change, delete, an endpoint's
deliveries (newest first, keyset pages), send one again with the same event id, a test event; the
key's sub-account only (another tenant's ids are 404); the SSRF guard at save; JSON errors."""

import json

import pytest

from messaging import webhooks_out
from messaging.keys import api_key_create
from messaging.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from messaging.webhooks_out import manage
from tests.messaging.test_webhooks_out import Receiver

pytestmark = pytest.mark.django_db
PUBLIC_URL = "https://93.184.215.14/hooks"  # a public address: the guard resolves it without DNS


@pytest.fixture
def api(client, world):
    """`api.post/patch/get/delete(path)` with a valid key of a1."""
    _, key = api_key_create(sub_account=world.a1, name="Tests", user=world.a1_owner)
    headers = {"Authorization": f"Bearer {key}"}

    class Api:
        def post(self, path, data=None):
            body = "" if data is None else json.dumps(data)
            return client.post(path, body, content_type="application/json", headers=headers)

        def patch(self, path, data):
            return client.patch(path, json.dumps(data), content_type="application/json", headers=headers)

        def get(self, path, **params):
            return client.get(path, params, headers=headers)

        def delete(self, path):
            return client.delete(path, headers=headers)

    return Api()


def endpoint_of(sub_account, url=PUBLIC_URL, events=("message.status",)):
    return WebhookEndpoint.objects.create(
        sub_account=sub_account, url=url, events=list(events), secret=webhooks_out.new_secret()
    )


def test_create_returns_the_secret_once_and_list_and_read_never(world, api):
    response = api.post("/api/v1/webhooks", {"url": PUBLIC_URL, "events": ["contact.opted_out", "message.status"]})
    assert response.status_code == 201
    created = response.json()
    endpoint = WebhookEndpoint.objects.get(sub_account=world.a1)
    assert created["secret"] == endpoint.secret and created["secret"].startswith("whsec_")
    assert created["id"] == endpoint.pk and created["enabled"] is True and created["failure_count"] == 0
    assert set(created["events"]) == {"contact.opted_out", "message.status"}
    listed = api.get("/api/v1/webhooks").json()["webhooks"]
    assert [e["id"] for e in listed] == [endpoint.pk] and "secret" not in listed[0]
    read = api.get(f"/api/v1/webhooks/{endpoint.pk}").json()
    assert read["url"] == PUBLIC_URL and "secret" not in read


@pytest.mark.parametrize(
    ("url", "words"),
    [("https://127.0.0.1/hook", "private or reserved"), ("https://10.1.2.3/", "private or reserved"),
     ("https://169.254.169.254/latest/meta-data", "private or reserved"), ("http://93.184.215.14/", "https://")],
)  # fmt: skip
def test_ssrf_targets_are_refused_at_save(world, api, settings, url, words):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    response = api.post("/api/v1/webhooks", {"url": url, "events": ["message.status"]})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_fields" and words in body["fields"]["url"][0]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [({"url": PUBLIC_URL}, "events"), ({"url": PUBLIC_URL, "events": []}, "events"),
     ({"url": PUBLIC_URL, "events": ["message.sent"]}, "events"),
     ({"url": PUBLIC_URL, "events": "message.status"}, "events"),
     ({"events": ["message.status"]}, "url"), ({"url": ["x"], "events": ["message.status"]}, "url"),
     ({"url": PUBLIC_URL, "events": ["message.status"], "enabled": "yes"}, "enabled")],
)  # fmt: skip
def test_invalid_fields(world, api, data, field):
    response = api.post("/api/v1/webhooks", data)
    assert response.status_code == 400 and response.json()["code"] == "invalid_fields"
    assert list(response.json()["fields"]) == [field]
    assert not WebhookEndpoint.objects.exists()


def test_update_events_enabled_and_url(world, api, settings):
    endpoint = endpoint_of(world.a1)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failure_count=4, enabled=False)
    response = api.patch(f"/api/v1/webhooks/{endpoint.pk}", {"events": ["message.inbound"], "enabled": True})
    assert response.status_code == 200
    assert response.json() | {"created_at": None} == {
        "id": endpoint.pk, "url": PUBLIC_URL, "events": ["message.inbound"], "enabled": True, "failure_count": 0,
        "disabled_at": None, "disabled_reason": "",
        "created_at": None,
    }  # fmt: skip
    assert api.patch(f"/api/v1/webhooks/{endpoint.pk}", {"url": PUBLIC_URL + "/v2"}).json()["url"] == PUBLIC_URL + "/v2"
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    refused = api.patch(f"/api/v1/webhooks/{endpoint.pk}", {"url": "https://192.168.0.1/"})
    assert refused.status_code == 400 and "url" in refused.json()["fields"]
    endpoint.refresh_from_db()
    assert endpoint.url == PUBLIC_URL + "/v2" and endpoint.events == ["message.inbound"] and endpoint.enabled
    assert api.patch(f"/api/v1/webhooks/{endpoint.pk}", {"events": []}).status_code == 400
    off = api.patch(f"/api/v1/webhooks/{endpoint.pk}", {"enabled": False}).json()
    assert off["enabled"] is False and off["events"] == ["message.inbound"]


def test_delete(world, api):
    endpoint = endpoint_of(world.a1)
    manage.endpoint_send_test(endpoint=endpoint)
    response = api.delete(f"/api/v1/webhooks/{endpoint.pk}")
    assert response.status_code == 200 and response.json() == {"id": endpoint.pk, "deleted": True}
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()
    assert api.get(f"/api/v1/webhooks/{endpoint.pk}").status_code == 404


def test_another_tenants_endpoint_is_404(world, api):
    theirs = endpoint_of(world.b1)
    delivery = manage.endpoint_send_test(endpoint=theirs)
    assert api.get("/api/v1/webhooks").json() == {"webhooks": []}
    base = f"/api/v1/webhooks/{theirs.pk}"
    for response in (
        api.get(base), api.patch(base, {"enabled": False}), api.delete(base), api.get(base + "/deliveries"),
        api.post(base + "/test"), api.post(f"{base}/deliveries/{delivery.pk}/redeliver"),
    ):  # fmt: skip
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.enabled and WebhookDelivery.objects.count() == 1


def test_a_delivery_of_another_endpoint_is_404(world, api):
    mine, other = endpoint_of(world.a1), endpoint_of(world.a1)
    delivery = manage.endpoint_send_test(endpoint=other)
    response = api.post(f"/api/v1/webhooks/{mine.pk}/deliveries/{delivery.pk}/redeliver")
    assert response.status_code == 404


def test_deliveries_newest_first_in_pages(world, api):
    endpoint = endpoint_of(world.a1)
    made = [manage.endpoint_send_test(endpoint=endpoint) for _ in range(55)]
    first = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries").json()
    assert [d["id"] for d in first["deliveries"]] == [d.pk for d in reversed(made)][:50]
    assert first["deliveries"][0]["event_type"] == "webhook.test" and first["deliveries"][0]["state"] == "pending"
    second = api.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries", after=first["next_cursor"]).json()
    assert [d["id"] for d in second["deliveries"]] == [d.pk for d in reversed(made)][50:]
    assert second["next_cursor"] is None


def test_redeliver_and_test_event_reach_the_receiver(
    world, api, settings, run_jobs, django_capture_on_commit_callbacks
):
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    receiver = Receiver()
    try:
        endpoint = endpoint_of(world.a1, url=receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            test = api.post(f"/api/v1/webhooks/{endpoint.pk}/test")
        assert test.status_code == 201 and test.json()["event_type"] == "webhook.test"
        run_jobs()
        delivered = WebhookDelivery.objects.get(pk=test.json()["id"])
        assert delivered.state == DeliveryState.DELIVERED and delivered.last_status_code == 200
        with django_capture_on_commit_callbacks(execute=True):
            again = api.post(f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivered.pk}/redeliver")
        assert again.status_code == 201
        assert again.json()["event_id"] == str(delivered.event_id) and again.json()["id"] != delivered.pk
        run_jobs()
        assert [json.loads(body)["id"] for _, body in receiver.requests] == [str(delivered.event_id)] * 2
        assert WebhookDelivery.objects.get(pk=again.json()["id"]).state == DeliveryState.DELIVERED
    finally:
        receiver.close()


def test_sends_to_a_turned_off_endpoint_are_a_conflict(world, api):
    endpoint = endpoint_of(world.a1)
    delivery = manage.endpoint_send_test(endpoint=endpoint)
    manage.endpoint_update(endpoint=endpoint, enabled=False)
    for path in (
        f"/api/v1/webhooks/{endpoint.pk}/test",
        f"/api/v1/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver",
    ):
        response = api.post(path)
        assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert WebhookDelivery.objects.count() == 1


def test_methods_and_auth(world, api, client):
    endpoint = endpoint_of(world.a1)
    assert client.get("/api/v1/webhooks").status_code == 401
    response = api.post(f"/api/v1/webhooks/{endpoint.pk}", {"enabled": False})
    assert response.status_code == 405 and response["Allow"] == "GET, PATCH, DELETE"
    assert api.get("/api/v1/webhooks/not-a-number").status_code == 404
    # an action without fields takes no body or `{}`; a body that is not JSON is still refused
    assert api.post(f"/api/v1/webhooks/{endpoint.pk}/test", {}).status_code == 201
    assert api.post("/api/v1/webhooks", None).json()["code"] == "malformed_json"
