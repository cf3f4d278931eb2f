"""Texts and calls that come in: an inbound text lands in the contact's conversation (and its
keywords are handled, R3/R4); an unanswered call triggers the missed-call text back."""

import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from messaging import webhooks_out
from messaging.automations import triggers as automations
from messaging.contacts import contact_get_or_create
from messaging.keywords import keyword_handle
from messaging.models import Contact, Direction, Message, PhoneNumber, Source, Status
from messaging.services import messages_send
from messaging.transitions import record_event

log = logging.getLogger(__name__)


def inbound_receive(*, sid: str, from_: str, to: str, body: str, opt_out_type: str = "") -> Message | None:
    """An inbound text: lands in the contact's conversation (the contact is created if
    unknown). Idempotent on the provider's id. Unknown `To` numbers are logged and ignored."""
    number = PhoneNumber.objects.select_related("sub_account").filter(number=to).first()
    if number is None:
        log.warning("inbound text to unknown number %s (sid %s)", to, sid)
        return None
    existing = Message.objects.filter(provider_sid=sid).first() if sid else None
    if existing:
        return existing
    try:
        contact, _ = contact_get_or_create(sub_account=number.sub_account, phone=from_)
    except ValueError:
        log.warning("inbound text from unparseable number %r (sid %s)", from_, sid)
        return None
    now = timezone.now()
    try:
        with transaction.atomic():
            message = Message.objects.create(
                sub_account=number.sub_account,
                contact=contact,
                direction=Direction.INBOUND,
                source=Source.INBOUND,
                status=Status.RECEIVED,
                body=body,
                body_sent=body,
                from_number=contact.phone,
                to_number=to,
                provider_sid=sid or None,
                final_at=now,
            )
            record_event(message, status=Status.RECEIVED, source="inbound")
            webhooks_out.emit(
                message.sub_account_id, "message.inbound", {**webhooks_out.message_data(message), "body": body}
            )
            Contact.objects.filter(pk=contact.pk).update(
                last_message_at=now,
                last_message_preview=body[:120],
                unread_count=F("unread_count") + 1,
                has_texted_in=True,
            )
            # In the same transaction as storing the text: once a STOP is stored, every
            # pending message to the contact is already failed (R3).
            keyword = keyword_handle(message=message, opt_out_type=opt_out_type)
            automations.inbound_text(message=message, keyword=keyword)  # keyword-triggered workflows
    except IntegrityError:  # the same webhook twice, concurrently
        return Message.objects.get(provider_sid=sid)
    return message


MISSED_CALL_STATUSES = {"no-answer", "busy"}


def missed_call_handle(*, call_sid: str, from_: str, to: str, status: str) -> Message | None:
    """A call to one of our numbers ended unanswered: text back, if the sub-account wants it.
    Idempotent on the call id."""
    if status not in MISSED_CALL_STATUSES:
        return None
    number = PhoneNumber.objects.select_related("sub_account").filter(number=to).first()
    if number is None:
        return None
    try:
        contact, _ = contact_get_or_create(sub_account=number.sub_account, phone=from_)
    except ValueError:
        return None
    automations.missed_call(contact=contact, call_sid=call_sid)  # workflows; once per call
    if not number.sub_account.missed_call_text_back:
        return None
    batch = f"call:{call_sid}"[:40]
    texted = Message.objects.filter(sub_account=number.sub_account, source=Source.MISSED_CALL_TEXT_BACK, batch=batch)
    if texted.exists():
        return None
    sub = number.sub_account
    return messages_send(
        sub_account=sub,
        contacts=[contact],
        body=sub.missed_call_text_back_body,
        source=Source.MISSED_CALL_TEXT_BACK,
        batch=batch,
    )[0]
