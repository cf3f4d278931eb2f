"""Workflow steps at volume: 10,000 enrollments due at once, stepped by the due-step job in
batches (messages/s and queries per enrollment), then optionally handed to the provider by real
RQ worker processes. Not a test (it needs PostgreSQL and Redis and takes minutes);
docs/BENCHMARKS.md has the figures and how to read them.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h_auto_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python bench/automations_step.py --enrollments 10000 --batches 100,500,1000 --workers 2

For each batch size (runner.BATCH): the enrollments are written by `enrolling.enroll` (one call),
then `runner.enrollments_step_due` runs in this process — claim, one `messages_send` per batch, the
step log, the move to the next step (a 1-day wait) — under a query counter. With --workers, burst
RQ workers then drain the dispatch jobs it enqueued (in-memory provider), timed until nothing is
`queued` or `sending`. The workflow's table holds --history finished enrollments first, so the
claim query is measured against a table that is not empty. The Redis database is flushed.
"""

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bulk_send import require_loopback_services, start_workers, wait_settled, worker_env
from common import ensure_database, explain, print_table, setup_django

BENCH_NUMBER = "+12025550200"


def phone(i: int) -> str:
    return f"+1212{3000000 + i:07d}"


def bench_world(n: int, history: int):
    """A sub-account at the top of the ramp, n consented contacts, an active workflow (send, then a
    1-day wait) and `history` completed enrollments of an older workflow (kept between runs)."""
    from django.utils import timezone

    from accounts.models import Agency, SubAccount
    from compliance.models import RampState
    from messaging.automations.models import Enrollment, Workflow, WorkflowStep
    from messaging.models import Contact, PhoneNumber

    agency, _ = Agency.objects.get_or_create(name="Bench Agency")
    sub, _ = SubAccount.objects.get_or_create(
        agency=agency, name="Bench Automations", defaults={"business_name": "Bench Automations Co"}
    )
    PhoneNumber.objects.get_or_create(number=BENCH_NUMBER, defaults={"sub_account": sub})
    phones = [phone(i) for i in range(n)]
    Contact.objects.bulk_create(
        (Contact(sub_account=sub, phone=p, first_name=f"P{i}", consent="granted") for i, p in enumerate(phones)),
        ignore_conflicts=True, batch_size=2000,
    )  # fmt: skip
    contacts = list(Contact.objects.filter(sub_account=sub, phone__in=phones).order_by("phone"))
    RampState.objects.update_or_create(
        sub_account=sub,
        defaults=dict(level=8, limit_extension=10**9, window_start=None, window_count=0, restricted_until=None),
    )
    Workflow.objects.filter(sub_account=sub, name="Bench").delete()
    workflow = Workflow.objects.create(sub_account=sub, name="Bench", trigger="api", status="active")
    WorkflowStep.objects.create(workflow=workflow, position=0, kind="send_sms", body="Hello {first_name}, see you soon")
    WorkflowStep.objects.create(workflow=workflow, position=1, kind="wait", wait_minutes=24 * 60)
    old, created = Workflow.objects.get_or_create(sub_account=sub, name="Bench history", trigger="api",
                                                  defaults={"status": "stopped"})  # fmt: skip
    have = Enrollment.objects.filter(workflow=old).count()
    if have < history:
        now = timezone.now()
        Enrollment.objects.bulk_create(
            (Enrollment(sub_account=sub, workflow=old, contact=contacts[i % len(contacts)], status="completed",
                        trigger="history", trigger_key=f"h{i}", enrolled_at=now, finished_at=now)
             for i in range(have, history)),
            batch_size=5000,
        )  # fmt: skip
    return sub, workflow, contacts


def reset(sub, workflow) -> None:
    import django_rq

    from compliance.models import RampState
    from messaging.models import Message

    workflow.enrollments.all().delete()
    Message.objects.filter(sub_account=sub).delete()
    django_rq.get_connection("default").flushdb()
    RampState.objects.filter(sub_account=sub).update(window_start=None, window_count=0, restricted_until=None)


@dataclass
class Result:
    batch: int
    enrollments: int
    enroll_seconds: float
    step_seconds: float
    queries: int
    batches: int
    queued: int
    dispatch_seconds: float | None
    sent: int

    @property
    def step_rate(self) -> float:
        return self.queued / self.step_seconds

    @property
    def end_to_end(self) -> str:
        if self.dispatch_seconds is None:
            return "—"
        return f"{self.sent / (self.step_seconds + self.dispatch_seconds):.0f}"


def run(batch: int, *, sub, workflow, contacts, workers: int, log_dir: Path, timeout: float) -> Result:
    import django_rq
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from messaging.automations import runner
    from messaging.automations.enrolling import enroll
    from messaging.models import Message

    reset(sub, workflow)
    runner.BATCH = batch
    runner.MAX_BATCHES = len(contacts) // batch + 2
    print(f"batch {batch}: enrolling {len(contacts)} …", flush=True)
    start = time.perf_counter()
    enroll(workflow=workflow, contact_ids=[c.pk for c in contacts], trigger="bench")
    enroll_seconds = time.perf_counter() - start
    django_rq.get_connection("default").flushdb()  # the step job enqueued on commit: we run it here
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        result = runner.enrollments_step_due()
        step_seconds = time.perf_counter() - start
    queued = Message.objects.filter(sub_account=sub, status="queued").count()
    print(f"  stepped {result['enrollments']} in {result['batches']} batches, {step_seconds:.1f} s, "
          f"{len(queries)} queries, {queued} queued", flush=True)  # fmt: skip
    dispatch_seconds, sent = None, 0
    if workers:
        start = time.perf_counter()
        procs = start_workers(workers, worker_env("memory", "", 500), log_dir, f"batch{batch}")
        complete = wait_settled(sub, procs, timeout)
        dispatch_seconds = time.perf_counter() - start
        for proc in procs:
            proc.wait(timeout=60)
        sent = Message.objects.filter(sub_account=sub, status="sent").count()
        print(f"  dispatched: {sent} sent in {dispatch_seconds:.1f} s" + ("" if complete else " (incomplete)"))
    return Result(batch, result["enrollments"], enroll_seconds, step_seconds, len(queries), result["batches"], queued,
                  dispatch_seconds, sent)  # fmt: skip


def claim_plan(sub, workflow, contacts) -> None:
    """The claim query's plan (as `runner.claim` builds it) with all the enrollments due and the
    history in the table."""
    from django.db import connection
    from django.db.models import Q
    from django.utils import timezone

    from messaging.automations import runner
    from messaging.automations.enrolling import enroll
    from messaging.automations.models import Enrollment, Workflow

    reset(sub, workflow)
    enroll(workflow=workflow, contact_ids=[c.pk for c in contacts], trigger="bench")

    now = timezone.now()
    claimable = Q(claim_token__isnull=True) | Q(claimed_at__lt=now - runner.STALE_AFTER)
    active = list(Workflow.objects.filter(status="active").values_list("pk", flat=True))
    due = Enrollment.objects.active().filter(claimable, next_run_at__lte=now, workflow_id__in=active)
    sql, params = due.order_by("next_run_at").values_list("pk", flat=True)[: runner.BATCH].query.sql_with_params()
    with connection.cursor() as cur:
        cur.execute("ANALYZE automations_enrollment")
    plan = explain(sql, params, {"automations_enrollment"})
    print(f"\nclaim query: {plan.ms:.2f} ms, {plan.top}; flags: {plan.flags or 'none'}\n{plan.text}")
    reset(sub, workflow)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--enrollments", type=int, default=10_000)
    parser.add_argument("--batches", default="500", help="comma-separated runner.BATCH values (default %(default)s)")
    parser.add_argument("--workers", type=int, default=0, help="RQ worker processes to dispatch with (0: none)")
    parser.add_argument("--history", type=int, default=50_000, help="finished enrollments in the table first")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",") if b.strip()]

    database_url, _ = require_loopback_services()
    ensure_database(database_url)
    os.environ.setdefault(
        "COMPLIANCE_POLICY", '{"QUIET_SOURCES": [], "REGISTRATION_REQUIRED": false}'
    )  # not the time of day it runs at
    setup_django(test_client=False)
    from django.conf import settings

    sub, workflow, contacts = bench_world(args.enrollments, args.history)
    print(f"{len(contacts)} contacts, {args.history} finished enrollments in the table, {args.workers} workers, "
          f"SMS_DISPATCH_BATCH={settings.SMS_DISPATCH_BATCH}, {os.cpu_count()} CPUs")  # fmt: skip
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as logs:
        for batch in batches:
            results.append(run(batch, sub=sub, workflow=workflow, contacts=contacts, workers=args.workers,
                               log_dir=Path(logs), timeout=args.timeout))  # fmt: skip
    claim_plan(sub, workflow, contacts)
    print()
    print_table(
        ("batch", "enrollments", "enroll (s)", "step job (s)", "batches", "messages/s (step)", "queries",
         "queries/enrollment", "messages/s (step + dispatch)"),
        [(r.batch, r.enrollments, f"{r.enroll_seconds:.1f}", f"{r.step_seconds:.1f}", r.batches, f"{r.step_rate:.0f}",
          r.queries, f"{r.queries / r.enrollments:.3f}", r.end_to_end) for r in results],
    )  # fmt: skip
    if any(r.queued != r.enrollments for r in results):
        sys.exit("Some enrollments did not queue their message: the figures are not throughput.")


if __name__ == "__main__":
    main()
