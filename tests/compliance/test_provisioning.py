"""R12: a new phone number is refused while permanently suspended (R9), while a temporary
suspension is in force (R8), and while restricted for repeated violations (PROVISIONING_RESTRICT_AFTER
= 2 suspensions within 30 days); support staff lift that restriction, recorded (who, when, why)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from compliance import provisioning, rules
from compliance.errors import ComplianceError
from compliance.models import ProvisioningLift, Suspension, Violation
from compliance.policy import Policy

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def suspension(sub_account, *, started, hours=10, kind="temporary", lifted=False):
    violation = Violation.objects.create(sub_account=sub_account, kind="error_rate", level="suspension", action="t")
    return Suspension.objects.create(
        sub_account=sub_account, cause="error_rate", violation=violation, started_at=started, kind=kind,
        ends_at=None if kind == "permanent" else started + timedelta(hours=hours),
        lifted_at=started + timedelta(hours=1) if lifted else None,
    )  # fmt: skip


# --- the pure rule ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("permanent", "until", "recent", "expected"),
    [
        (False, "", 0, ""),
        (False, "", 1, ""),
        (True, "", 3, rules.PROVISIONING_PERMANENT),
        (False, "Dec 3, 2026, 7:00 PM EST (00:00 UTC)", 1,
         "New phone numbers cannot be added while sending is suspended (until Dec 3, 2026, 7:00 PM EST (00:00 UTC))."),
        (False, "", 2, "New phone numbers cannot be added: sending was suspended 2 times in the last 30 days. "
                       "Contact support to have this restriction reviewed."),
    ],
    ids=["none", "one-suspension-ended", "permanent", "temporary-in-force", "repeated"],
)  # fmt: skip
def test_r12_check_provisioning(permanent, until, recent, expected):
    decision = rules.check_provisioning(permanent=permanent, suspended_until=until, recent_suspensions=recent,
                                        policy=Policy())  # fmt: skip
    assert (decision.allowed, decision.reason) == (not expected, expected)
    assert "R1" not in decision.reason  # no rule numbers in what users read


def test_r12_the_restriction_threshold_is_a_policy_setting():
    policy = Policy(PROVISIONING_RESTRICT_AFTER=3)
    assert rules.check_provisioning(permanent=False, suspended_until="", recent_suspensions=2, policy=policy).allowed
    assert not rules.check_provisioning(
        permanent=False, suspended_until="", recent_suspensions=3, policy=policy
    ).allowed


# --- the state, from the records --------------------------------------------------------------


@time_machine.travel(NOW, tick=False)
def test_r12_allowed_with_no_suspension_and_with_one_that_ended(world):
    assert provisioning.provisioning_refusal(world.a1, NOW) == ""
    suspension(world.a1, started=NOW - timedelta(days=2))
    assert provisioning.provisioning_refusal(world.a1, NOW) == ""


@time_machine.travel(NOW, tick=False)
def test_r12_refused_while_a_temporary_suspension_is_in_force_with_its_end_in_the_subaccounts_zone(world):
    suspension(world.a1, started=NOW - timedelta(hours=1), hours=10)  # ends 2026-12-04 00:00 UTC
    assert provisioning.provisioning_refusal(world.a1, NOW) == (
        "New phone numbers cannot be added while sending is suspended (until Dec 3, 2026, 7:00 PM EST (00:00 UTC))."
    )
    assert provisioning.provisioning_refusal(world.a1, NOW + timedelta(hours=9)) == ""  # ended by time alone


@time_machine.travel(NOW, tick=False)
def test_r12_a_self_lifted_suspension_no_longer_refuses_but_still_counts(world):
    suspension(world.a1, started=NOW - timedelta(hours=2), lifted=True)
    assert provisioning.provisioning_refusal(world.a1, NOW) == ""
    suspension(world.a1, started=NOW - timedelta(days=10))
    assert "suspended 2 times in the last 30 days" in provisioning.provisioning_refusal(world.a1, NOW)


@time_machine.travel(NOW, tick=False)
def test_r12_refused_while_permanently_suspended(world):
    suspension(world.a1, started=NOW - timedelta(days=1), kind="permanent")
    assert provisioning.provisioning_refusal(world.a1, NOW) == rules.PROVISIONING_PERMANENT


@time_machine.travel(NOW, tick=False)
def test_r12_two_suspensions_within_30_days_restrict_at_the_window_boundary(world):
    suspension(world.a1, started=NOW - timedelta(days=3))
    oldest = suspension(world.a1, started=NOW - timedelta(days=30) + timedelta(seconds=1))
    state = provisioning.provisioning_state(world.a1, NOW)
    assert state.restricted and not state.decision.allowed
    # One second later the older one is outside the 30 days: one left, no restriction.
    assert provisioning.provisioning_refusal(world.a1, oldest.started_at + timedelta(days=30)) == ""
    assert world.a2.pk != world.a1.pk and provisioning.provisioning_refusal(world.a2, NOW) == ""  # per sub-account


@time_machine.travel(NOW, tick=False)
def test_r12_the_window_and_threshold_follow_the_policy(world, settings):
    suspension(world.a1, started=NOW - timedelta(days=3))
    suspension(world.a1, started=NOW - timedelta(days=12))
    settings.COMPLIANCE_POLICY = {"PROVISIONING_RESTRICT_AFTER": 3}
    assert provisioning.provisioning_refusal(world.a1, NOW) == ""
    settings.COMPLIANCE_POLICY = {"PROVISIONING_RESTRICT_WINDOW_DAYS": 7}
    assert provisioning.provisioning_refusal(world.a1, NOW) == ""


# --- support's lift -----------------------------------------------------------------------------


@pytest.fixture
def restricted(world):
    with time_machine.travel(NOW, tick=False):
        suspension(world.a1, started=NOW - timedelta(days=3))
        suspension(world.a1, started=NOW - timedelta(days=12))
        yield world.a1


def test_r12_support_lifts_the_restriction_recorded_and_only_new_suspensions_count(world, restricted):
    lift = provisioning.provisioning_restriction_lift(
        sub_account=restricted, user=world.support, reason="Cleaned their list; new opt-in form."
    )
    assert (lift.lifted_by, lift.lifted_at, lift.reason) == (world.support, NOW, "Cleaned their list; new opt-in form.")
    assert provisioning.provisioning_refusal(restricted, NOW) == ""
    suspension(restricted, started=NOW + timedelta(hours=1), hours=2)
    assert provisioning.provisioning_refusal(restricted, NOW + timedelta(hours=4)) == ""  # one since the lift
    suspension(restricted, started=NOW + timedelta(days=1), hours=2)
    assert "suspended 2 times" in provisioning.provisioning_refusal(restricted, NOW + timedelta(days=1, hours=3))


def test_r12_lift_needs_support_a_reason_and_a_restriction(world, restricted):
    for user, reason, refusal in [
        (world.a_admin, "Please", "Only support staff can lift this restriction."),
        (world.support, "  ", "Say why the restriction is lifted."),
    ]:
        with pytest.raises(ComplianceError, match=refusal):
            provisioning.provisioning_restriction_lift(sub_account=restricted, user=user, reason=reason)
    with pytest.raises(ComplianceError, match="not restricted for repeated violations"):
        provisioning.provisioning_restriction_lift(sub_account=world.a2, user=world.support, reason="Why not")
    assert not ProvisioningLift.objects.exists()


def test_r12_a_lift_does_not_override_a_suspension_in_force(world):
    with time_machine.travel(NOW, tick=False):
        suspension(world.a1, started=NOW - timedelta(days=12))
        suspension(world.a1, started=NOW - timedelta(hours=1))  # in force until 01:00 UTC tomorrow
        provisioning.provisioning_restriction_lift(sub_account=world.a1, user=world.support, reason="Reviewed")
        assert "while sending is suspended" in provisioning.provisioning_refusal(world.a1, NOW)


def test_r12_support_page_is_support_only(world, login):
    url = reverse("support_subaccount", args=[world.a1.pk])
    for user in (world.a_admin, world.a1_owner, world.b_admin):
        assert login(user).get(url).status_code == 404
        assert login(user).post(url, {"reason": "x"}).status_code == 404
    assert login(world.support).get(url).status_code == 200
    assert (
        reverse("support_subaccount", args=[world.a1.pk])
        in login(world.support).get(reverse("support_home")).content.decode()
    )


def test_r12_support_lifts_from_the_subaccount_support_page(world, restricted, login):
    client = login(world.support)
    url = reverse("support_subaccount", args=[restricted.pk])
    with time_machine.travel(NOW, tick=False):
        html = client.get(url).content.decode()
        assert "Refused." in html and 'data-testid="provisioning-lift"' in html
        assert "sending was suspended 2 times in the last 30 days" in html
        html = client.post(url, {"reason": ""}, follow=True).content.decode()
        assert not ProvisioningLift.objects.exists()
        response = client.post(url, {"reason": "Spoke to the owner; consent forms fixed."}, follow=True)
    html = response.content.decode()
    assert "Sunrise Dental can get new phone numbers again." in html
    [lift] = ProvisioningLift.objects.all()
    assert (lift.sub_account, lift.lifted_by, lift.reason) == (
        restricted,
        world.support,
        "Spoke to the owner; consent forms fixed.",
    )
    assert "support@ops.test" in html and "Spoke to the owner; consent forms fixed." in html  # the history
    assert "Dec 3, 2026, 10:00 AM EST" in html  # in the sub-account's zone


def test_r12_lift_records_are_append_only_history(world, restricted):
    provisioning.provisioning_restriction_lift(sub_account=restricted, user=world.support, reason="First")
    with time_machine.travel(NOW + timedelta(days=2), tick=False):
        suspension(restricted, started=timezone.now() - timedelta(hours=5), hours=1)
        suspension(restricted, started=timezone.now() - timedelta(hours=3), hours=1)
        provisioning.provisioning_restriction_lift(sub_account=restricted, user=world.support, reason="Second")
    state = provisioning.provisioning_state(restricted, NOW + timedelta(days=2))
    assert [lift.reason for lift in state.lifts] == ["Second", "First"] and not state.restricted
