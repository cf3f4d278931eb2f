"""The web server's settings, one file for `make run` (accounts/management/commands/runlocal.py)
and production (`gunicorn -c config/gunicorn.conf.py`, README). Each can be set by environment.

Threads, not processes, carry the concurrency: a request mostly waits on PostgreSQL and Redis,
and each process has one database pool shared by its threads (DB_POOL_MAX_SIZE defaults to
WEB_THREADS, so no thread waits for a connection). Connections to plan for: WEB_CONCURRENCY x
DB_POOL_MAX_SIZE per host (docs/ARCHITECTURE.md, "Connections")."""

import os


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may run on (containers, taskset)
    except AttributeError:
        return os.cpu_count() or 1


wsgi_app = "config.wsgi:application"
# Loopback unless told otherwise (HOST=0.0.0.0 behind a proxy or in a container).
bind = [f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"]
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or _cpus())
threads = int(os.environ.get("WEB_THREADS", "4"))
# A worker silent this long is restarted (contact imports run in an RQ job, not the request).
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("WEB_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("WEB_KEEPALIVE", "5"))
# The app is loaded in each worker after the fork (gunicorn's default, said here because the
# database pool is per process: config/dbpool.py).
preload_app = False
# One access-log line a request on stdout; WEB_ACCESS_LOG="" turns it off.
accesslog = os.environ.get("WEB_ACCESS_LOG", "-") or None
# gunicorn's control socket is not used, and its default path (~/.gunicorn/gunicorn.ctl) would
# be shared by every server of the same user.
control_socket_disable = True
# The workers' heartbeat file in memory, not on a disk that may stall (gunicorn's advice; it
# makes the file with mkstemp, so a shared directory is safe).
if os.path.isdir("/dev/shm"):  # noqa: S108
    worker_tmp_dir = "/dev/shm"  # noqa: S108
