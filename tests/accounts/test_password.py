"""Password change and reset: Django's auth views (config/urls.py includes
django.contrib.auth.urls under /accounts/) with this project's templates; the reset link goes
out by email, at most a few in a row per address and per client address (accounts/forms.py)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "purple-otter-lantern-42"


def test_password_change_page_needs_login(client, world):
    response = client.get("/accounts/password_change/")
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


def test_password_change_page_renders(world, login):
    response = login(world.a1_user).get(reverse("password_change"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Change password</h1>" in html
    assert 'name="old_password"' in html and 'name="new_password1"' in html and 'name="new_password2"' in html


def test_password_change_sets_the_new_password_and_keeps_the_session(world, login, client):
    response = login(world.a1_user).post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response.url == reverse("password_change_done")
    done = client.get(response.url)
    assert done.status_code == 200 and "Your password was changed." in done.content.decode()  # still logged in
    user = User.objects.get(pk=world.a1_user.pk)
    assert user.check_password(NEW_PASSWORD) and not user.check_password(PASSWORD)


def test_password_change_with_a_wrong_old_password_changes_nothing(world, login):
    response = login(world.a1_user).post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200 and "old password was entered incorrectly" in response.content.decode()
    assert User.objects.get(pk=world.a1_user.pk).check_password(PASSWORD)


def test_password_change_applies_the_password_validators(world, login):
    response = login(world.a1_user).post(
        reverse("password_change"), {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}
    )
    assert response.status_code == 200 and "This password is too common." in response.content.decode()
    assert User.objects.get(pk=world.a1_user.pk).check_password(PASSWORD)


def test_password_reset_page_renders(client, world):
    response = client.get(reverse("password_reset"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Reset password</h1>" in html and 'name="email"' in html


def test_password_reset_emails_a_link_that_sets_a_new_password(client, world, mailoutbox):
    response = client.post(reverse("password_reset"), {"email": "Owner@Sunrise.test"})
    assert response.status_code == 302 and response.url == reverse("password_reset_done")
    assert "Check your email" in client.get(response.url).content.decode()
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["owner@sunrise.test"]
    path = re.search(r"https?://[^/\s]+(/accounts/reset/[^/\s]+/[^/\s]+/)", mailoutbox[0].body).group(1)

    form_page = client.get(path, follow=True)  # Django swaps the token for a session key and redirects
    assert form_page.status_code == 200 and "<h1>Choose a new password</h1>" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response.url == reverse("password_reset_complete")
    assert "Your new password is set." in client.get(response.url).content.decode()

    assert User.objects.get(pk=world.a1_owner.pk).check_password(NEW_PASSWORD)
    logged_in = client.post(reverse("login"), {"username": "owner@sunrise.test", "password": NEW_PASSWORD})
    assert logged_in.status_code == 302
    assert "invalid or has already been used" in client.get(path, follow=True).content.decode()  # one use only


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, world, mailoutbox):
    """No account enumeration: the same answer, no email."""
    response = client.post(reverse("password_reset"), {"email": "nobody@nowhere.test"})
    assert response.status_code == 302 and response.url == reverse("password_reset_done")
    assert mailoutbox == []


def test_a_forged_reset_link_is_refused(client, world):
    response = client.get(reverse("password_reset_confirm", args=["MQ", "set-password"]), follow=True)
    assert "This reset link is invalid or has already been used." in response.content.decode()


# --- Reset emails are throttled per address and per client address --------------------------


@pytest.fixture
def clock():
    with time_machine.travel(datetime(2026, 3, 2, 15, 0, tzinfo=UTC), tick=False) as traveller:
        yield traveller


def ask_reset(client, email, ip="198.51.100.7"):
    response = client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=ip)
    assert response.status_code == 302 and response.url == reverse("password_reset_done")  # the same answer always
    return response


def test_at_most_three_reset_emails_in_a_row_to_one_address(client, world, mailoutbox, clock, settings):
    assert settings.PASSWORD_RESET_EMAILS_PER_ADDRESS == 3
    for ip in ("198.51.100.7", "198.51.100.7", "203.0.113.5", "203.0.113.6", "203.0.113.7"):
        ask_reset(client, "owner@sunrise.test", ip)  # other client addresses do not help
    ask_reset(client, "OWNER@sunrise.test")  # nor does the case of the address
    assert len(mailoutbox) == 3
    clock.shift(timedelta(minutes=20))  # three an hour: one more every 20 minutes
    ask_reset(client, "owner@sunrise.test")
    ask_reset(client, "owner@sunrise.test")
    assert len(mailoutbox) == 4


def test_at_most_ten_reset_emails_in_a_row_from_one_client_address(client, world, mailoutbox, clock, settings):
    assert settings.PASSWORD_RESET_EMAILS_PER_IP == 10
    addresses = [u.email for u in (world.a_admin, world.a_staff, world.a1_owner, world.a1_user, world.b_admin)]
    for email in addresses * 3:
        ask_reset(client, email)
    assert len(mailoutbox) == 10
    ask_reset(client, world.support.email, ip="203.0.113.5")  # another client still gets its email
    assert len(mailoutbox) == 11


def test_unknown_addresses_count_towards_the_client_address_limit(client, world, mailoutbox, clock, settings):
    settings.PASSWORD_RESET_EMAILS_PER_IP = 2
    ask_reset(client, "nobody@nowhere.test")
    ask_reset(client, "noone@nowhere.test")
    ask_reset(client, "owner@sunrise.test")
    assert mailoutbox == []


def test_reset_emails_still_go_when_redis_is_down(client, world, mailoutbox, settings):
    """A reset email is how a locked-out user gets back in; the lockout itself is in the database."""
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    ask_reset(client, "owner@sunrise.test")
    assert len(mailoutbox) == 1


def test_a_password_change_ends_the_users_other_sessions(world, client):
    """Django's session auth hash: the changer stays logged in (update_session_auth_hash), every
    other session of the user (another browser, a stolen cookie) is logged out at its next request."""
    elsewhere, someone_else = Client(), Client()
    elsewhere.force_login(world.a1_user)
    someone_else.force_login(world.a1_owner)
    client.force_login(world.a1_user)
    page = reverse("password_change")
    assert elsewhere.get(page).status_code == 200

    change = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    response = client.post(page, change)
    assert response.status_code == 302 and response.url == reverse("password_change_done")

    assert client.get(page).status_code == 200
    logged_out = elsewhere.get(page)
    assert logged_out.status_code == 302 and logged_out.url.startswith(reverse("login"))
    assert someone_else.get(page).status_code == 200  # another user's session is not touched


def test_a_password_reset_ends_every_session_of_the_user(world, client):
    elsewhere = Client()
    elsewhere.force_login(world.a1_owner)
    uid = urlsafe_base64_encode(force_bytes(world.a1_owner.pk))
    token = default_token_generator.make_token(world.a1_owner)
    form_page = client.get(reverse("password_reset_confirm", args=[uid, token]), follow=True)
    set_url = form_page.redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response.url == reverse("password_reset_complete")

    logged_out = elsewhere.get(reverse("password_change"))
    assert logged_out.status_code == 302 and logged_out.url.startswith(reverse("login"))
