"""The RQ worker class `make run` and production start:
`manage.py rqworker dispatch_person dispatch default --with-scheduler --worker-class messaging.worker.Worker`."""

import functools

import redis
from rq import Worker as RQWorker

MAINTENANCE_SECONDS = 30
# Waiting for Redis to come back, a worker tries again at least this often (rq: up to 60 s).
REDIS_RETRY_SECONDS_MAX = 5
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _outlasting_redis(method):
    """rq's bookkeeping step `method`, carried on past an unreachable Redis instead of quitting."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except REDIS_DOWN as exc:
            self.log.warning("Worker %s: Redis unreachable in %s (%s: %s); carrying on",
                             self.name, method.__name__, type(exc).__name__, exc)  # fmt: skip
            return None

    return wrapper


class Worker(RQWorker):
    """rq's forking worker (each job in a work-horse of its own: a crash or leak ends with the
    job; dispatch jobs are coalesced, so the fork is paid per job, not per message), with its
    maintenance every 30 s instead of rq's 10 minutes. When the worker that held the scheduler
    lock dies, the lock expires about a minute later (rq: its interval + 60 s) and another worker
    takes it over at its next maintenance — delayed jobs (the simulator's receipts, retries) wait
    a minute and a half, not ten. Maintenance also moves the jobs of dead work-horses out of the
    started registries.

    It also outlasts a Redis outage. rq waits for Redis only while dequeuing; anywhere else in its
    loop a lost connection makes the worker quit — when a job ends while Redis is down, say — and
    nothing dispatches until someone starts it again (the fault drill in
    tests/drills/test_redis_restart.py found it). The steps below are rq's bookkeeping (state,
    heartbeats, the suspension check, maintenance, the job's record after its work-horse ran):
    each one that meets an outage is logged and skipped, the dequeue that follows waits for Redis
    as rq does, and the work itself is in PostgreSQL — a dispatch run whose job record was lost
    is taken up again by the sweep."""

    max_connection_wait_time = REDIS_RETRY_SECONDS_MAX

    check_for_suspension = _outlasting_redis(RQWorker.check_for_suspension)
    run_maintenance_tasks = _outlasting_redis(RQWorker.run_maintenance_tasks)
    set_state = _outlasting_redis(RQWorker.set_state)
    heartbeat = _outlasting_redis(RQWorker.heartbeat)
    maintain_heartbeats = _outlasting_redis(RQWorker.maintain_heartbeats)
    set_current_job_working_time = _outlasting_redis(RQWorker.set_current_job_working_time)
    execute_job = _outlasting_redis(RQWorker.execute_job)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)
        preload()


def preload() -> None:
    """Import, once in the worker, what every dispatch job imports: each job runs in a forked
    work-horse, which inherits what its parent imported and pays for the rest itself (the
    provider's module, the Twilio SDK and aiohttp: 0.1–0.5 s of CPU per job). Modules only: the
    provider instance, its HTTP sessions and threads are made in the work-horse (none of them
    survive a fork)."""
    from messaging import dispatch  # noqa: F401 - imported for the work-horses
    from messaging.providers import preload_backend

    preload_backend()
