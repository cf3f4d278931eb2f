from django.contrib import admin
from django.urls import include, path

from config.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("", include("messaging.urls_api")),
    path("", include("messaging.urls_contacts")),
    path("", include("messaging.urls")),
    path("", include("messaging.urls_bulk")),
    path("", include("messaging.urls_automations")),
    path("", include("compliance.urls")),
    path("", include("accounts.urls")),
]
