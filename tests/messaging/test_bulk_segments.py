"""A saved segment of the contacts list as a Bulk SMS audience: the preview counts its
contacts by the saved filter (R2 DND, R10 consent as for any audience), the confirm re-reads
the filter on the contacts as they are then, and another tenant's segment selects nothing."""

import pytest
from django.urls import reverse

from compliance.policy import get_policy
from messaging import bulk
from messaging.models import BulkSend, Contact, Segment, Status, Tag

pytestmark = pytest.mark.django_db

FROM = "+16465550101"


@pytest.fixture
def vips(world):
    """a1: 10 contacts tagged vip (2 with DND, 1 without consent) and 5 untagged; a vip segment."""
    world.ramp_at_top(world.a1)
    world.a1_contact.delete()
    vip = Tag.objects.create(sub_account=world.a1, name="vip")
    contacts = Contact.objects.bulk_create(
        Contact(
            sub_account=world.a1, phone=f"+1305555{i:04d}", first_name=f"P{i:02d}",
            dnd="permanent" if i < 2 else "none", consent="none" if i == 2 else "granted",
        )
        for i in range(15)
    )  # fmt: skip
    for c in contacts[:10]:
        c.tags.add(vip)
    segment = Segment.objects.create(sub_account=world.a1, name="VIPs", filters={"tag": "vip"})
    return contacts, segment


def url(name, world):
    return reverse(name, kwargs={"sub_account_id": world.a1.pk})


def form(**fields):
    return {"body": "Hi {first_name}!", "audience": "segment", "sender": FROM, "when": "now"} | fields


def test_the_form_offers_the_sub_accounts_segments_only(world, login, vips):
    Segment.objects.create(sub_account=world.b1, name="Theirs", filters={})
    page = login(world.a1_user).get(url("bulk_index", world)).content.decode()
    assert 'value="segment"' in page and "A saved segment of the contacts list" in page
    assert "VIPs" in page and "Theirs" not in page


def test_no_segments_yet_says_how_to_make_one(world, login):
    page = login(world.a1_user).get(url("bulk_index", world)).content.decode()
    assert "No segments yet: filter the" in page


def test_preview_counts_the_segment_by_its_saved_filter(world, login, vips):
    _, segment = vips
    response = login(world.a1_owner).post(url("bulk_preview", world), form(segment=segment.pk))
    assert response.status_code == 200
    p = response.context["preview"]
    assert (p.total, p.dnd, p.no_consent, p.will_send) == (10, 2, 1, 7)
    assert "Segment: VIPs" in response.content.decode()


def test_live_sample_is_the_segments_first_contact(world, login, vips):
    contacts, segment = vips
    Contact.objects.filter(pk__in=[c.pk for c in contacts[:10]]).update(first_name="Vip")
    response = login(world.a1_owner).post(url("bulk_count", world), form(segment=segment.pk))
    assert response.context["live"]["sample"].first_name == "Vip"


def test_confirm_sends_to_the_segment_as_it_is_then(world, login, vips, django_capture_on_commit_callbacks):
    contacts, segment = vips
    client = login(world.a1_owner)
    response = client.post(url("bulk_preview", world), form(segment=segment.pk))
    # Meanwhile one more contact is tagged vip, and the segment's filter is changed to vip + consent.
    contacts[12].tags.add(Tag.objects.get(name="vip"))
    Segment.objects.filter(pk=segment.pk).update(filters={"tag": "vip", "consent": "granted"})
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url("bulk_confirm", world), {"token": response.context["token"]})
    sent = BulkSend.objects.get()
    assert sent.audience == "Segment: VIPs"
    recipients = set(sent.messages.values_list("contact_id", flat=True))
    # The 10 vips minus the one without consent, plus the newly tagged one: 10; never the untagged.
    assert recipients == {c.pk for c in contacts[:10] if c.consent == "granted"} | {contacts[12].pk}
    assert sent.messages.filter(status=Status.FAILED).count() == 2  # the two with DND (R2)
    assert sent.messages.filter(status=Status.QUEUED).count() == 8


def test_a_segment_deleted_before_confirm_sends_to_nobody(world, login, vips):
    _, segment = vips
    client = login(world.a1_owner)
    response = client.post(url("bulk_preview", world), form(segment=segment.pk))
    segment.delete()
    client.post(url("bulk_confirm", world), {"token": response.context["token"]})
    assert not BulkSend.objects.filter(total__gt=0).exists()
    assert not Contact.objects.filter(messages__isnull=False).exists()


def test_segment_audience_needs_a_segment(world, login, vips):
    response = login(world.a1_owner).post(url("bulk_preview", world), form())
    assert "Choose a segment." in response.content.decode()
    assert "token" not in response.context


def test_another_tenants_segment_is_refused(world, login, vips):
    theirs = Segment.objects.create(sub_account=world.b1, name="Theirs", filters={})
    response = login(world.a1_owner).post(url("bulk_preview", world), form(segment=theirs.pk))
    assert "token" not in response.context
    assert "Select a valid choice" in response.content.decode()


def test_audience_contacts_of_another_tenants_segment_is_nobody(world, vips):
    theirs = Segment.objects.create(sub_account=world.b1, name="Theirs", filters={})
    assert not bulk.audience_contacts(world.a1, kind=bulk.SEGMENT, segment_id=theirs.pk).exists()
    assert bulk.audience_contacts(world.a1, kind=bulk.SEGMENT, segment_id=vips[1].pk).count() == 10
    assert bulk.audience_counts(
        world.a1, kind=bulk.SEGMENT, segment_id=vips[1].pk, source="bulk", policy=get_policy()
    ) == (10, 2, 1)
