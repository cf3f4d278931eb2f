"""SMS segments: GSM-7 160/153 (extension characters count twice), UCS-2 70/67."""

import pytest

from messaging.sms import GSM7, UCS2, segments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (GSM7, 0, 0)),
        ("a" * 160, (GSM7, 160, 1)),
        ("a" * 161, (GSM7, 161, 2)),
        ("a" * 306, (GSM7, 306, 2)),  # 2 × 153
        ("a" * 307, (GSM7, 307, 3)),
        ("€" * 80, (GSM7, 160, 1)),  # extension characters count double
        ("€" + "a" * 159, (GSM7, 161, 2)),
        ("[]" + "a" * 157, (GSM7, 161, 2)),
        ("Hi {first_name}, 50% off! @ £5 ~ ^", (GSM7, 38, 1)),  # 34 characters; { } ~ ^ count twice
        ("😀", (UCS2, 2, 1)),  # outside the BMP: two UTF-16 units
        ("ć" * 70, (UCS2, 70, 1)),
        ("ć" * 71, (UCS2, 71, 2)),
        ("ć" * 134, (UCS2, 134, 2)),  # 2 × 67
        ("ć" * 135, (UCS2, 135, 3)),
        ("Grüße ć", (UCS2, 7, 1)),
        ("a" * 69 + "😀", (UCS2, 71, 2)),
    ],
)
def test_segments(text, expected):
    assert tuple(segments(text)) == expected


def test_an_escape_pair_is_never_split_across_parts():
    # 152 septets, then "€" (2) does not fit in part one's 153: it starts part two.
    text = "a" * 152 + "€" + "a" * 151
    assert segments(text) == (GSM7, 305, 2)
    assert segments("a" * 152 + "€" + "a" * 152) == (GSM7, 306, 3)


def test_one_non_gsm_character_makes_the_whole_text_ucs2():
    assert segments("a" * 100 + "ć").encoding == UCS2
    assert segments("a" * 100 + "ć").segments == 2
    assert segments("Café è à ñ ß Ø").encoding == GSM7  # these are in the GSM-7 alphabet
