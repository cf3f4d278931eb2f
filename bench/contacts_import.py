"""The contact CSV import as users run it (issue 16), in the processes production runs: the file
is uploaded over HTTP (curl, streaming it) to gunicorn serving the app as `make run` does (one
process here, so its memory can be read), the preview's mapping is confirmed on the job's page,
and `manage.py rqworker … --worker-class messaging.worker.Worker --burst` runs the job in its
work-horse (a forked child, as in production). Measured for each file: the upload request's
seconds and the web process's resident memory before and at its peak during the upload; the
job's seconds (started → finished, as the job records them) and rows a second; the work-horse's
peak resident memory (sampled every 50 ms, with psutil) and the RQ worker's; the Redis hash of
the numbers seen (the in-file duplicate check). Files of different lengths in one run, so "flat"
is read off as the difference between them. Not a test.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_import REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python bench/contacts_import.py --rows 50000 --rows 500000

DATABASE_URL must name a PostgreSQL database on 127.0.0.1 (created if missing, migrated);
REDIS_URL a Redis database of its own (it is flushed). The bench sub-account's contacts, tags,
consent events and imports are deleted before each file. The CSV files are written to a
temporary directory a row at a time, every row with a name, an email, two or three tags and a
proof of opt-in; one row in 500 has an unreadable number or consent time, one in 250 repeats the
number of a row 100 earlier (reported as a duplicate). --again imports each file a second time
(every row found, nothing appended); --changed then imports the same numbers with every name,
email and proof changed (every contact updated, every opt-in appended). --profile runs the job
function in this process under cProfile instead (the first file only) and prints where the time
goes.
"""

import argparse
import cProfile
import os
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from common import ROOT, ensure_database, require_loopback_services, setup_django

AREA_CODES = ("212", "305", "512", "415", "646")
HEADER = "phone,first_name,last_name,email,tags,consent_source,consent_at,consent_ip,consent_url\n"
MIB = 2**20
SECRET = "bench-only-secret-key-never-used-in-production-0123456789"


def number(i: int) -> str:
    """Distinct valid US numbers in national format, as a spreadsheet holds them (1,000,000 per area code)."""
    area, k = AREA_CODES[i % len(AREA_CODES)], i // len(AREA_CODES)
    return f"({area}) {200 + k // 10_000}-{k % 10_000:04d}"


def write_csv(path: Path, rows: int, variant: str = "") -> tuple[int, int]:
    """(bytes, rows expected to be reported): rows i % 1000 == 999 have no valid number,
    == 499 an unreadable consent time; i % 250 == 124 repeats the number of row i - 100.
    `variant` changes every name, email and proof of opt-in (a re-import where every row changes)."""
    problems = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(HEADER)
        for i in range(rows):
            phone, at = number(i), f"2025-03-{1 + i % 28:02d}T{9 + i % 8:02d}:{i % 60:02d}"
            if i % 1000 == 999:
                phone, problems = "not a number", problems + 1
            elif i % 1000 == 499:
                at, problems = "yesterday", problems + 1
            elif i % 250 == 124:
                phone, problems = number(i - 100), problems + 1
            tags = f"bench;list{i % 10}" + (";vip" if i % 7 == 0 else "")
            proof = f"Web form{variant},{at},203.0.113.{i % 250 + 1},https://example.com/join"
            f.write(f"{phone},First{i}{variant},Last{i % 500}{variant},c{i}{variant}@example.com,{tags},{proof}\n")
    return path.stat().st_size, problems


class Peak:
    """The highest resident set size of a process (and, with tree=True, of each of its children
    by pid) while the block runs, sampled every `every` seconds."""

    def __init__(self, pid: int, *, tree: bool = False, every: float = 0.05):
        self.process, self.tree, self.every = psutil.Process(pid), tree, every
        self.peak: dict[int, float] = {}
        self.first: dict[int, float] = {}

    def _sample(self):
        procs = [self.process]
        if self.tree:
            try:
                procs += self.process.children(recursive=True)
            except psutil.NoSuchProcess:
                return
        for p in procs:
            try:
                rss = p.memory_info().rss / MIB
            except psutil.NoSuchProcess:
                continue
            self.first.setdefault(p.pid, rss)
            self.peak[p.pid] = max(self.peak.get(p.pid, 0), rss)

    def _run(self):
        while not self.done.wait(self.every):
            self._sample()

    def __enter__(self):
        self.done = threading.Event()
        self._sample()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        if self.process.is_running():
            self._sample()


def bench_world():
    from accounts.models import Agency, Membership, Role, SubAccount, User

    agency, _ = Agency.objects.get_or_create(name="Bench Agency")
    sub, _ = SubAccount.objects.get_or_create(
        agency=agency, name="Bench Import", defaults={"business_name": "Bench Co", "time_zone": "America/New_York"}
    )
    user = User.objects.filter(email="bench-import@bench.test").first()
    user = user or User.objects.create_user("bench-import@bench.test", "bench-import-password")
    Membership.objects.get_or_create(user=user, sub_account=sub, defaults={"role": Role.SUBACCOUNT_OWNER})
    return sub, user


def clear(sub) -> None:
    """The bench sub-account's imports, consent events, contacts (with their tag links) and
    tags, in set-based SQL (through the ORM, deleting 500,000 contacts collects them all in
    memory first: over 1 GB, and minutes)."""
    from django.db import connection, transaction

    from compliance.models import ConsentEvent
    from messaging.models import Contact, ImportJob, ImportProblem, Tag

    links = Contact.tags.through._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        for sql in (
            f"DELETE FROM {ImportProblem._meta.db_table} WHERE sub_account_id = %(sub)s"
            f" OR job_id IN (SELECT id FROM {ImportJob._meta.db_table} WHERE sub_account_id = %(sub)s)",
            f"DELETE FROM {ImportJob._meta.db_table} WHERE sub_account_id = %(sub)s",
            f"DELETE FROM {ConsentEvent._meta.db_table} WHERE sub_account_id = %(sub)s",
            f"DELETE FROM {links} WHERE tag_id IN (SELECT id FROM {Tag._meta.db_table} WHERE sub_account_id = %(sub)s)",
            f"DELETE FROM {Contact._meta.db_table} WHERE sub_account_id = %(sub)s",
            f"DELETE FROM {Tag._meta.db_table} WHERE sub_account_id = %(sub)s",
        ):
            cursor.execute(sql, {"sub": sub.pk})
    # Not vacuumed nor analyzed here: statistics saying the tables are empty make PostgreSQL
    # plan the foreign-key checks of the next import's commits as sequential scans (seconds a
    # batch, growing with it); autovacuum gets to the deleted rows in its time, as in production.


def child_env(port: int) -> dict:
    return {
        **os.environ, "HTTPS": "0", "SECRET_KEY": SECRET, "PORT": str(port), "WEB_CONCURRENCY": "1",
        "WEB_ACCESS_LOG": "", "PYTHONUNBUFFERED": "1",
    }  # fmt: skip


def start_web(port: int) -> tuple[subprocess.Popen, int]:
    """gunicorn with config/gunicorn.conf.py, one process: (master, its worker's pid)."""
    import requests

    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.conf.py")],
        env=child_env(port), cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).raise_for_status()
            break
        except requests.RequestException:
            if time.monotonic() > deadline or web.poll() is not None:
                sys.exit("gunicorn did not answer /healthz")
            time.sleep(0.3)
    (worker,) = psutil.Process(web.pid).children()
    return web, worker.pid


def logged_in(user, base: str):
    """A requests session with the user's session cookie (as after logging in) and a CSRF token."""
    import requests
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value)
    return session


def csrf_of(session, url: str) -> str:
    page = session.get(url, timeout=30)
    page.raise_for_status()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def upload(session, base: str, sub, path: Path, web_pid: int) -> dict:
    """POST the file as a browser does (multipart, streamed from disk by curl) while sampling
    the web process."""
    url = f"{base}/s/{sub.pk}/contacts/import/"
    token = csrf_of(session, url)
    cookies = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
    command = [
        "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-b", cookies,
        "-H", f"Referer: {url}", "-F", f"csrfmiddlewaretoken={token}", "-F", f"file=@{path};type=text/csv", url,
    ]  # fmt: skip
    with Peak(web_pid, every=0.01) as rss:
        start = time.perf_counter()
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout  # noqa: S603
        seconds = time.perf_counter() - start
    status, location = out.split(" ", 1)
    if status != "302":
        sys.exit(f"upload answered {status}")
    return {"url": location, "seconds": seconds, "before": rss.first[web_pid], "peak": rss.peak[web_pid]}


def start(session, job_url: str) -> None:
    token = csrf_of(session, job_url)
    answer = session.post(job_url, {"csrfmiddlewaretoken": token, "start": "1"}, headers={"Referer": job_url},
                          allow_redirects=False, timeout=30)  # fmt: skip
    if answer.status_code != 302:
        sys.exit(f"start answered {answer.status_code}")


def run_worker(port: int, seen_key: str, log: Path) -> dict:
    """The production worker class in burst mode; its work-horse runs the import."""
    import django_rq

    redis = django_rq.get_connection("default")
    seen = [0]

    def watch_seen(done):
        while not done.wait(1.0):
            seen[0] = max(seen[0], redis.memory_usage(seen_key) or 0)

    command = [sys.executable, "manage.py", "rqworker", "default", "--burst"]
    command += ["--worker-class", "messaging.worker.Worker"]
    start = time.perf_counter()
    with open(log, "a") as out:  # rq's log lines, one a job, kept out of the figures
        worker = subprocess.Popen(command, env=child_env(port), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
    done = threading.Event()
    watcher = threading.Thread(target=watch_seen, args=(done,), daemon=True)
    watcher.start()
    with Peak(worker.pid, tree=True) as rss:
        worker.wait()
    done.set()
    watcher.join()
    seconds = time.perf_counter() - start
    horses = {pid: peak for pid, peak in rss.peak.items() if pid != worker.pid}
    if len(horses) != 1:
        sys.exit(f"expected one work-horse, saw {len(horses)}")
    ((horse, horse_peak),) = horses.items()
    return {"wall": seconds, "worker_peak": rss.peak[worker.pid], "horse_first": rss.first[horse],
            "horse_peak": horse_peak, "seen_mib": seen[0] / MIB}  # fmt: skip


def import_file(label: str, sub, session, base: str, path: Path, web_pid: int, port: int) -> dict:
    from messaging.models import ImportJob

    up = upload(session, base, sub, path, web_pid)
    job = ImportJob.objects.filter(sub_account=sub).order_by("-created_at").first()
    start(session, up["url"])
    run = run_worker(port, f"import:{job.pk}:seen", path.with_suffix(".log"))
    job.refresh_from_db()
    if job.status != job.Status.DONE:
        sys.exit(f"{label}: the job ended {job.status}: {job.failure}")
    seconds = (job.finished_at - job.started_at).total_seconds()
    line = {"label": label, "rows": job.total_rows, "job_s": seconds, "rows_per_s": job.total_rows / seconds,
            "upload": up, "worker": run, "created": job.created, "updated": job.updated,
            "consents": job.consents, "problems": job.error_count}  # fmt: skip
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"{label:<24} rows {job.total_rows:>7,}  upload {up['seconds']:5.2f} s, web RSS {up['before']:5.1f} → "
        f"peak {up['peak']:5.1f} MiB  |  job {seconds:6.1f} s ({line['rows_per_s']:5,.0f} rows/s; worker process "
        f"{run['wall']:.1f} s)  work-horse RSS {run['horse_first']:5.1f} → peak {run['horse_peak']:5.1f} MiB, "
        f"worker {run['worker_peak']:5.1f} MiB, seen-numbers hash {run['seen_mib']:.1f} MiB  |  created "
        f"{job.created:,} updated {job.updated:,} consents {job.consents:,} problems {job.error_count:,}  "
        f"| load {load}",
        flush=True,
    )
    return line


def profile(sub, user, path: Path) -> None:
    """The job function in this process under cProfile (its own overhead slows it ~2x)."""
    from django.core.files import File

    from messaging import import_jobs
    from messaging.models import ImportJob

    with path.open("rb") as f:
        job = import_jobs.import_upload(sub_account=sub, user=user, upload=File(f, name=path.name))
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.runcall(import_jobs.import_job_run, job.pk)
    print(f"profiled: {time.perf_counter() - start:.1f} s")
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(r"messaging/|bulk_create|psycopg/cursor|redis/client", 40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, action="append", help="rows of a file (repeat for several files)")
    parser.add_argument("--again", action="store_true", help="import each file a second time")
    parser.add_argument("--changed", action="store_true", help="then a file of the same numbers, every row changed")
    parser.add_argument("--profile", action="store_true", help="cProfile the job function in this process")
    parser.add_argument("--port", type=int, default=8117)
    args = parser.parse_args()
    database_url, _ = require_loopback_services()
    ensure_database(database_url)
    scratch = Path(tempfile.mkdtemp(prefix="bench-import-"))
    # The stored uploads and the collected static files go here, never into the repository.
    os.environ["MEDIA_ROOT"], os.environ["STATIC_ROOT"] = str(scratch / "media"), str(scratch / "static")
    os.environ.setdefault("SECRET_KEY", SECRET)
    setup_django(test_client=False)
    import django_rq
    from django.core.management import call_command
    from django.db import connection

    django_rq.get_connection("default").flushdb()
    sub, user = bench_world()
    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}; {os.cpu_count()} CPUs", flush=True)
    if args.profile:
        path = scratch / "contacts.csv"
        write_csv(path, (args.rows or [50_000])[0])
        clear(sub)
        profile(sub, user, path)
        shutil.rmtree(scratch)
        return
    call_command("collectstatic", interactive=False, verbosity=0)  # gunicorn serves as production does
    web, web_pid = start_web(args.port)
    try:
        base = f"http://127.0.0.1:{args.port}"
        session = logged_in(user, base)
        for rows in args.rows or [50_000]:
            path = scratch / f"contacts-{rows}.csv"
            size, problems = write_csv(path, rows)
            print(f"\n{rows:,} rows, {size / MIB:.1f} MiB of CSV, {problems:,} rows to report", flush=True)
            clear(sub)
            import_file(f"first import ({rows:,})", sub, session, base, path, web_pid, args.port)
            if args.again:
                import_file(f"same file again ({rows:,})", sub, session, base, path, web_pid, args.port)
            path.unlink()
            if args.changed:
                size, _ = write_csv(path, rows, variant="x")
                print(f"the same numbers, every row changed: {size / MIB:.1f} MiB of CSV", flush=True)
                import_file(f"every row changed ({rows:,})", sub, session, base, path, web_pid, args.port)
                path.unlink()
    finally:
        web.terminate()
        web.wait(timeout=30)
        shutil.rmtree(scratch)  # the stored uploads: 60 MB a 500,000-row file
    clear(sub)


if __name__ == "__main__":
    main()
