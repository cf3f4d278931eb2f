"""R7 refusal through the two one-to-one entry points a user meets: the JSON API
(`POST /api/v1/messages`) and the conversation page's send box. The sub-account reaches its
level-1 limit through the real send service, then each entry point must refuse with exactly
`You have exceeded your SMS sending limit.`, until the 24-hour restriction ends.
(The R2 DND refusal through both is in test_api.py and test_conversations.py.)"""

from datetime import UTC, datetime, timedelta

import django_rq
import pytest
import time_machine
from django.urls import reverse

from compliance.models import RampState
from messaging import services
from messaging.keys import api_key_create
from messaging.models import Contact, Message, Status

pytestmark = pytest.mark.django_db

EXCEEDED = "You have exceeded your SMS sending limit."
T0 = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
DAY = timedelta(hours=24)
SECOND = timedelta(seconds=1)
HTMX = {"HX-Request": "true"}
MESSAGES = "/api/v1/messages"


@pytest.fixture
def limit_reached(world):
    """R7 level 1: 100 bulk messages at T0 restrict Sunrise Dental until T0 + 24 h."""
    contacts = Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1305555{i:04d}", consent="granted") for i in range(100)
    )
    with time_machine.travel(T0, tick=False):
        services.messages_send(sub_account=world.a1, contacts=contacts, body="Promo", source="bulk")
    assert RampState.objects.get(sub_account=world.a1).restricted_until == T0 + DAY


@pytest.fixture
def api_post(client, world):
    _, raw = api_key_create(sub_account=world.a1, name="Tests", user=world.a1_owner)

    def _post(data):
        return client.post(MESSAGES, data, content_type="application/json", headers={"Authorization": f"Bearer {raw}"})

    return _post


@pytest.mark.parametrize("source", ["one_to_one", "workflow"])
def test_api_send_over_the_limit_is_201_failed_with_the_exact_refusal(world, limit_reached, api_post, source,
                                                                      django_capture_on_commit_callbacks):  # fmt: skip
    """R7: refused, but recorded (201, status failed), so an integration sees why."""
    Contact.objects.filter(pk=world.a1_contact.pk).update(consent="granted")
    with time_machine.travel(T0 + DAY - SECOND, tick=False), django_capture_on_commit_callbacks(execute=True):
        response = api_post({"to": world.a1_contact.phone, "body": "See you at 10", "source": source})
    assert response.status_code == 201
    data = response.json()
    assert (data["status"], data["failure_reason"]) == ("failed", EXCEEDED)
    message = Message.objects.get(pk=data["id"])
    assert (message.status, message.failure_reason, message.source) == (Status.FAILED, EXCEEDED, source)
    # Nothing goes to the carrier: no dispatch run in either lane.
    assert django_rq.get_queue("dispatch").count == django_rq.get_queue("dispatch_person").count == 0


def test_api_send_is_accepted_again_when_the_restriction_ends(world, limit_reached, api_post):
    """R7: at 24 h exactly level 2 is unlocked and the same request is queued."""
    with time_machine.travel(T0 + DAY, tick=False):
        response = api_post({"to": world.a1_contact.phone, "body": "Hi", "source": "one_to_one"})
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["failure_reason"]) == ("queued", "")
    state = RampState.objects.get(sub_account=world.a1)
    assert (state.level, state.window_count) == (2, 1)


def send_url(world):
    return reverse("conversation_send", args=[world.a1.pk, world.a1_contact.pk])


def test_conversation_send_box_shows_the_exact_refusal_and_keeps_the_text(world, login, limit_reached):
    """R7 through the send box (htmx): the refusal inline, the typed text kept, the failed
    message in the thread with its reason."""
    client = login(world.a1_user)
    with time_machine.travel(T0 + DAY - SECOND, tick=False):
        response = client.post(send_url(world), {"body": "Running late?"}, headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<p class="error-text" role="alert" data-testid="send-error">{EXCEEDED}</p>' in html
    assert ">Running late?</textarea>" in html
    message = Message.objects.get(body="Running late?")
    assert (message.status, message.failure_reason, message.source) == (Status.FAILED, EXCEEDED, "one_to_one")


def test_conversation_send_without_htmx_redirects_back_with_the_refusal(world, login, limit_reached):
    client = login(world.a1_user)
    with time_machine.travel(T0 + SECOND, tick=False):
        response = client.post(send_url(world), {"body": "Hi"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("conversation", args=[world.a1.pk, world.a1_contact.pk])
    assert EXCEEDED in response.content.decode()


def test_conversation_send_goes_through_when_the_restriction_ends(world, login, limit_reached):
    client = login(world.a1_user)
    with time_machine.travel(T0 + DAY, tick=False):
        html = client.post(send_url(world), {"body": "Back again"}, headers=HTMX).content.decode()
    assert 'data-testid="send-error"' not in html
    assert Message.objects.get(body="Back again").status == Status.QUEUED
