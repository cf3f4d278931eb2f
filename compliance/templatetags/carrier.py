"""`{% with c=m.error_code|carrier_code %}{{ c.meaning }} — {{ c.action }}{% endwith %}`: a carrier
error code's meaning and what to do, from the one table (`compliance.carrier_codes`) that R1's
DND mapping is built from. Loaded as a builtin (config/settings.py)."""

from django import template

from compliance import carrier_codes

register = template.Library()


@register.filter
def carrier_code(code):
    """The table's entry for `code` (one that says it is unknown for an unlisted code); None for no code."""
    return carrier_codes.describe(code)
