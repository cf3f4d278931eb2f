"""The exports under the JSON API (issue 16): the same streamed files as the Exports page, for
the API key's sub-account. A key is made by the sub-account's owners and agency admins, who may
export its data; every lookup starts from the key's sub-account (another tenant's ids: 404)."""

from django.shortcuts import get_object_or_404
from django.utils import timezone

from compliance import audit
from compliance.exports import csv_response, day_range
from compliance.forms import ExportRangeForm
from messaging import exports
from messaging.api import ApiError, api_view


def _days(request, sub_account):
    form = ExportRangeForm(request.GET)
    if not form.is_valid():
        fields = {name: list(errors) for name, errors in form.errors.items()}
        raise ApiError(form.error_text(), fields=fields)
    first, last = form.cleaned_data["start"], form.cleaned_data["end"]
    return (*day_range(first, last, sub_account.time_zone), first, last)


@api_view("GET")
def contacts_csv(request, sub_account):
    name = f"contacts-{sub_account.pk}-{timezone.now():%Y%m%d}.csv"
    return csv_response(name, exports.CONTACT_COLUMNS, exports.contact_rows(sub_account))


@api_view("GET")
def messages_csv(request, sub_account):
    start, end, first, last = _days(request, sub_account)
    name = f"messages-{sub_account.pk}-{first:%Y%m%d}-{last:%Y%m%d}.csv"
    return csv_response(name, exports.MESSAGE_COLUMNS, exports.message_rows(sub_account, start, end))


@api_view("GET")
def bulk_report_csv(request, sub_account, bulk_id):
    bulk_send = get_object_or_404(sub_account.bulk_sends.select_related("sub_account"), pk=bulk_id)
    return csv_response(f"bulk-report-{bulk_send.pk}.csv", exports.REPORT_COLUMNS, exports.bulk_report_rows(bulk_send))


@api_view("GET")
def audit_export(request, sub_account, fmt):
    start, end, _first, last = _days(request, sub_account)
    export = audit.audit_json if fmt == "json" else audit.audit_csv
    return export(sub_account, start, end, now=timezone.now(), last_day=last)
