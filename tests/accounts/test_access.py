"""Tenancy: every role sees only its own tenants; support sees all; anonymous → login."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import SubAccount

pytestmark = pytest.mark.django_db

# URL prefixes that are not tenant pages (framework, auth, machine-to-machine, and support/,
# which only support staff see: tested in tests/compliance/test_ramp_views.py and below).
NOT_TENANT_PAGES = ("admin/", "accounts/", "healthz", "webhooks/", "api/", "static/", "media/", "support/")


def tenant_patterns():
    """Every named URL of the app that takes a parameter, found from the URLconf itself so a
    new page cannot be added without this test covering it."""

    def walk(patterns, prefix=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name and p.pattern.converters:
                route = prefix + str(p.pattern)
                if not route.startswith(NOT_TENANT_PAGES):
                    yield p.name, list(p.pattern.converters)

    return sorted(set((name, tuple(params)) for name, params in walk(get_resolver().url_patterns)))


def kwargs_for(params, world, tenant):
    """Fill each URL parameter with an object of `tenant` ("a" or "b")."""
    a, b = world.a1_contact, world.b1_contact
    objects = {
        "a": {"sub_account_id": world.a1.pk, "agency_id": world.A.pk, "contact_id": a.pk,
              "message_id": world.message_of(a).pk},
        "b": {"sub_account_id": world.b1.pk, "agency_id": world.B.pk, "contact_id": b.pk,
              "message_id": world.message_of(b).pk},
    }[tenant]  # fmt: skip
    if "kind" in params:  # Settings → Registration (issue 17)
        objects["kind"] = "10dlc"
    if "key_id" in params:
        from messaging.keys import api_key_create

        objects["key_id"] = api_key_create(sub_account=world.a1 if tenant == "a" else world.b1, name="t", user=None)[
            0
        ].pk
    if "number_id" in params:
        objects["number_id"] = (world.a1 if tenant == "a" else world.b1).phone_numbers.get().pk
    if "hold_id" in params:
        from compliance.models import SnowshoeHold

        objects["hold_id"] = SnowshoeHold.objects.create(
            sub_account=world.a1 if tenant == "a" else world.b1, body="Hi"
        ).pk
    if "bulk_id" in params:
        from messaging.models import BulkSend

        sub = world.a1 if tenant == "a" else world.b1
        objects["bulk_id"] = BulkSend.objects.create(sub_account=sub, body="Hi", audience="All contacts").pk
    if "job_id" in params:
        from messaging.models import ImportJob

        sub = world.a1 if tenant == "a" else world.b1
        objects["job_id"] = ImportJob.objects.create(sub_account=sub, file_name="c.csv", status="done").pk
    if "workflow_id" in params:
        from messaging.automations.models import Enrollment, Workflow, WorkflowStep

        sub, contact = (world.a1, a) if tenant == "a" else (world.b1, b)
        workflow = Workflow.objects.create(sub_account=sub, name="Welcome", trigger="api", status="paused")
        objects["workflow_id"] = workflow.pk
        objects["step_id"] = WorkflowStep.objects.create(workflow=workflow, position=0, kind="send_sms", body="Hi").pk
        objects["enrollment_id"] = Enrollment.objects.create(
            sub_account=sub, workflow=workflow, contact=contact, trigger="t", enrolled_at=workflow.created_at
        ).pk
    if "reply_id" in params:
        from messaging.models import CannedReply

        sub = world.a1 if tenant == "a" else world.b1
        objects["reply_id"] = CannedReply.objects.create(sub_account=sub, title="Hours", body="9-5").pk
    if "suspension_id" in params:
        from datetime import timedelta

        from django.utils import timezone

        from compliance.models import Suspension, Violation

        sub, now = (world.a1 if tenant == "a" else world.b1), timezone.now()
        violation = Violation.objects.create(sub_account=sub, kind="error_rate", level="suspension", action="t")
        objects["suspension_id"] = Suspension.objects.create(
            sub_account=sub, cause="error_rate", violation=violation, started_at=now, ends_at=now + timedelta(hours=1)
        ).pk
    if "event_id" in params:
        from django.core.files.base import ContentFile
        from django.utils import timezone

        from compliance.models import ConsentEvent

        contact = a if tenant == "a" else b
        event = ConsentEvent(sub_account_id=contact.sub_account_id, contact=contact, kind="opt_in", source="Web",
                             at=timezone.now())  # fmt: skip
        event.screenshot.save("form.png", ContentFile(b"\x89PNG"), save=True)
        objects["event_id"] = event.pk
    if "appeal_id" in params:
        from django.core.files.base import ContentFile
        from django.utils import timezone

        from compliance.models import Appeal, Suspension, Violation

        sub = world.a1 if tenant == "a" else world.b1
        violation = Violation.objects.create(sub_account=sub, kind="error_rate", level="suspension", action="t")
        suspension = Suspension.objects.create(sub_account=sub, cause="error_rate", violation=violation,
                                               started_at=timezone.now(), kind="permanent")  # fmt: skip
        appeal = Appeal(sub_account=sub, suspension=suspension, collection_url="https://x.example.com",
                        consent_description="Web form", activity_stopped=True)  # fmt: skip
        appeal.opt_in_screenshot.save("a.png", ContentFile(b"\x89PNG"), save=False)
        appeal.checkbox_screenshot.save("b.png", ContentFile(b"\x89PNG"), save=False)
        appeal.save()
        objects["appeal_id"] = appeal.pk
        objects["which"] = "opt-in"
    if "endpoint_id" in params:  # Settings → Webhooks (issue 16)
        from messaging.models import WebhookEndpoint
        from messaging.webhooks_out import manage

        sub = world.a1 if tenant == "a" else world.b1
        endpoint = WebhookEndpoint.objects.create(sub_account=sub, url="https://93.184.215.14/h",
                                                  events=["message.status"], secret="whsec_t")  # fmt: skip
        objects["endpoint_id"] = endpoint.pk
        objects["delivery_id"] = manage.endpoint_send_test(endpoint=endpoint).pk
    missing = [p for p in params if p not in objects]
    assert not missing, f"tenant test has no object for URL parameter(s) {missing}: add one to kwargs_for()"
    return {p: objects[p] for p in params}


def test_there_are_tenant_pages_to_check():
    names = [name for name, _ in tenant_patterns()]
    assert "subaccount_dashboard" in names and "agency_detail" in names


def visit(client, url):
    """GET, or POST for the views that only take POST (which answer GET with 405)."""
    response = client.get(url)
    return client.post(url) if response.status_code == 405 else response


@pytest.mark.parametrize(("name", "params"), tenant_patterns())
def test_other_tenant_gets_404_on_every_page_with_an_id(world, login, name, params):
    url = reverse(name, kwargs=kwargs_for(params, world, "a"))
    assert visit(login(world.b_admin), url).status_code == 404, url
    # …while the owner of that object does get the page (or a redirect, never a 404).
    assert visit(login(world.a_admin), url).status_code != 404, url


@pytest.mark.parametrize(("name", "params"), tenant_patterns())
def test_anonymous_is_sent_to_login(client, world, name, params):
    url = reverse(name, kwargs=kwargs_for(params, world, "a"))
    response = visit(client, url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_anonymous_home_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/"


@pytest.mark.parametrize(
    ("user_attr", "visible"),
    [
        ("support", {"Sunrise Dental", "Harbor Fitness", "Pine Bakery"}),
        ("a_admin", {"Sunrise Dental", "Harbor Fitness"}),
        ("a_staff", {"Sunrise Dental", "Harbor Fitness"}),
        ("a1_owner", {"Sunrise Dental"}),
        ("a1_user", {"Sunrise Dental"}),
        ("b_admin", {"Pine Bakery"}),
    ],
)
def test_each_role_sees_only_its_own_subaccounts(world, user_attr, visible):
    user = getattr(world, user_attr)
    assert set(SubAccount.objects.visible_to(user).values_list("name", flat=True)) == visible


@pytest.mark.parametrize(
    ("user_attr", "sub_attr", "status"),
    [
        ("a_admin", "a2", 200),
        ("a_staff", "a1", 200),
        ("a1_owner", "a1", 200),
        ("a1_owner", "a2", 404),  # same agency, but not their sub-account
        ("a1_user", "a2", 404),
        ("b_admin", "a1", 404),
        ("support", "a1", 200),
        ("support", "b1", 200),
    ],
)
def test_subaccount_dashboard_access(world, login, user_attr, sub_attr, status):
    url = reverse("subaccount_dashboard", args=[getattr(world, sub_attr).pk])
    assert login(getattr(world, user_attr)).get(url).status_code == status


@pytest.mark.parametrize(
    ("user_attr", "agency_attr", "status"),
    [
        ("a_admin", "A", 200),
        ("a_staff", "A", 200),
        ("a1_owner", "A", 404),
        ("b_admin", "A", 404),
        ("support", "B", 200),
    ],
)
def test_agency_page_access(world, login, user_attr, agency_attr, status):
    url = reverse("agency_detail", args=[getattr(world, agency_attr).pk])
    assert login(getattr(world, user_attr)).get(url).status_code == status


@pytest.mark.parametrize(
    ("user_attr", "expected"),
    [
        ("support", "/support/"),
        ("a_admin", "agency:A"),
        ("a1_owner", "sub:a1"),
        ("b_admin", "agency:B"),
    ],
)
def test_home_sends_each_role_to_its_page(world, login, user_attr, expected):
    kind, _, attr = expected.partition(":")
    target = {
        "agency": lambda: reverse("agency_detail", args=[getattr(world, attr).pk]),
        "sub": lambda: reverse("subaccount_dashboard", args=[getattr(world, attr).pk]),
    }.get(kind, lambda: expected)()
    response = login(getattr(world, user_attr)).get("/")
    assert response.status_code == 302 and response["Location"] == target


def test_support_page_is_support_only(world, login):
    assert login(world.support).get("/support/").status_code == 200
    assert login(world.a_admin).get("/support/").status_code == 404


def test_switcher_lists_only_own_subaccounts(world, login):
    page = login(world.b_admin).get(reverse("subaccount_dashboard", args=[world.b1.pk])).content.decode()
    assert "Pine Bakery" in page and "Sunrise Dental" not in page


def test_switch_to_other_tenant_is_404_and_garbage_is_404(world, login):
    client = login(world.b_admin)
    assert client.get("/switch/", {"to": str(world.a1.pk)}).status_code == 404
    assert client.get("/switch/", {"to": "not-a-uuid"}).status_code == 404
    assert client.get("/switch/", {"to": str(world.b1.pk)}).status_code == 302


def test_user_without_memberships_sees_explanation(db, client):
    from tests.conftest import make_user

    client.force_login(make_user("lonely@example.com"))
    assert b"not a member of any agency" in client.get("/").content


def test_login_with_email_and_password(world, client):
    response = client.post("/accounts/login/", {"username": "owner@sunrise.test", "password": "correct-horse-battery"})
    assert response.status_code == 302
    response = client.post("/accounts/login/", {"username": "owner@sunrise.test", "password": "wrong"})
    assert response.status_code == 200 and b"correct email address and password" in response.content
