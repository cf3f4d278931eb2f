"""Carrier and provider error codes: what each means to a user, what to do about it, and the R1
remediation. One table, so the words a user reads next to a failed message, the CSV exports and
the DND decision (R1, through `Policy.DND_BY_ERROR_CODE`) can never disagree.

Pure data and lookups: no ORM, no settings."""

from dataclasses import dataclass
from typing import Literal

Remediation = Literal["temporary", "permanent", "none"]


@dataclass(frozen=True)
class CarrierCode:
    code: str
    meaning: str  # a few words, shown in tables and exports
    action: str  # what the user can do about it, one sentence
    remediation: Remediation = "none"  # R1: the DND this code puts on the contact


_TABLE = (
    # R1's table (POLICY.md), in its order.
    CarrierCode("30003", "Unreachable", "The phone is off or out of service; it is paused temporarily and can be retried later.", "temporary"),
    CarrierCode("30004", "Recipient blocks texts", "The recipient turned on do-not-disturb at their carrier; do not text this number again.", "permanent"),
    CarrierCode("30005", "Number does not exist", "Check the number with the contact; it is paused temporarily.", "temporary"),
    CarrierCode("30006", "Landline or cannot receive texts", "Call this contact instead, or ask for a mobile number.", "temporary"),
    CarrierCode("30008", "Unknown carrier error", "Try again later; if it keeps happening, contact support.", "none"),
    CarrierCode("21610", "Unsubscribed at the carrier", "The recipient replied STOP to this number at their carrier; they must reply START to get texts again.", "permanent"),
    # Not in R1's table: no DND, still an error for R8.
    CarrierCode("30001", "Queue overflow", "The provider was sending too fast; the message can be sent again later."),
    CarrierCode("30002", "Account suspended", "The phone provider suspended the account; contact support."),
    CarrierCode("30007", "Filtered by the carrier as spam", "Review the content and the consent behind this send; carriers filter texts that look unsolicited."),
    CarrierCode("30009", "Missing segment", "Part of a long message was lost; send it again, or shorten it."),
    CarrierCode("30010", "Message price too high", "The provider refused the price of this message; contact support."),
    CarrierCode("30034", "Sender not registered (A2P 10DLC)", "US carriers block texts from unregistered 10DLC numbers; complete the brand and campaign registration."),
    CarrierCode("21211", "Invalid phone number", "Correct the contact's number."),
    CarrierCode("21408", "Region not enabled", "Texts to this country are not enabled on the provider account."),
    CarrierCode("21614", "Not a mobile number", "This number cannot receive texts; call the contact or ask for a mobile number."),
    CarrierCode("21617", "Message too long", "The body exceeds 1,600 characters; shorten it."),
)  # fmt: skip

CODES: dict[str, CarrierCode] = {c.code: c for c in _TABLE}


def describe(code: str | int | None) -> CarrierCode | None:
    """The entry for `code`, or one that says the code is not known (None for no code)."""
    if code in (None, ""):
        return None
    code = str(code)
    return CODES.get(code) or CarrierCode(code, f"Error {code}", "See the provider's error reference for this code.")


def dnd_by_error_code() -> dict[str, Remediation]:
    """R1: code → remediation, for the codes that put a DND on the contact."""
    return {c.code: c.remediation for c in _TABLE if c.remediation != "none"}
