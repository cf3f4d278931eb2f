"""SMS segment arithmetic (GSM 03.38 / 3GPP TS 23.038): pure, no Django.

A text that uses only the GSM-7 alphabet is sent as 7-bit septets: 160 per single SMS, 153
per part once it is split (the user-data header takes the rest). The extension table's
characters (`€ [ ] { } ^ ~ | \\` and form feed) are sent as an escape plus the character, so
each counts twice. Any other character forces UCS-2 for the whole text: 70 per single SMS, 67
per part, counted in UTF-16 code units (an emoji outside the BMP takes two). Carriers never
split an escape pair or a surrogate pair across parts, so parts are packed greedily.
"""

from typing import NamedTuple

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
