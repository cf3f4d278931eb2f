"""R5/R6: opt-out language and sender identification on initial messages."""

import pytest

from compliance.policy import Policy
from compliance.rules import carries_opt_out_instruction, compose, merge, merge_fields_unknown, opt_out_text_problem

POLICY = Policy()


def c(body="20% off cleanings this week!", **kw):
    args = dict(source="bulk", is_initial=True, has_texted_in=False, business_name="Sunrise Dental Care",
                opt_out_text="", sender_text="", policy=POLICY)  # fmt: skip
    return compose(body, **(args | kw))


def test_initial_bulk_gets_sender_and_opt_out_defaults():
    assert c() == "20% off cleanings this week!\nThanks, Sunrise Dental Care\nReply STOP to unsubscribe"


def test_follow_up_bulk_gets_nothing():
    assert c(is_initial=False) == "20% off cleanings this week!"


def test_custom_texts():
    assert c(opt_out_text="Text END to opt out", sender_text="— the Sunrise team") == (
        "20% off cleanings this week!\n— the Sunrise team\nText END to opt out"
    )


def test_body_already_containing_a_keyword_gets_no_second_opt_out():
    assert c("Deals inside. Reply STOP to quit") == "Deals inside. Reply STOP to quit\nThanks, Sunrise Dental Care"
    assert c("Nonstop deals!").endswith("Reply STOP to unsubscribe")  # `nonstop` is not the keyword


@pytest.mark.parametrize(
    ("is_initial", "has_texted_in", "expected"),
    [(True, False, "Hi Ava\nReply STOP to unsubscribe"), (True, True, "Hi Ava"), (False, False, "Hi Ava")],
)
def test_one_to_one_first_text_to_a_never_texted_contact_only_gets_opt_out_never_sender(
    is_initial, has_texted_in, expected
):
    assert c("Hi Ava", source="one_to_one", is_initial=is_initial, has_texted_in=has_texted_in) == expected


@pytest.mark.parametrize(
    ("is_initial", "has_texted_in", "expected"),
    [(True, False, "Sorry we missed you\nReply STOP to unsubscribe"), (True, True, "Sorry we missed you"),
     (False, False, "Sorry we missed you")],
)  # fmt: skip
def test_missed_call_text_back_follows_the_first_text_rule_and_never_gets_the_sender_text(
    is_initial, has_texted_in, expected
):
    # R5: the text back is often the first text a caller ever gets from the business.
    body = "Sorry we missed you"
    assert c(body, source="missed_call_text_back", is_initial=is_initial, has_texted_in=has_texted_in) == expected


@pytest.mark.parametrize("source", ["workflow", "campaign", "test", "resend"])
def test_other_sources_by_default_get_nothing(source):
    assert c(source=source) == "20% off cleanings this week!"


def test_operators_may_add_workflows_and_campaigns():
    policy = Policy(OPT_OUT_SOURCES=frozenset({"bulk", "workflow"}), SENDER_ID_SOURCES=frozenset({"bulk", "workflow"}))
    assert c(source="workflow", policy=policy).count("\n") == 2


def test_custom_opt_out_text_must_carry_a_standard_keyword():
    assert opt_out_text_problem("Reply STOP to opt out", POLICY) == ""
    assert opt_out_text_problem("Text BYE to leave", POLICY).startswith("The opt-out text must contain")
    assert opt_out_text_problem("", POLICY) == ""  # empty = the default


def test_merge_fields():
    assert merge("Hi {first_name}, from {business_name}", {"first_name": "Ava", "business_name": "Sunrise"}) == (
        "Hi Ava, from Sunrise"
    )
    assert merge("Hi {first_name}!", {"first_name": None}) == "Hi !"
    assert merge_fields_unknown("Hi {frist_name} {first_name}") == ["frist_name"]


@pytest.mark.parametrize(
    ("body", "carries"),
    [
        ("Deals inside. Reply STOP to quit", True),
        ("Text stop to end these messages", True),
        ("Reply END to opt out", True),
        ("UNSUBSCRIBE anytime", True),
        ("Reply OPT OUT to leave", True),
        ("Send “cancel” to stop", True),
        # Keywords that are ordinary words here: the opt-out text is still appended (R5).
        ("Sale ends at the end of the month", False),
        ("Stop by our store today", False),
        ("Reply to cancel or reschedule", False),
        ("Quit sugar with our 30-day plan", False),
        ("Nonstop deals!", False),
    ],
)
def test_r5_what_counts_as_an_opt_out_instruction_already_in_the_body(body, carries):
    assert carries_opt_out_instruction(body, POLICY) is carries
    composed = c(body)
    assert composed.endswith("Reply STOP to unsubscribe") is not carries
