from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from config.views import favicon, healthz

# DEBUG off: JSON under /api/, and 503 + Retry-After for a database or Redis outage.
handler400 = "config.errors.bad_request"
handler403 = "config.errors.permission_denied"
handler500 = "config.errors.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("accounts/", include("accounts.urls_auth")),  # before Django's: throttled password reset
    path("accounts/", include("django.contrib.auth.urls")),
    path(settings.ADMIN_URL + "rq/", include("django_rq.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
    path("", include("messaging.urls_api")),
    path("", include("messaging.urls_contacts")),
    path("", include("messaging.urls")),
    path("", include("messaging.urls_bulk")),
    path("", include("messaging.urls_automations")),
    path("", include("messaging.urls_exports")),  # exports (issue 16)
    path("", include("messaging.urls_webhooks")),  # Settings → Webhooks (issue 16)
    path("", include("compliance.urls")),
    path("", include("accounts.urls")),
]
