from django.urls import path

from messaging.views import contacts

C = "s/<uuid:sub_account_id>/contacts/"

urlpatterns = [
    path(C, contacts.contact_list, name="contact_list"),
    path(C + "new/", contacts.contact_create, name="contact_create"),
    path(C + "import/", contacts.contact_import, name="contact_import"),
    path(C + "import/<uuid:job_id>/", contacts.contact_import_job, name="contact_import_job"),
    path(C + "bulk/", contacts.contact_bulk_action, name="contact_bulk_action"),
    path(C + "segments/", contacts.segment_create, name="segment_create"),
    path(C + "<uuid:contact_id>/", contacts.contact_detail, name="contact_detail"),
    path(C + "<uuid:contact_id>/edit/", contacts.contact_edit, name="contact_edit"),
]
