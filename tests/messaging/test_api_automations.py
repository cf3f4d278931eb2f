"""The workflow API: list workflows, enroll and unenroll a contact, read an enrollment and its step
log; the key's sub-account only (another tenant's ids are 404); JSON errors."""

import json

import pytest

from messaging.automations.models import Enrollment, Workflow, WorkflowStep
from messaging.automations.runner import enrollments_step_due
from messaging.keys import api_key_create
from messaging.models import Contact, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(client, world):
    """`api.post/get/delete(path)` with a valid key of a1."""
    _, key = api_key_create(sub_account=world.a1, name="Tests", user=world.a1_owner)
    headers = {"Authorization": f"Bearer {key}"}

    class Api:
        def post(self, path, data):
            return client.post(path, json.dumps(data), content_type="application/json", headers=headers)

        def get(self, path):
            return client.get(path, headers=headers)

        def delete(self, path):
            return client.delete(path, headers=headers)

    return Api()


@pytest.fixture
def workflow(world):
    workflow = Workflow.objects.create(sub_account=world.a1, name="Reminders", trigger="api", status="active")
    WorkflowStep.objects.create(workflow=workflow, position=0, kind="send_sms", body="Your visit is tomorrow.")
    WorkflowStep.objects.create(workflow=workflow, position=1, kind="wait", wait_minutes=60)
    return workflow


@pytest.fixture
def ava(world):
    return Contact.objects.filter(pk=world.a1_contact.pk).update(consent="granted") and world.a1_contact


def enroll_path(workflow):
    return f"/api/v1/workflows/{workflow.pk}/enrollments"


def test_list_workflows_with_counts(world, api, workflow, ava):
    Workflow.objects.create(sub_account=world.b1, name="Not yours", trigger="api")
    api.post(enroll_path(workflow), {"phone": ava.phone})
    response = api.get("/api/v1/workflows")
    assert response.status_code == 200
    assert response.json() == {"workflows": [{
        "id": str(workflow.pk), "name": "Reminders", "status": "active", "trigger": "api", "steps": 2,
        "enrolled": 1, "in_progress": 1,
    }]}  # fmt: skip


def test_enroll_by_phone_then_read_the_enrollment_and_its_log(world, api, workflow, ava, run_jobs,
                                                              django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(enroll_path(workflow), {"phone": "(212) 555-0100"})
    assert response.status_code == 201
    data = response.json()
    assert (data["status"], data["contact"]["phone"], data["trigger"]) == (
        "active",
        ava.phone,
        "Enrolled through the API",
    )
    assert data["next_step"] == {"position": 1, "kind": "send_sms", "description": "Send SMS: Your visit is tomorrow."}
    assert data["log"] == []
    run_jobs()  # the step job
    data = api.get(f"/api/v1/enrollments/{data['id']}").json()
    message = Message.objects.get(source="workflow")
    assert [(r["position"], r["kind"], r["outcome"], r["message_id"]) for r in data["log"]] == [
        (1, "send_sms", "queued", str(message.pk)), (2, "wait", "waiting", None),
    ]  # fmt: skip
    assert data["next_step"] is None and data["status"] == "active"  # the wait was the last step


def test_enroll_by_contact_id_and_twice_is_a_conflict(api, workflow, ava):
    assert api.post(enroll_path(workflow), {"contact_id": str(ava.pk)}).status_code == 201
    response = api.post(enroll_path(workflow), {"phone": ava.phone})
    assert response.status_code == 409 and response.json() == {
        "error": "The contact is already in this workflow.",
        "code": "conflict",
    }


def test_enroll_errors(world, api, workflow):
    assert api.post(enroll_path(workflow), {}).json()["fields"] == {"phone": ["This field is required."]}
    response = api.post(enroll_path(workflow), {"phone": "12"})
    assert response.status_code == 400 and response.json()["error"].startswith("phone: ")
    response = api.post(enroll_path(workflow), {"phone": "+12125550999"})
    assert response.status_code == 404 and "create it first" in response.json()["error"]
    draft = Workflow.objects.create(sub_account=world.a1, name="Draft", trigger="api")
    response = api.post(enroll_path(draft), {"phone": world.a1_contact.phone})
    assert response.status_code == 400 and response.json() == {
        "error": "The workflow is draft: activate it first.",
        "code": "refused",
    }


def test_unenroll_ends_it_and_fails_what_it_queued(world, api, workflow, ava):
    enrollment_id = api.post(enroll_path(workflow), {"phone": ava.phone}).json()["id"]
    enrollments_step_due()  # "Your visit is tomorrow." queued, not yet dispatched
    response = api.delete(f"/api/v1/enrollments/{enrollment_id}")
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["exit"], data["exit_reason"]) == (
        "exited",
        "unenrolled",
        "Unenrolled through the API.",
    )
    assert Message.objects.get(source="workflow").failure_reason == "Unenrolled through the API."
    again = api.delete(f"/api/v1/enrollments/{enrollment_id}")
    assert again.status_code == 409 and again.json() == {
        "error": "The enrollment is exited: nothing to end.",
        "code": "conflict",
    }


def test_other_tenants_ids_are_404(world, api, workflow):
    theirs = Workflow.objects.create(sub_account=world.b1, name="Theirs", trigger="api", status="active")
    assert api.post(enroll_path(theirs), {"phone": world.b1_contact.phone}).status_code == 404
    enrollment = Enrollment.objects.create(sub_account=world.b1, workflow=theirs, contact=world.b1_contact,
                                           trigger="t", enrolled_at=theirs.created_at)  # fmt: skip
    assert api.get(f"/api/v1/enrollments/{enrollment.pk}").status_code == 404
    assert api.delete(f"/api/v1/enrollments/{enrollment.pk}").status_code == 404
    assert Enrollment.objects.get(pk=enrollment.pk).status == "active"
    # A contact of the other tenant is not found either, by id or by number.
    response = api.post(enroll_path(workflow), {"contact_id": str(world.b1_contact.pk)})
    assert response.status_code == 404


def test_wrong_method_and_missing_key(client, workflow):
    assert client.get(enroll_path(workflow)).status_code == 405  # the method is checked first
    assert client.get("/api/v1/workflows").status_code == 401
