from django.urls import path

from messaging.views import automations as views

S = "s/<uuid:sub_account_id>/"
A = S + "automations/"
W = A + "<uuid:workflow_id>/"

urlpatterns = [
    path(A, views.automations_index, name="automations_index"),
    path(A + "new/", views.workflow_create, name="workflow_create"),
    path(A + "compose/", views.step_compose, name="step_compose"),
    path(A + "missed-call/", views.missed_call_settings, name="missed_call_settings"),
    path(A + "missed-call/simulate/", views.missed_call_simulate, name="missed_call_simulate"),
    path(W, views.workflow_detail, name="workflow_detail"),
    path(W + "edit/", views.workflow_edit, name="workflow_edit"),
    path(W + "status/", views.workflow_status, name="workflow_status"),
    path(W + "steps/add/", views.workflow_step_add, name="workflow_step_add"),
    path(W + "steps/<uuid:step_id>/", views.workflow_step_edit, name="workflow_step_edit"),
    path(W + "steps/<uuid:step_id>/move/", views.workflow_step_move, name="workflow_step_move"),
    path(W + "steps/<uuid:step_id>/remove/", views.workflow_step_remove, name="workflow_step_remove"),
    path(W + "enrollments/<uuid:enrollment_id>/", views.enrollment_detail, name="enrollment_detail"),
    path(W + "enrollments/<uuid:enrollment_id>/unenroll/", views.enrollment_unenroll, name="enrollment_unenroll"),
    path(S + "campaigns/", views.campaign_list, name="campaign_list"),
    path(S + "bulk/<uuid:bulk_id>/pause/", views.bulk_pause, name="bulk_pause"),
    path(S + "bulk/<uuid:bulk_id>/resume/", views.bulk_resume, name="bulk_resume"),
    path(S + "bulk/<uuid:bulk_id>/cancel/", views.bulk_cancel, name="bulk_cancel"),
    path(S + "sending/pause-all/", views.sending_pause_all, name="sending_pause_all"),
    path(S + "sending/resume-all/", views.sending_resume_all, name="sending_resume_all"),
]
