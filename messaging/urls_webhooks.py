"""Settings → Webhooks (issue 16). The API's webhook URLs are in urls_api.py, before its catch-all."""

from django.urls import path

from messaging.views import webhooks

W = "s/<uuid:sub_account_id>/settings/webhooks/"
E = W + "<int:endpoint_id>/"

urlpatterns = [
    path(W, webhooks.webhook_list, name="webhook_list"),
    path(E, webhooks.webhook_detail, name="webhook_detail"),
    path(E + "toggle/", webhooks.webhook_toggle, name="webhook_toggle"),
    path(E + "roll-secret/", webhooks.webhook_roll_secret, name="webhook_roll_secret"),
    path(E + "test/", webhooks.webhook_send_test, name="webhook_send_test"),
    path(E + "delete/", webhooks.webhook_delete, name="webhook_delete"),
    path(E + "deliveries/<int:delivery_id>/send-again/", webhooks.webhook_send_again, name="webhook_send_again"),
]
