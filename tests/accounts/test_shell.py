"""The shell every page shares (issue 15): favicon, labels without colons, roles in words, the
sidebar's sections and active item, the account switcher's search (own tenants only), support's
queues, toasts and empty states."""

import pytest
from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.urls import reverse

from accounts.context_processors import SECTIONS, SETTINGS, active_key
from accounts.models import Agency, Role, SubAccount
from accounts.templatetags.roles import role_label

pytestmark = pytest.mark.django_db


# --- /favicon.ico (bug: it 404'd on every page) ---------------------------------------------


def test_favicon_ico_is_an_icon_not_a_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content[:4] == b"\x00\x00\x01\x00"  # the ICO header
    assert "max-age=86400" in response["Cache-Control"]


def test_pages_link_the_svg_favicon(client):
    html = client.get(reverse("login")).content.decode()
    assert 'rel="icon" href="/static/img/favicon.svg"' in html


# --- labels without Django's colon (bug: "Email address:") ----------------------------------


def test_login_form_labels_have_no_colon(client):
    html = client.get(reverse("login")).content.decode()
    assert ">Email address</label>" in html and ">Password</label>" in html
    assert "Email address:" not in html and "Password:" not in html


def test_every_form_renders_labels_without_colon_unless_it_asks_for_one():
    class Plain(forms.Form):
        name = forms.CharField()
        choice = forms.ChoiceField(choices=[("a", "A")], widget=forms.RadioSelect)  # a <legend>

    class Own(forms.Form):
        name = forms.CharField(label_suffix=" →")

    html = Plain().as_div()
    assert ">Name</label>" in html and ">Choice</legend>" in html and ":</" not in html
    assert Plain().as_div() == Plain().render()
    assert ">Name →</label>" in Own().as_div()
    assert ">Name?</label>" in Plain(label_suffix="?").as_div()
    assert ":" not in AuthenticationForm()["username"].label_tag()


# --- roles in words (bug: "subaccount_owner" shown raw) -------------------------------------


@pytest.mark.parametrize(
    ("code", "words"),
    [("agency_admin", "Agency admin"), ("agency_staff", "Agency staff"), ("subaccount_owner", "Sub-account owner"),
     ("subaccount_user", "Sub-account user"), ("support", "Support staff"),
     (Role.SUBACCOUNT_OWNER, "Sub-account owner"), (None, ""), ("", "")],
)  # fmt: skip
def test_role_label(code, words):
    assert role_label(code) == words


def test_dashboard_shows_the_role_in_words(world, login):
    html = login(world.a1_owner).get(reverse("subaccount_dashboard", args=[world.a1.pk])).content.decode()
    assert '<span data-testid="role">Sub-account owner</span>' in html
    assert "subaccount_owner" not in html and "subaccount_user" not in html
    assert 'data-testid="user-role">Sub-account owner<' in html  # the sidebar too


# --- the sidebar ----------------------------------------------------------------------------


def nav_links(html):
    import re

    return re.findall(r'data-testid="nav-(\w+)"', html)


def test_a_subaccount_page_has_every_section_and_marks_the_active_one(world, login):
    client = login(world.a1_user)
    html = client.get(reverse("contact_list", args=[world.a1.pk])).content.decode()
    assert nav_links(html) == [key for key, *_ in SECTIONS + SETTINGS]
    assert html.count('aria-current="page"') == 1
    assert 'aria-current="page" data-testid="nav-contacts"' in html
    for _key, label, _icon, name in SECTIONS + SETTINGS:
        assert f'href="{reverse(name, args=[world.a1.pk])}"' in html and label in html


def test_active_item_from_the_path_when_a_view_does_not_say():
    items = [{"key": k, "url": u} for k, u in [("dashboard", "/s/1/"), ("contacts", "/s/1/contacts/")]]
    assert active_key(items, "/s/1/") == "dashboard"
    assert active_key(items, "/s/1/contacts/42/edit/") == "contacts"
    assert active_key(items, "/s/1/other/") == ""  # the dashboard only for itself


def test_no_sections_for_a_subaccount_the_user_cannot_see(world, login):
    response = login(world.b_admin).get(reverse("subaccount_dashboard", args=[world.a1.pk]))
    assert response.status_code == 404
    assert "Sunrise Dental" not in response.content.decode()


def test_support_sees_their_queues_with_what_waits(world, login):
    from compliance.models import LimitExtensionRequest

    LimitExtensionRequest.objects.create(sub_account=world.a1, requested_limit=8000, reason="Busy season")
    html = login(world.support).get(reverse("support_home")).content.decode()
    assert nav_links(html) == ["support_home", "support_appeals", "support_limit_requests", "support_snowshoe",
                               "support_risk"]  # fmt: skip
    assert 'aria-current="page" data-testid="nav-support_home"' in html
    assert '<span class="nav-count" aria-label="1 waiting">1</span>' in html


def test_others_do_not_see_support_queues(world, login):
    html = login(world.a_admin).get(reverse("agency_detail", args=[world.A.pk])).content.decode()
    assert "support_appeals" not in html and 'data-testid="support-nav"' not in html
    assert f'aria-current="page" data-testid="nav-{world.A.pk}"' in html  # the agency item


def test_htmx_partials_run_no_sidebar_query(world, login, django_assert_max_num_queries):
    """The shell is lazy: a partial that does not render the sidebar pays nothing for it."""
    client = login(world.a_admin)
    with django_assert_max_num_queries(4):  # session, user, the search and its count: no sidebar's
        response = client.get(reverse("switch"), {"q": "harbor"}, HTTP_HX_REQUEST="true")
    assert "sidebar" not in response.content.decode()


# --- the account switcher -------------------------------------------------------------------


def test_switcher_search_finds_own_subaccounts_only(world, login):
    client = login(world.a_admin)
    html = client.get(reverse("switch"), {"q": "harb"}).content.decode()
    results = html.split('data-testid="switch-results"')[1].split("</ul>")[0]
    assert "Harbor Fitness" in results and "Sunrise Dental" not in results
    nothing = client.get(reverse("switch"), {"q": "Pine"}).content.decode()
    assert "No sub-account matches “Pine”." in nothing  # Globex's, not Acme's


def test_switcher_search_matches_every_word_across_name_and_agency(world, login):
    client = login(world.support)
    partial = client.get(reverse("switch"), {"q": "acme dental"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Sunrise Dental" in partial and "Harbor Fitness" not in partial and "<html" not in partial


def test_switcher_lists_a_few_and_says_how_many_more(world, login):
    agency = Agency.objects.create(name="Big Agency")
    for i in range(12):
        SubAccount.objects.create(agency=agency, name=f"Branch {i:02}", business_name=f"Branch {i}")
    from accounts.models import Membership

    Membership.objects.create(user=world.a_staff, role=Role.AGENCY_ADMIN, agency=agency)
    html = login(world.a_staff).get(reverse("agency_detail", args=[agency.pk])).content.decode()
    sidebar = html.split('data-testid="switcher"')[1].split("</details>")[0]
    assert sidebar.count('class="switch-name"') == 1 + 8  # the current label + the first eight
    assert "6 more — search to find them." in sidebar  # 12 + Acme's 2 = 14


def test_switch_to_goes_to_the_dashboard_and_404s_for_another_tenant(world, login):
    client = login(world.a_admin)
    response = client.get(reverse("switch"), {"to": str(world.a2.pk)})
    assert response.status_code == 302 and response["Location"] == reverse("subaccount_dashboard", args=[world.a2.pk])
    assert client.get(reverse("switch"), {"to": str(world.b1.pk)}).status_code == 404
    assert client.get(reverse("switch"), {"to": "nope"}).status_code == 404


def test_switch_needs_a_login(client):
    assert client.get(reverse("switch"), {"q": "a"}).status_code == 302


# --- toasts and the login page's logo -------------------------------------------------------


def test_messages_render_as_dismissible_toasts(world, login):
    """A message added by a view (pausing a workflow says so) is a toast on the next page."""
    from django.contrib import messages
    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore
    from django.template.loader import render_to_string
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user, request.session = world.a1_owner, SessionStore()
    request._messages = FallbackStorage(request)
    messages.success(request, "Saved.")
    messages.error(request, "Refused.")
    toast = render_to_string("_messages.html", request=request)
    assert 'class="toast msg-success" data-autohide' in toast and "Saved." in toast
    assert 'class="toast msg-error">' in toast and "Refused." in toast  # errors stay longer
    assert toast.count("data-dismiss") == 2 and 'role="status"' in toast


def test_login_page_has_the_logo(client):
    html = client.get(reverse("login")).content.decode()
    assert '<img src="/static/img/logo.svg"' in html
