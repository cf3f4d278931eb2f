"""R1–R4 end to end through the real webhook views with valid signatures: DND state, history
rows, failed queued messages and the replies sent."""

import pytest

from compliance.models import ConsentEvent, DndChange
from messaging import dispatch, services
from messaging.models import Contact, Message, Status
from messaging.providers import ProviderRejected
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db

CONFIRMATION = (
    "You have been unsubscribed from Sunrise Dental Care and will receive no more messages. Reply START to resubscribe."
)


@pytest.fixture
def contact(world):
    return Contact.objects.create(sub_account=world.a1, phone="+12125550400", consent="granted", first_name="Ida")


def text_in(client, contact, body, sid="SMin", **extra):
    params = {"MessageSid": sid, "From": contact.phone, "To": "+16465550101", "Body": body, **extra}
    response = post_signed(client, "/webhooks/twilio/inbound", params)
    assert response.status_code == 200
    contact.refresh_from_db()
    return response


def replies(contact):
    return list(contact.messages.filter(source="keyword_reply").values_list("body", flat=True))


OPT_OUTS = [
    ("stop", "keyword"), (" Stop ", "keyword"), ("Stop!", "keyword"), ("STOPALL", "keyword"),
    ("stop all", "keyword"), ("unsubscribe", "keyword"), ("cancel", "keyword"), ("end", "keyword"),
    ("quit", "keyword"), ("revoke", "keyword"), ("optout", "keyword"), ("OPT OUT", "keyword"),
    ("stop please", "keyword+politeness"), ("Stop. Thank you", "keyword+politeness"),
    ("remove me", "phrase"), ("take me off your list", "phrase"), ("stop texting me", "phrase"),
    ("don't text me", "phrase"), ("unsubscribe me", "phrase"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "rule"), OPT_OUTS)
def test_r3_opt_out(client, contact, body, rule):
    queued = services.messages_send(sub_account=contact.sub_account, contacts=[contact], body="Promo", source="bulk")[0]
    text_in(client, contact, body)
    # permanent DND, consent revoked, with the rule that fired
    assert (contact.dnd, contact.consent) == ("permanent", "revoked")
    change = DndChange.objects.get(contact=contact)
    assert (change.from_state, change.to_state, change.cause) == ("none", "permanent", "keyword")
    assert f"({rule})" in change.detail and change.message.body == body
    assert ConsentEvent.objects.filter(contact=contact, kind="opt_out").count() == 1
    # every queued message to the contact failed at once
    queued.refresh_from_db()
    assert (queued.status, queued.failure_reason) == (Status.FAILED, "Recipient opted out.")
    # exactly one confirmation, not blocked by the DND it just set
    assert replies(contact) == [CONFIRMATION]
    assert contact.messages.get(source="keyword_reply").status == Status.QUEUED


@pytest.mark.parametrize("body", ["Count me in! STOP this bill", "nonstop", "Don't stop", "See you at the end"])
def test_r3_messages_that_merely_contain_a_keyword_change_nothing(client, contact, body):
    text_in(client, contact, body)
    assert (contact.dnd, contact.consent) == ("none", "granted")
    assert not DndChange.objects.exists() and replies(contact) == []


def test_r3_confirmation_reply_is_dispatched_despite_dnd(client, contact, memory_provider):
    text_in(client, contact, "STOP")
    reply = contact.messages.get(source="keyword_reply")
    dispatch.dispatch_batch([str(reply.pk)])
    assert [s.body for s in memory_provider.outbox] == [CONFIRMATION]


def test_r3_no_app_confirmation_when_twilio_already_sent_one(client, contact):
    text_in(client, contact, "STOP", OptOutType="STOP")
    assert contact.dnd == "permanent" and replies(contact) == []


def test_r3_phrase_twilio_did_not_catch_gets_the_app_confirmation(client, contact):
    text_in(client, contact, "take me off your list")  # no OptOutType: Twilio did not act
    assert replies(contact) == [CONFIRMATION]


def test_r3_provider_opt_out_type_is_honoured_even_for_words_we_do_not_list(client, contact):
    text_in(client, contact, "BASTA", OptOutType="STOP")
    assert contact.dnd == "permanent" and DndChange.objects.get().detail == "'STOP' (provider)"


def test_r3_never_a_second_confirmation_to_a_contact_already_opted_out(client, contact):
    text_in(client, contact, "STOP", sid="SM1")
    text_in(client, contact, "stop please", sid="SM2")
    assert replies(contact) == [CONFIRMATION]
    assert ConsentEvent.objects.filter(contact=contact, kind="opt_out").count() == 1


def test_r3_scheduled_and_claimed_but_not_handed_off_messages_fail_too(client, contact):
    from datetime import timedelta

    from django.utils import timezone

    scheduled = services.messages_send(sub_account=contact.sub_account, contacts=[contact], body="Later",
                                       source="campaign", send_after=timezone.now() + timedelta(days=1))[0]  # fmt: skip
    claimed = services.messages_send(sub_account=contact.sub_account, contacts=[contact], body="Now", source="bulk")[0]
    dispatch.claim([claimed.pk], timezone.now())
    text_in(client, contact, "STOP")
    for m in (scheduled, claimed):
        m.refresh_from_db()
        assert m.status == Status.FAILED and m.failure_reason == "Recipient opted out."
    assert dispatch.dispatch_batch([str(claimed.pk)])["sent_to_provider"] == 0


@pytest.mark.parametrize(
    ("body", "opt_out_type", "replied"), [("HELP", "", True), ("info", "", True), ("HELP", "HELP", False)]
)
def test_help_reply(client, contact, body, opt_out_type, replied):
    extra = {"OptOutType": opt_out_type} if opt_out_type else {}
    text_in(client, contact, body, **extra)
    expected = ["Sunrise Dental Care: Reply STOP to unsubscribe. Msg&data rates may apply."] if replied else []
    assert replies(contact) == expected
    assert contact.dnd == "none"


@pytest.mark.parametrize("keyword", ["START", "yes", "Unstop"])
def test_r4_opt_in_lifts_permanent_dnd_and_records_consent(client, contact, keyword):
    text_in(client, contact, "STOP", sid="SM1")
    text_in(client, contact, keyword, sid="SM2")
    assert (contact.dnd, contact.consent) == ("none", "granted")
    assert list(DndChange.objects.filter(contact=contact).order_by("id").values_list("to_state", flat=True)) == [
        "permanent",
        "none",
    ]
    assert ConsentEvent.objects.filter(contact=contact, kind="opt_in", ip_or_method="SMS reply").count() == 1


def test_r4_opt_in_lifts_temporary_dnd_too(client, contact):
    Contact.objects.filter(pk=contact.pk).update(dnd="temporary")
    text_in(client, contact, "START")
    assert contact.dnd == "none"


def test_r4_contact_never_opted_out_is_unaffected(client, contact):
    text_in(client, contact, "YES")
    assert (contact.dnd, contact.consent) == ("none", "granted")
    assert not DndChange.objects.exists() and not ConsentEvent.objects.filter(contact=contact).exists()
    assert replies(contact) == []


# --- R1 through the status webhook ----------------------------------------------------------

R1_CODES = [
    ("30003", "temporary"), ("30004", "permanent"), ("30005", "temporary"), ("30006", "temporary"),
    ("30008", "none"), ("30007", "none"), ("21610", "permanent"), ("30001", "none"),
]  # fmt: skip


@pytest.fixture
def sent_to(contact):
    message = services.message_send_one(
        sub_account=contact.sub_account, contact=contact, body="Hi", source="one_to_one"
    )
    dispatch.dispatch_batch([str(message.pk)])
    message.refresh_from_db()
    return message


def undelivered(client, message, code):
    params = {"MessageSid": message.provider_sid, "MessageStatus": "undelivered", "ErrorCode": code}
    assert post_signed(client, "/webhooks/twilio/status", params).status_code == 200


@pytest.mark.parametrize(("code", "dnd"), R1_CODES)
def test_r1_dnd_from_receipt_error_codes(client, contact, sent_to, code, dnd):
    undelivered(client, sent_to, code)
    contact.refresh_from_db()
    sent_to.refresh_from_db()
    assert sent_to.status == Status.UNDELIVERED and sent_to.error_code == code  # stored either way (R8)
    assert contact.dnd == dnd
    changes = DndChange.objects.filter(contact=contact)
    if dnd == "none":
        assert not changes.exists()
    else:
        change = changes.get()
        assert (change.cause, change.detail, change.message_id) == ("error_code", f"Carrier error {code}", sent_to.pk)


def test_r1_a_temporary_code_never_weakens_permanent_dnd(client, contact, sent_to):
    undelivered(client, sent_to, "30004")
    second = services.message_send_one(sub_account=contact.sub_account, contact=contact, body="x", source="resend")
    assert second.status == Status.FAILED  # DND blocks it already (R2)
    contact.refresh_from_db()
    assert contact.dnd == "permanent"


def test_r1_21610_rejected_on_send_sets_permanent_dnd(contact, memory_provider):
    memory_provider.script[contact.phone] = [ProviderRejected("21610", "Attempt to send to unsubscribed recipient")]
    message = services.message_send_one(
        sub_account=contact.sub_account, contact=contact, body="Hi", source="one_to_one"
    )
    dispatch.dispatch_batch([str(message.pk)])
    contact.refresh_from_db()
    message.refresh_from_db()
    assert message.status == Status.FAILED and message.error_code == "21610"
    assert contact.dnd == "permanent"
    assert DndChange.objects.get(contact=contact).detail == "Carrier error 21610"


def test_r2_one_to_one_to_dnd_contact_is_refused_with_the_exact_text(contact):
    Contact.objects.filter(pk=contact.pk).update(dnd="temporary")
    contact.refresh_from_db()
    message = services.message_send_one(
        sub_account=contact.sub_account, contact=contact, body="Hi", source="one_to_one"
    )
    assert message.failure_reason == "Cannot send messages as DND is active for SMS."
    assert not Message.objects.filter(status=Status.QUEUED).exists()
