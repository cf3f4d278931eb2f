"""Contact-page compliance actions: remove a temporary DND (R2), record an opt-in with its
proof (R10), export the proof of opt-in for a number (R9 fields) as a printable page or CSV."""

import csv

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import access
from compliance import ledger
from compliance.errors import ComplianceError
from compliance.forms import OptInForm
from compliance.views.files import private_file


def _contact(request, sub_account_id, contact_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    return sub_account, get_object_or_404(sub_account.contacts, pk=contact_id)


@login_required
@require_POST
def dnd_remove(request, sub_account_id, contact_id):
    """R2: one contact at a time, temporary DND only. There is no bulk variant, anywhere."""
    _sub_account, contact = _contact(request, sub_account_id, contact_id)
    try:
        ledger.dnd_remove_temporary(contact=contact, user=request.user)
        flash.success(request, "Temporary DND removed. Messages can be sent to this contact again.")
    except ComplianceError as exc:
        flash.error(request, str(exc))
    return redirect("contact_detail", sub_account_id, contact.pk)


@login_required
def consent_record(request, sub_account_id, contact_id):
    """R10: record an opt-in with the proof fields (and optional screenshot)."""
    sub_account, contact = _contact(request, sub_account_id, contact_id)
    form = OptInForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            event = ledger.consent_record_opt_in(
                contact=contact, source=data["source"], at=data["at"], ip_or_method=data["ip_or_method"],
                url=data["url"], consent_text=data["consent_text"], user=request.user,
            )  # fmt: skip
        except ComplianceError as exc:
            form.add_error(None, str(exc))
        else:
            if data["screenshot"]:
                event.screenshot = data["screenshot"]
                event.save(update_fields=["screenshot"])
            flash.success(request, "Opt-in recorded.")
            return redirect("contact_detail", sub_account.pk, contact.pk)
    return render(
        request, "compliance/consent_record.html", {"sub_account": sub_account, "contact": contact, "form": form}
    )


PROOF_COLUMNS = [
    "Phone", "Name", "Email", "Physical address", "Event", "Registration date and time (UTC)",
    "IP address or method", "URL or collection details", "Source", "Consent text", "Screenshot",
]  # fmt: skip


def _proof_rows(request, contact):
    for e in contact.consent_events.order_by("at", "id"):
        yield [
            contact.phone, contact.name, contact.email, contact.address, e.get_kind_display(),
            e.at.strftime("%Y-%m-%d %H:%M:%S"), e.ip_or_method, e.url, e.source, e.consent_text,
            request.build_absolute_uri(screenshot_url(contact, e)) if e.screenshot else "",
        ]  # fmt: skip


def screenshot_url(contact, event) -> str:
    return reverse("consent_screenshot", args=[contact.sub_account_id, contact.pk, event.pk])


@login_required
def consent_screenshot(request, sub_account_id, contact_id, event_id):
    """R9/R10: a consent screenshot, to the sub-account's own users only (uploads are not
    public media: they can show a person's name, address and phone number)."""
    _sub_account, contact = _contact(request, sub_account_id, contact_id)
    event = get_object_or_404(contact.consent_events.exclude(screenshot=""), pk=event_id)
    return private_file(event.screenshot)


@login_required
def consent_proof(request, sub_account_id, contact_id):
    """R9/R10: proof of opt-in for one number, as a printable page (Print → Save as PDF)."""
    sub_account, contact = _contact(request, sub_account_id, contact_id)
    events = contact.consent_events.order_by("at", "id")
    return render(
        request,
        "compliance/consent_proof.html",
        {"sub_account": sub_account, "contact": contact, "events": events, "generated_at": timezone.now()},
    )


@login_required
def consent_proof_csv(request, sub_account_id, contact_id):
    _sub_account, contact = _contact(request, sub_account_id, contact_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="proof-of-opt-in-{contact.phone.lstrip("+")}.csv"'
    writer = csv.writer(response)
    writer.writerow(PROOF_COLUMNS)
    writer.writerows(_proof_rows(request, contact))
    return response
