"""What an open inbox tab costs the server (issue 15: "htmx polling or SSE — measure what it costs
per open tab"), and the conversations list's keyset pages (issue 16: "flat cost on the last page").
Not a test (it needs PostgreSQL); docs/BENCHMARKS.md has the figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_inbox REDIS_URL=redis://127.0.0.1:6379/7 \\
        SMS_BACKEND=memory .venv/bin/python bench/inbox_poll.py --threads 20000

One sub-account with --threads conversations (one message each) and one open thread of 200
messages, generated once and kept. Through Django's test client (in this process, no HTTP server,
production settings), logged in as the owner: the poll of a tab with a thread open and of a tab
on the list only, when nothing changed (the 204 every tab gets almost always) and right after an
inbound text (200 with the changed parts); the list's first page and its last page (keyset, by
the cursor of the row before it). Each --runs times after a warm-up: median and p95 ms, and the
queries one request makes. A tab polls every 3 s, so its cost is 20 requests a minute.
"""

import argparse
import statistics
import time
from datetime import timedelta

from common import ensure_database, print_table, require_database, setup_django

AGENCY, SUB_ACCOUNT, OWNER = "Inbox Bench Agency", "Inbox Bench Dental", "bench-owner@inbox.test"
POLLS_PER_MINUTE = 60 // 3


def world(threads: int):
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Agency, Membership, Role, SubAccount, User
    from messaging.models import Contact, Message, PhoneNumber

    agency, _ = Agency.objects.get_or_create(name=AGENCY)
    sub, _ = SubAccount.objects.get_or_create(agency=agency, name=SUB_ACCOUNT, defaults={"business_name": "Bench"})
    PhoneNumber.objects.get_or_create(number="+12025550300", defaults={"sub_account": sub})
    owner, created = User.objects.get_or_create(email=OWNER)
    if created:
        Membership.objects.create(user=owner, role=Role.SUBACCOUNT_OWNER, sub_account=sub)
    if sub.contacts.count() != threads:
        sub.contacts.all().delete()
        now = timezone.now()
        contacts = [
            Contact(sub_account=sub, phone=f"+1212{4000000 + i:07d}", first_name=f"P{i}",
                    last_message_at=now - timedelta(seconds=i), last_message_preview=f"Message {i}")
            for i in range(threads)
        ]  # fmt: skip
        Contact.objects.bulk_create(contacts, batch_size=2000)
        Message.objects.bulk_create(
            (Message(sub_account=sub, contact=c, direction="inbound", source="inbound", status="received",
                     body=c.last_message_preview) for c in contacts),
            batch_size=2000,
        )  # fmt: skip
        Message.objects.bulk_create(
            Message(sub_account=sub, contact=contacts[0], direction="outbound", source="one_to_one", status="sent",
                    body=f"Reply {i}", body_sent=f"Reply {i}") for i in range(199)
        )  # fmt: skip
        with connection.cursor() as cursor:  # fresh statistics, as autovacuum would give them soon
            cursor.execute("ANALYZE messaging_contact")
            cursor.execute("ANALYZE messaging_message")
        print(f"generated {threads} threads")
    return sub, owner


def timed(client, url, runs):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, headers={"HX-Request": "true"}, secure=True)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url, headers={"HX-Request": "true"}, secure=True)
        times.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers={"HX-Request": "true"}, secure=True)
    times.sort()
    return response.status_code, statistics.median(times), times[int(len(times) * 0.95) - 1], len(queries)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    ensure_database(require_database("bench_inbox"))
    setup_django(test_client=True)
    import re

    from django.conf import settings
    from django.test import Client, override_settings
    from django.urls import reverse

    from messaging import inbound as inbound_texts

    # The production static storage needs `collectstatic`'s manifest; the plain one the same URLs.
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=storages).enable()
    sub, owner = world(args.threads)
    client = Client()
    client.force_login(owner)
    first = sub.contacts.conversations().first()
    rows = []

    def poll_url(page_url):
        response = client.get(page_url, secure=True)
        assert response.status_code == 200, (page_url, response.status_code, response.get("Location"))
        html = response.content.decode()
        return re.search(r'id="poll" hx-get="([^"]+)"', html).group(1).replace("&amp;", "&")

    thread_page = reverse("conversation", args=[sub.pk, first.pk])
    list_page = reverse("conversation_list", args=[sub.pk])
    for label, page in (("poll, thread open, nothing new", thread_page), ("poll, list only, nothing new", list_page)):
        rows.append((label, *timed(client, poll_url(page), args.runs)))
    # Right after an inbound text: the stamps differ, so the changed parts come back (one sample each).
    changed = []
    for i in range(20):
        url = poll_url(thread_page)
        inbound_texts.inbound_receive(sid=f"SMbench{time.time_ns()}", from_=first.phone, to="+12025550300",
                                      body=f"New {i}")  # fmt: skip
        start = time.perf_counter()
        status = client.get(url, headers={"HX-Request": "true"}, secure=True).status_code
        changed.append((time.perf_counter() - start) * 1000)
    rows.append(("poll, thread open, a new text", status, statistics.median(changed), max(changed), "—"))
    rows.append(("list, first page", *timed(client, list_page, args.runs // 4)))
    from messaging import inbox

    before_last = sub.contacts.conversations().order_by("last_message_at", "id")[50]
    rows.append(("list, last page (keyset)", *timed(client, list_page + "?after=" + inbox.cursor_of(before_last),
                                                    args.runs // 4)))  # fmt: skip
    print_table(("request", "status", "median ms", "p95 ms", "queries"), [
        (r[0], r[1], f"{r[2]:.1f}", f"{r[3]:.1f}", r[4]) for r in rows
    ])  # fmt: skip
    per_minute = rows[0][2] * POLLS_PER_MINUTE
    print(f"one open tab (thread open, polling every 3 s): {POLLS_PER_MINUTE} requests/min, "
          f"≈{per_minute:.0f} ms of server time a minute ({per_minute / 600:.2f} % of one core)")  # fmt: skip


if __name__ == "__main__":
    main()
