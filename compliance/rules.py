"""Pure rules: functions of plain values (and the Policy object). No ORM, no clock, no settings
reads — `now` is always a parameter. Most of the policy's tests live against these."""

from dataclasses import dataclass

from compliance.policy import Policy

# Exact user-facing texts (POLICY.md).
DND_REFUSAL = "Cannot send messages as DND is active for SMS."  # R2
NO_CONSENT = "No consent on record for this contact: {source} messages need an opt-in (R10)."
NO_NUMBER = "This sub-account has no phone number to send from."
OPTED_OUT = "Recipient opted out."  # R3


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    @classmethod
    def allow(cls):
        return cls(True)

    @classmethod
    def refuse(cls, reason: str):
        return cls(False, reason)


ALLOW = Decision.allow()


def check_recipient(*, source: str, dnd: str, consent: str, policy: Policy) -> Decision:
    """May a message of `source` go to a contact in this DND/consent state? (R2, R10)

    Compliance replies (opt-out confirmation, HELP) are exempt: the confirmation must never be
    blocked by the DND it just set (R3)."""
    if source in policy.COMPLIANCE_SOURCES:
        return ALLOW
    if dnd != "none":
        return Decision.refuse(DND_REFUSAL)
    if source in policy.REQUIRE_CONSENT_FOR and consent != "granted":
        return Decision.refuse(NO_CONSENT.format(source=source.replace("_", " ").capitalize()))
    return ALLOW


# --- R3/R4 inbound keywords -----------------------------------------------------------------

_TRAILING = ".!?,;:)(*~-'\" "


@dataclass(frozen=True)
class Keyword:
    """What an inbound text means for compliance, and which rule decided it (R3: every match
    records the rule that fired)."""

    kind: str  # "opt_out" | "opt_in" | "help" | "none"
    rule: str = ""  # "keyword", "keyword+politeness", "phrase"
    matched: str = ""


NOT_A_KEYWORD = Keyword("none")


def _normalise(text: str) -> str:
    """Case-folded, whitespace collapsed, curly apostrophes straightened, outer punctuation
    trimmed: ` Stop! ` → `stop`."""
    text = (text or "").replace("\u2019", "'").replace("\u2018", "'").casefold()
    return " ".join(text.split()).strip(_TRAILING)


def _words(text: str) -> list[str]:
    """Words with punctuation between them removed: `Stop. Thank you` → [stop, thank, you]."""
    cleaned = "".join(ch if ch.isalnum() or ch in " '" else " " for ch in text)
    return cleaned.split()


def _strip_politeness(words: list[str], politeness: tuple[str, ...]) -> list[str]:
    """Drop politeness words/phrases at either end: `stop please`, `please stop`, `stop thank you`."""
    phrases = sorted((p.split() for p in politeness), key=len, reverse=True)
    changed = True
    while changed and words:
        changed = False
        for p in phrases:
            n = len(p)
            if len(words) > n and words[-n:] == p:
                words, changed = words[:-n], True
            elif len(words) > n and words[:n] == p:
                words, changed = words[n:], True
    return words


def classify_inbound(body: str, policy: Policy) -> Keyword:
    """R3/R4: is this inbound text an opt-out, an opt-in, a HELP request, or none of these?

    Keywords match on the whole message (case-insensitive, trimmed, trailing punctuation
    ignored); a keyword with only politeness around it counts; so do the reasonable-person
    phrases (FCC 47 CFR 64.1200(a)(10)). A message that merely contains a keyword does not."""
    text = _normalise(body)
    if not text:
        return NOT_A_KEYWORD
    words = _words(text)
    joined = " ".join(words)
    tables = (
        ("opt_out", policy.OPT_OUT_KEYWORDS),
        ("opt_in", policy.OPT_IN_KEYWORDS),
        ("help", policy.HELP_KEYWORDS),
    )
    for kind, keywords in tables:
        for keyword in keywords:
            if joined == keyword.casefold():
                return Keyword(kind, "keyword", keyword)
    core = " ".join(_strip_politeness(words, policy.POLITENESS_WORDS))
    if core != joined:
        for kind, keywords in tables:
            for keyword in keywords:
                if core == keyword.casefold():
                    return Keyword(kind, "keyword+politeness", keyword)
    for phrase in policy.OPT_OUT_PHRASES:
        p = " ".join(_words(_normalise(phrase)))
        if core == p or joined == p:
            return Keyword("opt_out", "phrase", phrase)
    return NOT_A_KEYWORD


def contains_opt_out_keyword(body: str, policy: Policy) -> bool:
    """R5: does the text already carry an opt-out keyword as a whole word (`Reply STOP`)?"""
    words = " " + " ".join(_words(_normalise(body))) + " "
    return any(f" {k.casefold()} " in words for k in policy.OPT_OUT_KEYWORDS)
