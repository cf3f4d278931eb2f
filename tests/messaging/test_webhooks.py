"""Twilio webhooks: signatures, idempotent and out-of-order receipts, inbound texts, missed calls."""

import pytest

from messaging import dispatch, services
from messaging.models import Contact, Message, ReceiptEvent, Status
from tests.messaging.helpers import post_signed

pytestmark = pytest.mark.django_db

STATUS, INBOUND, VOICE = "/webhooks/twilio/status", "/webhooks/twilio/inbound", "/webhooks/twilio/voice-status"


@pytest.fixture
def sent(world):
    """A message handed to the provider, with its sid recorded."""
    message = services.message_send_one(sub_account=world.a1, contact=world.a1_contact, body="Hi", source="one_to_one")
    dispatch.dispatch_batch([str(message.pk)])
    message.refresh_from_db()
    assert message.status == Status.SENT
    return message


def receipt(client, sid, status, code=None, **kwargs):
    params = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC1"}
    if code:
        params["ErrorCode"] = code
    return post_signed(client, STATUS, params, **kwargs)


@pytest.mark.parametrize("path", [STATUS, INBOUND, VOICE])
@pytest.mark.parametrize("signature", ["missing", "bad"])
def test_bad_or_missing_signature_is_403_and_changes_nothing(client, world, sent, path, signature):
    params = {"MessageSid": sent.provider_sid, "MessageStatus": "delivered", "From": "+12125550999",
              "To": "+16465550101", "Body": "STOP", "CallSid": "CA1", "CallStatus": "no-answer"}  # fmt: skip
    before = (Message.objects.count(), ReceiptEvent.objects.count(), Contact.objects.count())
    response = post_signed(client, path, params, signature="missing" if signature == "missing" else "Zm9v")
    assert response.status_code == 403
    assert (Message.objects.count(), ReceiptEvent.objects.count(), Contact.objects.count()) == before
    sent.refresh_from_db()
    assert sent.status == Status.SENT


def test_signature_signed_with_another_token_is_403(client, sent):
    assert receipt(client, sent.provider_sid, "delivered", token="not-the-auth-token").status_code == 403


def test_signature_covers_the_public_url_not_the_internal_one(client, sent, settings):
    """Behind a proxy Twilio signs https://public/…; we check against PUBLIC_BASE_URL."""
    settings.PUBLIC_BASE_URL = "https://sms.example.com"
    assert receipt(client, sent.provider_sid, "delivered").status_code == 200
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED


def test_delivered_receipt(client, sent):
    assert receipt(client, sent.provider_sid, "delivered").status_code == 200
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED and sent.final_at
    assert list(sent.events.values_list("status", flat=True)) == ["queued", "sent", "delivered"]


def test_duplicate_receipts_are_harmless(client, sent):
    for _ in range(2):
        assert receipt(client, sent.provider_sid, "undelivered", "30007").status_code == 200
    sent.refresh_from_db()
    assert sent.status == Status.UNDELIVERED and sent.error_code == "30007"
    assert ReceiptEvent.objects.filter(provider_sid=sent.provider_sid).count() == 1
    assert sent.events.filter(status=Status.UNDELIVERED).count() == 1


def test_final_status_never_goes_back_to_sent(client, sent):
    receipt(client, sent.provider_sid, "delivered")
    receipt(client, sent.provider_sid, "sent")  # late, out of order
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED


def test_receipt_before_the_sid_is_recorded_is_applied_when_it_is(client, world, memory_provider):
    """The provider's callback can beat our own write of the sid: it waits, then applies."""
    message = services.message_send_one(sub_account=world.a1, contact=world.a1_contact, body="Hi", source="one_to_one")
    _, claimed = dispatch.claim([message.pk], message.created_at)
    result = dispatch.get_provider().send(
        dispatch.OutgoingSms(str(message.pk), message.to_number, message.from_number, message.body_sent, "")
    )
    assert receipt(client, result.sid, "delivered").status_code == 200  # unknown sid yet: 200, stored
    message.refresh_from_db()
    assert message.status == Status.SENDING
    dispatch.record(claimed[0], result)
    message.refresh_from_db()
    assert message.status == Status.DELIVERED


def test_unknown_sid_gets_200(client):
    assert receipt(client, "SMdoesnotexist", "delivered").status_code == 200


def test_provider_failed_status_keeps_a_plain_reason(client, sent):
    receipt(client, sent.provider_sid, "failed", "30001")
    sent.refresh_from_db()
    assert sent.status == Status.FAILED and sent.failure_reason == (
        "The carrier reported a failure: Queue overflow (code 30001). "
        "The provider was sending too fast; the message can be sent again later."
    )


def inbound(client, body="Hello there", sid="SMin1", frm="+12125550777", to="+16465550101", **extra):
    return post_signed(client, INBOUND, {"MessageSid": sid, "From": frm, "To": to, "Body": body, **extra})


def test_inbound_from_unknown_number_creates_contact_and_lands_in_its_conversation(client, world):
    assert inbound(client).status_code == 200
    contact = Contact.objects.get(sub_account=world.a1, phone="+12125550777")
    message = contact.messages.get()
    assert (message.direction, message.status, message.body) == ("inbound", "received", "Hello there")
    assert contact.unread_count == 1 and contact.has_texted_in and contact.last_message_preview == "Hello there"


def test_duplicate_inbound_is_stored_once(client, world):
    inbound(client)
    inbound(client)
    assert Message.objects.filter(provider_sid="SMin1").count() == 1
    assert Contact.objects.get(phone="+12125550777").unread_count == 1


def test_inbound_to_a_number_we_do_not_own_is_200_and_ignored(client, world):
    assert inbound(client, to="+19995550100").status_code == 200
    assert not Message.objects.filter(provider_sid="SMin1").exists()


def voice(client, status, sid="CA1"):
    return post_signed(
        client, VOICE, {"CallSid": sid, "From": "+12125550888", "To": "+16465550101", "CallStatus": status}
    )


@pytest.mark.parametrize(("status", "texted_back"), [("no-answer", True), ("busy", True), ("completed", False)])
def test_missed_call_text_back(client, world, status, texted_back):
    world.a1.missed_call_text_back = True
    world.a1.save()
    assert voice(client, status).status_code == 200
    messages = Message.objects.filter(source="missed_call_text_back")
    assert messages.count() == (1 if texted_back else 0)
    if texted_back:
        assert messages.get().status == Status.QUEUED and messages.get().to_number == "+12125550888"


def test_missed_call_text_back_once_per_call_and_only_when_enabled(client, world):
    assert voice(client, "no-answer").status_code == 200
    assert not Message.objects.filter(source="missed_call_text_back").exists()  # disabled
    world.a1.missed_call_text_back = True
    world.a1.save()
    voice(client, "no-answer", sid="CA2")
    voice(client, "no-answer", sid="CA2")
    assert Message.objects.filter(source="missed_call_text_back").count() == 1


def test_simulator_plays_the_carrier_through_the_same_webhooks(client, world, settings, sent):
    """The simulator's receipts are signed Twilio-format webhooks: posted here with the test
    client, they change the message like Twilio's would."""
    from messaging.providers import simulator

    settings.SMS_BACKEND = "simulator"
    settings.SIMULATOR_RATES = {"30003": 1.0}

    def transport(path, data, headers):
        response = client.post(path, data, headers=headers)
        assert response.status_code == 200
        return response

    simulator.play_carrier(sent.provider_sid, sent.to_number, sent.from_number, transport=transport)
    sent.refresh_from_db()
    assert sent.status == Status.UNDELIVERED and sent.error_code == "30003"


def test_simulator_stop_reply_arrives_as_inbound(client, world, settings, sent):
    from messaging.providers import simulator

    settings.SMS_BACKEND = "simulator"
    settings.SIMULATOR_RATES = {"stop": 1.0}
    simulator.play_carrier(sent.provider_sid, sent.to_number, sent.from_number,
                           transport=lambda p, d, h: client.post(p, d, headers=h))  # fmt: skip
    sent.refresh_from_db()
    assert sent.status == Status.DELIVERED
    assert world.a1_contact.messages.filter(direction="inbound", body="STOP").exists()
