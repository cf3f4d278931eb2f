"""Production settings: `check --deploy` is clean with production variables, and a missing
SECRET_KEY is refused when DEBUG is off."""

import os
import subprocess
import sys
from pathlib import Path

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
