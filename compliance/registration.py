"""Carrier registration (issue 17) as the app records it: which kinds a sub-account has approved,
what its dashboard should say is missing, and the checks before a submission. The provider calls
live in `messaging.registration` (compliance never imports what talks to the provider)."""

from dataclasses import dataclass

from accounts.models import SubAccount
from messaging.models import PhoneNumber

from . import registration_rules as rules
from .models import Registration
from .policy import get_policy


def approved_kinds(sub_account_id) -> set[str]:
    return set(
        Registration.objects.filter(sub_account_id=sub_account_id, status=Registration.Status.APPROVED).values_list(
            "kind", flat=True
        )
    )


def send_decision(*, sub_account_id, source: str, numbers: list[str]) -> dict[str, rules.Decision]:
    """The registration decision for each sending number of one send (one query, none when the
    source or the policy needs no registration)."""
    policy = get_policy()
    if not policy.REGISTRATION_REQUIRED or source not in policy.REGISTRATION_REQUIRED_FOR:
        return {n: rules.Decision.allow() for n in numbers}
    approved = approved_kinds(sub_account_id)
    return {
        n: rules.registration_decision(number=n, source=source, approved_kinds=approved, policy=policy) for n in numbers
    }


@dataclass(frozen=True)
class Missing:
    kind: str
    label: str
    numbers: list[str]
    registration: Registration | None  # None: not started

    @property
    def sentence(self) -> str:
        which = ", ".join(self.numbers)
        if self.registration is None:
            state = "has not been started"
        elif self.registration.status == Registration.Status.REJECTED:
            state = f"was rejected: {self.registration.rejection_reason}"
        elif self.registration.status == Registration.Status.SUBMITTED:
            state = "is in review"
        else:
            state = "is a draft, not submitted"
        return f"{self.label} {state}. Bulk, campaign and workflow texts from {which} are refused until it is approved."


def missing(sub_account: SubAccount) -> list[Missing]:
    """Each registration this sub-account's numbers need and do not have approved (dashboard)."""
    if not get_policy().REGISTRATION_REQUIRED:
        return []
    needed: dict[str, list[str]] = {}
    for number in PhoneNumber.objects.filter(sub_account=sub_account).values_list("number", flat=True):
        kind = rules.registration_kind(number)
        if kind:
            needed.setdefault(kind, []).append(number)
    found = {r.kind: r for r in Registration.objects.filter(sub_account=sub_account)}
    return [
        Missing(kind, Registration.Kind(kind).label, numbers, found.get(kind))
        for kind, numbers in sorted(needed.items())
        if kind not in found or found[kind].status != Registration.Status.APPROVED
    ]


def problems(registration: Registration) -> list[str]:
    """What a carrier reviewer would reject, checked before anything is submitted."""
    return rules.submission_problems(
        description=registration.description,
        opt_in_description=registration.opt_in_description,
        samples=[registration.sample_1, registration.sample_2],
        business_name=registration.sub_account.business_name or registration.sub_account.name,
    )
