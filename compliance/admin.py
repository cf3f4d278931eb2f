from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from compliance.models import (
    Appeal,
    AppealStep,
    BusinessInfoChange,
    ConsentEvent,
    DndChange,
    LimitExtensionRequest,
    ProvisioningLift,
    RateBucket,
    SnowshoeHold,
    Suspension,
    Violation,
)

# Everything here is a record a regulator or customer may ask about: read-only for superusers.
# Decisions (limit extensions, snowshoe holds, self-lifts) go through the app's own pages, which
# apply the rules and record who decided.


@admin.register(ConsentEvent)
class ConsentEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "contact", "sub_account", "source", "ip_or_method"]
    list_filter = ["kind", "source"]
    search_fields = ["contact__phone", "url"]
    list_select_related = ["contact", "sub_account"]


@admin.register(DndChange)
class DndChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "contact", "sub_account", "from_state", "to_state", "cause", "detail"]
    list_filter = ["cause", "to_state"]
    search_fields = ["contact__phone"]
    list_select_related = ["contact", "sub_account"]


@admin.register(Violation)
class ViolationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "sub_account", "kind", "level", "action", "emailed_at"]
    list_filter = ["kind", "level", "sub_account__agency"]
    search_fields = ["sub_account__name"]
    list_select_related = ["sub_account"]


@admin.register(Suspension)
class SuspensionAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "ends_at", "sub_account", "cause", "lifted_at", "lifted_by"]
    list_filter = ["cause", "sub_account__agency"]
    list_select_related = ["sub_account", "lifted_by"]


@admin.register(RateBucket)
class RateBucketAdmin(ReadOnlyAdmin):
    list_display = ["hour", "sub_account", "outbound", "finalized", "delivered", "undelivered", "opt_outs"]
    list_filter = ["sub_account__agency"]
    date_hierarchy = "hour"
    list_select_related = ["sub_account"]


@admin.register(LimitExtensionRequest)
class LimitExtensionRequestAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "sub_account", "requested_limit", "status", "granted_limit", "decided_by"]
    list_filter = ["status"]
    list_select_related = ["sub_account", "decided_by"]


@admin.register(SnowshoeHold)
class SnowshoeHoldAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "sub_account", "status", "submitted_at", "decided_by"]
    list_filter = ["status"]
    list_select_related = ["sub_account", "decided_by"]


@admin.register(BusinessInfoChange)
class BusinessInfoChangeAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "sub_account", "user"]
    list_select_related = ["sub_account", "user"]


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "sub_account", "status", "decided_by", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["sub_account", "decided_by"]


@admin.register(ProvisioningLift)
class ProvisioningLiftAdmin(ReadOnlyAdmin):
    list_display = ["lifted_at", "sub_account", "lifted_by", "reason"]
    list_select_related = ["sub_account", "lifted_by"]


@admin.register(AppealStep)
class AppealStepAdmin(ReadOnlyAdmin):
    list_display = ["at", "sub_account", "appeal", "kind", "user"]
    list_filter = ["kind"]
    list_select_related = ["sub_account", "user"]
