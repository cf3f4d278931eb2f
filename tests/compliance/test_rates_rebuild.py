"""`manage.py rates_rebuild`: the counters recomputed from the message table equal the ones
kept live by dispatch, receipts and opt-outs (R8)."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from compliance.models import RateBucket, UndeliveredCode
from tests.compliance.conftest import NOON
from tests.compliance.test_monitoring import receipts

pytestmark = pytest.mark.django_db


def snapshot(sub_account):
    buckets = list(
        RateBucket.objects.filter(sub_account=sub_account)
        .order_by("hour")
        .values_list("hour", "outbound", "finalized", "delivered", "undelivered", "opt_outs")
    )
    codes = sorted(UndeliveredCode.objects.filter(sub_account=sub_account).values_list("day", "code", "count"))
    return buckets, codes


def test_rebuild_equals_live_counting(world, contacts, send, receipt, stop, clock):
    messages = send(contacts, 30)
    clock.move_to(NOON.replace(hour=13, minute=5))
    receipts(receipt, messages, 20, 5, code="30003")
    receipts(receipt, messages[25:], 0, 2, code="30007")
    clock.move_to(NOON.replace(hour=14, minute=30))
    stop(contacts[0])
    send(contacts[40:], 3, source="one_to_one")
    live = snapshot(world.a1)
    assert [b[1:] for b in live[0]] == [(30, 0, 0, 0, 0), (0, 27, 20, 7, 0), (3, 0, 0, 0, 1)]
    RateBucket.objects.all().delete()
    UndeliveredCode.objects.filter(code="30003").update(count=99)  # wrong: rebuilt from the messages
    out = StringIO()
    call_command("rates_rebuild", "--days", "2", stdout=out)
    assert snapshot(world.a1) == live
    assert "Sunrise Dental: 3 hour(s) of counters since 2026-11-21 14:00 UTC" in out.getvalue()
    call_command("rates_rebuild", "--days", "2", "--sub-account", str(world.a1.pk), stdout=StringIO())
    assert snapshot(world.a1) == live  # twice: the same


def test_rebuild_rejects_bad_arguments(world):
    with pytest.raises(CommandError, match="No sub-account"):
        call_command("rates_rebuild", "--sub-account", "not-a-uuid")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("rates_rebuild", "--days", "0")
