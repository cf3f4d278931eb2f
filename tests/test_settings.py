"""Production settings: `check --deploy` is clean with production variables, and a missing
SECRET_KEY is refused when DEBUG is off; the database pool, session lifetime and admin URL as
the environment sets them."""

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import PASSWORD

BASE_DIR = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 30 + "-production-secret-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "sms.example.com",
    "DATABASE_URL": f"sqlite:///{BASE_DIR / '.redis-test' / 'deploy-check.sqlite3'}",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SMS_BACKEND": "twilio",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "production-auth-token",
}


def run_manage(*args, env):
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env={**clean, **env}, capture_output=True, text=True
    )


def test_check_deploy_is_clean_with_production_variables():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_secret_key_is_required_when_debug_is_off():
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = run_manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_check_deploy_warns_when_no_message_would_reach_a_phone():
    simulator = run_manage("check", "--deploy", env={**PRODUCTION_ENV, "SMS_BACKEND": "simulator"})
    assert "messaging.W001" in simulator.stdout + simulator.stderr
    no_token = run_manage("check", "--deploy", env={**PRODUCTION_ENV, "TWILIO_AUTH_TOKEN": ""})
    assert no_token.returncode != 0 and "messaging.E001" in no_token.stdout + no_token.stderr


def test_check_deploy_refuses_webhooks_to_this_machine():
    result = run_manage("check", "--deploy", env={**PRODUCTION_ENV, "WEBHOOKS_ALLOW_LOOPBACK": "1"})
    assert result.returncode != 0 and "messaging.E002" in result.stdout + result.stderr


def test_check_deploy_is_clean_on_postgresql_with_the_pool():
    env = {**PRODUCTION_ENV, "DATABASE_URL": "postgres://app:secret@db.internal:5432/textwise"}
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


# --- Settings as each process computes them --------------------------------------------------

LOCAL = {"DEBUG": "1", "REDIS_URL": "redis://127.0.0.1:6379/0"}  # parsed only: nothing connects
POSTGRES = "postgres://app:secret@127.0.0.1:5432/textwise"


@pytest.fixture
def settings_of(monkeypatch):
    """`settings_of(env)`: the settings module's values, computed afresh with those variables."""

    def compute(env: dict) -> dict:
        for name in ("DATABASE_URL", "WEB_THREADS", "DB_POOL_MIN_SIZE", "DB_POOL_MAX_SIZE", "DB_POOL_TIMEOUT",
                     "CONN_MAX_AGE", "SESSION_COOKIE_AGE"):  # fmt: skip
            monkeypatch.delenv(name, raising=False)
        for name, value in {**LOCAL, **env}.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(BASE_DIR / "config" / "settings.py"))

    return compute


def test_postgresql_connections_come_from_a_pool_sized_by_the_web_threads(settings_of):
    db = settings_of({"DATABASE_URL": POSTGRES})["DATABASES"]["default"]
    # While the database is down every request waits `timeout` for its 503: seconds, not ten.
    assert db["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 4, "timeout": 3.0}
    assert db["CONN_MAX_AGE"] == 0  # Django refuses persistent connections with a pool

    threads = settings_of({"DATABASE_URL": POSTGRES, "WEB_THREADS": "8"})["DATABASES"]["default"]
    assert threads["OPTIONS"]["pool"]["max_size"] == 8  # one connection per thread gunicorn runs

    env = {"DATABASE_URL": POSTGRES, "DB_POOL_MIN_SIZE": "2", "DB_POOL_MAX_SIZE": "6", "DB_POOL_TIMEOUT": "3.5"}
    sized = settings_of(env)["DATABASES"]["default"]
    assert sized["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 6, "timeout": 3.5}


def test_the_pool_can_be_turned_off_and_is_never_used_on_sqlite(settings_of):
    off = settings_of({"DATABASE_URL": POSTGRES, "DB_POOL_MAX_SIZE": "0"})["DATABASES"]["default"]
    assert "pool" not in off.get("OPTIONS", {}) and off["CONN_MAX_AGE"] == 60  # e.g. behind PgBouncer
    sqlite = settings_of({"DATABASE_URL": "sqlite:///tmp/x.sqlite3"})["DATABASES"]["default"]
    assert "pool" not in sqlite["OPTIONS"] and sqlite["CONN_MAX_AGE"] == 0


def test_sessions_last_a_working_day_unless_configured(settings_of):
    assert settings_of({})["SESSION_COOKIE_AGE"] == 12 * 3600
    assert settings_of({"SESSION_COOKIE_AGE": "3600"})["SESSION_COOKIE_AGE"] == 3600


@pytest.mark.django_db
def test_the_login_cookie_expires_with_the_session_age(client, world):
    response = client.post("/accounts/login/", {"username": world.a1_owner.email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies["sessionid"]["max-age"] == settings.SESSION_COOKIE_AGE == 12 * 3600


ADMIN_ROUTES = """
from django.urls import Resolver404, resolve
def view(path):
    try:
        match = resolve(path)
    except Resolver404:
        return None
    return match.app_name or match.url_name or match.func.__module__
print(view('/ops-7f3a/'), view('/ops-7f3a/rq/'), view('/admin/'), view('/admin/rq/'))
"""


def test_the_admin_lives_at_its_own_url_setting():
    result = run_manage("shell", "-c", ADMIN_ROUTES, env={**LOCAL, "ADMIN_URL": "/ops-7f3a/"})
    assert result.returncode == 0, result.stderr
    admin, rq, old_admin, old_rq = result.stdout.strip().splitlines()[-1].split()
    assert admin == "admin" and rq.startswith("django_rq")
    assert old_admin == old_rq == "None"  # the default path answers nothing (the tenant pages' 404)
