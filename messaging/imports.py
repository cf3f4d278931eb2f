"""Contact CSV import, the reading half: text in, validated rows and row errors out. No
database: `services.contacts_import` writes the rows.

Columns (header case-insensitive, spaces allowed for underscores): phone (required),
first_name, last_name, email, address, tags (forms.TAG_RULE: separated by , ; or |), and the proof of opt-in
(R10) consent_source, consent_at (ISO 8601; without a zone: the sub-account's time zone),
consent_ip (an IP address or the collection method), consent_url. Row numbers are those a
spreadsheet shows: the header is row 1."""

import csv
import functools
import io
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.utils import timezone

from messaging import storable
from messaging.forms import InvalidTags, split_tags
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
    """Every valid row of a whole text (the Bulk SMS audience file, tests), and every invalid
    one with its row number and why. Raises InvalidImportFile for problems of the whole file.
    The contact import streams the same steps from its stored file (`messaging.import_jobs`)."""
    now = now or timezone.now()
    reader = csv.reader(io.StringIO(text, newline=""), dialect=sniff_dialect(text.split("\n", 1)[0]))
    try:
        header = next(reader, [])
        mapping = guess_mapping(header)
        check_mapping(header, mapping)
        errors = [
            RowError(1, f"Unknown column “{_column(h)}” was ignored.")
            for h, m in zip(header, mapping, strict=True)
            if h.strip() and not m
        ]
        rows, seen = [], {}
        for number, item in parse_records(reader, mapping, time_zone=time_zone, now=now):
            if number - 1 > max_rows:
                raise InvalidImportFile(f"The file has more than {max_rows:,} rows. Split it into smaller files.")
            if isinstance(item, RowError):
                errors.append(item)
            elif item.phone in seen:
                errors.append(RowError(number, duplicate_reason(seen[item.phone])))
            else:
                seen[item.phone] = number
                rows.append(item)
    except csv.Error as exc:
        raise InvalidImportFile(f"The file is not valid CSV (line {reader.line_num}): {exc}.") from None
    return rows, errors


def duplicate_reason(first_row: int) -> str:
    return f"Same number as row {first_row}: only that row was imported."


def sniff_dialect(first_line: str):
    """Comma by default; a header separated by semicolons or tabs (Excel in many locales)
    is recognised from the first line alone, so `;` inside tags cannot mislead it."""
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t")
    except csv.Error:
        return csv.excel


def guess_mapping(header: list[str]) -> list[str]:
    """For each column of the file, the field its name says ("" when it names none), each field
    at most once (the first column that names it)."""
    mapping, taken = [], set()
    for name in header:
        field = _column(name)
        field = field if field in COLUMNS and field not in taken else ""
        taken.add(field)
        mapping.append(field)
    return mapping


def check_mapping(header: list[str], mapping: list[str]) -> None:
    """Raises InvalidImportFile unless exactly one column is the phone number and no field is
    given twice."""
    if not any(h.strip() for h in header):
        raise InvalidImportFile("The file is empty.")
    if "phone" not in mapping:
        found = ", ".join(h.strip() for h in header if h.strip()) or "none"
        raise InvalidImportFile(f"The file needs a “phone” column in its first row (columns found: {found}).")
    chosen = [m for m in mapping if m]
    twice = sorted({m for m in chosen if chosen.count(m) > 1})
    if twice:
        raise InvalidImportFile(f"Each field can come from one column only: {', '.join(twice)} is chosen twice.")
    unknown = sorted(set(chosen) - set(COLUMNS))
    if unknown:
        raise InvalidImportFile(f"Unknown field: {', '.join(unknown)}.")


def parse_records(records, mapping: list[str], *, time_zone: str = "UTC", now: datetime):
    """(row number, ContactRow or RowError) for each non-blank record of `records` (the rows
    after the header, as `csv.reader` gives them), one at a time: a file of any length is read
    in constant memory. Duplicates across rows are the caller's to find."""
    zone = zoneinfo.ZoneInfo(time_zone)
    for number, cells in enumerate(records, start=2):
        if not any(cell.strip() for cell in cells):
            continue  # blank line
        values = {name: cell.strip() for name, cell in zip(mapping, cells, strict=False) if name}
        try:
            yield number, _row(number, values, zone, now)
        except ValidationError as exc:
            yield number, RowError(number, " ".join(exc.messages))


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
    try:
        tags = split_tags(values.get("tags", ""))
    except InvalidTags as exc:  # reported, never imported as one odd tag
        tags = []
        problems.append(str(exc))
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


@functools.lru_cache(maxsize=1024)  # a file's rows mostly share a few form URLs
def _is_url(text: str) -> bool:
    try:
        URLValidator()(text)
    except ValidationError:
        return False
    return len(text) <= 500
