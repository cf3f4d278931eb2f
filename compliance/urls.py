from django.urls import path

from compliance.views import (
    appeals,
    audit,
    business_info,
    contacts,
    dashboards,
    holds,
    keyword_replies,
    limits,
    provisioning,
    suspensions,
)

C = "s/<uuid:sub_account_id>/contacts/<uuid:contact_id>/"

urlpatterns = [
    path("agencies/<uuid:agency_id>/", dashboards.agency_detail, name="agency_detail"),
    path("s/<uuid:sub_account_id>/", dashboards.subaccount_dashboard, name="subaccount_dashboard"),
    path("s/<uuid:sub_account_id>/settings/business-info/", business_info.business_info, name="business_info"),
    path(
        "s/<uuid:sub_account_id>/settings/business-info/keyword-replies/preview/",
        keyword_replies.keyword_replies_preview,
        name="keyword_replies_preview",
    ),
    path("s/<uuid:sub_account_id>/ramp/limit/", limits.limit_request, name="limit_request"),
    path("support/limit-requests/", limits.support_limit_requests, name="support_limit_requests"),
    path("support/limit-requests/<uuid:request_id>/decide/", limits.support_limit_decide, name="support_limit_decide"),
    path("s/<uuid:sub_account_id>/holds/", holds.snowshoe_holds, name="snowshoe_holds"),
    path("s/<uuid:sub_account_id>/holds/<uuid:hold_id>/justify/", holds.snowshoe_justify, name="snowshoe_justify"),
    path("support/snowshoe/", holds.support_snowshoe, name="support_snowshoe"),
    path(
        "s/<uuid:sub_account_id>/suspensions/<uuid:suspension_id>/lift/",
        suspensions.suspension_lift,
        name="suspension_lift",
    ),
    path("support/risk/", suspensions.support_risk, name="support_risk"),
    path("support/sub-accounts/<uuid:sub_account_id>/", provisioning.support_subaccount, name="support_subaccount"),
    path("s/<uuid:sub_account_id>/appeals/", appeals.appeals, name="appeals"),
    path("s/<uuid:sub_account_id>/appeals/<uuid:appeal_id>/", appeals.appeal_detail, name="appeal_detail"),
    path("s/<uuid:sub_account_id>/appeals/<uuid:appeal_id>/<slug:which>/", appeals.appeal_file, name="appeal_file"),
    path("support/appeals/", appeals.support_appeals, name="support_appeals"),
    path("support/appeals/<uuid:appeal_id>/", appeals.support_appeal, name="support_appeal"),
    # Exports (issue 16): the compliance audit export, CSV or JSON.
    path("s/<uuid:sub_account_id>/exports/audit.csv", audit.audit_export, {"fmt": "csv"}, name="audit_export_csv"),
    path("s/<uuid:sub_account_id>/exports/audit.json", audit.audit_export, {"fmt": "json"}, name="audit_export_json"),
    path(C + "dnd/remove/", contacts.dnd_remove, name="dnd_remove"),
    path(C + "consent/new/", contacts.consent_record, name="consent_record"),
    path(C + "consent/proof/", contacts.consent_proof, name="consent_proof"),
    path(C + "consent/proof.csv", contacts.consent_proof_csv, name="consent_proof_csv"),
    path(C + "consent/<int:event_id>/screenshot/", contacts.consent_screenshot, name="consent_screenshot"),
]
