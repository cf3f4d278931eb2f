"""The JSON API for workflows: list them, enroll and unenroll a contact, read an enrollment with
its step log. Same keys, auth and error shape as the rest of the API (`messaging.api.api_view`):
every lookup starts from the key's sub-account, so another tenant's ids are 404."""

import uuid

from django import forms
from django.http import JsonResponse
from django.shortcuts import get_object_or_404

from messaging.api import ApiError, PhoneField, api_view
from messaging.automations import reports, triggers
from messaging.automations.models import Enrollment, Workflow
from messaging.automations.steps import describe


def workflow_json(workflow: Workflow, counts: dict) -> dict:
    return {
        "id": str(workflow.pk),
        "name": workflow.name,
        "status": workflow.status,
        "trigger": workflow.trigger,
        "steps": counts.get("steps", 0),
        "enrolled": counts.get("enrolled", 0),
        "in_progress": counts.get("active", 0),
    }


def enrollment_json(enrollment: Enrollment) -> dict:
    steps = list(enrollment.workflow.steps.order_by("position"))
    upcoming = steps[enrollment.position] if enrollment.is_active and enrollment.position < len(steps) else None
    log = enrollment.log.order_by("created_at", "id")
    return {
        "id": str(enrollment.pk),
        "workflow": {"id": str(enrollment.workflow_id), "name": enrollment.workflow.name},
        "contact": {"id": str(enrollment.contact_id), "phone": enrollment.contact.phone},
        "status": enrollment.status,
        "trigger": enrollment.trigger,
        "enrolled_at": enrollment.enrolled_at.isoformat(),
        "next_step": None if upcoming is None else {"position": upcoming.position + 1, "kind": upcoming.kind,
                                                   "description": describe(upcoming)},
        "next_run_at": enrollment.next_run_at.isoformat() if upcoming is not None and enrollment.next_run_at else None,
        "finished_at": enrollment.finished_at.isoformat() if enrollment.finished_at else None,
        "exit": enrollment.exit_kind or None,
        "exit_reason": enrollment.exit_reason,
        "log": [
            {"position": row.position + 1, "kind": row.kind, "outcome": row.outcome, "detail": row.detail,
             "message_id": str(row.message_id) if row.message_id else None, "at": row.created_at.isoformat()}
            for row in log
        ],
    }  # fmt: skip


@api_view("GET")
def workflows(request, sub_account):
    listed = list(sub_account.workflows.order_by("name"))
    counts = reports.workflow_totals(listed)
    return JsonResponse({"workflows": [workflow_json(w, counts.get(w.pk, {})) for w in listed]})


def _contact(sub_account, data: dict):
    """The contact to enroll, by `contact_id` or `phone`; it must exist (no contact is created)."""
    if data.get("contact_id"):
        return get_object_or_404(sub_account.contacts, pk=_uuid(data["contact_id"], "contact_id"))
    if not data.get("phone"):
        raise ApiError("Send the contact's phone or contact_id.", fields={"phone": ["This field is required."]})
    try:
        phone = PhoneField().clean(data["phone"])
    except forms.ValidationError as exc:  # the phone parser's words
        raise ApiError(f"phone: {exc.messages[0]}", fields={"phone": exc.messages}) from None
    contact = sub_account.contacts.filter(phone=phone).first()
    if contact is None:
        raise ApiError(
            "No contact with this number: create it first (POST /api/v1/contacts).", status=404, code="not_found"
        )
    return contact


def _uuid(value, name):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise ApiError(f"{name}: Not a valid id.", fields={name: ["Not a valid id."]}) from None


@api_view("POST")
def enrollments(request, sub_account, workflow_id):
    workflow = get_object_or_404(sub_account.workflows, pk=workflow_id)
    contact = _contact(sub_account, request.data)
    try:
        enrollment = triggers.api_enroll(workflow=workflow, contact=contact)
    except triggers.NotEnrolled as exc:
        raise ApiError(
            str(exc), status=409 if exc.conflict else 400, code="conflict" if exc.conflict else "refused"
        ) from None
    return JsonResponse(enrollment_json(enrollment), status=201)


@api_view("GET", "DELETE")
def enrollment_detail(request, sub_account, enrollment_id):
    enrollments_of = Enrollment.objects.filter(sub_account=sub_account).select_related("workflow", "contact")
    enrollment = get_object_or_404(enrollments_of, pk=enrollment_id)
    if request.method == "DELETE" and not triggers.unenroll(enrollment=enrollment, via="through the API"):
        raise ApiError(
            f"The enrollment is {enrollment.get_status_display().lower()}: nothing to end.", status=409, code="conflict"
        )
    return JsonResponse(enrollment_json(enrollment))
