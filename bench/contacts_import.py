"""Contact CSV import time, the two halves of the upload request: `imports.parse_contact_rows`
(reading and validating the text) and `contacts.contacts_import` (writing). Not a test.

    .venv/bin/python bench/contacts_import.py                 # 50,000 rows with consent, SQLite
    .venv/bin/python bench/contacts_import.py --rows 5000 --no-consent
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/contacts_import.py

Without DATABASE_URL it builds a fresh SQLite database in the temporary directory (the app's
SQLite settings: WAL, IMMEDIATE transactions), never the development db.sqlite3. With
DATABASE_URL the bench sub-account's contacts, tags and consent events are deleted first.

Runs, one after the other on the same sub-account:
  first import   every row a new contact, with tags and (by default) an opt-in
  re-import      the same file again: every row an update, no new ledger entry
  re-import, changed  the same numbers with other names and a new consent proof
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AREA_CODES = ("212", "305", "512", "415", "646")
HEADER = "phone,first_name,last_name,email,tags,consent_source,consent_at,consent_ip,consent_url\n"


def setup_django() -> str:
    if not os.environ.get("DATABASE_URL"):
        path = Path(tempfile.gettempdir()) / "textwise-bench-contacts-import.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-never-used-in-production-0123456789")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    from django.db import connection

    return f"{connection.vendor} ({connection.settings_dict['NAME']})"


def bench_sub_account():
    from accounts.models import Agency, SubAccount, User
    from compliance.models import ConsentEvent
    from messaging.models import Contact, Tag

    agency, _ = Agency.objects.get_or_create(name="Bench Agency")
    sub, _ = SubAccount.objects.get_or_create(
        agency=agency, name="Bench Import", defaults={"business_name": "Bench Co", "time_zone": "America/New_York"}
    )
    ConsentEvent.objects.filter(sub_account=sub).delete()
    Contact.objects.filter(sub_account=sub).delete()
    Tag.objects.filter(sub_account=sub).delete()
    user = User.objects.filter(email="bench-import@bench.test").first()
    user = user or User.objects.create_user("bench-import@bench.test", "bench-import-password")
    return sub, user


def phones(n: int) -> list[str]:
    """n distinct valid US numbers in national format, as a spreadsheet holds them:
    (212) 2xx-xxxx, (305) 2xx-xxxx, … Each one is checked with `to_e164`."""
    from messaging.phone import to_e164

    numbers = []
    for i in range(n):
        area, k = AREA_CODES[i % len(AREA_CODES)], i // len(AREA_CODES)
        exchange, line = 200 + k // 10_000, k % 10_000  # 2xx exchanges: 1,000,000 numbers per area code
        if exchange > 299:
            sys.exit(f"at most {len(AREA_CODES) * 1_000_000:,} rows")
        number = f"({area}) {exchange}-{line:04d}"
        to_e164(number)  # raises for a number phonenumbers does not accept as valid
        numbers.append(number)
    return numbers


def csv_text(numbers: list[str], *, consent: bool, variant: str = "") -> str:
    lines = [HEADER]
    for i, number in enumerate(numbers):
        tags = f"bench;list{i % 10}" + (";vip" if i % 7 == 0 else "")
        proof = (
            f"Web form{variant},2025-03-{1 + i % 28:02d}T{9 + i % 8:02d}:{i % 60:02d},203.0.113.{i % 250 + 1},"
            f"https://example.com/join{variant}"
            if consent
            else ",,,"
        )
        lines.append(f"{number},First{i}{variant},Last{i % 500},c{i}@example.com,{tags},{proof}\n")
    return "".join(lines)


def run(label: str, sub, user, text: str, expected_rows: int) -> None:
    from django.db import connection

    from messaging import contacts, imports

    queries = []

    def count(execute, sql, params, many, context):
        queries.append(1)
        return execute(sql, params, many, context)

    t0 = time.perf_counter()
    rows, errors = imports.parse_contact_rows(text, time_zone=sub.time_zone)
    t1 = time.perf_counter()
    with connection.execute_wrapper(count):
        result = contacts.contacts_import(sub_account=sub, rows=rows, user=user)
    t2 = time.perf_counter()
    assert len(rows) == expected_rows and not errors, (len(rows), errors[:5])
    print(
        f"{label:<22} parse {t1 - t0:6.2f} s   write {t2 - t1:6.2f} s   total {t2 - t0:6.2f} s   "
        f"created {result.created:>6}  updated {result.updated:>6}  consents {result.consents:>6}  "
        f"row errors {len(result.errors)}  queries {len(queries)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--no-consent", action="store_true", help="leave the consent columns empty")
    args = parser.parse_args()

    print(f"database: {setup_django()}")
    from compliance.models import ConsentEvent
    from messaging.models import Contact

    sub, user = bench_sub_account()
    numbers = phones(args.rows)
    consent = not args.no_consent
    text = csv_text(numbers, consent=consent)
    print(f"{args.rows:,} rows, {len(text) / 1e6:.1f} MB of CSV, consent columns {'filled' if consent else 'empty'}")

    run("first import", sub, user, text, args.rows)
    run("re-import (same file)", sub, user, text, args.rows)
    run("re-import, changed", sub, user, csv_text(numbers, consent=consent, variant="-2"), args.rows)
    contacts = Contact.objects.filter(sub_account=sub)
    print(
        f"contacts {contacts.count():,}, granted {contacts.filter(consent='granted').count():,}, "
        f"tag links {Contact.tags.through.objects.filter(contact__sub_account=sub).count():,}, "
        f"consent events {ConsentEvent.objects.filter(sub_account=sub).count():,}"
    )


if __name__ == "__main__":
    main()
