"""R11 snowshoeing: which bodies count as the same message. A pure function: no database."""

import pytest

from compliance.snowshoe import fingerprint, near_identical

BODY = "Hi {first_name}! Spring cleaning special: 20% off whitening this week. Book at https://sunrise.example/book"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Hello  World", "hello world"),
        ("Hi {first_name}, see you", "hi , see you"),
        ("Hi { first_name }!", "hi !"),
        ("Code 1234 expires 5/31", "code 0 expires 0/0"),
        ("Book at https://x.example/a?b=1 now", "book at <url> now"),
        ("Book at www.example.com/spring now", "book at <url> now"),
        ("Book at bit.ly/3xYz9 now", "book at <url> now"),
        ("Line one\n\n\tline TWO ", "line one line two"),
        ("\uff28\uff29 there", "hi there"),  # fullwidth
        ("", ""),
    ],
)
def test_fingerprint(body, expected):
    assert fingerprint(body) == expected


@pytest.mark.parametrize(
    "other",
    [
        BODY,
        BODY.upper(),
        BODY.replace("{first_name}", "{full_name}"),
        BODY.replace("20%", "25%"),
        BODY.replace("https://sunrise.example/book", "https://bit.ly/3xYz"),
        BODY.replace(" ", "  "),
        BODY.replace("this week", "this wk"),  # a small edit
        BODY.replace("whitening", "whitenin"),
    ],
)
def test_near_identical(other):
    assert near_identical(BODY, other)


@pytest.mark.parametrize(
    "other",
    [
        "Your appointment is tomorrow at 10:00. Reply C to confirm.",
        "Hi {first_name}! Summer hours: we are open until 8 pm on Thursdays. Call us to book.",
        BODY.replace("Spring cleaning special: 20% off whitening", "New patients get a free consultation"),
        "",
    ],
)
def test_different_bodies(other):
    assert not near_identical(BODY, other)


def test_short_texts_need_to_be_the_same():
    assert near_identical("Hi {first_name}", "hi {last_name}")
    assert not near_identical("Hi there", "Hi where")  # one letter is > 10 % of a short text
