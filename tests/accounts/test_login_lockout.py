"""Login lockout (django-axes, configured in config/settings.py "Throttling"): after
LOGIN_FAILURE_LIMIT wrong passwords for one account from one address, that pair is locked out
for LOGIN_LOCKOUT_MINUTES with a page of our own (429); a successful login resets the count;
the cool-off, a new password from a reset link, or support (the admin) lifts it."""

import re
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from axes.models import AccessAttempt
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 15, 0, 0, tzinfo=UTC)
EMAIL = "owner@sunrise.test"  # world.a1_owner
LOCKED = "Too many failed logins"


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def log_in(client, password, *, email=EMAIL, ip="198.51.100.7"):
    return client.post(reverse("login"), {"username": email, "password": password}, REMOTE_ADDR=ip)


def logged_in(client):
    return "_auth_user_id" in client.session


def fail(client, times, **kwargs):
    return [log_in(client, "wrong-password", **kwargs) for _ in range(times)]


def test_locked_out_after_five_failures_and_then_the_right_password_is_refused(client, world, clock):
    answers = fail(client, 5)
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429]
    assert "Please enter a correct email address and password" in answers[3].content.decode()
    assert LOCKED in answers[4].content.decode()

    refused = log_in(client, PASSWORD)
    html = refused.content.decode()
    assert refused.status_code == 429 and not logged_in(client)
    assert f"After 5 wrong passwords, logging in as <strong>{EMAIL}</strong>" in html
    assert "paused for 15 minutes. Even the right password is refused until then." in html
    assert reverse("password_reset") in html


def test_the_lockout_page_escapes_what_was_typed(client, world, clock):
    answer = fail(client, 5, email="<script>x</script>@e.test")[-1]
    assert answer.status_code == 429 and "&lt;script&gt;x&lt;/script&gt;" in answer.content.decode()


def test_the_cool_off_ends_fifteen_minutes_after_the_last_counted_failure(client, world, clock):
    fail(client, 5)
    clock.shift(timedelta(minutes=10))
    assert log_in(client, "another-guess").status_code == 429  # a try while locked does not extend it
    clock.shift(timedelta(minutes=5, seconds=-1))
    assert log_in(client, PASSWORD).status_code == 429
    clock.shift(timedelta(seconds=2))
    assert log_in(client, PASSWORD).status_code == 302 and logged_in(client)


def test_a_successful_login_resets_the_count(client, world, clock):
    fail(client, 4)
    assert log_in(client, PASSWORD).status_code == 302
    client.logout()
    assert [r.status_code for r in fail(client, 4)] == [200] * 4  # four more, not locked yet
    assert log_in(client, PASSWORD).status_code == 302


def test_the_lock_is_per_account_and_address(client, world, clock):
    """A stranger who knows the email address cannot lock its owner out elsewhere, and one
    locked account does not lock out a colleague on the same network."""
    fail(client, 5)
    assert log_in(client, PASSWORD, ip="203.0.113.20").status_code == 302  # the owner, from elsewhere
    client.logout()
    assert log_in(client, PASSWORD, email="user@sunrise.test").status_code == 302  # same address, other account


def test_varying_the_user_agent_does_not_reset_the_count(client, world, clock):
    for agent in ("a", "b", "c", "d", "e"):
        client.post(reverse("login"), {"username": EMAIL, "password": "x"}, REMOTE_ADDR="198.51.100.7",
                    HTTP_USER_AGENT=agent)  # fmt: skip
    assert log_in(client, PASSWORD).status_code == 429


def test_the_admin_login_is_locked_out_too(client, world, clock):
    User.objects.create_superuser("root@ops.test", PASSWORD)
    for _ in range(5):
        client.post(reverse("admin:login"), {"username": "root@ops.test", "password": "x"}, REMOTE_ADDR="198.51.100.7")
    response = client.post(
        reverse("admin:login"), {"username": "root@ops.test", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 429 and not logged_in(client)


def test_support_unlocks_in_the_admin(client, world, clock):
    fail(client, 5)
    admin = User.objects.create_superuser("root@ops.test", PASSWORD)
    client.force_login(admin)
    listing = client.get(reverse("admin:axes_accessattempt_changelist"), {"q": EMAIL})
    assert listing.status_code == 200 and EMAIL in listing.content.decode()
    attempt = AccessAttempt.objects.get(username=EMAIL)
    confirm = {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"}
    assert client.post(reverse("admin:axes_accessattempt_changelist"), confirm).status_code == 302
    client.logout()
    assert log_in(client, PASSWORD).status_code == 302 and logged_in(client)


def test_an_operator_unlocks_with_the_command(client, world, clock):
    fail(client, 5)
    call_command("axes_reset_username", EMAIL, stdout=StringIO())
    assert log_in(client, PASSWORD).status_code == 302


def test_a_new_password_from_a_reset_link_lifts_the_lock(client, world, clock, mailoutbox):
    fail(client, 5)
    client.post(reverse("password_reset"), {"email": EMAIL})
    link = re.search(r"https?://[^/\s]+(/accounts/reset/[^/\s]+/[^/\s]+/)", mailoutbox[0].body).group(1)
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    new = "purple-otter-lantern-42"
    assert client.post(set_url, {"new_password1": new, "new_password2": new}).status_code == 302
    assert log_in(client, new).status_code == 302 and logged_in(client)


def test_with_axes_off_nothing_is_locked(client, world, settings):
    """AXES_ENABLED is the one switch (tests that need many failed logins may use it)."""
    settings.AXES_ENABLED = False
    fail(client, 8)
    assert log_in(client, PASSWORD).status_code == 302
