from django.urls import path

from messaging.views import exports

E = "s/<uuid:sub_account_id>/exports/"

# The compliance audit export is under the same prefix, in compliance/urls.py.
urlpatterns = [
    path(E, exports.exports_page, name="exports"),
    path(E + "contacts.csv", exports.contacts_export, name="contacts_export"),
    path(E + "messages.csv", exports.messages_export, name="messages_export"),
    path(E + "bulk/<uuid:bulk_id>.csv", exports.bulk_report_export, name="bulk_report_export"),
]
