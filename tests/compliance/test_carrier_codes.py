"""The one table of carrier codes: R1's remediations come from it, every code has words."""

from compliance.carrier_codes import CODES, describe
from compliance.policy import get_policy


def test_r1_mapping_is_built_from_the_table():
    assert get_policy().DND_BY_ERROR_CODE == {
        "30003": "temporary",
        "30004": "permanent",
        "30005": "temporary",
        "30006": "temporary",
        "21610": "permanent",
    }


def test_30007_says_what_it_means_and_what_to_do():
    entry = describe("30007")
    assert entry.meaning == "Filtered by the carrier as spam"
    assert "consent" in entry.action and entry.remediation == "none"


def test_unknown_and_missing_codes():
    assert describe(None) is None and describe("") is None
    assert describe(99999).meaning == "Error 99999"
    assert all(c.meaning and c.action.endswith(".") for c in CODES.values())
