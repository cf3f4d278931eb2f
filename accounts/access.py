"""Tenant access: one helper per object type. Each starts from the user's memberships and
raises 404 (never 403) for anything outside them, so another tenant's ids reveal nothing."""

from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import AGENCY_ROLES, Agency, Membership, Role, SubAccount

SUPPORT = "support"


def get_subaccount_for(user, sub_account_id) -> SubAccount:
    return get_object_or_404(SubAccount.objects.visible_to(user).select_related("agency"), pk=sub_account_id)


def get_agency_for(user, agency_id) -> Agency:
    """Agencies are visible to their agency admins/staff and to support staff only."""
    agencies = Agency.objects.all()
    if not user.is_support_staff:
        agencies = agencies.filter(memberships__user=user, memberships__role__in=AGENCY_ROLES).distinct()
    return get_object_or_404(agencies, pk=agency_id)


def role_in(user, sub_account: SubAccount) -> str | None:
    """The strongest role the user holds over a sub-account (agency roles first)."""
    if user.is_support_staff:
        return SUPPORT
    roles = set(
        Membership.objects.filter(
            Q(agency_id=sub_account.agency_id) | Q(sub_account=sub_account), user=user
        ).values_list("role", flat=True)
    )
    for role in (Role.AGENCY_ADMIN, Role.AGENCY_STAFF, Role.SUBACCOUNT_OWNER, Role.SUBACCOUNT_USER):
        if role in roles:
            return role
    return None


def can_manage(user, sub_account: SubAccount) -> bool:
    """Owners and agency admins edit Business Info, API keys and numbers (issue 6, R5/R6)."""
    return role_in(user, sub_account) in (Role.AGENCY_ADMIN, Role.SUBACCOUNT_OWNER)


def require_support(user) -> None:
    if not user.is_support_staff:
        raise Http404
