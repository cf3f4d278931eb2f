"""R8/R9 pages: the agency self-lift of a temporary suspension, and support's rate-risk list."""

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import access
from accounts.models import Role, SubAccount
from compliance import dashboard, suspensions
from compliance.errors import ComplianceError
from compliance.policy import get_policy


@login_required
@require_POST
def suspension_lift(request, sub_account_id, suspension_id):
    """R9 last bullet: an agency admin lifts a temporary rate suspension early (agency older than
    90 days, once per 30 days, acknowledgement ticked and `confirm` typed; checked by the service)."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    suspension = get_object_or_404(sub_account.suspensions, pk=suspension_id)
    if access.role_in(request.user, sub_account) != Role.AGENCY_ADMIN:
        raise PermissionDenied("Only agency admins can lift a suspension.")
    try:
        suspensions.suspension_self_lift(
            suspension=suspension, user=request.user, acknowledged=request.POST.get("acknowledge") == "on",
            typed=request.POST.get("typed", ""),
        )  # fmt: skip
    except ComplianceError as exc:
        flash.error(request, str(exc))
    else:
        flash.success(request, "Suspension lifted: bulk, workflow and campaign messages can be sent again.")
    return redirect("subaccount_dashboard", sub_account.pk)


@login_required
def support_risk(request):
    """R8 for support: every sub-account, closest to a suspension threshold first."""
    access.require_support(request.user)
    rows = dashboard.risk_list(SubAccount.objects.select_related("agency"), timezone.now())
    return render(
        request, "compliance/support_risk.html",
        {"rows": rows[: dashboard.RISK_LIST_ROWS], "total": len(rows), "policy": get_policy(),
         "suspension_at": dashboard.suspension_thresholds(get_policy())},
    )  # fmt: skip
