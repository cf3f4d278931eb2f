"""A2P 10DLC and toll-free registration (issue 17): which number needs which registration, which
sends an unregistered number refuses, and what a submission lacks. Pure functions of plain values.

US carriers block unregistered 10DLC traffic (since 2023) and unverified toll-free traffic, so a
bulk, campaign or workflow text from such a number would only be filtered (error 30034) and count
against the sub-account's error rate; refusing it here says why instead."""

from .policy import Policy
from .rules import Decision

# NANP toll-free area codes.
TOLL_FREE_AREA_CODES = frozenset({"800", "833", "844", "855", "866", "877", "888"})

TEN_DLC = "10dlc"
TOLL_FREE = "toll_free"

UNREGISTERED = {
    TEN_DLC: "This number is not registered for A2P 10DLC yet, and US carriers block {source} texts "
    "from unregistered local numbers. Complete the registration in Settings → Registration.",
    TOLL_FREE: "This toll-free number is not verified yet, and US carriers block {source} texts from "
    "unverified toll-free numbers. Complete the verification in Settings → Registration.",
}
SOURCE_WORDS = {"bulk": "bulk", "campaign": "campaign", "workflow": "workflow"}


def registration_kind(number: str) -> str | None:
    """The registration a sending number needs: 10DLC for a US local number, toll-free verification
    for a US toll-free number, none for any other number (another country's rules)."""
    if not number.startswith("+1") or len(number) != 12:
        return None
    # Canada shares +1 but has no 10DLC; its area codes are few enough to leave to the operator's
    # setting (REGISTRATION_REQUIRED) rather than guess here.
    return TOLL_FREE if number[2:5] in TOLL_FREE_AREA_CODES else TEN_DLC


def registration_decision(*, number: str, source: str, approved_kinds: set[str], policy: Policy) -> Decision:
    """May a message of `source` leave from `number`, given the kinds of registration approved?"""
    if not policy.REGISTRATION_REQUIRED or source not in policy.REGISTRATION_REQUIRED_FOR:
        return Decision.allow()
    kind = registration_kind(number)
    if kind is None or kind in approved_kinds:
        return Decision.allow()
    return Decision.refuse(UNREGISTERED[kind].format(source=SOURCE_WORDS.get(source, source)))


MIN_DESCRIPTION = 40  # Twilio's minimum for a campaign description and message flow
MIN_SAMPLE = 20


def submission_problems(
    *, description: str, opt_in_description: str, samples: list[str], business_name: str
) -> list[str]:
    """What a reviewer would reject before it is sent to one: the carriers' minimums, and sample
    messages that do not say who sends or how to opt out (the same facts R5/R6 add to bulk texts)."""
    problems = []
    if len(description.strip()) < MIN_DESCRIPTION:
        problems.append(f"Describe what the messages are for in at least {MIN_DESCRIPTION} characters.")
    if len(opt_in_description.strip()) < MIN_DESCRIPTION:
        problems.append(f"Describe how contacts opt in in at least {MIN_DESCRIPTION} characters.")
    for i, sample in enumerate(samples, start=1):
        text = sample.strip()
        if len(text) < MIN_SAMPLE:
            problems.append(f"Sample message {i} needs at least {MIN_SAMPLE} characters.")
            continue
        if business_name and business_name.lower() not in text.lower():
            problems.append(f"Sample message {i} must name the business ({business_name}).")
        if "stop" not in text.lower():
            problems.append(f"Sample message {i} must say how to opt out (e.g. “Reply STOP to unsubscribe”).")
    return problems
