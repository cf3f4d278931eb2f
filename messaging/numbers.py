"""A sub-account's phone numbers through the provider (R12): search, buy, release, import from
the provider account. A number is added only while `compliance.provisioning` allows it (not
while suspended, nor while restricted for repeated violations); the refusal is the reason the
user reads. The provider is called with no transaction open (a person waits on it, and a
transaction must never be held across a network call); the row is written once it answered.

Every number we buy or import has its webhooks set to ours: inbound texts to
`/webhooks/twilio/inbound`, call status changes to `/webhooks/twilio/voice-status`."""

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import SubAccount
from compliance import provisioning
from messaging.models import PhoneNumber
from messaging.phone import InvalidPhoneNumber, to_e164
from messaging.providers import (
    AvailableNumber,
    NumberError,
    NumberNotFound,
    NumberSearch,
    NumberWebhooks,
    OwnedNumber,
    get_provider,
)
from messaging.services import MessagingError

log = logging.getLogger(__name__)


def our_webhooks() -> NumberWebhooks:
    return NumberWebhooks(
        sms_url=settings.PUBLIC_BASE_URL + reverse("twilio_inbound"),
        voice_status_url=settings.PUBLIC_BASE_URL + reverse("twilio_voice_status"),
    )


def _refuse_if_not_allowed(sub_account: SubAccount) -> None:
    refusal = provisioning.provisioning_refusal(sub_account, timezone.now())  # R12
    if refusal:
        raise MessagingError(refusal)


def numbers_search(*, sub_account: SubAccount, query: NumberSearch) -> list[AvailableNumber]:
    """Numbers for sale, less any a sub-account here already has. Refused like a purchase: a
    search that can never be bought from is only a tease."""
    _refuse_if_not_allowed(sub_account)
    try:
        found = get_provider().search_numbers(query)
    except NumberError as exc:
        raise MessagingError(exc.reason) from exc
    ours = set(PhoneNumber.objects.filter(number__in=[n.number for n in found]).values_list("number", flat=True))
    return [n for n in found if n.number not in ours]


def number_buy(*, sub_account: SubAccount, number: str, user) -> PhoneNumber:
    """Buy `number` at the provider for the sub-account, its webhooks set to ours."""
    try:
        number = to_e164(number)
    except InvalidPhoneNumber as exc:
        raise MessagingError(str(exc)) from None
    _refuse_if_not_allowed(sub_account)
    if PhoneNumber.objects.filter(number=number).exists():
        raise MessagingError(f"{number} is already in use.")
    try:
        owned = get_provider().buy_number(number, webhooks=our_webhooks(), friendly_name=sub_account.name)
    except NumberError as exc:
        raise MessagingError(exc.reason) from exc
    log.info("number %s bought for %s by %s (%s)", number, sub_account.pk, getattr(user, "email", "?"), owned.sid)
    return _record(sub_account, owned)


def numbers_importable(*, sub_account: SubAccount) -> list[OwnedNumber]:
    """The provider account's numbers that no sub-account has yet. The account is the
    operator's, shared by every agency: a number any sub-account holds is never listed."""
    _refuse_if_not_allowed(sub_account)
    try:
        owned = get_provider().list_numbers()
    except NumberError as exc:
        raise MessagingError(exc.reason) from exc
    held = set(PhoneNumber.objects.filter(number__in=[n.number for n in owned]).values_list("number", flat=True))
    return [n for n in owned if n.number not in held]


def number_import(*, sub_account: SubAccount, sid: str, user) -> PhoneNumber:
    """Take a number of the provider account that no sub-account holds; its webhooks are set to
    ours (without them its texts would never reach us)."""
    _refuse_if_not_allowed(sub_account)
    listed = {n.sid: n for n in numbers_importable(sub_account=sub_account)}
    if sid not in listed:
        raise MessagingError("That number is not on the provider account, or another sub-account already has it.")
    try:
        owned = get_provider().configure_number(sid=sid, webhooks=our_webhooks())
    except NumberError as exc:
        raise MessagingError(exc.reason) from exc
    log.info("number %s imported into %s by %s", owned.number, sub_account.pk, getattr(user, "email", "?"))
    return _record(sub_account, owned)


def _record(sub_account: SubAccount, owned: OwnedNumber) -> PhoneNumber:
    try:
        with transaction.atomic():
            return PhoneNumber.objects.create(sub_account=sub_account, number=owned.number, provider_sid=owned.sid)
    except IntegrityError:
        # Another request recorded it between our check and the provider's answer.
        raise MessagingError(f"{owned.number} is already in use.") from None


def number_release(*, phone_number: PhoneNumber, user) -> None:
    """Give the number back to the provider and remove it from the sub-account. Releasing is
    never refused by R12 (it adds nothing). A number the provider no longer has (released in its
    console, or typed in by hand before provisioning went through the provider) is removed here
    too. Messages keep their from-number as text: their history stays as it was."""
    try:
        get_provider().release_number(number=phone_number.number, sid=phone_number.provider_sid)
    except NumberNotFound:
        log.info("number %s was not on the provider account; removing it here", phone_number.number)
    except NumberError as exc:
        raise MessagingError(exc.reason) from exc
    log.info("number %s released from %s by %s", phone_number.number, phone_number.sub_account_id,
             getattr(user, "email", "?"))  # fmt: skip
    phone_number.delete()
