"""R12 for support staff: a sub-account's support page — whether it may get new phone numbers,
the suspensions that restrict it, and the lift of that restriction (who, when, why)."""

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import access
from compliance import provisioning
from compliance.errors import ComplianceError


class LiftForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
        help_text="Recorded with your name; the sub-account's team can ask support for it.",
    )  # fmt: skip


@login_required
def support_subaccount(request, sub_account_id):
    access.require_support(request.user)
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    form = LiftForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            provisioning.provisioning_restriction_lift(
                sub_account=sub_account, user=request.user, reason=form.cleaned_data["reason"]
            )
        except ComplianceError as exc:
            flash.error(request, str(exc))
        else:
            flash.success(request, f"{sub_account.name} can get new phone numbers again.")
        return redirect("support_subaccount", sub_account.pk)
    state = provisioning.provisioning_state(sub_account, timezone.now())
    return render(
        request, "compliance/support_subaccount.html",
        {"sub_account": sub_account, "state": state, "form": form},
    )  # fmt: skip
