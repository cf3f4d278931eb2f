"""Exports (issue 16): contacts (tags, DND and consent state, R2/R10), messages over chosen days
(status, carrier code and its meaning, failure reason, source, segments), a bulk send's
per-recipient report; streamed in keyset chunks, CSV-injection safe, owners and agency admins
only — in the pages and under /api/v1/."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from compliance import ledger
from compliance.exports import keyset, safe_cell
from messaging import bulk, imports, services
from messaging.exports import CONTACT_COLUMNS, MESSAGE_COLUMNS, REPORT_COLUMNS, message_rows
from messaging.keys import api_key_create
from messaging.models import Contact, Message
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 12:00 in New York, Sunrise Dental's zone
RANGE = {"start": "2026-11-23", "end": "2026-11-23"}


def rows_of(response) -> list[dict]:
    assert response.status_code == 200, response.content
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def clock():
    with time_machine.travel(NOON, tick=False) as traveller:
        yield traveller


# --- CSV injection ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil.example")', '\'=HYPERLINK("http://evil.example")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1+1", "'\t=1+1"),
        ("+12125550100", "+12125550100"),  # an E.164 number stays importable
        ("-5", "-5"),
        ("Ava", "Ava"),
        (None, ""),
        (3, "3"),
    ],
)
def test_cells_that_a_spreadsheet_would_run_are_escaped(value, cell):
    assert safe_cell(value) == cell


# --- Contacts --------------------------------------------------------------------------------


@pytest.fixture
def contacts(world, clock):
    ava = world.a1_contact
    Contact.objects.filter(pk=ava.pk).update(last_name="Stone", email="ava@example.com")
    vip, new = world.a1.tags.create(name="vip"), world.a1.tags.create(name="new")
    ava.tags.add(vip, new)
    ledger.consent_record_opt_in(contact=ava, source="Booking form", at=NOON - timedelta(days=2),
                                 ip_or_method="203.0.113.9", url="https://sunrise.example.com/join")  # fmt: skip
    evil = Contact.objects.create(sub_account=world.a1, phone="+12125550111", first_name='=HYPERLINK("x")')
    ledger.dnd_raise(contact=evil, to_state="temporary", cause="error_code", detail="Carrier error 30003")
    return ava, evil


def test_contacts_export_columns_tags_dnd_and_consent(world, login, contacts):
    ava, evil = contacts
    rows = rows_of(login(world.a1_owner).get(reverse("contacts_export", args=[world.a1.pk])))
    assert list(rows[0]) == CONTACT_COLUMNS
    assert [r["phone"] for r in rows] == ["+12125550100", "+12125550111"]  # by number; Pine Bakery's are not here
    first, second = rows
    assert (first["first_name"], first["last_name"], first["email"], first["tags"]) == (
        "Ava", "Stone", "ava@example.com", "new;vip"
    )  # fmt: skip
    assert (first["consent"], first["dnd"], first["consent_source"], first["consent_ip"]) == (
        "granted", "none", "Booking form", "203.0.113.9"
    )  # fmt: skip
    assert first["consent_at"] == "2026-11-21T12:00:00-05:00"  # the sub-account's zone, with its offset
    assert (second["dnd"], second["consent"], second["first_name"]) == ("temporary", "none", '\'=HYPERLINK("x")')


def test_export_selected_contacts_only_and_never_another_tenants(world, login, contacts):
    """The contacts list's "Export selected" posts the ticked rows' ids (issue 15's bulk actions)."""
    ava, evil = contacts
    url = reverse("contacts_export", args=[world.a1.pk])
    client = login(world.a1_owner)
    rows = rows_of(client.post(url, {"contact": [str(ava.pk), str(world.b1_contact.pk), "not-an-id"]}))
    assert [r["phone"] for r in rows] == [ava.phone]
    refused = client.post(url, {})
    assert refused.status_code == 400 and refused.content == b"Tick the contacts to export first."
    page = client.get(reverse("contact_list", args=[world.a1.pk])).content.decode()
    assert 'data-testid="export-selected"' in page
    assert login(world.a1_user).post(url, {"contact": [str(ava.pk)]}).status_code == 403


def test_a_contacts_export_imports_back(world, login, contacts):
    response = login(world.a1_owner).get(reverse("contacts_export", args=[world.a1.pk]))
    text = b"".join(response.streaming_content).decode()
    parsed, notes = imports.parse_contact_rows(text, time_zone=world.a1.time_zone)
    # The state columns are the app's to keep (DND and consent only change through their ledgers).
    assert {n.reason for n in notes} == {f"Unknown column “{c}” was ignored." for c in CONTACT_COLUMNS[10:]}
    assert [(r.phone, r.tags) for r in parsed] == [("+12125550100", ("new", "vip")), ("+12125550111", ())]


# --- Messages --------------------------------------------------------------------------------


def test_messages_export_status_code_meaning_reason_source_segments(world, login, clock, run_jobs, client,
                                                                    django_capture_on_commit_callbacks):  # fmt: skip
    world.ramp_at_top(world.a1)
    ava = world.a1_contact
    with django_capture_on_commit_callbacks(execute=True):
        sent = services.message_send_one(sub_account=world.a1, contact=ava, body="Hello 👋", source="one_to_one")
    run_jobs()
    sent.refresh_from_db()
    receipt = {"MessageSid": sent.provider_sid, "MessageStatus": "undelivered", "ErrorCode": "30007"}
    assert post_signed(client, "/webhooks/twilio/status", receipt).status_code == 200
    blocked = Contact.objects.create(sub_account=world.a1, phone="+12125550122", dnd="permanent")
    services.message_send_one(sub_account=world.a1, contact=blocked, body="Hi", source="one_to_one")
    clock.move_to(NOON + timedelta(days=1))  # the next day: not in the range
    services.message_send_one(sub_account=world.a1, contact=ava, body="Tomorrow", source="one_to_one")

    rows = rows_of(login(world.a_admin).get(reverse("messages_export", args=[world.a1.pk]), RANGE))
    assert list(rows[0]) == MESSAGE_COLUMNS
    first, second = sorted(rows, key=lambda r: r["to"])  # the same instant: in id order
    # What the carrier got (R5: the first text to this contact carries the opt-out text).
    assert (first["body"], second["body"]) == ("Hello 👋\nReply STOP to unsubscribe", "Hi\nReply STOP to unsubscribe")
    assert (first["status"], first["error_code"], first["error_meaning"]) == (
        "undelivered", "30007", "Filtered by the carrier as spam"
    )  # fmt: skip
    assert (first["source"], first["direction"], first["segments"], first["encoding"]) == (
        "one_to_one", "outbound", "1", "UCS-2"
    )  # fmt: skip
    assert first["to"] == "+12125550100" and first["contact_name"] == "Ava"
    assert first["created_at"] == "2026-11-23T12:00:00-05:00" and first["sent_at"].startswith("2026-11-23T12:00")
    assert (second["status"], second["failure_reason"]) == ("failed", "Cannot send messages as DND is active for SMS.")


def test_messages_are_read_in_keyset_chunks_each_row_once(world, clock):
    """25 messages at the same instant, 10 a chunk: three queries on the message table, and
    every message once (the id breaks the tie of equal times)."""
    for i in range(25):
        world.message_of(world.a1_contact, body=f"m{i}")
    start, end = NOON - timedelta(hours=1), NOON + timedelta(hours=1)
    with CaptureQueriesContext(connection) as queries:
        rows = list(message_rows(world.a1, start, end, size=10))
    assert sorted(r[7] for r in rows) == sorted(f"m{i}" for i in range(25))
    assert len({r[-1] for r in rows}) == 25
    selects = [q["sql"] for q in queries.captured_queries if 'FROM "messaging_message"' in q["sql"]]
    assert len(selects) == 3 and all("LIMIT 10" in sql for sql in selects)


def test_keyset_walks_a_compound_order(world):
    for i in range(7):
        Contact.objects.create(sub_account=world.a1, phone=f"+1212555{i:04d}", last_name="Same" if i < 5 else "Z")
    walked = [c.phone for c in keyset(Contact.objects.filter(sub_account=world.a1), "last_name", "phone", size=2)]
    assert walked == [c.phone for c in Contact.objects.filter(sub_account=world.a1).order_by("last_name", "phone")]


# --- Bulk report -----------------------------------------------------------------------------


def test_bulk_report_one_row_per_recipient(world, login, clock, run_jobs, django_capture_on_commit_callbacks):
    world.ramp_at_top(world.a1)
    ok = Contact.objects.create(sub_account=world.a1, phone="+12125550131", consent="granted", first_name="Oli")
    no_consent = Contact.objects.create(sub_account=world.a1, phone="+12125550132")
    with django_capture_on_commit_callbacks(execute=True):
        send = bulk.bulk_send_start(
            sub_account=world.a1, user=world.a1_owner, body="Spring sale", contact_ids=[ok.pk, no_consent.pk],
            audience_label="All contacts", send_at=None, from_numbers=["+16465550101"],
        )  # fmt: skip
    run_jobs()
    rows = rows_of(login(world.a1_owner).get(reverse("bulk_report_export", args=[world.a1.pk, send.pk])))
    assert list(rows[0]) == REPORT_COLUMNS
    by_phone = {r["phone"]: r for r in rows}
    assert set(by_phone) == {"+12125550131", "+12125550132"}
    assert (by_phone["+12125550131"]["status"], by_phone["+12125550131"]["contact_name"]) == ("sent", "Oli")
    assert by_phone["+12125550132"]["status"] == "failed"
    assert "consent" in by_phone["+12125550132"]["failure_reason"].lower()
    assert {r["message_id"] for r in rows} == {str(m.pk) for m in Message.objects.filter(bulk_send=send)}


def test_the_bulk_and_campaign_pages_link_their_report(world, login):
    from messaging.models import BulkSend

    send = BulkSend.objects.create(sub_account=world.a1, body="Hi", audience="All contacts", name="Fall",
                                   scheduled_for=datetime(2026, 12, 1, tzinfo=UTC), status="scheduled")  # fmt: skip
    link = reverse("bulk_report_export", args=[world.a1.pk, send.pk])
    owner = login(world.a1_owner)
    assert link in owner.get(reverse("bulk_detail", args=[world.a1.pk, send.pk])).content.decode()
    assert link in owner.get(reverse("campaign_list", args=[world.a1.pk])).content.decode()
    assert (
        reverse("contacts_export", args=[world.a1.pk])
        in owner.get(reverse("contact_list", args=[world.a1.pk])).content.decode()
    )
    page = owner.get(reverse("subaccount_dashboard", args=[world.a1.pk])).content.decode()
    assert reverse("exports", args=[world.a1.pk]) in page
    exports_page = owner.get(reverse("exports", args=[world.a1.pk])).content.decode()
    for name in ("messages_export", "audit_export_csv", "audit_export_json"):
        assert reverse(name, args=[world.a1.pk]) in exports_page
    # A sub-account user sees no export buttons (and would get a 403).
    user = login(world.a1_user)
    assert link not in user.get(reverse("bulk_detail", args=[world.a1.pk, send.pk])).content.decode()
    assert (
        reverse("exports", args=[world.a1.pk])
        not in user.get(reverse("subaccount_dashboard", args=[world.a1.pk])).content.decode()
    )


# --- Access ----------------------------------------------------------------------------------


def export_urls(world):
    from messaging.models import BulkSend

    send = BulkSend.objects.create(sub_account=world.a1, body="Hi", audience="All contacts")
    return [
        reverse("exports", args=[world.a1.pk]),
        reverse("contacts_export", args=[world.a1.pk]),
        reverse("messages_export", args=[world.a1.pk]) + "?start=2026-11-01&end=2026-11-30",
        reverse("bulk_report_export", args=[world.a1.pk, send.pk]),
    ]


@pytest.mark.parametrize(
    ("user", "status"),
    [("a1_owner", 200), ("a_admin", 200), ("a_staff", 403), ("a1_user", 403), ("support", 403), ("b_admin", 404)],
)
def test_only_owners_and_agency_admins_export(world, login, user, status):
    client = login(getattr(world, user))
    for url in export_urls(world):
        assert client.get(url).status_code == status, url


def test_another_sub_accounts_bulk_send_is_not_found(world, login):
    from messaging.models import BulkSend

    other = BulkSend.objects.create(sub_account=world.a2, body="Hi", audience="All contacts")
    url = reverse("bulk_report_export", args=[world.a1.pk, other.pk])
    assert login(world.a_admin).get(url).status_code == 404


def test_a_bad_range_is_a_clear_400(world, login):
    url = reverse("messages_export", args=[world.a1.pk])
    response = login(world.a1_owner).get(url, {"start": "2026-11-30", "end": "2026-11-01"})
    assert response.status_code == 400 and "The last day is before the first day." in response.content.decode()


# --- API -------------------------------------------------------------------------------------


@pytest.fixture
def api(world, client):
    raw = api_key_create(sub_account=world.a1, name="CRM")[1]

    def get(path, **params):
        return client.get(path, params, headers={"Authorization": f"Bearer {raw}"})

    return get


def test_api_exports_stream_the_same_files(world, api, contacts, clock):
    world.message_of(world.a1_contact, body="=1+1")
    assert [r["phone"] for r in rows_of(api("/api/v1/exports/contacts.csv"))] == ["+12125550100", "+12125550111"]
    [message] = rows_of(api("/api/v1/exports/messages.csv", **RANGE))
    assert (message["body"], message["status"]) == ("'=1+1", "failed")
    audit = api("/api/v1/exports/audit.json", **RANGE)
    assert audit.status_code == 200 and audit.streaming and audit["X-RateLimit-Limit"]
    assert {r["record"] for r in rows_of(api("/api/v1/exports/audit.csv", **RANGE))} == {"dnd_change"}


def test_api_export_errors_are_json(world, api, client):
    from messaging.models import BulkSend

    other = BulkSend.objects.create(sub_account=world.b1, body="Hi", audience="All contacts")
    response = api(f"/api/v1/exports/bulk/{other.pk}.csv")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    response = api("/api/v1/exports/messages.csv", start="2026-11-30", end="2026-11-01")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_fields")
    response = api("/api/v1/exports/audit.csv")
    assert response.json()["fields"] == {"start": ["This field is required."], "end": ["This field is required."]}
    assert client.get("/api/v1/exports/contacts.csv").status_code == 401
