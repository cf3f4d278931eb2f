"""The numbers a made-up carrier has for sale, for the simulator and the in-memory provider:
realistic local numbers of the area code asked for (valid for `phonenumbers`, in the right
country, placed where it says), never in the fictional 555 exchange the demo data types in, so a
bought number never clashes with one of those. The same search gives the same numbers, less
those `taken`; `contains` is placed in the number, letters read as on a phone keypad."""

import random

import phonenumbers

from messaging.providers.base import AvailableNumber, NumberSearch

KEYPAD = {
    letter: digit
    for digit, letters in {"2": "ABC", "3": "DEF", "4": "GHI", "5": "JKL", "6": "MNO", "7": "PQRS", "8": "TUV",
                           "9": "WXYZ"}.items()
    for letter in letters
}  # fmt: skip
# Searched when no area code is given.
AREA_CODES = {"US": ("212", "305", "415", "512", "646", "737"), "CA": ("416", "604")}
ATTEMPTS_PER_RESULT = 40


def _geocoder():
    """phonenumbers' geocoder, imported when a number search needs it: loading its data takes
    0.4 s of CPU, which every dispatch work-horse of the simulator or in-memory provider would
    otherwise pay (they import this module) and never use."""
    from phonenumbers import geocoder

    return geocoder


def keypad_digits(contains: str) -> str:
    return "".join(KEYPAD.get(ch.upper(), ch) for ch in contains if ch.isalnum())


def available(query: NumberSearch, *, taken: set[str], seed: str = "inventory") -> list[AvailableNumber]:
    digits = keypad_digits(query.contains)
    if len(digits) > 7:
        return []  # more than a local part holds: nothing matches (Twilio answers an empty list too)
    area_codes = (query.area_code,) if query.area_code else AREA_CODES.get(query.country, ())
    rng = random.Random(f"{seed}|{query.country}|{query.area_code}|{digits}")
    found: dict[str, AvailableNumber] = {}
    for _ in range(query.limit * ATTEMPTS_PER_RESULT):
        if len(found) >= query.limit:
            break
        local = [str(rng.randrange(10)) for _ in range(7)]
        if digits:
            at = rng.randrange(0, 8 - len(digits))
            local[at : at + len(digits)] = list(digits)
        exchange = "".join(local[:3])
        if exchange[0] in "01" or exchange[1:] == "11" or exchange == "555":
            continue  # not a dialable exchange (N11), or the fictional one
        number = "+1" + rng.choice(area_codes) + "".join(local)
        parsed = phonenumbers.parse(number)
        if number in taken or number in found or not phonenumbers.is_valid_number(parsed):
            continue
        if phonenumbers.region_code_for_number(parsed) != query.country:
            continue
        place = _geocoder().description_for_number(parsed, "en")
        locality, _, region = place.rpartition(", ")
        found[number] = AvailableNumber(number=number, locality=locality or place, region=region if locality else "")
    return sorted(found.values(), key=lambda n: n.number)


def friendly(number: str) -> str:
    """'+16462345678' → '(646) 234-5678', as Twilio's friendly_name."""
    return phonenumbers.format_number(phonenumbers.parse(number), phonenumbers.PhoneNumberFormat.NATIONAL)
