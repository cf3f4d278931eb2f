"""Dashboard page time at 1,000,000 messages (issue 7), and proof that its queries use indexes.
Not a test (it needs PostgreSQL, and about a minute to generate the data the first time);
docs/BENCHMARKS.md has the figures and how to read them.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_dashboard REDIS_URL=redis://127.0.0.1:6379/7 \\
        SMS_BACKEND=memory .venv/bin/python bench/dashboard.py

The database in DATABASE_URL is created if missing and migrated. The data is generated once by
server-side SQL (`INSERT … SELECT … FROM generate_series`) and kept between runs: one agency
(400 days old), three sub-accounts, 20,000 contacts and --messages outbound messages over the
last 30 days (90 % in one sub-account; ≈90 % delivered, 6 % undelivered with carrier codes, 2 %
failed, 2 % sent), with the R8 counters (hourly rate buckets, undelivered codes per day) summed
from them as production keeps them. Violations, suspensions (one in force) and the ramp states
are rewritten on every run, relative to now. Data older than --max-age-hours, or of another
size, is generated again; --rebuild drops the whole database first (also after a migration was
rewritten).

Then, through Django's test client (in this process, no HTTP server), logged in as an agency
admin: the biggest sub-account's dashboard, the agency page and — once the URL exists — the
support risk page (as support staff), --runs times each after one warm-up request. Finally
every SELECT of one request per page is run again under EXPLAIN (ANALYZE, BUFFERS); a sequential
scan of the message table or of the rate buckets, or an index scan that filters away most of
what it reads, is flagged (--strict: exit status 1).
"""

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from common import ensure_database, plan_page, print_plans, print_table, require_database, setup_django

AGENCY = "Dashboard Bench Agency"
# name, business name, share of the messages, contacts, sending numbers
SUB_ACCOUNTS = (
    ("Bench Main Street Dental", "Main Street Dental", 0.90, 18000, ("+12025550201", "+12025550202")),
    ("Bench Harbor Gym", "Harbor Gym", 0.05, 1000, ("+12025550203",)),
    ("Bench Corner Bakery", "Corner Bakery", 0.05, 1000, ("+12025550204",)),
)
ADMIN_EMAIL = "bench-admin@dashboard.test"
SUPPORT_EMAIL = "bench-support@dashboard.test"
DAYS = 30
# Tables whose sequential scan on a page load is the problem issue 7 is about.
WATCHED = ("messaging_message", "compliance_ratebucket")

FIRST_NAMES = ["Ava", "Ben", "Chloe", "Diego", "Emma", "Farah", "Gus", "Hana", "Ivan", "Jade"]
LAST_NAMES = ["Smith", "Garcia", "Nguyen", "Okafor", "Rossi", "Khan", "Silva", "Cohen", "Park", "Weber"]
BODIES = [
    "Hi {first_name}, your cleaning is due. Book online or reply to this text.",
    "Reminder: your appointment is tomorrow at 10:00. Reply C to confirm.",
    "Our spring offer: 20% off whitening until Friday.",
    "We are closed on Monday for the holiday. See you Tuesday!",
]
# Failure reasons as the app writes them (compliance/rules.py, compliance/ramp.py, messaging/dispatch.py).
FAILURE_REASONS = [
    "Cannot send messages as DND is active for SMS.",
    "No consent on record for this contact: bulk messages need an opt-in (R10).",
    "You have exceeded your SMS sending limit.",
    "Recipient opted out.",
    "Sending was interrupted and the carrier has no record of this message; it was not re-sent. Use Resend.",
]
# Passed as parameters to every generating statement: `(%(bodies)s::text[])[1 + g %% 4]`.
LISTS = {"first_names": FIRST_NAMES, "last_names": LAST_NAMES, "bodies": BODIES, "reasons": FAILURE_REASONS}


# --- The world: agency, sub-accounts, users (ORM, small) ------------------------------------


@dataclass
class World:
    agency: object
    subs: list  # in SUB_ACCOUNTS order; subs[0] is the big one
    admin: object
    support: object


def bench_world(now) -> World:
    from accounts.models import Agency, Membership, Role, SubAccount, User
    from messaging.models import PhoneNumber

    agency, _ = Agency.objects.get_or_create(name=AGENCY)
    # Older than the 90 days R9 asks of an agency before it may lift a suspension itself.
    Agency.objects.filter(pk=agency.pk).update(created_at=now - timedelta(days=400))
    subs = []
    for name, business, _share, _contacts, numbers in SUB_ACCOUNTS:
        sub, _ = SubAccount.objects.get_or_create(agency=agency, name=name, defaults={"business_name": business})
        SubAccount.objects.filter(pk=sub.pk).update(created_at=now - timedelta(days=380))
        for number in numbers:
            PhoneNumber.objects.get_or_create(number=number, defaults={"sub_account": sub})
        subs.append(sub)
    admin, created = User.objects.get_or_create(email=ADMIN_EMAIL)
    if created:
        admin.set_unusable_password()
        admin.save()
    Membership.objects.get_or_create(user=admin, agency=agency, defaults={"role": Role.AGENCY_ADMIN})
    support, created = User.objects.get_or_create(email=SUPPORT_EMAIL, defaults={"is_support_staff": True})
    if created:
        support.set_unusable_password()
        support.save()
    return World(agency, subs, admin, support)


# --- The data: server-side SQL --------------------------------------------------------------


def insert_select(cursor, model, exprs: dict, source: str, params: dict) -> int:
    """INSERT INTO <model's table> (columns) SELECT <exprs> <source>. Every NOT NULL column not
    given gets the model's default as a constant, so a column added to the model meanwhile does
    not break the benchmark."""
    from django.db import connection, models

    exprs, params = dict(exprs), {**LISTS, **params}
    for f in model._meta.concrete_fields:
        if f.column in exprs or f.null or isinstance(f, models.AutoField):
            continue
        value = f.get_default()
        if value is None:
            sys.exit(f"bench/dashboard.py: no value for {model._meta.db_table}.{f.column} (NOT NULL, no default)")
        params[f"default_{f.column}"] = f.get_db_prep_save(value, connection)
        exprs[f.column] = f"%(default_{f.column})s"
    columns = ", ".join(connection.ops.quote_name(c) for c in exprs)
    cursor.execute(
        f"INSERT INTO {model._meta.db_table} ({columns}) SELECT {', '.join(exprs.values())} {source}", params
    )
    return cursor.rowcount


def share_case(column: str, shares: list[tuple[str, float]]) -> str:
    """CASE picking the first value whose cumulative share exceeds `column` (a random() in [0, 1))."""
    whens, total = [], 0.0
    for value, share in shares[:-1]:
        total += share
        whens.append(f"WHEN {column} < {total:.4f} THEN '{value}'")
    return f"CASE {' '.join(whens)} ELSE '{shares[-1][0]}' END"


STATUS = share_case("r", [("delivered", 0.90), ("undelivered", 0.06), ("failed", 0.02), ("sent", 0.02)])
# Within the 6 % undelivered (r in [0.90, 0.96)): the simulator's mix of carrier codes.
ERROR_CODE = (
    "CASE WHEN r >= 0.90 AND r < 0.96 THEN "
    + share_case(
        "(r - 0.90)",
        [("30003", 0.02), ("30004", 0.005), ("30005", 0.01), ("30006", 0.01), ("30007", 0.01), ("30008", 0.005)],
    )
    + " ELSE '' END"
)
SOURCE = share_case(
    "r3",
    [("bulk", 0.80), ("workflow", 0.08), ("campaign", 0.05), ("one_to_one", 0.05), ("missed_call_text_back", 0.02)],
)


def generate(world: World, total: int, now) -> dict:
    """Contacts, bulk sends, messages, then the R8 counters summed from the messages. Returns
    seconds per step."""
    from django.db import connection

    from compliance.models import RateBucket, UndeliveredCode
    from messaging.models import BulkSend, Contact, Message

    steps = {}

    def step(label):
        steps[label] = time.perf_counter()
        print(f"  {label} …", flush=True)

    counts = [round(total * share) for _n, _b, share, _c, _p in SUB_ACCOUNTS]
    counts[0] += total - sum(counts)
    with connection.cursor() as cur:
        cur.execute("SET synchronous_commit = off")  # bulk load only: nothing here must survive a crash
        cur.execute("SELECT setseed(0.42)")  # the same statuses and times every run (random(), no parallel insert)
        step("contacts")
        for i, (sub, spec) in enumerate(zip(world.subs, SUB_ACCOUNTS, strict=True)):
            # 0.5 % opted out (permanent DND, consent revoked); the rest opted in.
            insert_select(
                cur, Contact,
                {
                    "id": "gen_random_uuid()", "sub_account_id": "%(sub)s", "phone": "'+1' || (%(base)s + g)::text",
                    "first_name": "(%(first_names)s::text[])[1 + g %% 10]",
                    "last_name": "(%(last_names)s::text[])[1 + (g / 10) %% 10]",
                    "dnd": "CASE WHEN g %% 200 = 0 THEN 'permanent' ELSE 'none' END",
                    "consent": "CASE WHEN g %% 200 = 0 THEN 'revoked' ELSE 'granted' END",
                    "has_texted_in": "g %% 10 = 0", "created_at": "%(now)s - interval '60 days'",
                },
                "FROM generate_series(0, %(n)s - 1) g",
                {"sub": sub.pk, "base": 3_125_550_000 + i * 100_000, "n": spec[3], "now": now},
            )  # fmt: skip
        cur.execute(
            "CREATE TEMP TABLE bench_contact AS SELECT sub_account_id, id, phone, "
            "row_number() OVER (PARTITION BY sub_account_id ORDER BY phone) - 1 AS n FROM messaging_contact"
        )
        cur.execute("CREATE INDEX ON bench_contact (sub_account_id, n)")

        step("bulk sends")
        # One bulk send per sub-account and day of the window: day d covers (now - d - 1, now - d].
        for sub in world.subs:
            insert_select(
                cur, BulkSend,
                {
                    "id": "gen_random_uuid()", "sub_account_id": "%(sub)s", "body": "(%(bodies)s::text[])[1 + d %% 4]",
                    "source": "'bulk'", "audience": "'All contacts'", "status": "'done'",
                    "created_at": "%(now)s - (d + 1) * interval '1 day'",
                },
                "FROM generate_series(0, %(days)s - 1) d",
                {"sub": sub.pk, "now": now, "days": DAYS},
            )  # fmt: skip
        cur.execute(
            "CREATE TEMP TABLE bench_bulk AS SELECT sub_account_id, id, "
            "round(extract(epoch FROM %(now)s - created_at) / 86400)::int - 1 AS d FROM messaging_bulksend",
            {"now": now},
        )

        step(f"{total} messages")
        for sub, spec, n in zip(world.subs, SUB_ACCOUNTS, counts, strict=True):
            numbers = spec[4]
            # m0: one row per message with its random draws (status and carrier code from r, the
            # failure reason from r2, the source from r3) and its time; m: what they decide.
            source = f"""
                FROM (
                    SELECT g, gen_random_uuid() AS id, random() AS r, random() AS r2, random() AS r3,
                           %(now)s - random() * interval '{DAYS} days' AS t
                    FROM generate_series(0, %(n)s - 1) g
                ) m0
                CROSS JOIN LATERAL (SELECT {STATUS} AS status, {SOURCE} AS source, {ERROR_CODE} AS code) m
                JOIN bench_contact c ON c.sub_account_id = %(sub)s AND c.n = m0.g %% %(contacts)s
                LEFT JOIN bench_bulk b ON m.source = 'bulk' AND b.sub_account_id = %(sub)s
                    AND b.d = LEAST(floor(extract(epoch FROM %(now)s - m0.t) / 86400)::int, {DAYS - 1})
            """
            body = "(%(bodies)s::text[])[1 + m0.g %% 4]"
            handed = "m.status <> 'failed'"
            final = "m.status IN ('delivered', 'undelivered')"
            insert_select(
                cur, Message,
                {
                    "id": "m0.id", "sub_account_id": "%(sub)s", "contact_id": "c.id", "direction": "'outbound'",
                    "source": "m.source", "status": "m.status", "body": body,
                    "body_sent": f"{body} || ' Reply STOP to unsubscribe. Thanks, ' || %(business)s",
                    "from_number": f"(%(numbers)s::text[])[1 + m0.g %% {len(numbers)}]", "to_number": "c.phone",
                    "error_code": "m.code",
                    "failure_reason": "CASE WHEN m.status = 'failed' THEN (%(reasons)s::text[])"
                    f"[1 + floor(m0.r2 * {len(FAILURE_REASONS)})::int] ELSE '' END",
                    "provider_sid": f"CASE WHEN {handed} THEN 'SM' || md5(m0.id::text) END",
                    "batch": "coalesce(replace(b.id::text, '-', ''), '')", "bulk_send_id": "b.id",
                    "created_at": "m0.t",
                    "claimed_at": f"CASE WHEN {handed} THEN m0.t + interval '1 second' END",
                    "handed_at": f"CASE WHEN {handed} THEN m0.t + interval '1 second' END",
                    "sent_at": f"CASE WHEN {handed} THEN m0.t + interval '1 second' END",
                    "final_at": f"CASE WHEN {final} THEN m0.t + interval '4 seconds' "
                    "WHEN m.status = 'failed' THEN m0.t END",
                    "updated_at": "m0.t + interval '4 seconds'",
                },
                source,
                {"sub": sub.pk, "n": n, "now": now, "contacts": spec[3], "business": spec[1], "numbers": list(numbers)},
            )  # fmt: skip
        cur.execute(
            "UPDATE messaging_bulksend s SET total = x.n FROM "
            "(SELECT bulk_send_id, count(*) AS n FROM messaging_message GROUP BY 1) x WHERE x.bulk_send_id = s.id"
        )

        step("conversation summaries")
        cur.execute(
            """UPDATE messaging_contact c SET last_message_at = x.t, last_message_preview = left(x.body, 120)
               FROM (SELECT DISTINCT ON (contact_id) contact_id, created_at AS t, body FROM messaging_message
                     ORDER BY contact_id, created_at DESC) x
               WHERE x.contact_id = c.id"""
        )

        step("R8 counters")
        # As compliance.monitoring keeps them, by the hour of the message (production counts a
        # receipt in the hour it arrives, seconds later): outbound = handed to the carrier,
        # finalized = delivered + undelivered; 0.5 % of the handed messages drew an opt-out.
        insert_select(
            cur, RateBucket,
            {
                "sub_account_id": "sub_account_id", "hour": "date_trunc('hour', created_at, 'UTC')",
                "outbound": "count(*) FILTER (WHERE status IN ('sent', 'delivered', 'undelivered'))",
                "finalized": "count(*) FILTER (WHERE status IN ('delivered', 'undelivered'))",
                "delivered": "count(*) FILTER (WHERE status = 'delivered')",
                "undelivered": "count(*) FILTER (WHERE status = 'undelivered')",
                "opt_outs": "count(*) FILTER (WHERE status <> 'failed' AND abs(hashtext(id::text)) %% 200 = 0)",
            },
            "FROM messaging_message WHERE direction = 'outbound' GROUP BY 1, 2",
            {},
        )  # fmt: skip
        insert_select(
            cur, UndeliveredCode,
            {
                "sub_account_id": "sub_account_id", "day": "(created_at AT TIME ZONE 'UTC')::date",
                "code": "error_code", "count": "count(*)",
            },
            "FROM messaging_message WHERE status = 'undelivered' GROUP BY 1, 2, 3",
            {},
        )  # fmt: skip
        cur.execute("DROP TABLE bench_contact, bench_bulk")

        step("VACUUM ANALYZE")
        # Autovacuum's steady state: statistics, and the visibility map for index-only scans.
        for table in ("messaging_contact", "messaging_bulksend", "messaging_message", "compliance_ratebucket",
                      "compliance_undeliveredcode"):  # fmt: skip
            cur.execute(f"VACUUM (ANALYZE) {table}")
    steps["done"] = time.perf_counter()
    labels = list(steps)
    return {labels[i]: steps[labels[i + 1]] - steps[labels[i]] for i in range(len(labels) - 1)}


def data_state(world: World, total: int, now, max_age_hours: float) -> str:
    """'ready', or why the data has to be generated again."""
    from django.db.models import Max

    from compliance.models import RateBucket
    from messaging.models import Message

    messages = Message.objects.filter(sub_account__agency=world.agency)
    found = messages.count()
    if found == 0:
        return "no data yet"
    if found != total or not RateBucket.objects.filter(sub_account__agency=world.agency).exists():
        return f"{found} messages, not {total}"
    newest = messages.aggregate(t=Max("created_at"))["t"]
    if now - newest > timedelta(hours=max_age_hours):
        return f"the newest message is {(now - newest).total_seconds() / 3600:.1f} h old (--max-age-hours)"
    return "ready"


def clear_data() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        # Straight SQL: the ORM's cascade would load a million rows into Python. CASCADE empties
        # what points at these too (messages, their events, consent and DND history, suspensions).
        cur.execute(
            "TRUNCATE messaging_contact, messaging_bulksend, compliance_ratebucket, compliance_undeliveredcode, "
            "compliance_violation CASCADE"
        )


def refresh_live_rows(world: World, now) -> None:
    """The rows whose meaning depends on the clock, rewritten relative to now on every run: the
    ramp (top level, a window in progress), R8 violations and suspensions — two ended, one lifted
    early, one in force on the smallest sub-account — and an R11 content violation."""
    from compliance.models import RampState, Suspension, Violation
    from messaging.models import Message

    big, second, third = world.subs
    for sub in world.subs:
        sent = Message.objects.filter(sub_account=sub, created_at__gte=now - timedelta(hours=6)).count()
        RampState.objects.update_or_create(
            sub_account=sub,
            defaults=dict(level=8, started_at=now - timedelta(days=200), window_start=now - timedelta(hours=6),
                          window_count=sent, restricted_until=None, limit_extension=60000),
        )  # fmt: skip
    Suspension.objects.filter(sub_account__in=world.subs).delete()
    Violation.objects.filter(sub_account__in=world.subs).delete()
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def detail(at, error_rate: float, opt_out_rate: float, outbound: int = 30000) -> dict:
        # The shape compliance.monitoring records: the trailing-24-hour rates and counts.
        finalized = round(outbound * 0.97)
        hour = at.replace(minute=0, second=0, microsecond=0)
        return {
            "error_rate": f"{error_rate * 100:g} %", "opt_out_rate": f"{opt_out_rate * 100:g} %",
            "outbound": outbound, "finalized": finalized, "undelivered": round(finalized * error_rate),
            "opt_outs": round(outbound * opt_out_rate), "window_start": (hour - timedelta(hours=23)).isoformat(),
            "window_end": (hour + timedelta(hours=1)).isoformat(), "measured_at": at.isoformat(),
        }  # fmt: skip

    def violation(sub, kind, level, at, error_rate, opt_out_rate):
        v = Violation.objects.create(
            sub_account=sub, kind=kind, level=level, notice_day=at.date() if level == "violation" else None,
            detail=detail(at, error_rate, opt_out_rate),
            action="Violation email sent" if level == "violation" else "Temporary suspension of bulk, workflow "
            "and campaign SMS; suspension email sent",
            emailed_at=at + timedelta(seconds=5),
        )  # fmt: skip
        Violation.objects.filter(pk=v.pk).update(created_at=at)
        return v

    def day(days_ago):
        return midnight - timedelta(days=days_ago) + timedelta(hours=15)

    for days_ago, kind, err, opt in ((26, "error_rate", 0.0831, 0.004), (19, "opt_out_rate", 0.061, 0.0104),
                                     (4, "error_rate", 0.0812, 0.005)):  # fmt: skip
        violation(big, kind, "violation", day(days_ago), err, opt)
    for sub, days_ago, kind, err, opt, lifted in ((big, 12, "error_rate", 0.1302, 0.005, True),
                                                  (second, 8, "opt_out_rate", 0.055, 0.0261, False)):  # fmt: skip
        at = day(days_ago)
        Suspension.objects.create(
            sub_account=sub, cause=kind, violation=violation(sub, kind, "suspension", at, err, opt), started_at=at,
            ends_at=at.replace(hour=0) + timedelta(days=1), lifted_at=at + timedelta(hours=2) if lifted else None,
            lift_note="Bad list removed." if lifted else "", lifted_by=world.admin if lifted else None,
        )  # fmt: skip
    # In force now, on the smallest sub-account: the agency page and the risk list show it.
    at = now - timedelta(hours=1)
    Suspension.objects.create(
        sub_account=third, cause="opt_out_rate", violation=violation(third, "opt_out_rate", "suspension", at, 0.04,
        0.027), started_at=at, ends_at=max(midnight + timedelta(days=1), now + timedelta(hours=1)),
    )  # fmt: skip
    Violation.objects.create(
        sub_account=second, kind="prohibited_content", user=world.admin, action="Bulk send blocked before sending",
        detail={"category": "gambling", "term": "casino", "matched": "c.a.s.i.n.o", "body": "Win at c.a.s.i.n.o"},
    )  # fmt: skip


def describe_data(world: World) -> list[str]:
    from django.db import connection

    lines = []
    with connection.cursor() as cur:
        for table in ("messaging_contact", "messaging_message", "messaging_bulksend", "compliance_ratebucket",
                      "compliance_undeliveredcode", "compliance_violation", "compliance_suspension"):  # fmt: skip
            cur.execute(f"SELECT count(*), pg_size_pretty(pg_total_relation_size('{table}')) FROM {table}")
            n, size = cur.fetchone()
            lines.append(f"  {table}: {n} rows, {size} with indexes")
        cur.execute(
            "SELECT s.name, m.status, count(*) FROM messaging_message m JOIN accounts_subaccount s "
            "ON s.id = m.sub_account_id GROUP BY 1, 2 ORDER BY 1, 3 DESC"
        )
        by_sub = {}
        for name, status, n in cur.fetchall():
            by_sub.setdefault(name, []).append(f"{n} {status}")
        lines += [f"  {name}: {', '.join(parts)}" for name, parts in by_sub.items()]
    return lines


# --- Timing ---------------------------------------------------------------------------------


@dataclass
class Page:
    label: str
    url: str
    user: object
    ms: list = field(default_factory=list)
    sql_ms: list = field(default_factory=list)
    queries: set = field(default_factory=set)
    kib: float = 0.0
    captured: list = field(default_factory=list)  # (sql, params) of one request
    plans: list = field(default_factory=list)


def pages_of(world: World) -> list[Page]:
    from django.urls import NoReverseMatch, reverse

    pages = [
        Page("sub-account dashboard", reverse("subaccount_dashboard", args=[world.subs[0].pk]), world.admin),
        Page("agency page", reverse("agency_detail", args=[world.agency.pk]), world.admin),
    ]
    try:
        pages.append(Page("support risk page", reverse("support_risk"), world.support))
    except NoReverseMatch:
        print("support risk page: no URL named support_risk yet, skipped")
    return pages


def get(client, page: Page, wrapper=None):
    """GET over HTTPS as production serves it (SECURE_SSL_REDIRECT would answer plain HTTP with 301)."""
    from django.db import connection

    if wrapper is None:
        response = client.get(page.url, secure=True)
    else:
        with connection.execute_wrapper(wrapper):
            response = client.get(page.url, secure=True)
    if response.status_code != 200:
        sys.exit(f"{page.label}: GET {page.url} answered {response.status_code}, not 200")
    return response


def time_page(page: Page, runs: int) -> None:
    from django.test import Client

    client = Client()
    client.force_login(page.user)
    get(client, page)  # warm-up: connection, templates, first-use imports

    def capture(execute, sql, params, many, context):
        page.captured.append((sql, params))
        return execute(sql, params, many, context)

    get(client, page, capture)
    for _ in range(runs):
        counted = {"n": 0, "s": 0.0}

        def count(execute, sql, params, many, context, counted=counted):
            start = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                counted["n"] += 1
                counted["s"] += time.perf_counter() - start

        start = time.perf_counter()
        response = get(client, page, count)
        page.ms.append((time.perf_counter() - start) * 1000)
        page.sql_ms.append(counted["s"] * 1000)
        page.queries.add(counted["n"])
    page.kib = len(response.content) / 1024


# --- Output ---------------------------------------------------------------------------------


def report(pages: list[Page], runs: int, all_plans: bool) -> None:
    print(f"\nPage times over {runs} runs each (after one warm-up), in milliseconds:\n")
    print_table(
        ("page", "median", "min", "max", "SQL (median)", "queries", "HTML (KiB)"),
        [
            (
                p.label, f"{statistics.median(p.ms):.1f}", f"{min(p.ms):.1f}", f"{max(p.ms):.1f}",
                f"{statistics.median(p.sql_ms):.1f}", "/".join(str(n) for n in sorted(p.queries)), f"{p.kib:.0f}",
            )
            for p in pages
        ],
    )  # fmt: skip
    for p in pages:
        print_plans(p.label, p.plans, all_plans)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20, help="timed requests per page (default: %(default)s)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a plan is flagged")
    parser.add_argument("--rebuild", action="store_true", help="drop the database and generate the data again")
    parser.add_argument("--plans", action="store_true", help="print every query and its plan, not only flagged ones")
    parser.add_argument(
        "--max-age-hours", type=float, default=6,
        help="generate again when the newest message is older than this (default: %(default)s): the page "
        "reads the last 24 hours and 30 days",
    )  # fmt: skip
    args = parser.parse_args(argv)

    database_url = require_database("bench_dashboard")
    ensure_database(database_url, drop=args.rebuild)
    setup_django(test_client=True)
    from django.conf import settings
    from django.db import connection
    from django.test.utils import override_settings
    from django.utils import timezone

    now = timezone.now()
    world = bench_world(now)
    state = data_state(world, args.messages, now, args.max_age_hours)
    if state != "ready":
        print(f"generating the data ({state}):", flush=True)
        clear_data()
        start = time.perf_counter()
        steps = generate(world, args.messages, now)
        print(f"generated in {time.perf_counter() - start:.0f} s: "
              + ", ".join(f"{label} {s:.0f} s" for label, s in steps.items()))  # fmt: skip
    refresh_live_rows(world, timezone.now())
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0]
    print(f"PostgreSQL {version}, {os.cpu_count()} CPUs; data:")
    print("\n".join(describe_data(world)))

    # The production static storage needs `collectstatic`'s manifest; the plain storage gives the
    # same {% static %} URLs without it (a dict lookup less per tag).
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=storages).enable()
    pages = pages_of(world)
    for page in pages:
        print(f"{page.label}: {page.url} …", flush=True)
        time_page(page, args.runs)
        plan_page(page, WATCHED)
    report(pages, args.runs, args.plans)
    flagged = sum(1 for p in pages for pl in p.plans if pl.flags)
    print(f"\n{flagged} flagged plan(s).")
    if flagged and args.strict:
        sys.exit(1)


if __name__ == "__main__":
    main()
