"""Exports (issue 16): the page that offers them, and the streamed CSV downloads of contacts,
messages over chosen days and a bulk send's per-recipient report. Owners and agency admins of
the sub-account only (403 for its other users, 404 for anyone else)."""

import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from compliance.exports import csv_response, day_range, subaccount_for_export
from compliance.forms import ExportRangeForm
from messaging import exports


def _default_range(sub_account) -> dict:
    today = timezone.localtime(timezone=ZoneInfo(sub_account.time_zone)).date()
    return {"start": today - timedelta(days=29), "end": today}


@login_required
def exports_page(request, sub_account_id):
    sub_account = subaccount_for_export(request.user, sub_account_id)
    form = ExportRangeForm(initial=_default_range(sub_account))
    return render(request, "messaging/exports.html", {"sub_account": sub_account, "form": form, "nav": "exports"})


@login_required
def contacts_export(request, sub_account_id):
    """GET: every contact. POST (the contacts list's "Export selected"): the ticked ones, as its
    `contact` ids; ids of another sub-account select nothing."""
    sub_account = subaccount_for_export(request.user, sub_account_id)
    ids = None
    if request.method == "POST":
        ids = _uuids(request.POST.getlist("contact"))
        if not ids:
            return HttpResponseBadRequest("Tick the contacts to export first.", content_type="text/plain")
    name = f"contacts-{sub_account.pk}-{timezone.now():%Y%m%d}.csv"
    return csv_response(name, exports.CONTACT_COLUMNS, exports.contact_rows(sub_account, ids=ids))


def _uuids(values) -> list:
    out = []
    for value in values[:1000]:
        try:
            out.append(uuid.UUID(value))
        except ValueError:
            continue
    return out


@login_required
def messages_export(request, sub_account_id):
    """Days from `?start=&end=` (YYYY-MM-DD, both included, the sub-account's zone)."""
    sub_account = subaccount_for_export(request.user, sub_account_id)
    form = ExportRangeForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form.error_text(), content_type="text/plain; charset=utf-8")
    first, last = form.cleaned_data["start"], form.cleaned_data["end"]
    start, end = day_range(first, last, sub_account.time_zone)
    name = f"messages-{sub_account.pk}-{first:%Y%m%d}-{last:%Y%m%d}.csv"
    return csv_response(name, exports.MESSAGE_COLUMNS, exports.message_rows(sub_account, start, end))


@login_required
def bulk_report_export(request, sub_account_id, bulk_id):
    sub_account = subaccount_for_export(request.user, sub_account_id)
    bulk_send = get_object_or_404(sub_account.bulk_sends.select_related("sub_account"), pk=bulk_id)
    name = f"bulk-report-{bulk_send.pk}.csv"
    return csv_response(name, exports.REPORT_COLUMNS, exports.bulk_report_rows(bulk_send))
