"""Settings → API keys: owners and agency admins create and revoke; the raw key is shown once
and only its hash is stored; other roles read; other tenants get a 404."""

import hashlib

import pytest
from django.urls import reverse

from messaging.keys import api_key_authenticate, api_key_create
from messaging.models import ApiKey

pytestmark = pytest.mark.django_db


def list_url(world, sub=None):
    return reverse("api_key_list", args=[(sub or world.a1).pk])


def revoke_url(world, key):
    return reverse("api_key_revoke", args=[key.sub_account_id, key.pk])


def raw_key_in(html):
    start = html.index('value="tw_') + len('value="')
    return html[start : html.index('"', start)]


@pytest.mark.parametrize("who", ["a1_owner", "a_admin"])
def test_owner_or_agency_admin_creates_a_key_shown_once_and_stored_hashed(world, login, who):
    client = login(getattr(world, who))
    response = client.post(list_url(world), {"name": "Booking workflow"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    raw = raw_key_in(html)
    assert raw.startswith("tw_") and len(raw) > 40 and html.count(raw) == 1
    assert "Copy this key now" in html
    key = ApiKey.objects.get(sub_account=world.a1)
    assert (key.name, key.prefix, key.created_by) == ("Booking workflow", raw[:10], getattr(world, who))
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {key.name, key.prefix, key.key_hash}
    assert api_key_authenticate(raw) == key

    listing = client.get(list_url(world)).content.decode()
    assert raw not in listing and key.prefix in listing and "Booking workflow" in listing


def test_list_shows_name_prefix_created_last_used_and_status_read_only_for_users(world, login):
    api_key_create(sub_account=world.a1, name="Zapier", user=world.a1_owner)
    html = login(world.a1_user).get(list_url(world)).content.decode()
    assert "Zapier" in html and "Never" in html and "Active" in html
    assert "Create key" not in html and "Revoke" not in html
    assert "curl -X POST http" in html and "/api/v1/messages" in html


def test_revoke_works_and_the_key_stops_working(world, login):
    key, raw = api_key_create(sub_account=world.a1, name="Old", user=world.a1_owner)
    response = login(world.a1_owner).post(revoke_url(world, key), follow=True)
    assert response.status_code == 200 and "Revoked" in response.content.decode()
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    assert api_key_authenticate(raw) is None


def test_revoke_is_post_only(world, login):
    key, _ = api_key_create(sub_account=world.a1, name="Old", user=world.a1_owner)
    assert login(world.a1_owner).get(revoke_url(world, key)).status_code == 405


def test_subaccount_user_gets_403_on_create_and_revoke(world, login):
    key, raw = api_key_create(sub_account=world.a1, name="Keep", user=world.a1_owner)
    client = login(world.a1_user)
    response = client.post(list_url(world), {"name": "Mine"})
    assert response.status_code == 403
    assert "Only sub-account owners and agency admins" in response.content.decode()
    assert client.post(revoke_url(world, key)).status_code == 403
    assert list(ApiKey.objects.values_list("name", "revoked_at")) == [("Keep", None)]


def test_agency_staff_gets_403_on_create(world, login):
    assert login(world.a_staff).post(list_url(world), {"name": "Mine"}).status_code == 403


def test_other_tenant_gets_404(world, login):
    key, _ = api_key_create(sub_account=world.a1, name="Keep", user=world.a1_owner)
    client = login(world.b_admin)
    assert client.get(list_url(world)).status_code == 404
    assert client.post(list_url(world), {"name": "Mine"}).status_code == 404
    assert client.post(revoke_url(world, key)).status_code == 404
    assert ApiKey.objects.get(pk=key.pk).revoked_at is None


def test_a_key_of_another_sub_account_cannot_be_revoked_through_this_one(world, login):
    key, _ = api_key_create(sub_account=world.a2, name="A2", user=world.a_admin)
    url = reverse("api_key_revoke", args=[world.a1.pk, key.pk])
    assert login(world.a_admin).post(url).status_code == 404


def test_name_is_required(world, login):
    response = login(world.a1_owner).post(list_url(world), {"name": ""})
    assert response.status_code == 200 and not ApiKey.objects.exists()
    assert "This field is required" in response.content.decode()


def test_anonymous_is_sent_to_login(client, world):
    assert client.get(list_url(world)).status_code == 302
