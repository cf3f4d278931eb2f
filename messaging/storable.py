"""Text that PostgreSQL can store. A text column refuses NUL (`\\x00`) and psycopg cannot encode
a lone surrogate (`\\ud800`–`\\udfff`, which JSON's `\\u` escapes can produce) as UTF-8: either
one, written as it came, is a 500 and the whole request is lost. Input from our users is
refused with a sentence (`problem`); input from the carrier, which we must not lose (a STOP),
is kept with those characters removed (`strip`)."""

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NUL = "Text cannot contain NUL characters (\\u0000)."
SURROGATE = "Text cannot contain unpaired surrogates (\\ud800–\\udfff)."


def problem(text: str) -> str:
    """Why this text cannot be stored, or "" when it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return ""
    return NUL if found.group() == "\x00" else SURROGATE


def strip(text: str) -> str:
    return _UNSTORABLE.sub("", text)
