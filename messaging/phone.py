"""Phone numbers are parsed by `phonenumbers`, never by hand."""

import phonenumbers
from phonenumbers import timezone as pn_timezone

DEFAULT_REGION = "US"


class InvalidPhoneNumber(ValueError):
    pass


def to_e164(text: str, region: str = DEFAULT_REGION) -> str:
    """'(212) 555-0100' → '+12125550100'. Raises InvalidPhoneNumber with a sentence a user
    understands; never anything else."""
    text = (text or "").strip()
    if not text:
        raise InvalidPhoneNumber("Enter a phone number.")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneNumber(f"“{text}” is not a phone number.") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"“{text}” is not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def time_zones_of(e164: str) -> tuple[str, ...]:
    """The zone(s) a number maps to (R13); empty when unknown."""
    zones = pn_timezone.time_zones_for_number(phonenumbers.parse(e164))
    return tuple(z for z in zones if z != pn_timezone.UNKNOWN_TIMEZONE)


def pretty(e164: str) -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL)
    except phonenumbers.NumberParseException:
        return e164
