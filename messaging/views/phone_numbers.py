"""Settings → Phone numbers (R12). Provisioning through the provider is a later issue; here a
sub-account's numbers are listed and, for the simulator, added by hand — never while suspended
(R12); a permanent suspension shows the phone system's own error texts (R9)."""

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import access
from compliance import suspensions
from messaging.models import PhoneNumber
from messaging.phone import InvalidPhoneNumber, to_e164


class PhoneNumberForm(forms.Form):
    number = forms.CharField(label="Phone number", max_length=30, help_text="E.164, e.g. +16465550123")
    label = forms.CharField(max_length=100, required=False)

    def clean_number(self):
        try:
            number = to_e164(self.cleaned_data["number"])
        except InvalidPhoneNumber as exc:
            raise forms.ValidationError(str(exc)) from None
        if PhoneNumber.objects.filter(number=number).exists():
            raise forms.ValidationError("This number is already in use.")
        return number


# R9: what the phone system shows a permanently suspended sub-account, word for word.
PERMANENT_TEXTS = ("Failed to retrieve Phone Numbers", "Lead Connector returned Unauthorized")
NO_NEW_NUMBERS = "No phone number can be added while sending is suspended (R12)."


@login_required
def phone_numbers(request, sub_account_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    can_manage = access.can_manage(request.user, sub_account)
    # R12: no provisioning while permanently suspended or suspended for its rates (R8).
    suspension = suspensions.suspension_in_force(sub_account.pk, timezone.now())
    form = PhoneNumberForm(request.POST or None)
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only sub-account owners and agency admins can add numbers.")
        if suspension is not None:
            flash.error(request, NO_NEW_NUMBERS)
            return redirect("phone_numbers", sub_account.pk)
        if form.is_valid():
            PhoneNumber.objects.create(sub_account=sub_account, **form.cleaned_data)
            flash.success(request, f"Added {form.cleaned_data['number']}.")
            return redirect("phone_numbers", sub_account.pk)
    return render(
        request,
        "messaging/phone_numbers.html",
        {
            "sub_account": sub_account,
            "numbers": sub_account.phone_numbers.all(),
            "form": form,
            "can_manage": can_manage and suspension is None,
            "suspension": suspension,
            "permanent_texts": PERMANENT_TEXTS,
            "no_new_numbers": NO_NEW_NUMBERS,
            "nav": "settings",
        },
    )
