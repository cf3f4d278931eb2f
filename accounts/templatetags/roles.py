"""`{{ role|role_label }}`: a role in words ("Sub-account owner"), never its code (a builtin of
the template engine, config/settings.py)."""

from django import template

from accounts.access import SUPPORT
from accounts.models import Role

register = template.Library()


def role_label(role) -> str:
    if not role:
        return ""
    if role == SUPPORT:
        return "Support staff"
    try:
        return Role(role).label
    except ValueError:
        return str(role).replace("_", " ").capitalize()


register.filter("role_label", role_label)
