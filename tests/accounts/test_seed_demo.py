"""`manage.py seed_demo` (run by every `make run`): the demo world, idempotent, with two weeks of
Harbor Fitness history whose R8 counters match its messages, Sunrise Dental's conversations, and a
sub-account in each state support must see."""

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Agency, SubAccount, User
from compliance.models import (
    Appeal,
    DndChange,
    LimitExtensionRequest,
    RampState,
    RateBucket,
    SnowshoeHold,
    Suspension,
    UndeliveredCode,
    Violation,
)
from messaging.automations.models import Workflow
from messaging.models import BulkSend, Contact, Message

pytestmark = pytest.mark.django_db


def counts():
    return (Agency.objects.count(), SubAccount.objects.count(), User.objects.count(), Contact.objects.count(),
            Message.objects.count(), RateBucket.objects.count())  # fmt: skip


def test_seed_demo_is_idempotent_and_prints_the_logins():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = counts()
    assert first[:4] == (3, 7, 8, 380)
    assert "owner@sunrise.test" in out.getvalue() and "demo-pass-2026" in out.getvalue()
    call_command("seed_demo", stdout=StringIO())
    assert counts() == first


def test_harbor_fitness_has_two_weeks_of_history_and_matching_counters():
    call_command("seed_demo", stdout=StringIO())
    harbor = SubAccount.objects.get(name="Harbor Fitness")
    messages = Message.objects.filter(sub_account=harbor)
    assert messages.count() == 14 * 60
    totals = RateBucket.objects.filter(sub_account=harbor).aggregate(o=Sum("outbound"), u=Sum("undelivered"))
    assert totals["o"] == 840 and totals["u"] == messages.filter(status="undelivered").count() > 0
    assert UndeliveredCode.objects.filter(sub_account=harbor).aggregate(n=Sum("count"))["n"] == totals["u"]


def test_acme_may_self_lift_globex_may_not_yet():
    call_command("seed_demo", stdout=StringIO())
    ages = {a.name: (timezone.now() - a.created_at).days for a in Agency.objects.all()}
    assert ages["Acme Marketing"] > 90 > ages["Globex Growth"]


def test_sunrise_has_conversations_dnd_opt_outs_a_workflow_and_a_campaign():
    call_command("seed_demo", stdout=StringIO())
    sunrise = SubAccount.objects.get(name="Sunrise Dental")
    contacts = Contact.objects.filter(sub_account=sunrise)
    assert contacts.filter(dnd="temporary").count() == 1 and contacts.filter(dnd="permanent").count() == 2
    opted_out = contacts.get(consent="revoked")
    assert opted_out.dnd == "permanent" and opted_out.consent_events.filter(kind="opt_out").exists()  # R3
    assert DndChange.objects.filter(contact__sub_account=sunrise, cause="error_code").count() == 2  # R1
    replied = contacts.filter(has_texted_in=True, last_message_at__isnull=False)
    assert replied.count() >= 4 and contacts.filter(unread_count__gt=0).exists()
    for contact in contacts.filter(last_message_at__isnull=False):  # the summary is the last text as sent
        last = Message.objects.filter(contact=contact, bulk_send=None).latest("created_at")  # not the campaign
        assert contact.last_message_preview == last.body_sent[:120] and "{" not in contact.last_message_preview
    assert Message.objects.filter(sub_account=sunrise, error_code="30007").exists()
    assert Workflow.objects.get(sub_account=sunrise).status == "active"
    campaign = BulkSend.objects.get(sub_account=sunrise, status="scheduled")
    assert campaign.scheduled_for > timezone.now() and campaign.messages.filter(status="queued").exists()
    # R7: the history is days old; a bulk send of 90 still fits level 1's 100 (the browser tests send one).
    assert RampState.objects.get(sub_account=sunrise).level == 1


def test_a_sub_account_in_each_support_state():
    call_command("seed_demo", stdout=StringIO())
    now = timezone.now()
    by_name = {s.name: s for s in SubAccount.objects.filter(agency__name="Northwind Digital")}
    assert RampState.objects.get(sub_account=by_name["Lakeside Realty"]).level == 8  # R7
    assert LimitExtensionRequest.objects.pending().get().sub_account == by_name["Lakeside Realty"]
    temporary = Suspension.objects.in_force(now).get(kind="temporary")  # R8
    assert temporary.sub_account == by_name["Maple Auto"] and temporary.violation.kind == "error_rate"
    assert RateBucket.objects.filter(sub_account=by_name["Maple Auto"]).aggregate(n=Sum("undelivered"))["n"] == 12
    permanent = Suspension.objects.in_force(now).get(kind="permanent")  # R9
    assert permanent.sub_account == by_name["Cedar Law"] and permanent.appeals.get().status == "submitted"
    hold = SnowshoeHold.objects.get()  # R11
    assert hold.sub_account == by_name["Birch Salon"] and hold.status == "pending" and len(hold.numbers) == 4
    assert hold.messages.filter(status="queued").count() == 20
    call_command("seed_demo", stdout=StringIO())  # still one of each
    assert (Suspension.objects.count(), Appeal.objects.count(), SnowshoeHold.objects.count(),
            LimitExtensionRequest.objects.count()) == (2, 1, 1, 1)  # fmt: skip


def test_the_next_days_seed_brings_the_suspension_forward_instead_of_adding_one():
    """R9 counts suspensions in 30 days: one a day would make the demo's story a different one."""
    call_command("seed_demo", stdout=StringIO())
    tomorrow = timezone.now() + timedelta(days=1, hours=1)  # past the next 00:00 UTC: it has ended
    with time_machine.travel(tomorrow, tick=False):
        assert not Suspension.objects.filter(kind="temporary").in_force(tomorrow).exists()
        call_command("seed_demo", stdout=StringIO())
        temporary = Suspension.objects.get(kind="temporary")
        assert temporary.started_at == tomorrow and temporary.ends_at > tomorrow
        assert Violation.objects.filter(sub_account=temporary.sub_account).count() == 1
