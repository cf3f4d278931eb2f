"""Request throttles counted in Redis, so a limit holds across web processes and threads: the
one rate limiter (GCRA) behind the API keys' limits (messaging/throttle.py) and the
password-reset emails (accounts/forms.py), and the client address both they and django-axes use.

GCRA (the "generic cell rate algorithm", a token bucket kept as one timestamp) rather than a
fixed INCR+EXPIRE window: one key per client, one round trip, no double burst at a window
edge, and an exact Retry-After (when the next request would pass). The read-modify-write is
one Lua script, so concurrent requests on other processes cannot both take the last token.

`now` comes from the caller (the web host's clock, as elsewhere in this codebase), not from
Redis TIME: tests move it with time-machine, and hosts kept by NTP differ by milliseconds,
which only shifts a limit by as much."""

import functools
import logging
import math
from dataclasses import dataclass

import redis
from django.conf import settings
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

_GCRA = """
local now, interval, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now)
local allow_at = tat + interval - burst * interval
if now < allow_at then
  return {0, tostring(allow_at - now), 0}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000))
return {1, '0', math.floor((now - allow_at) / interval + 1e-9)}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    burst: int  # the most requests that pass at once (X-RateLimit-Limit)
    remaining: int  # how many more would pass right now (X-RateLimit-Remaining)
    retry_after: float  # seconds until the next one would pass; 0 when allowed


@functools.cache
def _client(url: str) -> redis.Redis:
    # Short timeouts and no retries: this runs on the request path, so a dead or hung Redis
    # must cost a request a fraction of a second, not redis-py's default backoff-and-retry.
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))


@functools.cache
def _script(url: str):
    return _client(url).register_script(_GCRA)


def take(key: str, *, rate: int, period: float, burst: int, now: float) -> Decision | None:
    """Spend one request of `key`'s allowance: `rate` requests per `period` seconds, at most
    `burst` at once. None when Redis cannot be reached: the caller lets the request through."""
    interval = period / rate
    try:
        allowed, retry_after, remaining = _script(settings.REDIS_URL)(keys=[key], args=[now, interval, burst])
    except redis.RedisError as exc:
        log.warning("throttle %s not counted, Redis unavailable: %s", key, exc)
        return None
    return Decision(bool(allowed), burst, int(remaining), float(retry_after))


def retry_after_header(decision: Decision) -> str:
    """Retry-After is whole seconds; rounding down would invite a retry that is refused again."""
    return str(max(1, math.ceil(decision.retry_after)))


def client_ip(request) -> str:
    """The client's address. Behind `TRUSTED_PROXIES` reverse proxies it is the one the
    outermost proxy saw: each proxy appends to X-Forwarded-For, so that entry is counted from
    the right, and whatever a client wrote into the header itself stays to its left, unused.
    Also django-axes' AXES_CLIENT_IP_CALLABLE, so lockouts count the same address."""
    hops = settings.TRUSTED_PROXIES
    forwarded = [ip.strip() for ip in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if ip.strip()]
    if hops and len(forwarded) >= hops:
        return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")
