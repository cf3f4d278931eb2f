"""GET /api/v1/messages (issue 16): keyset pages newest first through opaque `next` / `previous`
links, stable while messages arrive, the last page, filters, a tampered cursor is a clear 400,
and a key sees its own sub-account's messages only."""

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from accounts.models import Agency, SubAccount
from messaging.keys import api_key_create
from messaging.models import Contact, Message
from tests.conftest import make_user

pytestmark = pytest.mark.django_db
MESSAGES = "/api/v1/messages"
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def api(client, world):
    _, raw = api_key_create(sub_account=world.a1, name="Tests", user=world.a1_owner)

    def get(url, **params):
        return client.get(url, params, headers={"Authorization": f"Bearer {raw}"})

    return get


def make(contact, n, *, at, **fields):
    """n messages created at the same microsecond (a bulk send's), so only the id orders them."""
    with time_machine.travel(at, tick=False):
        return Message.objects.bulk_create(
            [
                Message(**{"sub_account_id": contact.sub_account_id, "contact": contact, "direction": "outbound",
                           "source": "bulk", "status": "delivered", "body": f"Hi {i}", "body_sent": f"Hi {i}",
                           "to_number": contact.phone} | fields)
                for i in range(n)
            ]
        )  # fmt: skip


@pytest.fixture
def history(world):
    """130 of a1's messages over three times (ties within each), and b1's (never shown)."""
    for k, n in enumerate((50, 45, 35)):
        make(world.a1_contact, n, at=T0 + timedelta(minutes=k))
    make(world.b1_contact, 20, at=T0 + timedelta(minutes=5))
    return list(world.a1.messages.order_by("-created_at", "-id").values_list("id", flat=True))


def walk(api, url, **params):
    """Follow `next` to the end: the ids seen, page by page, and the last answer."""
    pages, answer = [], api(url, **params).json()
    while True:
        pages.append([m["id"] for m in answer["data"]])
        if answer["next"] is None:
            return pages, answer
        answer = api(answer["next"]).json()


def test_pages_newest_first_cover_every_message_once(api, history):
    pages, last = walk(api, MESSAGES, limit=40)
    assert [len(p) for p in pages] == [40, 40, 40, 10]
    assert [i for p in pages for i in p] == [str(i) for i in history]
    assert last["previous"] is not None


def test_previous_goes_back_page_by_page(api, history):
    first = api(MESSAGES, limit=40).json()
    assert first["previous"] is None
    second = api(first["next"]).json()
    back = api(second["previous"]).json()
    assert [m["id"] for m in back["data"]] == [m["id"] for m in first["data"]]
    assert back["previous"] is None and back["next"] is not None


def test_the_last_page_and_its_previous(api, history):
    pages, last = walk(api, MESSAGES, limit=50)
    assert pages[-1] == [str(i) for i in history[100:]]
    before_last = api(last["previous"]).json()
    assert [m["id"] for m in before_last["data"]] == [str(i) for i in history[50:100]]


def test_messages_arriving_between_pages_neither_repeat_nor_push_one_off(api, history, world):
    first = api(MESSAGES, limit=40).json()
    make(world.a1_contact, 30, at=T0 + timedelta(hours=1))  # newer: they belong before page 1
    seen = [m["id"] for m in first["data"]]
    answer = first
    while answer["next"]:
        answer = api(answer["next"]).json()
        seen += [m["id"] for m in answer["data"]]
    assert seen == [str(i) for i in history]  # every original once, in order, none of the new


def test_a_message_fields_and_the_links_keep_the_filters(api, history, world):
    make(world.a1_contact, 3, at=T0 + timedelta(minutes=9), status="failed", failure_reason="Blocked")
    answer = api(MESSAGES, status="failed", limit=2).json()
    assert [m["status"] for m in answer["data"]] == ["failed", "failed"]
    assert "status=failed" in answer["next"] and "limit=2" in answer["next"]
    assert api(answer["next"]).json()["next"] is None
    m = answer["data"][0]
    assert set(m) == {
        "id", "contact_id", "direction", "source", "status", "to", "from", "body_sent", "error_code",
        "failure_reason", "bulk_send_id", "created_at", "sent_at", "final_at",
    }  # fmt: skip
    assert m["failure_reason"] == "Blocked" and m["created_at"].startswith("2026-11-02T15:09")


def test_filter_by_contact_and_direction(api, history, world):
    other = Contact.objects.create(sub_account=world.a1, phone="+12125550199")
    make(other, 2, at=T0 + timedelta(minutes=7), direction="inbound")
    by_contact = api(MESSAGES, contact="(212) 555-0199").json()["data"]
    assert len(by_contact) == 2 and {m["contact_id"] for m in by_contact} == {str(other.pk)}
    assert len(api(MESSAGES, direction="inbound").json()["data"]) == 2
    assert api(MESSAGES, contact="+12125550111").json() == {"data": [], "next": None, "previous": None}


def _cursor(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!", "W10", _cursor(["2026-11-02T15:00:00+00:00"]),  # not base64 JSON; [], one value
        _cursor(["not a date", "6f1c8a55-8a3e-4c59-9d76-6c0a2d8e0a11"]),
        _cursor(["2026-11-02T15:00:00", "6f1c8a55-8a3e-4c59-9d76-6c0a2d8e0a11"]),  # naive
        _cursor(["2026-11-02T15:00:00+00:00", "not-a-uuid"]), _cursor([1, 2]), _cursor({"a": 1}),
    ],
)  # fmt: skip
@pytest.mark.parametrize("direction", ["after", "before"])
def test_a_tampered_cursor_is_a_clear_400(api, history, cursor, direction):
    response = api(MESSAGES, **{direction: cursor})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor" and "next and previous links" in response.json()["error"]


@pytest.mark.parametrize(
    "params, code",
    [({"limit": "0"}, "invalid_fields"), ({"limit": "201"}, "invalid_fields"), ({"limit": "x"}, "invalid_fields"),
     ({"status": "lost"}, "invalid_fields"), ({"contact": "12"}, "invalid_phone"),
     ({"after": "W10", "before": "W10"}, "invalid_cursor")],
)  # fmt: skip
def test_invalid_query_is_a_400(api, history, params, code):
    response = api(MESSAGES, **params)
    assert response.status_code == 400 and response.json()["code"] == code


def test_another_tenants_messages_never_show_even_from_their_cursor(api, history, world):
    theirs = world.b1.messages.order_by("-created_at", "-id").first()
    cursor = _cursor([theirs.created_at.isoformat(), str(theirs.pk)])  # a well-formed cursor
    pages, _ = walk(api, MESSAGES, after=cursor, limit=200)
    shown = {i for p in pages for i in p}
    assert shown and shown <= {str(i) for i in history}
    assert not shown & {str(i) for i in world.b1.messages.values_list("id", flat=True)}


def test_a_page_costs_the_same_statements_first_or_last(api, history, django_assert_num_queries):
    _, last = walk(api, MESSAGES, limit=50)
    with django_assert_num_queries(2) as first_queries:  # the key, the page (51 rows)
        api(MESSAGES, limit=50)
    with django_assert_num_queries(len(first_queries)):
        api(last["previous"])


def test_the_documented_loop_reads_every_page(live_server, transactional_db, capsys):
    """docs/API.md "Pages": the Python loop, run as written against a server, prints every message once."""
    sub = SubAccount.objects.create(agency=Agency.objects.create(name="Docs"), name="Docs", business_name="Docs")
    contact = Contact.objects.create(sub_account=sub, phone="+12125550142")
    make(contact, 120, at=T0, status="failed", failure_reason="Blocked by the test")
    _, key = api_key_create(sub_account=sub, name="Docs", user=make_user("docs@docs.test"))
    doc = Path("docs/API.md").read_text()
    code = doc.split("### Pages", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    exec(code.replace("http://localhost:8000", live_server.url), {"KEY": key})  # noqa: S102 - the documented snippet
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 120 and all(line.endswith("+12125550142 Blocked by the test") for line in printed)
