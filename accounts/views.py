"""Where each user lands, the sub-account switcher, support's home, and the login lockout page."""

import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from accounts import access
from accounts.models import AGENCY_ROLES, Agency, SubAccount


@login_required
def home(request):
    """Send each user to where their work is: support → the support queue, agency people →
    their agency, everyone else → their (first) sub-account."""
    user = request.user
    if user.is_support_staff:
        return redirect("support_home")
    agency_membership = user.memberships.filter(role__in=AGENCY_ROLES).first()
    if agency_membership:
        return redirect("agency_detail", agency_id=agency_membership.agency_id)
    sub_account = SubAccount.objects.visible_to(user).first()
    if sub_account:
        return redirect("subaccount_dashboard", sub_account_id=sub_account.pk)
    return render(request, "accounts/no_access.html")


SWITCH_RESULTS = 25


@login_required
def switch(request):
    """The account switcher. `?to=<id>` goes to that sub-account's dashboard; `?q=` searches the
    user's own sub-accounts by name, business name or agency — the whole page without JS, the
    results list alone for the sidebar's htmx search."""
    if "to" in request.GET:
        try:
            sub_account_id = uuid.UUID(request.GET["to"])
        except ValueError:
            raise Http404 from None
        sub_account = access.get_subaccount_for(request.user, sub_account_id)
        return redirect("subaccount_dashboard", sub_account_id=sub_account.pk)
    q = request.GET.get("q", "").strip()[:100]
    found = SubAccount.objects.visible_to(request.user).matching(q).select_related("agency")
    context = {"q": q, "results": found[:SWITCH_RESULTS], "more": max(found.count() - SWITCH_RESULTS, 0)}
    template = "accounts/switch.html#results" if request.htmx else "accounts/switch.html"
    return render(request, template, context)


@login_required
def support_home(request):
    access.require_support(request.user)
    agencies = Agency.objects.prefetch_related("sub_accounts").order_by("name")
    return render(request, "accounts/support_home.html", {"agencies": agencies})


def login_locked_out(request, original_response, credentials):
    """AXES_LOCKOUT_CALLABLE: the page a locked-out login gets instead of the login form (429),
    so the next try is not one more wrong password."""
    context = {
        "email": (credentials or {}).get("username") or request.POST.get("username", ""),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    }
    return render(request, "registration/locked_out.html", context, status=429)
