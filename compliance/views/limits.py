"""R7 limit extensions: at ramp level 8 owners ask for a higher daily limit; support decides."""

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import access
from compliance import limits
from compliance.forms import DecisionForm, LimitRequestForm
from compliance.models import LimitExtensionRequest


@login_required
def limit_request(request, sub_account_id):
    """At ramp level 8, owners (and agency admins) ask support for a higher daily limit."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    card = limits.ramp_card(sub_account, timezone.now())
    can_ask = access.can_manage(request.user, sub_account) and card.level == len(card.levels)
    form = LimitRequestForm(request.POST or None)
    if request.method == "POST":
        if not can_ask:
            raise PermissionDenied("Only owners and agency admins of a sub-account at level 8 can ask.")
        if form.is_valid():
            LimitExtensionRequest.objects.create(
                sub_account=sub_account, requested_by=request.user, **form.cleaned_data
            )
            flash.success(request, "Your request was sent to support.")
            return redirect("limit_request", sub_account.pk)
    return render(
        request,
        "compliance/limit_request.html",
        {"sub_account": sub_account, "form": form, "card": card, "can_ask": can_ask, "nav": "dashboard",
         "requests": sub_account.limit_requests.all()},
    )  # fmt: skip


@login_required
def support_limit_requests(request):
    access.require_support(request.user)
    pending = LimitExtensionRequest.objects.pending().select_related("sub_account__agency")
    decided = LimitExtensionRequest.objects.decided().select_related("sub_account", "decided_by")[:50]
    return render(
        request, "compliance/support_limit_requests.html",
        {"pending": pending, "decided": decided, "form": DecisionForm()},
    )  # fmt: skip


@login_required
@require_POST
def support_limit_decide(request, request_id):
    access.require_support(request.user)
    ask = get_object_or_404(LimitExtensionRequest, pk=request_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        flash.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    elif not ask.is_pending:
        flash.error(request, "This request was already decided.")
    else:
        limits.limit_request_decide(
            request=ask, approve=form.cleaned_data["decision"] == "approve",
            granted_limit=form.cleaned_data["granted_limit"], note=form.cleaned_data["note"], user=request.user,
        )  # fmt: skip
        flash.success(request, f"Request from {ask.sub_account} {ask.status}.")
    return redirect("support_limit_requests")
