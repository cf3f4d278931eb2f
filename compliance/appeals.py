"""R9: appeals against a permanent suspension, as services. The sub-account submits its proof of
opt-in; support staff ask for more (with the numbers they want proof for), approve — which lifts
the suspension — or reject with a reason the sub-account sees. The Appeal keeps who submitted and
who decided, when, and the latest request and answer; every step is also an append-only
AppealStep row (the audit export reads them). A suspension takes at most
MAX_APPEALS_PER_SUSPENSION."""

from django.db import transaction
from django.utils import timezone

from accounts.models import SubAccount
from compliance.errors import ComplianceError
from compliance.models import Appeal, AppealStep, ConsentEvent, Suspension
from compliance.policy import get_policy
from messaging.models import Contact
from messaging.phone import InvalidPhoneNumber, to_e164


def appealable(sub_account, now) -> tuple[Suspension | None, str]:
    """The permanent suspension in force that can be appealed now, or why not."""
    suspension = (
        Suspension.objects.in_force(now).filter(sub_account=sub_account, kind=Suspension.Kind.PERMANENT).first()
    )
    if suspension is None:
        return None, "Only a permanent suspension is appealed; a temporary one ends by itself."
    appeals = list(suspension.appeals.all())
    if any(a.is_open for a in appeals):
        return None, "An appeal of this suspension is already with support."
    limit = get_policy().MAX_APPEALS_PER_SUSPENSION
    if len(appeals) >= limit:
        return None, f"This suspension has had its {limit} appeals. Contact support."
    return suspension, ""


def appeal_submit(*, sub_account, user, data: dict, now=None) -> Appeal:
    """`data`: the form's cleaned data (both screenshots, collection URL, consent description,
    the activity-stopped confirmation, an optional use case)."""
    now = now or timezone.now()
    if not data.get("activity_stopped"):
        raise ComplianceError("Confirm that the activity causing the errors or opt-outs has stopped.")
    with transaction.atomic():
        # Serialises two submissions at once: the count of appeals is then exact.
        SubAccount.objects.select_for_update(no_key=True).filter(pk=sub_account.pk).first()
        suspension, refusal = appealable(sub_account, now)
        if suspension is None:
            raise ComplianceError(refusal)
        appeal = Appeal.objects.create(
            sub_account=sub_account, suspension=suspension, submitted_by=user,
            opt_in_screenshot=data["opt_in_screenshot"], checkbox_screenshot=data["checkbox_screenshot"],
            collection_url=data["collection_url"], consent_description=data["consent_description"],
            activity_stopped=True, use_case=data.get("use_case", ""),
        )  # fmt: skip
        _step(appeal, AppealStep.Kind.SUBMITTED, user=user, now=now, text=appeal.consent_description)
        return appeal


def parse_numbers(text: str) -> list[str]:
    """Numbers support asks proof for: one per line or comma-separated, any format; E.164 out.
    Raises ComplianceError naming the first one that is not a phone number."""
    numbers = []
    for raw in text.replace(",", "\n").splitlines():
        if raw.strip():
            try:
                numbers.append(to_e164(raw.strip()))
            except InvalidPhoneNumber:
                raise ComplianceError(f"“{raw.strip()}” is not a phone number.") from None
    return list(dict.fromkeys(numbers))


def _locked(appeal) -> Appeal:
    return Appeal.objects.select_for_update().get(pk=appeal.pk)


def _step(appeal, kind, *, user, now, text: str = "", numbers=()) -> AppealStep:
    """The append-only row of one step (R9), in the transaction that changes the appeal."""
    return AppealStep.objects.create(
        appeal=appeal, sub_account_id=appeal.sub_account_id, kind=kind, text=text, numbers=list(numbers),
        user=user, at=now,
    )  # fmt: skip


def appeal_request_info(*, appeal, user, message: str, numbers: list[str], now=None) -> None:
    """Support asks for more information, and proof of opt-in for `numbers` (may be empty)."""
    if not message.strip():
        raise ComplianceError("Say what information you need.")
    now = now or timezone.now()
    with transaction.atomic():
        _locked(appeal).request_info(message=message, numbers=numbers, now=now)
        _step(appeal, AppealStep.Kind.INFO_REQUESTED, user=user, now=now, text=message, numbers=numbers)
    appeal.refresh_from_db()


def appeal_respond(*, appeal, user, response: str, now=None) -> None:
    """The sub-account answers; the appeal goes back to support. Proof for the requested numbers
    is their consent ledger (R10): recorded on each contact's page, shown to support from there."""
    if not response.strip():
        raise ComplianceError("Write your answer to support's request.")
    now = now or timezone.now()
    with transaction.atomic():
        _locked(appeal).respond(response=response, now=now)
        _step(appeal, AppealStep.Kind.ANSWERED, user=user, now=now, text=response)
    appeal.refresh_from_db()


def appeal_decide(*, appeal, user, approve: bool, note: str, now=None) -> None:
    """Approve: the suspension is lifted (recorded on it, by whom and why). Reject: with a
    reason the sub-account sees; it may appeal again while under the limit."""
    now = now or timezone.now()
    if not approve and not note.strip():
        raise ComplianceError("Give the reason for the rejection: the sub-account will read it.")
    with transaction.atomic():
        locked = _locked(appeal)
        locked.decide(approve=approve, note=note.strip(), user=user, now=now)
        kind = AppealStep.Kind.APPROVED if approve else AppealStep.Kind.REJECTED
        _step(locked, kind, user=user, now=now, text=note.strip())
        if approve:
            suspension = Suspension.objects.select_for_update().get(pk=locked.suspension_id)
            if suspension.lifted_at is None:
                suspension.lift(user=user, note=f"Appeal approved by support ({user.email})", now=now)
    appeal.refresh_from_db()


def proof_for(appeal) -> list[tuple[str, object, list]]:
    """For each number support asked about: (number, the contact or None, its opt-in records)."""
    numbers = list(appeal.numbers_requested or [])
    contacts = {c.phone: c for c in Contact.objects.filter(sub_account_id=appeal.sub_account_id, phone__in=numbers)}
    events: dict = {}
    for event in ConsentEvent.objects.filter(contact__in=contacts.values(), kind=ConsentEvent.Kind.OPT_IN).order_by(
        "at"
    ):
        events.setdefault(event.contact_id, []).append(event)
    return [(n, contacts.get(n), events.get(contacts[n].pk, []) if n in contacts else []) for n in numbers]
