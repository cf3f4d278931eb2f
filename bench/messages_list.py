"""Message lists at 200,000+ messages in one sub-account (issue 16: keyset pages "stable under
inserts, flat cost on the last page"), and what their queries read. Not a test (it needs
PostgreSQL); docs/BENCHMARKS.md has the figures and how to read them.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_messages REDIS_URL=redis://127.0.0.1:6379/9 \\
        SMS_BACKEND=memory .venv/bin/python bench/messages_list.py

Three lists a user or an integration pages through, each at its first page, a middle page and its
last page (the cursor a client holds after following `next` to there):

- the JSON API's `GET /api/v1/messages`, newest first, also filtered by status;
- a bulk send's recipients on its report page (the htmx request its page links make), in the
  order they were queued, also filtered by status;
- one long conversation read back with "Show older messages" (the htmx request of that link).

The data is generated once by server-side SQL and kept between runs: the contacts of
bench/contacts_list.py (--contacts, default 100,000, with their names, tags and consent); one bulk
send to every contact (one message each, queued 100 to a microsecond as the send's batches write
them); --messages more messages (default 100,000) over 60 days to random contacts, in and out, all
sources and statuses; and one contact whose thread holds --thread messages (default 10,000).
--rebuild drops the database first.

Then, through Django's test client (in this process, no HTTP server), with the production
settings (DEBUG off): each page once to warm up, then --runs rounds of one request to every page
(round robin: the machine's load drifts, and should weigh on first and last pages alike); then
every SELECT of one request per page again under EXPLAIN (ANALYZE, BUFFERS), flagged as in
contacts_list.py (--strict: exit 1).
Last, for comparison, the API's deepest page read the old way, with OFFSET (the same query, SQL
only).
"""

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta

from common import ensure_database, plan_page, print_plans, print_table, require_database, setup_django
from contacts_list import bench_world, generate, insert_select

WATCHED = ("messaging_message",)
BULK_BODY = "Spring cleaning special: 20% off whitening this month. Book at citydental.example"
HTMX = {"HX-Request": "true"}


# --- The data: server-side SQL --------------------------------------------------------------


def generate_messages(sub, owner, *, extra: int, thread: int, now) -> None:
    from django.db import connection

    from messaging.models import BulkSend, Message

    bulk = BulkSend.objects.create(
        sub_account=sub, created_by=owner, body=BULK_BODY, audience="All contacts", status=BulkSend.Status.DONE
    )
    with connection.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute("SELECT setseed(0.17)")
        outcome = """CASE WHEN r < 0.90 THEN 'delivered' WHEN r < 0.96 THEN 'undelivered'
                          WHEN r < 0.98 THEN 'failed' ELSE 'sent' END"""
        common = {
            "id": "gen_random_uuid()", "sub_account_id": "%(sub)s", "to_number": "c.phone",
            "from_number": "'+16465550101'", "updated_at": "%(now)s",
            "error_code": "CASE WHEN r >= 0.90 AND r < 0.96 THEN '30003' ELSE '' END",
            "failure_reason": "CASE WHEN r >= 0.96 AND r < 0.98 THEN 'Recipient opted out.' ELSE '' END",
        }  # fmt: skip
        # The bulk send: one message per contact, 100 to a microsecond (ties only the id breaks).
        insert_select(
            cur, Message,
            common | {
                "contact_id": "c.id", "bulk_send_id": "%(bulk)s", "direction": "'outbound'", "source": "'bulk'",
                "status": outcome, "body": "%(body)s", "body_sent": "%(body)s",
                "created_at": "%(now)s - interval '2 days' + (c.n / 100) * interval '1 millisecond'",
                "sent_at": "%(now)s - interval '2 days'", "final_at": "%(now)s - interval '2 days'",
            },
            """FROM (SELECT id, phone, row_number() OVER (ORDER BY id) AS n, random() AS r
                     FROM messaging_contact WHERE sub_account_id = %(sub)s) c""",
            {"sub": sub.pk, "bulk": bulk.pk, "body": BULK_BODY, "now": now},
        )  # fmt: skip
        # Everything else: random contacts, 60 days, a third inbound.
        insert_select(
            cur, Message,
            common | {
                "contact_id": "c.id", "direction": "CASE WHEN x.r2 < 0.33 THEN 'inbound' ELSE 'outbound' END",
                "source": "CASE WHEN x.r2 < 0.33 THEN 'inbound' WHEN x.r2 < 0.6 THEN 'workflow' "
                "WHEN x.r2 < 0.8 THEN 'one_to_one' ELSE 'campaign' END",
                "status": f"CASE WHEN x.r2 < 0.33 THEN 'received' ELSE {outcome} END",
                "body": "'Thanks, see you Tuesday at 3'", "body_sent": "'Thanks, see you Tuesday at 3'",
                "created_at": "%(now)s - x.r3 * interval '60 days'",
            },
            """FROM (SELECT g, random() AS r, random() AS r2, random() AS r3,
                            floor(random() * %(contacts)s)::int AS k
                     FROM generate_series(1, %(n)s) g) x
               JOIN (SELECT id, phone, row_number() OVER (ORDER BY id) - 1 AS k
                     FROM messaging_contact WHERE sub_account_id = %(sub)s) c ON c.k = x.k""",
            {"sub": sub.pk, "n": extra, "contacts": sub.contacts.count(), "now": now},
        )  # fmt: skip
        # One long conversation: the contact first in name order, `thread` messages over a year.
        insert_select(
            cur, Message,
            common | {
                "contact_id": "c.id", "direction": "CASE WHEN g %% 2 = 0 THEN 'inbound' ELSE 'outbound' END",
                "source": "CASE WHEN g %% 2 = 0 THEN 'inbound' ELSE 'one_to_one' END",
                "status": "CASE WHEN g %% 2 = 0 THEN 'received' ELSE 'delivered' END",
                "body": "'Message ' || g", "body_sent": "'Message ' || g", "error_code": "''",
                "failure_reason": "''", "created_at": "%(now)s - interval '365 days' + g * interval '1 hour'",
            },
            """FROM generate_series(1, %(n)s) g, (SELECT %(contact)s::uuid AS id, %(phone)s AS phone, 0.5 AS r) c""",
            {"sub": sub.pk, "n": thread, "contact": thread_contact(sub).pk, "phone": thread_contact(sub).phone,
             "now": now},
        )  # fmt: skip
        BulkSend.objects.filter(pk=bulk.pk).update(total=sub.contacts.count())
        cur.execute("VACUUM (ANALYZE) messaging_message")


def thread_contact(sub):
    return sub.contacts.order_by("phone").first()


def data_state(sub, contacts: int, extra: int, thread: int) -> str:
    from messaging.models import Message

    if sub.contacts.count() != contacts:
        return f"{sub.contacts.count()} contacts, not {contacts}"
    expected = contacts + extra + thread
    found = Message.objects.filter(sub_account=sub).count()
    if found != expected or sub.bulk_sends.count() != 1:
        return f"{found} messages, not {expected}"
    return "ready"


def clear_data() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("TRUNCATE messaging_contact, messaging_tag, messaging_bulksend CASCADE")


# --- Timing ---------------------------------------------------------------------------------


@dataclass
class Page:
    label: str
    url: str
    headers: dict
    ms: list = field(default_factory=list)
    sql_ms: list = field(default_factory=list)
    queries: set = field(default_factory=set)
    shown: int = 0
    captured: list = field(default_factory=list)
    plans: list = field(default_factory=list)


def get(client, page: Page, wrapper=None):
    from django.db import connection

    if wrapper is None:
        response = client.get(page.url, headers=page.headers, secure=True)
    else:
        with connection.execute_wrapper(wrapper):
            response = client.get(page.url, headers=page.headers, secure=True)
    if response.status_code != 200:
        sys.exit(f"{page.label}: GET {page.url} answered {response.status_code}: {response.content[:300]!r}")
    return response


def prepare(client, page: Page) -> None:
    """One warm-up request, then one with every statement captured (for EXPLAIN)."""
    get(client, page)

    def capture(execute, sql, params, many, context):
        page.captured.append((sql, params))
        return execute(sql, params, many, context)

    response = get(client, page, capture)
    text = response.content.decode()
    page.shown = (
        len(response.json()["data"]) if page.url.startswith("/api/")
        else text.count('data-testid="recipient"') or text.count('class="bubble ')
    )  # fmt: skip


def time_once(client, page: Page) -> None:
    counted = {"n": 0, "s": 0.0}

    def count(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            counted["n"] += 1
            counted["s"] += time.perf_counter() - start

    start = time.perf_counter()
    get(client, page, count)
    page.ms.append((time.perf_counter() - start) * 1000)
    page.sql_ms.append(counted["s"] * 1000)
    page.queries.add(counted["n"])


def time_pages(client, pages: list[Page], runs: int) -> None:
    """Round robin: run k of every page before run k+1 of any, so the shared machine's load,
    which drifts over a minute, weighs on the first and the last page alike."""
    for _ in range(runs):
        for page in pages:
            time_once(client, page)


def cursor_at(queryset, order, index: int) -> str:
    """The cursor a client holds after following `next` to row `index` of the list."""
    from messaging.keyset import encode

    names = [n.lstrip("-") for n in order]
    return encode(queryset.order_by(*order).values_list(*names)[index])


def last_start(n: int, size: int = 50) -> int:
    """Where the last page starts for a client that follows `next` from the first (50 a page)."""
    return (n - 1) // size * size


def pages_of(sub, key: str) -> list[Page]:
    from django.urls import reverse
    from django.utils.http import urlencode

    from messaging import api, bulk, inbox

    auth = {"Authorization": f"Bearer {key}"}
    messages, n = sub.messages.all(), sub.messages.count()
    failed = messages.filter(status="failed")
    n_failed = failed.count()
    send = sub.bulk_sends.get()
    recipients, n_recipients = send.messages.all(), send.messages.count()
    r_failed, n_r_failed = recipients.filter(status="failed"), recipients.filter(status="failed").count()
    contact = thread_contact(sub)
    thread, n_thread = contact.messages.all(), contact.messages.count()
    api_url, bulk_url = "/api/v1/messages", reverse("bulk_detail", args=[sub.pk, send.pk])
    thread_url = reverse("conversation", args=[sub.pk, contact.pk])
    o, r, t, size = api.MESSAGE_ORDER, bulk.RECIPIENT_ORDER, ("-created_at", "-id"), inbox.THREAD_LENGTH
    bulk_htmx = HTMX | {"HX-Target": "recipients"}

    def q(**params):
        return "?" + urlencode(params)

    return [
        Page("API: first page", api_url, auth),
        Page("API: middle page", api_url + q(after=cursor_at(messages, o, n // 2 - 1)), auth),
        Page("API: last page", api_url + q(after=cursor_at(messages, o, last_start(n) - 1)), auth),
        Page("API: status=failed, first", api_url + q(status="failed"), auth),
        Page("API: status=failed, last",
             api_url + q(status="failed", after=cursor_at(failed, o, last_start(n_failed) - 1)), auth),
        Page("recipients: first page", bulk_url, bulk_htmx),
        Page("recipients: middle page", bulk_url + q(after=cursor_at(recipients, r, n_recipients // 2 - 1)), bulk_htmx),
        Page("recipients: last page", bulk_url + q(last=1), bulk_htmx),
        Page("recipients: failed, last", bulk_url + q(status="failed", last=1), bulk_htmx),
        Page("recipients: failed, middle", bulk_url + q(status="failed", after=cursor_at(r_failed, r, n_r_failed // 2)),
             bulk_htmx),
        Page("report page, full (counts)", bulk_url, {}),
        Page("thread: first older page", thread_url + q(older=cursor_at(thread, t, size - 1)), HTMX),
        Page("thread: middle older page", thread_url + q(older=cursor_at(thread, t, n_thread // 2)), HTMX),
        Page("thread: oldest page", thread_url + q(older=cursor_at(thread, t, n_thread - size - 1)), HTMX),
    ]  # fmt: skip


def offset_reference(sub, runs: int) -> list[tuple]:
    """The API's list read the old way: OFFSET, SQL only, at the first, middle and last page."""
    from django.db import connection

    from messaging import api

    n, rows = sub.messages.count(), []
    base = sub.messages.only(*api.MESSAGE_LIST_FIELDS).order_by(*api.MESSAGE_ORDER)
    for label, offset in (("first", 0), ("middle", n // 2), ("last", n - 50)):
        sql, params = base[offset : offset + 51].query.sql_with_params()
        times = []
        with connection.cursor() as cur:
            cur.execute(sql, params)
            for _ in range(runs):
                start = time.perf_counter()
                cur.execute(sql, params)
                cur.fetchall()
                times.append((time.perf_counter() - start) * 1000)
        rows.append((f"OFFSET {offset}", label, f"{statistics.median(times):.1f}", f"{min(times):.1f}"))
    return rows


# --- Output and main ------------------------------------------------------------------------


def report(pages: list[Page], runs: int, all_plans: bool) -> None:
    print(f"\nPage times over {runs} rounds of every page (after one warm-up), in milliseconds:\n")
    print_table(
        ("page", "shown", "median", "min", "max", "SQL (median)", "statements", "list query: rows read"),
        [
            (p.label, p.shown, f"{statistics.median(p.ms):.1f}", f"{min(p.ms):.1f}", f"{max(p.ms):.1f}",
             f"{statistics.median(p.sql_ms):.1f}", "/".join(str(n) for n in sorted(p.queries)), message_reads(p))
            for p in pages
        ],
    )  # fmt: skip
    for p in pages:
        print_plans(p.label, p.plans, all_plans, heading_label=f"“{p.label}”")


def message_reads(page: Page) -> str:
    """Rows of messaging_message each query read (EXPLAIN ANALYZE), e.g. `51` or `51 + 100000`."""
    reads = [rows + removed for pl in page.plans for kind, rel, _i, rows, removed in pl.scans if rel in WATCHED]
    return " + ".join(str(r) for r in reads) or "—"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts, each sent the bulk send")
    parser.add_argument("--messages", type=int, default=100_000, help="messages besides the bulk send's")
    parser.add_argument("--thread", type=int, default=10_000, help="messages of the long conversation")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--strict", action="store_true", help="exit 1 if a plan is flagged")
    parser.add_argument("--rebuild", action="store_true", help="drop the database and generate the data again")
    parser.add_argument("--plans", action="store_true", help="print every query and its plan")
    args = parser.parse_args(argv)

    database_url = require_database("bench_messages")
    ensure_database(database_url, drop=args.rebuild)
    setup_django(test_client=True)
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings
    from django.utils import timezone

    from messaging.keys import api_key_create

    sub, _other, owner = bench_world()
    state = data_state(sub, args.contacts, args.messages, args.thread)
    if state != "ready":
        print(f"generating the data ({state}) …", flush=True)
        clear_data()
        start, now = time.perf_counter(), timezone.now() - timedelta(minutes=1)
        generate(sub, args.contacts, now)
        generate_messages(sub, owner, extra=args.messages, thread=args.thread, now=now)
        with connection.cursor() as cur:
            cur.execute("VACUUM (ANALYZE) messaging_contact")
        print(f"generated in {time.perf_counter() - start:.0f} s")
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0]
        cur.execute(
            "SELECT count(*), pg_size_pretty(pg_total_relation_size('messaging_message')) FROM messaging_message"
        )
        n, size = cur.fetchone()
    print(f"PostgreSQL {version}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"  messaging_message: {n} rows, {size} with indexes; sub-account {sub.messages.count()}")

    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # The API's per-key limit (600 a minute) would answer the timed requests with 429s.
    override_settings(STORAGES=storages, API_RATE_LIMIT_PER_MINUTE=10**7, API_RATE_LIMIT_BURST=10**6).enable()
    _, key = api_key_create(sub_account=sub, name="bench", user=owner)
    client = Client()
    client.force_login(owner)
    pages = pages_of(sub, key)
    for page in pages:
        print(f"{page.label}: {page.url} …", flush=True)
        prepare(client, page)
    time_pages(client, pages, args.runs)
    for page in pages:
        plan_page(page, WATCHED, flag_wide_reads=True)
    report(pages, args.runs, args.plans)
    print("\nThe API's list with OFFSET instead (the same query, SQL only, for comparison):\n")
    print_table(("query", "page", "median ms", "min"), offset_reference(sub, args.runs))
    print(f"\nload average at the end {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    flagged = sum(1 for p in pages for pl in p.plans if pl.flags)
    print(f"\n{flagged} flagged plan(s).")
    if flagged and args.strict:
        sys.exit(1)


if __name__ == "__main__":
    main()
