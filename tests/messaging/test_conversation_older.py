"""A long conversation read back page by page (issue 16): the latest messages first, "Show older
messages" loads the page before (htmx: in place, above; without JS: a page of its own with a
way back), in keyset pages that a message arriving meanwhile does not shift."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils.http import urlencode

from messaging import inbox
from messaging.models import Message

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
HTMX = {"HX-Request": "true"}


N = 2 * inbox.THREAD_LENGTH + 50  # the latest window, one older page, and a short first page


@pytest.fixture
def long_thread(world):
    """N messages, ten at a time in the same microsecond (ties only the id breaks)."""
    contact = world.a1_contact
    for k in range(N // 10):
        with time_machine.travel(T0 + timedelta(minutes=k), tick=False):
            Message.objects.bulk_create(
                Message(sub_account=world.a1, contact=contact, direction="inbound", source="inbound",
                        status="received", body=f"Text {k}.{i}")
                for i in range(10)
            )  # fmt: skip
    return [str(i) for i in contact.messages.order_by("created_at", "id").values_list("id", flat=True)]


def shown(html: str) -> list[str]:
    return re.findall(r'id="msg-([0-9a-f-]{36})"', html)


def older_link(html: str):
    found = re.search(r'data-testid="older" href="([^"]+)"', html)
    return found and found.group(1).replace("&amp;", "&")


def thread_url(world, **params):
    base = reverse("conversation", args=[world.a1.pk, world.a1_contact.pk])
    return base + ("?" + urlencode(params) if params else "")


def test_the_latest_window_then_older_pages_reach_the_first_message(world, long_thread):
    page = inbox.thread_messages(world.a1_contact, size=10)
    assert [str(m.pk) for m in page.messages] == long_thread[-10:] and page.newest and page.older
    seen = [str(m.pk) for m in page.messages]
    cursor = page.older
    while cursor:
        page = inbox.thread_messages(world.a1_contact, older=cursor, size=10)
        seen = [str(m.pk) for m in page.messages] + seen
        cursor = page.older
    assert seen == long_thread


def test_show_older_in_place_with_htmx_and_on_its_own_page_without(world, login, long_thread):
    size, client = inbox.THREAD_LENGTH, login(world.a1_user)
    html = client.get(thread_url(world)).content.decode()
    assert shown(html) == long_thread[-size:] and 'data-testid="older-window"' not in html
    link = older_link(html)
    part = client.get(link, headers=HTMX).content.decode()
    assert shown(part) == long_thread[50 : 50 + size] and older_link(part)  # the page before, a link further
    assert 'id="messages"' not in part  # only what goes above: the latest stay as they are
    # Without JS: the same link is a page showing that window, with a way back to the latest.
    full = client.get(link).content.decode()
    assert shown(full) == long_thread[50 : 50 + size] and 'data-testid="older-window"' in full
    first = client.get(older_link(part), headers=HTMX).content.decode()
    assert shown(first) == long_thread[:50] and older_link(first) is None


def test_a_message_arriving_meanwhile_does_not_shift_the_older_page(world, login, long_thread):
    page = inbox.thread_messages(world.a1_contact, size=10)
    before = [m.pk for m in inbox.thread_messages(world.a1_contact, older=page.older, size=10).messages]
    Message.objects.create(sub_account=world.a1, contact=world.a1_contact, direction="inbound", source="inbound",
                           status="received", body="New")  # fmt: skip
    assert [m.pk for m in inbox.thread_messages(world.a1_contact, older=page.older, size=10).messages] == before


def test_a_hand_edited_cursor_shows_the_latest(world, login, long_thread):
    html = login(world.a1_user).get(thread_url(world, older="W10")).content.decode()
    assert shown(html)[-1] == long_thread[-1]


def test_another_tenants_thread_is_404_with_a_cursor_too(world, login, long_thread):
    page = inbox.thread_messages(world.a1_contact, size=10)
    assert login(world.b_admin).get(thread_url(world, older=page.older), headers=HTMX).status_code == 404


def poll_url(html: str) -> str:
    return re.search(r'id="poll" hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")


def messages_part(html: str) -> str:
    return html[html.index('id="messages"') :]


def test_new_messages_leave_no_gap_under_the_older_pages_loaded(world, login, long_thread):
    """The poll (and a send) refresh the window from its oldest message, not the latest 200: the
    older pages loaded above it keep touching it."""
    client = login(world.a1_user)
    html = client.get(thread_url(world)).content.decode()
    window_start = shown(html)[0]
    older = client.get(older_link(html), headers=HTMX).content.decode()
    assert shown(older)[-1] == long_thread[long_thread.index(window_start) - 1]  # right above the window
    for k in range(3):
        Message.objects.create(sub_account=world.a1, contact=world.a1_contact, direction="inbound",
                               source="inbound", status="received", body=f"New {k}")  # fmt: skip
    polled = messages_part(client.get(poll_url(html), headers=HTMX).content.decode())
    assert shown(polled)[0] == window_start and len(shown(polled)) == inbox.THREAD_LENGTH + 3
    sent = client.post(
        reverse("conversation_send", args=[world.a1.pk, world.a1_contact.pk]),
        {"body": "Reply", "tw": re.search(r'id="thread-start" name="tw" value="([^"]*)"', html).group(1)},
        headers=HTMX,
    ).content.decode()
    assert shown(messages_part(sent))[0] == window_start
