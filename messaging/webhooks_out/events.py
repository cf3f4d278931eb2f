"""Event payloads built from many rows at once (messaging.automations finishes enrollments in
batches of hundreds): one check for subscribed endpoints, then one read and one emit per
sub-account."""

from collections import defaultdict

from messaging.automations.models import Enrollment
from messaging.models import WebhookEndpoint
from messaging.webhooks_out import emit_many

ENROLLMENT_FINISHED = "workflow.enrollment.finished"


def enrollments_finished(*, sub_account_ids, enrollment_ids) -> int:
    """`workflow.enrollment.finished` for each of these enrollments (just completed or exited,
    in the caller's transaction: the deliveries are enqueued on its commit). Returns how many events."""
    subscribed = {
        sub_account_id
        for sub_account_id, events in WebhookEndpoint.objects.filter(
            sub_account_id__in=set(sub_account_ids), enabled=True
        ).values_list("sub_account_id", "events")
        if ENROLLMENT_FINISHED in events
    }
    if not subscribed:
        return 0
    by_sub_account = defaultdict(list)
    rows = Enrollment.objects.filter(pk__in=list(enrollment_ids), sub_account_id__in=subscribed).values(
        "id", "sub_account_id", "workflow_id", "workflow__name", "contact_id", "status", "exit_kind", "exit_reason",
        "trigger", "enrolled_at", "finished_at",
    )  # fmt: skip
    for row in rows.order_by("finished_at", "id"):
        by_sub_account[row["sub_account_id"]].append(
            {
                "enrollment_id": row["id"],
                "workflow_id": row["workflow_id"],
                "workflow_name": row["workflow__name"],
                "contact_id": row["contact_id"],
                "status": row["status"],
                "exit_kind": row["exit_kind"],
                "exit_reason": row["exit_reason"],
                "trigger": row["trigger"],
                "enrolled_at": row["enrolled_at"],
                "finished_at": row["finished_at"],
            }  # fmt: skip
        )
    for sub_account_id, items in by_sub_account.items():
        emit_many(sub_account_id, ENROLLMENT_FINISHED, items)
    return sum(len(items) for items in by_sub_account.values())
