"""R8/R9 on the pages: the sub-account dashboard's messaging health (rates now with bands and
thresholds, 30-day charts, delivery breakdown, violations and suspensions, the suspension banner),
the agency admin's self-lift, the agency overview and the support risk list — each in a constant
number of queries."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import SubAccount
from compliance import dashboard, rates
from compliance.models import RateBucket, Suspension, UndeliveredCode, Violation
from compliance.policy import get_policy

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)


def bucket(sub_account, at=NOW, **counts):
    """The hourly counters of the hour `at` falls in (summed into an existing row)."""
    row, _ = RateBucket.objects.get_or_create(sub_account=sub_account, hour=rates.hour_of(at))
    for name, n in counts.items():
        setattr(row, name, getattr(row, name) + n)
    row.save()
    return row


def traffic(sub_account, at=NOW, *, sent=100, undelivered=0, opt_outs=0, final=None):
    final = sent if final is None else final
    return bucket(
        sub_account, at, outbound=sent, finalized=final, delivered=final - undelivered, undelivered=undelivered,
        opt_outs=opt_outs,
    )  # fmt: skip


def suspend(sub_account, *, started=NOW - timedelta(hours=1), ends=None, cause="error_rate", rate="14.29 %"):
    ends = ends or datetime(2026, 5, 5, tzinfo=UTC)
    violation = Violation.objects.create(
        sub_account=sub_account, kind=cause, level="suspension", action="Temporary suspension; email sent",
        detail={"error_rate": rate if cause == "error_rate" else "1 %", "opt_out_rate": rate
                if cause == "opt_out_rate" else "0.1 %", "outbound": 700, "finalized": 700, "undelivered": 100,
                "opt_outs": 1},
    )  # fmt: skip
    return Suspension.objects.create(
        sub_account=sub_account, cause=cause, violation=violation, started_at=started, ends_at=ends
    )


def get(client, url, at=NOW):
    with time_machine.travel(at, tick=False):
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def dashboard_html(client, world, sub_account=None, at=NOW):
    return get(client, reverse("subaccount_dashboard", args=[(sub_account or world.a1).pk]), at)


def svg(html, key):
    match = re.search(rf'<svg [^>]*data-testid="chart-{key}".*?</svg>', html, re.S)
    assert match, f"no chart {key}"
    return match.group(0)


def text_of(html, name):
    match = re.search(rf'data-testid="{re.escape(name)}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no {name}"
    return match.group(1).strip()


# --- Rates now --------------------------------------------------------------------------------


def test_rates_now_with_band_and_thresholds(world, login):
    traffic(world.a1, sent=60, undelivered=3, opt_outs=0)  # 5 %: healthy
    traffic(world.a1, NOW - timedelta(hours=23), sent=40, undelivered=5, opt_outs=2)  # the window's first hour
    traffic(world.a1, NOW - timedelta(hours=24), sent=500, undelivered=500)  # one hour too old: not counted
    html = dashboard_html(login(world.a1_user), world)
    # 8 of 100 with a receipt: exactly the violation threshold (inclusive); 2 of 100 opt-outs: 2 %.
    assert text_of(html, "error-value") == "8 %" and text_of(html, "error-band") == "At the violation level"
    assert 'class="gauge band-violation" data-testid="gauge-error"' in html
    assert text_of(html, "error-thresholds") == "healthy 0–6 % · violation email at 8 % · suspension at 12.5 %"
    assert text_of(html, "opt-out-value") == "2 %"
    assert 'class="gauge band-violation" data-testid="gauge-opt-out"' in html
    assert text_of(html, "opt-out-thresholds") == (
        "healthy 0–0.3 % (good up to 1 %) · violation email at 1 % · suspension at 2.5 %"
    )
    assert "Last 24 hours: 100 sent, 100 with a carrier receipt (8 undelivered), 2 opt-outs." in html


@pytest.mark.parametrize(
    ("undelivered", "opt_outs", "error_band", "opt_out_band"),
    [
        (12, 0, "healthy", "healthy"),  # 6 % of 200: the top of the healthy band; 0 %
        (14, 1, "watch", "watch"),  # 7 %, 0.5 %: above healthy (opt-out: "good")
        (25, 5, "suspension", "suspension"),  # 12.5 %, 2.5 %: exactly the suspension thresholds
    ],
)
def test_bands_at_their_boundaries(world, login, undelivered, opt_outs, error_band, opt_out_band):
    traffic(world.a1, sent=200, undelivered=undelivered, opt_outs=opt_outs)
    html = dashboard_html(login(world.a1_user), world)
    assert f'class="gauge band-{error_band}" data-testid="gauge-error"' in html
    assert f'class="gauge band-{opt_out_band}" data-testid="gauge-opt-out"' in html


def test_not_enough_volume_yet(world, login):
    traffic(world.a1, sent=60, final=49, undelivered=49)  # 100 % errors, but 49 receipts
    html = dashboard_html(login(world.a1_user), world)
    assert text_of(html, "error-value") == "100 %"
    assert text_of(html, "error-volume") == (
        "not enough volume yet (needs 50 messages with a carrier receipt in 24 h; 49 so far)"
    )
    assert 'class="gauge band-none" data-testid="gauge-error"' in html and 'data-testid="error-band"' not in html
    assert 'data-testid="opt-out-volume"' not in html  # 60 sent: the opt-out rate is measured


def test_no_traffic_at_all(world, login):
    html = dashboard_html(login(world.a1_user), world)
    assert text_of(html, "error-value") == "—" and text_of(html, "opt-out-value") == "—"
    assert "needs 50 messages sent in 24 h; 0 so far" in html
    assert "<circle" not in html and "no traffic in the last 30 days" in html


# --- Charts -----------------------------------------------------------------------------------


def test_charts_have_one_point_per_utc_day_with_traffic(world, login):
    today = NOW.replace(hour=0, minute=0)
    traffic(world.a1, today - timedelta(hours=1), sent=100, undelivered=10)  # May 3, 23:00
    traffic(world.a1, today, sent=100, undelivered=2, opt_outs=1)  # May 4, 00:00: another UTC day
    traffic(world.a1, today + timedelta(hours=9), sent=100, undelivered=2, opt_outs=1)  # May 4 again: summed
    traffic(world.a1, today - timedelta(days=29), sent=10, undelivered=1)  # Apr 5: the chart's first day
    traffic(world.a1, today - timedelta(days=30), sent=10, undelivered=5)  # Apr 4: too old
    traffic(world.a2, today, sent=100, undelivered=50)  # another sub-account
    bucket(world.a1, today - timedelta(days=10), opt_outs=1)  # an opt-out on a day with no sends: no point
    html = dashboard_html(login(world.a1_user), world)

    error = svg(html, "error")
    assert 'role="img"' in error
    assert 'aria-label="Error rate, daily, over the last 30 days: 3 day(s) with traffic' in error
    assert error.count("<circle") == 3
    assert "<title>May 3: 10 % (10 of 100 with a carrier receipt)</title>" in error
    assert "<title>May 4: 2 % (4 of 200 with a carrier receipt)</title>" in error
    assert "<title>Apr 5: 10 % (1 of 10 with a carrier receipt)</title>" in error
    assert error.count("<polyline") == 1  # May 3 → May 4; Apr 5 stands alone
    assert 'class="threshold violation"' in error and ">violation 8 %</text>" in error
    assert 'class="threshold suspension"' in error and ">suspension 12.5 %</text>" in error
    assert ">Apr 5</text>" in error and ">May 4</text>" in error and ">0 %</text>" in error  # axis labels

    opt_out = svg(html, "opt-out")
    assert opt_out.count("<circle") == 3 and "<title>May 4: 1 % (2 of 200 sent)</title>" in opt_out
    assert ">violation 1 %</text>" in opt_out and ">suspension 2.5 %</text>" in opt_out


def test_chart_scale_grows_with_the_data_and_points_stay_inside():
    days = [dashboard.Day(NOW.date() - timedelta(days=n)) for n in range(29, -1, -1)]
    days[-1] = dashboard.Day(NOW.date(), outbound=10, finalized=10, undelivered=10)  # 100 %
    chart, _ = dashboard.charts(days, get_policy())
    assert [t.label for t in chart.y_ticks] == ["0 %", "50 %", "100 %"]
    (point,) = chart.points
    assert (point.x, point.y) == (dashboard.RIGHT, dashboard.TOP)
    quiet, _ = dashboard.charts([dashboard.Day(d.day) for d in days], get_policy())
    assert [t.label for t in quiet.y_ticks][-1] == "15 %" and quiet.points == []  # room for 12.5 %


# --- Delivery breakdown -----------------------------------------------------------------------


def test_delivery_breakdown_over_30_days(world, login):
    traffic(world.a1, NOW - timedelta(days=3), sent=100, final=90, undelivered=6)
    traffic(world.a1, NOW - timedelta(days=31), sent=1000, final=1000, undelivered=500)  # too old
    UndeliveredCode.objects.create(sub_account=world.a1, day=NOW.date() - timedelta(days=3), code="30003", count=4)
    UndeliveredCode.objects.create(sub_account=world.a1, day=NOW.date() - timedelta(days=2), code="30007", count=2)
    UndeliveredCode.objects.create(sub_account=world.a1, day=NOW.date() - timedelta(days=40), code="30005", count=9)
    UndeliveredCode.objects.create(sub_account=world.b1, day=NOW.date(), code="30006", count=9)
    contact = world.a1_contact
    with time_machine.travel(NOW - timedelta(days=2), tick=False):
        for i in range(12):  # 12 reasons, reason i failed i+1 times: the top 10 are shown
            for _ in range(i + 1):
                world.message_of(contact, failure_reason=f"Reason {i:02d}")
        world.message_of(contact, status="delivered", failure_reason="")
        world.message_of(world.b1_contact, failure_reason="Other tenant")
    with time_machine.travel(NOW - timedelta(days=31), tick=False):
        world.message_of(contact, failure_reason="Too old")
    html = dashboard_html(login(world.a1_user), world)
    shown = [text_of(html, f"b-{k}") for k in ("sent", "delivered", "undelivered", "awaiting")]
    assert shown == ["100", "84", "6", "10"]
    by_code = re.search(r'data-testid="b-by-code">(.*?)</table>', html, re.S).group(1)
    rows = re.findall(r"<td><code>(\d+)</code></td><td>.*?</td><td class=\"n\">(\d+)</td>", by_code)
    assert rows == [("30003", "4"), ("30007", "2")]
    by_reason = re.search(r'data-testid="b-by-reason">(.*?)</table>', html, re.S).group(1)
    shown = re.findall(r"<td>(Reason \d+)</td><td class=\"n\">(\d+)</td>", by_reason)
    assert shown == [(f"Reason {i:02d}", str(i + 1)) for i in range(11, 1, -1)]
    assert "Other tenant" not in html and "Too old" not in html


# --- Violations, suspensions, banner ----------------------------------------------------------


def test_violations_and_suspensions_timeline(world, login):
    with time_machine.travel(NOW - timedelta(days=3), tick=False):
        Violation.objects.create(
            sub_account=world.a1, kind="opt_out_rate", level="violation", action="Violation email sent",
            detail={"error_rate": "1 %", "opt_out_rate": "1.2 %", "outbound": 500, "finalized": 480,
                    "undelivered": 5, "opt_outs": 6},
        )  # fmt: skip
        Violation.objects.create(
            sub_account=world.a1, kind="prohibited_content", action="Bulk send blocked before sending",
            detail={"category": "gambling", "term": "gambling", "matched": "g@mbling"},
        )  # fmt: skip
        old = suspend(world.a1, started=NOW - timedelta(days=3), ends=NOW - timedelta(days=2, hours=20))
        old.lift(user=world.a_admin, note="Lifted early", now=NOW - timedelta(days=2, hours=23))
    Violation.objects.create(sub_account=world.b1, kind="snowshoe", action="Held", detail={"numbers": [1, 2, 3, 4]})
    html = dashboard_html(login(world.a1_user), world)
    violations = re.search(r'data-testid="violations">(.*?)</table>', html, re.S).group(1)
    assert violations.count("<tr>") == 4  # header + 3 rows, not the other tenant's
    assert "Violation email</span>" in violations and "Temporary suspension</span>" in violations
    assert "error 1 % · opt-out 1.2 % (5 undelivered of 480 with a receipt, 6 opt-outs of 500 sent, 24 h)" in violations
    assert "matched “g@mbling” (gambling)" in violations and "Held" not in violations
    suspensions = re.search(r'data-testid="suspensions">(.*?)</table>', html, re.S).group(1)
    assert "May 1, 2026, 5:30 AM EDT" in suspensions and "May 1, 2026, 6:30 AM EDT by admin@acme.test" in suspensions
    assert 'data-testid="suspension-banner"' not in html  # lifted, and over anyway


def test_banner_while_a_suspension_is_in_force(world, login):
    suspension = suspend(world.a1)
    html = dashboard_html(login(world.a1_user), world)
    assert (
        "Bulk, workflow and campaign sending is suspended until May 4, 2026, 8:00 PM EDT (00:00 UTC) "
        "(high error rate: 14.29 % in 24 h).</strong>\n    One-to-one messages, test SMS, resends and missed-call "
        "text back still go." in html
    )
    assert 'data-testid="self-lift"' not in html  # a sub-account user cannot lift it
    # Lifting by time alone (R8): at midnight UTC the banner is gone.
    assert 'data-testid="suspension-banner"' not in dashboard_html(login(world.a1_user), world, at=suspension.ends_at)
    assert 'data-testid="suspension-banner"' not in dashboard_html(login(world.a_admin), world, world.a2)  # a2 sends


# --- R9: the agency admin's self-lift ---------------------------------------------------------


def agency_age(world, days):
    type(world.A).objects.filter(pk=world.A.pk).update(created_at=NOW - timedelta(days=days))


def lift(client, suspension, data=None, at=NOW):
    url = reverse("suspension_lift", args=[suspension.sub_account_id, suspension.pk])
    with time_machine.travel(at, tick=False):
        return client.post(url, {"acknowledge": "on", "typed": "confirm"} if data is None else data, follow=True)


def test_agency_admin_lifts_a_suspension(world, login):
    agency_age(world, 91)
    suspension = suspend(world.a1)
    client = login(world.a_admin)
    html = dashboard_html(client, world)
    assert 'data-testid="self-lift"' in html and "I understand the cause of this suspension" in html
    assert 'name="typed"' in html and ">Lift suspension</button>" in html
    response = lift(client, suspension, {"acknowledge": "on", "typed": " Confirm "})
    assert response.redirect_chain[-1][0] == reverse("subaccount_dashboard", args=[world.a1.pk])
    page = response.content.decode()
    assert "Suspension lifted" in page and 'data-testid="suspension-banner"' not in page
    suspension.refresh_from_db()
    assert (suspension.lifted_at, suspension.lifted_by) == (NOW, world.a_admin)
    assert "May 4, 2026, 5:30 AM EDT by admin@acme.test" in page  # recorded, in the suspensions table


@pytest.mark.parametrize(
    ("age_days", "data", "message"),
    [
        (89, None, "Only agencies older than 90 days can lift a suspension themselves"),
        (91, {"acknowledge": "on", "typed": "confirmed"}, "Type “confirm” to lift the suspension."),
        (91, {"acknowledge": "on", "typed": ""}, "Type “confirm” to lift the suspension."),
        (91, {"typed": "confirm"}, "Tick the acknowledgement to lift the suspension."),
    ],
)
def test_self_lift_refused(world, login, age_days, data, message):
    agency_age(world, age_days)
    suspension = suspend(world.a1)
    page = lift(login(world.a_admin), suspension, data).content.decode()
    assert message in page and 'data-testid="suspension-banner"' in page
    suspension.refresh_from_db()
    assert suspension.lifted_at is None


def test_young_agency_sees_why_instead_of_the_form(world, login):
    agency_age(world, 89)
    suspend(world.a1)
    html = dashboard_html(login(world.a_admin), world)
    assert 'data-testid="self-lift"' not in html
    assert text_of(html, "self-lift-refusal").startswith("Only agencies older than 90 days can lift a suspension")


def test_self_lift_once_per_30_days_per_agency(world, login):
    agency_age(world, 200)
    client = login(world.a_admin)
    lift(client, suspend(world.a1))
    later = NOW + timedelta(days=29)
    second = suspend(world.a2, started=later - timedelta(hours=1), ends=later + timedelta(hours=5))
    html = dashboard_html(client, world, world.a2, at=later)
    assert text_of(html, "self-lift-refusal").startswith("Your agency lifted a suspension on May 4, 2026")
    assert "Your agency lifted a suspension on May 4, 2026" in lift(client, second, at=later).content.decode()
    second.refresh_from_db()
    assert second.lifted_at is None
    after = NOW + timedelta(days=30, hours=1)
    third = suspend(world.a2, started=after - timedelta(hours=1), ends=after + timedelta(hours=5))
    assert "Suspension lifted" in lift(client, third, at=after).content.decode()


@pytest.mark.parametrize("user_attr", ["a_staff", "a1_owner", "a1_user", "support"])
def test_only_agency_admins_may_lift(world, login, user_attr):
    agency_age(world, 91)
    suspension = suspend(world.a1)
    url = reverse("suspension_lift", args=[world.a1.pk, suspension.pk])
    assert login(getattr(world, user_attr)).post(url, {"acknowledge": "on", "typed": "confirm"}).status_code == 403
    assert 'data-testid="self-lift"' not in dashboard_html(login(getattr(world, user_attr)), world)
    suspension.refresh_from_db()
    assert suspension.lifted_at is None


def test_other_tenant_gets_404(world, login):
    suspension = suspend(world.a1)
    data = {"acknowledge": "on", "typed": "confirm"}
    client = login(world.b_admin)
    assert client.post(reverse("suspension_lift", args=[world.a1.pk, suspension.pk]), data).status_code == 404
    # Their own sub-account in the URL with our suspension's id: 404 too.
    assert client.post(reverse("suspension_lift", args=[world.b1.pk, suspension.pk]), data).status_code == 404
    assert login(world.a_admin).get(reverse("suspension_lift", args=[world.a1.pk, suspension.pk])).status_code == 405


# --- Agency overview and support risk list ----------------------------------------------------


def test_agency_overview_rates_volume_and_status(world, login):
    traffic(world.a1, sent=200, undelivered=26, opt_outs=1)  # 13 %: suspension band; 0.5 %
    traffic(world.a2, sent=20, undelivered=1)  # low volume
    traffic(world.b1, sent=500, undelivered=100)  # the other agency
    suspend(world.a1)
    html = get(login(world.a_staff), reverse("agency_detail", args=[world.A.pk]))
    a1 = re.search(r'data-testid="row-sunrise-dental">(.*?)</tr>', html, re.S).group(1)
    assert '<td class="rate band-suspension" data-testid="error" title="At the suspension level">13 %</td>' in a1
    assert '<td class="rate band-watch" data-testid="opt-out" title="Good">0.5 %</td>' in a1
    assert '<td class="n" data-testid="sent">200</td>' in a1
    assert "Suspended until May 4, 2026, 8:00 PM EDT (00:00 UTC)" in a1
    a2 = re.search(r'data-testid="row-harbor-fitness">(.*?)</tr>', html, re.S).group(1)
    assert 'class="rate band-none" data-testid="error">5 % <span class="muted small">(low volume)</span>' in a2
    assert '<span class="badge ok">ok</span>' in a2
    assert "Pine Bakery" not in html


def test_support_risk_list_closest_first(world, login):
    extra = SubAccount.objects.create(agency=world.B, name="Quiet Café", business_name="Quiet Café")
    traffic(world.a1, sent=100, undelivered=5)  # 5 % of 12.5 %: risk 0.4
    traffic(world.b1, sent=100, opt_outs=2)  # 2 % of 2.5 %: risk 0.8
    traffic(world.a2, sent=10, undelivered=9)  # 90 %, but 10 messages: R8 cannot act yet
    suspend(world.b1)
    html = get(login(world.support), reverse("support_risk"))
    order = re.findall(r'<tr data-testid="row-([a-z-]+)">', html)
    assert order == ["pine-bakery", "sunrise-dental", "harbor-fitness", "quiet-cafe"]
    assert "Suspended until May 4, 2026, 8:00 PM EDT (00:00 UTC)" in html and extra.name in html
    home = get(login(world.support), reverse("support_home"))
    assert reverse("support_risk") in home


@pytest.mark.parametrize("user_attr", ["a_admin", "a1_owner", "b_admin"])
def test_support_risk_list_is_support_only(world, login, user_attr):
    assert login(getattr(world, user_attr)).get(reverse("support_risk")).status_code == 404


# --- Constant queries -------------------------------------------------------------------------


def count_queries(client, url):
    with CaptureQueriesContext(connection) as queries, time_machine.travel(NOW, tick=False):
        assert client.get(url).status_code == 200
    return len(queries)


def lots_of_data(world, sub_accounts):
    for n, sub in enumerate(sub_accounts):
        for hour in range(0, 30 * 24, 5):
            traffic(sub, NOW - timedelta(hours=hour), sent=100 + n, undelivered=7, opt_outs=hour % 2)
        for day in range(30):
            UndeliveredCode.objects.create(sub_account=sub, day=NOW.date() - timedelta(days=day), code="30003", count=3)
        with time_machine.travel(NOW - timedelta(days=1), tick=False):
            for i in range(15):
                world.message_of(world.a1_contact if sub == world.a1 else world.b1_contact, failure_reason=f"R{i}")
        for day in range(5):
            suspend(sub, started=NOW - timedelta(days=day, hours=2), ends=NOW - timedelta(days=day, hours=1))
        suspend(sub)


def test_dashboard_overview_and_risk_list_queries_are_constant(world, login, django_assert_max_num_queries):
    agency_age(world, 200)
    pages = {
        "dashboard": (world.a_admin, reverse("subaccount_dashboard", args=[world.a1.pk])),
        "agency": (world.a_admin, reverse("agency_detail", args=[world.A.pk])),
        "risk": (world.support, reverse("support_risk")),
    }

    def counts():
        return {name: count_queries(login(user), url) for name, (user, url) in pages.items()}

    suspend(world.a1)  # in force: the banner and the self-lift check are read in both runs
    empty = counts()
    lots_of_data(world, [world.a1, world.a2, world.b1])
    for i in range(5):
        SubAccount.objects.create(agency=world.A if i % 2 else world.B, name=f"More {i}", business_name=f"More {i}")
    full = counts()
    assert full == empty, (empty, full)
    client = login(world.a_admin)
    with django_assert_max_num_queries(21), time_machine.travel(NOW, tick=False):  # pause-all, the sidebar's 2
        html = client.get(pages["dashboard"][1]).content.decode()
    assert 'data-testid="self-lift"' in html and svg(html, "error").count("<circle") == 30
