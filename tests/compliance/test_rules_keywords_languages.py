"""R3/R4/HELP in Spanish and French, and the keyword replies: pure functions (no database).

Every keyword and phrase of the policy's other languages is an opt-out/opt-in/help, with and
without accents; ordinary sentences that contain those words are not."""

import pytest

from compliance.policy import Policy
from compliance.rules import (
    HELP,
    OPT_IN,
    OPT_OUT,
    classify_inbound,
    keyword_reply,
    keyword_reply_problem,
)

POLICY = Policy()
LANGUAGES = POLICY.KEYWORD_LANGUAGES


def examples(kind):
    return [(code, word) for code, tables in LANGUAGES.items() for word in tables[kind]]


@pytest.mark.parametrize(("language", "word"), examples("opt_out"))
def test_r3_every_spanish_and_french_opt_out_keyword(language, word):
    for body in (word, word.lower(), word.capitalize(), f" {word}! ", f"¡{word}!"):
        assert classify_inbound(body, POLICY) == classify_inbound(word, POLICY)
        got = classify_inbound(body, POLICY)
        assert (got.kind, got.rule, got.language) == (OPT_OUT, "keyword", language), body


@pytest.mark.parametrize(("language", "word"), examples("opt_in"))
def test_r4_every_spanish_and_french_opt_in_keyword(language, word):
    got = classify_inbound(word.lower(), POLICY)
    assert (got.kind, got.rule, got.language) == (OPT_IN, "keyword", language)


@pytest.mark.parametrize(("language", "word"), examples("help"))
def test_every_spanish_and_french_help_keyword(language, word):
    got = classify_inbound(f"{word}?", POLICY)
    assert (got.kind, got.language) == (HELP, language)


@pytest.mark.parametrize(("language", "phrase"), examples("phrases"))
def test_r3_every_spanish_and_french_reasonable_person_phrase(language, phrase):
    for body in (phrase, phrase.upper(), phrase.capitalize() + ".", phrase + "!!"):
        got = classify_inbound(body, POLICY)
        assert (got.kind, got.rule, got.language) == (OPT_OUT, "phrase", language), body


@pytest.mark.parametrize(
    ("body", "matched", "language"),
    [
        # the words the issue names, accents optional either way
        ("PARAR", "PARAR", "es"), ("ALTO", "ALTO", "es"), ("CANCELAR", "CANCELAR", "es"),
        ("DETENER", "DETENER", "es"), ("BAJA", "BAJA", "es"), ("ARRET", "ARRET", "fr"),
        ("ARRÊT", "ARRET", "fr"), ("arrêt", "ARRET", "fr"), ("Arrêter", "ARRETER", "fr"),
        ("ARRETER", "ARRETER", "fr"), ("DÉSABONNER", "DESABONNER", "fr"), ("desabonner", "DESABONNER", "fr"),
        ("Désinscrire", "DESINSCRIRE", "fr"), ("darme de baja", "DARME DE BAJA", "es"),
    ],
)  # fmt: skip
def test_r3_the_named_words(body, matched, language):
    got = classify_inbound(body, POLICY)
    assert (got.kind, got.matched, got.language) == (OPT_OUT, matched, language)


@pytest.mark.parametrize(
    ("body", "kind", "language"),
    [
        ("PARAR por favor", OPT_OUT, "es"), ("Alto, gracias", OPT_OUT, "es"), ("Por favor, BAJA", OPT_OUT, "es"),
        ("Cancelar ya", OPT_OUT, "es"), ("ARRET svp", OPT_OUT, "fr"), ("Arrêt s'il vous plaît", OPT_OUT, "fr"),
        ("arret s’il vous plait", OPT_OUT, "fr"), ("Désabonner, merci", OPT_OUT, "fr"),
        ("Merci beaucoup, ARRÊTEZ", OPT_OUT, "fr"), ("INICIO por favor", OPT_IN, "es"),
        ("Commencer svp", OPT_IN, "fr"), ("AYUDA por favor", HELP, "es"), ("Aide svp", HELP, "fr"),
        # politeness of one language around a keyword of another: still an opt-out
        ("stop por favor", OPT_OUT, "en"), ("STOP merci", OPT_OUT, "en"),
        # a phrase with politeness around it
        ("Por favor, sáquenme de la lista", OPT_OUT, "es"), ("Retirez-moi de la liste svp", OPT_OUT, "fr"),
    ],
)  # fmt: skip
def test_keyword_with_politeness_in_spanish_and_french(body, kind, language):
    got = classify_inbound(body, POLICY)
    assert (got.kind, got.language) == (kind, language), body


NOT_OPT_OUTS = [
    # Spanish: sentences with parar, alto, cancelar, detener, baja, ayuda, inicio, comenzar…
    "No puedo parar de reír",
    "Alto ahí, ¿a qué hora abren?",
    "¿Tienen algo más alto?",
    "Quiero cancelar mi cita del martes",
    "¿Puedo cancelar y reprogramar?",
    "Hay que detener la fuga del baño",
    "El precio está muy alto",
    "Mi hijo está de baja esta semana",
    "La marea está baja",
    "Baja la música por favor, es para el anuncio",
    "Necesito ayuda con mi reserva",
    "¿Me ayuda a encontrar la dirección?",
    "Voy a comenzar el tratamiento el lunes",
    "Inicio de clases el 5 de septiembre",
    "¿Cuándo es el inicio del curso?",
    "No pare de llamar, estoy en el trabajo",
    "Gracias por la ayuda de ayer",
    "Me di de alta en el gimnasio ayer",
    "No me gusta el alto volumen",
    "Para mañana a las 10, ¿está bien?",
    # French: arrêt, arrêter, annuler, aide, commencer, désabonner…
    "Je suis à l'arrêt de bus",
    "Je suis à l’arrêt de bus, j’arrive",
    "Arrêt de travail jusqu'à lundi",
    "Je ne peux pas m'arrêter de rire",
    "Il faut arrêter le robinet",
    "Je voudrais annuler mon rendez-vous de jeudi",
    "Peut-on annuler et reporter ?",
    "J'ai besoin d'aide pour ma réservation",
    "Merci pour votre aide",
    "Aide-moi à trouver l'adresse",
    "On peut commencer à 9 h ?",
    "Je vais me désabonner de Netflix, trop cher",
    "Arrête de rire, c'est sérieux",
    "Plus de messages comme ça svp, c'était super",
    "Le film commence à 20 h",
    "Arrêtez-vous au deuxième feu",
    # English, unchanged
    "Count me in! STOP this bill",
    "I can't stop smiling",
    "Stop by our store",
    "See you at the end of the week",
]


@pytest.mark.parametrize("body", NOT_OPT_OUTS)
def test_r3_ordinary_sentences_with_those_words_are_not_keywords(body):
    assert classify_inbound(body, POLICY).kind == "none", body


# --- the replies ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [OPT_OUT, OPT_IN, HELP])
def test_english_keywords_get_the_sub_accounts_text_or_the_default(kind):
    default = {OPT_OUT: POLICY.OPT_OUT_CONFIRMATION, OPT_IN: POLICY.OPT_IN_CONFIRMATION, HELP: POLICY.HELP_REPLY}[kind]
    got = keyword_reply(kind=kind, language="en", own={"en": ""}, business_name="Sunrise", policy=POLICY)
    assert got == default.replace("{business_name}", "Sunrise")
    own = {"en": " {business_name} own ", "es": "{business_name} propio"}
    assert keyword_reply(kind=kind, language="en", own=own, business_name="Sunrise", policy=POLICY) == "Sunrise own"


@pytest.mark.parametrize(
    ("language", "kind"), [(lang, kind) for lang in ("es", "fr") for kind in (OPT_OUT, OPT_IN, HELP)]
)
def test_spanish_and_french_keywords_get_the_policys_reply_in_their_language(language, kind):
    """With no text of the sub-account's own in that language, a contact who wrote PARAR or
    ARRET is answered in their language with the policy's text — never with the English one."""
    own = {"en": "Sunrise: own English", language: "  "}
    got = keyword_reply(kind=kind, language=language, own=own, business_name="Sunrise", policy=POLICY)
    assert got == POLICY.KEYWORD_REPLIES[language][kind].replace("{business_name}", "Sunrise")
    assert "Sunrise" in got and "English" not in got


@pytest.mark.parametrize("language", ["es", "fr"])
def test_the_sub_accounts_own_text_in_that_language_goes_first(language):
    own = {"en": "Sunrise: own English", language: "{business_name}: propio"}
    got = keyword_reply(kind=HELP, language=language, own=own, business_name="Sunrise", policy=POLICY)
    assert got == "Sunrise: propio"


def test_a_language_without_replies_falls_back_to_the_sub_accounts_english_text():
    policy = Policy(KEYWORD_LANGUAGES={"it": {"opt_out": ("BASTA",)}})
    keyword = classify_inbound("basta", policy)
    assert (keyword.kind, keyword.language) == (OPT_OUT, "it")
    own = {"en": "{business_name}: bye"}
    assert keyword_reply(kind=OPT_OUT, language="it", own=own, business_name="Sun", policy=policy) == "Sun: bye"
    assert keyword_reply(kind=OPT_OUT, language="it", own={}, business_name="Sun", policy=policy) == (
        policy.OPT_OUT_CONFIRMATION.replace("{business_name}", "Sun")
    )


def test_a_reply_with_braces_is_sent_as_written():
    own = {"en": "{business_name} {x} }{"}
    assert keyword_reply(kind=HELP, language="en", own=own, business_name="Sun", policy=POLICY) == "Sun {x} }{"


# --- what a sub-account's own reply must contain -----------------------------------------------

GOOD_HELP = (
    "Sunrise Dental: help at 212-555-0100 or help@sunrise.test. Reply STOP to opt out. Msg&data rates may apply."
)


def problem(kind, text, business_name="Sunrise Dental"):
    return keyword_reply_problem(kind, text, business_name=business_name, policy=POLICY)


@pytest.mark.parametrize(
    "text",
    [
        GOOD_HELP,
        "{business_name}: call (212) 555-0100. Text STOP to end. Msg & data rates may apply.",
        "SUNRISE DENTAL: support@sunrise.test. Reply STOP to unsubscribe. Message and data rates may apply.",
        "Sunrise Dental: +1 212 555 0100. Reply END to stop. Msg&Data Rates May Apply",
    ],
)
def test_a_complete_help_reply_is_accepted(text):
    assert problem(HELP, text) == ""


def test_an_empty_reply_means_the_default_and_is_accepted():
    assert problem(HELP, "  ") == problem(OPT_OUT, "") == problem(OPT_IN, "") == ""


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        (GOOD_HELP.replace("Sunrise Dental:", "We:"), "the business name (“Sunrise Dental” or {business_name})"),
        (GOOD_HELP.replace(" at 212-555-0100 or help@sunrise.test", ""), "a support phone number or email address"),
        (GOOD_HELP.replace(" Reply STOP to opt out.", ""), "how to opt out (e.g. “Reply STOP to unsubscribe”)"),
        (GOOD_HELP.replace(" Msg&data rates may apply.", ""), "“Msg&data rates may apply”"),
    ],
)
def test_each_missing_part_of_the_help_reply_is_named(text, missing):
    assert problem(HELP, text) == f"The HELP reply must also contain {missing}."


def test_every_missing_part_is_named_at_once():
    assert problem(HELP, "Hello there") == (
        "The HELP reply must also contain the business name (“Sunrise Dental” or {business_name}), a support "
        "phone number or email address, how to opt out (e.g. “Reply STOP to unsubscribe”) and "
        "“Msg&data rates may apply”."
    )


@pytest.mark.parametrize("not_a_contact", ["Call 555-01.", "Open 9 to 5.", "help at sunrise dot test", "Room 12345"])
def test_a_short_number_or_a_spelt_out_address_is_not_a_support_contact(not_a_contact):
    text = f"Sunrise Dental: {not_a_contact} Reply STOP to opt out. Msg&data rates may apply."
    assert "a support phone number or email address" in problem(HELP, text)


def test_a_merge_field_other_than_the_business_name_is_refused():
    assert problem(HELP, GOOD_HELP + " {first_name}") == (
        "The HELP reply can only fill in {business_name}; remove {first_name}."
    )


def test_the_confirmations_must_name_the_business_and_the_opt_in_says_how_to_opt_out():
    assert problem(OPT_OUT, "{business_name}: you are unsubscribed.") == ""
    assert problem(OPT_OUT, "You are unsubscribed.") == (
        "The opt-out confirmation must also contain the business name (“Sunrise Dental” or {business_name})."
    )
    assert problem(OPT_IN, "Welcome back to Sunrise Dental! Reply STOP to opt out.") == ""
    assert problem(OPT_IN, "Welcome back to Sunrise Dental!") == (
        "The opt-in confirmation must also contain how to opt out (e.g. “Reply STOP to unsubscribe”)."
    )


def test_the_default_replies_pass_their_own_checks_but_for_the_help_contact():
    """The defaults are as before; a HELP reply of the sub-account's own must add a contact."""
    assert problem(OPT_OUT, POLICY.OPT_OUT_CONFIRMATION) == problem(OPT_IN, POLICY.OPT_IN_CONFIRMATION) == ""
    assert problem(HELP, POLICY.HELP_REPLY) == (
        "The HELP reply must also contain a support phone number or email address."
    )


# --- the same checks for the Spanish and French texts ------------------------------------------

GOOD_ES = (
    "Sunrise Dental: ayuda al 212-555-0100. Responda PARAR para darse de baja. "
    "Pueden aplicarse tarifas de mensajes y datos."
)
GOOD_FR = (
    "Sunrise Dental : aide au 212-555-0100. Répondez ARRET pour vous désabonner. "
    "Des frais de messagerie et de données peuvent s'appliquer."
)


@pytest.mark.parametrize(("language", "text"), [("es", GOOD_ES), ("fr", GOOD_FR), ("es", GOOD_ES.replace("á", "a"))])
def test_a_complete_spanish_or_french_help_reply_is_accepted(language, text):
    assert keyword_reply_problem(HELP, text, business_name="Sunrise Dental", policy=POLICY, language=language) == ""


@pytest.mark.parametrize(
    ("language", "text", "message"),
    [
        ("es", GOOD_ES.replace(" Pueden aplicarse tarifas de mensajes y datos.", ""),
         "The Spanish HELP reply must also contain “Pueden aplicarse tarifas de mensajes y datos”."),
        ("fr", GOOD_FR.replace(" Des frais de messagerie et de données peuvent s'appliquer.", ""),
         "The French HELP reply must also contain “Des frais de messagerie et de données peuvent s'appliquer”."),
        ("es", GOOD_ES.replace(" Responda PARAR para darse de baja.", ""),
         "The Spanish HELP reply must also contain how to opt out (an opt-out keyword such as PARAR)."),
        ("fr", GOOD_FR.replace(" au 212-555-0100", ""),
         "The French HELP reply must also contain a support phone number or email address."),
        ("fr", "Vous êtes désabonné.", None),
    ],
)  # fmt: skip
def test_each_missing_part_of_a_spanish_or_french_reply_is_named(language, text, message):
    if message is None:  # a confirmation
        assert keyword_reply_problem(
            OPT_OUT, text, business_name="Sunrise Dental", policy=POLICY, language=language
        ) == (
            "The French opt-out confirmation must also contain the business name (“Sunrise Dental” or {business_name})."
        )
    else:
        assert (
            keyword_reply_problem(HELP, text, business_name="Sunrise Dental", policy=POLICY, language=language)
            == message
        )


def test_the_policys_spanish_and_french_replies_pass_their_checks_but_for_the_help_contact():
    for language, texts in POLICY.KEYWORD_REPLIES.items():
        for kind in (OPT_OUT, OPT_IN):
            assert keyword_reply_problem(kind, texts[kind], business_name="X", policy=POLICY, language=language) == ""
        assert keyword_reply_problem(HELP, texts["help"], business_name="X", policy=POLICY, language=language).endswith(
            "must also contain a support phone number or email address."
        )
