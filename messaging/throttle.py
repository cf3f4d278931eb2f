"""Per-API-key request limits for the JSON API: `API_RATE_LIMIT_PER_MINUTE` sustained, at most
`API_RATE_LIMIT_BURST` at once, counted in Redis (accounts/throttle.py) so the limit holds
however many web processes serve the key. The webhooks are not API views and are never
limited: a receipt or STOP refused with a 429 could be lost once Twilio gives up retrying."""

import time
from functools import wraps

from django.conf import settings
from django.http import JsonResponse

from accounts.throttle import retry_after_header, take


def api_key_throttle(request, key) -> JsonResponse | None:
    """A 429 once `key` has spent its allowance, else None. Either way the X-RateLimit headers
    for the answer are left on the request (see `with_rate_limit_headers`)."""
    rate = settings.API_RATE_LIMIT_PER_MINUTE
    if rate <= 0:
        return None
    burst, now = settings.API_RATE_LIMIT_BURST, time.time()
    decision = take(f"throttle:api:{key.pk}", rate=rate, period=60, burst=burst, now=now)
    if decision is None:
        # Redis is down: let the request through uncounted. The limit protects capacity and is
        # not a rule of the policy; refusing every call (reads included, which need no Redis)
        # for the length of an outage would do more harm than a few minutes without it.
        return None
    request.rate_limit_headers = {
        "X-RateLimit-Limit": str(decision.burst),
        "X-RateLimit-Remaining": str(decision.remaining),
    }
    if decision.allowed:
        return None
    retry_after = retry_after_header(decision)
    response = JsonResponse(
        {
            "error": f"Too many requests with this API key (at most {rate} a minute, {decision.burst} at once). "
            f"Retry after {retry_after} s.",
            "code": "rate_limited",
        },
        status=429,
    )
    response["Retry-After"] = retry_after
    return response


def with_rate_limit_headers(view):
    """Puts the X-RateLimit headers `api_key_throttle` left on the request on whatever the
    view answers, errors included."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        for name, value in getattr(request, "rate_limit_headers", {}).items():
            response[name] = value
        return response

    return wrapper
