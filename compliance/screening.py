"""R11 as records: content screening of a bulk message (a prohibited term is a Violation) and
snowshoeing (the same body from more than SNOWSHOE_NUMBERS numbers in 24 h is a hold awaiting a
business justification). What happens to the held messages when support decides is
messaging's job (`messaging.holds`); the pure comparisons are in `compliance.content` and
`compliance.snowshoe`."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from compliance import snowshoe
from compliance.content import screen
from compliance.errors import ComplianceError
from compliance.models import SnowshoeHold, Violation
from compliance.policy import get_policy
from messaging.models import Message


def content_block(*, sub_account, body: str, user):
    """R11: screen a bulk message before it is sent. A prohibited term is recorded as a
    Violation and returned; the caller blocks the send and shows `match.matched`."""
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
    pairs = (
        Message.objects.filter(sub_account=sub_account, created_at__gte=now - timedelta(hours=24))
        .outbound()
        .not_failed()
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
    text = (text or "").strip()
    if not text:
        raise ComplianceError("Write the business justification for support to review.")
    with transaction.atomic():
        SnowshoeHold.objects.select_for_update().get(pk=hold.pk).justify(text=text, user=user, now=timezone.now())
    hold.refresh_from_db()
