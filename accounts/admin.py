from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import Agency, Membership, SubAccount, User


class ReadOnlyAdmin(admin.ModelAdmin):
    """Append-only records: visible to superusers, never edited or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["agency", "sub_account"]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_support_staff", "is_staff", "is_active", "last_login"]
    list_filter = ["is_support_staff", "is_staff", "is_superuser", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name"]}),
        ("Permissions", {"fields": ["is_active", "is_support_staff", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    date_hierarchy = "created_at"


@admin.register(SubAccount)
class SubAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "business_name", "agency", "time_zone", "created_at"]
    list_filter = ["agency", "time_zone"]
    search_fields = ["name", "business_name", "agency__name"]
    list_select_related = ["agency"]
    # Business Info (R5, R6) changes only on its page, which records who changed what (the
    # compliance audit export lists them); here it is set when a sub-account is created.
    BUSINESS_INFO = ("business_name", "opt_out_text", "sender_text")

    def get_readonly_fields(self, request, obj=None):
        return self.BUSINESS_INFO if obj is not None else ()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "agency", "sub_account", "created_at"]
    list_filter = ["role", "agency"]
    search_fields = ["user__email", "agency__name", "sub_account__name"]
    list_select_related = ["user", "agency", "sub_account"]
    autocomplete_fields = ["user", "agency", "sub_account"]
