"""Fixtures of the fault drills: the processes of one drill, its environment, its Redis and stub.

The database: the drills use pytest-django's own test database (`test_<name>`), with
`django_db(transaction=True)` so what a drill writes is committed and the processes it starts
(pointed at `connection.settings_dict["NAME"]`) see it. pytest-django creates and migrates that
database once and drops it at the end, and flushes it after each drill — a database of the
drills' own would need its own migrate run (seconds per session) and its own clean-up. Every
process a drill starts is stopped before that flush (the fixtures below are torn down first),
so no connection of theirs is left to block it or the final DROP DATABASE."""

import os
import sys

import django_rq
import pytest
import redis
from django.db import connection
from django.db.models import Q

from messaging import dispatch
from messaging.models import Status
from tests.drills import harness


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(
        reason="fault drills need PostgreSQL: run them with DATABASE_URL=postgres://… make test-drills "
        "(they start web servers and workers sharing the database, which SQLite cannot serve)"
    )
    for item in items:
        if item.get_closest_marker("drill"):
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.drill_failed = report.failed
    return report


@pytest.fixture
def processes(request, transactional_db, tmp_path):
    """The processes this drill starts. Torn down before the database flush; on a failure the
    end of each one's log is printed (pytest shows it with the failure)."""
    procs = harness.Processes(tmp_path)
    yield procs
    if getattr(request.node, "drill_failed", False):
        print(procs.tails())
    procs.stop_all()


@pytest.fixture
def ports():
    """Server ports already handed out in this drill (DRILL_PORTS is a small range)."""
    return set()


@pytest.fixture
def drill_redis(processes):
    return harness.RedisServer(processes).start()


@pytest.fixture
def stub(processes, ports):
    """The Twilio stub answering each message after 20 ms, as a separate process: long enough
    for a kill to land while a wave is in flight."""
    return harness.Stub(processes, latency_ms=20, taken=ports)


@pytest.fixture
def app_env(drill_redis):
    """The environment of every process a drill starts: production settings (DEBUG off) over
    plain HTTP, this test's database and the drill's Redis, Twilio's SDK pointed at the stub."""

    def _env(**overrides) -> dict:
        env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": "drill-secret-key-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            "DATABASE_URL": harness.database_url(connection.settings_dict),
            "REDIS_URL": drill_redis.url,
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": harness.ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": harness.AUTH_TOKEN,
            "TWILIO_API_BASE_URL": "http://127.0.0.1:9",  # nothing listens: set per drill
            # A dead claim is taken back after 3 s instead of 120 s, so the drill does not wait.
            "SMS_CLAIM_STALE_SECONDS": "3",
            # R13 would hold bulk messages outside 08:00–21:00 of the recipients' time: the drill
            # would pass or fail with the hour it runs at (as quiet_hours_off in tests/conftest.py).
            "COMPLIANCE_POLICY": '{"QUIET_SOURCES": []}',
            # The throttle still counts in Redis (its outage path is drilled); it never refuses here.
            "API_RATE_LIMIT_PER_MINUTE": "1000000",
            "API_RATE_LIMIT_BURST": "100000",
            "LOG_LEVEL": "WARNING",  # the Twilio SDK logs every request at INFO
            "PYTHONUNBUFFERED": "1",
        }
        return env | overrides

    return _env


@pytest.fixture
def drill_settings(settings, drill_redis):
    """This test process enqueues (the sweep, the bulk send's dispatch) on the drill's Redis."""
    settings.RQ_QUEUES = {name: {**config, "URL": drill_redis.url} for name, config in settings.RQ_QUEUES.items()}
    settings.REDIS_URL = drill_redis.url
    return settings


def start_worker(processes, env: dict, name: str) -> harness.Proc:
    """An rq worker as production runs it (both lanes and `default`, where the sweep runs), ready
    once it has registered in Redis. Without --with-scheduler: nothing drilled is delayed work."""
    proc = processes.start(
        name,
        harness.manage("rqworker", "dispatch_person", "dispatch", "default", "--name", name,
                       "--worker-class", "messaging.worker.Worker"),
        env,
    )  # fmt: skip
    client = redis.Redis.from_url(env["REDIS_URL"])
    harness.wait_until(
        lambda: client.sismember("rq:workers", f"rq:worker:{name}") or not proc.alive,
        timeout=30, what=f"worker {name} to register", logs=processes,
    )  # fmt: skip
    assert proc.alive, processes.tails()
    return proc


def start_web(processes, env: dict, port: int) -> harness.Proc:
    """gunicorn serving config.wsgi as in production (gthread), ready once /healthz answers 200."""
    proc = processes.start(
        "web",
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--worker-class", "gthread", "--threads", "4", "--timeout", "60"],
        env,
    )  # fmt: skip
    harness.wait_until(lambda: harness.healthy(port) or not proc.alive, timeout=30, what="gunicorn", logs=processes)
    assert proc.alive, processes.tails()
    return proc


def sweep_until_settled(messages, stub, processes, *, timeout: float = 45) -> int:
    """Run the sweep as the cron does (an RQ job on `default`, run by a worker with the drill's
    SMS_CLAIM_STALE_SECONDS), one after another, until none of `messages` is queued or sending
    and every one the stub received is no longer `unknown`. Returns how many sweeps it took."""
    sweeps = []

    def settled():
        if sweeps and not (sweeps[-1].is_finished or sweeps[-1].is_failed):
            return False
        assert not (sweeps and sweeps[-1].is_failed), sweeps[-1].latest_result().exc_string
        received = {m["to"] for m in stub.received()}
        pending = messages.filter(
            Q(status__in=[Status.QUEUED, Status.SENDING]) | Q(status=Status.UNKNOWN, to_number__in=received)
        )
        if not pending.exists():
            return True
        sweeps.append(django_rq.get_queue("default").enqueue(dispatch.sweep))
        return False

    harness.wait_until(settled, timeout=timeout, every=0.2, what="the sweep to settle every message", logs=processes)
    return len(sweeps)
