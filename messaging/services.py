"""Work that spans several models or the outside world. Every send of every source goes
through `messages_send`: it asks compliance for a decision per recipient, writes the Message
rows (queued, or failed with the reason) in one transaction, and enqueues dispatch on commit,
in batches."""

import functools
import uuid

from django.db import transaction
from django.utils import timezone

from accounts.models import SubAccount
from compliance import limits, registration, rules, suspensions
from compliance.policy import get_policy
from messaging import copy, sms
from messaging.dispatch import dispatch_due_soon, lane_of
from messaging.models import Contact, Direction, Message, MessageEvent, PhoneNumber, Source, Status
from messaging.transitions import EVENT_FIELDS


class MessagingError(Exception):
    """A request this app refuses, with a sentence to show the user."""


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
    if sms.too_long(body):  # Twilio error 21617: refused before any row is written
        raise MessagingError(sms.too_long(body))
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
        for pk, dnd, consent in Contact.objects.filter(pk__any=ids).values_list("pk", "dnd", "consent")
    }
    texted_before = already_texted(ids)
    # R8: a temporary suspension in force refuses bulk, workflow and campaign messages.
    # A scheduled message is judged at its send time (and re-checked at dispatch either way).
    at = max(now, send_after) if send_after else now
    suspension = suspensions.suspension_in_force(sub_account.pk, at)
    # Issue 17: bulk, campaign and workflow texts from an unregistered US number are refused.
    registered = registration.send_decision(sub_account_id=sub_account.pk, source=source, numbers=pool)
    decisions = []
    for i, contact in enumerate(contacts):
        dnd, consent = states[contact.pk]
        if not from_number:
            decisions.append(rules.Decision.refuse(rules.NO_NUMBER))
            continue
        decision = suspensions.suspension_decision(suspension, source)
        if decision.allowed:
            decision = registered[pool[i % len(pool)]]
        if decision.allowed:
            decision = rules.check_recipient(source=source, dnd=dnd, consent=consent, policy=policy)
        decisions.append(decision)
    # The rows are built before any lock is taken (composing them is most of the work), so the
    # ramp row — which every send of the sub-account needs — is held only while they are stored.
    compose = _composer(sub_account, body, source, policy)
    texts = [compose(c, c.pk not in texted_before) for c in contacts]
    messages = _new_messages(
        contacts, decisions, texts, pool, now,
        sub_account=sub_account, source=source, body=body, batch=batch, user=user, send_after=send_after,
        bulk_send=bulk_send, hold=hold,
    )  # fmt: skip
    # The composed body (merge fields, R5/R6 texts) is what the provider counts: over its
    # limit a single send is refused outright (the text is kept by the caller); in a bulk or
    # workflow send only those recipients' messages fail, with the reason.
    for m in messages:
        problem = sms.too_long_as_sent(m.body_sent)
        if problem and len(messages) == 1:
            raise MessagingError(problem)
        if problem and m.status == Status.QUEUED:
            m.status, m.failure_reason, m.final_at, m.hold = Status.FAILED, problem, now, None
    with transaction.atomic():
        # Contacts first, then the ramp row: the order an opt-out takes them in (contact, its
        # pending messages, the ramp), so a send and a STOP for the same contact cannot deadlock.
        _touch_conversations(messages, now)
        # R7: reserve ramp capacity in the same transaction as the rows (keyword replies are
        # compliance messages and exempt). What does not fit is failed with the reason. A
        # message scheduled for later counts in the window it is sent in: dispatch reserves it.
        counted = source not in policy.COMPLIANCE_SOURCES
        deferred = send_after is not None and send_after > now
        allowed = [m for m in messages if m.status == Status.QUEUED]
        if allowed and counted and not deferred:
            granted, window, sentence = limits.ramp_reserve(sub_account_id=sub_account.pk, wanted=len(allowed), now=now)
            for m in allowed[:granted]:
                m.ramp_window = window
            if allowed[granted:]:
                reason = limits.ramp_refusal(source=source, wanted=len(allowed), sentence=ramp_sentence or sentence)
                for m in allowed[granted:]:
                    m.status, m.failure_reason, m.final_at, m.hold = Status.FAILED, reason, now, None
        copy.insert_objects(messages)
        copy.insert(
            MessageEvent,
            EVENT_FIELDS,
            [(m.pk, sub_account.pk, m.status, "", m.failure_reason, "app", now) for m in messages],
        )
        for m in messages:
            m._state.adding = False  # stored: a later save() updates the row
        if any(m.status == Status.QUEUED for m in messages) and (send_after is None or send_after <= now):
            transaction.on_commit(lambda: dispatch_due_soon(lane_of(source)))
    return messages


_MESSAGE_FIELDS = [f.attname for f in Message._meta.concrete_fields]


def _new_messages(contacts, decisions, texts, pool, now, *, sub_account, source, body, batch, user, send_after,
                  bulk_send, hold) -> list[Message]:  # fmt: skip
    """The unsaved outbound rows, built from positional values: Django's keyword path (defaults,
    related-object descriptors for every key) was a quarter of a Bulk SMS's CPU. The related
    objects the caller passed are cached on each message, as the keyword path does."""
    common = {f.attname: f.get_default() for f in Message._meta.concrete_fields if f.attname != "id"}
    common.update(
        sub_account_id=sub_account.pk, created_at=now, updated_at=now, direction=Direction.OUTBOUND, source=source,
        body=body, batch=batch, created_by_id=getattr(user, "pk", None), send_after=send_after,
        bulk_send_id=getattr(bulk_send, "pk", None),
    )  # fmt: skip
    related = {"sub_account": sub_account, "created_by": user, "bulk_send": bulk_send}
    messages = []
    for i, (contact, decision, text) in enumerate(zip(contacts, decisions, texts, strict=True)):
        row = dict(common, id=uuid.uuid4(), contact_id=contact.pk, body_sent=text, from_number=pool[i % len(pool)],
                   to_number=contact.phone)  # fmt: skip
        if decision.allowed:
            row.update(status=Status.QUEUED, hold_id=getattr(hold, "pk", None))
        else:
            row.update(status=Status.FAILED, failure_reason=decision.reason, final_at=now)
        message = Message(*(row[name] for name in _MESSAGE_FIELDS))
        message._state.fields_cache.update(related, contact=contact, hold=hold if decision.allowed else None)
        messages.append(message)
    return messages


def already_texted(contact_ids) -> set:
    """Contacts that had an outbound SMS before (anything but a failed one): for them a
    message is a follow-up, not the initial message (R5, R6)."""
    found = set()
    for start in range(0, len(contact_ids), 5000):
        chunk = contact_ids[start : start + 5000]
        found |= set(
            Message.objects.filter(contact_id__any=chunk)
            .outbound()
            .not_failed()
            .values_list("contact_id", flat=True)
            .distinct()
        )
    return found


# What composing and writing a message reads of its contact (a Bulk SMS loads only these).
COMPOSE_FIELDS = ("id", "phone", "first_name", "last_name", "email", "has_texted_in")


def compose_for(sub_account, contact, body: str, source: str, is_initial: bool, policy) -> str:
    """Merge fields, then R5/R6 composition: exactly what the carrier gets."""
    return _composer(sub_account, body, source, policy)(contact, is_initial)


def _composer(sub_account, body: str, source: str, policy):
    """`compose_for` for many contacts of one send: R5/R6 composition is a pure function of the
    merged text and two flags, so it runs once per distinct text (once for a whole Bulk SMS
    without merge fields) instead of once per recipient."""

    @functools.cache
    def composed(merged: str, is_initial: bool, has_texted_in: bool) -> str:
        return rules.compose(
            merged, source=source, is_initial=is_initial, has_texted_in=has_texted_in,
            business_name=sub_account.business_name, opt_out_text=sub_account.opt_out_text,
            sender_text=sub_account.sender_text, policy=policy,
        )  # fmt: skip

    def compose(contact, is_initial: bool) -> str:
        values = {
            "first_name": contact.first_name, "last_name": contact.last_name, "full_name": contact.name,
            "phone": contact.phone, "email": contact.email, "business_name": sub_account.business_name,
        }  # fmt: skip
        return composed(rules.merge(body, values), is_initial, contact.has_texted_in)

    return compose


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


def _touch_conversations(messages, now):
    """Keep each thread's summary (latest activity, preview) current without scanning. The
    preview is the text as sent (merge fields filled, R5/R6 appended), never the template.
    One UPDATE per distinct preview and chunk of contacts: a send without merge fields is one
    statement per 5,000 contacts; with them, rows are grouped into CASE updates (bulk_update).
    In pk order, the same for every sender, so two sends to overlapping audiences cannot
    deadlock."""
    previews = {m.contact_id: (m.body_sent or m.body)[:120] for m in messages}
    ids = sorted(previews)
    distinct = set(previews.values())
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        if len(distinct) == 1:
            Contact.objects.filter(pk__any=chunk).update(last_message_at=now, last_message_preview=next(iter(distinct)))
            continue
        rows = [Contact(pk=pk, last_message_at=now, last_message_preview=previews[pk]) for pk in chunk]
        Contact.objects.bulk_update(rows, ["last_message_at", "last_message_preview"], batch_size=1000)
