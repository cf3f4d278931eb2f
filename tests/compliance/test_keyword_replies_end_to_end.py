"""The keyword replies and other languages end to end (R3/R4/HELP): signed inbound webhooks
(the memory provider, which speaks Twilio's format like the simulator), the sub-account's own
texts, the reply in the contact's language, and ordinary sentences that change nothing."""

import pytest

from compliance.models import DndChange
from compliance.policy import Policy
from messaging import dispatch, services
from messaging.models import Contact, Status
from tests.compliance.test_rules_keywords_languages import NOT_OPT_OUTS
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db

HELP = (
    "{business_name}: questions? Call 212-555-0100 or help@sunrise.test. Reply STOP to opt out. "
    "Msg&data rates may apply."
)
OPT_OUT = "{business_name}: you are unsubscribed and will get no more texts. Text START to come back."
OPT_IN = "Welcome back to {business_name}! Reply STOP to opt out."
POLICY = Policy()


@pytest.fixture
def contact(world):
    return Contact.objects.create(sub_account=world.a1, phone="+12125550410", consent="granted")


@pytest.fixture
def own_replies(world):
    world.a1.help_reply, world.a1.opt_out_confirmation, world.a1.opt_in_confirmation = HELP, OPT_OUT, OPT_IN
    world.a1.save(update_fields=["help_reply", "opt_out_confirmation", "opt_in_confirmation"])
    return world.a1


def text_in(client, contact, body, sid):
    params = {"MessageSid": sid, "From": contact.phone, "To": "+16465550101", "Body": body}
    assert post_signed(client, "/webhooks/twilio/inbound", params).status_code == 200
    contact.refresh_from_db()


def replies(contact):
    return list(contact.messages.filter(source="keyword_reply").order_by("created_at").values_list("body", flat=True))


def filled(template):
    return template.replace("{business_name}", "Sunrise Dental Care")


def test_help_gets_the_sub_accounts_help_reply(client, contact, own_replies, memory_provider):
    text_in(client, contact, "HELP", "SM1")
    assert replies(contact) == [filled(HELP)]
    reply = contact.messages.get(source="keyword_reply")
    dispatch.dispatch_batch([str(reply.pk)])
    assert [s.body for s in memory_provider.outbox] == [filled(HELP)]  # exactly what was saved goes


def test_stop_gets_the_custom_confirmation_and_start_the_custom_opt_in(client, contact, own_replies):
    text_in(client, contact, "STOP", "SM1")
    assert contact.dnd == "permanent"
    text_in(client, contact, "START", "SM2")
    assert contact.dnd == "none"
    assert replies(contact) == [filled(OPT_OUT), filled(OPT_IN)]


def test_without_own_texts_the_defaults_go_as_before(client, contact):
    text_in(client, contact, "info", "SM1")
    text_in(client, contact, "stop please", "SM2")
    text_in(client, contact, "yes", "SM3")
    assert replies(contact) == [
        "Sunrise Dental Care: Reply STOP to unsubscribe. Msg&data rates may apply.",
        "You have been unsubscribed from Sunrise Dental Care and will receive no more messages. "
        "Reply START to resubscribe.",
        "You have been resubscribed to Sunrise Dental Care. Reply STOP to unsubscribe.",
    ]


@pytest.mark.parametrize(
    ("opt_out", "opt_in", "help_", "language"),
    [("PARAR", "INICIO", "AYUDA", "es"), ("Arrêt", "Commencer", "aide", "fr")],
)
def test_spanish_and_french_keywords_are_answered_in_that_language(
    client, contact, own_replies, opt_out, opt_in, help_, language
):
    queued = services.messages_send(sub_account=contact.sub_account, contacts=[contact], body="Promo", source="bulk")[0]
    text_in(client, contact, help_, "SM1")
    text_in(client, contact, opt_out, "SM2")
    assert (contact.dnd, contact.consent) == ("permanent", "revoked")
    queued.refresh_from_db()
    assert (queued.status, queued.failure_reason) == (Status.FAILED, "Recipient opted out.")
    text_in(client, contact, opt_in, "SM3")
    assert contact.dnd == "none"
    texts = POLICY.KEYWORD_REPLIES[language]
    assert replies(contact) == [filled(texts["help"]), filled(texts["opt_out"]), filled(texts["opt_in"])]


@pytest.mark.parametrize(
    ("body", "language"),
    [(phrase, code) for code, tables in POLICY.KEYWORD_LANGUAGES.items() for phrase in tables["phrases"]],
)
def test_r3_every_spanish_and_french_phrase_opts_out_through_the_webhook(client, contact, body, language):
    text_in(client, contact, body, "SM1")
    assert contact.dnd == "permanent"
    assert DndChange.objects.get(contact=contact).detail == f"{body!r} (phrase)"
    assert replies(contact) == [filled(POLICY.KEYWORD_REPLIES[language]["opt_out"])]


@pytest.mark.parametrize(
    "body", [w for tables in POLICY.KEYWORD_LANGUAGES.values() for w in tables["opt_out"]] + ["ARRÊT", "Désabonner"]
)
def test_r3_every_spanish_and_french_keyword_opts_out_through_the_webhook(client, contact, body):
    text_in(client, contact, body, "SM1")
    assert (contact.dnd, contact.consent) == ("permanent", "revoked")
    assert len(replies(contact)) == 1


@pytest.mark.parametrize("body", NOT_OPT_OUTS)
def test_r3_ordinary_sentences_change_nothing_through_the_webhook(client, contact, body):
    text_in(client, contact, body, "SM1")
    assert (contact.dnd, contact.consent) == ("none", "granted")
    assert not DndChange.objects.exists() and replies(contact) == []


def test_r3_one_confirmation_whatever_the_language(client, contact):
    text_in(client, contact, "PARAR", "SM1")
    text_in(client, contact, "STOP", "SM2")
    text_in(client, contact, "arrêt svp", "SM3")
    assert len(replies(contact)) == 1


def test_the_simulators_stop_reply_gets_the_sub_accounts_confirmation(client, world, settings, own_replies):
    """Under `make run` the carrier simulator's STOP replies go through the same signed webhook,
    and the app answers them with the sub-account's own confirmation."""
    from messaging.providers import simulator

    contact = world.a1_contact
    sent = services.message_send_one(sub_account=world.a1, contact=contact, body="Hi", source="one_to_one")
    dispatch.dispatch_batch([str(sent.pk)])
    sent.refresh_from_db()
    settings.SMS_BACKEND = "simulator"
    settings.SIMULATOR_RATES = {"stop": 1.0}
    simulator.play_carrier(sent.provider_sid, sent.to_number, sent.from_number,
                           transport=lambda p, d, h: client.post(p, d, headers=h))  # fmt: skip
    contact.refresh_from_db()
    assert contact.dnd == "permanent"
    assert replies(contact) == [filled(OPT_OUT)]


def test_a_spanish_text_of_the_sub_accounts_own_answers_ayuda(client, contact, own_replies):
    own_replies.other_language_replies = {"es": {"help": "{business_name}: llame al 212-555-0100."}}
    own_replies.save(update_fields=["other_language_replies"])
    text_in(client, contact, "AYUDA", "SM1")
    text_in(client, contact, "AIDE", "SM2")  # no French text of its own: the policy's French one
    assert replies(contact) == [
        "Sunrise Dental Care: llame al 212-555-0100.",
        filled(POLICY.KEYWORD_REPLIES["fr"]["help"]),
    ]
