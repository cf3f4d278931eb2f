"""Outages answer 503 + Retry-After, on pages as on the API and the webhooks: a plain page
(no debug details, nothing read from the database), so people and Twilio try again later."""

import pytest
from django.urls import reverse

from accounts.models import User
from messaging.models import ReceiptEvent
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db


def assert_unavailable_page(response):
    assert response.status_code == 503 and response["Retry-After"] == "30"
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "Back in a moment" in html and "Traceback" not in html and "OperationalError" not in html


@pytest.mark.parametrize("debug", [False, True])
def test_a_page_answers_503_while_the_database_is_unreachable(login, world, dead_database, settings, debug):
    settings.DEBUG = debug  # the middleware answers before Django's debug page would
    client = login(world.a1_owner)
    with dead_database():
        assert_unavailable_page(client.get(reverse("contact_list", args=[world.a1.pk])))
    assert client.get(reverse("contact_list", args=[world.a1.pk])).status_code == 200


def test_a_receipt_during_a_database_outage_gets_a_5xx_so_twilio_retries(client, world, dead_database):
    params = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"}
    with dead_database():
        assert post_signed(client, "/webhooks/twilio/status", params).status_code == 503
    assert not ReceiptEvent.objects.exists()
    assert post_signed(client, "/webhooks/twilio/status", params).status_code == 200  # the retry
    assert ReceiptEvent.objects.count() == 1


def test_a_page_answers_503_while_redis_is_unreachable(client, redis_down):
    """The RQ dashboard reads Redis in the request."""
    client.force_login(User.objects.create_superuser("root@ops.test", "x"))
    with redis_down():
        assert_unavailable_page(client.get("/admin/rq/"))


def test_a_page_error_is_still_djangos_plain_500_page(world, login):
    from django.db import ProgrammingError, connection

    def broken(execute, sql, params, many, context):
        raise ProgrammingError("no such table")

    client = login(world.a1_owner)
    client.raise_request_exception = False
    with connection.execute_wrapper(broken):
        response = client.get(reverse("contact_list", args=[world.a1.pk]))
    assert response.status_code == 500 and b"no such table" not in response.content
