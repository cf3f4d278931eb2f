"""Settings → Business Info → General: R5/R6 texts, edited by owners and agency admins only,
validated, previewed live, recorded."""

import pytest
from django.urls import reverse

from compliance.models import BusinessInfoChange

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def url(world):
    return reverse("business_info", args=[world.a1.pk])


def post(client, world, **data):
    base = {"business_name": "Sunrise Dental Care", "opt_out_text": "", "sender_text": ""}
    return client.post(url(world), base | data)


@pytest.mark.parametrize("user_attr", ["a1_owner", "a_admin"])
def test_owner_and_agency_admin_edit_and_the_change_is_recorded(world, login, user_attr):
    user = getattr(world, user_attr)
    response = post(login(user), world, opt_out_text="Text END to opt out", sender_text="— Dr. Sun")
    assert response.status_code == 302
    world.a1.refresh_from_db()
    assert (world.a1.opt_out_text, world.a1.sender_text) == ("Text END to opt out", "— Dr. Sun")
    change = BusinessInfoChange.objects.get()
    assert change.user == user and change.before["opt_out_text"] == "" and change.after["sender_text"] == "— Dr. Sun"


def test_opt_out_text_without_a_standard_keyword_is_rejected(world, login):
    response = post(login(world.a1_owner), world, opt_out_text="Text BYE to leave")
    assert response.status_code == 200
    assert "The opt-out text must contain a standard opt-out keyword" in response.content.decode()
    world.a1.refresh_from_db()
    assert world.a1.opt_out_text == "" and not BusinessInfoChange.objects.exists()


@pytest.mark.parametrize("user_attr", ["a1_user", "a_staff"])
def test_other_roles_see_it_read_only(world, login, user_attr):
    client = login(getattr(world, user_attr))
    page = client.get(url(world)).content.decode()
    assert "Only the sub-account's owners and agency admins can change these." in page
    assert 'name="sender_text"' not in page
    assert post(client, world, sender_text="hacked").status_code == 403
    world.a1.refresh_from_db()
    assert world.a1.sender_text == ""


def test_live_preview_shows_the_initial_message_as_sent(world, login):
    client = login(world.a1_owner)
    html = client.get(url(world)).content.decode()
    assert (
        "Hi Alex, this is what your contacts will see.\nThanks, Sunrise Dental Care\nReply STOP to unsubscribe" in html
    )
    response = client.post(
        url(world),
        {"preview": "1", "business_name": "Sunrise Smiles", "opt_out_text": "Reply STOP to quit", "sender_text": ""},
        headers=HTMX,
    )
    assert response.content.decode().strip() == (
        '<pre id="preview" class="sms-preview" data-testid="business-preview">'
        "Hi Alex, this is what your contacts will see.\nThanks, Sunrise Smiles\nReply STOP to quit</pre>"
    )
    world.a1.refresh_from_db()
    assert world.a1.business_name == "Sunrise Dental Care"  # a preview saves nothing
