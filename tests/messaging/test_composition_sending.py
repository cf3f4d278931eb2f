"""R5/R6 through the send service: initial vs follow-up is decided from the contact's history."""

import pytest

from messaging import services
from messaging.models import Contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def ava(world):
    return Contact.objects.create(sub_account=world.a1, phone="+13055550001", first_name="Ava", consent="granted")


def bulk(world, contact, body="Hi {first_name}, 20% off this week"):
    return services.messages_send(sub_account=world.a1, contacts=[contact], body=body, source="bulk")[0]


def test_initial_then_follow_up(world, ava):
    first = bulk(world, ava)
    assert first.body_sent == "Hi Ava, 20% off this week\nThanks, Sunrise Dental Care\nReply STOP to unsubscribe"
    assert first.body == "Hi {first_name}, 20% off this week"
    assert bulk(world, ava).body_sent == "Hi Ava, 20% off this week"


def test_a_failed_earlier_message_does_not_make_the_next_one_a_follow_up(world, ava):
    Contact.objects.filter(pk=ava.pk).update(dnd="temporary")
    assert bulk(world, ava).status == "failed"
    Contact.objects.filter(pk=ava.pk).update(dnd="none")
    assert bulk(world, ava).body_sent.endswith("Reply STOP to unsubscribe")


def test_custom_business_texts_are_used(world, ava):
    world.a1.opt_out_text, world.a1.sender_text = "Text END to opt out", "— Dr. Sun"
    world.a1.save()
    assert bulk(world, ava, "Hello").body_sent == "Hello\n— Dr. Sun\nText END to opt out"


def test_one_to_one_first_text_to_a_never_texted_contact(world, ava):
    first = services.message_send_one(sub_account=world.a1, contact=ava, body="Hi Ava", source="one_to_one")
    assert first.body_sent == "Hi Ava\nReply STOP to unsubscribe"
    ben = Contact.objects.create(sub_account=world.a1, phone="+13055550002", has_texted_in=True)
    assert (
        services.message_send_one(sub_account=world.a1, contact=ben, body="Hi", source="one_to_one").body_sent == "Hi"
    )
