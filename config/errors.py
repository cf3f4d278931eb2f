"""Errors for the whole site: JSON under /api/ (the API's error contract, docs/API.md), plain
pages elsewhere, and 503 + Retry-After while the database or Redis cannot be reached, so a
client (or Twilio, for a webhook) retries later instead of reading an outage as a bug."""

import logging
import sys

import redis
from django import db
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.views import defaults

from messaging import api

log = logging.getLogger(__name__)

# Raised when the server cannot be reached or the connection dropped (psycopg's connection
# errors and a statement timeout are OperationalError; a closed connection is InterfaceError).
OUTAGES = (db.OperationalError, db.InterfaceError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
RETRY_AFTER_SECONDS = 30


def unavailable(request) -> HttpResponse:
    if api.is_api(request):
        response = api.error(
            "The service is briefly unavailable. Try again shortly: with the same Idempotency-Key, "
            "a retry cannot do the work twice.",
            status=503,
            code="service_unavailable",
        )
    else:
        # Rendered without the request: the context processors read the database.
        response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class OutageMiddleware:
    """A view that hits a database or Redis outage answers 503 + Retry-After (also with DEBUG
    on). Exceptions raised outside views reach `server_error`, which does the same."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, OUTAGES):
            log.warning("%s %s: 503, %s: %s", request.method, request.path, type(exception).__name__, exception)
            return unavailable(request)
        return None


def server_error(request):
    """handler500 (DEBUG off): JSON without internals under /api/; the traceback goes to the log."""
    if isinstance(sys.exc_info()[1], OUTAGES):
        return unavailable(request)
    if api.is_api(request):
        return api.error("Something went wrong on our side; it has been logged.", status=500, code="internal_error")
    return defaults.server_error(request)


def bad_request(request, exception):
    """handler400: e.g. a Host header not in ALLOWED_HOSTS."""
    if api.is_api(request):
        return api.error("Bad request.", status=400, code="bad_request")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if api.is_api(request):
        return api.error("This API key may not do that.", status=403, code="forbidden")
    return defaults.permission_denied(request, exception)
