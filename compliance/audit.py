"""The compliance audit export: what a carrier or regulator asks for about one sub-account over a
period — every DND change (R1, R2), consent event (R10), opt-out and opt-in keyword (R3, R4),
violation (R8, R11), suspension started, ended or lifted (R8, R9), appeal step (R9) and Business
Info change (R5, R6), each with who, what and why, in time order.

Read from the append-only records only (nothing is derived from current state), each kind in
keyset chunks and merged by time, so a year of records streams in flat memory. As CSV (one row a
record) and as one JSON document (the same records, with each one's full `detail`)."""

import heapq
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django.http import StreamingHttpResponse

from compliance.carrier_codes import describe
from compliance.exports import csv_response, keyset, local
from compliance.models import AppealStep, BusinessInfoChange, ConsentEvent, DndChange, Suspension, Violation


@dataclass(frozen=True)
class Record:
    at: datetime
    record: str  # dnd_change, consent, keyword, violation, suspension, suspension_ended, …
    contact: str  # the contact's number, where there is one
    who: str
    what: str
    why: str
    reference: str  # the id of the row, message or appeal it comes from
    detail: dict = field(default_factory=dict)


COLUMNS = ["at", "record", "contact", "who", "what", "why", "reference"]
KINDS = (
    "dnd_change", "consent", "keyword", "violation", "suspension", "suspension_lifted", "suspension_ended",
    "appeal_step", "business_info_change",
)  # fmt: skip


def _email(user) -> str:
    return user.email if user else ""


def _dnd_changes(sub_account, start, end) -> Iterator[Record]:
    rows = DndChange.objects.filter(sub_account=sub_account, created_at__gte=start, created_at__lt=end)
    for c in keyset(rows.select_related("contact", "user"), "created_at", "pk"):
        if c.cause == DndChange.Cause.ERROR_CODE:
            code = c.detail.rsplit(" ", 1)[-1]
            known = describe(code)
            who, why = "the carrier", f"{c.detail} ({known.meaning})" if known else c.detail
        elif c.cause == DndChange.Cause.KEYWORD:
            who, why = "the contact, by text", f"Keyword {c.detail}"
        else:
            who, why = _email(c.user) or "a user", c.detail
        yield Record(
            at=c.created_at, record="dnd_change", contact=c.contact.phone, who=who,
            what=f"DND {c.from_state} → {c.to_state}", why=why, reference=str(c.message_id or c.pk),
            detail={"from": c.from_state, "to": c.to_state, "cause": c.cause, "detail": c.detail,
                    "message_id": str(c.message_id) if c.message_id else None},
        )  # fmt: skip


def _consent_events(sub_account, start, end) -> Iterator[Record]:
    """Opt-ins and opt-outs. One that came with an inbound text is a keyword (R3/R4); the rest
    are recorded consent (a form, an import, the API, a user on the contact page)."""
    rows = ConsentEvent.objects.filter(sub_account=sub_account, at__gte=start, at__lt=end)
    for e in keyset(rows.select_related("contact", "recorded_by"), "at", "pk"):
        keyword = e.message_id is not None
        who = "the contact, by text" if keyword else (_email(e.recorded_by) or e.source)
        why = ", ".join(v for v in (e.source, e.ip_or_method, e.url) if v)
        yield Record(
            at=e.at, record="keyword" if keyword else "consent", contact=e.contact.phone, who=who,
            what=e.get_kind_display(), why=why, reference=str(e.message_id or e.pk),
            detail={"kind": e.kind, "source": e.source, "ip_or_method": e.ip_or_method, "url": e.url,
                    "consent_text": e.consent_text, "screenshot": bool(e.screenshot)},
        )  # fmt: skip


def _violations(sub_account, start, end) -> Iterator[Record]:
    rows = Violation.objects.filter(sub_account=sub_account, created_at__gte=start, created_at__lt=end)
    for v in keyset(rows.select_related("user"), "created_at", "pk"):
        if v.kind in (Violation.Kind.ERROR_RATE, Violation.Kind.OPT_OUT_RATE):
            rate = v.detail.get("error_rate" if v.kind == Violation.Kind.ERROR_RATE else "opt_out_rate")
            why = f"{v.get_kind_display()} {rate} over the 24 hours to {v.detail.get('measured_at', '')}"
            who = "rate monitoring"
        else:
            why = v.detail.get("matched") or ", ".join(v.detail.get("numbers", []))
            who = f"content screening (send by {_email(v.user)})" if v.user else "content screening"
        yield Record(
            at=v.created_at, record="violation", contact="", who=who,
            what=f"{v.get_kind_display()}: {v.action}", why=why, reference=str(v.pk),
            detail={"kind": v.kind, "level": v.level, "action": v.action, "measured": v.detail,
                    "emailed_at": v.emailed_at.isoformat() if v.emailed_at else None},
        )  # fmt: skip


def _suspensions(sub_account, start, end, now) -> Iterator[Record]:
    """Three moments of a suspension, each its own record: it started, it was lifted (by whom),
    it ended by time (R8: no job ends it, so the end is its `ends_at` once that has passed)."""
    suspensions = Suspension.objects.filter(sub_account=sub_account).select_related("violation", "lifted_by")
    started = suspensions.filter(started_at__gte=start, started_at__lt=end)
    lifted = suspensions.filter(lifted_at__gte=start, lifted_at__lt=end)
    ended = suspensions.filter(ends_at__gte=start, ends_at__lt=min(end, now))
    return heapq.merge(
        (_suspension_started(s) for s in keyset(started, "started_at", "pk")),
        (_suspension_lifted(s) for s in keyset(lifted, "lifted_at", "pk")),
        (_suspension_ended(s) for s in keyset(ended, "ends_at", "pk")),
        key=lambda r: r.at,
    )


def _suspension_started(s) -> Record:
    until = "permanent: until an appeal is approved" if s.is_permanent else f"until {s.ends_at.isoformat()}"
    return Record(
        at=s.started_at, record="suspension", contact="", who="rate monitoring",
        what=f"{s.get_kind_display()} suspension ({until})",
        why=f"{s.get_cause_display()}: {s.violation.action}", reference=str(s.pk),
        detail={"kind": s.kind, "cause": s.cause, "ends_at": s.ends_at.isoformat() if s.ends_at else None,
                "violation_id": str(s.violation_id)},
    )  # fmt: skip


def _suspension_lifted(s) -> Record:
    return Record(
        at=s.lifted_at, record="suspension_lifted", contact="", who=_email(s.lifted_by),
        what=f"{s.get_kind_display()} suspension lifted", why=s.lift_note, reference=str(s.pk),
        detail={"suspension_id": str(s.pk), "note": s.lift_note},
    )  # fmt: skip


def _suspension_ended(s) -> Record:
    early = " (it had been lifted earlier)" if s.lifted_at and s.lifted_at < s.ends_at else ""
    return Record(
        at=s.ends_at, record="suspension_ended", contact="", who="", what="Temporary suspension ended",
        why="Its period ended" + early, reference=str(s.pk), detail={"suspension_id": str(s.pk)},
    )  # fmt: skip


def _appeal_steps(sub_account, start, end) -> Iterator[Record]:
    rows = AppealStep.objects.filter(sub_account=sub_account, at__gte=start, at__lt=end).select_related("user")
    for s in keyset(rows, "at", "pk"):
        why = s.text + (f" — proof of opt-in asked for {', '.join(s.numbers)}" if s.numbers else "")
        yield Record(
            at=s.at, record="appeal_step", contact="", who=_email(s.user), what=s.get_kind_display(),
            why=why, reference=str(s.appeal_id),
            detail={"step": s.kind, "text": s.text, "numbers": s.numbers, "appeal_id": str(s.appeal_id)},
        )  # fmt: skip


def _business_info_changes(sub_account, start, end) -> Iterator[Record]:
    rows = BusinessInfoChange.objects.filter(sub_account=sub_account, created_at__gte=start, created_at__lt=end)
    for c in keyset(rows.select_related("user"), "created_at", "pk"):
        changed = [name for name in c.after if c.before.get(name) != c.after.get(name)]
        yield Record(
            at=c.created_at, record="business_info_change", contact="", who=_email(c.user),
            what="Business Info changed: " + ", ".join(changed),
            why="; ".join(f"{name}: {c.before.get(name)!r} → {c.after.get(name)!r}" for name in changed),
            reference=str(c.pk), detail={"before": c.before, "after": c.after},
        )  # fmt: skip


def audit_records(sub_account, start: datetime, end: datetime, *, now: datetime) -> Iterator[Record]:
    """Every record of the sub-account in [start, end), oldest first."""
    streams = [  # at the same instant, in this order: a step before what it caused
        _business_info_changes(sub_account, start, end),
        _dnd_changes(sub_account, start, end),
        _consent_events(sub_account, start, end),
        _appeal_steps(sub_account, start, end),
        _violations(sub_account, start, end),
        _suspensions(sub_account, start, end, now),
    ]
    return heapq.merge(*streams, key=lambda r: r.at)


def _filename(sub_account, start, end, ext) -> str:
    return f"compliance-audit-{sub_account.pk}-{start:%Y%m%d}-{end:%Y%m%d}.{ext}"


def audit_csv(sub_account, start, end, *, now, last_day) -> StreamingHttpResponse:
    zone = ZoneInfo(sub_account.time_zone)
    rows = (
        [local(r.at, zone), r.record, r.contact, r.who, r.what, r.why, r.reference]
        for r in audit_records(sub_account, start, end, now=now)
    )
    return csv_response(_filename(sub_account, start, last_day, "csv"), COLUMNS, rows)


def audit_json(sub_account, start, end, *, now, last_day) -> StreamingHttpResponse:
    """One JSON document, streamed: the header fields, then the records one by one."""
    zone = ZoneInfo(sub_account.time_zone)

    def parts():
        head = {
            "sub_account": {"id": str(sub_account.pk), "name": sub_account.name,
                            "business_name": sub_account.business_name, "time_zone": sub_account.time_zone},
            "from": local(start, zone), "to": local(end, zone), "generated_at": local(now, zone),
            "record_kinds": list(KINDS),
        }  # fmt: skip
        yield json.dumps(head)[:-1] + ', "records": ['
        for i, r in enumerate(audit_records(sub_account, start, end, now=now)):
            yield ("," if i else "") + json.dumps(asdict(r) | {"at": local(r.at, zone)})
        yield "]}"

    response = StreamingHttpResponse(parts(), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{_filename(sub_account, start, last_day, "json")}"'
    response["Cache-Control"] = "no-store"
    return response
