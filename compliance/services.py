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
    rows = list(pending.values_list("pk", "ramp_window"))
    ids = [pk for pk, _ in rows]
    if not ids:
        return 0
    Message.objects.filter(pk__in=ids).filter(
        Q(status=Status.QUEUED) | Q(status=Status.SENDING, handed_at__isnull=True)
    ).update(status=Status.FAILED, failure_reason=reason, final_at=now)
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
