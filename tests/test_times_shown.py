"""Times on the pages, emails and stored reasons follow one rule (compliance.times): the
sub-account's zone with its abbreviation; UTC beside it only for the policy's 00:00 UTC
suspension end (R8). Before, the thread stamped UTC, the ramp card "Dec 02, 2026 15:00 UTC" and the
bulk title "07:26 EST"."""

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from compliance import notices, suspensions
from compliance.models import RampState, Suspension, Violation
from messaging.models import BulkSend

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 2, 12, 24, tzinfo=UTC)  # 7:24 AM in New York (Sunrise Dental's zone)


def suspend(sub_account, ends_at=datetime(2026, 12, 3, tzinfo=UTC)):
    violation = Violation.objects.create(sub_account=sub_account, kind="error_rate", level="suspension", action="t")
    return Suspension.objects.create(sub_account=sub_account, cause="error_rate", violation=violation,
                                     started_at=NOW, ends_at=ends_at)  # fmt: skip


@time_machine.travel(NOW, tick=False)
def test_thread_stamps_in_the_sub_accounts_zone(world, login):
    world.message_of(world.a1_contact, status="sent", body="Stamped", failure_reason="")
    page = login(world.a1_user).get(reverse("conversation", args=[world.a1.pk, world.a1_contact.pk])).content.decode()
    assert "Dec 2, 7:24 AM EST" in page and ">Dec 2, 12:24<" not in page


@time_machine.travel(NOW, tick=False)
def test_ramp_card_in_the_sub_accounts_zone(world, login):
    RampState.objects.create(sub_account=world.a1, level=2, started_at=NOW, window_start=NOW, window_count=3)
    page = login(world.a1_owner).get(reverse("subaccount_dashboard", args=[world.a1.pk])).content.decode()
    assert "Unlock Level 3 by sending 250 messages by Dec 3, 2026, 7:24 AM EST" in page
    assert "UTC" not in page.split('data-testid="ramp-card"')[1].split("</section>")[0]


@time_machine.travel(NOW, tick=False)
def test_suspension_end_says_local_and_utc(world, login):  # R8: ends at the next 00:00 UTC
    suspension = suspend(world.a1)
    page = login(world.a1_owner).get(reverse("subaccount_dashboard", args=[world.a1.pk])).content.decode()
    assert "suspended until Dec 2, 2026, 7:00 PM EST (00:00 UTC)" in page
    reason = suspensions.suspension_reason(suspension)
    assert "until Dec 2, 2026, 7:00 PM EST (00:00 UTC)" in reason and "(R8)" not in reason


@time_machine.travel(NOW, tick=False)
def test_bulk_report_title_and_support_queue_in_the_sub_accounts_zone(world, login):
    bulk = BulkSend.objects.create(sub_account=world.a1, created_by=world.a1_owner, body="Hi", audience="All contacts")
    page = login(world.a1_owner).get(reverse("bulk_detail", args=[world.a1.pk, bulk.pk])).content.decode()
    assert "Bulk send of Dec 2, 2026, 7:24 AM EST" in page


@time_machine.travel(NOW, tick=False)
def test_suspension_email_says_local_and_utc(world):
    suspension = suspend(world.a1)
    message = notices.violation_email(suspension.violation)
    assert "until Dec 2, 2026, 7:00 PM EST (00:00 UTC)" in message.subject
    assert message.body.count("Dec 2, 2026, 7:00 PM EST (00:00 UTC)") == 2


def test_templates_show_times_only_through_the_one_rule():
    """No template formats a time itself (`|date:"… H:i"`, `|time`): each would show UTC or a zone
    without its abbreviation. Machine formats (`|date:'c'` in `datetime=` attributes) are fine."""
    from pathlib import Path

    found = []
    for path in sorted((Path(__file__).resolve().parent.parent / "templates").rglob("*.html")) + sorted(
        (Path(__file__).resolve().parent.parent / "templates").rglob("*.txt")
    ):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for fmt in re.findall(r"\|date:[\"']([^\"']*)[\"']", line):
                if fmt != "c" and re.search(r"[HGghisAaPT]", fmt):
                    found.append(f"{path.name}:{n}: {fmt}")
            if re.search(r"\|time\b", line):
                found.append(f"{path.name}:{n}: |time")
    assert found == []
