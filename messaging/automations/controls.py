"""The switches: activate, pause, resume and stop a workflow; pause, resume and cancel a Bulk SMS
or campaign (a Bulk SMS scheduled for later); "pause all sending" and "resume all" for a
sub-account. Each change is conditional on the state it comes from and recorded with who and when.

- Pause: queued messages are parked at once (`pausing.park`), and those a dispatch run already
  claimed are held before its next wave (`pausing.hold_paused`): nothing more is handed to the
  carrier. A paused workflow's enrollments are not stepped. Resume gives parked messages their
  time back — now, or a campaign's time if it has not come.
- Cancel (a send) and stop (a workflow): what is still queued, or claimed and not yet handed to the
  carrier, fails with "Cancelled by <user>" through `transitions.messages_fail`, which gives its
  ramp capacity back (R7); what was already sent stays sent. A stopped workflow's enrollments end.
- Pause all: every active workflow, campaign and running bulk send is paused, and a SendingPause
  row also holds workflow and campaign messages that belong to none of them (sent through the
  API). Resume all resumes every paused item of the sub-account and ends the SendingPause; items
  can also be resumed one by one.
"""

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from compliance import quiet
from compliance.policy import get_policy
from messaging.automations import pausing
from messaging.automations.enrolling import enqueue_step_job, enrollments_end, who
from messaging.automations.models import Enrollment, SendingPause, Workflow
from messaging.automations.workflows import activation_problems
from messaging.dispatch import enqueue_dispatch
from messaging.models import BulkSend, Message, Status
from messaging.services import MessagingError
from messaging.transitions import messages_fail, messages_requeue

S = Workflow.Status


def unpark(candidates, *, send_at, detail: str) -> set:
    """Parked messages of `candidates` get a time to go again: `send_at`. One that had waited for
    quiet hours gets its R13 deadline counted from then, as if it had become due at that moment
    (the pause was not the recipient's sending hours). Dispatch is enqueued on commit if due."""
    deadline = quiet.deadline_of(send_at, get_policy())
    with transaction.atomic():
        rows = pausing.parked(candidates)
        ids = messages_requeue(
            rows.filter(valid_until__isnull=False), source="resume", detail=detail, send_after=send_at,
            valid_until=deadline,
        )  # fmt: skip
        ids |= messages_requeue(
            rows.filter(valid_until__isnull=True), source="resume", detail=detail, send_after=send_at
        )
        if ids and send_at <= timezone.now():
            due = [str(pk) for pk in ids]
            transaction.on_commit(lambda: enqueue_dispatch(due))
    return ids


# --- Workflows ------------------------------------------------------------------------------


def workflow_messages(workflow: Workflow):
    """Every message the workflow's steps produced (through its step log)."""
    return Message.objects.filter(workflow_log__enrollment__workflow=workflow)


def workflow_activate(*, workflow: Workflow, user, now=None) -> bool:
    problems = activation_problems(workflow)
    if problems:
        raise MessagingError(" ".join(problems))
    with transaction.atomic():
        changed = workflow.set_status(S.ACTIVE, allowed_from=(S.DRAFT, S.STOPPED), user=user, now=now or timezone.now())
        if changed:
            transaction.on_commit(enqueue_step_job)
    return changed


def workflow_pause(*, workflow: Workflow, user, now=None) -> bool:
    """Enrollments stay where they are; messages it queued are parked (and held at dispatch)."""
    now = now or timezone.now()
    with transaction.atomic():
        if not workflow.set_status(S.PAUSED, allowed_from=(S.ACTIVE,), user=user, now=now):
            return False
        pausing.park(workflow_messages(workflow).filter(status=Status.QUEUED), detail=f"Paused by {who(user)}.")
    return True


def workflow_resume(*, workflow: Workflow, user, now=None) -> bool:
    """Waits that ended meanwhile run at the next step-job run; parked messages go now."""
    now = now or timezone.now()
    with transaction.atomic():
        if not workflow.set_status(S.ACTIVE, allowed_from=(S.PAUSED,), user=user, now=now):
            return False
        unpark(workflow_messages(workflow), send_at=now, detail=f"Resumed by {who(user)}.")
        transaction.on_commit(enqueue_step_job)
    return True


def workflow_stop(*, workflow: Workflow, user, now=None) -> int:
    """Every enrollment in progress ends ("Workflow stopped by …"), and what it queued that is not
    yet handed to the carrier fails with "Cancelled by …". Returns how many enrollments ended."""
    now = now or timezone.now()
    with transaction.atomic():
        if not workflow.set_status(S.STOPPED, allowed_from=(S.ACTIVE, S.PAUSED), user=user, now=now):
            raise MessagingError(f"This workflow is {workflow.get_status_display().lower()}: there is nothing to stop.")
        ended = enrollments_end(
            Enrollment.objects.filter(workflow=workflow), kind=Enrollment.Exit.STOPPED,
            reason=f"Workflow stopped by {who(user)}.", now=now,
        )  # fmt: skip
        messages_fail(
            workflow_messages(workflow).unhanded(), reason=f"Cancelled by {who(user)}.", source="cancel", now=now
        )
    return ended


# --- One Bulk SMS or campaign ---------------------------------------------------------------


def bulk_pause(*, bulk: BulkSend, user, now=None) -> bool:
    now = now or timezone.now()
    with transaction.atomic():
        if not bulk.pause(user=user, now=now):
            return False
        pausing.park(bulk.messages.filter(status=Status.QUEUED), detail=f"Paused by {who(user)}.")
    return True


def bulk_resume(*, bulk: BulkSend, user, now=None) -> bool:
    now = now or timezone.now()
    with transaction.atomic():
        if not bulk.resume(now=now):
            return False
        send_at = max(now, bulk.scheduled_for) if bulk.scheduled_for else now
        unpark(bulk.messages.all(), send_at=send_at, detail=f"Resumed by {who(user)}.")
    return True


def bulk_cancel(*, bulk: BulkSend, user, now=None) -> int:
    """Returns how many messages it failed. A send that is done or blocked is not cancelled."""
    now = now or timezone.now()
    with transaction.atomic():
        if not bulk.cancel(user=user, now=now):
            raise MessagingError(f"This send is {bulk.get_status_display().lower()}: there is nothing to cancel.")
        failed = messages_fail(bulk.messages.unhanded(), reason=f"Cancelled by {who(user)}.", source="cancel", now=now)
    return len(failed)


# --- The whole sub-account ------------------------------------------------------------------


def pause_in_force(sub_account) -> SendingPause | None:
    return SendingPause.objects.in_force().filter(sub_account=sub_account).select_related("paused_by").first()


def _orphans(sub_account):
    """Workflow and campaign messages of the sub-account in no bulk send and no workflow (API)."""
    return Message.objects.filter(sub_account=sub_account, bulk_send__isnull=True).filter(
        Q(source__in=pausing.PAUSABLE_SOURCES) & ~pausing.in_a_workflow()
    )


def sending_pause_all(*, sub_account, user, now=None) -> SendingPause:
    """Pauses every active workflow, campaign and running bulk send; recorded with who and when."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            pause = SendingPause.objects.create(sub_account=sub_account, paused_at=now, paused_by=user)
            items = 0
            for workflow in Workflow.objects.filter(sub_account=sub_account, status=S.ACTIVE):
                items += workflow_pause(workflow=workflow, user=user, now=now)
            for bulk in BulkSend.objects.filter(sub_account=sub_account).running():
                items += bulk_pause(bulk=bulk, user=user, now=now)
            pausing.park(_orphans(sub_account).filter(status=Status.QUEUED), detail=f"Paused by {who(user)}.")
            pause.items = items
            pause.save(update_fields=["items"])
    except IntegrityError:  # one is already in force (two clicks): it stands
        raise MessagingError("Sending is already paused for this sub-account.") from None
    return pause


def sending_resume_all(*, sub_account, user, now=None) -> int:
    """Resumes every paused workflow, campaign and bulk send of the sub-account and ends the pause
    in force. Returns how many items it resumed."""
    now = now or timezone.now()
    with transaction.atomic():
        items = 0
        for workflow in Workflow.objects.filter(sub_account=sub_account, status=S.PAUSED):
            items += workflow_resume(workflow=workflow, user=user, now=now)
        for bulk in BulkSend.objects.filter(sub_account=sub_account, status=BulkSend.Status.PAUSED):
            items += bulk_resume(bulk=bulk, user=user, now=now)
        SendingPause.objects.in_force().filter(sub_account=sub_account).update(resumed_at=now, resumed_by=user)
        unpark(_orphans(sub_account), send_at=now, detail=f"Resumed by {who(user)}.")
    return items
