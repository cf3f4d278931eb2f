"""CSV exports of a sub-account's data, streamed for any size (`compliance.exports`: keyset
chunks, formula-safe cells): its contacts (with tags, DND and consent state), its messages over
chosen days (status, carrier error code and what it means, failure reason, source, segments),
and one bulk send's or campaign's per-recipient report.

Each function returns the rows as a generator of lists; nothing is read until the response is
streamed, and then one chunk at a time (a chunk's tags and consent in one query each)."""

from collections.abc import Iterator
from functools import lru_cache
from zoneinfo import ZoneInfo

from compliance.carrier_codes import describe
from compliance.exports import keyset, local
from compliance.models import ConsentEvent
from messaging.models import Contact, Message
from messaging.sms import segments as _segments

# A bulk send's messages share a few bodies: each is counted once (a third of the export's time).
segments = lru_cache(maxsize=4096)(_segments)

# The import's column names first (messaging.imports.COLUMNS): an export imports back as it is.
CONTACT_COLUMNS = [
    "phone", "first_name", "last_name", "email", "address", "tags",
    "consent_source", "consent_at", "consent_ip", "consent_url",
    "consent", "dnd", "time_zone", "created_at", "id",
]  # fmt: skip
CONTACT_FIELDS = ["id", "phone", "first_name", "last_name", "email", "address", "time_zone", "dnd", "consent",
                  "created_at"]  # fmt: skip

MESSAGE_COLUMNS = [
    "created_at", "direction", "source", "status", "to", "from", "contact_name", "body", "segments", "encoding",
    "error_code", "error_meaning", "failure_reason", "sent_at", "final_at", "bulk_send_id", "id",
]  # fmt: skip
MESSAGE_FIELDS = ["id", "created_at", "direction", "source", "status", "to_number", "from_number", "body",
                  "body_sent", "error_code", "failure_reason", "sent_at", "final_at", "bulk_send_id",
                  "contact__first_name", "contact__last_name"]  # fmt: skip

REPORT_COLUMNS = [
    "phone", "contact_name", "status", "error_code", "error_meaning", "failure_reason", "segments",
    "created_at", "sent_at", "final_at", "message_id",
]  # fmt: skip


def _chunks(rows: Iterator[dict], size: int) -> Iterator[list[dict]]:
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def contact_rows(sub_account, *, ids=None, size: int = 2000) -> Iterator[list]:
    """By phone number: the (sub-account, phone) unique index serves every chunk. `ids`: only
    those contacts (of this sub-account)."""
    zone = ZoneInfo(sub_account.time_zone)
    contacts = Contact.objects.filter(sub_account=sub_account)
    if ids is not None:
        contacts = contacts.filter(pk__in=ids)
    contacts = contacts.values(*CONTACT_FIELDS)
    for chunk in _chunks(keyset(contacts, "phone", size=size), size):
        ids = [c["id"] for c in chunk]
        tags: dict = {}
        for contact_id, name in Contact.tags.through.objects.filter(contact_id__in=ids).values_list(
            "contact_id", "tag__name"
        ):
            tags.setdefault(contact_id, []).append(name)
        latest: dict = {}  # the contact's latest consent event: the proof behind its current state (R10)
        events = ConsentEvent.objects.filter(contact_id__in=ids).order_by("contact_id", "-at", "-id")
        for e in events.values("contact_id", "source", "at", "ip_or_method", "url"):
            latest.setdefault(e["contact_id"], e)
        for c in chunk:
            e = latest.get(c["id"], {})
            yield [
                c["phone"], c["first_name"], c["last_name"], c["email"], c["address"],
                ";".join(sorted(tags.get(c["id"], []))),
                e.get("source", ""), local(e.get("at"), zone), e.get("ip_or_method", ""), e.get("url", ""),
                c["consent"], c["dnd"], c["time_zone"], local(c["created_at"], zone), c["id"],
            ]  # fmt: skip


def _error(code: str) -> tuple[str, str]:
    known = describe(code)
    return (code, known.meaning) if known else ("", "")


def message_rows(sub_account, start, end, *, size: int = 2000) -> Iterator[list]:
    """Messages created in [start, end), in and out, oldest first."""
    zone = ZoneInfo(sub_account.time_zone)
    messages = Message.objects.filter(sub_account=sub_account, created_at__gte=start, created_at__lt=end)
    for m in keyset(messages.values(*MESSAGE_FIELDS), "created_at", "id", size=size):
        body = m["body_sent"] or m["body"]
        count = segments(body)
        yield [
            local(m["created_at"], zone), m["direction"], m["source"], m["status"], m["to_number"],
            m["from_number"], f"{m['contact__first_name']} {m['contact__last_name']}".strip(), body,
            count.segments, count.encoding, *_error(m["error_code"]), m["failure_reason"],
            local(m["sent_at"], zone), local(m["final_at"], zone), m["bulk_send_id"] or "", m["id"],
        ]  # fmt: skip


def bulk_report_rows(bulk_send, *, size: int = 2000) -> Iterator[list]:
    """One row per recipient of a bulk send or campaign: what happened to their message."""
    zone = ZoneInfo(bulk_send.sub_account.time_zone)
    fields = [*MESSAGE_FIELDS, "contact__phone"]
    for m in keyset(Message.objects.filter(bulk_send=bulk_send).values(*fields), "id", size=size):
        count = segments(m["body_sent"] or m["body"])
        yield [
            m["contact__phone"] or m["to_number"], f"{m['contact__first_name']} {m['contact__last_name']}".strip(),
            m["status"], *_error(m["error_code"]), m["failure_reason"], count.segments,
            local(m["created_at"], zone), local(m["sent_at"], zone), local(m["final_at"], zone), m["id"],
        ]  # fmt: skip
