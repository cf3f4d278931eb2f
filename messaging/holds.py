"""R11: what support's decision on a snowshoeing hold does to its messages. The decision itself
is recorded on the hold (`SnowshoeHold.decide`); accepting releases the held messages still
queued (dispatched on commit, scheduled ones when due by the sweep), rejecting fails them with
support's note and gives back their ramp capacity (R7). A bulk send marked held goes back to
sending (or scheduled), or is blocked."""

from django.db import transaction
from django.utils import timezone

from compliance.models import SnowshoeHold
from messaging.dispatch import BULK, dispatch_due_soon
from messaging.models import BulkSend, Message, MessageEvent, Status
from messaging.transitions import CHUNK, messages_fail

RELEASED = "Released: support accepted the snowshoeing justification"


def snowshoe_decide(*, hold: SnowshoeHold, accept: bool, note: str, user) -> int:
    """Support only. Returns how many messages were released or failed."""
    note = (note or "").strip()
    now = timezone.now()
    with transaction.atomic():
        locked = SnowshoeHold.objects.select_for_update().get(pk=hold.pk)
        locked.decide(accept=accept, note=note, user=user, now=now)  # raises ComplianceError if it may not
        held = Message.objects.filter(hold=locked, status=Status.QUEUED)
        sends = BulkSend.objects.filter(
            # Read before the messages change: they are what links a send to this hold.
            pk__in=list(
                BulkSend.objects.filter(messages__hold=locked, status=BulkSend.Status.HELD).values_list("pk", flat=True)
            ),
            status=BulkSend.Status.HELD,
        )
        if accept:
            count = _release(held, sub_account_id=locked.sub_account_id, now=now)
            sends.filter(scheduled_for__gt=now).update(status=BulkSend.Status.SCHEDULED)
            sends.update(status=BulkSend.Status.SENDING)
        else:
            reason = f"Held for snowshoeing and rejected by support: {note}"[:300]
            count = len(messages_fail(held, reason=reason, source="support", now=now))
            sends.update(status=BulkSend.Status.BLOCKED)
    hold.refresh_from_db()
    return count


def _release(held, *, sub_account_id, now) -> int:
    # Locked, so an opt-out failing one of them meanwhile waits for us (and then skips it).
    rows = list(held.select_for_update(of=("self",)).order_by("pk").values_list("pk", "send_after"))
    ids = [pk for pk, _ in rows]
    for start in range(0, len(ids), CHUNK):
        Message.objects.filter(pk__in=ids[start : start + CHUNK]).update(hold=None)
    MessageEvent.objects.bulk_create(
        (MessageEvent(message_id=pk, sub_account_id=sub_account_id, status=Status.QUEUED, detail=RELEASED,
                      source="support") for pk in ids),
        batch_size=CHUNK,
    )  # fmt: skip
    if any(send_after is None or send_after <= now for _, send_after in rows):
        transaction.on_commit(lambda: dispatch_due_soon(BULK))  # bulk and campaign messages
    return len(ids)
