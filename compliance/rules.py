"""Pure rules: functions of plain values (and the Policy object). No ORM, no clock, no settings
reads — `now` is always a parameter. Most of the policy's tests live against these."""

import re
import string
import unicodedata
from dataclasses import dataclass

from compliance.policy import Policy

# Exact user-facing texts (POLICY.md).
DND_REFUSAL = "Cannot send messages as DND is active for SMS."  # R2
NO_CONSENT = "No consent on record for this contact: {source} messages need an opt-in."
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


def check_suspension(*, source: str, suspension_reason: str, policy: Policy, permanent: bool = False) -> Decision:
    """R8: while a temporary suspension is in force (`suspension_reason` non-empty), bulk,
    workflow and campaign messages (SUSPENDED_SOURCES) are refused; one-to-one, test, resend,
    missed-call text back and keyword replies still go. R9: a permanent suspension refuses every
    source but the keyword replies (an opt-out is always confirmed, R3)."""
    if not suspension_reason or source in policy.COMPLIANCE_SOURCES:
        return ALLOW
    if permanent or source in policy.SUSPENDED_SOURCES:
        return Decision.refuse(suspension_reason)
    return ALLOW


# --- R12 new phone numbers --------------------------------------------------------------------

PROVISIONING_PERMANENT = (
    "New phone numbers cannot be added: sending is permanently suspended after repeated violations. "
    "Appeal the suspension to have it reviewed."
)
PROVISIONING_SUSPENDED = "New phone numbers cannot be added while sending is suspended (until {until})."
PROVISIONING_RESTRICTED = (
    "New phone numbers cannot be added: sending was suspended {count} times in the last {days} days. "
    "Contact support to have this restriction reviewed."
)


def check_provisioning(*, permanent: bool, suspended_until: str, recent_suspensions: int, policy: Policy) -> Decision:
    """R12: may the sub-account get a new number? Not while permanently suspended (R9), not while
    a temporary suspension is in force (`suspended_until`, its end as the user reads it), and not
    while restricted for repeated violations: PROVISIONING_RESTRICT_AFTER suspensions counted in
    the window (the caller counts those after support's last lift)."""
    if permanent:
        return Decision.refuse(PROVISIONING_PERMANENT)
    if suspended_until:
        return Decision.refuse(PROVISIONING_SUSPENDED.format(until=suspended_until))
    if recent_suspensions >= policy.PROVISIONING_RESTRICT_AFTER:
        return Decision.refuse(
            PROVISIONING_RESTRICTED.format(count=recent_suspensions, days=policy.PROVISIONING_RESTRICT_WINDOW_DAYS)
        )
    return ALLOW


# --- R3/R4 inbound keywords -----------------------------------------------------------------

_TRAILING = ".!?,;:)(*~-'\" "


OPT_OUT, OPT_IN, HELP, NO_KEYWORD = "opt_out", "opt_in", "help", "none"  # Keyword.kind


@dataclass(frozen=True)
class Keyword:
    """What an inbound text means for compliance, which rule decided it (R3: every match
    records the rule that fired) and the language it was in (the reply goes in that language)."""

    kind: str  # OPT_OUT | OPT_IN | HELP | NO_KEYWORD
    rule: str = ""  # "keyword", "keyword+politeness", "phrase"
    matched: str = ""
    language: str = "en"


NOT_A_KEYWORD = Keyword(NO_KEYWORD)


def _fold(text: str) -> str:
    """Accents optional: `ARRÊT` → `ARRET`, `désabonner` → `desabonner`, `más` → `mas`."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def _normalise(text: str) -> str:
    """Case-folded, accents dropped, whitespace collapsed, curly apostrophes straightened, outer
    punctuation trimmed: ` Stop! ` → `stop`, `¡ARRÊT!` → `¡arret`."""
    text = _fold((text or "").replace("\u2019", "'").replace("\u2018", "'").casefold())
    return " ".join(text.split()).strip(_TRAILING)


def _words(text: str) -> list[str]:
    """Words with punctuation between them removed: `Stop. Thank you` → [stop, thank, you]."""
    cleaned = "".join(ch if ch.isalnum() or ch in " '" else " " for ch in text)
    return cleaned.split()


def _key(text: str) -> str:
    """A keyword or phrase in the form a message is compared in: `OPT-OUT` → `opt out`."""
    return " ".join(_words(_normalise(text)))


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


def keyword_languages(policy: Policy) -> list[tuple[str, dict[str, tuple[str, ...]]]]:
    """Every language's tables, English (the policy's own lists) first, then KEYWORD_LANGUAGES
    in their order: a word listed in two languages is the first one's."""
    english = {
        OPT_OUT: policy.OPT_OUT_KEYWORDS,
        OPT_IN: policy.OPT_IN_KEYWORDS,
        HELP: policy.HELP_KEYWORDS,
        "phrases": policy.OPT_OUT_PHRASES,
        "politeness": policy.POLITENESS_WORDS,
    }
    return [("en", english), *((code, tables) for code, tables in policy.KEYWORD_LANGUAGES.items() if code != "en")]


def classify_inbound(body: str, policy: Policy) -> Keyword:
    """R3/R4: is this inbound text an opt-out, an opt-in, a HELP request, or none of these — and
    in which language?

    Keywords match on the whole message (case-insensitive, accents optional, trimmed, trailing
    punctuation ignored); a keyword with only politeness around it counts (politeness of any
    language: `stop por favor`); so do the reasonable-person phrases (FCC 47 CFR
    64.1200(a)(10)). A message that merely contains a keyword does not (`No puedo parar de reír`)."""
    text = _normalise(body)
    if not text:
        return NOT_A_KEYWORD
    words = _words(text)
    joined = " ".join(words)
    languages = keyword_languages(policy)
    kinds = (OPT_OUT, OPT_IN, HELP)
    for language, tables in languages:
        for kind in kinds:
            for keyword in tables.get(kind, ()):
                if joined == _key(keyword):
                    return Keyword(kind, "keyword", keyword, language)
    politeness = tuple(_key(p) for _, tables in languages for p in tables.get("politeness", ()))
    core = " ".join(_strip_politeness(words, politeness))
    if core != joined:
        for language, tables in languages:
            for kind in kinds:
                for keyword in tables.get(kind, ()):
                    if core == _key(keyword):
                        return Keyword(kind, "keyword+politeness", keyword, language)
    for language, tables in languages:
        for phrase in tables.get("phrases", ()):
            p = _key(phrase)
            if core == p or joined == p:
                return Keyword(OPT_OUT, "phrase", phrase, language)
    return NOT_A_KEYWORD


def contains_opt_out_keyword(body: str, policy: Policy) -> bool:
    """R5: does the text already carry an opt-out keyword as a whole word (`Reply STOP`)?"""
    words = " " + " ".join(_words(_normalise(body))) + " "
    return any(f" {k.casefold()} " in words for k in policy.OPT_OUT_KEYWORDS)


INSTRUCTION_VERBS = ("reply", "text", "txt", "send", "respond")


def carries_opt_out_instruction(body: str, policy: Policy) -> bool:
    """R5: does the body already tell the reader how to opt out, so the opt-out text would say
    it twice? An opt-out keyword (R3 list, whole word) counts when it is written as one — in
    capitals (`Reply STOP to quit`, `END to opt out`) or right after reply/text/send (`text stop
    to end`). Ordinary words that happen to be keywords do not (`Sale ends at the end of the
    month`, `Stop by our store`, `Reply to cancel or reschedule`), or those messages would go
    out with no way to opt out at all."""
    cased = _words((body or "").replace("\u2019", "'"))
    words = [w.casefold() for w in cased]
    present = set(words)  # most bodies contain no keyword at all: one set lookup each, then done
    for keyword in policy.OPT_OUT_KEYWORDS:
        parts = keyword.casefold().split()
        n = len(parts)
        if parts[0] not in present:
            continue
        for i in range(len(words) - n + 1):
            if words[i : i + n] != parts:
                continue
            if all(w.isupper() for w in cased[i : i + n]) or (i and words[i - 1] in INSTRUCTION_VERBS):
                return True
    return False


# --- R5/R6 composition ----------------------------------------------------------------------

MERGE_FIELDS = ("first_name", "last_name", "full_name", "phone", "email", "business_name")


def merge_fields_unknown(body: str) -> list[str]:
    """Merge fields in `body` that do not exist ({first_name} does; {frist_name} does not)."""
    names = [f for _, f, _, _ in string.Formatter().parse(body) if f is not None]
    return sorted({n for n in names if n not in MERGE_FIELDS})


def merge(body: str, values: dict) -> str:
    """Fill {first_name}… from the contact; a missing value becomes empty, never "None"."""
    out = body
    for name in MERGE_FIELDS:
        out = out.replace("{" + name + "}", str(values.get(name) or ""))
    return out


def opt_out_text_of(opt_out_text: str, policy: Policy) -> str:
    return (opt_out_text or "").strip() or policy.DEFAULT_OPT_OUT_TEXT


def sender_text_of(sender_text: str, business_name: str, policy: Policy) -> str:
    return (sender_text or "").strip() or policy.DEFAULT_SENDER_TEXT.format(business_name=business_name)


def compose(
    body: str,
    *,
    source: str,
    is_initial: bool,
    has_texted_in: bool,
    business_name: str,
    opt_out_text: str,
    sender_text: str,
    policy: Policy,
) -> str:
    """The exact text the carrier gets (R5, R6); previews show this same string.

    - Sender identification on the initial message for SENDER_ID_SOURCES (bulk); never one-to-one.
    - Opt-out language on the initial message for OPT_OUT_SOURCES (bulk); for one-to-one and the
      missed-call text back (FIRST_TEXT_OPT_OUT_SOURCES) only when it is the first text ever to a
      contact who has never texted in; never when the body already carries an opt-out
      instruction (a keyword written as one), so it never appears twice."""
    parts = [body.strip()]
    if is_initial and source in policy.SENDER_ID_SOURCES and source != "one_to_one":
        parts.append(sender_text_of(sender_text, business_name, policy))
    first_text = source in policy.FIRST_TEXT_OPT_OUT_SOURCES and not has_texted_in
    wants_opt_out = is_initial and (source in policy.OPT_OUT_SOURCES or first_text)
    if wants_opt_out and not carries_opt_out_instruction(body, policy):
        parts.append(opt_out_text_of(opt_out_text, policy))
    return "\n".join(parts)


def opt_out_text_problem(text: str, policy: Policy) -> str:
    """R5: a custom opt-out text must contain a standard opt-out keyword (no filter evasion)."""
    if text.strip() and not contains_opt_out_keyword(text, policy):
        keywords = ", ".join(k for k in policy.OPT_OUT_KEYWORDS if " " not in k)
        return f"The opt-out text must contain a standard opt-out keyword ({keywords})."
    return ""


# --- R3/R4/HELP keyword replies -------------------------------------------------------------

BUSINESS_NAME_FIELD = "{business_name}"
REPLY_KINDS = (OPT_OUT, OPT_IN, HELP)


def fill_business_name(template: str, business_name: str) -> str:
    """{business_name} filled in; any other brace goes out as written (never a format error)."""
    return template.replace(BUSINESS_NAME_FIELD, business_name)


def default_reply(kind: str, language: str, policy: Policy) -> str:
    """The policy's reply to a keyword of `kind` in `language`; English when the language has
    no reply of that kind."""
    other = policy.KEYWORD_REPLIES.get(language, {}).get(kind) if language != "en" else None
    english = {OPT_OUT: policy.OPT_OUT_CONFIRMATION, OPT_IN: policy.OPT_IN_CONFIRMATION, HELP: policy.HELP_REPLY}
    return other or english[kind]


def keyword_reply(*, kind: str, language: str, own: dict[str, str], business_name: str, policy: Policy) -> str:
    """The text that answers a keyword (R3 confirmation, R4 confirmation, HELP) written in
    `language`. `own` holds the sub-account's texts of this kind by language (Business Info;
    empty = none). Its text in the contact's language goes; else the policy's text in that
    language; a language the policy has no reply for gets the English one (the sub-account's,
    else the default). So a contact who wrote `PARAR` is answered in Spanish."""
    text = (own.get(language) or "").strip()
    has_policy_reply = language != "en" and kind in policy.KEYWORD_REPLIES.get(language, {})
    if not text and not has_policy_reply:
        text = (own.get("en") or "").strip()
    return fill_business_name(text or default_reply(kind, language, policy), business_name)


_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]{2,}")
_PHONE = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_RATES = re.compile(r"\b(?:msg|message)s?\s*(?:&|and)\s*data\s+rates\s+may\s+apply", re.IGNORECASE)
_MERGE_FIELD = re.compile(r"\{([^{}]*)\}")


def _names_business(text: str, business_name: str) -> bool:
    name = _fold(business_name.casefold()).strip()
    return BUSINESS_NAME_FIELD in text or bool(name and name in _fold(text.casefold()))


def _has_support_contact(text: str) -> bool:
    if _EMAIL.search(text):
        return True
    return any(7 <= sum(ch.isdigit() for ch in m.group()) <= 15 for m in _PHONE.finditer(text))


def _tells_how_to_opt_out(text: str, policy: Policy) -> bool:
    words = f" {_key(text)} "
    return any(f" {_key(k)} " in words for _, tables in keyword_languages(policy) for k in tables.get(OPT_OUT, ()))


REPLY_LABELS = {HELP: "HELP reply", OPT_OUT: "opt-out confirmation", OPT_IN: "opt-in confirmation"}


def _states_rates(text: str, language: str, policy: Policy) -> bool:
    if _RATES.search(text):  # the English notice is fine in any language's reply
        return True
    words = f" {_key(text)} "
    return any(f" {_key(notice)} " in words for notice in policy.RATES_NOTICES.get(language, ()))


def keyword_reply_problem(kind: str, text: str, *, business_name: str, policy: Policy, language: str = "en") -> str:
    """What a sub-account's own keyword reply lacks, in one sentence naming each missing part
    ("" when it is fine; an empty text means the default). CTIA's rules for the texts: the HELP
    reply names the business, a support contact (phone or email), how to opt out and "Msg&data
    rates may apply" (in its language); confirmations name the business; the opt-in one also
    says how to opt out."""
    text = (text or "").strip()
    if not text:
        return ""
    label = REPLY_LABELS[kind]
    if language != "en":
        label = f"{policy.LANGUAGE_NAMES.get(language, language)} {label}"
    label = "The " + label
    unknown = sorted({f for f in _MERGE_FIELD.findall(text) if "{" + f + "}" != BUSINESS_NAME_FIELD})
    if unknown:
        fields = ", ".join("{" + f + "}" for f in unknown)
        return f"{label} can only fill in {BUSINESS_NAME_FIELD}; remove {fields}."
    missing = []
    if not _names_business(text, business_name):
        missing.append(f"the business name (“{business_name.strip()}” or {BUSINESS_NAME_FIELD})")
    if kind == HELP and not _has_support_contact(text):
        missing.append("a support phone number or email address")
    if kind in (HELP, OPT_IN) and not _tells_how_to_opt_out(text, policy):
        if language == "en":
            missing.append("how to opt out (e.g. “Reply STOP to unsubscribe”)")
        else:
            keyword = (policy.KEYWORD_LANGUAGES.get(language, {}).get(OPT_OUT) or ("STOP",))[0]
            missing.append(f"how to opt out (an opt-out keyword such as {keyword})")
    if kind == HELP and not _states_rates(text, language, policy):
        notices = policy.RATES_NOTICES.get(language) or policy.RATES_NOTICES.get("en") or ("Msg&data rates may apply",)
        missing.append(f"“{notices[0]}”")
    if not missing:
        return ""
    listed = missing[0] if len(missing) == 1 else ", ".join(missing[:-1]) + " and " + missing[-1]
    return f"{label} must also contain {listed}."
