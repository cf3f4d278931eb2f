"""A forked child must not use its parent's database connections.

A connection is a socket. RQ forks a work-horse for every job (and gunicorn forks its workers);
a child that took a connection from the pool it inherited would talk over the parent's socket,
and two processes on one PostgreSQL session interleave their protocol messages. Django builds
the pool lazily, on the first query, so the usual parents (gunicorn's master, which does not load
the app; RQ's worker, which django-rq has close its connections before working) hold none when
they fork; this makes it hold whatever the parent did."""

import os
import sys

_installed = False


def forget_inherited_connections() -> None:
    """In the child, right after fork: drop (never close) the parent's connections and pools,
    and open plain connections from then on.

    Not close(): closing a psycopg connection sends PostgreSQL a Terminate message, which would
    end the parent's session. Dropped objects are safe to garbage-collect: libpq's handle is only
    finished by the process that opened it (psycopg checks the pid), and a pool's worker threads
    did not survive the fork.

    No pool of its own either: a child of a Django process is an RQ work-horse (or rq's
    scheduler) running one job on one thread, for which a pool only costs its threads and the
    extra connection it opens while the first one connects. (A gunicorn worker is not such a
    child: gunicorn.conf.py keeps preload_app off, so its master never loads these settings.)"""
    base = sys.modules.get("django.db.backends.postgresql.base")
    if base is None:  # nothing PostgreSQL was ever opened here
        return
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        if conn.vendor == "postgresql":
            conn.connection = None
    base.DatabaseWrapper._connection_pools.clear()
    for alias in connections:
        connections.settings[alias].get("OPTIONS", {}).pop("pool", None)


def forget_inherited_connections_after_fork() -> None:
    global _installed
    if not _installed:  # one hook per process, however often settings are imported
        os.register_at_fork(after_in_child=forget_inherited_connections)
        _installed = True
