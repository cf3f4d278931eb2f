"""The worker outlasts a Redis outage (fault drill tests/drills/test_redis_restart.py: rq's worker
quit when a job ended while Redis was down, and nothing dispatched after Redis came back)."""

import os
import subprocess
import sys

import django_rq
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from messaging.worker import REDIS_RETRY_SECONDS_MAX, Worker
from tests.conftest import closed_port


@pytest.fixture
def worker_without_redis():
    """A worker that started, then lost Redis: its connection now leads to a closed port."""
    queue = django_rq.get_queue("default")
    worker = Worker([queue], connection=queue.connection, name="loses-redis")
    worker.connection = redis.Redis(host="127.0.0.1", port=closed_port(), retry=Retry(NoBackoff(), 0))
    return worker


@pytest.mark.parametrize(
    "step",
    [
        lambda w: w.check_for_suspension(False),
        lambda w: w.run_maintenance_tasks(),
        lambda w: w.set_state("idle"),
        lambda w: w.heartbeat(),
        lambda w: w.set_current_job_working_time(1.5),
    ],
    ids=["suspension check", "maintenance", "state", "heartbeat", "working time"],
)
def test_each_bookkeeping_step_of_the_loop_carries_on_when_redis_is_unreachable(worker_without_redis, step):
    """Each of these raised ConnectionError into rq's loop, which then quit."""
    assert step(worker_without_redis) is None


def test_a_job_met_by_the_outage_does_not_end_the_worker(worker_without_redis):
    """rq's record of the job cannot be written, so the job is not run; the work it stands for is
    in the database (the rows a dispatch run would have sent stay queued; the sweep queues a run)."""
    queue = django_rq.get_queue("default")
    job = queue.enqueue("messaging.dispatch.sweep")
    assert worker_without_redis.execute_job(job, queue) is None
    assert worker_without_redis.horse_pid == 0  # nothing was forked


def test_waiting_for_redis_the_worker_tries_again_every_few_seconds(worker_without_redis):
    assert worker_without_redis.max_connection_wait_time == REDIS_RETRY_SECONDS_MAX == 5


PRELOAD_CHECK = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()
import django_rq
from messaging.worker import Worker
before = {m for m in ("messaging.dispatch", "messaging.providers.simulator") if m in sys.modules}
Worker([django_rq.get_queue("default")], connection=django_rq.get_connection("default"))
print(sorted(before), "messaging.dispatch" in sys.modules, "messaging.providers.simulator" in sys.modules,
      "phonenumbers.geocoder" in sys.modules)
"""


def test_the_worker_imports_dispatch_and_the_provider_before_it_forks_work_horses():
    """Each job runs in a forked work-horse: what the worker imported, the work-horse need not
    (issue 13). A fresh process, as a worker starts; the simulator's geocoder stays unloaded."""
    env = {**os.environ, "DEBUG": "1", "SMS_BACKEND": "simulator"}
    out = subprocess.run([sys.executable, "-c", PRELOAD_CHECK], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[] True True False"
