from django.urls import path, re_path

from messaging import api, api_automations, api_exports, api_webhooks
from messaging.views import api_keys

S = "s/<uuid:sub_account_id>/"

urlpatterns = [
    path("api/v1/contacts", api.contacts, name="api_contacts"),
    path("api/v1/contacts/<str:phone>", api.contact_detail, name="api_contact_detail"),
    path("api/v1/messages", api.messages, name="api_messages"),
    path("api/v1/messages/<uuid:message_id>", api.message_detail, name="api_message_detail"),
    path("api/v1/workflows", api_automations.workflows, name="api_workflows"),
    path("api/v1/workflows/<uuid:workflow_id>/enrollments", api_automations.enrollments, name="api_enrollments"),
    path("api/v1/enrollments/<uuid:enrollment_id>", api_automations.enrollment_detail, name="api_enrollment_detail"),
    # Exports (issue 16): streamed files, see docs/API.md "Exports".
    path("api/v1/exports/contacts.csv", api_exports.contacts_csv, name="api_export_contacts"),
    path("api/v1/exports/messages.csv", api_exports.messages_csv, name="api_export_messages"),
    path("api/v1/exports/bulk/<uuid:bulk_id>.csv", api_exports.bulk_report_csv, name="api_export_bulk_report"),
    path("api/v1/exports/audit.csv", api_exports.audit_export, {"fmt": "csv"}, name="api_export_audit_csv"),
    path("api/v1/exports/audit.json", api_exports.audit_export, {"fmt": "json"}, name="api_export_audit_json"),
    # Outgoing webhooks (issue 16): see docs/API.md "Managing webhook endpoints".
    path("api/v1/webhooks", api_webhooks.webhooks, name="api_webhooks"),
    path("api/v1/webhooks/<int:endpoint_id>", api_webhooks.webhook_detail, name="api_webhook_detail"),
    path("api/v1/webhooks/<int:endpoint_id>/deliveries", api_webhooks.deliveries, name="api_webhook_deliveries"),
    path("api/v1/webhooks/<int:endpoint_id>/test", api_webhooks.send_test, name="api_webhook_test"),
    path(
        "api/v1/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver",
        api_webhooks.redeliver,
        name="api_webhook_redeliver",
    ),
    re_path(r"^api/", api.not_found),  # anything else under the API (any version) answers in JSON too
    path(S + "settings/api-keys/", api_keys.api_key_list, name="api_key_list"),
    path(S + "settings/api-keys/<uuid:key_id>/revoke/", api_keys.api_key_revoke, name="api_key_revoke"),
]
