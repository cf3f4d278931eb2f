"""Streamed exports, for any size: rows read in keyset chunks (one short query per chunk, no
cursor or transaction held open while the client downloads), written as CSV a row at a time, so
neither the request's memory nor the database's work grows with the export. The compliance audit
export (`compliance.audit`) and messaging's exports (contacts, messages, bulk reports) use these.

Who may export: owners and agency admins of the sub-account (`access.can_manage`); a tenant's
other users get 403, anyone else 404 (`access.get_subaccount_for`)."""

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import StreamingHttpResponse

from accounts import access

CHUNK = 2000  # rows per keyset query: a few MB at most, whatever the export's size

# CSV injection (OWASP): a spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = frozenset("=+-@\t\r")
# …except a plain number such as an E.164 phone number or a negative count, which no
# spreadsheet can run and which an import back into a CRM must get unchanged.
PLAIN_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")

NOT_ALLOWED = "Only the sub-account's owners and agency admins can export its data."


def subaccount_for_export(user, sub_account_id):
    """The sub-account, for its owners and agency admins: 404 outside the user's tenants, 403
    for the tenant's other roles (they may see the pages, not take the data away)."""
    sub_account = access.get_subaccount_for(user, sub_account_id)
    if not access.can_manage(user, sub_account):
        raise PermissionDenied(NOT_ALLOWED)
    return sub_account


def safe_cell(value) -> str:
    """One CSV cell, never a formula: text starting with = + - @ (or tab, CR) gets a leading
    apostrophe, which spreadsheets show as text; plain numbers are left as they are."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if text and text[0] in FORMULA_START and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


class _Line:
    """csv.writer's file: `write` hands back the line instead of storing it."""

    def write(self, value):
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([safe_cell(v) for v in row])


def csv_response(filename: str, header: list[str], rows: Iterable[Iterable]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"  # personal data: not kept by proxies or the browser
    return response


def keyset(queryset, *fields: str, size: int = CHUNK) -> Iterator:
    """Every row of `queryset` in the order of `fields` (the last one unique, e.g. the pk),
    one query of `size` rows at a time: each query starts after the last row of the previous
    one (`(a, b) > (last_a, last_b)`), so it costs the same at the end as at the start and rows
    inserted meanwhile neither repeat nor shift the rest."""
    queryset = queryset.order_by(*fields)
    after = None
    while True:
        page = queryset
        if after is not None:
            condition = Q()
            for i, name in enumerate(fields):
                equal = {fields[j]: after[j] for j in range(i)}
                condition |= Q(**equal, **{f"{name}__gt": after[i]})
            page = queryset.filter(condition)
        rows = list(page[:size])
        yield from rows
        if len(rows) < size:
            return
        after = [_attr(rows[-1], name) for name in fields]


def _attr(row, name: str):
    return row[name] if isinstance(row, dict) else getattr(row, name)


def day_range(start: date, end: date, time_zone: str) -> tuple[datetime, datetime]:
    """[start 00:00, the day after end 00:00) in the sub-account's zone: the dates a user picks
    mean their own days, not UTC's."""
    zone = ZoneInfo(time_zone)
    return datetime.combine(start, time(), zone), datetime.combine(end + timedelta(days=1), time(), zone)


def local(value: datetime | None, zone: ZoneInfo) -> str:
    """ISO 8601 in the sub-account's zone, with its offset: unambiguous for people and programs."""
    return value.astimezone(zone).isoformat(timespec="seconds") if value else ""
