"""Status receipts from the provider: stored first (idempotent, out-of-order safe), then applied
under the message's row lock — status, DND from the carrier's code (R1), rate counters (R8).
Also the provider's refusal of a send, which carries a carrier code the same way."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from compliance import carrier_codes, ledger, monitoring
from messaging import webhooks_out
from messaging.models import FINAL_STATUSES, Message, ReceiptEvent, Status
from messaging.transitions import messages_fail, record_event

# Twilio's statuses → ours. queued/accepted/sending are the provider's own queueing: no change.
RECEIPT_STATUS = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
}


def receipt_store(*, sid: str, status: str, error_code: str = "", payload: dict | None = None) -> bool:
    """Store a status receipt (idempotent: the same receipt twice is stored once)."""
    try:
        with transaction.atomic():
            ReceiptEvent.objects.create(provider_sid=sid, status=status, error_code=error_code, payload=payload or {})
        return True
    except IntegrityError:
        return False


def receipts_apply_pending(sid: str) -> int:
    """Apply every stored, not yet applied receipt of this sid, oldest first. A final status
    never goes back to `sent`; a receipt for a sid we do not know yet waits here."""
    applied = 0
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(provider_sid=sid).first()
        if message is None:
            return 0
        pending = ReceiptEvent.objects.select_for_update().filter(provider_sid=sid, applied_at__isnull=True)
        now = timezone.now()
        for receipt in pending.order_by("received_at", "id"):
            _apply_receipt(message, receipt, now)
            receipt.applied_at = now
            receipt.save(update_fields=["applied_at"])
            applied += 1
    return applied


def receipts_apply_raced(sids: list[str]) -> int:
    """After recording a wave as sent: apply the receipts that arrived before we knew their sid
    — one query to find them, nothing more when (as almost always) there are none."""
    waiting = set(
        ReceiptEvent.objects.filter(provider_sid__in=sids, applied_at__isnull=True).values_list(
            "provider_sid", flat=True
        )
    )
    return sum(receipts_apply_pending(sid) for sid in sorted(waiting))


def _apply_receipt(message: Message, receipt, now) -> None:
    new = RECEIPT_STATUS.get(receipt.status)
    if new is None or message.status in FINAL_STATUSES:
        record_event(message, status=message.status, source="receipt", error_code=receipt.error_code,
                     detail=f"receipt {receipt.status} ignored (message is {message.status})")  # fmt: skip
        return
    if new == Status.SENT and message.status == Status.SENT:
        record_event(message, status=Status.SENT, source="receipt")
        return
    message.status = new
    message.error_code = receipt.error_code or message.error_code
    fields = ["status", "error_code", "updated_at"]
    if new in FINAL_STATUSES:
        message.final_at = now
        fields.append("final_at")
    if new == Status.FAILED:
        message.failure_reason = failed_reason(receipt.error_code)
        fields.append("failure_reason")
    message.save(update_fields=fields)
    record_event(message, status=new, source="receipt", error_code=receipt.error_code)
    webhooks_out.emit(message.sub_account_id, "message.status", webhooks_out.message_data(message))
    # R1 before R8: the contact's lock, then the counters' — the order an opt-out takes them in.
    if new == Status.UNDELIVERED and receipt.error_code:
        ledger.dnd_from_error_code(message=message, error_code=receipt.error_code)
    # R8: counted in this transaction, so a receipt applied once is counted once.
    monitoring.count_final(
        sub_account_id=message.sub_account_id, source=message.source, status=new, error_code=receipt.error_code, now=now
    )


def failed_reason(code: str) -> str:
    """What the user reads on a message the carrier reported `failed`: the code's meaning and what
    to do (the one table, `compliance.carrier_codes`)."""
    entry = carrier_codes.describe(code)
    if entry is None:
        return "The carrier reported a failure without a code."
    return f"The carrier reported a failure: {entry.meaning} (code {entry.code}). {entry.action}"


def provider_rejected(message: Message, *, code: str, reason: str) -> bool:
    """The provider refused the send (e.g. 21211, 21610): failed with its code and reason; its
    ramp capacity goes back (it never reached the carrier)."""
    failed = messages_fail(
        Message.objects.filter(pk=message.pk, status=Status.SENDING),
        reason=f"Rejected by the carrier ({code}): {reason}", source="dispatch", error_code=code,
    )  # fmt: skip
    if failed:  # 21610 on send: unsubscribed at the carrier (R1, R3)
        ledger.dnd_from_error_code(message=message, error_code=code)
    return bool(failed)
