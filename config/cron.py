"""Periodic jobs for the RQ cron scheduler: `manage.py rqcron config/cron.py`.
Every job here is idempotent and takes no state from the scheduler, so a missed or doubled
tick is harmless."""

from rq import cron

from accounts.jobs import clear_expired_sessions
from compliance.monitoring import rates_evaluate_all
from compliance.notices import violation_emails_sweep
from messaging import import_jobs, webhooks_out
from messaging.automations.runner import STEP_INTERVAL, enrollments_step_due
from messaging.dispatch import sweep
from messaging.idempotency import idempotency_keys_purge
from messaging.registration import registrations_sync
from messaging.webhooks_out.receivers import suspensions_ended_sweep

cron.register(clear_expired_sessions, queue_name="default", cron="17 * * * *")
# API Idempotency-Keys are answered for 24 h; older ones are only taking space.
cron.register(idempotency_keys_purge, queue_name="default", cron="23 * * * *")
# Due scheduled messages, lost jobs, killed workers (reconciled, never blindly re-sent).
cron.register(sweep, queue_name="default", interval=60)
# R8 safety net: the rates are evaluated as receipts and opt-outs arrive; this catches anything
# a crashed request missed. Idempotent (a Violation email at most once per UTC day).
cron.register(rates_evaluate_all, queue_name="default", interval=300)
# R8 emails whose job Redis lost (it keeps no jobs across a restart): sent once, late.
cron.register(violation_emails_sweep, queue_name="default", interval=120)
# Workflow steps whose time has come (waits, dates): claimed in batches, so a wait ends at most
# STEP_INTERVAL seconds late; enrolling also enqueues it at once (messaging.automations).
cron.register(enrollments_step_due, queue_name="default", interval=STEP_INTERVAL)
# Carrier registrations in review (issue 17): their status read back from the provider.
cron.register(registrations_sync, queue_name="default", interval=300)

# Outgoing webhooks (issue 16): retries that are due (the enqueue on commit is the first try),
# enqueued on the `webhooks` queue; and `suspension.ended` for suspensions that ran out by time.
cron.register(webhooks_out.sweep, queue_name="default", interval=30)
cron.register(suspensions_ended_sweep, queue_name="default", interval=60)

# Contact imports confirmed while Redis was down (or whose queue Redis lost): queued again.
cron.register(import_jobs.import_jobs_requeue, queue_name="default", interval=60)
