"""Fixtures of the fault drills: the processes of one drill, its environment, its Redis and stub.

The database: the drills use pytest-django's own test database (`test_<name>`), with
`django_db(transaction=True)` so what a drill writes is committed and the processes it starts
(pointed at `connection.settings_dict["NAME"]`) see it. pytest-django creates and migrates that
database once and drops it at the end, and flushes it after each drill — a database of the
drills' own would need its own migrate run (seconds per session) and its own clean-up. Every
process a drill starts is stopped before that flush (the fixtures below are torn down first),
so no connection of theirs is left to block it or the final DROP DATABASE."""

import os

import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests.drills import harness


def pytest_collection_modifyitems(config, items):
    if django_settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
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
            # This process's key: a session it creates (force_login) is valid in the server.
            "SECRET_KEY": django_settings.SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "HTTPS": "0",  # plain HTTP on loopback, as make run
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
            "COMPLIANCE_POLICY": '{"QUIET_SOURCES": [], "REGISTRATION_REQUIRED": false}',
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
