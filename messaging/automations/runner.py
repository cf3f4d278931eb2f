"""The due-step job: steps every enrollment whose `next_run_at` has come, in batches.

1. Claim up to BATCH due enrollments of active workflows with one conditional UPDATE (stamped
   with this run's token), like dispatch claims messages: two runs never step the same
   enrollment. A claim older than STALE_AFTER (a killed worker) is taken over.
2. Group the claimed ones by (workflow, step) and run each group set-based in one transaction:
   one `messages_send` call for a send step, one UPDATE for a wait, one insert for a tag. The
   step's effect, its log rows and the enrollment's move to the next step commit together, so a
   worker killed at any point leaves each enrollment either before the step or after it — a
   message is never sent twice, and a wait is only a row with a later `next_run_at`.
3. Steps that need no waiting (tags, stop-if-replied, a send followed by a send) run on in the
   same job; a wait releases the claim until it ends.

Run by the cron scheduler every STEP_INTERVAL seconds and enqueued on commit after enrolling
(`enrolling.enqueue_step_job`), never one job per contact."""

import uuid
from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from compliance import times
from messaging.automations import steps as step_rules
from messaging.automations import triggers
from messaging.automations.models import Enrollment, EnrollmentStep, Workflow, WorkflowStep
from messaging.models import Contact, Direction, Message, Source, Status
from messaging.services import MessagingError, messages_send
from messaging.webhooks_out.events import enrollments_finished

BATCH = 500  # enrollments per claim: one messages_send call of at most this many contacts
MAX_BATCHES = 40  # per run (20,000 enrollments); the next run goes on
STALE_AFTER = timedelta(minutes=10)  # longer than a batch can take: its claimer is gone
STEP_INTERVAL = 15  # seconds between cron runs: a wait ends at most this late

K = WorkflowStep.Kind
Out = EnrollmentStep.Outcome


def enrollments_step_due() -> dict:
    """The RQ job. Safe to run twice or concurrently: each run steps only what it claimed."""
    now = timezone.now()
    enrolled = triggers.dates_due(now)
    claimed_total = steps = batches = 0
    while batches < MAX_BATCHES:
        token, claimed = claim(now)
        if not claimed:
            break
        steps += run(claimed, token, now)
        claimed_total += len(claimed)
        batches += 1
        now = timezone.now()
    return {"date_enrollments": enrolled, "enrollments": claimed_total, "steps": steps, "batches": batches}


def claim(now, limit: int | None = None) -> tuple[uuid.UUID, list[Enrollment]]:
    token, limit = uuid.uuid4(), limit or BATCH
    claimable = Q(claim_token__isnull=True) | Q(claimed_at__lt=now - STALE_AFTER)
    # The active workflows' ids as a list, not a join: then the due index is read in next_run_at
    # order and the scan stops after `limit` rows, however many are due (a join hashes them all).
    active = list(Workflow.objects.filter(status=Workflow.Status.ACTIVE).values_list("pk", flat=True))
    if not active:
        return token, []
    due = Enrollment.objects.active().filter(claimable, next_run_at__lte=now, workflow_id__in=active)
    ids = list(due.order_by("next_run_at").values_list("pk", flat=True)[:limit])
    if not ids:
        return token, []
    # The conditions again in the UPDATE: of two runs racing for a row, exactly one stamps it.
    Enrollment.objects.filter(claimable, pk__in=ids, status=Enrollment.Status.ACTIVE, next_run_at__lte=now).update(
        claim_token=token, claimed_at=now
    )
    claimed = Enrollment.objects.filter(claim_token=token, status=Enrollment.Status.ACTIVE)
    return token, list(claimed.select_related("contact", "workflow__sub_account"))


def run(claimed: list[Enrollment], token, now) -> int:
    """Run the claimed enrollments' due steps, and the steps after them that need no wait.
    Returns how many steps ran (an enrollment reaching its end is not a step)."""
    workflow_ids = {e.workflow_id for e in claimed}
    plans: dict = defaultdict(list)
    for step in WorkflowStep.objects.filter(workflow_id__in=workflow_ids).select_related("tag").order_by("position"):
        plans[step.workflow_id].append(step)
    pending, stepped = claimed, 0
    while pending:
        groups: dict = defaultdict(list)
        for enrollment in pending:
            groups[(enrollment.workflow_id, enrollment.position)].append(enrollment)
        pending = []
        for (workflow_id, position), group in groups.items():
            plan = plans[workflow_id]
            step = plan[position] if position < len(plan) else None
            ran, goes_on = run_step(step, group, token, now)
            stepped += ran
            pending += goes_on
    return stepped


def run_step(step: WorkflowStep | None, group: list[Enrollment], token, now) -> tuple[int, list[Enrollment]]:
    """One step for a group of enrollments at the same step of one workflow, in one transaction.
    Returns how many it stepped and the enrollments that go straight on to their next step."""
    with transaction.atomic():
        # Lock order: contacts, then enrollments (an opt-out takes the contact first too).
        contact_ids = sorted({e.contact_id for e in group})
        list(Contact.objects.select_for_update().filter(pk__in=contact_ids).order_by("pk").values_list("pk"))
        mine = Enrollment.objects.filter(
            pk__in=[e.pk for e in group], claim_token=token, status=Enrollment.Status.ACTIVE
        )
        live = set(
            mine.filter(workflow__status=Workflow.Status.ACTIVE)
            .select_for_update(of=("self",))
            .values_list("pk", flat=True)
        )
        # An opt-out or unenroll won meanwhile (not active any more), or the workflow was paused or
        # stopped since the claim: that claim is given back, so a resume steps it at once.
        if len(live) < len(group):
            mine.exclude(pk__in=live).update(claim_token=None)
        group = [e for e in group if e.pk in live]
        if not group:
            return 0, []
        if step is None:
            _complete(group, now)
            return 0, []
        return len(group), RUNNERS[step.kind](step, group, token, now)


# --- The kinds of step ----------------------------------------------------------------------


def _log(group, step, *, outcome: str, detail: str = "", messages=None, now) -> None:
    EnrollmentStep.objects.bulk_create(
        EnrollmentStep(
            enrollment_id=e.pk,
            sub_account_id=e.sub_account_id,
            position=e.position,
            step=step,
            kind=step.kind,
            outcome=outcome if messages is None else (Out.QUEUED if m.status == Status.QUEUED else Out.REFUSED),
            message=m,
            detail=(detail if messages is None else m.failure_reason)[:300],
            created_at=now,
        )  # fmt: skip
        for e, m in zip(group, messages or [None] * len(group), strict=True)
    )


def _advance(group, token, now, *, next_run_at=None) -> list[Enrollment]:
    """To the next step: now (kept claimed: this run goes on) or, for a wait, later (released)."""
    position = group[0].position + 1
    goes_on = next_run_at is None
    Enrollment.objects.filter(pk__in=[e.pk for e in group], claim_token=token).update(
        position=F("position") + 1, next_run_at=now if goes_on else next_run_at, claim_token=token if goes_on else None
    )
    for e in group:
        e.position, e.next_run_at = position, now if goes_on else next_run_at
    return group if goes_on else []


def _complete(group, now) -> None:
    ids = [e.pk for e in group]
    Enrollment.objects.filter(pk__in=ids).update(
        status=Enrollment.Status.COMPLETED, finished_at=now, next_run_at=None, claim_token=None
    )
    enrollments_finished(sub_account_ids={e.sub_account_id for e in group}, enrollment_ids=ids)


def send_sms(step, group, token, now):
    """Through the one send path, source `workflow`: DND, consent, ramp, suspension, quiet hours
    (at dispatch) and R5/R6 (per OPT_OUT_SOURCES) apply as to any other send. A refused message
    is logged with its reason and the contact goes on."""
    workflow = group[0].workflow
    try:
        messages = messages_send(
            sub_account=workflow.sub_account, contacts=[e.contact for e in group], body=step.body,
            source=Source.WORKFLOW, batch=f"wf:{workflow.pk.hex}",
        )  # fmt: skip
    except MessagingError as exc:  # a step the send path refuses outright (an empty text): said, and on
        _log(group, step, outcome=Out.REFUSED, detail=str(exc), now=now)
        return _advance(group, token, now)
    _log(group, step, outcome=Out.QUEUED, messages=messages, now=now)
    return _advance(group, token, now)


def wait(step, group, token, now):
    if step.wait_minutes is not None:  # a duration: the same end for the whole group, no zone needed
        by_end = {step_rules.wait_ends(now, minutes=step.wait_minutes, until=None, zone=""): group}
    else:  # a time of day: in each contact's zone
        by_end = defaultdict(list)
        sub_account_zone = group[0].workflow.sub_account.time_zone
        for e in group:
            zone = step_rules.contact_zone(e.contact.phone, e.contact.time_zone, sub_account_zone)
            by_end[step_rules.wait_ends(now, minutes=None, until=step.wait_until, zone=zone)].append(e)
    zone = group[0].workflow.sub_account.time_zone
    for ends, waiting in by_end.items():
        _log(waiting, step, outcome=Out.WAITING, detail=f"Until {times.local(ends, zone)}", now=now)
        _advance(waiting, token, now, next_run_at=ends)
    return []


def add_tag(step, group, token, now):
    if step.tag_id is None:
        _log(group, step, outcome=Out.SKIPPED, detail="The tag no longer exists.", now=now)
        return _advance(group, token, now)
    through = Contact.tags.through
    ids = [e.contact_id for e in group]
    had = set(through.objects.filter(tag_id=step.tag_id, contact_id__in=ids).values_list("contact_id", flat=True))
    new = [contact_id for contact_id in ids if contact_id not in had]
    through.objects.bulk_create([through(contact_id=c, tag_id=step.tag_id) for c in new], ignore_conflicts=True)
    _log(group, step, outcome=Out.DONE, now=now)
    triggers.tags_added(sub_account_id=group[0].sub_account_id, links=[(c, step.tag_id) for c in new])
    return _advance(group, token, now)


def remove_tag(step, group, token, now):
    if step.tag_id is not None:
        Contact.tags.through.objects.filter(tag_id=step.tag_id, contact_id__in=[e.contact_id for e in group]).delete()
    _log(group, step, outcome=Out.DONE if step.tag_id else Out.SKIPPED,
         detail="" if step.tag_id else "The tag no longer exists.", now=now)  # fmt: skip
    return _advance(group, token, now)


def stop_if_replied(step, group, token, now):
    """Replied: any text from the contact since they were enrolled (keywords included: an opt-out
    has already ended the enrollment)."""
    since = min(e.enrolled_at for e in group)
    inbound = defaultdict(list)
    for contact_id, at in Message.objects.filter(
        contact_id__in=[e.contact_id for e in group], direction=Direction.INBOUND, created_at__gte=since
    ).values_list("contact_id", "created_at"):
        inbound[contact_id].append(at)
    replied = [e for e in group if any(at >= e.enrolled_at for at in inbound[e.contact_id])]
    if replied:
        _log(replied, step, outcome=Out.EXITED, detail="The contact replied.", now=now)
        Enrollment.objects.filter(pk__in=[e.pk for e in replied]).update(
            status=Enrollment.Status.EXITED, exit_kind=Enrollment.Exit.REPLIED, exit_reason="The contact replied.",
            finished_at=now, next_run_at=None, claim_token=None,
        )  # fmt: skip
        enrollments_finished(
            sub_account_ids={e.sub_account_id for e in replied}, enrollment_ids=[e.pk for e in replied]
        )
    rest = [e for e in group if e not in replied]
    if rest:
        _log(rest, step, outcome=Out.DONE, detail="No reply yet: goes on.", now=now)
        return _advance(rest, token, now)
    return []


RUNNERS = {K.SEND_SMS: send_sms, K.WAIT: wait, K.ADD_TAG: add_tag, K.REMOVE_TAG: remove_tag,
           K.STOP_IF_REPLIED: stop_if_replied}  # fmt: skip
