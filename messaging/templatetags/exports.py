"""`{% if sub_account|can_export:request.user %}`: whether to show export buttons (owners and
agency admins, as `compliance.exports.subaccount_for_export` checks)."""

from django import template

from accounts import access

register = template.Library()


@register.filter
def can_export(sub_account, user) -> bool:
    return access.can_manage(user, sub_account)
