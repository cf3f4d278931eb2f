"""SMS segment arithmetic (GSM 03.38 / 3GPP TS 23.038) and the provider's body limit: the one
constant and validator every form, the API and the send path use.

A text that uses only the GSM-7 alphabet is sent as 7-bit septets: 160 per single SMS, 153
per part once it is split (the user-data header takes the rest). The extension table's
characters (`€ [ ] { } ^ ~ | \\` and form feed) are sent as an escape plus the character, so
each counts twice. Any other character forces UCS-2 for the whole text: 70 per single SMS, 67
per part, counted in UTF-16 code units (an emoji outside the BMP takes two). Carriers never
split an escape pair or a surrogate pair across parts, so parts are packed greedily.
"""

from typing import NamedTuple

from django.core.exceptions import ValidationError

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

GSM7, UCS2 = "GSM-7", "UCS-2"
# encoding → (units in a single SMS, units per part of a concatenated SMS)
LIMITS = {GSM7: (160, 153), UCS2: (70, 67)}


class Segments(NamedTuple):
    encoding: str  # "GSM-7" or "UCS-2"
    chars: int  # septets (GSM-7) or UTF-16 code units (UCS-2): what the limits count
    segments: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def _units(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENDED else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def segments(text: str) -> Segments:
    """(encoding, chars, segments) of `text` as the carrier will count it."""
    text = text or ""
    encoding = GSM7 if is_gsm7(text) else UCS2
    units = _units(text, encoding)
    chars = sum(units)
    single, per_part = LIMITS[encoding]
    if chars == 0:
        return Segments(encoding, 0, 0)
    if chars <= single:
        return Segments(encoding, chars, 1)
    parts, used = 1, 0
    for unit in units:  # never split an escape pair or a surrogate pair across two parts
        if used + unit > per_part:
            parts, used = parts + 1, 0
        used += unit
    return Segments(encoding, chars, parts)


# The provider's limit for one (concatenated) message body: Twilio refuses longer ones with
# error 21617. It counts characters of the body as sent, so what R5/R6 append counts too.
MAX_BODY_CHARS = 1600


def too_long(text: str) -> str:
    """The sentence to show when `text` is over the provider's limit, else ""."""
    n = len(text or "")
    if n <= MAX_BODY_CHARS:
        return ""
    return (
        f"The message is {n:,} characters long; the phone provider accepts at most {MAX_BODY_CHARS:,}. "
        f"Shorten it by {n - MAX_BODY_CHARS:,} characters."
    )


def too_long_as_sent(text: str) -> str:
    """Same, for the composed body (opt-out or sender text appended)."""
    n = len(text or "")
    if n <= MAX_BODY_CHARS:
        return ""
    return (
        f"With the opt-out and sender text added, the message is {n:,} characters long; the phone "
        f"provider accepts at most {MAX_BODY_CHARS:,}. Shorten it by {n - MAX_BODY_CHARS:,} characters."
    )


def validate_length(text: str) -> None:
    """The form field validator of every body box."""
    problem = too_long(text)
    if problem:
        raise ValidationError(problem, code="too_long")
