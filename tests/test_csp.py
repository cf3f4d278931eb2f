"""The Content-Security-Policy (config/csp.py): on every response, strict for our pages, with
inline script and style allowed only on django-rq's dashboard; and no template of a page needs
more (the browser tests in tests/browser/test_csp.py watch chromium for violations)."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from config.csp import policy_header

pytestmark = pytest.mark.django_db
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def test_the_policy_header_is_built_from_the_setting(settings):
    assert policy_header(settings.SECURE_CSP) == STRICT


@pytest.mark.parametrize(
    ("who", "path"),
    [
        (None, "/accounts/login/"),
        (None, "/healthz"),
        (None, "/no-such-page/"),
        ("a1_owner", "dashboard"),
        ("a1_owner", "contacts"),
        ("support", "/admin/"),
    ],
)
def test_every_response_carries_the_strict_policy(client, world, who, path):
    if who:
        client.force_login(getattr(world, who))
    path = {
        "dashboard": reverse("subaccount_dashboard", args=[world.a1.pk]),
        "contacts": reverse("contact_list", args=[world.a1.pk]),
    }.get(path, path)
    response = client.get(path)
    assert response["Content-Security-Policy"] == STRICT


def test_api_answers_carry_it_too(client, world):
    response = client.get("/api/v1/contacts/+12125550100")  # no key: a JSON 401
    assert response.status_code == 401 and response["Content-Security-Policy"] == STRICT


def test_only_the_rq_dashboard_may_run_inline_script_and_style(client, world):
    world.support.is_staff = world.support.is_superuser = True
    world.support.save()
    client.force_login(world.support)
    response = client.get("/admin/rq/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self' 'unsafe-inline'" in policy and "style-src 'self' 'unsafe-inline'" in policy
    assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_djangos_debug_error_pages_keep_their_inline_style(client, world, settings):
    """Under DEBUG (make dev) an error page is Django's technical page, styled inline; the app's
    pages keep the policy."""
    settings.DEBUG = True
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404 and "Content-Security-Policy" not in missing
    assert client.get("/accounts/login/")["Content-Security-Policy"] == STRICT


# Inline code the policy refuses: a <script> without src, an event handler attribute, a style
# attribute or element. Emails are not pages (no CSP applies to them).
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|\sstyle\s*=|<style\b", re.IGNORECASE)


def test_no_page_template_has_inline_script_or_style():
    found = [
        f"{path.relative_to(TEMPLATES)}:{n}: {line.strip()}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        if "email" not in path.parts
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if INLINE.search(line)
    ]
    assert found == []
