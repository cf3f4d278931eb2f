"""R11 snowshoeing holds: the sub-account's held sends and their justification; support's queue.
Support's decision acts on the held messages, so its view is messaging's (`messaging.views.holds`)."""

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts import access
from compliance import screening
from compliance.errors import ComplianceError
from compliance.forms import JustificationForm
from compliance.models import SnowshoeHold
from compliance.policy import get_policy


@login_required
def snowshoe_holds(request, sub_account_id):
    """R11: the sub-account's held sends; owners and agency admins justify the awaiting ones."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    holds = sub_account.snowshoe_holds.annotate(held=Count("messages")).select_related("submitted_by")
    return render(
        request, "compliance/snowshoe_holds.html",
        {"sub_account": sub_account, "holds": holds, "nav": "bulk", "limit": get_policy().SNOWSHOE_NUMBERS,
         "can_justify": access.can_manage(request.user, sub_account)},
    )  # fmt: skip


@login_required
@require_POST
def snowshoe_justify(request, sub_account_id, hold_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    hold = get_object_or_404(sub_account.snowshoe_holds, pk=hold_id)
    if not access.can_manage(request.user, sub_account):
        raise PermissionDenied("Only owners and agency admins can justify a held send.")
    form = JustificationForm(request.POST)
    try:
        if not form.is_valid():
            raise ComplianceError("Write the business justification (at most 4000 characters).")
        screening.snowshoe_justify(hold=hold, text=form.cleaned_data["justification"], user=request.user)
        flash.success(request, "Your justification was sent to support.")
    except ComplianceError as exc:
        flash.error(request, str(exc))
    return redirect("snowshoe_holds", sub_account.pk)


@login_required
def support_snowshoe(request):
    access.require_support(request.user)
    holds = SnowshoeHold.objects.annotate(held=Count("messages")).select_related("sub_account__agency")
    return render(
        request, "compliance/support_snowshoe.html",
        {"pending": holds.pending_review().select_related("submitted_by").order_by("submitted_at"),
         "awaiting": holds.awaiting_justification().count(),
         "decided": holds.decided().select_related("decided_by").order_by("-decided_at")[:50]},
    )  # fmt: skip
