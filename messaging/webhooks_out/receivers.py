"""Compliance events (R8, R9, R11) to outgoing webhooks, through compliance's signals."""

from compliance import signals
from messaging import webhooks_out


def on_violation(sender, violation, **kwargs):
    webhooks_out.emit(violation.sub_account_id, "violation.recorded",
                      {"violation_id": violation.pk, "kind": violation.kind, "level": violation.level,
                       "action": violation.action})  # fmt: skip


def _suspension(suspension):
    return {"suspension_id": suspension.pk, "kind": suspension.kind, "cause": suspension.cause,
            "started_at": suspension.started_at, "ends_at": suspension.ends_at,
            "lifted_at": suspension.lifted_at}  # fmt: skip


def on_suspension_started(sender, suspension, **kwargs):
    webhooks_out.emit(suspension.sub_account_id, "suspension.started", _suspension(suspension))


def on_suspension_ended(sender, suspension, **kwargs):
    webhooks_out.emit(suspension.sub_account_id, "suspension.ended", _suspension(suspension))


def connect():
    signals.violation_recorded.connect(on_violation, dispatch_uid="webhooks_out.violation")
    signals.suspension_started.connect(on_suspension_started, dispatch_uid="webhooks_out.suspension_started")
    signals.suspension_ended.connect(on_suspension_ended, dispatch_uid="webhooks_out.suspension_ended")
