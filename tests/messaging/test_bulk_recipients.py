"""A bulk send's (or campaign's) recipients on its report page (issue 16): keyset pages in the
order they were queued, stable while the send writes more rows, the last page, a status filter,
htmx swapping only the table, a hand-edited cursor is the first page, and other tenants 404."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils.http import urlencode

from messaging import bulk
from messaging.models import BulkSend, Contact, Message

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
HTMX = {"HX-Request": "true", "HX-Target": "recipients"}


def queue(sent, contacts, *, at, status="delivered", **fields):
    """Messages queued in the same microsecond (a batch): only the id orders them."""
    with time_machine.travel(at, tick=False):
        Message.objects.bulk_create(
            [
                Message(**{"sub_account": sent.sub_account, "contact": c, "bulk_send": sent, "direction": "outbound",
                           "source": "bulk", "status": status, "body": "Hi", "to_number": c.phone} | fields)
                for c in contacts
            ]
        )  # fmt: skip


@pytest.fixture
def sent(world):
    send = BulkSend.objects.create(sub_account=world.a1, body="Hi", audience="All contacts", status="done")
    contacts = Contact.objects.bulk_create(
        [Contact(sub_account=world.a1, phone=f"+1718555{i:04}", first_name=f"C{i}") for i in range(120)]
    )
    queue(send, contacts[:60], at=T0)
    queue(send, contacts[60:110], at=T0 + timedelta(seconds=1))
    queue(send, contacts[110:], at=T0 + timedelta(seconds=2), status="failed", failure_reason="Recipient opted out")
    return send


def order(sent):
    return [str(i) for i in sent.messages.order_by("created_at", "id").values_list("contact__phone", flat=True)]


def phones(html: str) -> list[str]:
    rows = re.findall(r'data-testid="recipient">\s*<td><a href="[^"]+">([^<]+)</a>', html)
    return rows


def url(world, sent, **params):
    base = reverse("bulk_detail", args=[world.a1.pk, sent.pk])
    return base + ("?" + urlencode(params) if params else "")


def next_link(html: str):
    found = re.search(r'href="([^"]+)"[^>]*rel="next"', html)
    return found and found.group(1).replace("&amp;", "&")


def test_pages_cover_every_recipient_once_in_queue_order_and_the_last_page(world, login, sent):
    client, seen = login(world.a1_owner), []
    html = client.get(url(world, sent)).content.decode()
    while True:
        seen += phones(html)
        link = next_link(html)
        if not link:
            break
        html = client.get(link).content.decode()
    assert seen == order(sent) and len(seen) == 120
    last = client.get(url(world, sent, last=1)).content.decode()
    assert phones(last) == order(sent)[-bulk.RECIPIENTS_PAGE :] and 'rel="prev"' in last


def test_rows_written_meanwhile_do_not_shift_the_next_page(world, login, sent):
    client = login(world.a1_owner)
    page = bulk.bulk_recipients(sent)
    second = phones(client.get(url(world, sent, after=page.next_cursor)).content.decode())
    late = Contact.objects.bulk_create([Contact(sub_account=world.a1, phone=f"+1917555{i:04}") for i in range(30)])
    queue(sent, late, at=T0 + timedelta(seconds=3))  # a batch written later goes to the end
    assert phones(client.get(url(world, sent, after=page.next_cursor)).content.decode()) == second


def test_status_filter_and_the_reason(world, login, sent):
    html = login(world.a1_owner).get(url(world, sent, status="failed")).content.decode()
    assert phones(html) == order(sent)[110:] and "Recipient opted out" in html and 'rel="next"' not in html


def test_htmx_swaps_the_recipients_only(world, login, sent, django_assert_max_num_queries):
    client = login(world.a1_owner)
    with django_assert_max_num_queries(8):  # session, user, access, the send, the page: no report
        response = client.get(url(world, sent, last=1), headers=HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="recipients"') and 'data-testid="progress"' not in html


@pytest.mark.parametrize("cursor", ["garbage", "W10", "WyJub3QgYSBkYXRlIiwgIngiXQ"])  # the last: ["not a date", "x"]
def test_a_hand_edited_cursor_is_the_first_page(world, login, sent, cursor):
    client = login(world.a1_owner)
    response = client.get(url(world, sent, after=cursor))
    assert response.status_code == 200 and phones(response.content.decode()) == order(sent)[:50]


def test_other_tenants_get_a_404(world, login, sent):
    assert login(world.b_admin).get(url(world, sent)).status_code == 404
    assert login(world.b_admin).get(url(world, sent, last=1), headers=HTMX).status_code == 404
