from django.urls import path

from messaging.views import bulk

B = "s/<uuid:sub_account_id>/bulk/"

urlpatterns = [
    path(B, bulk.bulk_index, name="bulk_index"),
    path(B + "preview/", bulk.bulk_preview, name="bulk_preview"),
    path(B + "confirm/", bulk.bulk_confirm, name="bulk_confirm"),
    path(B + "test/", bulk.bulk_test, name="bulk_test"),
    path(B + "count/", bulk.bulk_count, name="bulk_count"),
    path(B + "<uuid:bulk_id>/", bulk.bulk_detail, name="bulk_detail"),
]
