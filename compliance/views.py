"""Contact-page compliance actions: remove a temporary DND (R2), record an opt-in with its
proof (R10), export the proof of opt-in for a number (R9 fields) as a printable page or CSV."""

import csv

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.validators import FileExtensionValidator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import access
from compliance import services
from messaging import services as messaging_services

SCREENSHOT_MAX_BYTES = 5 * 1024 * 1024


def _contact(request, sub_account_id, contact_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    return sub_account, get_object_or_404(sub_account.contacts, pk=contact_id)


@login_required
@require_POST
def dnd_remove(request, sub_account_id, contact_id):
    """R2: one contact at a time, temporary DND only. There is no bulk variant, anywhere."""
    _sub_account, contact = _contact(request, sub_account_id, contact_id)
    try:
        services.dnd_remove_temporary(contact=contact, user=request.user)
        flash.success(request, "Temporary DND removed. Messages can be sent to this contact again.")
    except services.ComplianceError as exc:
        flash.error(request, str(exc))
    return redirect("contact_detail", sub_account_id, contact.pk)


class OptInForm(forms.Form):
    source = forms.CharField(max_length=100, help_text="Where consent was given: web form, paper form, event…")
    at = forms.DateTimeField(label="Consented at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ip_or_method = forms.CharField(label="IP address or method", max_length=200, required=False)
    url = forms.URLField(label="URL of the form", max_length=500, required=False, assume_scheme="https")
    consent_text = forms.CharField(label="Consent text shown", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    screenshot = forms.FileField(
        label="Screenshot of the form",
        required=False,
        validators=[FileExtensionValidator(["png", "jpg", "jpeg", "gif", "webp", "pdf"])],
    )

    def clean_at(self):
        at = self.cleaned_data["at"]
        if at > timezone.now():
            raise forms.ValidationError("Consent cannot be dated in the future.")
        return at

    def clean_screenshot(self):
        shot = self.cleaned_data.get("screenshot")
        if shot and shot.size > SCREENSHOT_MAX_BYTES:
            raise forms.ValidationError("The screenshot is larger than 5 MB.")
        return shot


@login_required
def consent_record(request, sub_account_id, contact_id):
    """R10: record an opt-in with the proof fields (and optional screenshot)."""
    sub_account, contact = _contact(request, sub_account_id, contact_id)
    form = OptInForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            event = messaging_services.consent_record_opt_in(
                contact=contact, source=data["source"], at=data["at"], ip_or_method=data["ip_or_method"],
                url=data["url"], consent_text=data["consent_text"], user=request.user,
            )  # fmt: skip
        except messaging_services.MessagingError as exc:
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
            request.build_absolute_uri(e.screenshot.url) if e.screenshot else "",
        ]  # fmt: skip


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
