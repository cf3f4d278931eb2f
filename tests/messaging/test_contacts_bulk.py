"""The contacts list's bulk actions (add a tag, remove a tag, enroll in a workflow) and saving
its filters as a segment. Another tenant's ids select nothing; at most 1,000 contacts an action;
DND is never removed in bulk (R2)."""

import pytest
from django.urls import reverse

from messaging.automations.models import Enrollment, Workflow
from messaging.contacts import BULK_MAX
from messaging.models import Contact, Segment, Tag

pytestmark = pytest.mark.django_db


def bulk(client, world, **data):
    return client.post(reverse("contact_bulk_action", args=[world.a1.pk]), data, follow=True)


@pytest.fixture
def three(world):
    """Ava (the world's contact) and Bob and Cara, all of a1."""
    bob = Contact.objects.create(sub_account=world.a1, phone="+12125550111", first_name="Bob")
    cara = Contact.objects.create(sub_account=world.a1, phone="+12125550122", first_name="Cara")
    return world.a1_contact, bob, cara


def tags_of(contact):
    return sorted(contact.tags.values_list("name", flat=True))


def test_add_a_tag_to_the_ticked_contacts(world, login, three):
    ava, bob, cara = three
    response = bulk(login(world.a1_user), world, action="add_tag", tag=" spring ", contact=[ava.pk, bob.pk])
    assert "Tag “spring” added to 2 contact(s)." in response.content.decode()
    assert tags_of(ava) == tags_of(bob) == ["spring"]
    assert tags_of(cara) == []
    # Again: nobody gets it twice, and the count says who got it now.
    response = bulk(login(world.a1_user), world, action="add_tag", tag="spring", contact=[ava.pk, cara.pk])
    assert "added to 1 contact(s)." in response.content.decode()
    assert Tag.objects.filter(sub_account=world.a1, name="spring").count() == 1


def test_remove_a_tag_from_the_ticked_contacts(world, login, three):
    ava, bob, cara = three
    vip = Tag.objects.create(sub_account=world.a1, name="vip")
    for c in three:
        c.tags.add(vip)
    response = bulk(login(world.a1_user), world, action="remove_tag", tag="vip", contact=[ava.pk, bob.pk])
    assert "Tag “vip” removed from 2 contact(s)." in response.content.decode()
    assert (tags_of(ava), tags_of(bob), tags_of(cara)) == ([], [], ["vip"])


def test_remove_an_unknown_tag_is_an_error(world, login, three):
    response = bulk(login(world.a1_user), world, action="remove_tag", tag="nope", contact=[three[0].pk])
    assert "There is no tag “nope”." in response.content.decode()


@pytest.mark.parametrize("tag", ["", "   ", "x" * 51])
def test_add_a_bad_tag_is_an_error_and_tags_nothing(world, login, three, tag):
    response = bulk(login(world.a1_user), world, action="add_tag", tag=tag, contact=[three[0].pk])
    assert "Type a tag of 1 to 50 characters." in response.content.decode()
    assert not Tag.objects.filter(sub_account=world.a1).exists()


def test_nothing_ticked_is_an_error(world, login, three):
    response = bulk(login(world.a1_user), world, action="add_tag", tag="spring")
    assert "Tick at least one contact and choose an action." in response.content.decode()
    assert not Tag.objects.exists()


def test_enroll_the_ticked_contacts_in_a_workflow(world, login, three):
    ava, bob, cara = three
    workflow = Workflow.objects.create(sub_account=world.a1, name="Welcome", trigger="api", status="active")
    response = bulk(login(world.a1_user), world, action="enroll", workflow=workflow.pk, contact=[ava.pk, bob.pk])
    assert "2 contact(s) enrolled." in response.content.decode()
    assert set(Enrollment.objects.filter(workflow=workflow).values_list("contact_id", flat=True)) == {ava.pk, bob.pk}
    # Again with one more: the two already in it are skipped, not enrolled twice.
    response = bulk(login(world.a1_user), world, action="enroll", workflow=workflow.pk, contact=[c.pk for c in three])
    assert "1 contact(s) enrolled. 2 were already in it" in response.content.decode()
    assert Enrollment.objects.filter(workflow=workflow).count() == 3


@pytest.mark.parametrize("whose", ["draft", "other tenant"])
def test_enroll_in_a_draft_or_another_tenants_workflow_is_refused(world, login, three, whose):
    owner, status = (world.a1, "draft") if whose == "draft" else (world.b1, "active")
    workflow = Workflow.objects.create(sub_account=owner, name="W", trigger="api", status=status)
    response = bulk(login(world.a1_user), world, action="enroll", workflow=workflow.pk, contact=[three[0].pk])
    assert "Choose an active or paused workflow." in response.content.decode()
    assert not Enrollment.objects.exists()


def test_another_tenants_ids_select_nothing(world, login, three):
    """A forged id of b1's contact is ignored: b1's contact is neither tagged nor enrolled."""
    ben = world.b1_contact
    response = bulk(login(world.a1_user), world, action="add_tag", tag="spring", contact=[ben.pk])
    assert "added to 0 contact(s)." in response.content.decode()
    assert tags_of(ben) == []
    assert not Tag.objects.filter(sub_account=world.b1).exists()
    vip = Tag.objects.create(sub_account=world.b1, name="vip")
    ben.tags.add(vip)
    Tag.objects.create(sub_account=world.a1, name="vip")
    bulk(login(world.a1_user), world, action="remove_tag", tag="vip", contact=[ben.pk])
    assert tags_of(ben) == ["vip"]
    workflow = Workflow.objects.create(sub_account=world.a1, name="Welcome", trigger="api", status="active")
    response = bulk(login(world.a1_user), world, action="enroll", workflow=workflow.pk, contact=[ben.pk])
    assert "0 contact(s) enrolled." in response.content.decode()
    assert not Enrollment.objects.exists()


def test_another_tenants_bulk_url_is_404(world, login):
    response = login(world.a1_user).post(
        reverse("contact_bulk_action", args=[world.b1.pk]),
        {"action": "add_tag", "tag": "x", "contact": [world.b1_contact.pk]},
    )
    assert response.status_code == 404
    assert not Tag.objects.exists()


def test_more_than_1000_contacts_is_refused_and_changes_nothing(world, login):
    contacts = Contact.objects.bulk_create(
        Contact(sub_account=world.a1, phone=f"+1718555{i:04}") for i in range(BULK_MAX + 1)
    )
    ids = [c.pk for c in contacts]
    response = bulk(login(world.a1_user), world, action="add_tag", tag="spring", contact=ids)
    assert "At most 1,000 contacts at a time." in response.content.decode()
    assert not Contact.tags.through.objects.exists()
    response = bulk(login(world.a1_user), world, action="add_tag", tag="spring", contact=ids[:BULK_MAX])
    assert "added to 1000 contact(s)." in response.content.decode()


def test_no_dnd_removal_is_offered_or_accepted(world, login, three):
    """R2: DND is not undone in bulk — no such action on the page, and a forged one is refused."""
    ava = three[0]
    Contact.objects.filter(pk=ava.pk).update(dnd="temporary")
    page = login(world.a1_user).get(reverse("contact_list", args=[world.a1.pk])).content.decode()
    options = page.split('id="bulk-action"')[1].split("</select>")[0]
    assert "add_tag" in options and "remove_tag" in options
    assert "dnd" not in options.lower()
    for action in ("remove_dnd", "dnd", "clear_dnd"):
        response = bulk(login(world.a1_user), world, action=action, contact=[ava.pk])
        assert "Tick at least one contact and choose an action." in response.content.decode()
    assert Contact.objects.get(pk=ava.pk).dnd == "temporary"


def test_bulk_keeps_the_lists_filters_when_it_goes_back(world, login, three):
    response = login(world.a1_user).post(
        reverse("contact_bulk_action", args=[world.a1.pk]),
        {"action": "add_tag", "tag": "x", "contact": [three[0].pk], "query": "q=bob&sort=-phone"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("contact_list", args=[world.a1.pk]) + "?q=bob&sort=-phone"


# --- Segments -----------------------------------------------------------------------------------


def save_segment(client, world, **data):
    return client.post(reverse("segment_create", args=[world.a1.pk]), data, follow=True)


def test_save_the_filters_as_a_segment(world, login, three):
    Contact.objects.filter(pk=three[1].pk).update(consent="granted")
    response = save_segment(login(world.a1_user), world, name=" Opted in ", q="", tag="", dnd="", consent="granted")
    assert "Segment “Opted in” saved." in response.content.decode()
    segment = Segment.objects.get(sub_account=world.a1)
    assert segment.name == "Opted in"
    assert segment.filters == {"q": "", "tag": "", "dnd": "", "consent": "granted"}
    assert segment.created_by == world.a1_user
    assert [c.first_name for c in segment.contacts()] == ["Bob"]
    # The list shows it as a link to its filters.
    page = login(world.a1_user).get(reverse("contact_list", args=[world.a1.pk])).content.decode()
    assert 'data-testid="segments"' in page and "consent=granted" in page


def test_a_segment_is_read_when_used_not_when_saved(world, login, three):
    save_segment(login(world.a1_user), world, name="Bobs", q="bob")
    segment = Segment.objects.get()
    assert [c.first_name for c in segment.contacts()] == ["Bob"]
    Contact.objects.create(sub_account=world.a1, phone="+12125550133", first_name="Bobby")
    assert sorted(c.first_name for c in segment.contacts()) == ["Bob", "Bobby"]


def test_a_segment_needs_a_unique_name(world, login, three):
    response = save_segment(login(world.a1_user), world, name="  ", q="bob")
    assert "Give the segment a name." in response.content.decode()
    save_segment(login(world.a1_user), world, name="Bobs", q="bob")
    response = save_segment(login(world.a1_user), world, name="Bobs", q="cara")
    assert "A segment named “Bobs” exists already." in response.content.decode()
    assert Segment.objects.get().filters["q"] == "bob"


def test_a_segment_filter_that_is_not_a_choice_is_not_saved(world, login, three):
    save_segment(login(world.a1_user), world, name="Odd", dnd="everything", tag="no-such-tag")
    assert Segment.objects.get().filters["dnd"] == ""


def test_another_tenants_segment_url_is_404(world, login):
    response = login(world.a1_user).post(reverse("segment_create", args=[world.b1.pk]), {"name": "x"})
    assert response.status_code == 404
    assert not Segment.objects.exists()


def test_a_post_of_1000_ids_and_the_forms_fields_fits_the_upload_limit(settings):
    """1,001 ids plus the form's fields once exceeded DATA_UPLOAD_MAX_NUMBER_FIELDS (a 400 page)."""
    assert BULK_MAX + 1 + len(["csrf", "action", "tag", "workflow", "query"]) <= settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
