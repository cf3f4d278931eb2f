"""Password change and reset: Django's auth views (config/urls.py includes
django.contrib.auth.urls under /accounts/) with this project's templates; the reset link goes
out by email."""

import re

import pytest
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
