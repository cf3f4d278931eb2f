"""`make run`: the web server (gunicorn, configured by config/gunicorn.conf.py as in
production), the RQ worker (with rq's scheduler for delayed jobs), the outgoing-webhooks worker
and the cron scheduler as
separate real processes; Ctrl-C stops every one of them, and the embedded Redis if we started it.
`make dev` (--dev) serves with Django's auto-reloading development server instead."""

import os
import runpy
import signal
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand

from config import embedded_redis

GUNICORN_CONF = settings.BASE_DIR / "config" / "gunicorn.conf.py"


class Command(BaseCommand):
    help = "Run web, worker and scheduler together for local use (make run, make dev)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--dev", action="store_true", help="Django's development server, reloading on changes.")

    def handle(self, *args, port, dev, **options):
        env = {**os.environ, "REDIS_URL": settings.REDIS_URL, "PYTHONUNBUFFERED": "1", "PORT": str(port)}
        # The simulator posts its receipts to PUBLIC_BASE_URL: here, that is this server.
        env.setdefault("PUBLIC_BASE_URL", f"http://localhost:{port}")
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        host = env.get("HOST", "127.0.0.1")
        if dev:
            web = [*manage, "runserver", f"{host}:{port}"]
            served_by = "Django's development server (reloads on changes)"
        else:
            conf = runpy.run_path(str(GUNICORN_CONF))  # what gunicorn will read, for the banner
            web = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF)]
            served_by = f"gunicorn, {conf['workers']} processes × {conf['threads']} threads"
        commands = {
            "web": web,
            "worker": [
                *manage,
                "rqworker",
                "dispatch_person",
                "dispatch",
                "default",
                "--with-scheduler",
                "--worker-class",
                "messaging.worker.Worker",
            ],
            # Outgoing webhook deliveries: a worker of their own, so a slow receiver never delays sending.
            "webhooks": [*manage, "rqworker", "webhooks", "--worker-class", "messaging.worker.Worker"],
            "cron": [*manage, "rqcron", "config/cron.py"],
        }
        procs = {name: subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR) for name, cmd in commands.items()}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        url = f"http://localhost:{port}/"
        self._announce(url, procs, served_by)
        try:
            while not stopping:
                for name, proc in procs.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with {proc.returncode}; stopping everything.")
                        stopping = True
                time.sleep(0.3)
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in procs.values():
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            if not os.environ.get("REDIS_URL"):
                embedded_redis.stop(settings.EMBEDDED_REDIS_DIR)
            self.stdout.write("Stopped web, workers, scheduler.")

    def _announce(self, url, procs, served_by):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and procs["web"].poll() is None:
            try:
                urllib.request.urlopen(url + "healthz", timeout=2)  # noqa: S310 - our own http URL
                break
            except OSError:
                time.sleep(0.3)
        self.stdout.write(self.style.SUCCESS(f"\n  Textwise is running at {url}  (Ctrl-C stops everything)"))
        self.stdout.write(f"  Served by {served_by}.\n")
        self.stdout.write("  Demo logins (password demo-pass-2026): support@demo.test, admin@acme.test,")
        self.stdout.write("  staff@acme.test, owner@sunrise.test, user@sunrise.test, admin@globex.test\n")
