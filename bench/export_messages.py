"""The messages export at 100,000 messages (issue 16: "an export of 100,000 messages streams with
flat memory"): seconds, time to the first byte, queries, and the process's resident memory while
the CSV streams — for one day (10 % of the messages) and for all of them, so "flat" is the
difference between the two. Not a test (it needs PostgreSQL); docs/BENCHMARKS.md has the figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_exports REDIS_URL=redis://127.0.0.1:6379/7 \\
        SMS_BACKEND=memory .venv/bin/python bench/export_messages.py

The database is created if missing and migrated; the data (one sub-account, 5,000 contacts,
--messages messages over 10 days, a tenth undelivered with a carrier code or failed with a
reason, a few with emoji) is generated once by server-side SQL and kept between runs (--rebuild
drops the database first). The export is requested through Django's test client in this process,
logged in as the sub-account's owner, with the production settings (DEBUG off), and its
streaming_content read to the end as a client would; RSS is read from /proc/self/statm every 200
chunks. Last, for comparison, the same rows built as one list in memory (what a non-streamed
export would hold).
"""

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta

from common import ensure_database, lift_ramp, require_database, setup_django

AGENCY = "Exports Bench Agency"
OWNER_EMAIL = "bench-owner@exports.test"
DAY0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DAYS = 10
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def bench_world():
    from accounts.models import Agency, Membership, Role, SubAccount, User

    agency, _ = Agency.objects.get_or_create(name=AGENCY)
    sub, _ = SubAccount.objects.get_or_create(agency=agency, name="Bench Exports", defaults={"business_name": "Bench"})
    owner, created = User.objects.get_or_create(email=OWNER_EMAIL)
    if created:
        owner.set_unusable_password()
        owner.save()
    Membership.objects.get_or_create(user=owner, sub_account=sub, defaults={"role": Role.SUBACCOUNT_OWNER})
    return sub, owner


def generate(sub, total: int) -> None:
    from django.db import connection

    from messaging.models import Contact, Message

    Message.objects.filter(sub_account=sub).delete()
    Contact.objects.filter(sub_account=sub).delete()
    with connection.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute(
            """INSERT INTO messaging_contact (id, sub_account_id, phone, first_name, last_name, email, address,
                   time_zone, dnd, consent, last_message_preview, unread_count, has_texted_in, created_at)
               SELECT gen_random_uuid(), %s, '+1212' || (5000000 + g)::text, 'First' || g, 'Last' || g, '', '',
                   '', 'none', 'granted', '', 0, false, %s
               FROM generate_series(0, 4999) g""",
            [sub.pk, DAY0 - timedelta(days=30)],
        )
        # Message g: contact g % 5000, created DAY0 + g * (10 days / total); every 10th undelivered
        # (30007) or failed (a reason), every 50th with an emoji (UCS-2, more segments).
        cur.execute(
            """INSERT INTO messaging_message (id, sub_account_id, contact_id, direction, source, status, body,
                   body_sent, from_number, to_number, error_code, failure_reason, provider_sid, batch,
                   created_at, updated_at, sent_at, final_at)
               SELECT gen_random_uuid(), %(sub)s, c.id, 'outbound', 'bulk',
                   CASE WHEN g %% 20 = 0 THEN 'undelivered' WHEN g %% 20 = 10 THEN 'failed' ELSE 'delivered' END,
                   b.body, b.body || E'\\nReply STOP to unsubscribe', '+16465550101', c.phone,
                   CASE WHEN g %% 20 = 0 THEN '30007' ELSE '' END,
                   CASE WHEN g %% 20 = 10 THEN 'Cannot send messages as DND is active for SMS.' ELSE '' END,
                   'SMbench' || g, '', t.at, t.at, t.at, t.at + interval '5 seconds'
               FROM generate_series(0, %(n)s - 1) g
               JOIN (SELECT id, phone, row_number() OVER (ORDER BY phone) - 1 AS k
                     FROM messaging_contact WHERE sub_account_id = %(sub)s) c ON c.k = g %% 5000
               CROSS JOIN LATERAL (SELECT %(day0)s + g * (interval '1 day' * %(days)s / %(n)s) AS at) t
               CROSS JOIN LATERAL (SELECT CASE WHEN g %% 50 = 0
                   THEN 'Spring sale 🌸 ' || repeat('twenty percent off everything in store, ', 2)
                   ELSE 'Hi, your appointment is on ' || to_char(t.at, 'Mon DD') || '. Reply C to confirm.'
                   END AS body) b""",
            {"sub": sub.pk, "n": total, "day0": DAY0, "days": DAYS},
        )
        cur.execute("VACUUM (ANALYZE) messaging_message")
        cur.execute("VACUUM (ANALYZE) messaging_contact")


def stream(client, url, params) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    before = rss_mb()
    peak, size, lines, first = before, 0, 0, None
    start = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params, secure=True)
        assert response.status_code == 200 and response.streaming, response
        for i, chunk in enumerate(response.streaming_content):
            if first is None:
                first = time.perf_counter() - start
            size += len(chunk)
            lines += chunk.count(b"\r\n")  # csv ends rows with CRLF; a body's own newlines are LF
            if i % 200 == 0:
                peak = max(peak, rss_mb())
        response.close()
    seconds = time.perf_counter() - start
    peak = max(peak, rss_mb())
    return {"rows": lines - 1, "mb": size / 2**20, "seconds": seconds, "first_byte": first, "rss_before": before,
            "rss_peak": peak, "queries": len(queries)}  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rebuild", action="store_true", help="drop the database first")
    args = parser.parse_args()
    database_url = require_database("h_exports")
    ensure_database(database_url, drop=args.rebuild)
    setup_django(test_client=True)

    from django.test import Client
    from django.urls import reverse

    from messaging.exports import message_rows
    from messaging.models import Message

    sub, owner = bench_world()
    lift_ramp(sub)
    if Message.objects.filter(sub_account=sub).count() != args.messages:
        t = time.perf_counter()
        generate(sub, args.messages)
        print(f"generated {args.messages:,} messages in {time.perf_counter() - t:.1f} s")
    client = Client()
    client.force_login(owner)
    url = reverse("messages_export", args=[sub.pk])
    last = (DAY0 + timedelta(days=DAYS)).date()  # the last message is on the morning of day 10
    stream(client, url, {"start": DAY0.date(), "end": DAY0.date()})  # warm-up
    runs = [
        ("one day", stream(client, url, {"start": DAY0.date(), "end": DAY0.date()})),
        ("all", stream(client, url, {"start": DAY0.date(), "end": last})),
        ("all, again", stream(client, url, {"start": DAY0.date(), "end": last})),
    ]
    print(f"{'export':<20} {'rows':>8} {'MB':>6} {'s':>6} {'1st byte s':>10} {'rows/s':>8} {'queries':>7} "
          f"{'RSS before':>10} {'RSS peak':>8} {'growth':>6}")  # fmt: skip
    for name, r in runs:
        print(f"{name:<20} {r['rows']:>8,} {r['mb']:>6.1f} {r['seconds']:>6.2f} {r['first_byte']:>10.3f} "
              f"{r['rows'] / r['seconds']:>8,.0f} {r['queries']:>7} {r['rss_before']:>10.1f} {r['rss_peak']:>8.1f} "
              f"{r['rss_peak'] - r['rss_before']:>6.1f}")  # fmt: skip
    from compliance.exports import day_range

    before = rss_mb()
    t = time.perf_counter()
    rows = list(message_rows(sub, *day_range(DAY0.date(), last, sub.time_zone)))
    print(f"for comparison, the {len(rows):,} rows held as one list: RSS {before:.1f} → {rss_mb():.1f} MB "
          f"(+{rss_mb() - before:.1f}) in {time.perf_counter() - t:.2f} s")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
