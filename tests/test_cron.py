"""config/cron.py: what the cron scheduler runs, and how often."""

import django_rq
from rq.cron import CronScheduler

from messaging.automations.runner import STEP_INTERVAL, enrollments_step_due


def test_the_due_step_job_runs_every_step_interval():
    scheduler = CronScheduler(connection=django_rq.get_connection("default"))
    scheduler.load_config_from_file("config/cron.py")
    jobs = {job.func: job for job in scheduler._cron_jobs}
    assert jobs[enrollments_step_due].interval == STEP_INTERVAL == 15
    assert jobs[enrollments_step_due].queue_name == "default"
