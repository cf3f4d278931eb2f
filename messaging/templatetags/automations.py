"""`{% pause_all_control sub_account %}`: the "pause all sending" control, on any page of the
sub-account (the dashboard and its violation and suspension banners are compliance's templates;
they include the control without compliance importing what pauses)."""

from django import template

from accounts import access
from accounts.models import Role
from messaging.automations.controls import pause_in_force

register = template.Library()


@register.inclusion_tag("messaging/automations/_pause_all.html", takes_context=True)
def pause_all_control(context, sub_account, urgent=False):
    """One query: the pause in force (the page's `role` is reused when it has one). `urgent`: in a
    violation or suspension banner, the button is red."""
    request = context["request"]
    role = context["role"] if "role" in context else access.role_in(request.user, sub_account)
    return {
        "sub_account": sub_account,
        "pause": pause_in_force(sub_account),
        "can_manage": role in (Role.AGENCY_ADMIN, Role.SUBACCOUNT_OWNER),
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
        "urgent": urgent,
    }
