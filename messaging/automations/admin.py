"""Automations in /admin/: read-only. Workflows change through their pages (status changes are
conditional and recorded); enrollments and their step log only through the step job and the
triggers."""

from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from messaging.automations.models import Enrollment, EnrollmentStep, SendingPause, Workflow, WorkflowStep


class WorkflowStepInline(admin.TabularInline):
    model = WorkflowStep
    fields = ["position", "kind", "body", "wait_minutes", "wait_until", "tag"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Workflow)
class WorkflowAdmin(ReadOnlyAdmin):
    list_display = ["name", "sub_account", "status", "trigger", "status_changed_at", "created_at"]
    list_filter = ["status", "trigger"]
    search_fields = ["name", "sub_account__name"]
    list_select_related = ["sub_account"]
    inlines = [WorkflowStepInline]


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnlyAdmin):
    list_display = ["enrolled_at", "workflow", "contact", "status", "position", "next_run_at", "exit_kind"]
    list_filter = ["status", "exit_kind"]
    list_select_related = ["workflow", "contact"]
    raw_id_fields = ["contact", "workflow"]
    show_full_result_count = False


@admin.register(EnrollmentStep)
class EnrollmentStepAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "enrollment", "position", "kind", "outcome", "detail"]
    list_filter = ["outcome", "kind"]
    show_full_result_count = False


@admin.register(SendingPause)
class SendingPauseAdmin(ReadOnlyAdmin):
    list_display = ["paused_at", "sub_account", "paused_by", "items", "resumed_at", "resumed_by"]
    list_select_related = ["sub_account", "paused_by", "resumed_by"]
