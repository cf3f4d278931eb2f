"""`manage.py seed_demo` (run by every `make run`): the demo world, idempotent, with two weeks of
Harbor Fitness history whose R8 counters match its messages."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Agency, SubAccount, User
from compliance.models import RateBucket, UndeliveredCode
from messaging.models import Contact, Message

pytestmark = pytest.mark.django_db


def counts():
    return (Agency.objects.count(), SubAccount.objects.count(), User.objects.count(), Contact.objects.count(),
            Message.objects.count(), RateBucket.objects.count())  # fmt: skip


def test_seed_demo_is_idempotent_and_prints_the_logins():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    first = counts()
    assert first[:4] == (2, 3, 7, 300)
    assert "owner@sunrise.test" in out.getvalue() and "demo-pass-2026" in out.getvalue()
    call_command("seed_demo", stdout=StringIO())
    assert counts() == first


def test_harbor_fitness_has_two_weeks_of_history_and_matching_counters():
    call_command("seed_demo", stdout=StringIO())
    harbor = SubAccount.objects.get(name="Harbor Fitness")
    messages = Message.objects.filter(sub_account=harbor)
    assert messages.count() == 14 * 60
    assert not Message.objects.exclude(sub_account=harbor).exists()  # Sunrise starts fresh on the ramp (R7)
    totals = RateBucket.objects.filter(sub_account=harbor).aggregate(o=Sum("outbound"), u=Sum("undelivered"))
    assert totals["o"] == 840 and totals["u"] == messages.filter(status="undelivered").count() > 0
    assert UndeliveredCode.objects.filter(sub_account=harbor).aggregate(n=Sum("count"))["n"] == totals["u"]


def test_acme_may_self_lift_globex_may_not_yet():
    call_command("seed_demo", stdout=StringIO())
    ages = {a.name: (timezone.now() - a.created_at).days for a in Agency.objects.all()}
    assert ages["Acme Marketing"] > 90 > ages["Globex Growth"]
