"""The pause check: which of a dispatch wave's messages belong to something paused — their bulk
send or campaign, their workflow, or (for workflow and campaign messages that belong to neither,
e.g. sent through the API) their sub-account's "pause all". Dispatch calls `hold_paused` before
every wave (`dispatch.recheck`), so a pause stops hand-offs within one wave; what it holds goes
back to `queued` (nothing was sent, nothing is failed) and waits, parked, until it is resumed.

A parked message waits with `send_after` at PAUSED_UNTIL, a moment no clock reaches: neither the
sweep nor dispatch picks it up, and a resume gives it a real time again (`campaigns.unpark`).
Its ramp capacity goes back while it waits and is reserved again in the window it is sent in
(R7, as for a message waiting for quiet hours)."""

from datetime import UTC, datetime

from django.db.models import Exists, OuterRef, Q

from messaging.automations.models import EnrollmentStep, SendingPause, Workflow
from messaging.models import BulkSend, Message, Source, Status
from messaging.transitions import messages_requeue

PAUSED_UNTIL = datetime(3000, 1, 1, tzinfo=UTC)
# What "pause all" holds; one-to-one, test, resend, missed-call text back and keyword replies
# still go (like during a suspension, R8): a reply to a person is not a blast.
PAUSABLE_SOURCES = (Source.BULK, Source.CAMPAIGN, Source.WORKFLOW)
HELD_DETAIL = "Paused: not handed to the carrier until it is resumed."


def in_a_workflow(workflow_status=None):
    steps = EnrollmentStep.objects.filter(message_id=OuterRef("pk"))
    if workflow_status is not None:
        steps = steps.filter(enrollment__workflow__status=workflow_status)
    return Exists(steps)


def paused_q() -> Q:
    """Messages whose bulk send or campaign is paused, whose workflow is paused, or that belong to
    neither while their sub-account's "pause all" is in force."""
    orphan_in_pause_all = (
        Q(bulk_send__isnull=True, source__in=PAUSABLE_SOURCES)
        & ~in_a_workflow()
        & Q(sub_account_id__in=SendingPause.objects.in_force().values("sub_account_id"))
    )
    return Q(bulk_send__status=BulkSend.Status.PAUSED) | in_a_workflow(Workflow.Status.PAUSED) | orphan_in_pause_all


def paused_ids(message_ids) -> set:
    """One query for the whole wave, whatever its size."""
    if not message_ids:
        return set()
    return set(Message.objects.filter(pk__in=list(message_ids)).filter(paused_q()).values_list("pk", flat=True))


def paused_bulk_ids(messages: list) -> set:
    """Of messages that belong to a bulk send or campaign (`bulk_send_id` set), the paused
    ones: one primary-key lookup of their sends. Equivalent to `paused_q` for them: only
    `bulk.bulk_send_start` sets `bulk_send`, so such a message is never a workflow step's, and
    "pause all" applies to it through its send's status (`controls.sending_pause_all`)."""
    send_ids = {m.bulk_send_id for m in messages}
    paused = set(BulkSend.objects.filter(pk__in=send_ids, status=BulkSend.Status.PAUSED).values_list("pk", flat=True))
    return {m.pk for m in messages if m.bulk_send_id in paused}


def hold_paused(messages: list) -> list:
    """The dispatch hook: the messages that may go on; the paused ones are parked (back to
    `queued`, unclaimed, ramp capacity given back). Other sources are not even looked up, and
    a bulk wave costs one lookup of its send's status (the general check joins enrollment
    steps and pauses for every message: a third of a bulk wave's database time)."""
    candidates = [m for m in messages if m.source in PAUSABLE_SOURCES]
    of_a_send = [m for m in candidates if m.bulk_send_id is not None]
    held = paused_bulk_ids(of_a_send) if of_a_send else set()
    held |= paused_ids([m.pk for m in candidates if m.bulk_send_id is None])
    if held:
        park(Message.objects.filter(pk__in=held, status=Status.SENDING, handed_at__isnull=True), detail=HELD_DETAIL)
    return [m for m in messages if m.pk not in held]


def park(candidates, *, detail: str) -> set:
    """Back to `queued` with no time to go (`PAUSED_UNTIL`), capacity given back (R7)."""
    return messages_requeue(candidates, source="pause", detail=detail, send_after=PAUSED_UNTIL, give_back_ramp=True)


def parked(messages):
    """Of `messages`, the ones a pause parked."""
    return messages.filter(status=Status.QUEUED, send_after=PAUSED_UNTIL)
