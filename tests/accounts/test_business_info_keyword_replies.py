"""Settings → Business Info → Keyword replies: the HELP reply and the confirmations are saved
with the rest of Business Info, each checked when saved (each missing part refused, nothing
saved), previewed live, recorded; read-only for the other roles."""

import pytest
from django.urls import reverse

from compliance.models import BusinessInfoChange

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
GOOD_HELP = "{business_name}: call 212-555-0100. Reply STOP to opt out. Msg&data rates may apply."


def url(world):
    return reverse("business_info", args=[world.a1.pk])


def post(client, world, **data):
    base = {"business_name": "Sunrise Dental Care", "opt_out_text": "", "sender_text": "", "help_reply": "",
            "opt_out_confirmation": "", "opt_in_confirmation": ""}  # fmt: skip
    return client.post(url(world), base | data)


def test_the_replies_are_saved_and_recorded(world, login):
    response = post(
        login(world.a1_owner),
        world,
        help_reply=GOOD_HELP,
        opt_out_confirmation="Sunrise Dental Care: you're out.",
        opt_in_confirmation="Back with {business_name}. Reply STOP to opt out.",
    )
    assert response.status_code == 302
    world.a1.refresh_from_db()
    assert world.a1.help_reply == GOOD_HELP
    assert world.a1.opt_out_confirmation == "Sunrise Dental Care: you're out."
    change = BusinessInfoChange.objects.get()
    assert change.before["help_reply"] == "" and change.after["help_reply"] == GOOD_HELP


@pytest.mark.parametrize(
    ("field", "text", "error"),
    [
        ("help_reply", GOOD_HELP.replace("{business_name}:", "Hi:"), "the business name"),
        ("help_reply", GOOD_HELP.replace(" call 212-555-0100.", ""), "a support phone number or email address"),
        ("help_reply", GOOD_HELP.replace(" Reply STOP to opt out.", ""), "how to opt out"),
        ("help_reply", GOOD_HELP.replace(" Msg&data rates may apply.", ""), "“Msg&amp;data rates may apply”"),
        ("opt_out_confirmation", "You're out.", "The opt-out confirmation must also contain the business name"),
        ("opt_in_confirmation", "Welcome back to {business_name}!",
         "The opt-in confirmation must also contain how to opt out"),
    ],
)  # fmt: skip
def test_each_missing_part_is_refused_with_its_name_and_nothing_is_saved(world, login, field, text, error):
    response = post(login(world.a1_owner), world, **{field: text}, sender_text="— Dr. Sun")
    assert response.status_code == 200
    assert error in response.content.decode()
    world.a1.refresh_from_db()
    assert (getattr(world.a1, field), world.a1.sender_text) == ("", "")  # the other fields are not saved either
    assert not BusinessInfoChange.objects.exists()


def test_the_help_reply_is_checked_against_the_business_name_saved_with_it(world, login):
    client = login(world.a1_owner)
    text = "Sunrise Dental Care: call 212-555-0100. Reply STOP to opt out. Msg&data rates may apply."
    assert post(client, world, help_reply=text).status_code == 302
    response = post(client, world, business_name="Sunrise Smiles", help_reply=text)
    assert "The HELP reply must also contain the business name (“Sunrise Smiles”" in response.content.decode()
    world.a1.refresh_from_db()
    assert world.a1.business_name == "Sunrise Dental Care"


def test_the_page_previews_each_reply_and_the_other_languages(world, login):
    world.a1.help_reply = GOOD_HELP
    world.a1.save(update_fields=["help_reply"])
    html = login(world.a1_owner).get(url(world)).content.decode()
    assert 'data-testid="keyword-preview-help_reply">Sunrise Dental Care: call 212-555-0100.' in html
    assert (
        'data-testid="keyword-preview-opt_out_confirmation">You have been unsubscribed from Sunrise Dental Care' in html
    )
    assert "Se ha dado de baja de Sunrise Dental Care" in html and "Vous êtes désabonné de Sunrise Dental Care" in html


def test_after_a_refused_save_the_previews_show_what_contacts_get_now(world, login):
    html = post(login(world.a1_owner), world, help_reply="Refused text").content.decode()
    assert "Refused text</textarea>" in html  # kept in the box to fix, never lost
    assert 'data-testid="keyword-preview-help_reply">Sunrise Dental Care: Reply STOP to unsubscribe.' in html


def test_live_preview_swaps_the_three_previews_out_of_band(world, login):
    response = login(world.a1_owner).post(
        reverse("keyword_replies_preview", args=[world.a1.pk]),
        {"business_name": "Sunrise Smiles", "help_reply": "{business_name} typed", "opt_out_confirmation": "",
         "opt_in_confirmation": "Back to {business_name}"},
        headers=HTMX,
    )  # fmt: skip
    html = response.content.decode()
    assert '<pre id="keyword-preview-help_reply" class="sms-preview" data-testid="keyword-preview-help_reply" ' \
        'hx-swap-oob="true">Sunrise Smiles typed</pre>' in html  # fmt: skip
    assert "You have been unsubscribed from Sunrise Smiles" in html and ">Back to Sunrise Smiles</pre>" in html
    world.a1.refresh_from_db()
    assert world.a1.business_name == "Sunrise Dental Care" and world.a1.help_reply == ""  # a preview saves nothing


@pytest.mark.parametrize("user_attr", ["a1_user", "a_staff"])
def test_other_roles_read_the_replies_and_cannot_preview_or_change_them(world, login, user_attr):
    client = login(getattr(world, user_attr))
    html = client.get(url(world)).content.decode()
    assert 'name="help_reply"' not in html
    assert 'data-testid="keyword-preview-help_reply">Sunrise Dental Care: Reply STOP to unsubscribe.' in html
    assert client.post(reverse("keyword_replies_preview", args=[world.a1.pk])).status_code == 403
    assert post(client, world, help_reply=GOOD_HELP).status_code == 403
    world.a1.refresh_from_db()
    assert world.a1.help_reply == ""


def test_the_preview_is_another_tenants_404(world, login):
    response = login(world.b_admin).post(reverse("keyword_replies_preview", args=[world.a1.pk]))
    assert response.status_code == 404


ES_HELP = (
    "{business_name}: llame al 212-555-0100. Responda PARAR para darse de baja. "
    "Pueden aplicarse tarifas de mensajes y datos."
)


def test_spanish_and_french_replies_are_saved_with_the_rest(world, login):
    response = post(
        login(world.a1_owner), world, es_help_reply=ES_HELP, fr_opt_out_confirmation="{business_name} : désabonné."
    )
    assert response.status_code == 302
    world.a1.refresh_from_db()
    assert world.a1.other_language_replies == {
        "es": {"help": ES_HELP},
        "fr": {"opt_out": "{business_name} : désabonné."},
    }
    assert BusinessInfoChange.objects.get().after["other_language_replies"] == world.a1.other_language_replies
    # emptied again: back to the policy's texts
    assert post(login(world.a1_owner), world).status_code == 302
    world.a1.refresh_from_db()
    assert world.a1.other_language_replies == {}


def test_a_spanish_help_reply_is_checked_in_spanish(world, login):
    text = ES_HELP.replace(" Pueden aplicarse tarifas de mensajes y datos.", "")
    html = post(login(world.a1_owner), world, es_help_reply=text).content.decode()
    assert "The Spanish HELP reply must also contain “Pueden aplicarse tarifas de mensajes y datos”." in html
    assert '<details data-testid="keyword-replies-es" open>' in html  # the refused box is shown, with its text
    world.a1.refresh_from_db()
    assert world.a1.other_language_replies == {}


def test_the_live_preview_covers_the_other_languages(world, login):
    response = login(world.a1_owner).post(
        reverse("keyword_replies_preview", args=[world.a1.pk]),
        {"business_name": "Sunrise Smiles", "es_help_reply": "{business_name}: hola", "fr_help_reply": ""},
        headers=HTMX,
    )
    html = response.content.decode()
    assert 'data-testid="keyword-preview-es_help_reply" hx-swap-oob="true">Sunrise Smiles: hola</pre>' in html
    assert 'hx-swap-oob="true">Sunrise Smiles : Répondez ARRET pour vous désabonner.' in html  # the French default
