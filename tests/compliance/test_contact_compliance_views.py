"""R2 on the contact page (temporary DND removable, permanent not, one at a time) and R10
consent records with their proof export."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from compliance.models import ConsentEvent, DndChange
from messaging.models import Contact

pytestmark = pytest.mark.django_db


def url(name, world, contact=None):
    return reverse(name, args=[world.a1.pk, (contact or world.a1_contact).pk])


@pytest.mark.parametrize("user_attr", ["a_admin", "a_staff", "a1_owner", "a1_user"])
def test_r2_temporary_dnd_can_be_removed_by_agency_and_subaccount_users(world, login, user_attr):
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="temporary")
    user = getattr(world, user_attr)
    response = login(user).post(url("dnd_remove", world))
    assert response.status_code == 302
    world.a1_contact.refresh_from_db()
    assert world.a1_contact.dnd == "none"
    change = DndChange.objects.get(contact=world.a1_contact)
    assert (change.from_state, change.to_state, change.cause, change.user) == ("temporary", "none", "user", user)


def test_r2_permanent_dnd_cannot_be_removed_by_anyone(world, login):
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="permanent")
    for user in (world.a_admin, world.a1_owner, world.support):
        response = login(user).post(url("dnd_remove", world), follow=True)
        assert "Permanent DND cannot be removed" in response.content.decode()
    world.a1_contact.refresh_from_db()
    assert world.a1_contact.dnd == "permanent" and not DndChange.objects.exists()


def test_r2_dnd_removal_is_post_only_and_tenant_scoped(world, login):
    Contact.objects.filter(pk=world.b1_contact.pk).update(dnd="temporary")
    assert login(world.a_admin).get(url("dnd_remove", world)).status_code == 405
    other = reverse("dnd_remove", args=[world.a1.pk, world.b1_contact.pk])
    assert login(world.a_admin).post(other).status_code == 404
    world.b1_contact.refresh_from_db()
    assert world.b1_contact.dnd == "temporary"


def test_r2_no_bulk_dnd_removal_exists_anywhere():
    """No URL, API route or admin action lifts DND for more than one contact."""
    from django.contrib import admin
    from django.urls import get_resolver

    names = [name for name in get_resolver().reverse_dict if isinstance(name, str)]
    assert [n for n in names if "dnd" in n] == ["dnd_remove"]  # one contact per request
    contact_admin = admin.site._registry[Contact]
    assert contact_admin.actions is None and "dnd" in contact_admin.readonly_fields


def test_r10_record_opt_in_with_proof_fields_and_screenshot(world, login, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    at = timezone.now() - timedelta(days=2)
    shot = SimpleUploadedFile("form.png", b"\x89PNG\r\n\x1a\nfake", content_type="image/png")
    response = login(world.a1_user).post(
        url("consent_record", world),
        {"source": "Website form", "at": at.strftime("%Y-%m-%dT%H:%M"), "ip_or_method": "203.0.113.9",
         "url": "https://sunrise.example.com/join", "consent_text": "I agree to texts.", "screenshot": shot},
    )  # fmt: skip
    assert response.status_code == 302
    event = ConsentEvent.objects.get(contact=world.a1_contact)
    assert (event.kind, event.source, event.ip_or_method, event.url) == (
        "opt_in", "Website form", "203.0.113.9", "https://sunrise.example.com/join"
    )  # fmt: skip
    assert event.screenshot.name.endswith(".png") and event.recorded_by == world.a1_user
    world.a1_contact.refresh_from_db()
    assert world.a1_contact.consent == "granted"
    # R9: the screenshot is part of the proof, served to the sub-account's users only.
    shot_url = reverse("consent_screenshot", args=[world.a1.pk, world.a1_contact.pk, event.pk])
    assert shot_url in login(world.a1_user).get(url("consent_proof", world)).content.decode()
    served = login(world.a1_user).get(shot_url)
    assert served.status_code == 200 and b"".join(served.streaming_content) == b"\x89PNG\r\n\x1a\nfake"
    assert served["X-Content-Type-Options"] == "nosniff"
    rows = list(csv.reader(io.StringIO(login(world.a1_user).get(url("consent_proof_csv", world)).content.decode())))
    assert rows[1][-1] == "http://testserver" + shot_url
    assert login(world.b_admin).get(shot_url).status_code == 404  # the other tenant
    other = reverse("consent_screenshot", args=[world.b1.pk, world.a1_contact.pk, event.pk])
    assert login(world.b_admin).get(other).status_code == 404


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [("at", "2999-01-01T10:00", "cannot be dated in the future"), ("url", "not a url", "Enter a valid URL"),
     ("source", "", "This field is required")],
)  # fmt: skip
def test_r10_bad_opt_in_input_is_a_clear_error_and_records_nothing(world, login, field, value, error):
    data = {"source": "Web", "at": "2026-01-01T10:00", "url": "https://x.example.com", field: value}
    response = login(world.a1_user).post(url("consent_record", world), data)
    assert response.status_code == 200 and error in response.content.decode()
    assert not ConsentEvent.objects.exists()


def test_r10_screenshot_must_be_an_image_or_pdf(world, login):
    exe = SimpleUploadedFile("virus.exe", b"MZ", content_type="application/octet-stream")
    data = {"source": "Web", "at": "2026-01-01T10:00", "screenshot": exe}
    response = login(world.a1_user).post(url("consent_record", world), data)
    assert "File extension “exe” is not allowed" in response.content.decode()


def test_r9_proof_of_opt_in_printable_and_csv(world, login):
    contact = world.a1_contact
    Contact.objects.filter(pk=contact.pk).update(email="ava@example.com", address="1 Main St")
    ConsentEvent.objects.create(
        sub_account=world.a1, contact=contact, kind="opt_in", source="Website form", at=timezone.now(),
        ip_or_method="203.0.113.7", url="https://sunrise.example.com/join", consent_text="I agree.",
    )  # fmt: skip
    client = login(world.a1_user)
    page = client.get(url("consent_proof", world)).content.decode()
    for text in ("Proof of opt-in", "ava@example.com", "1 Main St", "203.0.113.7", "https://sunrise.example.com/join"):
        assert text in page
    response = client.get(url("consent_proof_csv", world))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["Phone", "Name", "Email", "Physical address"]
    assert rows[1][0] == contact.phone and rows[1][2] == "ava@example.com" and rows[1][6] == "203.0.113.7"


def test_contact_page_shows_dnd_state_history_and_why_permanent_is_not_removable(world, login):
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="permanent")
    DndChange.objects.create(sub_account=world.a1, contact=world.a1_contact, from_state="none", to_state="permanent",
                             cause="keyword", detail="'STOP' (keyword)")  # fmt: skip
    page = login(world.a1_user).get(reverse("contact_detail", args=[world.a1.pk, world.a1_contact.pk])).content.decode()
    assert "Permanent DND cannot be removed by anyone here" in page and "&#x27;STOP&#x27; (keyword)" in page
    assert "Remove temporary DND" not in page


def test_r4_an_opted_out_contact_cannot_be_opted_back_in_by_a_user(world, login):
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="permanent", consent="revoked")
    data = {"source": "Web", "at": "2026-01-01T10:00"}
    response = login(world.a1_owner).post(url("consent_record", world), data)
    assert "only they can opt back in, by texting START" in response.content.decode()
    assert not ConsentEvent.objects.exists()
