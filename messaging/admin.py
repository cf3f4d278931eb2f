from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from messaging.models import ApiKey, Contact, Message, MessageEvent, PhoneNumber, ReceiptEvent, Tag


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    list_display = ["number", "sub_account", "label", "created_at"]
    list_filter = ["sub_account__agency"]
    search_fields = ["number", "sub_account__name"]
    list_select_related = ["sub_account"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "sub_account"]
    search_fields = ["name"]
    list_select_related = ["sub_account"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["phone", "first_name", "last_name", "sub_account", "dnd", "consent", "last_message_at"]
    list_filter = ["dnd", "consent", "sub_account__agency"]
    search_fields = ["phone", "first_name", "last_name", "email"]
    list_select_related = ["sub_account"]
    raw_id_fields = ["sub_account"]
    filter_horizontal = ["tags"]
    # DND and consent change only through their rules (R2, R3, R4, R10), with a history row:
    # never edited here, and there are no bulk actions for them.
    readonly_fields = ["dnd", "consent", "last_message_at", "last_message_preview", "unread_count", "has_texted_in"]
    actions = None


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "sub_account", "direction", "source", "status", "to_number", "error_code"]
    list_filter = ["direction", "source", "status", "error_code"]
    search_fields = ["to_number", "from_number", "provider_sid", "body"]
    list_select_related = ["sub_account"]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(MessageEvent)
class MessageEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "message", "status", "error_code", "source", "detail"]
    list_filter = ["status", "source"]
    show_full_result_count = False


@admin.register(ReceiptEvent)
class ReceiptEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "provider_sid", "status", "error_code", "applied_at"]
    list_filter = ["status"]
    search_fields = ["provider_sid"]
    show_full_result_count = False


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "sub_account", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["sub_account__agency"]
    readonly_fields = ["prefix", "key_hash", "last_used_at"]
    list_select_related = ["sub_account"]
