import uuid

from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts import access
from accounts.forms import BusinessInfoForm
from accounts.models import AGENCY_ROLES, Agency, Role, SubAccount
from compliance import dashboard
from compliance import services as compliance_services


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


@login_required
def switch(request):
    try:
        sub_account_id = uuid.UUID(request.GET.get("to", ""))
    except ValueError:
        raise Http404 from None
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    return redirect("subaccount_dashboard", sub_account_id=sub_account.pk)


@login_required
def agency_detail(request, agency_id):
    agency = access.get_agency_for(request.user, agency_id)
    rows = dashboard.rows(agency.sub_accounts.order_by("name"), timezone.now())  # R8 rates, status
    return render(request, "accounts/agency_detail.html", {"agency": agency, "rows": rows})


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
        "accounts/subaccount_dashboard.html",
        {
            "sub_account": sub_account,
            "role": role,
            "members": sub_account.memberships.select_related("user").order_by("role"),
            "nav": "dashboard",
            "ramp": compliance_services.ramp_card(sub_account, now),
            "health": health,
            "self_lift": self_lift,
        },
    )


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


SAMPLE_BODY = "Hi {first_name}, this is what your contacts will see."


def _business_preview(sub_account, data):
    """The initial bulk message as a contact will see it, from the (unsaved) form values."""
    from compliance.policy import get_policy
    from compliance.rules import compose, merge

    business_name = (data.get("business_name") or sub_account.business_name).strip()
    return compose(
        merge(SAMPLE_BODY, {"first_name": "Alex"}),
        source="bulk",
        is_initial=True,
        has_texted_in=False,
        business_name=business_name,
        opt_out_text=data.get("opt_out_text", ""),
        sender_text=data.get("sender_text", ""),
        policy=get_policy(),
    )


@login_required
def business_info(request, sub_account_id):
    """Owners and agency admins edit; other roles read. Every change is recorded (who, when,
    before/after)."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    can_edit = access.can_manage(request.user, sub_account)
    form = BusinessInfoForm(request.POST or None, instance=sub_account)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only sub-account owners and agency admins can edit Business Info.")
        if request.htmx and request.POST.get("preview"):
            return render(
                request,
                "accounts/business_info.html#preview",
                {"preview": _business_preview(sub_account, request.POST), "sub_account": sub_account},
            )
        if form.is_valid():
            business_info_update(sub_account=sub_account, form=form, user=request.user)
            flash.success(request, "Business Info saved.")
            return redirect("business_info", sub_account.pk)
    data = request.POST if request.method == "POST" else {}
    return render(
        request,
        "accounts/business_info.html",
        {
            "sub_account": sub_account,
            "form": form,
            "can_edit": can_edit,
            "preview": _business_preview(sub_account, data or {
                "business_name": sub_account.business_name,
                "opt_out_text": sub_account.opt_out_text,
                "sender_text": sub_account.sender_text,
            }),
            "changes": sub_account.business_info_changes.select_related("user")[:20],
            "nav": "business",
        },
    )  # fmt: skip


def business_info_update(*, sub_account, form, user):
    from compliance.models import BusinessInfoChange

    fields = form.Meta.fields
    before = {f: getattr(SubAccount.objects.get(pk=sub_account.pk), f) for f in fields}
    with transaction.atomic():
        form.save()
        after = {f: getattr(sub_account, f) for f in fields}
        if before != after:
            BusinessInfoChange.objects.create(sub_account=sub_account, user=user, before=before, after=after)
