"""The inbox's reads: threads filtered and paged by keyset, the contact panel, and the stamps
the poll compares so an open tab that has nothing new costs two indexed reads and a 204.

Keyset, not OFFSET: a page is "the 50 threads older than this one" by (last_message_at, id),
read from the (sub_account, -last_message_at) index, so it stays stable while messages arrive
(a thread moving to the top does not shift the rows of the page being read) and the last page
costs what the first does (docs/BENCHMARKS.md)."""

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass

from django.db.models import Count, F, Max, OuterRef, Q, Subquery
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThanOrEqual

from messaging.keyset import encode, keyset_page, position
from messaging.models import Consent, Dnd, Message

PAGE_SIZE = 50
THREAD_LENGTH = 200
FILTERS = {"unread": "Unread", "opted_out": "Opted out"}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass
class ThreadPage:
    threads: list
    newer: str  # cursor for the page before (nearer the top), "" on the first page
    older: str  # cursor for the next page, "" on the last


def cursor_of(contact) -> str:
    micros = (contact.last_message_at - EPOCH) // dt.timedelta(microseconds=1)
    return f"{micros}.{contact.pk.hex}"


def parse_cursor(text: str):
    """(last_message_at, id) or None for anything that is not a cursor we wrote."""
    try:
        micros, hex_id = (text or "").split(".")
        return EPOCH + dt.timedelta(microseconds=int(micros)), uuid.UUID(hex=hex_id)
    except (ValueError, OverflowError):
        return None


def filtered(sub_account, *, q: str = "", show: str = ""):
    threads = sub_account.contacts.conversations().search(q)
    if show == "unread":
        threads = threads.filter(unread_count__gt=0)
    elif show == "opted_out":  # opted out by keyword (consent revoked) or at the carrier (21610)
        threads = threads.filter(Q(consent=Consent.REVOKED) | Q(dnd=Dnd.PERMANENT))
    return threads


def thread_page(threads, *, after: str = "", before: str = "", size: int = PAGE_SIZE) -> ThreadPage:
    """One page of `threads` (a Contact queryset). `after`: older than that cursor; `before`:
    newer than it. The range condition is on the indexed column; the id only breaks ties."""
    last_direction = Message.objects.filter(contact=OuterRef("pk")).order_by("-created_at").values("direction")[:1]
    # sub_account_id too: the related manager sets each row's sub-account, which would otherwise
    # load that deferred column once per row (50 queries a poll, found by bench/inbox_poll.py).
    threads = threads.only(
        "id", "sub_account_id", "phone", "first_name", "last_name", "last_message_at", "last_message_preview",
        "unread_count", "dnd", "consent",
    ).annotate(last_direction=Subquery(last_direction))  # fmt: skip
    newest_first = ("-last_message_at", "-id")
    position = parse_cursor(before) or parse_cursor(after)
    if position and parse_cursor(before):
        at, pk = position
        rows = list(
            threads.filter(last_message_at__gte=at)
            .exclude(last_message_at=at, id__lte=pk)
            .order_by("last_message_at", "id")[: size + 1]
        )
        more = len(rows) > size
        rows = list(reversed(rows[:size]))
        return ThreadPage(rows, cursor_of(rows[0]) if more and rows else "", cursor_of(rows[-1]) if rows else "")
    if position:
        at, pk = position
        threads = threads.filter(last_message_at__lte=at).exclude(last_message_at=at, id__gte=pk)
    rows = list(threads.order_by(*newest_first)[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return ThreadPage(rows, cursor_of(rows[0]) if position and rows else "", cursor_of(rows[-1]) if more else "")


def list_stamp(page: ThreadPage) -> str:
    """Changes whenever anything shown in the list changes: order, activity, unread counts."""
    shown = "|".join(f"{c.pk}:{cursor_of(c)}:{c.unread_count}:{c.dnd}:{c.consent}" for c in page.threads)
    return hashlib.sha256(shown.encode()).hexdigest()[:16]


THREAD_KEY = ("created_at", "id")
SINCE_MAX = 5 * THREAD_LENGTH  # a tab left open for days shows at most this many


@dataclass
class ThreadWindow:
    messages: list  # oldest first, as the thread shows them
    older: str  # cursor of the page of older messages, "" when these reach the first message
    newest: bool  # the window ends with the latest message
    start: str = ""  # cursor of the oldest message shown: where a refresh of the window starts


def thread_messages(contact, *, older: str = "", since: str = "", size: int = THREAD_LENGTH) -> ThreadWindow:
    """The latest `size` messages of a thread, or (`older`: a cursor) the `size` before it: keyset
    pages by (created_at, id) on message_contact_created_id_idx, so reading back through a long
    thread costs each page what the first does and a message arriving meanwhile shifts nothing.
    `since` (a window's `start`): the same window refreshed — from the same oldest message to the
    newest — so a poll or a send after new messages arrived leaves no gap under the older pages
    a user loaded above it."""
    start = position(Message, THREAD_KEY, since)
    if start is not None and not older:
        at_or_after = TupleGreaterThanOrEqual(Tuple(*(F(n) for n in THREAD_KEY)), start)
        rows = list(contact.messages.filter(at_or_after).order_by("-created_at", "-id")[:SINCE_MAX])[::-1]
        if rows:
            return ThreadWindow(rows, "", True, encode((rows[0].created_at, rows[0].pk)))
    page = keyset_page(contact.messages.all(), ("-created_at", "-id"), after=older, size=size)
    items = page.items[::-1]
    start = encode((items[0].created_at, items[0].pk)) if items else ""
    return ThreadWindow(items, page.next_cursor if page.has_next else "", not page.has_previous, start)


def thread_stamp(contact) -> str:
    """Changes with a new message or a status change of any (updated_at is auto_now)."""
    seen = contact.messages.aggregate(at=Max("updated_at"), n=Count("id"))
    return f"{seen['n']}.{seen['at'].timestamp() if seen['at'] else 0}"


def contact_panel(contact) -> dict:
    """What the panel beside the thread shows: DND, consent, tags, workflow enrollments."""
    enrollments = contact.enrollments.select_related("workflow").order_by("-enrolled_at")[:10]
    return {"tags": [t.name for t in contact.tags.all()], "enrollments": list(enrollments)}
