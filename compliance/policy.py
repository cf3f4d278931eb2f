"""The policy numbers (POLICY.md R1–R13) as one typed object. Every value is a default that an
operator can override with the `COMPLIANCE_POLICY` setting (a dict of field → value), without
touching code. Pure rules take this object as a parameter; nothing reads settings elsewhere."""

from dataclasses import dataclass, field, fields, replace
from functools import cache
from typing import Literal

from .carrier_codes import Remediation, dnd_by_error_code


@dataclass(frozen=True)
class Policy:
    # R1: carrier error code → DND remediation, from the one table of codes (carrier_codes.py).
    # Codes not listed: no DND, still an error (R8).
    DND_BY_ERROR_CODE: dict[str, Remediation] = field(default_factory=dnd_by_error_code)
    # R3 opt-out keywords (whole message), R4 opt-in keywords, HELP keywords.
    OPT_OUT_KEYWORDS: tuple[str, ...] = (
        "STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT",
    )  # fmt: skip
    OPT_IN_KEYWORDS: tuple[str, ...] = ("START", "YES", "UNSTOP")
    HELP_KEYWORDS: tuple[str, ...] = ("HELP", "INFO")
    # R3 reasonable-person opt-outs (FCC 47 CFR 64.1200(a)(10)): data, not code.
    OPT_OUT_PHRASES: tuple[str, ...] = (
        "remove me", "take me off your list", "take me off the list", "take me off", "stop texting me",
        "stop messaging me", "stop sending me messages", "don't text me", "do not text me", "dont text me",
        "don't message me", "do not contact me", "unsubscribe me", "leave me alone", "no more texts",
        "no more messages", "opt me out",
    )  # fmt: skip
    POLITENESS_WORDS: tuple[str, ...] = (
        "please", "pls", "plz", "thank you", "thanks", "thx", "ty", "now", "asap", "ok", "okay",
    )  # fmt: skip
    # R3/R4 in other languages: the same tables as the English ones above, per language code
    # (docs/KEYWORDS.md says how to add one). Matched like the English ones, accents optional
    # (`ARRÊT` = `ARRET`); the reply goes in the language the contact used (KEYWORD_REPLIES).
    # Words shared with English (STOP, INFO) are English: English is matched first.
    KEYWORD_LANGUAGES: dict[str, dict[str, tuple[str, ...]]] = field(
        default_factory=lambda: {
            "es": {
                "opt_out": (
                    "PARAR", "PARE", "ALTO", "CANCELAR", "DETENER", "BAJA", "DAR DE BAJA", "DARME DE BAJA",
                    "DARSE DE BAJA", "DESUSCRIBIR", "DESUSCRIBIRME", "ANULAR",
                ),
                "opt_in": ("INICIO", "COMENZAR", "ALTA", "REANUDAR", "SUSCRIBIR"),
                "help": ("AYUDA",),
                "phrases": (
                    "no me envíes más mensajes", "no me envien mas mensajes", "no me manden más mensajes",
                    "no me escriban más", "no me escribas más", "no quiero recibir más mensajes",
                    "no quiero más mensajes", "no más mensajes", "deja de enviarme mensajes",
                    "dejen de enviarme mensajes", "dejen de escribirme", "deja de escribirme",
                    "quiero darme de baja", "denme de baja", "sáquenme de la lista", "sácame de la lista",
                    "bórrenme de la lista", "bórrame de la lista", "elimínenme de la lista",
                    "quítenme de la lista",
                ),
                "politeness": ("por favor", "porfa", "gracias", "muchas gracias", "ya", "ahora"),
            },
            "fr": {
                "opt_out": (
                    "ARRET", "ARRETER", "ARRETE", "ARRETEZ", "ANNULER", "DESABONNER", "DESINSCRIRE",
                    "DESABONNEMENT", "DESINSCRIPTION",
                ),
                "opt_in": ("COMMENCER", "DEMARRER", "REPRENDRE", "ABONNER"),
                "help": ("AIDE",),
                "phrases": (
                    "ne m'envoyez plus de messages", "ne m'envoyez plus de textos", "ne m'écrivez plus",
                    "arrêtez de m'envoyer des messages", "arrêtez de m'écrire", "arrête de m'écrire",
                    "retirez-moi de la liste", "retirez-moi de votre liste", "enlevez-moi de la liste",
                    "supprimez-moi de la liste", "désabonnez-moi", "désinscrivez-moi", "je veux me désabonner",
                    "je veux me désinscrire", "je ne veux plus de messages", "je ne veux plus recevoir de messages",
                    "laissez-moi tranquille",
                ),
                "politeness": ("s'il vous plaît", "s'il te plaît", "svp", "stp", "merci", "merci beaucoup",
                               "maintenant"),
            },
        }
    )  # fmt: skip
    # The replies per language; English is OPT_OUT_CONFIRMATION / OPT_IN_CONFIRMATION / HELP_REPLY
    # below (and a sub-account's own texts). {business_name} is filled in.
    KEYWORD_REPLIES: dict[str, dict[str, str]] = field(
        default_factory=lambda: {
            "es": {
                "opt_out": "Se ha dado de baja de {business_name} y no recibirá más mensajes. "
                "Responda INICIO para volver a suscribirse.",
                "opt_in": "Se ha suscrito de nuevo a {business_name}. Responda PARAR para darse de baja.",
                "help": "{business_name}: Responda PARAR para darse de baja. "
                "Pueden aplicarse tarifas de mensajes y datos.",
            },
            "fr": {
                "opt_out": "Vous êtes désabonné de {business_name} et ne recevrez plus de messages. "
                "Répondez COMMENCER pour vous réabonner.",
                "opt_in": "Vous êtes de nouveau abonné à {business_name}. Répondez ARRET pour vous désabonner.",
                "help": "{business_name} : Répondez ARRET pour vous désabonner. "
                "Des frais de messagerie et de données peuvent s'appliquer.",
            },
        }
    )
    # What a HELP reply must say about rates, per language (keyword_reply_problem; accents and
    # case optional). English also accepts "Msg & data", "Message and data".
    RATES_NOTICES: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "en": ("Msg&data rates may apply",),
            "es": ("Pueden aplicarse tarifas de mensajes y datos", "Se pueden aplicar tarifas de mensajes y datos",
                   "Pueden aplicar tarifas de mensajes y datos"),
            "fr": ("Des frais de messagerie et de données peuvent s'appliquer",
                   "Des frais de messages et de données peuvent s'appliquer"),
        }
    )  # fmt: skip
    LANGUAGE_NAMES: dict[str, str] = field(default_factory=lambda: {"en": "English", "es": "Spanish", "fr": "French"})
    OPT_OUT_CONFIRMATION: str = (
        "You have been unsubscribed from {business_name} and will receive no more messages. Reply START to resubscribe."
    )
    HELP_REPLY: str = "{business_name}: Reply STOP to unsubscribe. Msg&data rates may apply."
    OPT_IN_CONFIRMATION: str = "You have been resubscribed to {business_name}. Reply STOP to unsubscribe."
    # R5/R6: appended to initial messages of these sources.
    DEFAULT_OPT_OUT_TEXT: str = "Reply STOP to unsubscribe"
    DEFAULT_SENDER_TEXT: str = "Thanks, {business_name}"
    OPT_OUT_SOURCES: frozenset[str] = frozenset({"bulk"})
    # R5's first-text rule: the opt-out text goes on the first text ever to a contact who never
    # texted in. One-to-one, and the missed-call text back (a reply to a caller, often the first
    # text they get from the business).
    FIRST_TEXT_OPT_OUT_SOURCES: frozenset[str] = frozenset({"one_to_one", "missed_call_text_back"})
    SENDER_ID_SOURCES: frozenset[str] = frozenset({"bulk"})
    # R7 ramp (model V2).
    RAMP_LIMITS: tuple[int, ...] = (100, 250, 500, 750, 1500, 2250, 3000, 5000)
    RAMP_WINDOW_HOURS: int = 24
    # R8 rate monitoring.
    RATE_MIN_VOLUME: int = 50
    RATE_WINDOW_HOURS: int = 24
    ERROR_RATE_HEALTHY: float = 0.06
    OPT_OUT_RATE_HEALTHY: float = 0.003
    OPT_OUT_RATE_GOOD: float = 0.01
    ERROR_RATE_VIOLATION: float = 0.08
    OPT_OUT_RATE_VIOLATION: float = 0.01
    ERROR_RATE_SUSPENSION: float = 0.125
    OPT_OUT_RATE_SUSPENSION: float = 0.025
    SUSPENSION_ENDS: Literal["midnight_utc", "24h"] = "midnight_utc"
    SUSPENDED_SOURCES: frozenset[str] = frozenset({"bulk", "workflow", "campaign"})
    # R9.
    PERMANENT_AFTER: int = 3
    PERMANENT_WINDOW_DAYS: int = 30
    MAX_APPEALS_PER_SUSPENSION: int = 2
    SELF_LIFT_AGENCY_MIN_AGE_DAYS: int = 90
    SELF_LIFT_EVERY_DAYS: int = 30
    # R12: no new phone numbers while restricted for repeated violations — this many suspensions
    # started within the window (and after support last lifted the restriction).
    PROVISIONING_RESTRICT_AFTER: int = 2
    PROVISIONING_RESTRICT_WINDOW_DAYS: int = 30
    # R10.
    REQUIRE_CONSENT_FOR: frozenset[str] = frozenset({"bulk", "workflow", "campaign"})
    # Issue 17: A2P 10DLC / toll-free registration. On: bulk, campaign and workflow texts from a US
    # local number need an approved 10DLC registration, from a US toll-free number a verification.
    REGISTRATION_REQUIRED: bool = True
    REGISTRATION_REQUIRED_FOR: frozenset[str] = frozenset({"bulk", "workflow", "campaign"})
    # R11.
    PROHIBITED_TERMS: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "alcohol": ("alcohol", "beer", "wine", "vodka", "whiskey", "liquor", "tequila"),
            "firearms": ("firearm", "firearms", "gun", "guns", "rifle", "ammo", "ammunition"),
            "gambling": ("gambling", "casino", "poker", "betting", "slots", "sportsbook"),
            "tobacco": ("tobacco", "cigarette", "cigarettes", "cigar", "vape", "vaping", "nicotine"),
            "adult": ("porn", "xxx", "nude", "nudes", "escort", "sexting"),
        }
    )
    SNOWSHOE_NUMBERS: int = 3
    # R13 quiet hours.
    QUIET_SOURCES: frozenset[str] = frozenset({"bulk", "campaign", "workflow"})
    QUIET_START_HOUR: int = 8
    QUIET_END_HOUR: int = 21
    QUIET_END_HOUR_FL_OK: int = 20  # Florida and Oklahoma numbers
    QUIET_FREQUENCY_CAP_FL_OK: int = 3  # such messages per contact per 24 h (FL, OK)
    QUIET_SUNDAY_START_HOUR_TX: int = 12  # Texas numbers on Sundays
    VALIDITY_HOURS: int = 10
    # Opt-out confirmations, HELP replies etc. are exempt from ramp, suspension, quiet hours (R3).
    COMPLIANCE_SOURCES: frozenset[str] = frozenset({"keyword_reply"})

    def ramp_limit(self, level: int) -> int:
        return self.RAMP_LIMITS[level - 1]


def build_policy(overrides: dict | None) -> Policy:
    """Policy defaults with the operator's overrides; unknown keys are an error, not ignored."""
    overrides = dict(overrides or {})
    known = {f.name for f in fields(Policy)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"COMPLIANCE_POLICY has unknown keys: {sorted(unknown)}")
    for key, value in overrides.items():
        if isinstance(value, (set, list)) and key.endswith(("SOURCES", "_FOR")):
            overrides[key] = frozenset(value)
    return replace(Policy(), **overrides)


@cache
def _cached(overrides_key):
    # Settings are read here, not at import: the pure rule modules import Policy for its type
    # and must stay importable (and testable) without Django configured.
    from django.conf import settings

    return build_policy(getattr(settings, "COMPLIANCE_POLICY", None))


def get_policy() -> Policy:
    """The policy in force. Tests change it with `settings.COMPLIANCE_POLICY = {...}`."""
    from django.conf import settings  # not at import: see _cached

    return _cached(repr(getattr(settings, "COMPLIANCE_POLICY", None)))
