"""The compliance audit export (R1–R4, R8–R10): one sub-account's records over the days chosen,
as CSV or one JSON document, streamed. Owners and agency admins only (`compliance.exports`)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.utils import timezone

from compliance import audit
from compliance.exports import day_range, subaccount_for_export
from compliance.forms import ExportRangeForm


@login_required
def audit_export(request, sub_account_id, fmt):
    """`fmt`: csv or json. Days from `?start=&end=` (YYYY-MM-DD, both included); a bad range is a
    400 that says what is wrong."""
    sub_account = subaccount_for_export(request.user, sub_account_id)
    form = ExportRangeForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.error_text(), content_type="text/plain; charset=utf-8")
    start, end = day_range(form.cleaned_data["start"], form.cleaned_data["end"], sub_account.time_zone)
    export = audit.audit_json if fmt == "json" else audit.audit_csv
    return export(sub_account, start, end, now=timezone.now(), last_day=form.cleaned_data["end"])
