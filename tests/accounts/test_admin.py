"""The Django admin, for superusers: every registered model's list renders (with the world's
rows), and the append-only compliance records cannot be added, changed or deleted there (R2)."""

import pytest
from django.contrib import admin
from django.urls import reverse

from accounts.models import User

pytestmark = pytest.mark.django_db

APPEND_ONLY = [
    "consentevent", "dndchange", "violation", "suspension", "ratebucket", "businessinfochange", "appealstep",
]  # fmt: skip


@pytest.fixture
def root(client, world):
    client.force_login(User.objects.create_superuser("root@ops.test", "x"))
    return client


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_every_admin_list_renders(root, model):
    opts = model._meta
    assert root.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).status_code == 200


@pytest.mark.parametrize("name", APPEND_ONLY)
def test_compliance_records_are_read_only(root, name):
    assert root.get(reverse(f"admin:compliance_{name}_add")).status_code == 403
    model = next(m for m in admin.site._registry if m._meta.model_name == name)
    assert not admin.site._registry[model].has_delete_permission(None)


def test_business_info_is_not_edited_in_the_admin(root, world):
    """Business Info changes are recorded on its page (R5/R6, the audit export); the admin
    cannot change them unrecorded."""
    url = reverse("admin:accounts_subaccount_change", args=[world.a1.pk])
    data = {"agency": world.A.pk, "name": "Sunrise Dental", "time_zone": "America/New_York",
            "business_name": "Renamed", "opt_out_text": "Text STOP", "sender_text": "x",
            "missed_call_text_back_body": "Sorry"}  # fmt: skip
    assert root.post(url, data).status_code == 302
    world.a1.refresh_from_db()
    assert (world.a1.business_name, world.a1.opt_out_text) == ("Sunrise Dental Care", "")
