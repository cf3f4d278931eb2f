"""The send pipeline at speed, end to end: real RQ worker processes drain the dispatch lanes, the
provider accepts. Not a test (it needs PostgreSQL and Redis and takes minutes);
docs/BENCHMARKS.md has the figures and how to read them.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/bulk_send.py --messages 20000 --workers 2

Scenarios (workers are started first and idle, as in production; each timing starts at the send):
  bulk-memory             a Bulk SMS to --messages contacts (`bulk.bulk_send_start`, the page's path),
                          in-memory provider; until no message is queued or sending
  bulk-twilio-stub        the same through the real Twilio SDK (async client) to tests/twilio_stub.py
  bulk-twilio-stub-100ms  …with the stub answering each message after 100 ms, as Twilio takes 100–300 ms
  bulk-twilio-sync-stub   …with the SDK's synchronous client in a thread pool (TWILIO_HTTP_CLIENT=sync)
  person-during-bulk      50 one-to-one sends, one every 40 ms, while a memory bulk send dispatches:
                          time from the send call to `sent` (the provider answered), p50 and p95
  api-burst               1,000 single sends through POST /api/v1/messages from 16 clients against
                          gunicorn: all at the provider, and the time from the last 201 to the last hand-off
  queries                 statements per message of dispatch (a batch of SMS_DISPATCH_BATCH, in this
                          process) and of the send call
The Redis database in REDIS_URL is flushed.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, ensure_database, free_port, lift_ramp, print_table, require_loopback_services, setup_django

BENCH_NUMBER = "+12025550100"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-auth-token"
PENDING = ("queued", "sending")
PERSON_SENDS, PERSON_EVERY = 50, 0.04
API_SENDS, API_CLIENTS = 1000, 16


def phone(i: int) -> str:
    return f"+1212{2000000 + i:07d}"


# --- Setup: database, Django, the sending sub-account and its contacts ----------------------


def bench_world(n: int):
    """One agency, sub-account and number; n consented contacts (kept for later runs)."""
    from accounts.models import Agency, SubAccount
    from messaging.models import Contact, PhoneNumber

    agency, _ = Agency.objects.get_or_create(name="Bench Agency")
    sub, _ = SubAccount.objects.get_or_create(agency=agency, name="Bench", defaults={"business_name": "Bench Co"})
    PhoneNumber.objects.get_or_create(number=BENCH_NUMBER, defaults={"sub_account": sub})
    phones = [phone(i) for i in range(n)]
    Contact.objects.bulk_create(
        (Contact(sub_account=sub, phone=p, consent="granted") for p in phones), ignore_conflicts=True, batch_size=2000
    )
    contacts = Contact.objects.filter(sub_account=sub, phone__in=phones)
    contacts.exclude(consent="granted", dnd="none").update(consent="granted", dnd="none")
    return sub, list(contacts.order_by("phone"))


def reset(sub) -> None:
    import django_rq

    from compliance.models import RateBucket, Violation
    from messaging.models import BulkSend, Contact, Message

    Message.objects.filter(sub_account=sub).delete()
    BulkSend.objects.filter(sub_account=sub).delete()
    Violation.objects.filter(sub_account=sub).delete()
    RateBucket.objects.filter(sub_account=sub).delete()
    Contact.objects.filter(sub_account=sub).exclude(last_message_at=None).update(last_message_at=None)
    django_rq.get_connection("dispatch").flushdb()
    lift_ramp(sub)
    # Each run deletes what the last one wrote: without a vacuum the tables fill with dead rows a
    # production table of this size would not have, and the planner scans them.
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("messaging_message", "messaging_messageevent", "messaging_contact"):
            cursor.execute(f"VACUUM ANALYZE {table}")


# --- Processes: the Twilio stub, the RQ workers, gunicorn -----------------------------------


def start_stub(latency_ms: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    stub = subprocess.Popen(
        [sys.executable, "-m", "tests.twilio_stub", "--port", str(port), "--latency-ms", str(latency_ms)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = stub.stdout.readline()  # "twilio stub listening on …" once it accepts connections
    if "listening" not in line:
        stub.kill()
        sys.exit(f"the Twilio stub did not start: {line!r}")
    return stub, f"http://127.0.0.1:{port}"


def app_env(backend: str, stub_url: str, http_client: str = "async") -> dict:
    return {
        **os.environ,
        "SMS_BACKEND": backend,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": stub_url,
        "TWILIO_HTTP_CLIENT": http_client,
        # The API's per-key rate limit would refuse most of api-burst: it is not what is measured.
        "API_RATE_LIMIT_PER_MINUTE": "0",
        # At INFO the Twilio SDK logs every request (about 15 lines); keep the logs to problems.
        "LOG_LEVEL": os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING"),
    }


def start_workers(count: int, env: dict, log_dir: Path, label: str) -> list[subprocess.Popen]:
    """Long-running workers on both lanes, as `make run` starts them; returns once they listen."""
    workers, logs = [], []
    for i in range(count):
        path = log_dir / f"{label}-worker{i}.log"
        with open(path, "w") as log:  # the worker keeps its own copy
            workers.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "rqworker", "dispatch_person", "dispatch"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
        logs.append(path)
    deadline = time.monotonic() + 60
    while not all("Listening on" in p.read_text() for p in logs):
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            sys.exit("the workers did not start: " + " | ".join(p.read_text()[-500:] for p in logs))
        time.sleep(0.1)
    return workers


def stop(procs) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_gunicorn(env: dict, log_dir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    web_env = env | {"SECURE_SSL_REDIRECT": "0", "SECURE_COOKIES": "0", "ALLOWED_HOSTS": "127.0.0.1"}
    with open(log_dir / "gunicorn.log", "w") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "2", "-k", "gthread",
             "--threads", "8"],
            cwd=ROOT, env=web_env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return web, port
        except OSError:
            time.sleep(0.2)
    web.kill()
    sys.exit("gunicorn did not start: " + (log_dir / "gunicorn.log").read_text()[-2000:])


# --- Scenarios ------------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    messages: int
    seconds: float
    send_call_seconds: float
    outcome: dict
    complete: bool
    notes: list = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def wait_settled(sub, workers, timeout: float) -> bool:
    """Until no message is queued or sending."""
    from messaging.models import Message

    pending = Message.objects.filter(sub_account=sub, status__in=PENDING)
    deadline = time.perf_counter() + timeout
    while pending.exists():
        if any(w.poll() is not None for w in workers):
            print(f"  a worker exited with {pending.count()} messages still pending")
            return False
        if time.perf_counter() > deadline:
            print(f"  gave up after {timeout:.0f} s with {pending.count()} messages pending")
            return False
        time.sleep(0.05)
    return True


def outcome_of(sub) -> dict:
    from django.db.models import Count

    from messaging.models import Message

    return dict(Message.objects.filter(sub_account=sub).values_list("status").annotate(n=Count("id")))


def start_bulk(sub, contacts):
    from messaging import bulk

    return bulk.bulk_send_start(
        sub_account=sub, user=None, body="Bench: spring offer at Bench Co", contact_ids=[c.pk for c in contacts],
        audience_label="bench", send_at=None, from_numbers=[BENCH_NUMBER],
    )  # fmt: skip


def run_bulk(label, *, sub, contacts, env, workers, log_dir, timeout) -> Result:
    reset(sub)
    procs = start_workers(workers, env, log_dir, label)
    try:
        print(f"{label}: {len(contacts)} messages …", flush=True)
        start = time.perf_counter()
        start_bulk(sub, contacts)
        send_call = time.perf_counter() - start
        complete = wait_settled(sub, procs, timeout)
        elapsed = time.perf_counter() - start
    finally:
        stop(procs)
    result = Result(label, len(contacts), elapsed, send_call, outcome_of(sub), complete)
    print(f"  {result.seconds:.1f} s, {result.rate:.0f} messages/s, {result.outcome}", flush=True)
    return result


def percentile(values, p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


PERSON_SCRIPT = """
import json, os, sys, time
sys.path.insert(0, os.getcwd())
import django
django.setup()
from accounts.models import SubAccount
from messaging import services
from messaging.models import Contact
sub = SubAccount.objects.get(pk=sys.argv[1])
ids = []
time.sleep(1.0)  # the bulk send is dispatching by then
for pk in sys.argv[2:]:
    contact = Contact.objects.get(pk=pk)
    ids.append(str(services.message_send_one(sub_account=sub, contact=contact, body="See you at 10",
                                             source="one_to_one").pk))
    time.sleep(float(os.environ["PERSON_EVERY"]))
print(json.dumps(ids))
"""


def run_person_during_bulk(label, *, sub, contacts, people, env, workers, log_dir, timeout) -> Result:
    """The one-to-one sends come from a process of their own, as a conversation reply comes from
    a web process while another one (here: this one) writes the bulk send."""
    from messaging.models import Message

    reset(sub)
    procs = start_workers(workers, env, log_dir, label)
    try:
        print(f"{label}: {len(contacts)} bulk + {len(people)} one-to-one …", flush=True)
        start = time.perf_counter()
        sender = subprocess.Popen(
            [sys.executable, "-c", PERSON_SCRIPT, str(sub.pk), *[str(c.pk) for c in people]],
            cwd=ROOT, env=env | {"PERSON_EVERY": str(PERSON_EVERY), "DJANGO_SETTINGS_MODULE": "config.settings"},
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        start_bulk(sub, contacts)
        send_call = time.perf_counter() - start
        sent_ids = json.loads(sender.communicate(timeout=timeout)[0])
        complete = wait_settled(sub, procs, timeout)
        elapsed = time.perf_counter() - start
    finally:
        stop(procs)
    rows = Message.objects.filter(pk__in=sent_ids).values_list("created_at", "sent_at")
    waits = [(sent - created).total_seconds() for created, sent in rows if sent]
    bulk_done = (
        Message.objects.filter(sub_account=sub, source="bulk").order_by("-sent_at").values_list("sent_at", flat=True)[0]
    )
    overlapped = sum(1 for _, sent in rows if sent and sent < bulk_done)
    notes = [
        f"one-to-one, send call → sent: p50 {statistics.median(waits) * 1000:.0f} ms, "
        f"p95 {percentile(waits, 95) * 1000:.0f} ms, max {max(waits) * 1000:.0f} ms over {len(waits)} sends "
        f"({overlapped} of them sent while the bulk send was still dispatching)"
    ]
    print("  " + notes[0], flush=True)
    return Result(label, len(contacts) + len(people), elapsed, send_call, outcome_of(sub), complete, notes)


def run_api_burst(label, *, sub, env, workers, log_dir, timeout) -> Result:
    from messaging.keys import api_key_create
    from messaging.models import Message

    reset(sub)
    _key, raw = api_key_create(sub_account=sub, name="bench")
    procs = start_workers(workers, env, log_dir, label)
    web, port = start_gunicorn(env, log_dir)
    statuses, last_201 = [], [0.0]
    lock = threading.Lock()
    per_client = API_SENDS // API_CLIENTS

    def client(index: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(per_client + (1 if index < API_SENDS % API_CLIENTS else 0)):
            body = json.dumps(
                {"to": phone(900000 + index * 1000 + i), "body": "Your code is 1234", "source": "one_to_one"}
            )
            conn.request("POST", "/api/v1/messages", body=body,
                         headers={"Authorization": f"Bearer {raw}", "Content-Type": "application/json"})  # fmt: skip
            response = conn.getresponse()
            response.read()
            with lock:
                statuses.append(response.status)
                if response.status == 201:
                    last_201[0] = time.time()

    try:
        print(f"{label}: {API_SENDS} single sends from {API_CLIENTS} clients …", flush=True)
        start = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(API_CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        send_call = time.perf_counter() - start
        complete = wait_settled(sub, procs, timeout)
        elapsed = time.perf_counter() - start
    finally:
        stop([web, *procs])
    handed = Message.objects.filter(sub_account=sub, source="one_to_one").exclude(handed_at=None)
    last_handed = max(handed.values_list("handed_at", flat=True)).timestamp()
    codes = {code: statuses.count(code) for code in sorted(set(statuses))}
    notes = [
        f"answers {codes}; {handed.count()} handed to the provider; last 201 → last hand-off "
        f"{last_handed - last_201[0]:.2f} s; requests took {send_call:.1f} s ({len(statuses) / send_call:.0f}/s)"
    ]
    print("  " + notes[0], flush=True)
    return Result(label, API_SENDS, elapsed, send_call, outcome_of(sub), complete and codes == {201: API_SENDS}, notes)


def run_queries(label, *, sub, contacts, show=False) -> Result:
    """Statements of dispatch and of the send call, counted in this process (COPY statements,
    which Django's query capture does not see, are counted by wrapping `copy.insert`)."""
    from unittest import mock

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from messaging import copy, dispatch, services
    from messaging.providers import memory

    copies = [0]
    original = copy.insert

    def counted(*args, **kwargs):
        copies[0] += 1
        return original(*args, **kwargs)

    def statements(run, what=""):
        copies[0] = 0
        with CaptureQueriesContext(connection) as captured, mock.patch.object(copy, "insert", counted):
            result = run()
        if show and what:
            print(f"--- {what}: {len(captured)} statements and {copies[0]} COPY")
            for query in captured:
                print("  " + query["sql"][:160])
        return len(captured) + copies[0], result

    reset(sub)
    batch = contacts[:500]
    bulk_call, _ = statements(
        lambda: services.messages_send(sub_account=sub, contacts=batch, body="Bench", source="bulk")
    )
    with _memory_backend():
        start = time.perf_counter()
        dispatching, result = statements(lambda: dispatch.dispatch_due(dispatch.BULK), "dispatch")
        elapsed = time.perf_counter() - start
        single_call, _ = statements(
            lambda: services.message_send_one(sub_account=sub, contact=contacts[600], body="Hi", source="one_to_one")
        )
        single_dispatch, _ = statements(lambda: dispatch.dispatch_due(dispatch.PERSON))
    memory.reset()
    sent = max(1, result["sent_to_provider"])
    notes = [
        f"send call of {len(batch)}: {bulk_call} statements ({bulk_call / len(batch):.3f} a message); "
        f"dispatch of them: {dispatching} statements ({dispatching / sent:.3f} a message); "
        f"a single send call: {single_call} statements, its dispatch run: {single_dispatch}"
    ]
    print(f"{label}: " + notes[0], flush=True)
    return Result(label, len(batch), elapsed, 0.0, outcome_of(sub), result["sent_to_provider"] == len(batch), notes)


class _memory_backend:
    def __enter__(self):
        from django.conf import settings

        self.settings, self.before = settings, settings.SMS_BACKEND
        settings.SMS_BACKEND = "memory"

    def __exit__(self, *exc):
        self.settings.SMS_BACKEND = self.before


def print_results(results: list[Result]) -> None:
    header = ("scenario", "messages", "seconds", "messages/s", "send call (s)", "outcome")
    rows = [
        (
            r.scenario,
            str(r.messages),
            f"{r.seconds:.2f}",
            f"{r.rate:.0f}" if r.complete else "incomplete",
            f"{r.send_call_seconds:.2f}",
            ", ".join(f"{n} {status}" for status, n in sorted(r.outcome.items())),
        )
        for r in results
    ]
    print()
    print_table(header, rows)
    for r in results:
        for note in r.notes:
            print(f"{r.scenario}: {note}")


SCENARIOS = {
    # name: (provider backend, stub latency in ms, Twilio HTTP client)
    "bulk-memory": ("memory", None, "async"),
    "bulk-twilio-stub": ("twilio", 0, "async"),
    "bulk-twilio-stub-100ms": ("twilio", 100, "async"),
    "bulk-twilio-sync-stub": ("twilio", 0, "sync"),
    "person-during-bulk": ("memory", None, "async"),
    "api-burst": ("memory", None, "async"),
    "queries": ("memory", None, "async"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, help="SMS_DISPATCH_BATCH (default: the setting, 500)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset of: %(default)s")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per scenario before giving up")
    parser.add_argument("--show-statements", action="store_true", help="queries: print the dispatch run's statements")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    if unknown := set(chosen) - set(SCENARIOS):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    database_url, _ = require_loopback_services()
    ensure_database(database_url)
    if args.batch:
        os.environ["SMS_DISPATCH_BATCH"] = str(args.batch)
    # R13 would hold the messages outside 08:00–21:00 New York time: throughput must not depend
    # on the time of day the benchmark runs at (the workers inherit this environment).
    os.environ.setdefault("COMPLIANCE_POLICY", '{"QUIET_SOURCES": [], "REGISTRATION_REQUIRED": false}')
    setup_django(test_client=False)
    from django.conf import settings

    sub, contacts = bench_world(args.messages + PERSON_SENDS)
    contacts, people = contacts[: args.messages], contacts[args.messages :]
    print(f"{len(contacts)} contacts, {args.workers} workers, SMS_DISPATCH_BATCH={settings.SMS_DISPATCH_BATCH}, "
          f"SMS_MAX_CONCURRENCY={settings.SMS_MAX_CONCURRENCY}, {os.cpu_count()} CPUs")  # fmt: skip

    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
            log_dir = Path(logs)
            for name in chosen:
                backend, latency, http_client = SCENARIOS[name]
                stub, stub_url = start_stub(latency) if latency is not None else (None, "")
                env = app_env(backend, stub_url, http_client)
                common = dict(sub=sub, env=env, workers=args.workers, log_dir=log_dir, timeout=args.timeout)
                try:
                    if name == "queries":
                        results.append(run_queries(name, sub=sub, contacts=contacts, show=args.show_statements))
                    elif name == "person-during-bulk":
                        results.append(run_person_during_bulk(name, contacts=contacts, people=people, **common))
                    elif name == "api-burst":
                        results.append(run_api_burst(name, **common))
                    else:
                        results.append(run_bulk(name, contacts=contacts, **common))
                finally:
                    if stub is not None:
                        stub.terminate()
                        stub.wait()
                for path in log_dir.glob(f"{name}-*.log"):
                    if "Traceback" in path.read_text():
                        print(f"--- {path.name} ---\n{path.read_text()[-3000:]}")
    finally:
        reset(sub)
    print_results(results)
    if not all(r.complete for r in results):
        sys.exit("Some scenarios did not complete: their figures are not throughput.")


if __name__ == "__main__":
    main()
