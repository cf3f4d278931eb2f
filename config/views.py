import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_safe

log = logging.getLogger(__name__)

# Browsers ask for /favicon.ico on every page whatever the <link rel="icon"> says; answered
# from here rather than 404 (read once: it is part of the code, like a template).
FAVICON = (settings.BASE_DIR / "static" / "img" / "favicon.ico").read_bytes()


@require_safe
@cache_control(public=True, max_age=86400)
def favicon(request):
    return HttpResponse(FAVICON, content_type="image/x-icon")


@never_cache
def healthz(request):
    """200 when the database and Redis both answer; 503 naming the one that does not."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "down" here
        log.warning("healthz: database: %s", exc)
        checks["database"] = "error"
    try:
        # The same server RQ_QUEUES use (both come from REDIS_URL).
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()
        checks["redis"] = "ok"
    except Exception as exc:
        log.warning("healthz: redis: %s", exc)
        checks["redis"] = "error"
    status = 200 if all(v == "ok" for v in checks.values()) else 503
    return JsonResponse(checks, status=status)
