"""Settings → Registration (issue 17): the sub-account's A2P 10DLC brand and campaign, or its
toll-free verification, edited as a draft, submitted through the provider, its review shown."""

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import access
from compliance import registration as records
from compliance.models import Registration
from messaging.registration import registration_submit, registration_sync
from messaging.services import MessagingError


class RegistrationForm(forms.ModelForm):
    website = forms.URLField(label="Business website", max_length=300, assume_scheme="https")

    class Meta:
        model = Registration
        fields = [
            "legal_name", "tax_id", "website", "contact_email", "use_case", "description",
            "opt_in_description", "sample_1", "sample_2", "monthly_volume", "customer_profile_sid",
            "a2p_profile_sid",
        ]  # fmt: skip
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "opt_in_description": forms.Textarea(attrs={"rows": 3}),
            "sample_1": forms.Textarea(attrs={"rows": 2}),
            "sample_2": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "opt_in_description": "Where and how contacts agree to get texts: the web form, the checkbox "
            "wording, the keyword — the same facts an appeal asks for.",
            "sample_1": "As it will be sent: with the business name and “Reply STOP to unsubscribe”.",
            "customer_profile_sid": "Twilio only (Twilio console → Trust Hub). Not needed with the simulator.",
        }


def _registration(sub_account, kind) -> Registration:
    found = Registration.objects.filter(sub_account=sub_account, kind=kind).first()
    return found or Registration(sub_account=sub_account, kind=kind, legal_name=sub_account.business_name)


@login_required
def registration(request, sub_account_id, kind=Registration.Kind.TEN_DLC):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    if kind not in Registration.Kind.values:
        kind = Registration.Kind.TEN_DLC
    can_manage = access.can_manage(request.user, sub_account)
    current = _registration(sub_account, kind)
    form = RegistrationForm(request.POST or None, instance=current)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only sub-account owners and agency admins can edit the registration.")
        if not current.editable:
            flash.error(request, "This registration is in review or approved: it cannot be changed.")
            return redirect("registration_kind", sub_account.pk, kind)
        if form.is_valid():
            saved = form.save()
            if "submit" in request.POST:
                try:
                    registration_submit(registration=saved, user=request.user)
                except MessagingError as exc:
                    flash.error(request, f"Saved as a draft, not submitted: {exc}")
                else:
                    flash.success(
                        request, "Submitted for review. Carriers usually answer within days; the status updates here."
                    )
            else:
                flash.success(request, "Draft saved.")
            return redirect("registration_kind", sub_account.pk, kind)
    return render(
        request,
        "messaging/registration.html",
        {
            "sub_account": sub_account, "form": form, "registration": current, "kind": kind,
            "kinds": Registration.Kind.choices, "can_manage": can_manage and current.editable,
            "missing": records.missing(sub_account), "events": current.events.all() if current.pk else [],
            "nav": "registration",
        },
    )  # fmt: skip


@login_required
@require_POST
def registration_refresh(request, sub_account_id, kind):
    """Read the review status back now instead of waiting for the next sync."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    current = Registration.objects.filter(sub_account=sub_account, kind=kind).first()
    if current is not None:
        registration_sync(current.pk)
    return redirect("registration_kind", sub_account.pk, kind)
