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


def test_sender_hint_names_the_business(world, login):
    """The hint read `Empty: “Thanks, ”`: `<Business name>` was rendered as an HTML tag (issue 15)."""
    page = login(world.a1_owner).get(url(world)).content.decode()
    assert "Empty: “Thanks, Sunrise Dental Care”." in page and "<Business name>" not in page


def test_after_a_refused_save_the_preview_shows_the_saved_text(world, login):
    """A refused opt-out text is not what contacts get: the preview shows the saved one (issue 15)."""
    world.a1.sender_text = "— Dr. Sun"
    world.a1.save()
    response = post(login(world.a1_owner), world, business_name="Sunny Smiles", opt_out_text="Text BYE to leave")
    preview = response.content.decode().split('data-testid="business-preview">')[1].split("</pre>")[0]
    assert "Text BYE to leave" not in preview and "Reply STOP to unsubscribe" in preview
    assert "— Dr. Sun" in preview and 'data-testid="preview-saved"' in response.content.decode()
    world.a1.refresh_from_db()
    assert world.a1.business_name == "Sunrise Dental Care"  # nothing of the refused save was kept
