"""The database pool on PostgreSQL (config/settings.py, config/dbpool.py): threads share at most
DB_POOL_MAX_SIZE connections, and a forked RQ work-horse never uses its parent's (it opens one
plain connection). SQLite has no pool: skipped there."""

from concurrent.futures import ThreadPoolExecutor

import django_rq
import pytest
from django.db import connection
from django_rq.utils import reset_db_connections
from rq import Worker

pytestmark = [
    pytest.mark.django_db(transaction=True),  # each thread and the work-horse have connections of their own
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the pool is PostgreSQL's"),
]


def backend_pid() -> int:
    """The PostgreSQL session this thread's connection is (also the RQ job below)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_threads_share_the_pool_and_stay_within_its_maximum():
    max_size = connection.settings_dict["OPTIONS"]["pool"]["max_size"]

    def request(_):
        try:
            with connection.cursor() as cursor:
                # Long enough that the threads overlap and wait for one another's connections.
                cursor.execute("SELECT pg_backend_pid(), pg_sleep(0.05)")
                return cursor.fetchone()[0]
        finally:
            connection.close()  # as at the end of a request: back to the pool

    threads = 3 * max_size
    with ThreadPoolExecutor(max_workers=threads) as pool:
        sessions = set(pool.map(request, range(threads)))
    assert 1 <= len(sessions) <= max_size  # without the pool: one session per thread
    assert connection.pool.get_stats()["pool_size"] <= max_size


class BurstWorker(Worker):
    """rq's forking worker, as `manage.py rqworker` runs it; no pubsub thread for a burst."""

    def subscribe(self):
        pass

    def unsubscribe(self):
        pass


def parent_pool_sessions() -> set[int]:
    """Every PostgreSQL session in this process's pool (each connection checked out at once)."""
    pool = connection.pool
    held = [pool.getconn() for _ in range(pool.get_stats()["pool_size"])]
    try:
        return {conn.info.backend_pid for conn in held}
    finally:
        for conn in held:
            pool.putconn(conn)


def horse_session() -> tuple[int, bool]:
    """The RQ job: the work-horse's PostgreSQL session, and whether it came from a pool."""
    return backend_pid(), connection.pool is not None


def test_an_rq_work_horse_opens_a_plain_connection_of_its_own():
    backend_pid()  # this process's pool is open ...
    reset_db_connections()  # ... and, as rqworker leaves it before forking, holds idle connections
    queue = django_rq.get_queue("default")
    job = queue.enqueue(horse_session)
    BurstWorker([queue], connection=queue.connection).work(burst=True, with_scheduler=False)

    job.refresh()
    assert job.get_status() == "finished", job.latest_result().exc_string
    session, pooled = job.return_value()
    # Not one of the parent's: two processes on one session would interleave their protocol.
    assert session not in parent_pool_sessions()
    assert not pooled  # one job on one thread: one connection, no pool of its own
    assert backend_pid() > 0 and connection.pool is not None  # the parent's pool still serves
