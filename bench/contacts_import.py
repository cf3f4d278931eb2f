"""The contact CSV import as users run it now (issue 16): the upload stores the file
(`import_jobs.import_upload`), the confirmed mapping starts the job (`import_start`, enqueued on
commit), and an RQ worker (a SimpleWorker in burst mode, in this process) runs
`import_job_run`, which reads the stored file as a stream and writes it in batches of 500.
Measured: seconds of the upload and of the job, rows a second, and the process's resident
memory — before, and its peak while the job runs (sampled every 50 ms from /proc) — for files
of different lengths, so whether memory grows with the file can be read off (run one length per
process for that: deleting the previous file's contacts through the ORM grows the process). Not
a test.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_import REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python bench/contacts_import.py --rows 50000 --rows 200000

DATABASE_URL must name a PostgreSQL database on 127.0.0.1 (created if missing, migrated);
REDIS_URL a Redis database of its own (it is flushed). The bench sub-account's contacts, tags,
consent events and imports are deleted before each file. The CSV files are written to a
temporary directory a row at a time (never held in memory), every row with a name, an email, two
or three tags and a proof of opt-in. Each file is imported twice: the first import (every row
a new contact with its opt-in) and the same file again (every row found, nothing appended).
"""

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ensure_database, require_loopback_services, setup_django

AREA_CODES = ("212", "305", "512", "415", "646")
HEADER = "phone,first_name,last_name,email,tags,consent_source,consent_at,consent_ip,consent_url\n"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


class PeakRss:
    """The highest resident set size seen while the block runs, sampled every 50 ms."""

    def __enter__(self):
        self.peak, self.done = rss_mib(), threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.done.wait(0.05):
            self.peak = max(self.peak, rss_mib())

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, rss_mib())


def write_csv(path: Path, rows: int) -> int:
    """`rows` distinct valid US numbers in national format, as a spreadsheet holds them."""
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        for i in range(rows):
            area, k = AREA_CODES[i % len(AREA_CODES)], i // len(AREA_CODES)
            exchange, line = 200 + k // 10_000, k % 10_000  # 2xx exchanges: 1,000,000 numbers per area code
            tags = f"bench;list{i % 10}" + (";vip" if i % 7 == 0 else "")
            proof = f"Web form,2025-03-{1 + i % 28:02d}T{9 + i % 8:02d}:{i % 60:02d},203.0.113.{i % 250 + 1},https://example.com/join"
            f.write(f"({area}) {exchange}-{line:04d},First{i},Last{i % 500},c{i}@example.com,{tags},{proof}\n")
    return path.stat().st_size


def bench_world():
    from accounts.models import Agency, SubAccount, User

    agency, _ = Agency.objects.get_or_create(name="Bench Agency")
    sub, _ = SubAccount.objects.get_or_create(
        agency=agency, name="Bench Import", defaults={"business_name": "Bench Co", "time_zone": "America/New_York"}
    )
    user = User.objects.filter(email="bench-import@bench.test").first()
    user = user or User.objects.create_user("bench-import@bench.test", "bench-import-password")
    return sub, user


def clear(sub) -> None:
    from compliance.models import ConsentEvent
    from messaging.models import Contact, ImportJob, Tag

    ImportJob.objects.filter(sub_account=sub).delete()
    ConsentEvent.objects.filter(sub_account=sub).delete()
    Contact.objects.filter(sub_account=sub).delete()
    Tag.objects.filter(sub_account=sub).delete()


def run_worker() -> None:
    import django_rq
    from rq import SimpleWorker

    queue = django_rq.get_queue("default")
    SimpleWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False, logging_level="WARNING")


def import_once(label: str, sub, user, path: Path) -> dict:
    from django.core.files import File
    from django.db import transaction

    from messaging import import_jobs

    start = time.perf_counter()
    with path.open("rb") as f:
        job = import_jobs.import_upload(sub_account=sub, user=user, upload=File(f, name=path.name))
    uploaded = time.perf_counter() - start
    with transaction.atomic():
        import_jobs.import_start(job=job, mapping=job.mapping)  # enqueued on commit
    before = rss_mib()
    start = time.perf_counter()
    with PeakRss() as rss:
        run_worker()
    seconds = time.perf_counter() - start
    job.refresh_from_db()
    if job.status != job.Status.DONE:
        sys.exit(f"{label}: the job ended {job.status}: {job.failure}")
    line = {
        "label": label, "rows": job.total_rows, "upload_s": uploaded, "job_s": seconds,
        "rows_per_s": job.total_rows / seconds, "rss_before": before, "rss_peak": rss.peak,
        "created": job.created, "updated": job.updated, "consents": job.consents, "problems": job.error_count,
    }  # fmt: skip
    print(
        f"{label:<28} rows {job.total_rows:>7,}  upload {uploaded:5.2f} s  job {seconds:7.1f} s "
        f"({line['rows_per_s']:6,.0f} rows/s)  RSS before {before:6.1f} MiB, peak {rss.peak:6.1f} MiB  "
        f"created {job.created:,} updated {job.updated:,} consents {job.consents:,} problems {job.error_count}",
        flush=True,
    )
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="rows of a file (repeat for several files)")
    parser.add_argument("--once", action="store_true", help="only the first import of each file")
    args = parser.parse_args()
    database_url, _ = require_loopback_services()
    ensure_database(database_url)
    media = tempfile.mkdtemp(prefix="bench-import-media-")
    os.environ["MEDIA_ROOT"] = media  # the stored uploads go here, never into the repository's media/
    setup_django(test_client=False)
    import django_rq
    from django.db import connection

    django_rq.get_connection("default").flushdb()
    sub, user = bench_world()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        for rows in args.rows or [50_000]:
            path = Path(tmp) / f"contacts-{rows}.csv"
            size = write_csv(path, rows)
            print(f"\n{rows:,} rows, {size / 2**20:.1f} MiB of CSV", flush=True)
            clear(sub)
            import_once(f"first import ({rows:,})", sub, user, path)
            if not args.once:
                import_once(f"same file again ({rows:,})", sub, user, path)
    clear(sub)


if __name__ == "__main__":
    main()
