"""R11 snowshoeing: the same or a near-identical body sent from many of a sub-account's numbers,
to spread volume past per-number carrier filtering. Pure: which bodies count as "the same".

Bodies are compared on a fingerprint that drops what a sender varies without changing the
message: case, merge fields (`{first_name}`), numbers (`20% off` ≈ `25% off`, a different
code or date), links (each URL, shortened or not, is `<url>`) and spacing. Two bodies are
near-identical when their fingerprints are equal or at least 90 % alike (difflib ratio), which
catches a changed word or two in a text of a sentence or more.
"""

import difflib
import re
import unicodedata

NEAR_IDENTICAL_RATIO = 0.9

MERGE_FIELD = re.compile(r"\{\s*\w+\s*\}")
URL = re.compile(
    r"(?:https?://|www\.)\S+"  # scheme or www.
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/\S*",  # a bare domain with a path: bit.ly/3xYz
    re.IGNORECASE,
)
DIGITS = re.compile(r"\d+")


def fingerprint(body: str) -> str:
    """Case-folded; merge fields removed; URLs → `<url>`; each run of digits → `0`; whitespace
    collapsed."""
    text = unicodedata.normalize("NFKC", body or "")
    text = MERGE_FIELD.sub(" ", text)
    text = URL.sub("<url>", text)
    text = DIGITS.sub("0", text.casefold())
    return " ".join(text.split())


def near_identical(a: str, b: str) -> bool:
    return similar_fingerprints(fingerprint(a), fingerprint(b))


def similar_fingerprints(fa: str, fb: str) -> bool:
    """For callers comparing one body with many: fingerprint each once, then compare."""
    if fa == fb:
        return True
    if not fa or not fb:
        return False
    matcher = difflib.SequenceMatcher(None, fa, fb, autojunk=False)
    # The cheap upper bounds first: most pairs of unrelated texts stop here.
    return (
        matcher.real_quick_ratio() >= NEAR_IDENTICAL_RATIO
        and matcher.quick_ratio() >= NEAR_IDENTICAL_RATIO
        and matcher.ratio() >= NEAR_IDENTICAL_RATIO
    )
