"""The contact's compliance ledgers: DND (R1, R2) and consent (R3, R4, R10). Each change updates
the contact's current state and appends its history row (DndChange, ConsentEvent) in one
transaction, under a lock on the contact row — the first lock of the documented order
(docs/ARCHITECTURE.md). Nothing here sends or fails a message: `messaging.keywords` does that
around these records."""

from django.db import transaction

from compliance import rules
from compliance.errors import ComplianceError
from compliance.models import ConsentEvent, DndChange
from compliance.policy import get_policy
from messaging.models import Consent, Contact, Dnd

# A weaker DND never replaces a stronger one: a temporary carrier code does not lift a STOP.
STRENGTH = {Dnd.NONE: 0, Dnd.TEMPORARY: 1, Dnd.PERMANENT: 2}

OPTED_OUT_BY_TEXT = (
    "This contact opted out by text message (permanent DND): only they can opt back in, by texting START."
)


def _contact_locked(contact) -> Contact:
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
        if locked.dnd == Dnd.PERMANENT:
            raise ComplianceError(
                "Permanent DND cannot be removed: the contact opted out or the carrier reported them "
                "unsubscribed. Only the contact can lift it, by texting START."
            )
        if locked.dnd == Dnd.NONE:
            raise ComplianceError("This contact has no DND to remove.")
        DndChange.objects.create(
            sub_account_id=locked.sub_account_id, contact=locked, from_state=locked.dnd, to_state=Dnd.NONE,
            cause=DndChange.Cause.USER, detail=f"Temporary DND removed by {user.email}", user=user,
        )  # fmt: skip
        locked.dnd = Dnd.NONE
        locked.save(update_fields=["dnd"])
    contact.dnd = Dnd.NONE


def dnd_from_error_code(*, message, error_code: str) -> bool:
    """R1: a carrier error code on a receipt (or 21610 on a send) sets DND per the policy map."""
    remediation = get_policy().DND_BY_ERROR_CODE.get(str(error_code), Dnd.NONE)
    if remediation == Dnd.NONE:
        return False
    return dnd_raise(
        contact=message.contact, to_state=remediation, cause=DndChange.Cause.ERROR_CODE,
        detail=f"Carrier error {error_code}", message=message,
    )  # fmt: skip


def opt_out_record(*, contact, message, keyword: rules.Keyword) -> bool:
    """R3, the ledger half: consent revoked and permanent DND, recorded. Call inside the
    transaction that also fails the contact's pending messages. Returns False when the contact
    had already opted out (then nothing new is recorded, counted or confirmed)."""
    detail = f"{keyword.matched!r} ({keyword.rule})"
    with transaction.atomic():
        locked = _contact_locked(contact)
        already = locked.dnd == Dnd.PERMANENT and locked.consent == Consent.REVOKED
        if not already:
            ConsentEvent.objects.create(
                sub_account_id=locked.sub_account_id, contact=locked, kind=ConsentEvent.Kind.OPT_OUT,
                source=f"Keyword {detail}", at=message.created_at, ip_or_method="SMS reply", message=message,
            )  # fmt: skip
            locked.consent = Consent.REVOKED
            locked.save(update_fields=["consent"])
        dnd_raise(contact=locked, to_state=Dnd.PERMANENT, cause=DndChange.Cause.KEYWORD, detail=detail, message=message)
    return not already


def opt_in_record(*, contact, message, keyword: rules.Keyword) -> bool:
    """R4: lifts permanent (and temporary) DND and records a consent event. A contact that was
    never opted out is unaffected: returns False, and nothing is confirmed."""
    with transaction.atomic():
        locked = _contact_locked(contact)
        if locked.dnd == Dnd.NONE and locked.consent != Consent.REVOKED:
            return False
        if locked.dnd != Dnd.NONE:
            DndChange.objects.create(
                sub_account_id=locked.sub_account_id, contact=locked, from_state=locked.dnd, to_state=Dnd.NONE,
                cause=DndChange.Cause.KEYWORD, detail=f"{keyword.matched!r} ({keyword.rule})", message=message,
            )  # fmt: skip
        ConsentEvent.objects.create(
            sub_account_id=locked.sub_account_id, contact=locked, kind=ConsentEvent.Kind.OPT_IN,
            source=f"Keyword {keyword.matched!r}", at=message.created_at, ip_or_method="SMS reply", message=message,
        )  # fmt: skip
        locked.dnd, locked.consent = Dnd.NONE, Consent.GRANTED
        locked.save(update_fields=["dnd", "consent"])
    return True


def consent_record_opt_in(
    *, contact, source: str, at, ip_or_method: str = "", url: str = "", consent_text: str = "", user=None
) -> ConsentEvent:
    """R10: append an opt-in with its proof fields and mark the contact as consented. A contact
    who opted out by text can only opt back in by text (R2, R4): that is refused here."""
    if Contact.objects.filter(pk=contact.pk, dnd=Dnd.PERMANENT, consent=Consent.REVOKED).exists():
        raise ComplianceError(OPTED_OUT_BY_TEXT)
    with transaction.atomic():
        event = ConsentEvent.objects.create(
            sub_account_id=contact.sub_account_id, contact=contact, kind=ConsentEvent.Kind.OPT_IN,
            source=source or "unspecified", at=at, ip_or_method=ip_or_method, url=url, consent_text=consent_text,
            recorded_by=user,
        )  # fmt: skip
        Contact.objects.filter(pk=contact.pk).update(consent=Consent.GRANTED)
        contact.consent = Consent.GRANTED
    return event
