from django.contrib import admin

from compliance.models import ConsentEvent
from messaging.admin import ReadOnlyAdmin


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "contact", "sub_account", "source", "ip_or_method"]
    list_filter = ["kind", "source"]
    search_fields = ["contact__phone", "url"]
    list_select_related = ["contact", "sub_account"]
