"""The counts the pages and the API show, by aggregate queries (a few per page, never one per
enrollment): per workflow — enrolled, in progress, sent, delivered, replied, opted out — and per
step of one workflow."""

from collections import defaultdict

from django.db.models import Count, Exists, OuterRef

from compliance.models import ConsentEvent
from messaging.automations.models import Enrollment, EnrollmentStep, WorkflowStep
from messaging.models import Direction, Message, Status

HANDED = (Status.SENT, Status.DELIVERED, Status.UNDELIVERED)


def _replied_since(contact_ref: str, since_ref: str):
    """A text from the contact after the given moment that is not an opt-out or opt-in keyword
    (those are counted as what they are: a STOP is an opt-out, not a reply)."""
    keyword = Exists(ConsentEvent.objects.filter(message_id=OuterRef("pk")))
    return Exists(
        Message.objects.filter(contact_id=OuterRef(contact_ref), direction=Direction.INBOUND,
                               created_at__gt=OuterRef(since_ref)).exclude(keyword)
    )  # fmt: skip


def workflow_totals(workflows) -> dict:
    """workflow id → {steps, enrolled, active, completed, exited, sent, delivered, replied, opted_out}."""
    ids = [w.pk for w in workflows]
    totals: dict = defaultdict(lambda: defaultdict(int))
    if not ids:
        return totals
    for row in WorkflowStep.objects.filter(workflow_id__in=ids).values("workflow_id").annotate(n=Count("pk")):
        totals[row["workflow_id"]]["steps"] = row["n"]
    enrollments = Enrollment.objects.filter(workflow_id__in=ids)
    for row in enrollments.values("workflow_id", "status", "exit_kind").annotate(n=Count("pk")).order_by():
        counts = totals[row["workflow_id"]]
        counts["enrolled"] += row["n"]
        counts[row["status"]] += row["n"]
        if row["exit_kind"] == Enrollment.Exit.OPTED_OUT:
            counts["opted_out"] += row["n"]
    replied = enrollments.filter(_replied_since("contact_id", "enrolled_at"))
    for row in replied.values("workflow_id").annotate(n=Count("pk")).order_by():
        totals[row["workflow_id"]]["replied"] = row["n"]
    sent = EnrollmentStep.objects.filter(enrollment__workflow_id__in=ids, message__isnull=False)
    for row in sent.values("enrollment__workflow_id", "message__status").annotate(n=Count("pk")).order_by():
        counts = totals[row["enrollment__workflow_id"]]
        if row["message__status"] in HANDED:
            counts["sent"] += row["n"]
        if row["message__status"] == Status.DELIVERED:
            counts["delivered"] += row["n"]
    return totals


def step_counts(workflow_ids) -> dict:
    """workflow id → step position → {reached, sent, delivered, failed, replied, opted_out}, in four
    queries for all the workflows. An opt-out counts at the last step the contact went through."""
    counts: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    log = EnrollmentStep.objects.filter(enrollment__workflow_id__in=list(workflow_ids))
    ran = log.exclude(kind="exit")
    wf = "enrollment__workflow_id"
    for row in ran.values(wf, "position").annotate(n=Count("enrollment", distinct=True)).order_by():
        counts[row[wf]][row["position"]]["reached"] = row["n"]
    messages = ran.filter(message__isnull=False)
    for row in messages.values(wf, "position", "message__status").annotate(n=Count("pk")).order_by():
        step, status = counts[row[wf]][row["position"]], row["message__status"]
        if status in HANDED:
            step["sent"] += row["n"]
        if status == Status.DELIVERED:
            step["delivered"] += row["n"]
        if status == Status.FAILED:
            step["failed"] += row["n"]
    replied = messages.filter(_replied_since("enrollment__contact_id", "created_at"))
    for row in replied.values(wf, "position").annotate(n=Count("enrollment", distinct=True)).order_by():
        counts[row[wf]][row["position"]]["replied"] = row["n"]
    opted_out = log.filter(kind="exit", enrollment__exit_kind=Enrollment.Exit.OPTED_OUT)
    for row in opted_out.values(wf, "position").annotate(n=Count("pk")).order_by():
        counts[row[wf]][max(0, row["position"] - 1)]["opted_out"] += row["n"]
    return counts
