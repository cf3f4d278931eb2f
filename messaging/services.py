"""Work that spans several models or the outside world. Every send of every source goes
through `messages_send`: it asks compliance for a decision per recipient, writes the Message
rows (queued, or failed with the reason) in one transaction, and enqueues dispatch on commit,
in batches."""

import logging
import uuid

import django_rq
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import SubAccount
from compliance import monitoring, ramp, rules
from compliance import services as compliance_services
from compliance.models import ConsentEvent
from compliance.policy import get_policy
from messaging.models import (
    Consent,
    Contact,
    Direction,
    Dnd,
    Message,
    MessageEvent,
    PhoneNumber,
    Source,
    Status,
    Tag,
)
from messaging.phone import to_e164

log = logging.getLogger(__name__)


class MessagingError(Exception):
    """A request this app refuses, with a sentence to show the user."""


# --- Contacts -------------------------------------------------------------------------------


def contact_get_or_create(*, sub_account: SubAccount, phone: str, **fields) -> tuple[Contact, bool]:
    """Find a contact by number (any format `phonenumbers` parses) or create it. Raises
    InvalidPhoneNumber for input that is not a valid number."""
    e164 = to_e164(phone)
    try:
        with transaction.atomic():
            contact, created = Contact.objects.get_or_create(sub_account=sub_account, phone=e164, defaults=fields)
    except IntegrityError:  # created concurrently by another request
        contact, created = Contact.objects.get(sub_account=sub_account, phone=e164), False
    return contact, created


def contact_set_tags(*, contact: Contact, names) -> None:
    names = sorted({n.strip()[:50] for n in names if n and n.strip()})
    tags = [Tag.objects.get_or_create(sub_account_id=contact.sub_account_id, name=n)[0] for n in names]
    contact.tags.set(tags)


OPTED_OUT_BY_TEXT = (
    "This contact opted out by text message (permanent DND): only they can opt back in, by texting START."
)


def consent_record_opt_in(
    *, contact: Contact, source: str, at, ip_or_method: str = "", url: str = "", consent_text: str = "", user=None
) -> ConsentEvent:
    """R10: append an opt-in with its proof fields and mark the contact as consented. A contact
    who opted out by text can only opt back in by text (R2, R4): that is refused here."""
    if Contact.objects.filter(pk=contact.pk, dnd=Dnd.PERMANENT, consent=Consent.REVOKED).exists():
        raise MessagingError(OPTED_OUT_BY_TEXT)
    with transaction.atomic():
        event = ConsentEvent.objects.create(
            sub_account_id=contact.sub_account_id,
            contact=contact,
            kind=ConsentEvent.Kind.OPT_IN,
            source=source or "unspecified",
            at=at,
            ip_or_method=ip_or_method,
            url=url,
            consent_text=consent_text,
            recorded_by=user,
        )
        Contact.objects.filter(pk=contact.pk).update(consent=Consent.GRANTED)
        contact.consent = Consent.GRANTED
    return event


# --- Sending --------------------------------------------------------------------------------


def sending_number(sub_account: SubAccount) -> str:
    number = PhoneNumber.objects.filter(sub_account=sub_account).values_list("number", flat=True).first()
    return number or ""


def messages_send(
    *,
    sub_account: SubAccount,
    contacts,
    body: str,
    source: str,
    user=None,
    send_after=None,
    batch: str = "",
    bulk_send=None,
    hold=None,
    from_numbers: list[str] | None = None,
    ramp_sentence: str = "",
) -> list[Message]:
    """Create one outbound message per contact: `queued` when the rules allow it, else `failed`
    with the reason. Dispatch is enqueued after commit. Returns the messages in order.
    `ramp_sentence`: the R7 sentence the user confirmed, for a bulk send split over several
    calls, so every message failed over the limit carries the sentence they saw."""
    if source not in Source.values or source == Source.INBOUND:
        raise MessagingError(f"Unknown message source {source!r}.")
    body = (body or "").strip()
    if not body:
        raise MessagingError("The message is empty.")
    policy = get_policy()
    now = timezone.now()
    # One number, or (bulk) a rotation over the given numbers of this sub-account.
    pool = list(from_numbers or []) or [sending_number(sub_account)]
    from_number = pool[0]
    contacts = list(contacts)
    # Decide on the stored state, not on whatever copy the caller holds (DND may have changed).
    ids = [c.pk for c in contacts]
    states = {
        pk: (dnd, consent)
        for pk, dnd, consent in Contact.objects.filter(pk__in=ids).values_list("pk", "dnd", "consent")
    }
    texted_before = already_texted(ids)
    # R8: a temporary suspension in force refuses bulk, workflow and campaign messages.
    # A scheduled message is judged at its send time (and re-checked at dispatch either way).
    at = max(now, send_after) if send_after else now
    suspension = monitoring.suspension_in_force(sub_account.pk, at)
    decisions = []
    for contact in contacts:
        dnd, consent = states[contact.pk]
        if not from_number:
            decisions.append(rules.Decision.refuse(rules.NO_NUMBER))
            continue
        decision = monitoring.suspension_decision(suspension, source)
        if decision.allowed:
            decision = rules.check_recipient(source=source, dnd=dnd, consent=consent, policy=policy)
        decisions.append(decision)
    with transaction.atomic():
        # Contacts first, then the ramp row: the order an opt-out takes them in (contact, its
        # pending messages, the ramp), so a send and a STOP for the same contact cannot deadlock.
        _touch_conversations(ids, body, now)
        # R7: reserve ramp capacity in the same transaction as the rows (keyword replies are
        # compliance messages and exempt). What does not fit is failed with the reason. A
        # message scheduled for later counts in the window it is sent in: dispatch reserves it.
        window, ramp_reason = None, ""
        counted = source not in policy.COMPLIANCE_SOURCES
        deferred = send_after is not None and send_after > now
        wanted = sum(1 for d in decisions if d.allowed) if counted and not deferred else 0
        if wanted:
            granted, window, sentence = compliance_services.ramp_reserve(
                sub_account_id=sub_account.pk, wanted=wanted, now=now
            )
            ramp_reason = ramp_refusal(source=source, wanted=wanted, sentence=ramp_sentence or sentence)
            allowed_seen = 0
            for i, d in enumerate(decisions):
                if d.allowed:
                    allowed_seen += 1
                    if allowed_seen > granted:
                        decisions[i] = rules.Decision.refuse(ramp_reason)
        messages = [
            Message(
                sub_account=sub_account,
                contact=contact,
                direction=Direction.OUTBOUND,
                source=source,
                status=Status.QUEUED if decision.allowed else Status.FAILED,
                failure_reason=decision.reason,
                body=body,
                body_sent=compose_for(sub_account, contact, body, source, contact.pk not in texted_before, policy),
                from_number=pool[i % len(pool)],
                to_number=contact.phone,
                batch=batch,
                created_by=user,
                send_after=send_after,
                final_at=None if decision.allowed else now,
                ramp_window=window if decision.allowed and counted else None,
                bulk_send=bulk_send,
                hold=hold if decision.allowed else None,
            )
            for i, (contact, decision) in enumerate(zip(contacts, decisions, strict=True))
        ]
        Message.objects.bulk_create(messages, batch_size=1000)
        MessageEvent.objects.bulk_create(
            [
                MessageEvent(message=m, sub_account=sub_account, status=m.status, detail=m.failure_reason, source="app")
                for m in messages
            ],
            batch_size=1000,
        )
        queued_ids = [str(m.pk) for m in messages if m.status == Status.QUEUED]
        if queued_ids and (send_after is None or send_after <= now):
            transaction.on_commit(lambda: enqueue_dispatch(queued_ids))
    return messages


def ramp_refusal(*, source: str, wanted: int, sentence: str) -> str:
    """R7's words for a message over the limit: one-to-one (and any single message that is not
    bulk) `You have exceeded your SMS sending limit.`; bulk the sentence shown before it."""
    single = wanted == 1 and source != Source.BULK
    return ramp.EXCEEDED if single or not sentence else sentence


def already_texted(contact_ids) -> set:
    """Contacts that had an outbound SMS before (anything but a failed one): for them a
    message is a follow-up, not the initial message (R5, R6)."""
    found = set()
    for start in range(0, len(contact_ids), 5000):
        chunk = contact_ids[start : start + 5000]
        found |= set(
            Message.objects.filter(contact_id__in=chunk, direction=Direction.OUTBOUND)
            .exclude(status=Status.FAILED)
            .values_list("contact_id", flat=True)
            .distinct()
        )
    return found


def compose_for(sub_account, contact, body: str, source: str, is_initial: bool, policy) -> str:
    """Merge fields, then R5/R6 composition: exactly what the carrier gets."""
    values = {
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "full_name": contact.name,
        "phone": contact.phone,
        "email": contact.email,
        "business_name": sub_account.business_name,
    }
    return rules.compose(
        rules.merge(body, values),
        source=source,
        is_initial=is_initial,
        has_texted_in=contact.has_texted_in,
        business_name=sub_account.business_name,
        opt_out_text=sub_account.opt_out_text,
        sender_text=sub_account.sender_text,
        policy=policy,
    )


def message_send_one(*, sub_account: SubAccount, contact: Contact, body: str, source: str, user=None) -> Message:
    return messages_send(sub_account=sub_account, contacts=[contact], body=body, source=source, user=user)[0]


def message_resend(*, message: Message, user=None) -> Message:
    """A failed or undelivered message, sent again as a new message (source `resend`)."""
    if message.direction != Direction.OUTBOUND or message.status not in (Status.FAILED, Status.UNDELIVERED):
        raise MessagingError("Only failed or undelivered messages can be resent.")
    contact = Contact.objects.get(pk=message.contact_id)
    return message_send_one(
        sub_account=message.sub_account, contact=contact, body=message.body, source=Source.RESEND, user=user
    )


def _touch_conversations(contact_ids, body: str, now):
    """Keep each thread's summary (latest activity, preview) current without scanning. One
    send call has one body, so one UPDATE per chunk of contacts, not one per contact (in pk
    order, the same for every sender, so two sends to overlapping audiences cannot deadlock)."""
    ids = sorted(set(contact_ids))
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        Contact.objects.filter(pk__in=chunk).update(last_message_at=now, last_message_preview=body[:120])


def enqueue_dispatch(message_ids: list[str]) -> None:
    """Batches of SMS_DISPATCH_BATCH ids per RQ job: one job per message caps out near 100
    messages/s per worker."""
    from redis.exceptions import RedisError

    from messaging.dispatch import dispatch_batch

    queue = django_rq.get_queue("dispatch")
    size = settings.SMS_DISPATCH_BATCH
    for start in range(0, len(message_ids), size):
        try:
            queue.enqueue(dispatch_batch, message_ids[start : start + size], job_timeout=900)
        except RedisError as exc:
            # Any Redis failure (down, timeout, out of memory). Called on commit: the rows are
            # already `queued`, so raising here would answer a 5xx for a send that happened, and
            # the client's retry would send it twice. The sweep enqueues queued rows whose job
            # never came (dispatch.sweep, within about 10 minutes), so this only delays them.
            log.warning(
                "dispatch of %d queued message(s) not enqueued (%s: %s); the sweep will pick them up",
                len(message_ids) - start, type(exc).__name__, exc,
            )  # fmt: skip
            return


# --- Receipts and inbound -------------------------------------------------------------------


def record_event(message: Message, *, status: str, source: str, error_code: str = "", detail: str = ""):
    MessageEvent.objects.create(
        message=message,
        sub_account_id=message.sub_account_id,
        status=status,
        error_code=error_code,
        detail=detail[:300],
        source=source,
    )


def new_batch_id() -> str:
    return uuid.uuid4().hex


def contact_mark_read(contact: Contact) -> None:
    Contact.objects.filter(pk=contact.pk, unread_count__gt=0).update(unread_count=0)


def contact_unread_increment(contact_id) -> None:
    Contact.objects.filter(pk=contact_id).update(unread_count=F("unread_count") + 1)


# Twilio's statuses → ours. queued/accepted/sending are the provider's own queueing: no change.
RECEIPT_STATUS = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
}
FINAL = {Status.DELIVERED, Status.UNDELIVERED, Status.FAILED}


def provider_rejected(message: Message, *, code: str, reason: str) -> None:
    """The provider refused the send (e.g. 21211, 21610): failed with its code and reason."""
    from messaging.dispatch import fail

    if fail(message, f"Rejected by the carrier ({code}): {reason}", error_code=code):
        _on_carrier_error(message, code)  # 21610 on send: unsubscribed at the carrier (R1, R3)


def receipt_store(*, sid: str, status: str, error_code: str = "", payload: dict | None = None) -> bool:
    """Store a status receipt (idempotent: the same receipt twice is stored once)."""
    from messaging.models import ReceiptEvent

    try:
        with transaction.atomic():
            ReceiptEvent.objects.create(provider_sid=sid, status=status, error_code=error_code, payload=payload or {})
        return True
    except IntegrityError:
        return False


def receipts_apply_pending(sid: str) -> int:
    """Apply every stored, not yet applied receipt of this sid, oldest first. A final status
    never goes back to `sent`; a receipt for a sid we do not know yet waits here."""
    from messaging.models import ReceiptEvent

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


def _apply_receipt(message: Message, receipt, now) -> None:
    new = RECEIPT_STATUS.get(receipt.status)
    if new is None or message.status in FINAL:
        record_event(message, status=message.status, source="receipt", error_code=receipt.error_code,
                     detail=f"receipt {receipt.status} ignored (message is {message.status})")  # fmt: skip
        return
    if new == Status.SENT and message.status == Status.SENT:
        record_event(message, status=Status.SENT, source="receipt")
        return
    message.status = new
    message.error_code = receipt.error_code or message.error_code
    fields = ["status", "error_code", "updated_at"]
    if new in FINAL:
        message.final_at = now
        fields.append("final_at")
    if new == Status.FAILED:
        message.failure_reason = f"The carrier reported a failure ({receipt.error_code or 'no code'})."
        fields.append("failure_reason")
    message.save(update_fields=fields)
    record_event(message, status=new, source="receipt", error_code=receipt.error_code)
    # R1 before R8: the contact's lock, then the counters' — the order an opt-out takes them in.
    if new == Status.UNDELIVERED and receipt.error_code:
        _on_carrier_error(message, receipt.error_code)
    # R8: counted in this transaction, so a receipt applied once is counted once.
    monitoring.count_final(
        sub_account_id=message.sub_account_id, source=message.source, status=new, error_code=receipt.error_code, now=now
    )


def _on_carrier_error(message: Message, error_code: str) -> None:
    """R1: DND from the carrier's error code (the mapping is data in the policy object)."""
    compliance_services.dnd_from_error_code(message=message, error_code=error_code)


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
            Contact.objects.filter(pk=contact.pk).update(
                last_message_at=now,
                last_message_preview=body[:120],
                unread_count=F("unread_count") + 1,
                has_texted_in=True,
            )
            # In the same transaction as storing the text: once a STOP is stored, every
            # pending message to the contact is already failed (R3).
            compliance_services.handle_inbound(message=message, opt_out_type=opt_out_type)
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
    if number is None or not number.sub_account.missed_call_text_back:
        return None
    batch = f"call:{call_sid}"[:40]
    if Message.objects.filter(sub_account=number.sub_account, batch=batch).exists():
        return None
    try:
        contact, _ = contact_get_or_create(sub_account=number.sub_account, phone=from_)
    except ValueError:
        return None
    sub = number.sub_account
    return messages_send(
        sub_account=sub,
        contacts=[contact],
        body=sub.missed_call_text_back_body,
        source=Source.MISSED_CALL_TEXT_BACK,
        batch=batch,
    )[0]


# --- Contact import -------------------------------------------------------------------------

IMPORT_BATCH = 500


class ImportResult:
    """Counts of what an import wrote, and the rows it could write only in part."""

    def __init__(self):
        self.created = self.updated = self.consents = 0
        self.errors: list[tuple[int, str]] = []  # (row number, reason)


def contacts_import(*, sub_account: SubAccount, rows, user=None) -> ImportResult:
    """Write validated import rows (`messaging.imports`): create or update each contact by
    number, add its tags, record its opt-in (R10). One transaction per 500 rows, so a large
    file never holds a long transaction and a failure loses at most one batch."""
    result = ImportResult()
    for start in range(0, len(rows), IMPORT_BATCH):
        with transaction.atomic():
            _contacts_import_batch(sub_account, rows[start : start + IMPORT_BATCH], user, result)
    return result


def _contacts_import_batch(sub_account, rows, user, result) -> None:
    phones = [r.phone for r in rows]
    known = set(Contact.objects.filter(sub_account=sub_account, phone__in=phones).values_list("phone", flat=True))
    new = {r.phone: Contact(sub_account=sub_account, phone=r.phone, **r.fields) for r in rows if r.phone not in known}
    # A number created meanwhile by another request is skipped here and updated below.
    Contact.objects.bulk_create(new.values(), ignore_conflicts=True)
    contacts = {c.phone: c for c in Contact.objects.filter(sub_account=sub_account, phone__in=phones)}
    changed, columns = {}, set()
    for r in rows:
        contact = contacts[r.phone]
        if r.phone in new and new[r.phone].pk == contact.pk:
            result.created += 1
            continue
        result.updated += 1
        # Only the cells that have a value: an empty cell never erases what is on record.
        differ = [name for name, value in r.fields.items() if getattr(contact, name) != value]
        for name in differ:
            setattr(contact, name, r.fields[name])
        if differ:
            changed[contact.pk] = contact
            columns.update(differ)
    if changed:
        # Only the columns that changed: bulk_update builds one CASE WHEN per row and column in
        # Python (0.1–0.2 ms each), most of a re-import's time when all four are written.
        Contact.objects.bulk_update(changed.values(), sorted(columns))
    _contacts_import_tags(sub_account, rows, contacts)
    _contacts_import_consents(rows, contacts, user, result)


def _contacts_import_tags(sub_account, rows, contacts) -> None:
    """Tags are added, never removed: importing a list tagged "spring" keeps a contact's other tags."""
    names = {name for r in rows for name in r.tags}
    if not names:
        return
    Tag.objects.bulk_create([Tag(sub_account=sub_account, name=n) for n in names], ignore_conflicts=True)
    tag_ids = dict(Tag.objects.filter(sub_account=sub_account, name__in=names).values_list("name", "id"))
    through = Contact.tags.through
    links = [through(contact_id=contacts[r.phone].pk, tag_id=tag_ids[name]) for r in rows for name in r.tags]
    through.objects.bulk_create(links, ignore_conflicts=True)


def _contacts_import_consents(rows, contacts, user, result) -> None:
    """R10: one opt-in per row with consent columns, as `consent_record_opt_in` records it, but
    for the whole batch in at most four queries (a file of 50,000 rows one at a time was five a
    row). The same proof imported again is not appended a second time, so importing a file twice
    leaves the ledger as it was."""
    rows = [r for r in rows if r.consent]
    if not rows:
        return
    ids = [contacts[r.phone].pk for r in rows]
    on_record = set(
        ConsentEvent.objects.filter(contact_id__in=ids, kind=ConsentEvent.Kind.OPT_IN).values_list(
            "contact_id", "at", "source", "ip_or_method", "url"
        )
    )
    rows = [
        r for r in rows
        if (contacts[r.phone].pk, r.consent.at, r.consent.source, r.consent.ip_or_method, r.consent.url)
        not in on_record
    ]  # fmt: skip
    if not rows:
        return
    # R2, R4: a contact who opted out by text can only opt back in by text; the contact is
    # saved, the opt-in is not (the same check and sentence as `consent_record_opt_in`).
    opted_out = set(
        Contact.objects.filter(
            pk__in=[contacts[r.phone].pk for r in rows], dnd=Dnd.PERMANENT, consent=Consent.REVOKED
        ).values_list("pk", flat=True)
    )
    opted_out_error = f"Consent not recorded: {OPTED_OUT_BY_TEXT}"
    events = []
    for r in rows:
        contact, proof = contacts[r.phone], r.consent
        if contact.pk in opted_out:
            result.errors.append((r.row, opted_out_error))
            continue
        events.append(
            ConsentEvent(
                sub_account_id=contact.sub_account_id, contact=contact, kind=ConsentEvent.Kind.OPT_IN,
                source=proof.source or "unspecified", at=proof.at, ip_or_method=proof.ip_or_method, url=proof.url,
                recorded_by=user,
            )
        )  # fmt: skip
    if not events:
        return
    ConsentEvent.objects.bulk_create(events)
    result.consents += len(events)
    # The opt-out condition again in the UPDATE itself: a STOP committed since the check above
    # keeps its revoked consent (the ledger then reads opt-in at the proof's time, opt-out after).
    Contact.objects.filter(pk__in=[e.contact_id for e in events]).exclude(consent=Consent.GRANTED).exclude(
        dnd=Dnd.PERMANENT, consent=Consent.REVOKED
    ).update(consent=Consent.GRANTED)
