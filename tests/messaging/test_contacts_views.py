"""Contacts pages: the list (search, filters, pages, htmx partial, bounded queries), create
and edit with their form errors, and the contact page (DND, consent ledger, history)."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from compliance.models import ConsentEvent
from messaging.models import Contact, Tag

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def list_url(world):
    return reverse("contact_list", args=[world.a1.pk])


def detail_url(world, contact=None):
    return reverse("contact_detail", args=[world.a1.pk, (contact or world.a1_contact).pk])


def make_contacts(world, n, **fields):
    contacts = [
        Contact(sub_account=world.a1, phone=f"+1718555{i:04}", first_name=f"First{i:03}", last_name=f"Last{i:03}",
                **fields)
        for i in range(n)
    ]  # fmt: skip
    return Contact.objects.bulk_create(contacts)


def names_on(response):
    return [c.first_name for c in response.context["page"].items]


@pytest.fixture
def people(world):
    """Ava (the world's contact), plus Bob (vip, temporary DND) and Cara (opted in)."""
    vip = Tag.objects.create(sub_account=world.a1, name="vip")
    bob = Contact.objects.create(sub_account=world.a1, phone="+12125550111", first_name="Bob", last_name="Stone",
                                 email="bob@example.com", dnd="temporary")  # fmt: skip
    bob.tags.add(vip)
    Contact.objects.create(sub_account=world.a1, phone="+13055550122", first_name="Cara", consent="granted")
    return world


def test_list_shows_the_sub_accounts_contacts_only(people, login):
    response = login(people.a1_user).get(list_url(people))
    assert response.status_code == 200
    assert sorted(names_on(response)) == ["Ava", "Bob", "Cara"]
    assert "Ben" not in response.content.decode()  # b1's contact


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "stone"}, ["Bob"]),
        ({"q": "Bob Stone"}, ["Bob"]),  # issue 15: a full name found nothing
        ({"q": "  bob   stone "}, ["Bob"]),
        ({"q": "Bob Adams"}, []),
        ({"q": "bob@example"}, ["Bob"]),
        ({"q": "305 555"}, ["Cara"]),  # digits of the number, in any format
        ({"tag": "vip"}, ["Bob"]),
        ({"dnd": "temporary"}, ["Bob"]),
        ({"dnd": "permanent"}, []),
        ({"consent": "granted"}, ["Cara"]),
        ({"consent": "none", "dnd": "none"}, ["Ava"]),
        ({"q": "a", "consent": "granted"}, ["Cara"]),
        ({"dnd": "nonsense", "tag": "no-such-tag"}, ["Ava", "Bob", "Cara"]),  # invalid filters are ignored
    ],
)
def test_list_search_and_filters(people, login, params, expected):
    response = login(people.a1_user).get(list_url(people), params)
    assert response.status_code == 200
    assert sorted(names_on(response)) == expected


def test_list_is_ordered_by_name_and_paginated_by_50(world, login):
    """Keyset pages (issue 16): next, last and previous, with the total count."""
    make_contacts(world, 120)
    client = login(world.a1_user)
    first = client.get(list_url(world))
    assert names_on(first)[:2] == ["Ava", "First000"]  # Ava has no last name: sorts first
    assert len(names_on(first)) == 50 and first.context["page"].has_next
    assert 'data-testid="total">121 in all' in first.content.decode()
    second = client.get(list_url(world), {"after": first.context["page"].next_cursor})
    assert names_on(second) == [f"First{i:03}" for i in range(49, 99)]
    last = client.get(list_url(world), {"last": "1"})
    assert names_on(last) == [f"First{i:03}" for i in range(70, 120)] and not last.context["page"].has_next
    assert client.get(list_url(world), {"after": "x"}).context["page"].items[0].first_name == "Ava"


def test_sorting_by_a_column(world, login):
    make_contacts(world, 3)
    client = login(world.a1_user)
    assert names_on(client.get(list_url(world), {"sort": "-phone"}))[0] == "First002"
    assert names_on(client.get(list_url(world), {"sort": "-name"}))[0] == "First002"


def test_pagination_links_keep_the_filters(world, login):
    make_contacts(world, 60, consent="granted")
    page = login(world.a1_user).get(list_url(world), {"consent": "granted", "q": "first"}).content.decode()
    assert "?consent=granted&amp;q=first&amp;after=" in page


def test_htmx_request_gets_only_the_results(people, login):
    client = login(people.a1_user)
    response = client.get(list_url(people), {"q": "bob"}, headers=HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results"') and "<html" not in html
    assert "Bob" in html and "Cara" not in html
    assert "HX-Request" in response["Vary"]
    full = client.get(list_url(people), {"q": "bob"}).content.decode()
    assert "<html" in full and 'hx-get="/s/' in full and 'hx-target="#results"' in full
    # A history restore after a cache miss needs the whole page.
    restore = client.get(list_url(people), headers=HTMX | {"HX-History-Restore-Request": "true"})
    assert "<html" in restore.content.decode()


def test_list_runs_a_bounded_number_of_queries(world, login, django_assert_max_num_queries):
    contacts = make_contacts(world, 60)
    tags = Tag.objects.bulk_create([Tag(sub_account=world.a1, name=f"t{i}") for i in range(5)])
    for contact in contacts:
        contact.tags.add(*tags[:3])
    client = login(world.a1_user)
    with django_assert_max_num_queries(16):  # 8, tag ids, counts, workflows, segments, export, sidebar 2
        response = client.get(list_url(world), {"tag": "t1"})
    assert len(names_on(response)) == 50


# --- Create / edit --------------------------------------------------------------------------


def create(client, world, **data):
    return client.post(reverse("contact_create", args=[world.a1.pk]), {"phone": "", **data})


def test_create_contact_with_tags_and_consent(world, login):
    world.a1.time_zone = "America/Chicago"
    world.a1.save()
    response = create(login(world.a1_owner), world, phone="(646) 555-0199", first_name="Dee", email="dee@example.com",
                      tags="vip, spring promo,vip", time_zone="America/Denver",
                      **{"consent-source": "Web form", "consent-at": "2025-02-01T08:00",
                         "consent-ip_or_method": "198.51.100.4", "consent-url": "https://sunrise.example.com/join",
                         "consent-consent_text": "I agree to receive texts."})  # fmt: skip
    contact = Contact.objects.get(sub_account=world.a1, phone="+16465550199")
    assert response.status_code == 302 and response["Location"] == detail_url(world, contact)
    assert (contact.first_name, contact.email, contact.time_zone, contact.consent) == (
        "Dee", "dee@example.com", "America/Denver", "granted")  # fmt: skip
    assert sorted(contact.tags.values_list("name", flat=True)) == ["spring promo", "vip"]
    event = ConsentEvent.objects.get(contact=contact)
    assert event.at == datetime(2025, 2, 1, 14, 0, tzinfo=UTC)  # 08:00 in Chicago
    assert (event.source, event.ip_or_method, event.consent_text, event.recorded_by) == (
        "Web form", "198.51.100.4", "I agree to receive texts.", world.a1_owner)  # fmt: skip
    page = login(world.a1_owner).get(response["Location"]).content.decode()
    assert "Contact Dee created." in page


def test_form_tags_follow_the_imports_rule(world, login):
    """Issue 15: one rule for tags on the form and in the import (commas, ; or |), stated on both pages."""
    create(login(world.a1_owner), world, phone="6465550199", tags="vip;lead|spring promo")
    contact = Contact.objects.get(sub_account=world.a1, phone="+16465550199")
    assert sorted(contact.tags.values_list("name", flat=True)) == ["lead", "spring promo", "vip"]
    rule = "Separate tags with commas, semicolons or vertical bars"
    assert rule in login(world.a1_owner).get(reverse("contact_create", args=[world.a1.pk])).content.decode()
    assert rule in login(world.a1_owner).get(reverse("contact_import", args=[world.a1.pk])).content.decode()


def test_create_without_consent_records_none(world, login):
    create(login(world.a1_user), world, phone="+1 646 555 0199")
    contact = Contact.objects.get(phone="+16465550199")
    assert contact.consent == "none" and not ConsentEvent.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "error"),
    [
        ({"phone": "12345"}, "phone", "is not a valid phone number"),
        ({"phone": "call me"}, "phone", "“call me” is not a phone number."),
        ({"phone": ""}, "phone", "This field is required."),
        ({"phone": "(212) 555-0100"}, "phone", "A contact with this number already exists."),  # Ava's number
        ({"phone": "6465550199", "email": "nope"}, "email", "Enter a valid email address."),
        ({"phone": "6465550199", "time_zone": "Mars/Olympus"}, "time_zone", "Select a valid choice."),
        ({"phone": "6465550199", "consent-url": "https://x.example.com"}, "consent-source", "Required to record"),
        ({"phone": "6465550199", "consent-source": "Web", "consent-at": "2999-01-01T00:00"}, "consent-at",
         "cannot be dated in the future"),
        ({"phone": "6465550199", "first_name": "Dee\x00"}, "first_name", "Null characters are not allowed."),
        ({"phone": "6465550199", "tags": "vip\x00"}, "tags", "Null characters are not allowed."),
        ({"phone": "6465550199", "consent-source": "Web\x00", "consent-at": "2025-01-01T00:00"}, "consent-source",
         "Null characters are not allowed."),
        ({"phone": "6465550199", "tags": ",".join(f"t{i}" for i in range(51))}, "tags",
         "A contact has at most 50 tags; 51 were given."),
        ({"phone": "6465550199", "tags": "x" * 51}, "tags", "Tags have at most 50 characters"),
    ],
)  # fmt: skip
def test_invalid_create_shows_the_error_next_to_the_field_and_creates_nothing(world, login, data, field, error):
    response = create(login(world.a1_user), world, **data)
    assert response.status_code == 200
    form = response.context["consent_form" if field.startswith("consent-") else "form"]
    name = field.removeprefix("consent-")
    assert any(error in e for e in form.errors[name]), form.errors
    assert error in response.content.decode()
    assert Contact.objects.filter(sub_account=world.a1).count() == 1 and not ConsentEvent.objects.exists()


def test_same_number_in_another_sub_account_is_allowed(world, login):
    response = create(login(world.a_admin), world, phone=world.b1_contact.phone)
    assert response.status_code == 302
    assert Contact.objects.filter(phone=world.b1_contact.phone).count() == 2


def test_edit_contact(world, login):
    url = reverse("contact_edit", args=[world.a1.pk, world.a1_contact.pk])
    client = login(world.a1_user)
    form_page = client.get(url).content.decode()
    assert 'value="+12125550100"' in form_page
    response = client.post(url, {"phone": "212-555-0100", "first_name": "Ava", "last_name": "Ng", "tags": "new"})
    assert response.status_code == 302 and response["Location"] == detail_url(world)
    world.a1_contact.refresh_from_db()
    assert (world.a1_contact.last_name, world.a1_contact.phone) == ("Ng", "+12125550100")  # own number is no duplicate
    assert list(world.a1_contact.tags.values_list("name", flat=True)) == ["new"]
    assert 'value="new"' in client.get(url).content.decode()


def test_edit_to_a_number_of_another_contact_is_an_error(people, login):
    url = reverse("contact_edit", args=[people.a1.pk, people.a1_contact.pk])
    response = login(people.a1_user).post(url, {"phone": "+12125550111"})  # Bob's
    assert response.status_code == 200 and "A contact with this number already exists." in response.content.decode()
    people.a1_contact.refresh_from_db()
    assert people.a1_contact.phone == "+12125550100"


@pytest.mark.parametrize("state", [{"dnd": "permanent"}, {"dnd": "temporary"}, {"consent": "granted"}])
def test_number_with_dnd_or_consent_on_record_cannot_be_changed(world, login, state):
    """Else the old number would be free for a new contact without its DND (R2), and the new
    one would carry a consent given for another number (R10)."""
    Contact.objects.filter(pk=world.a1_contact.pk).update(**state)
    url = reverse("contact_edit", args=[world.a1.pk, world.a1_contact.pk])
    client = login(world.a1_owner)
    assert "Locked: DND or consent is on record" in client.get(url).content.decode()
    response = client.post(url, {"phone": "+16465550199", "first_name": "Ava", "last_name": "Ng"})
    assert response.status_code == 302
    world.a1_contact.refresh_from_db()
    assert (world.a1_contact.phone, world.a1_contact.last_name) == ("+12125550100", "Ng")


def test_edit_never_undoes_a_dnd_set_while_the_form_was_open(world):
    from messaging.forms import ContactForm

    contact = Contact.objects.get(pk=world.a1_contact.pk)
    form = ContactForm({"phone": contact.phone, "first_name": "Ava", "last_name": "Ng"}, instance=contact,
                       sub_account=world.a1)  # fmt: skip
    assert form.is_valid()
    Contact.objects.filter(pk=contact.pk).update(dnd="permanent", consent="revoked")  # a STOP arrives (R3)
    form.save()
    contact.refresh_from_db()
    assert (contact.last_name, contact.dnd, contact.consent) == ("Ng", "permanent", "revoked")


# --- Detail ---------------------------------------------------------------------------------


def test_detail_shows_contact_dnd_consent_ledger_and_history(world, login):
    contact = world.a1_contact
    Contact.objects.filter(pk=contact.pk).update(dnd="temporary", consent="granted", email="ava@example.com")
    ConsentEvent.objects.create(sub_account=world.a1, contact=contact, kind="opt_in", source="Website form",
                                at=datetime(2025, 1, 2, 15, 4, tzinfo=UTC), ip_or_method="203.0.113.7",
                                url="https://sunrise.example.com/join")  # fmt: skip
    world.message_of(contact, status="undelivered", error_code="30003", failure_reason="", body_sent="Hello Ava")
    world.message_of(contact, status="failed", failure_reason="Recipient opted out.", body_sent="Promo")
    page = login(world.a1_user).get(detail_url(world)).content.decode()
    assert "(212) 555-0100" in page and "ava@example.com" in page
    assert '<section class="card" id="dnd">' in page and 'data-testid="dnd-state">Temporary<' in page
    for text in (
        "Opt-in",
        "Jan 2, 2025, 10:04 AM EST",
        "Website form",
        "203.0.113.7",
        "https://sunrise.example.com/join",
    ):
        assert text in page  # 15:04 UTC shown in the sub-account's zone (New York)
    assert 'class="badge status-undelivered"' in page and "30003" in page and "Hello Ava" in page
    assert 'class="badge status-failed"' in page and "Recipient opted out." in page
    assert page.index("Promo") < page.index("Hello Ava")  # newest first
    assert reverse("conversation", args=[world.a1.pk, contact.pk]) in page


def test_detail_history_is_the_latest_50(world, login):
    for i in range(55):
        world.message_of(world.a1_contact, body_sent=f"msg-{i:02}-")
    response = login(world.a1_user).get(detail_url(world))
    assert len(response.context["history"]) == 50
    assert "msg-54-" in response.content.decode() and "msg-04-" not in response.content.decode()


# --- Tenancy --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["contact_list", "contact_create", "contact_import", "contact_detail", "contact_edit"])
def test_other_tenant_gets_404(world, login, name):
    args = [world.a1.pk] + ([world.a1_contact.pk] if name in ("contact_detail", "contact_edit") else [])
    client = login(world.b_admin)
    assert client.get(reverse(name, args=args)).status_code == 404
    assert client.post(reverse(name, args=args), {"phone": "+14155550199", "first_name": "X"}).status_code == 404
    assert not Contact.objects.filter(phone="+14155550199").exists()
    world.a1_contact.refresh_from_db()
    assert world.a1_contact.first_name == "Ava"


def test_contact_of_another_sub_account_is_404_even_under_own_sub_account(world, login):
    url = reverse("contact_detail", args=[world.b1.pk, world.a1_contact.pk])
    assert login(world.a_admin).get(url).status_code == 404  # a_admin can't see b1 at all
    url = reverse("contact_edit", args=[world.a1.pk, world.b1_contact.pk])
    assert login(world.a_admin).get(url).status_code == 404  # a1 is visible, b1's contact is not in it
