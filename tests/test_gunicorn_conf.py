"""config/gunicorn.conf.py, the web server's settings for `make run` and production alike: gthread
workers sized for the machine unless the environment says otherwise, and gunicorn serving the
app with them."""

import os
import runpy
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
CONF = BASE_DIR / "config" / "gunicorn.conf.py"
VARIABLES = ("HOST", "PORT", "WEB_CONCURRENCY", "WEB_THREADS", "WEB_TIMEOUT", "WEB_ACCESS_LOG")


@pytest.fixture
def conf(monkeypatch):
    def read(**env):
        for name in VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return runpy.run_path(str(CONF))

    return read


def test_defaults_are_a_threaded_worker_per_cpu_on_loopback(conf):
    c = conf()
    assert c["worker_class"] == "gthread" and c["threads"] == 4
    assert c["workers"] == len(os.sched_getaffinity(0))
    assert c["bind"] == ["127.0.0.1:8000"] and c["wsgi_app"] == "config.wsgi:application"
    assert c["timeout"] == 120
    assert c["control_socket_disable"] is True and c["preload_app"] is False


def test_the_environment_sizes_it(conf):
    c = conf(HOST="0.0.0.0", PORT="9000", WEB_CONCURRENCY="3", WEB_THREADS="8", WEB_ACCESS_LOG="")  # noqa: S104
    assert (c["bind"], c["workers"], c["threads"], c["accesslog"]) == (["0.0.0.0:9000"], 3, 8, None)  # noqa: S104


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_serves_the_app_with_it(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "1",  # no collectstatic needed; the login page reads no database
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "redis://127.0.0.1:6379/0",  # parsed, not used by the page
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
        "WEB_ACCESS_LOG": "",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(CONF)], cwd=BASE_DIR, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5)  # noqa: S310
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not serve: {server.stderr.read() if server.poll() is not None else ''}")
                time.sleep(0.2)
        assert response.status == 200 and response.headers["Server"] == "gunicorn"
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    finally:
        server.terminate()
        server.wait(timeout=30)
