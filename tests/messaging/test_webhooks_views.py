"""Settings → Webhooks: owners and agency admins only (403 for the sub-account's other users, 404
for another tenant), create with the SSRF guard at save, the secret shown once, edit, turn off and
on, roll the secret, delete after a confirmation, the delivery log (newest first, keyset pages),
"Send again" with the same event id and body, and a test event delivered to a real receiver."""

import re

import pytest
from django.urls import reverse

from messaging import webhooks_out
from messaging.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from messaging.webhooks_out import manage
from tests.messaging.test_webhooks_out import doc_recipe

pytestmark = pytest.mark.django_db
PUBLIC_URL = "https://93.184.215.14/hooks"  # a public address: the guard resolves it without DNS


def endpoint_of(sub_account, url=PUBLIC_URL, events=("message.status",)):
    return WebhookEndpoint.objects.create(
        sub_account=sub_account, url=url, events=list(events), secret=webhooks_out.new_secret()
    )


def list_url(sub_account):
    return reverse("webhook_list", args=[sub_account.pk])


def detail_url(endpoint):
    return reverse("webhook_detail", args=[endpoint.sub_account_id, endpoint.pk])


@pytest.mark.parametrize("who", ["a1_owner", "a_admin"])
def test_owner_and_agency_admin_create_and_see_the_secret_once(world, login, who):
    client = login(getattr(world, who))
    response = client.post(list_url(world.a1), {"url": PUBLIC_URL, "events": ["message.status", "contact.opted_out"]})
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(sub_account=world.a1)
    assert endpoint.events == ["message.status", "contact.opted_out"] and endpoint.enabled
    page = response.content.decode()
    assert endpoint.secret in page and "shown only this once" in page
    assert "no-store" in response["Cache-Control"]
    for url in (list_url(world.a1), detail_url(endpoint)):
        again = client.get(url).content.decode()
        assert endpoint.secret not in again and PUBLIC_URL in again


def test_sidebar_lists_webhooks(world, login):
    page = login(world.a1_owner).get(list_url(world.a1)).content.decode()
    assert 'data-testid="webhooks-empty"' in page and f'href="{list_url(world.a1)}"' in page


@pytest.mark.parametrize("who", ["a1_user", "a_staff"])
def test_other_roles_of_the_sub_account_are_refused(world, login, who):
    endpoint = endpoint_of(world.a1)
    client = login(getattr(world, who))
    assert client.get(list_url(world.a1)).status_code == 403
    assert client.get(detail_url(endpoint)).status_code == 403
    assert client.post(list_url(world.a1), {"url": PUBLIC_URL, "events": ["message.status"]}).status_code == 403
    url = reverse("webhook_delete", args=[world.a1.pk, endpoint.pk])
    assert client.post(url).status_code == 403
    assert WebhookEndpoint.objects.filter(sub_account=world.a1).count() == 1


def test_another_tenant_gets_404(world, login):
    endpoint = endpoint_of(world.a1)
    delivery = manage.endpoint_send_test(endpoint=endpoint)
    client = login(world.b_admin)
    assert client.get(list_url(world.a1)).status_code == 404
    assert client.get(detail_url(endpoint)).status_code == 404
    # b1's own pages with a1's endpoint id: not found either
    for name, args in [
        ("webhook_detail", [world.b1.pk, endpoint.pk]),
        ("webhook_toggle", [world.b1.pk, endpoint.pk]),
        ("webhook_roll_secret", [world.b1.pk, endpoint.pk]),
        ("webhook_send_test", [world.b1.pk, endpoint.pk]),
        ("webhook_delete", [world.b1.pk, endpoint.pk]),
        ("webhook_send_again", [world.b1.pk, endpoint.pk, delivery.pk]),
    ]:
        assert client.post(reverse(name, args=args)).status_code == 404, name
    endpoint.refresh_from_db()
    assert endpoint.enabled and WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.1/hook", "https://10.0.0.5/hook", "https://169.254.169.254/latest", "https://[::1]/x",
     "http://93.184.215.14/plain-http"],
)  # fmt: skip
def test_ssrf_targets_are_refused_at_save_and_the_input_kept(world, login, settings, url):
    settings.WEBHOOKS_ALLOW_LOOPBACK = False
    response = login(world.a1_owner).post(list_url(world.a1), {"url": url, "events": ["contact.opted_in"]})
    assert response.status_code == 400
    page = response.content.decode()
    assert "private or reserved network" in page or "must start with https://" in page
    assert f'value="{url}"' in page  # the input is kept: the address and the ticked event
    assert re.search(r'value="contact\.opted_in"[^>]*checked', page)
    assert not re.search(r'value="message\.status"[^>]*checked', page)
    assert not WebhookEndpoint.objects.exists()


def test_no_events_is_a_form_error(world, login):
    response = login(world.a1_owner).post(list_url(world.a1), {"url": PUBLIC_URL})
    assert response.status_code == 400
    assert "Choose at least one event." in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_edit_events_and_address(world, login):
    endpoint = endpoint_of(world.a1)
    client = login(world.a1_owner)
    response = client.post(detail_url(endpoint), {"url": PUBLIC_URL + "/v2", "events": ["message.inbound"]})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url == PUBLIC_URL + "/v2" and endpoint.events == ["message.inbound"]
    refused = client.post(detail_url(endpoint), {"url": "https://192.168.1.1/", "events": ["message.inbound"]})
    assert refused.status_code == 400 and "private or reserved network" in refused.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == PUBLIC_URL + "/v2"


def test_turn_off_and_on_clears_the_failure_count(world, login):
    endpoint = endpoint_of(world.a1)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failure_count=7)
    client = login(world.a1_owner)
    toggle = reverse("webhook_toggle", args=[world.a1.pk, endpoint.pk])
    client.post(toggle)
    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.failure_count == 7
    assert webhooks_out.emit(world.a1.pk, "message.status", {}) == []
    page = client.get(detail_url(endpoint)).content.decode()
    assert "Turned off" in page and "Turn on" in page
    client.post(toggle)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failure_count == 0


def test_the_page_says_why_it_turned_off_and_shows_each_attempt(world, login, receiver):
    receiver.status = 500
    endpoint = endpoint_of(world.a1, url=receiver.url)
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
    webhooks_out.deliver(delivery.pk)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)  # retry due
    receiver.status = 200
    webhooks_out.deliver(delivery.pk)
    webhooks_out.endpoint_disable(endpoint, reason="The endpoint answered 410 Gone.", now=delivery.created_at)
    client = login(world.a1_owner)
    page = client.get(detail_url(endpoint)).content.decode()
    assert 'data-testid="disabled-reason"' in page and "The endpoint answered 410 Gone." in page
    attempts = re.search(r'data-testid="delivery-attempts">(.*?)</ol>', page, re.S).group(1)
    assert attempts.count("<li>") == 2 and "HTTP 500" in attempts and "HTTP 200" in attempts
    client.post(reverse("webhook_toggle", args=[world.a1.pk, endpoint.pk]))  # on again: the reason goes
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.disabled_reason == "" and endpoint.disabled_at is None


def test_roll_secret_shows_the_new_one_once(world, login):
    endpoint = endpoint_of(world.a1)
    old = endpoint.secret
    client = login(world.a1_owner)
    response = client.post(reverse("webhook_roll_secret", args=[world.a1.pk, endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert endpoint.secret not in client.get(detail_url(endpoint)).content.decode()


def test_delete_after_confirmation(world, login):
    endpoint = endpoint_of(world.a1)
    manage.endpoint_send_test(endpoint=endpoint)
    client = login(world.a1_owner)
    url = reverse("webhook_delete", args=[world.a1.pk, endpoint.pk])
    confirm = client.get(url)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == list_url(world.a1)
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert not WebhookDelivery.objects.exists()


def test_send_test_event_is_delivered_signed(world, login, receiver, run_jobs, django_capture_on_commit_callbacks):
    endpoint = endpoint_of(world.a1, url=receiver.url, events=["contact.opted_in"])
    client = login(world.a1_owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("webhook_send_test", args=[world.a1.pk, endpoint.pk]), follow=True)
    assert "Test event sent" in response.content.decode()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event_type == "webhook.test" and delivery.state == DeliveryState.PENDING
    run_jobs()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DELIVERED and delivery.last_status_code == 200
    headers, body = receiver.requests[0]
    assert doc_recipe()(endpoint.secret, headers["Textwise-Signature"], body)
    assert headers["Textwise-Event-Id"] == str(delivery.event_id)
    log = client.get(detail_url(endpoint)).content.decode()
    assert "webhook.test" in log and "HTTP 200" in log and str(delivery.event_id) in log


def test_send_again_is_a_new_delivery_of_the_same_event(
    world, login, receiver, run_jobs, django_capture_on_commit_callbacks
):
    receiver.status = 500
    endpoint = endpoint_of(world.a1, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        (first,) = webhooks_out.emit(world.a1.pk, "message.status", {"status": "delivered"})
    run_jobs()
    first.refresh_from_db()
    assert first.state == DeliveryState.PENDING and first.last_status_code == 500
    receiver.status = 200
    client = login(world.a1_owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("webhook_send_again", args=[world.a1.pk, endpoint.pk, first.pk]))
    run_jobs()
    again = WebhookDelivery.objects.exclude(pk=first.pk).get()
    assert again.event_id == first.event_id and again.body == first.body and again.event_type == "message.status"
    assert again.state == DeliveryState.DELIVERED
    first.refresh_from_db()
    assert first.last_status_code == 500 and first.attempts == 1  # the old row keeps what happened
    assert {h["Textwise-Event-Id"] for h, _ in receiver.requests} == {str(first.event_id)}


def test_send_again_and_test_refused_while_turned_off(world, login):
    endpoint = endpoint_of(world.a1)
    delivery = manage.endpoint_send_test(endpoint=endpoint)
    manage.endpoint_update(endpoint=endpoint, enabled=False)
    client = login(world.a1_owner)
    response = client.post(reverse("webhook_send_test", args=[world.a1.pk, endpoint.pk]), follow=True)
    assert manage.ENDPOINT_OFF in response.content.decode()
    client.post(reverse("webhook_send_again", args=[world.a1.pk, endpoint.pk, delivery.pk]))
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1


def test_log_is_newest_first_in_keyset_pages(world, login):
    endpoint = endpoint_of(world.a1)
    made = [manage.endpoint_send_test(endpoint=endpoint) for _ in range(30)]
    client = login(world.a1_owner)
    first = client.get(detail_url(endpoint))
    rows = first.context["page"].items
    assert [d.pk for d in rows] == [d.pk for d in reversed(made)][:25] and first.context["page"].has_next
    assert first.context["polling"]  # pending deliveries: the log refreshes itself
    older = client.get(
        detail_url(endpoint), {"after": first.context["page"].next_cursor}, headers={"HX-Request": "true"}
    )
    html = older.content.decode()
    shown = [int(pk) for pk in re.findall(r'data-delivery="(\d+)"', html)]
    assert shown == [d.pk for d in reversed(made)][25:]
    assert html.lstrip().startswith('<div id="log"') and "<h1>" not in html  # the partial alone
