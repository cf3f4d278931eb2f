"""Contact CSV import, the reading half: text in, validated rows and row errors out. No
database: `services.contacts_import` writes the rows.

Columns (header case-insensitive, spaces allowed for underscores): phone (required),
first_name, last_name, email, address, tags (separated by ; or |), and the proof of opt-in
(R10) consent_source, consent_at (ISO 8601; without a zone: the sub-account's time zone),
consent_ip (an IP address or the collection method), consent_url. Row numbers are those a
spreadsheet shows: the header is row 1."""

import csv
import io
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.utils import timezone

from messaging import storable
from messaging.forms import MAX_TAGS, TAG_MAX_LENGTH, split_tags
from messaging.phone import InvalidPhoneNumber, to_e164

MAX_ROWS = 50_000
CONTACT_COLUMNS = {"first_name": 100, "last_name": 100, "email": 254, "address": 300}  # max lengths (model)
CONSENT_COLUMNS = ("consent_source", "consent_at", "consent_ip", "consent_url")
COLUMNS = ("phone", *CONTACT_COLUMNS, "tags", *CONSENT_COLUMNS)
IMPORT_SOURCE = "CSV import"


class InvalidImportFile(ValueError):
    """The file as a whole cannot be imported (no phone column, too many rows, not CSV)."""


class RowError(NamedTuple):
    row: int
    reason: str


@dataclass(frozen=True)
class ConsentProof:
    source: str
    at: datetime
    ip_or_method: str
    url: str


@dataclass(frozen=True)
class ContactRow:
    row: int
    phone: str  # E.164
    fields: dict  # the non-empty ones of first_name, last_name, email, address
    tags: tuple[str, ...]
    consent: ConsentProof | None


def parse_contact_rows(
    text: str, *, time_zone: str = "UTC", now: datetime | None = None, max_rows: int = MAX_ROWS
) -> tuple[list[ContactRow], list[RowError]]:
    """Every valid row, and every invalid one with its row number and why. Raises
    InvalidImportFile for problems of the whole file."""
    now = now or timezone.now()
    zone = zoneinfo.ZoneInfo(time_zone)
    reader = csv.reader(io.StringIO(text, newline=""), dialect=_dialect(text))
    try:
        header = [_column(name) for name in next(reader, [])]
        if not any(header):
            raise InvalidImportFile("The file is empty.")
        if "phone" not in header:
            found = ", ".join(h for h in header if h) or "none"
            raise InvalidImportFile(f"The file needs a “phone” column in its first row (columns found: {found}).")
        errors = [RowError(1, f"Unknown column “{h}” was ignored.") for h in header if h and h not in COLUMNS]
        rows, seen = [], {}
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            if number - 1 > max_rows:
                raise InvalidImportFile(f"The file has more than {max_rows:,} rows. Split it into smaller files.")
            values = {name: cell.strip() for name, cell in zip(header, cells, strict=False) if name in COLUMNS}
            try:
                row = _row(number, values, zone, now)
            except ValidationError as exc:
                errors.append(RowError(number, " ".join(exc.messages)))
                continue
            if row.phone in seen:
                errors.append(RowError(number, f"Same number as row {seen[row.phone]}: only that row was imported."))
                continue
            seen[row.phone] = number
            rows.append(row)
    except csv.Error as exc:
        raise InvalidImportFile(f"The file is not valid CSV (line {reader.line_num}): {exc}.") from None
    return rows, errors


def _dialect(text: str):
    """Comma by default; a header separated by semicolons or tabs (Excel in many locales)
    is recognised from the first line alone, so `;` inside tags cannot mislead it."""
    first_line = text.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def _column(name: str) -> str:
    return name.strip().lower().replace(" ", "_").replace("-", "_")


def _row(number: int, values: dict, zone, now) -> ContactRow:
    unstorable = [name for name, value in values.items() if storable.problem(value)]
    if unstorable:  # the csv module passes NUL through; PostgreSQL would refuse the whole batch
        raise ValidationError(f"{unstorable[0]} contains a NUL character.")
    problems = []
    try:
        phone = to_e164(values.get("phone", ""))
    except InvalidPhoneNumber as exc:
        phone, problems = "", ["Phone number is missing." if not values.get("phone") else str(exc)]
    fields = {name: values[name] for name in CONTACT_COLUMNS if values.get(name)}
    for name, limit in CONTACT_COLUMNS.items():
        if len(fields.get(name, "")) > limit:
            problems.append(f"{name} is longer than {limit} characters.")
    if fields.get("email"):
        try:
            validate_email(fields["email"])
        except ValidationError:
            problems.append(f"“{fields['email']}” is not a valid email address.")
    tags = split_tags(values.get("tags", ""), ";|")
    if any(len(tag) > TAG_MAX_LENGTH for tag in tags):
        problems.append(f"A tag is longer than {TAG_MAX_LENGTH} characters.")
    if len(tags) > MAX_TAGS:
        problems.append(f"A contact has at most {MAX_TAGS} tags; this row has {len(tags)}.")
    consent = None
    try:
        consent = _consent(values, zone, now)
    except ValidationError as exc:
        problems.extend(exc.messages)
    if problems:
        raise ValidationError(problems)
    return ContactRow(row=number, phone=phone, fields=fields, tags=tuple(tags), consent=consent)


def _consent(values: dict, zone, now) -> ConsentProof | None:
    """R10 proof of opt-in. Any consent column filled means an opt-in is meant, so its time
    is required: a record without it proves nothing."""
    given = {name: values.get(name, "") for name in CONSENT_COLUMNS}
    if not any(given.values()):
        return None
    problems = []
    at = None
    if not given["consent_at"]:
        problems.append("consent_at is required when consent is given.")
    else:
        try:
            at = datetime.fromisoformat(given["consent_at"])
        except ValueError:
            problems.append(f"consent_at “{given['consent_at']}” is not an ISO 8601 date/time (2024-05-01T14:30).")
        else:
            at = at if timezone.is_aware(at) else at.replace(tzinfo=zone)
            if at > now:
                problems.append("consent_at is in the future.")
    url = given["consent_url"]
    if url and "://" not in url:
        url = "https://" + url  # as the web form's URL field assumes
    if url and not _is_url(url):
        problems.append(f"consent_url “{given['consent_url']}” is not a valid URL of at most 500 characters.")
    if len(given["consent_source"]) > 100 or len(given["consent_ip"]) > 200:
        problems.append("consent_source (100) or consent_ip (200 characters) is too long.")
    if problems:
        raise ValidationError(problems)
    return ConsentProof(
        source=given["consent_source"] or IMPORT_SOURCE, at=at, ip_or_method=given["consent_ip"], url=url
    )


def _is_url(text: str) -> bool:
    try:
        URLValidator()(text)
    except ValidationError:
        return False
    return len(text) <= 500
