"""Pure rules: functions of plain values (and the Policy object). No ORM, no clock, no settings
reads — `now` is always a parameter. Most of the policy's tests live against these."""

from dataclasses import dataclass

from compliance.policy import Policy

# Exact user-facing texts (POLICY.md).
DND_REFUSAL = "Cannot send messages as DND is active for SMS."  # R2
NO_CONSENT = "No consent on record for this contact: {source} messages need an opt-in (R10)."
NO_NUMBER = "This sub-account has no phone number to send from."
OPTED_OUT = "Recipient opted out."  # R3


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    @classmethod
    def allow(cls):
        return cls(True)

    @classmethod
    def refuse(cls, reason: str):
        return cls(False, reason)


ALLOW = Decision.allow()


def check_recipient(*, source: str, dnd: str, consent: str, policy: Policy) -> Decision:
    """May a message of `source` go to a contact in this DND/consent state? (R2, R10)

    Compliance replies (opt-out confirmation, HELP) are exempt: the confirmation must never be
    blocked by the DND it just set (R3)."""
    if source in policy.COMPLIANCE_SOURCES:
        return ALLOW
    if dnd != "none":
        return Decision.refuse(DND_REFUSAL)
    if source in policy.REQUIRE_CONSENT_FOR and consent != "granted":
        return Decision.refuse(NO_CONSENT.format(source=source.replace("_", " ").capitalize()))
    return ALLOW
