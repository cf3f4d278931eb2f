"""DND (R1, R2), opt-out / opt-in / HELP keywords (R3, R4) and the consent ledger (R10): state
changes that span contacts, messages and their append-only histories."""

import logging

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from compliance import rules
from compliance.models import ConsentEvent, DndChange
from compliance.policy import get_policy

log = logging.getLogger(__name__)

STRENGTH = {"none": 0, "temporary": 1, "permanent": 2}


class ComplianceError(Exception):
    """A request the rules refuse, with a sentence to show the user."""


def _contact_locked(contact):
    from messaging.models import Contact

    return Contact.objects.select_for_update().get(pk=contact.pk)


def dnd_raise(*, contact, to_state: str, cause: str, detail: str, message=None, user=None) -> bool:
    """Raise DND to `to_state` (never lowers it: a temporary code does not weaken a permanent
    DND). Records the change. Returns True when the state changed."""
    with transaction.atomic():
        locked = _contact_locked(contact)
        if STRENGTH[to_state] <= STRENGTH[locked.dnd]:
            return False
        DndChange.objects.create(
            sub_account_id=locked.sub_account_id, contact=locked, from_state=locked.dnd, to_state=to_state,
            cause=cause, detail=detail[:200], message=message, user=user,
        )  # fmt: skip
        locked.dnd = to_state
        locked.save(update_fields=["dnd"])
    contact.dnd = to_state
    return True


def dnd_remove_temporary(*, contact, user) -> None:
    """R2: a user may lift a *temporary* DND from the contact page; permanent DND only the
    contact can lift, by texting an opt-in keyword (R4)."""
    with transaction.atomic():
        locked = _contact_locked(contact)
        if locked.dnd == "permanent":
            raise ComplianceError(
                "Permanent DND cannot be removed: the contact opted out or the carrier reported them "
                "unsubscribed. Only the contact can lift it, by texting START."
            )
        if locked.dnd == "none":
            raise ComplianceError("This contact has no DND to remove.")
        DndChange.objects.create(
            sub_account_id=locked.sub_account_id, contact=locked, from_state=locked.dnd, to_state="none",
            cause=DndChange.Cause.USER, detail=f"Temporary DND removed by {user.email}", user=user,
        )  # fmt: skip
        locked.dnd = "none"
        locked.save(update_fields=["dnd"])
    contact.dnd = "none"


def dnd_from_error_code(*, message, error_code: str) -> bool:
    """R1: a carrier error code on a receipt (or 21610 on a send) sets DND per the policy map."""
    remediation = get_policy().DND_BY_ERROR_CODE.get(str(error_code), "none")
    if remediation == "none":
        return False
    return dnd_raise(
        contact=message.contact, to_state=remediation, cause=DndChange.Cause.ERROR_CODE,
        detail=f"Carrier error {error_code}", message=message,
    )  # fmt: skip


def fail_pending_to(contact, reason: str) -> int:
    """Fail every message to the contact that has not been handed to the provider yet: queued,
    scheduled, or claimed by a dispatch run that has not reached it (R3)."""
    from messaging.models import Message, MessageEvent, Status

    now = timezone.now()
    pending = Message.objects.filter(contact=contact, direction="outbound").filter(
        Q(status=Status.QUEUED) | Q(status=Status.SENDING, handed_at__isnull=True)
    )
    # Locked: a dispatch run handing one of them off meanwhile waits for us, then finds it
    # failed; without the lock a row handed off between this read and the UPDATE would get a
    # false "failed" event and give back ramp capacity it used.
    rows = list(pending.select_for_update().values_list("pk", "ramp_window"))
    ids = [pk for pk, _ in rows]
    if not ids:
        return 0
    Message.objects.filter(pk__in=ids).update(status=Status.FAILED, failure_reason=reason, final_at=now)
    for window in {w for _, w in rows if w}:
        ramp_release(
            sub_account_id=contact.sub_account_id, window_start=window, count=sum(1 for _, w in rows if w == window)
        )
    MessageEvent.objects.bulk_create(
        MessageEvent(
            message_id=pk, sub_account_id=contact.sub_account_id, status=Status.FAILED, detail=reason, source="opt-out"
        )  # fmt: skip
        for pk in ids
    )
    return len(ids)


def handle_inbound(*, message, opt_out_type: str = "") -> rules.Keyword:
    """R3/R4/HELP for an inbound text just stored. `opt_out_type` is Twilio's OptOutType: when
    present, Twilio already replied for that keyword, so the app does not reply again."""
    policy = get_policy()
    keyword = rules.classify_inbound(message.body, policy)
    provider_kind = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}.get(opt_out_type.upper(), "")
    if provider_kind and keyword.kind != provider_kind:
        # The provider's keyword list decided it (it is the carrier-facing truth).
        keyword = rules.Keyword(provider_kind, "provider", opt_out_type.upper())
    provider_replied = bool(provider_kind)
    if keyword.kind == "opt_out":
        opt_out(message=message, keyword=keyword, provider_replied=provider_replied)
    elif keyword.kind == "opt_in":
        opt_in(message=message, keyword=keyword, provider_replied=provider_replied)
    elif keyword.kind == "help" and not provider_replied:
        _reply(message, policy.HELP_REPLY)
    return keyword


def opt_out(*, message, keyword: rules.Keyword, provider_replied: bool) -> None:
    """R3: consent revoked, permanent DND, every pending message to the contact failed — in one
    transaction — then exactly one confirmation (none if the provider sent its own, none to a
    contact already opted out)."""
    contact = message.contact
    detail = f"{keyword.matched!r} ({keyword.rule})"
    with transaction.atomic():
        locked = _contact_locked(contact)
        already = locked.dnd == "permanent" and locked.consent == "revoked"
        if not already:
            ConsentEvent.objects.create(
                sub_account_id=locked.sub_account_id, contact=locked, kind=ConsentEvent.Kind.OPT_OUT,
                source=f"Keyword {detail}", at=message.created_at, ip_or_method="SMS reply", message=message,
            )  # fmt: skip
            locked.consent = "revoked"
            locked.save(update_fields=["consent"])
        dnd_raise(contact=locked, to_state="permanent", cause=DndChange.Cause.KEYWORD, detail=detail, message=message)
        fail_pending_to(locked, rules.OPTED_OUT)
        if not already:  # R8: one opt-out, counted (and the rates evaluated) in this transaction
            from compliance import monitoring

            monitoring.count_opt_out(sub_account_id=locked.sub_account_id, now=timezone.now())
    contact.refresh_from_db()
    if not already and not provider_replied:
        _reply(message, get_policy().OPT_OUT_CONFIRMATION)


def opt_in(*, message, keyword: rules.Keyword, provider_replied: bool) -> None:
    """R4: lifts permanent (and temporary) DND and records a consent event. A contact that was
    never opted out is unaffected."""
    contact = message.contact
    with transaction.atomic():
        locked = _contact_locked(contact)
        if locked.dnd == "none" and locked.consent != "revoked":
            return
        if locked.dnd != "none":
            DndChange.objects.create(
                sub_account_id=locked.sub_account_id, contact=locked, from_state=locked.dnd, to_state="none",
                cause=DndChange.Cause.KEYWORD, detail=f"{keyword.matched!r} ({keyword.rule})", message=message,
            )  # fmt: skip
        ConsentEvent.objects.create(
            sub_account_id=locked.sub_account_id, contact=locked, kind=ConsentEvent.Kind.OPT_IN,
            source=f"Keyword {keyword.matched!r}", at=message.created_at, ip_or_method="SMS reply", message=message,
        )  # fmt: skip
        locked.dnd, locked.consent = "none", "granted"
        locked.save(update_fields=["dnd", "consent"])
    contact.refresh_from_db()
    if not provider_replied:
        _reply(message, get_policy().OPT_IN_CONFIRMATION)


def _reply(inbound, template: str):
    """Keyword replies are compliance messages (source keyword_reply): exempt from DND, ramp,
    suspension and quiet hours, but stored and dispatched like any other (R3)."""
    from messaging.services import message_send_one

    sub_account = inbound.sub_account
    body = template.format(business_name=sub_account.business_name)
    return message_send_one(sub_account=sub_account, contact=inbound.contact, body=body, source="keyword_reply")


# --- R7 ramp --------------------------------------------------------------------------------


def ramp_state_locked(sub_account_id):
    """The sub-account's ramp row, locked until the end of the caller's transaction, so two
    senders can never both take the last capacity."""
    from compliance.models import RampState

    RampState.objects.get_or_create(sub_account_id=sub_account_id)
    return RampState.objects.select_for_update().get(sub_account_id=sub_account_id)


def ramp_reserve(*, sub_account_id, wanted: int, now) -> tuple[int, object, str]:
    """Reserve up to `wanted` sends (call inside the transaction that writes the messages).
    Returns (granted, the window they belong to, the bulk sentence for the rest or "")."""
    from compliance import ramp

    policy = get_policy()
    state = ramp_state_locked(sub_account_id)
    before = state.as_ramp()
    sentence = ramp.bulk_sentence(before, wanted, now, policy)
    after, granted = ramp.reserve(before, wanted, now, policy)
    state.store(after)
    return granted, after.window_start, sentence


def ramp_release(*, sub_account_id, window_start, count: int) -> None:
    """Give back capacity for messages that failed before reaching the carrier."""
    from compliance import ramp

    if not window_start or count <= 0:
        return
    with transaction.atomic():
        state = ramp_state_locked(sub_account_id)
        state.store(ramp.release(state.as_ramp(), count, window_start, timezone.now(), get_policy()))


def ramp_card(sub_account, now):
    from compliance import ramp
    from compliance.models import RampState

    state = RampState.objects.filter(sub_account=sub_account).first() or RampState(sub_account=sub_account)
    return ramp.card(state.as_ramp(), now, get_policy())


def limit_request_decide(*, request, approve: bool, granted_limit: int | None, note: str, user) -> None:
    """Support approves (with the new limit, applied to the ramp at once) or rejects (with a
    reason the sub-account sees). Recorded on the request."""
    from compliance.models import LimitExtensionRequest

    with transaction.atomic():
        locked = LimitExtensionRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status != "pending":
            raise ComplianceError("This request was already decided.")
        locked.status = "approved" if approve else "rejected"
        locked.granted_limit = granted_limit if approve else None
        locked.decision_note, locked.decided_by, locked.decided_at = note, user, timezone.now()
        locked.save(update_fields=["status", "granted_limit", "decision_note", "decided_by", "decided_at"])
        if approve:
            state = ramp_state_locked(locked.sub_account_id)
            state.limit_extension = granted_limit
            state.save(update_fields=["limit_extension", "updated_at"])
    request.refresh_from_db()


# --- R11 content and snowshoeing ------------------------------------------------------------


def content_block(*, sub_account, body: str, user):
    """R11: screen a bulk message before it is sent. A prohibited term is recorded as a
    Violation and returned; the caller blocks the send and shows `match.matched`."""
    from compliance.content import screen
    from compliance.models import Violation

    match = screen(body or "", get_policy())
    if match:
        Violation.objects.create(
            sub_account=sub_account, kind=Violation.Kind.PROHIBITED_CONTENT,
            detail={"category": match.category, "term": match.term, "matched": match.matched, "body": body},
            action="Bulk send blocked before sending", user=user,
        )  # fmt: skip
    return match


def snowshoe_numbers(*, sub_account, body: str, from_numbers: list[str], now) -> list[str]:
    """R11: the sub-account's numbers that sent `body`, or a near-identical one, in the 24 h
    before `now` (outbound, anything but failed), plus the numbers the new send would use.
    Compared on Message.body, the template before merge fields. Keyword replies are compliance
    messages, identical by design, and do not count (R3)."""
    from datetime import timedelta

    from compliance import snowshoe
    from messaging.models import Direction, Message, Status

    pairs = (
        Message.objects.filter(
            sub_account=sub_account, direction=Direction.OUTBOUND, created_at__gte=now - timedelta(hours=24)
        )
        .exclude(status=Status.FAILED)
        .exclude(source__in=get_policy().COMPLIANCE_SOURCES)
        .exclude(from_number="")
        .order_by()  # the default ordering would defeat DISTINCT
        .values_list("body", "from_number")
        .distinct()
    )
    target = snowshoe.fingerprint(body)
    numbers = {n for n in from_numbers if n}
    alike: dict[str, bool] = {}  # each distinct body is fingerprinted and compared once
    for text, number in pairs.iterator():
        if number in numbers:
            continue
        if text not in alike:
            alike[text] = snowshoe.similar_fingerprints(target, snowshoe.fingerprint(text))
        if alike[text]:
            numbers.add(number)
    return sorted(numbers)


def snowshoe_hold_if_needed(*, sub_account, body: str, from_numbers: list[str], now, user):
    """R11: more than SNOWSHOE_NUMBERS numbers for this body in 24 h → a hold (awaiting the
    business justification) and a Violation. The caller passes the hold to `messages_send(...,
    hold=hold)`: the messages are queued but dispatch skips them until support accepts."""
    from compliance.models import SnowshoeHold, Violation

    numbers = snowshoe_numbers(sub_account=sub_account, body=body, from_numbers=from_numbers, now=now)
    if len(numbers) <= get_policy().SNOWSHOE_NUMBERS:
        return None
    with transaction.atomic():
        hold = SnowshoeHold.objects.create(sub_account=sub_account, body=body, numbers=numbers)
        Violation.objects.create(
            sub_account=sub_account, kind=Violation.Kind.SNOWSHOE, detail={"numbers": numbers, "body": body},
            action="Held until support accepts a business justification", user=user,
        )  # fmt: skip
    return hold


def snowshoe_justify(*, hold, text: str, user) -> None:
    """R11: an owner or agency admin explains the business reason; the hold goes to support."""
    from compliance.models import SnowshoeHold

    text = (text or "").strip()
    if not text:
        raise ComplianceError("Write the business justification for support to review.")
    with transaction.atomic():
        locked = SnowshoeHold.objects.select_for_update().get(pk=hold.pk)
        if locked.status != SnowshoeHold.Status.AWAITING_JUSTIFICATION:
            raise ComplianceError("This hold is not awaiting a justification.")
        locked.status = SnowshoeHold.Status.PENDING
        locked.justification, locked.submitted_by, locked.submitted_at = text, user, timezone.now()
        locked.save(update_fields=["status", "justification", "submitted_by", "submitted_at"])
    hold.refresh_from_db()


def snowshoe_decide(*, hold, accept: bool, note: str, user) -> int:
    """R11, support only: accept releases the held messages still queued (dispatched on
    commit; scheduled ones when due, by the sweep); reject fails them with the note as the
    reason and gives back their ramp capacity (R7). Recorded on the hold; a bulk send marked
    held goes back to sending (or scheduled), or is blocked. Returns how many messages were
    released or failed."""
    from compliance.models import SnowshoeHold
    from messaging.models import BulkSend, Message, MessageEvent, Status
    from messaging.services import enqueue_dispatch

    note = (note or "").strip()
    if not accept and not note:
        raise ComplianceError("Say why the justification is rejected, for the sub-account to read.")
    now = timezone.now()
    with transaction.atomic():
        locked = SnowshoeHold.objects.select_for_update().get(pk=hold.pk)
        if locked.status != SnowshoeHold.Status.PENDING:
            raise ComplianceError("Only a hold with a justification pending review can be decided.")
        locked.status = SnowshoeHold.Status.ACCEPTED if accept else SnowshoeHold.Status.REJECTED
        locked.decision_note, locked.decided_by, locked.decided_at = note, user, now
        locked.save(update_fields=["status", "decision_note", "decided_by", "decided_at"])
        # Locked, so an opt-out failing one of them meanwhile waits for us (and then skips it).
        rows = list(
            Message.objects.select_for_update()
            .filter(hold=locked, status=Status.QUEUED)
            .values_list("pk", "ramp_window", "send_after")
        )
        ids = [pk for pk, _, _ in rows]
        held_sends = list(
            BulkSend.objects.filter(messages__hold=locked, status=BulkSend.Status.HELD).values_list("pk", flat=True)
        )
        if accept:
            status, detail = Status.QUEUED, "Released: support accepted the snowshoeing justification"
            for start in range(0, len(ids), 500):
                Message.objects.filter(pk__in=ids[start : start + 500]).update(hold=None)
            due = [str(pk) for pk, _, send_after in rows if send_after is None or send_after <= now]
            if due:
                transaction.on_commit(lambda: enqueue_dispatch(due))
        else:
            status, detail = Status.FAILED, f"Held for snowshoeing and rejected by support: {note}"[:300]
            for start in range(0, len(ids), 500):
                Message.objects.filter(pk__in=ids[start : start + 500]).update(
                    status=Status.FAILED, failure_reason=detail, final_at=now
                )
            for window in {w for _, w, _ in rows if w}:
                ramp_release(
                    sub_account_id=locked.sub_account_id, window_start=window,
                    count=sum(1 for _, w, _ in rows if w == window),
                )  # fmt: skip
        MessageEvent.objects.bulk_create(
            (MessageEvent(message_id=pk, sub_account_id=locked.sub_account_id, status=status, detail=detail,
                          source="support") for pk in ids),
            batch_size=1000,
        )  # fmt: skip
        sends = BulkSend.objects.filter(pk__in=held_sends, status=BulkSend.Status.HELD)
        if accept:
            sends.filter(scheduled_for__gt=now).update(status=BulkSend.Status.SCHEDULED)
            sends.update(status=BulkSend.Status.SENDING)
        else:
            sends.update(status=BulkSend.Status.BLOCKED)
    hold.refresh_from_db()
    return len(ids)
