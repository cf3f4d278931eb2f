from django.urls import path

from compliance import views

C = "s/<uuid:sub_account_id>/contacts/<uuid:contact_id>/"

urlpatterns = [
    path("s/<uuid:sub_account_id>/ramp/limit/", views.limit_request, name="limit_request"),
    path("support/limit-requests/", views.support_limit_requests, name="support_limit_requests"),
    path("support/limit-requests/<uuid:request_id>/decide/", views.support_limit_decide, name="support_limit_decide"),
    path("s/<uuid:sub_account_id>/holds/", views.snowshoe_holds, name="snowshoe_holds"),
    path("s/<uuid:sub_account_id>/holds/<uuid:hold_id>/justify/", views.snowshoe_justify, name="snowshoe_justify"),
    path("support/snowshoe/", views.support_snowshoe, name="support_snowshoe"),
    path("support/snowshoe/<uuid:hold_id>/decide/", views.support_snowshoe_decide, name="support_snowshoe_decide"),
    path(
        "s/<uuid:sub_account_id>/suspensions/<uuid:suspension_id>/lift/", views.suspension_lift, name="suspension_lift"
    ),
    path("support/risk/", views.support_risk, name="support_risk"),
    path("s/<uuid:sub_account_id>/appeals/", views.appeals, name="appeals"),
    path("s/<uuid:sub_account_id>/appeals/<uuid:appeal_id>/", views.appeal_detail, name="appeal_detail"),
    path("s/<uuid:sub_account_id>/appeals/<uuid:appeal_id>/<slug:which>/", views.appeal_file, name="appeal_file"),
    path("support/appeals/", views.support_appeals, name="support_appeals"),
    path("support/appeals/<uuid:appeal_id>/", views.support_appeal, name="support_appeal"),
    path(C + "dnd/remove/", views.dnd_remove, name="dnd_remove"),
    path(C + "consent/new/", views.consent_record, name="consent_record"),
    path(C + "consent/proof/", views.consent_proof, name="consent_proof"),
    path(C + "consent/proof.csv", views.consent_proof_csv, name="consent_proof_csv"),
    path(C + "consent/<int:event_id>/screenshot/", views.consent_screenshot, name="consent_screenshot"),
]
