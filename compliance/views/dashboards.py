"""The agency page and the sub-account dashboard: the ramp card (R7), messaging health (R8) and
the self-lift offer (R9) — compliance's view of how a business is sending."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from accounts import access
from accounts.models import Role
from compliance import dashboard, limits, registration


@login_required
def agency_detail(request, agency_id):
    agency = access.get_agency_for(request.user, agency_id)
    rows = dashboard.rows(agency.sub_accounts.order_by("name"), timezone.now())  # R8 rates, status
    return render(request, "compliance/agency_detail.html", {"agency": agency, "rows": rows})


@login_required
def subaccount_dashboard(request, sub_account_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    role, now = access.role_in(request.user, sub_account), timezone.now()
    health = dashboard.messaging_health(sub_account, now)  # R8
    self_lift = dashboard.self_lift_offer(
        suspension=health.suspension, agency=sub_account.agency, is_agency_admin=role == Role.AGENCY_ADMIN, now=now
    )  # R9 last bullet
    return render(
        request,
        "compliance/subaccount_dashboard.html",
        {
            "sub_account": sub_account,
            "role": role,
            "members": sub_account.memberships.select_related("user").order_by("role"),
            "nav": "dashboard",
            "ramp": limits.ramp_card(sub_account, now),
            "health": health,
            "self_lift": self_lift,
            "registration_missing": registration.missing(sub_account),  # issue 17
            "can_export": role in (Role.AGENCY_ADMIN, Role.SUBACCOUNT_OWNER),  # as access.can_manage
        },
    )
