from django.urls import path

from messaging.views import contacts

C = "s/<uuid:sub_account_id>/contacts/"

urlpatterns = [
    path(C, contacts.contact_list, name="contact_list"),
    path(C + "new/", contacts.contact_create, name="contact_create"),
    path(C + "import/", contacts.contact_import, name="contact_import"),
    path(C + "<uuid:contact_id>/", contacts.contact_detail, name="contact_detail"),
    path(C + "<uuid:contact_id>/edit/", contacts.contact_edit, name="contact_edit"),
]
