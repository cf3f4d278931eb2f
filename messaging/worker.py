"""The RQ worker class `make run` and production start:
`manage.py rqworker dispatch_person dispatch default --with-scheduler --worker-class messaging.worker.Worker`."""

from rq import Worker as RQWorker

MAINTENANCE_SECONDS = 30


class Worker(RQWorker):
    """rq's forking worker (each job in a work-horse of its own: a crash or leak ends with the
    job; dispatch jobs are coalesced, so the fork is paid per job, not per message), with its
    maintenance every 30 s instead of rq's 10 minutes. When the worker that held the scheduler
    lock dies, the lock expires about a minute later (rq: its interval + 60 s) and another worker
    takes it over at its next maintenance — delayed jobs (the simulator's receipts, retries) wait
    a minute and a half, not ten. Maintenance also moves the jobs of dead work-horses out of the
    started registries."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", MAINTENANCE_SECONDS)
        super().__init__(*args, **kwargs)
