"""Wherever a carrier error code is shown — the thread, the contact's message history, the
dashboard's undelivered-by-code table, a bulk send's report — it comes with its meaning and what to
do, from the one table R1's DND mapping is built from (compliance.carrier_codes)."""

import pytest
from django.urls import reverse
from django.utils import timezone

from compliance.models import UndeliveredCode
from messaging.models import BulkSend

pytestmark = pytest.mark.django_db
MEANING = "Filtered by the carrier as spam"
ACTION = "Review the content and the consent behind this send"


def test_thread_and_contact_page_explain_the_code(world, login):
    world.message_of(world.a1_contact, status="undelivered", error_code="30007", failure_reason="")
    client = login(world.a1_user)
    thread = client.get(reverse("conversation", args=[world.a1.pk, world.a1_contact.pk])).content.decode()
    contact = client.get(reverse("contact_detail", args=[world.a1.pk, world.a1_contact.pk])).content.decode()
    for page in (thread, contact):
        assert "30007" in page and MEANING in page and ACTION in page


def test_dashboard_undelivered_by_code_explains_each_code(world, login):
    UndeliveredCode.objects.create(sub_account=world.a1, day=timezone.now().date(), code="30003", count=4)
    page = login(world.a1_owner).get(reverse("subaccount_dashboard", args=[world.a1.pk])).content.decode()
    table = page.split('data-testid="b-by-code"')[1].split("</table>")[0]
    assert "30003" in table and "Unreachable" in table and "paused temporarily" in table


def test_bulk_report_explains_each_code(world, login):
    bulk = BulkSend.objects.create(sub_account=world.a1, created_by=world.a1_owner, body="Hi", audience="All contacts")
    world.message_of(world.a1_contact, source="bulk", bulk_send=bulk, status="undelivered", error_code="30007",
                     failure_reason="")  # fmt: skip
    page = login(world.a1_owner).get(reverse("bulk_detail", args=[world.a1.pk, bulk.pk])).content.decode()
    table = page.split('data-testid="by-code"')[1].split("</table>")[0]
    assert "30007" in table and MEANING in table and ACTION in table
