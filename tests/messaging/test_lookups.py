"""`__any`: membership in a list as one array parameter on PostgreSQL, `IN` elsewhere."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging.models import Contact, Message

pytestmark = pytest.mark.django_db


def test_any_matches_what_in_matches_for_primary_and_foreign_keys(world):
    ids = [world.a1_contact.pk, world.b1_contact.pk]
    assert set(Contact.objects.filter(pk__any=ids)) == set(Contact.objects.filter(pk__in=ids))
    assert list(Contact.objects.filter(pk__any=[])) == []
    world.message_of(world.a1_contact)
    assert Message.objects.filter(contact_id__any=ids).count() == 1


def test_any_is_one_parameter_on_postgresql(world):
    with CaptureQueriesContext(connection) as queries:
        list(Contact.objects.filter(pk__any=[world.a1_contact.pk, world.b1_contact.pk]))
    sql = queries[0]["sql"]
    assert ("= ANY(" in sql) == (connection.vendor == "postgresql")
