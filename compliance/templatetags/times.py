"""Template filters for times (the one rule, `compliance.times`): the sub-account's zone with its
abbreviation. Loaded as a builtin (config/settings.py), so every template and email has them:

    {{ m.created_at|local:sub_account }}         Dec 2, 2026, 7:24 AM EST
    {{ m.created_at|local_short:sub_account }}   Dec 2, 7:24 AM EST
    {{ m.created_at|local_time:sub_account }}    7:24 AM EST
    {{ a.created_at|local_date:sub_account }}    Dec 2, 2026
    {{ s.ends_at|utc_and_local:sub_account }}    Dec 2, 2026, 7:00 PM EST (00:00 UTC)

The argument is a sub-account (anything with `time_zone`) or a zone name; without one, the zone
active in the template (`{% timezone %}`) is used. Empty values render as ""."""

from django import template
from django.utils import timezone

from compliance import times

register = template.Library()


def _zone_name(arg) -> str:
    if arg in (None, ""):
        return str(timezone.get_current_timezone())
    return getattr(arg, "time_zone", arg) or "UTC"


def _filter(name, fn):
    def apply(value, arg=None):
        if value in (None, ""):
            return ""
        return fn(value, _zone_name(arg))

    return register.filter(name, apply, expects_localtime=False)


local = _filter("local", times.local)
local_short = _filter("local_short", times.local_short)
local_time = _filter("local_time", times.time_of)
local_date = _filter("local_date", times.day_of)
utc_and_local = _filter("utc_and_local", times.utc_and_local)
