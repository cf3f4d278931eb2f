"""Each demo login lands on its role's home, sees its role in words and only its own
sub-accounts in the sidebar's switcher, and can log out."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Agency, SubAccount
from messaging.management.commands.seed_demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

ACME = ["Acme Marketing · Harbor Fitness", "Acme Marketing · Sunrise Dental"]
GLOBEX = ["Globex Growth · Pine Bakery"]
# seed_demo's sub-accounts in each state support must see (messaging/demo.py).
NORTHWIND = [f"Northwind Digital · {n}" for n in ("Birch Salon", "Cedar Law", "Lakeside Realty", "Maple Auto")]

# (email, landing kind, heading, role shown on the dashboard, switcher entries; None: no switcher)
CASES = [
    ("support@demo.test", "support", "Support", None, ACME + GLOBEX + NORTHWIND),
    ("admin@acme.test", "agency", "Acme Marketing", None, ACME),
    ("staff@acme.test", "agency", "Acme Marketing", None, ACME),
    ("owner@sunrise.test", "subaccount", "Sunrise Dental", "Sub-account owner", None),
    ("user@sunrise.test", "subaccount", "Sunrise Dental", "Sub-account user", None),
    ("admin@globex.test", "agency", "Globex Growth", None, GLOBEX),
]


def log_in(page, base_url, email):
    page.goto(f"{base_url}/accounts/login/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    # Labels without Django's colon (config/forms.py), matched exactly.
    page.get_by_label("Email address", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()


@pytest.mark.parametrize(("email", "kind", "heading", "role", "switcher"), CASES, ids=[c[0] for c in CASES])
def test_login_lands_on_role_home_and_logout(page, live_server, demo_data, email, kind, heading, role, switcher):
    base = live_server.url
    log_in(page, base, email)

    if kind == "support":
        expected_path = "/support/"
    elif kind == "agency":
        expected_path = f"/agencies/{Agency.objects.get(name=heading).pk}/"
    else:
        expected_path = f"/s/{SubAccount.objects.get(name=heading).pk}/"
    expect(page).to_have_url(re.compile(re.escape(base + expected_path) + r"$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.locator(".userbox .who")).to_have_text(email)

    if role is not None:
        expect(page.get_by_test_id("role")).to_have_text(role)

    # The switcher lists exactly the user's own sub-accounts; a sub-account user with one has
    # none, only the sub-account's name above its sections.
    if switcher is None:
        expect(page.get_by_test_id("switcher")).to_have_count(0)
        expect(page.get_by_test_id("current-subaccount")).to_have_text(heading)
    else:
        page.get_by_test_id("switcher").locator("summary").click()
        entries = page.get_by_test_id("sidebar-switch-results").locator("a")
        expect(entries).to_have_count(len(switcher))
        names = [
            a.locator(".switch-agency").inner_text() + " · " + a.locator(".switch-name").inner_text()
            for a in entries.all()
        ]
        assert sorted(names) == sorted(switcher)

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(re.escape(base + "/accounts/login/") + r"$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
