"""R3/R4: keyword classification, a pure function (no database)."""

import pytest

from compliance.policy import Policy
from compliance.rules import classify_inbound, contains_opt_out_keyword

POLICY = Policy()


@pytest.mark.parametrize(
    ("body", "kind", "rule"),
    [
        # R3 keywords, whole message, case-insensitive, trimmed, trailing punctuation ignored
        ("stop", "opt_out", "keyword"),
        (" Stop ", "opt_out", "keyword"),
        ("Stop!", "opt_out", "keyword"),
        (" stop. ", "opt_out", "keyword"),
        ("STOP", "opt_out", "keyword"),
        ("StopAll", "opt_out", "keyword"),
        ("stop all", "opt_out", "keyword"),
        ("UNSUBSCRIBE", "opt_out", "keyword"),
        ("cancel", "opt_out", "keyword"),
        ("End", "opt_out", "keyword"),
        ("quit", "opt_out", "keyword"),
        ("revoke", "opt_out", "keyword"),
        ("optout", "opt_out", "keyword"),
        ("OPT OUT", "opt_out", "keyword"),
        ("opt-out", "opt_out", "keyword"),
        # a keyword with only politeness around it
        ("stop please", "opt_out", "keyword+politeness"),
        ("Stop. Thank you", "opt_out", "keyword+politeness"),
        ("Please STOP", "opt_out", "keyword+politeness"),
        ("unsubscribe, thanks!", "opt_out", "keyword+politeness"),
        # reasonable-person phrases (FCC 47 CFR 64.1200(a)(10))
        ("remove me", "opt_out", "phrase"),
        ("Take me off your list", "opt_out", "phrase"),
        ("stop texting me", "opt_out", "phrase"),
        ("Don't text me", "opt_out", "phrase"),
        ("don\u2019t text me!", "opt_out", "phrase"),
        ("unsubscribe me", "opt_out", "phrase"),
        ("Please remove me", "opt_out", "phrase"),
        # merely containing the word is not an opt-out
        ("Count me in! STOP this bill", "none", ""),
        ("nonstop", "none", ""),
        ("I can't stop smiling", "none", ""),
        ("Don't stop", "none", ""),
        ("stopwatch", "none", ""),
        ("", "none", ""),
        ("See you at the end of the week", "none", ""),
        # R4 opt-in
        ("START", "opt_in", "keyword"),
        ("yes", "opt_in", "keyword"),
        ("Unstop", "opt_in", "keyword"),
        ("yes please", "opt_in", "keyword+politeness"),
        ("yes I will be there", "none", ""),
        # HELP
        ("HELP", "help", "keyword"),
        ("info", "help", "keyword"),
        ("help?", "help", "keyword"),
    ],
)
def test_classify_inbound(body, kind, rule):
    result = classify_inbound(body, POLICY)
    assert (result.kind, result.rule) == (kind, rule)


def test_the_phrase_list_is_data():
    policy = Policy(OPT_OUT_PHRASES=("go away",))
    assert classify_inbound("Go away!", policy).kind == "opt_out"
    assert classify_inbound("remove me", policy).kind == "none"


def test_matched_records_which_keyword_or_phrase_fired():
    assert classify_inbound("stop please", POLICY).matched == "STOP"
    assert classify_inbound("take me off your list", POLICY).matched == "take me off your list"


@pytest.mark.parametrize(
    ("body", "expected"),
    [("Reply STOP to unsubscribe", True), ("Text stop to end", True), ("Nonstop deals", False), ("Hello", False),
     ("opt out anytime", True)],
)  # fmt: skip
def test_contains_opt_out_keyword(body, expected):
    assert contains_opt_out_keyword(body, POLICY) is expected
