"""Compliance events (R8, R9, R11) to outgoing webhooks: through compliance's signals (compliance
never imports messaging), and the cron sweep announcing suspensions that simply ran out."""

from django.db import transaction
from django.utils import timezone

from compliance import signals
from compliance.models import Suspension
from messaging import webhooks_out

SWEEP_BATCH = 500


def on_violation(sender, violation, **kwargs):
    webhooks_out.emit(violation.sub_account_id, "violation.recorded",
                      {"violation_id": violation.pk, "kind": violation.kind, "level": violation.level,
                       "action": violation.action})  # fmt: skip


def _suspension(suspension, **extra):
    return {"suspension_id": suspension.pk, "kind": suspension.kind, "cause": suspension.cause,
            "started_at": suspension.started_at, "ends_at": suspension.ends_at,
            "lifted_at": suspension.lifted_at, **extra}  # fmt: skip


def on_suspension_started(sender, suspension, **kwargs):
    webhooks_out.emit(suspension.sub_account_id, "suspension.started", _suspension(suspension))


def on_suspension_ended(sender, suspension, **kwargs):
    webhooks_out.emit(suspension.sub_account_id, "suspension.ended", _suspension(suspension, ended_by="lifted"))


def suspensions_ended_sweep() -> int:
    """Cron: a temporary suspension ends by time alone (R8: no job has to run for it to end), so
    no row changes then; this announces each one once its end has passed, once (claimed with a
    conditional update; the claim and the deliveries commit together). Returns how many."""
    now = timezone.now()
    announced = 0
    for pk in list(
        Suspension.objects.ended_unannounced(now).order_by("ends_at").values_list("pk", flat=True)[:SWEEP_BATCH]
    ):
        with transaction.atomic():
            if not Suspension.objects.filter(pk=pk, end_announced_at__isnull=True).update(end_announced_at=now):
                continue  # another sweep took it
            suspension = Suspension.objects.get(pk=pk)
            webhooks_out.emit(suspension.sub_account_id, "suspension.ended", _suspension(suspension, ended_by="time"))
            announced += 1
    return announced


def connect():
    signals.violation_recorded.connect(on_violation, dispatch_uid="webhooks_out.violation")
    signals.suspension_started.connect(on_suspension_started, dispatch_uid="webhooks_out.suspension_started")
    signals.suspension_ended.connect(on_suspension_ended, dispatch_uid="webhooks_out.suspension_ended")
