"""What the PostgreSQL benchmarks share (bulk_send.py, dashboard.py, contacts_list.py, load.py): the
scratch database and Django setup, the bench sub-accounts' ramp, and the EXPLAIN (ANALYZE,
BUFFERS) check of a page's queries with its table output. Not a script: imported as `common`,
found next to the script that runs (`python bench/<script>.py` puts bench/ first on sys.path).
"""

import os
import socket
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
BIG_TABLE_ROWS = 100_000  # a sequential scan of a table this big is flagged even if an index exists
FILTERED_AWAY = 10_000  # an index scan that reads this many rows more than it keeps is flagged


# --- Setup: database and Django -------------------------------------------------------------


def require_database(example: str) -> str:
    """DATABASE_URL, if it names a PostgreSQL database on this machine; `example` is the database
    name the message suggests."""
    database_url = os.environ.get("DATABASE_URL", "")
    db = urlsplit(database_url)
    if not db.scheme.startswith("postgres") or db.hostname not in LOOPBACK or not db.path.strip("/"):
        sys.exit(f"Set DATABASE_URL to a PostgreSQL database on 127.0.0.1, e.g. .../{example} (created if missing).")
    return database_url


def require_loopback_services() -> tuple[str, str]:
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    db, redis = urlsplit(database_url), urlsplit(redis_url)
    if not db.scheme.startswith("postgres") or db.hostname not in LOOPBACK:
        sys.exit("Set DATABASE_URL to a PostgreSQL database on 127.0.0.1 (it is created if missing).")
    if redis.scheme != "redis" or redis.hostname not in LOOPBACK:
        sys.exit("Set REDIS_URL to a Redis database on 127.0.0.1 of its own: it is flushed.")
    return database_url, redis_url


def ensure_database(database_url: str, *, drop: bool = False) -> None:
    import psycopg
    from psycopg import sql

    url = urlsplit(database_url)
    name = url.path.lstrip("/")
    server = dict(host=url.hostname, port=url.port or 5432, user=url.username, password=url.password)
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
        if drop:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            print(f"dropped database {name}")
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def setup_django(*, test_client: bool) -> None:
    """django.setup() and migrate. test_client: the pages are requested through Django's test
    client with the production settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-never-used-in-production-0123456789")
    if test_client:
        # The app's production settings (DEBUG off); the test client's host must be allowed.
        hosts = os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
        os.environ["ALLOWED_HOSTS"] = hosts + ",testserver"
    sys.path.insert(0, str(ROOT))
    if test_client:
        # WhiteNoise warns that collectstatic's directory is missing; the pages are served without it.
        warnings.filterwarnings("ignore", "No directory at", UserWarning)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def lift_ramp(sub) -> None:
    """R7 caps a new sub-account at a few hundred messages a day: the bench sub-account sits at
    the top level with a limit no run reaches, and a fresh window each run."""
    from compliance.models import RampState

    RampState.objects.update_or_create(
        sub_account=sub,
        defaults=dict(level=8, limit_extension=10**9, window_start=None, window_count=0, restricted_until=None),
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Plans ----------------------------------------------------------------------------------


@dataclass
class Plan:
    sql: str
    params: object
    ms: float
    top: str
    scans: list  # (node type, relation, index, rows, removed) of every table read
    flags: list
    text: str


def walk(node):
    yield node
    for child in node.get("Plans", ()):
        yield from walk(child)


def table_rows(cur, table: str) -> int:
    cur.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [table])
    return cur.fetchone()[0]


def explain(sql: str, params, watched, *, flag_wide_reads: bool = False) -> Plan:
    """The query's plan under EXPLAIN ANALYZE, flagged when it reads a table of `watched`
    sequentially (and the table is big, or an index could serve the query) or through an index
    that filters away most of what it reads. flag_wide_reads: also when an index scan of a
    watched table reads far more rows than the query returns."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
        doc = cur.fetchone()[0]
        doc = doc[0] if isinstance(doc, list) else doc
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) " + sql, params)
        text = "\n".join(row[0] for row in cur.fetchall())
        top = text.splitlines()[0].split("  (")[0].strip()
        scans, flags = [], []
        for node in walk(doc["Plan"]):
            relation = node.get("Relation Name")
            if relation is None:
                continue
            loops = node.get("Actual Loops", 1)
            rows = node.get("Actual Rows", 0) * loops
            removed = (node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)) * loops
            kind = node["Node Type"]
            index = node.get("Index Name", "")
            if kind == "Bitmap Heap Scan":  # its indexes are on the Bitmap Index Scan nodes below
                index = "+".join(n["Index Name"] for n in walk(node) if n["Node Type"] == "Bitmap Index Scan")
            scans.append((kind, relation, index, rows, removed))
            if relation not in watched:
                continue
            if kind == "Seq Scan":
                if table_rows(cur, relation) >= BIG_TABLE_ROWS or not index_usable(cur, sql, params, relation):
                    flags.append(f"Seq Scan on {relation}")
            elif removed > max(FILTERED_AWAY, 10 * rows):
                flags.append(f"{kind} on {relation} reads {rows + removed} rows to keep {rows}")
    if flag_wide_reads:
        # An index that keeps every row it reads can still read the whole table to return a page:
        # a deep OFFSET, or a join that throws the rows away (a rare tag walked in name order).
        returned = doc["Plan"].get("Actual Rows", 0)
        for kind, relation, _index, rows, _removed in scans:
            if relation in watched and kind != "Seq Scan" and rows >= FILTERED_AWAY and rows > 10 * max(returned, 1):
                flags.append(f"{kind} on {relation} reads {rows} rows to return {returned}")
    return Plan(sql, params, doc.get("Execution Time", 0.0), top, scans, flags, text)


def index_usable(cur, sql: str, params, relation: str) -> bool:
    """A small table is read sequentially whatever its indexes (it is cheaper): with sequential
    scans priced out, does an index serve the query?"""
    cur.execute("SET enable_seqscan = off")
    try:
        cur.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        doc = cur.fetchone()[0]
        doc = doc[0] if isinstance(doc, list) else doc
        return not any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == relation for n in walk(doc["Plan"]))
    finally:
        cur.execute("RESET enable_seqscan")


def plan_page(page, watched, *, flag_wide_reads: bool = False) -> None:
    """Every SELECT of page.captured (the (sql, params) of one request), explained into page.plans."""
    for sql, params in page.captured:
        if sql.lstrip().upper().startswith(("SELECT", "WITH")):
            page.plans.append(explain(sql, params, watched, flag_wide_reads=flag_wide_reads))


# --- Output ---------------------------------------------------------------------------------


def print_table(header, rows) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


SHORT = {"Seq Scan": "seq", "Index Scan": "index", "Index Only Scan": "index-only", "Bitmap Heap Scan": "bitmap"}


def scan_summary(scans) -> str:
    """`message: index message_subaccount_created_idx → 17000 (−8 filtered)`, one per table read."""
    parts = []
    for kind, relation, index, rows, removed in scans:
        how = " ".join(x for x in (SHORT.get(kind, kind), index) if x)
        parts.append(f"{relation.split('_', 1)[1]}: {how} → {rows}" + (f" (−{removed} filtered)" if removed else ""))
    return "; ".join(parts) or "—"


def interpolated(sql: str, params) -> str:
    from django.db import connection

    return connection.ops.compose_sql(sql, params)  # psycopg's own quoting, as the server sees it


def print_plans(label: str, plans: list, all_plans: bool, *, heading_label: str | None = None) -> None:
    """One page's plans: a table of every SELECT, then the SQL and plan of the flagged ones (or
    of all with `all_plans`). `heading_label`: the label as the heading shows it."""
    shown = heading_label or label
    print(f"\nPlans of the {len(plans)} SELECTs of one {shown} request (EXPLAIN ANALYZE, warm cache):\n")
    print_table(
        ("#", "ms", "top node", "tables read: how → rows", "flag"),
        [
            (i, f"{pl.ms:.2f}", pl.top.split(" using ")[0].split(" on ")[0], scan_summary(pl.scans),
             "; ".join(pl.flags) or "")
            for i, pl in enumerate(plans, 1)
        ],
    )  # fmt: skip
    for i, pl in enumerate(plans, 1):
        if pl.flags or all_plans:
            title = f"{label} #{i}" + (f": {'; '.join(pl.flags)}" if pl.flags else "")
            print(f"\n--- {title}\n{interpolated(pl.sql, pl.params)}\n\n{pl.text}")
