"""Carrier registration (issue 17), the pure part: which number needs which registration, which
sources an unregistered number refuses, and what a submission lacks."""

import pytest

from compliance.policy import build_policy
from compliance.registration_rules import registration_decision, registration_kind, submission_problems

ON = build_policy({})
OFF = build_policy({"REGISTRATION_REQUIRED": False})


@pytest.mark.parametrize(
    ("number", "kind"),
    [("+16465550101", "10dlc"), ("+18005550100", "toll_free"), ("+18885550100", "toll_free"),
     ("+18335550100", "toll_free"), ("+447700900123", None), ("+3361234567", None)],
)  # fmt: skip
def test_registration_kind(number, kind):
    assert registration_kind(number) == kind


@pytest.mark.parametrize("source", ["bulk", "campaign", "workflow"])
def test_unregistered_local_number_refuses_blasts(source):
    decision = registration_decision(number="+16465550101", source=source, approved_kinds=set(), policy=ON)
    assert not decision.allowed
    assert f"US carriers block {source} texts from unregistered local numbers" in decision.reason
    assert "Settings → Registration" in decision.reason


@pytest.mark.parametrize("source", ["one_to_one", "keyword_reply", "test", "missed_call_text_back", "resend"])
def test_person_facing_and_compliance_sources_are_not_gated(source):
    assert registration_decision(number="+16465550101", source=source, approved_kinds=set(), policy=ON).allowed


def test_approved_kind_and_other_countries_and_the_setting():
    assert registration_decision(number="+16465550101", source="bulk", approved_kinds={"10dlc"}, policy=ON).allowed
    # A 10DLC registration does not verify a toll-free number, nor the other way round.
    toll_free = registration_decision(number="+18005550100", source="bulk", approved_kinds={"10dlc"}, policy=ON)
    assert not toll_free.allowed and "toll-free number is not verified" in toll_free.reason
    assert registration_decision(number="+447700900123", source="bulk", approved_kinds=set(), policy=ON).allowed
    assert registration_decision(number="+16465550101", source="bulk", approved_kinds=set(), policy=OFF).allowed


GOOD = dict(
    description="Appointment reminders and offers for the patients of Sunrise Dental Care.",
    opt_in_description="Patients tick an unchecked box on the website form that says they agree to texts.",
    samples=["Sunrise Dental Care: your visit is tomorrow at 10. Reply STOP to unsubscribe.",
             "Sunrise Dental Care: 20% off whitening. Reply STOP to unsubscribe."],
    business_name="Sunrise Dental Care",
)  # fmt: skip


def test_a_complete_submission_has_no_problems():
    assert submission_problems(**GOOD) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [({"description": "Texts."}, "Describe what the messages are for in at least 40 characters."),
     ({"opt_in_description": "Web."}, "Describe how contacts opt in in at least 40 characters."),
     ({"samples": ["Hi", GOOD["samples"][1]]}, "Sample message 1 needs at least 20 characters."),
     ({"samples": [GOOD["samples"][0], "20% off whitening this month. Reply STOP to unsubscribe."]},
      "Sample message 2 must name the business (Sunrise Dental Care)."),
     ({"samples": [GOOD["samples"][0], "Sunrise Dental Care: 20% off whitening this month!"]},
      "Sample message 2 must say how to opt out"),
     ],
)  # fmt: skip
def test_each_missing_fact_is_named(change, problem):
    problems = submission_problems(**(GOOD | change))
    assert len(problems) == 1 and problems[0].startswith(problem)
