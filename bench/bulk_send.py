"""Bulk-send throughput, end to end: `services.messages_send` writes the rows, real RQ worker
processes drain the dispatch queue, the provider accepts. Not a test (it needs PostgreSQL and
Redis and takes minutes); docs/BENCHMARKS.md has the figures and how to read them.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench REDIS_URL=redis://127.0.0.1:6379/5 \\
        .venv/bin/python bench/bulk_send.py --messages 20000 --workers 2

Scenarios, each timed from the send call until no message is `queued` or `sending`:
  batched    the app's pipeline: jobs of SMS_DISPATCH_BATCH ids, enqueued on commit
  per-message the baseline: the same rows, then one RQ job per message (--baseline-messages)
each with the in-memory provider and with the real Twilio SDK against a loopback stub
(tests/twilio_stub.py, its own process). The Redis database in REDIS_URL is flushed.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from common import ROOT, ensure_database, free_port, lift_ramp, print_table, require_loopback_services, setup_django

BENCH_NUMBER = "+12025550100"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-auth-token"
PENDING = ("queued", "sending")
BASELINE_CAP = 1000


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

    from messaging.models import Message

    Message.objects.filter(sub_account=sub).delete()
    django_rq.get_connection("dispatch").flushdb()
    lift_ramp(sub)


# --- Processes: the Twilio stub and the RQ workers ------------------------------------------


def start_stub() -> tuple[subprocess.Popen, str]:
    port = free_port()
    stub = subprocess.Popen(
        [sys.executable, "-m", "tests.twilio_stub", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    line = stub.stdout.readline()  # "twilio stub listening on …" once it accepts connections
    if "listening" not in line:
        stub.kill()
        sys.exit(f"the Twilio stub did not start: {line!r}")
    return stub, f"http://127.0.0.1:{port}"


def worker_env(backend: str, stub_url: str, batch: int) -> dict:
    return {
        **os.environ,
        "SMS_BACKEND": backend,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": stub_url,
        "SMS_DISPATCH_BATCH": str(batch),
        # At INFO the Twilio SDK logs every request (about 15 lines); keep the logs to problems.
        "LOG_LEVEL": os.environ.get("BENCH_WORKER_LOG_LEVEL", "WARNING"),
    }


def start_workers(count: int, env: dict, log_dir: Path, label: str) -> list[subprocess.Popen]:
    workers = []
    for i in range(count):
        with open(log_dir / f"{label}-worker{i}.log", "w") as log:  # the worker keeps its own copy
            workers.append(
                subprocess.Popen(
                    [sys.executable, "manage.py", "rqworker", "dispatch", "--burst"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    return workers


def worker_startup_seconds(env: dict, log_dir: Path) -> float:
    """How long a burst worker takes to start and exit on an empty queue (included in every
    scenario's time)."""
    start = time.perf_counter()
    for worker in start_workers(1, env, log_dir, "startup"):
        worker.wait()
    return time.perf_counter() - start


# --- One scenario ---------------------------------------------------------------------------


@dataclass
class Result:
    scenario: str
    messages: int
    seconds: float
    send_call_seconds: float
    outcome: dict
    complete: bool

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


def wait_settled(sub, workers, timeout: float) -> bool:
    """Until no message is queued or sending. Gives up (False) if every worker has exited with
    messages still pending (a failed job, or rows put back in the queue for later)."""
    from messaging.models import Message

    pending = Message.objects.filter(sub_account=sub, status__in=PENDING)
    deadline = time.perf_counter() + timeout
    while pending.exists():
        if all(w.poll() is not None for w in workers) and pending.exists():
            print(f"  workers exited with {pending.count()} messages still pending")
            return False
        if time.perf_counter() > deadline:
            print(f"  gave up after {timeout:.0f} s with {pending.count()} messages pending")
            return False
        time.sleep(0.1)
    return True


def run_scenario(label, *, sub, contacts, workers, env, per_message, log_dir, timeout) -> Result:
    import django_rq
    from django.db.models import Count

    from messaging import services
    from messaging.dispatch import dispatch_batch
    from messaging.models import Message

    reset(sub)
    queue = django_rq.get_queue("dispatch")
    print(f"{label}: {len(contacts)} messages …", flush=True)
    start = time.perf_counter()
    if per_message:
        # The same rows, written by the same service, but without its batched enqueue…
        with mock.patch.object(services, "enqueue_dispatch", lambda ids: None):
            messages = services.messages_send(sub_account=sub, contacts=contacts, body="Bench", source="bulk")
        assert queue.count == 0
        # …then what the pipeline avoids: one job per message.
        for message in messages:
            queue.enqueue(dispatch_batch, [str(message.pk)], job_timeout=900)
    else:
        services.messages_send(sub_account=sub, contacts=contacts, body="Bench", source="bulk")
    send_call = time.perf_counter() - start
    procs = start_workers(workers, env, log_dir, label)
    complete = wait_settled(sub, procs, timeout)
    elapsed = time.perf_counter() - start
    for proc in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait()
    outcome = dict(Message.objects.filter(sub_account=sub).values_list("status").annotate(n=Count("id")))
    failed_jobs = django_rq.get_queue("dispatch").failed_job_registry.count
    if failed_jobs:
        print(f"  {failed_jobs} dispatch jobs failed")
    result = Result(label, len(contacts), elapsed, send_call, outcome, complete and not failed_jobs)
    print(f"  {result.seconds:.1f} s, {result.rate:.0f} messages/s, {outcome}", flush=True)
    return result


def print_results(results: list[Result]) -> None:
    header = ("scenario", "messages", "seconds", "messages/s", "send call (s)", "outcome")
    rows = [
        (
            r.scenario,
            str(r.messages),
            f"{r.seconds:.1f}",
            f"{r.rate:.0f}" if r.complete else "incomplete",
            f"{r.send_call_seconds:.1f}",
            ", ".join(f"{n} {status}" for status, n in sorted(r.outcome.items())),
        )
        for r in results
    ]
    print()
    print_table(header, rows)


SCENARIOS = {
    # name: (provider backend, one job per message?)
    "batched-memory": ("memory", False),
    "batched-twilio-stub": ("twilio", False),
    "per-message-memory": ("memory", True),
    "per-message-twilio-stub": ("twilio", True),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument(
        "--baseline-messages",
        type=int,
        help=f"messages for the per-message runs (default: --messages, at most {BASELINE_CAP}: on 2 cores "
        "one job per message runs at a few messages/s, so 20000 would take hours)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, help="SMS_DISPATCH_BATCH (default: the setting, 500)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated subset of: %(default)s")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per scenario before giving up")
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
    os.environ.setdefault("COMPLIANCE_POLICY", '{"QUIET_SOURCES": []}')
    setup_django(test_client=False)
    from django.conf import settings

    batch = settings.SMS_DISPATCH_BATCH
    baseline_n = args.baseline_messages or min(args.messages, BASELINE_CAP)
    sub, contacts = bench_world(max(args.messages, baseline_n))
    print(f"{len(contacts)} contacts, {args.workers} workers, SMS_DISPATCH_BATCH={batch}, "
          f"SMS_MAX_CONCURRENCY={settings.SMS_MAX_CONCURRENCY}, {os.cpu_count()} CPUs")  # fmt: skip

    stub, stub_url = start_stub() if any(SCENARIOS[s][0] == "twilio" for s in chosen) else (None, "")
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
            log_dir = Path(logs)
            reset(sub)
            startup = worker_startup_seconds(worker_env("memory", stub_url, batch), log_dir)
            print(f"a burst worker starts and exits on an empty queue in {startup:.1f} s")
            for name in chosen:
                backend, per_message = SCENARIOS[name]
                n = baseline_n if per_message else args.messages
                results.append(
                    run_scenario(
                        name,
                        sub=sub,
                        contacts=contacts[:n],
                        workers=args.workers,
                        env=worker_env(backend, stub_url, batch),
                        per_message=per_message,
                        log_dir=log_dir,
                        timeout=args.timeout,
                    )
                )
                failed_logs = [p for p in log_dir.glob(f"{name}-worker*.log") if "Traceback" in p.read_text()]
                for path in failed_logs:
                    print(f"--- {path.name} ---\n{path.read_text()[-3000:]}")
    finally:
        if stub is not None:
            stub.terminate()
            stub.wait()
        reset(sub)
    print_results(results)
    if not all(r.complete for r in results):
        sys.exit("Some scenarios did not complete: their figures are not throughput.")


if __name__ == "__main__":
    main()
