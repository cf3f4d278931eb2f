"""R7 in the browser's pages: the dashboard ramp card, limit-extension requests and the
support queue that decides them."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from compliance.models import LimitExtensionRequest, RampState
from messaging import services
from messaging.models import Contact

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def dashboard(client, world):
    return client.get(reverse("subaccount_dashboard", args=[world.a1.pk])).content.decode()


@pytest.mark.parametrize("user_attr", ["a_admin", "a_staff", "a1_owner", "a1_user"])
def test_ramp_card_on_the_dashboard(world, login, user_attr):
    with time_machine.travel(NOW, tick=False):
        for i in range(3):
            contact = Contact.objects.create(sub_account=world.a1, phone=f"+1305555{i:04d}")
            services.message_send_one(sub_account=world.a1, contact=contact, body="Hi", source="one_to_one")
        html = dashboard(login(getattr(world, user_attr)), world)
    assert 'Level <span data-testid="ramp-level">1</span> of 8' in html
    assert '<strong data-testid="ramp-sent">3</strong> of 100 sent' in html
    assert "Unlock Level 2 by sending 100 messages by May 5, 2026, 5:00 AM EDT" in html
    assert html.count('aria-current="step"') == 1 and html.count('class="done"') == 0  # the ladder, at L1


def test_ramp_card_during_restriction(world, login):
    RampState.objects.create(sub_account=world.a1, level=2, window_start=NOW, window_count=250,
                             restricted_until=NOW + timedelta(hours=24))  # fmt: skip
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        html = dashboard(login(world.a1_user), world)
    assert "Sending is paused: the Level 2 limit was reached. Level 3 unlocks at May 5, 2026, 5:00 AM EDT." in html


def ask(client, world, limit=8000, reason="Appointment reminders for 3 clinics."):
    return client.post(reverse("limit_request", args=[world.a1.pk]), {"requested_limit": limit, "reason": reason})


def test_limit_request_only_at_level_8_and_only_for_owners_and_agency_admins(world, login):
    assert ask(login(world.a1_owner), world).status_code == 403  # level 1
    RampState.objects.create(sub_account=world.a1, level=8)
    assert ask(login(world.a1_user), world).status_code == 403
    assert ask(login(world.b_admin), world).status_code == 404
    assert ask(login(world.a1_owner), world).status_code == 302
    assert ask(login(world.a_admin), world, limit=4000).status_code == 200  # not above 5000: form error
    assert LimitExtensionRequest.objects.count() == 1


def test_support_approves_and_the_card_shows_the_extension(world, login):
    RampState.objects.create(sub_account=world.a1, level=8)
    ask(login(world.a1_owner), world)
    request = LimitExtensionRequest.objects.get()
    client = login(world.support)
    assert "asks for 8000/day" in client.get(reverse("support_limit_requests")).content.decode()
    url = reverse("support_limit_decide", args=[request.pk])
    client.post(url, {"decision": "approve", "granted_limit": 7500, "note": ""})
    request.refresh_from_db()
    assert (request.status, request.granted_limit, request.decided_by) == ("approved", 7500, world.support)
    assert RampState.objects.get(sub_account=world.a1).limit_extension == 7500
    assert "Limit extended to 7500 a day" in dashboard(login(world.a1_user), world)
    # decided once only
    client.post(url, {"decision": "reject", "note": "changed my mind"})
    request.refresh_from_db()
    assert request.status == "approved"


def test_support_rejects_with_a_reason_the_subaccount_sees(world, login):
    RampState.objects.create(sub_account=world.a1, level=8)
    ask(login(world.a1_owner), world)
    request = LimitExtensionRequest.objects.get()
    client = login(world.support)
    url = reverse("support_limit_decide", args=[request.pk])
    client.post(url, {"decision": "reject", "note": ""})  # a reason is required
    request.refresh_from_db()
    assert request.status == "pending"
    client.post(url, {"decision": "reject", "note": "Send us your opt-in form first."})
    page = login(world.a1_owner).get(reverse("limit_request", args=[world.a1.pk])).content.decode()
    assert "Rejected" in page and "Send us your opt-in form first." in page


def test_support_queue_is_support_only(world, login):
    RampState.objects.create(sub_account=world.a1, level=8)
    ask(login(world.a1_owner), world)
    request = LimitExtensionRequest.objects.get()
    for user in (world.a_admin, world.a1_owner, world.b_admin):
        client = login(user)
        assert client.get(reverse("support_limit_requests")).status_code == 404
        url = reverse("support_limit_decide", args=[request.pk])
        assert client.post(url, {"decision": "approve", "granted_limit": 9000}).status_code == 404
    request.refresh_from_db()
    assert request.status == "pending"
