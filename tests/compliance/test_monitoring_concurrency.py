"""R8 under concurrency: receipts arriving together across a threshold suspend once, record one
Violation and enqueue one email; the counters lose no increment (PostgreSQL row locks)."""

import threading
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection, connections, transaction

from compliance import monitoring
from compliance.models import RateBucket, Suspension, Violation

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL's row locks (CI runs it)"),
]

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def run_together(n, work):
    barrier, errors = threading.Barrier(n), []

    def worker(i):
        try:
            barrier.wait()
            work(i)
        except Exception as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors


@pytest.mark.parametrize(("undelivered", "level"), [(6, "violation"), (9, "suspension")])
def test_eight_concurrent_receipts_cross_a_threshold_once(world, undelivered, level):
    # 50 delivered already; 8 undelivered receipts arrive at once, each counted and evaluated.
    RateBucket.objects.create(sub_account=world.a1, hour=NOON, outbound=60, finalized=50, delivered=50)

    def receipt(i):
        with time_machine.travel(NOON, tick=False), transaction.atomic():
            code = "30008" if i < undelivered else ""
            status = "undelivered" if i < undelivered else "delivered"
            monitoring.count_final(sub_account_id=world.a1.pk, source="bulk", status=status, error_code=code, now=NOON)

    run_together(max(8, undelivered), receipt)
    bucket = RateBucket.objects.get(sub_account=world.a1)
    assert bucket.finalized == 50 + max(8, undelivered) and bucket.undelivered == undelivered
    assert Violation.objects.filter(sub_account=world.a1, level=level).count() == 1
    assert Suspension.objects.count() == (1 if level == "suspension" else 0)


def test_first_writers_of_an_hour_do_not_lose_increments(world):
    def sent(_):
        with transaction.atomic():
            monitoring.count_sent(sub_account_id=world.a1.pk, source="bulk", now=NOON)

    run_together(8, sent)
    assert RateBucket.objects.get(sub_account=world.a1, hour=NOON).outbound == 8
