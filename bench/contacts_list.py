"""Contact list time at 100,000 contacts in one sub-account (issue 3: "list with search, tag
filter and pagination, stays fast at 100,000 contacts"), and what its queries read. Not a test
(it needs PostgreSQL); docs/BENCHMARKS.md has the figures and how to read them.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_contacts REDIS_URL=redis://127.0.0.1:6379/7 \\
        SMS_BACKEND=memory .venv/bin/python bench/contacts_list.py

The pages are keyset pages (issue 16): the first, the middle and the last page of each sort
order are requested, so the last page's cost can be read against the first's.

The database in DATABASE_URL is created if missing and migrated. The data is generated once by
server-side SQL (`INSERT … SELECT … FROM generate_series`) and kept between runs: one agency and
one sub-account with --contacts contacts — first and last names drawn from common US names (the
common ones more often), 70 % with an email address, 1 % opted out by text (permanent DND,
consent revoked), 0.5 % with a temporary DND, 70 % of the others opted in — and eight tags on
shares from 60 % down to 0.05 %. --other-contacts puts that many more contacts, generated the same
way, in a second sub-account of the same table. Data of other sizes is generated again; --rebuild
drops the whole database first (also after a migration was rewritten).

Then, through Django's test client (in this process, no HTTP server), logged in as the
sub-account's owner, with the production settings (DEBUG off): the contact list's first page,
its middle and last pages (by name, by date added, by number), name searches, a phone-number
search, a tag, a DND and a consent filter, --runs times each after one warm-up request.
Finally every SELECT of one request per page is run again
under EXPLAIN (ANALYZE, BUFFERS); a sequential scan of the contact table (or of its tag links),
or an index scan that filters away most of what it reads or reads far more rows than the query
returns, is flagged (--strict: exit status 1).
"""

import argparse
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta

from common import ensure_database, plan_page, print_plans, print_table, require_database, setup_django

AGENCY = "Contacts Bench Agency"
SUB_ACCOUNT = ("Bench City Dental", "City Dental")
OTHER_SUB_ACCOUNT = ("Bench Other Tenants", "Other Tenants")  # holds --other-contacts, 0 by default
OWNER_EMAIL = "bench-owner@contacts.test"
# Tables whose sequential scan on a page load is what "stays fast at 100,000 contacts" is about.
WATCHED = ("messaging_contact", "messaging_contact_tags")

# Common US first names and surnames, most common first: row i is drawn with a probability that
# falls with i (power law below), so "Smith" is frequent and "Whitfield" rare, as in real lists.
FIRST_NAMES = (  # noqa: SIM905 (a list literal of 180 names is 180 lines)
    "James Mary Michael Patricia Robert Jennifer John Linda David Elizabeth William Barbara Richard Susan Joseph "
    "Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy Matthew Betty Anthony Sandra Mark Margaret "
    "Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian "
    "Melissa Timothy Deborah Ronald Stephanie George Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Amy "
    "Jacob Kathleen Gary Angela Nicholas Shirley Eric Brenda Jonathan Emma Stephen Anna Larry Pamela Justin Nicole "
    "Scott Samantha Brandon Katherine Benjamin Christine Samuel Helen Gregory Debra Alexander Rachel Patrick Carolyn "
    "Frank Janet Raymond Maria Jack Olivia Dennis Heather Jerry Diane Tyler Julie Aaron Joyce Jose Victoria Adam "
    "Ruth Nathan Virginia Henry Lauren Zachary Kelly Douglas Christina Peter Joan Kyle Evelyn Noah Judith Ethan "
    "Andrea Jeremy Hannah Walter Megan Christian Cheryl Keith Jacqueline Roger Martha Terry Madison Austin Teresa "
    "Sean Gloria Gerald Sara Carl Janice Harold Ann Dylan Kathryn Arthur Abigail Lawrence Sophia Jordan Frances "
    "Jesse Jean Bryan Alice Billy Judy Bruce Isabella Gabriel Julia Joe Grace Logan Amber Alan Denise Juan Danielle"
).split()
LAST_NAMES = (  # noqa: SIM905
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
    "Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera "
    "Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim "
    "Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo "
    "Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler "
    "Henderson Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds "
    "Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford "
    "Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen Freeman "
    "Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon "
    "Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice "
    "Schmidt Garza Daniels Ferguson Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer "
    "Hawkins Arnold Pierce Vazquez Hansen Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong "
    "Hudson Carroll Lane Riley Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Pena Richards "
    "Contreras Willis Carpenter Lawrence Sandoval Okafor Kowalski Lindqvist Whitfield"
).split()
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "aol.com", "comcast.net"]
AREA_CODES = ["212", "305", "312", "415", "512", "617", "646", "713", "718", "917"]
# name, share of the contacts that carry it
TAGS = (
    ("patients", 0.60), ("newsletter", 0.35), ("lapsed", 0.15), ("spring-promo", 0.10), ("walk-in", 0.05),
    ("vip", 0.03), ("referral", 0.02), ("staff", 0.0005),
)  # fmt: skip
RARE_LAST_NAME = LAST_NAMES[-1]
# Passed as parameters to every generating statement.
LISTS = {
    "first_names": FIRST_NAMES, "last_names": LAST_NAMES, "domains": DOMAINS, "areas": AREA_CODES,
    "tag_names": [t for t, _ in TAGS], "tag_shares": [s for _, s in TAGS],
}  # fmt: skip


def bench_world():
    """The agency, the measured sub-account, the one that stands for every other tenant's
    contacts, and the measured sub-account's owner (ORM, small)."""
    from accounts.models import Agency, Membership, Role, SubAccount, User

    agency, _ = Agency.objects.get_or_create(name=AGENCY)
    sub, other = (
        SubAccount.objects.get_or_create(agency=agency, name=name, defaults={"business_name": business})[0]
        for name, business in (SUB_ACCOUNT, OTHER_SUB_ACCOUNT)
    )
    owner, created = User.objects.get_or_create(email=OWNER_EMAIL)
    if created:
        owner.set_unusable_password()
        owner.save()
    Membership.objects.get_or_create(user=owner, sub_account=sub, defaults={"role": Role.SUBACCOUNT_OWNER})
    return sub, other, owner


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
            sys.exit(f"bench/contacts_list.py: no value for {model._meta.db_table}.{f.column} (NOT NULL, no default)")
        params[f"default_{f.column}"] = f.get_db_prep_save(value, connection)
        exprs[f.column] = f"%(default_{f.column})s"
    columns = ", ".join(connection.ops.quote_name(c) for c in exprs)
    cursor.execute(
        f"INSERT INTO {model._meta.db_table} ({columns}) SELECT {', '.join(exprs.values())} {source}", params
    )
    return cursor.rowcount


def generate(sub, total: int, now) -> None:
    """A sub-account's contacts, tags and tag links."""
    from django.db import connection

    from messaging.models import Contact, Tag

    with connection.cursor() as cur:
        cur.execute("SET synchronous_commit = off")  # bulk load only: nothing here must survive a crash
        cur.execute("SELECT setseed(0.42)")  # the same names, states and tags every run
        # n: the drawn names (r1, r2 squared: the first names of the lists are the common ones);
        # k: the number's digits — area code by g, then 7 digits that are distinct per area code
        # (7919 is prime, so k ↦ k·7919 mod 8,000,000 is one-to-one) and do not look sequential.
        source = """
            FROM (
                SELECT g, random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
                       random() AS r6
                FROM generate_series(0, %(n)s - 1) g
            ) x
            CROSS JOIN LATERAL (
                SELECT (%(first_names)s::text[])[1 + floor(x.r1 * x.r1 * cardinality(%(first_names)s::text[]))::int]
                           AS first,
                       (%(last_names)s::text[])[1 + floor(x.r2 * x.r2 * cardinality(%(last_names)s::text[]))::int]
                           AS last
            ) n
        """
        insert_select(
            cur, Contact,
            {
                "id": "gen_random_uuid()", "sub_account_id": "%(sub)s",
                "phone": "'+1' || (%(areas)s::text[])[1 + g %% 10] || (2000000 + (g / 10) * 7919 %% 8000000)::text",
                # 2 % without a name at all, 3 % more without a last name (they sort first).
                "first_name": "CASE WHEN r6 < 0.02 THEN '' ELSE n.first END",
                "last_name": "CASE WHEN r6 < 0.05 THEN '' ELSE n.last END",
                "email": "CASE WHEN r3 < 0.70 AND r6 >= 0.02 THEN lower(n.first) || '.' || lower(n.last) "
                "|| (g %% 100)::text || '@' || (%(domains)s::text[])[1 + g %% 7] ELSE '' END",
                "dnd": "CASE WHEN r4 < 0.01 THEN 'permanent' WHEN r4 < 0.015 THEN 'temporary' ELSE 'none' END",
                "consent": "CASE WHEN r4 < 0.01 THEN 'revoked' WHEN r5 < 0.70 THEN 'granted' ELSE 'none' END",
                "has_texted_in": "r5 < 0.10",
                "last_message_at": "CASE WHEN r5 < 0.30 THEN %(now)s - r5 * interval '300 days' END",
                "created_at": "%(now)s - interval '2 years' + r6 * interval '700 days'",
            },
            source,
            {"sub": sub.pk, "n": total, "now": now},
        )  # fmt: skip
        insert_select(cur, Tag, {"sub_account_id": "%(sub)s", "name": "t"}, "FROM unnest(%(tag_names)s::text[]) t",
                      {"sub": sub.pk})  # fmt: skip
        # Each contact carries each tag with the tag's share, independently: a hash of the pair,
        # not random(), which the planner would evaluate once per tag.
        cur.execute(
            f"""INSERT INTO {Contact.tags.through._meta.db_table} (contact_id, tag_id)
                SELECT c.id, t.id FROM messaging_contact c
                JOIN messaging_tag t ON t.sub_account_id = c.sub_account_id
                JOIN unnest(%(tag_names)s::text[], %(tag_shares)s::float8[]) s(name, share) ON s.name = t.name
                WHERE c.sub_account_id = %(sub)s
                  AND (hashtext(c.id::text || t.name)::bigint + 2147483648) / 4294967296.0 < s.share""",
            {**LISTS, "sub": sub.pk},
        )


def vacuum() -> None:
    """Autovacuum's steady state: statistics, and the visibility map for index-only scans."""
    from django.db import connection

    with connection.cursor() as cur:
        for table in ("messaging_contact", "messaging_tag", "messaging_contact_tags"):
            cur.execute(f"VACUUM (ANALYZE) {table}")


def data_state(sizes: dict) -> str:
    """'ready', or why the data has to be generated again. sizes: sub-account → contacts."""
    from messaging.models import Contact

    if not Contact.objects.exists():
        return "no data yet"
    for sub, total in sizes.items():
        found = sub.contacts.count()
        if found != total:
            return f"{sub.name}: {found} contacts, not {total}"
        links = Contact.tags.through.objects.filter(contact__sub_account=sub).exists()
        if total and (sub.tags.count() != len(TAGS) or not links):
            return f"{sub.name}: tags missing (an earlier run was interrupted)"
    return "ready"


def clear_data() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        # CASCADE empties what points at contacts too (tag links, messages, consent and DND history).
        cur.execute("TRUNCATE messaging_contact, messaging_tag CASCADE")


def describe_data(sub, other) -> list[str]:
    from django.db import connection
    from django.db.models import Count

    lines = []
    with connection.cursor() as cur:
        for table in ("messaging_contact", "messaging_contact_tags", "messaging_tag"):
            cur.execute(f"SELECT count(*), pg_size_pretty(pg_total_relation_size('{table}')) FROM {table}")
            n, size = cur.fetchone()
            lines.append(f"  {table}: {n} rows, {size} with indexes")
    lines.append(f"  {sub.name}: {sub.contacts.count()} contacts; {other.name}: {other.contacts.count()}")
    contacts = sub.contacts.all()
    for column in ("dnd", "consent"):
        counts = contacts.values_list(column).annotate(n=Count("id")).order_by("-n")
        lines.append(f"  {column}: " + ", ".join(f"{value} {n}" for value, n in counts))
    tags = sub.tags.annotate(n=Count("contacts")).order_by("-n")
    lines.append("  tags: " + ", ".join(f"{t.name} {t.n}" for t in tags))
    return lines


# --- Timing ---------------------------------------------------------------------------------


@dataclass
class Page:
    label: str
    params: dict
    matching: int = 0  # contacts the filters select (all pages)
    ms: list = field(default_factory=list)
    sql_ms: list = field(default_factory=list)
    queries: set = field(default_factory=set)
    kib: float = 0.0
    rows_shown: int = 0
    captured: list = field(default_factory=list)  # (sql, params) of one request
    plans: list = field(default_factory=list)
    headers: dict = field(default_factory=dict)  # HX-Request for the match count's own request


def national(e164: str) -> str:
    """+12125550100 → (212) 555-0100, as a user types a number they see elsewhere."""
    digits = e164.removeprefix("+1")
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


def pages_of(sub, total: int) -> list[Page]:
    from messaging.keyset import encode
    from messaging.views.contacts import SORTS

    # A number from the middle of the list, searched the way it is written on a form.
    phone = sub.contacts.order_by("phone").values_list("phone", flat=True)[total // 2]
    # Keyset pages (issue 16): a page is "the 50 after this cursor", the cursor being the sort's
    # values of the row before it; the middle page's cursor is that of row total/2 in name order.
    middle = sub.contacts.order_by(*SORTS["name"]).values_list(*SORTS["name"])[total // 2]
    newest = sub.contacts.order_by(*SORTS["-created"]).values_list("created_at", "id")[total // 2]
    return [
        Page("first page", {}),
        Page("middle page (keyset)", {"after": encode(middle)}),
        Page("last page (keyset)", {"last": 1}),
        Page("sort: newest first", {"sort": "-created"}),
        Page("sort: newest, middle", {"sort": "-created", "after": encode(newest)}),
        Page("sort: newest, last page", {"sort": "-created", "last": 1}),
        Page("sort: phone, last page", {"sort": "phone", "last": 1}),
        Page("search: common surname", {"q": "Garcia"}),
        # The match count: its own request, which the list sends (htmx) once it is shown.
        Page("search: its match count", {"q": "Garcia", "count": "1"}, headers={"HX-Request": "true"}),
        Page(f"search: rare surname ({RARE_LAST_NAME})", {"q": RARE_LAST_NAME}),
        Page("search: no match", {"q": "Zyxwvut"}),
        Page("search: phone number", {"q": national(phone)}),
        Page("tag: vip", {"tag": "vip"}),
        Page("tag: staff (rare)", {"tag": "staff"}),
        Page("DND: permanent", {"dnd": "permanent"}),
        Page("consent: none", {"consent": "none"}),
    ]


def count_matching(sub, page: Page) -> int:
    from messaging.forms import ContactFilterForm

    filters = ContactFilterForm(page.params, tag_names=sub.tags.values_list("name", flat=True))
    return filters.apply(sub.contacts.all()).count()


def get(client, url: str, page: Page, wrapper=None):
    """GET over HTTPS as production serves it (SECURE_SSL_REDIRECT would answer plain HTTP with 301)."""
    from django.db import connection

    if wrapper is None:
        response = client.get(url, page.params, headers=page.headers, secure=True)
    else:
        with connection.execute_wrapper(wrapper):
            response = client.get(url, page.params, headers=page.headers, secure=True)
    if response.status_code != 200:
        sys.exit(f"{page.label}: GET {url} {page.params} answered {response.status_code}, not 200")
    return response


def time_page(client, url: str, page: Page, runs: int) -> None:
    get(client, url, page)  # warm-up: connection, templates, first-use imports

    def capture(execute, sql, params, many, context):
        page.captured.append((sql, params))
        return execute(sql, params, many, context)

    get(client, url, page, capture)
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
        response = get(client, url, page, count)
        page.ms.append((time.perf_counter() - start) * 1000)
        page.sql_ms.append(counted["s"] * 1000)
        page.queries.add(counted["n"])
    page.kib = len(response.content) / 1024
    page.rows_shown = response.content.decode().count("<td><a href=")  # one per contact row


# --- Output ---------------------------------------------------------------------------------


def report(pages: list[Page], runs: int, all_plans: bool) -> None:
    print(f"\nPage times over {runs} runs each (after one warm-up), in milliseconds:\n")
    print_table(
        ("page", "query string", "matching", "shown", "median", "min", "max", "SQL (median)", "queries", "KiB"),
        [
            (
                p.label, "&".join(f"{k}={v}" for k, v in p.params.items()) or "—", p.matching, p.rows_shown,
                f"{statistics.median(p.ms):.1f}", f"{min(p.ms):.1f}", f"{max(p.ms):.1f}",
                f"{statistics.median(p.sql_ms):.1f}", "/".join(str(n) for n in sorted(p.queries)), f"{p.kib:.0f}",
            )
            for p in pages
        ],
    )  # fmt: skip
    for p in pages:
        print_plans(p.label, p.plans, all_plans, heading_label=f"“{p.label}”")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument(
        "--other-contacts", type=int, default=0,
        help="contacts of another sub-account in the same table (default: %(default)s): whether the "
        "measured pages grow with the whole table or only with the sub-account's own contacts",
    )  # fmt: skip
    parser.add_argument("--runs", type=int, default=20, help="timed requests per page (default: %(default)s)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if a plan is flagged")
    parser.add_argument("--rebuild", action="store_true", help="drop the database and generate the data again")
    parser.add_argument("--plans", action="store_true", help="print every query and its plan, not only flagged ones")
    parser.add_argument("--only", default="", help="only the pages whose label contains this text (e.g. search)")
    args = parser.parse_args(argv)

    database_url = require_database("bench_contacts")
    ensure_database(database_url, drop=args.rebuild)
    setup_django(test_client=True)
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings
    from django.urls import reverse
    from django.utils import timezone

    sub, other, owner = bench_world()
    sizes = {sub: args.contacts, other: args.other_contacts}
    state = data_state(sizes)
    if state != "ready":
        print(f"generating the data ({state}) …", flush=True)
        clear_data()
        start, now = time.perf_counter(), timezone.now() - timedelta(minutes=1)
        for s, total in sizes.items():
            if total:
                generate(s, total, now)
        vacuum()
        print(f"generated in {time.perf_counter() - start:.0f} s")
    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        version = cur.fetchone()[0]
    print(f"PostgreSQL {version}, {os.cpu_count()} CPUs; data:")
    print("\n".join(describe_data(sub, other)))

    # The production static storage needs `collectstatic`'s manifest; the plain storage gives the
    # same {% static %} URLs without it (a dict lookup less per tag).
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=storages).enable()
    url = reverse("contact_list", args=[sub.pk])
    client = Client()
    client.force_login(owner)
    pages = [p for p in pages_of(sub, args.contacts) if args.only in p.label]
    for page in pages:
        print(f"{page.label}: {url} {page.params} …", flush=True)
        page.matching = count_matching(sub, page)
        time_page(client, url, page, args.runs)
        plan_page(page, WATCHED, flag_wide_reads=True)
    report(pages, args.runs, args.plans)
    flagged = sum(1 for p in pages for pl in p.plans if pl.flags)
    print(f"\n{flagged} flagged plan(s).")
    if flagged and args.strict:
        sys.exit(1)


if __name__ == "__main__":
    main()
