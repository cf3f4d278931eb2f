"""Enrollments in and out, set-based: `enroll` puts contacts into a workflow (at most once at a
time; again later only with re-entry on; a date or call only once), `enrollments_end` takes them
out with a log row each. The due-step job (`runner`) is enqueued on commit — one job, however many
contacts were enrolled, and none while one is already waiting in the queue."""

import uuid

import django_rq
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from messaging.automations.models import Enrollment, EnrollmentStep, Workflow
from messaging.webhooks_out.events import enrollments_finished

STEP_JOB = "messaging.automations.runner.enrollments_step_due"
STEP_JOB_ID = "automations-step-due"  # one waiting run is enough: it claims everything due


def who(user) -> str:
    """A user as the records and reasons name them ("Cancelled by …")."""
    if user is None:
        return "the system"
    return user.get_full_name() or user.email


def enqueue_step_job() -> None:
    queue = django_rq.get_queue("default")
    waiting = queue.fetch_job(STEP_JOB_ID)
    if waiting is not None and waiting.get_status(refresh=False) in ("queued", "scheduled", "deferred"):
        return
    queue.enqueue(STEP_JOB, job_id=STEP_JOB_ID, job_timeout=600)


CHUNK = 1000  # ids per query: within every database's limit on query parameters


def enroll(*, workflow: Workflow, contact_ids, trigger: str, key: str = "", now=None) -> set:
    """Enroll these contacts of the workflow's sub-account now: the first step runs at the next
    step-job run (enqueued on commit). Skipped: contacts already in it, contacts who went through
    it before when re-entry is off, and a `key` (a date, a call) already enrolled, re-entry or
    not. Returns the ids of the enrollments it created. Safe under concurrent triggers: the
    unique constraints decide, and a conflict is skipped, never an error."""
    now = now or timezone.now()
    ids = list(dict.fromkeys(contact_ids))
    if not ids or workflow.status not in (Workflow.Status.ACTIVE, Workflow.Status.PAUSED):
        return set()
    blocking = Q()  # re-entry off: any earlier enrollment
    if workflow.allow_reentry:
        blocking = Q(status=Enrollment.Status.ACTIVE)
        if key:
            blocking |= Q(trigger_key=key)
    skip = set()
    for start in range(0, len(ids), CHUNK):
        existing = Enrollment.objects.filter(workflow=workflow, contact_id__in=ids[start : start + CHUNK])
        skip |= set(existing.filter(blocking).values_list("contact_id", flat=True))
    rows = [
        Enrollment(
            id=uuid.uuid4(),
            sub_account_id=workflow.sub_account_id,
            workflow=workflow,
            contact_id=contact_id,
            position=0,
            next_run_at=now,
            trigger=trigger[:200],
            trigger_key=key[:100],
            enrolled_at=now,
        )  # fmt: skip
        for contact_id in ids
        if contact_id not in skip
    ]
    if not rows:
        return set()
    Enrollment.objects.bulk_create(rows, ignore_conflicts=True, batch_size=CHUNK)
    created = set()
    for start in range(0, len(rows), CHUNK):
        chunk = [r.pk for r in rows[start : start + CHUNK]]
        created |= set(Enrollment.objects.filter(pk__in=chunk).values_list("pk", flat=True))
    if created:
        transaction.on_commit(enqueue_step_job)
    return created


def enrollments_end(enrollments, *, kind: str, reason: str, now) -> int:
    """End the given active enrollments (one UPDATE) with one `exited` log row each. Callers that
    lock contacts do so first (lock order: contact → enrollment → messages)."""
    rows = list(
        enrollments.filter(status=Enrollment.Status.ACTIVE)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", "sub_account_id", "position")
    )
    if not rows:
        return 0
    ids = [pk for pk, _, _ in rows]
    Enrollment.objects.filter(pk__in=ids, status=Enrollment.Status.ACTIVE).update(
        status=Enrollment.Status.EXITED, exit_kind=kind, exit_reason=reason[:300], finished_at=now,
        next_run_at=None, claim_token=None,
    )  # fmt: skip
    EnrollmentStep.objects.bulk_create(
        EnrollmentStep(enrollment_id=pk, sub_account_id=sub_account_id, position=position, kind="exit",
                       outcome=EnrollmentStep.Outcome.EXITED, detail=reason[:300], created_at=now)
        for pk, sub_account_id, position in rows
    )  # fmt: skip
    enrollments_finished(sub_account_ids={s for _, s, _ in rows}, enrollment_ids=ids)
    return len(rows)
