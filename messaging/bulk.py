"""Bulk SMS: the audience, the preview the user confirms (R2, R7, R10, R11), the start of a
send in batches, and its progress and report. Every count is a set-based query, so the page
answers as fast for 20,000 contacts as for 20.

A send itself goes through `services.messages_send` (which decides per recipient, reserves
ramp capacity and enqueues dispatch on commit): this module only splits the audience into
transactions of BATCH contacts and adds what is particular to bulk (content block, snowshoe
hold, the BulkSend row)."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import SubAccount
from compliance import content, quiet, ramp, registration, rules, screening, suspensions
from compliance.models import ConsentEvent, RampState
from compliance.policy import Policy, get_policy
from messaging import imports, services
from messaging.contacts import contact_get_or_create
from messaging.keyset import keyset_page
from messaging.models import BulkSend, Consent, Contact, Dnd, PhoneNumber, Segment, Source, Status
from messaging.phone import InvalidPhoneNumber, to_e164

BATCH = 2_000  # contacts per messages_send call: one transaction each, never one giant one
PENDING = (Status.QUEUED, Status.SENDING, Status.UNKNOWN)
HANDED = (Status.SENT, Status.DELIVERED, Status.UNDELIVERED)


class BulkBlocked(services.MessagingError):
    """R11: prohibited content. The BulkSend is recorded as blocked; nothing is sent."""

    def __init__(self, match, bulk: BulkSend):
        self.match, self.bulk = match, bulk
        super().__init__(f"Blocked: the message contains prohibited content ({match.category}): “{match.matched}”.")


# --- Audience -------------------------------------------------------------------------------

ALL, TAGS, CSV, SEGMENT = "all", "tags", "csv", "segment"


def audience_contacts(sub_account: SubAccount, *, kind: str, tag_ids=(), segment_id=None):
    """All contacts, those with any of the tags, or a saved segment's, as a queryset (no
    duplicates: tags are a subquery, not a join). Explicit ids (CSV) go through `_id_chunks`
    instead. A segment is read when used: its saved filter, on the contacts as they are now;
    a segment that is not this sub-account's (or was deleted) selects nobody."""
    contacts = Contact.objects.filter(sub_account=sub_account)
    if kind == TAGS:
        tagged = Contact.objects.filter(sub_account=sub_account, tags__in=list(tag_ids)).values("pk")
        return contacts.filter(pk__in=tagged)
    if kind == SEGMENT:
        segment = Segment.objects.filter(sub_account=sub_account, pk=segment_id).first() if segment_id else None
        return contacts.filter(pk__in=segment.contacts().values("pk")) if segment else contacts.none()
    return contacts


def _id_chunks(sub_account: SubAccount, contact_ids):
    """Querysets over explicit contact ids, BATCH at a time: a 50,000-row file stays within any
    database's limit on query parameters. Ids no longer of this sub-account drop out."""
    ids = [uuid.UUID(str(pk)) for pk in contact_ids]
    for start in range(0, len(ids), BATCH):
        yield Contact.objects.filter(sub_account=sub_account, pk__any=ids[start : start + BATCH])


def audience_ids(sub_account: SubAccount, *, kind: str, tag_ids=(), contact_ids=(), segment_id=None) -> list:
    """The audience's contact ids as they are now (the confirm step re-reads them)."""
    if kind == CSV:
        return [pk for chunk in _id_chunks(sub_account, contact_ids) for pk in chunk.values_list("pk", flat=True)]
    contacts = audience_contacts(sub_account, kind=kind, tag_ids=tag_ids, segment_id=segment_id)
    return list(contacts.order_by("phone").values_list("pk", flat=True))


@dataclass
class CsvAudience:
    contact_ids: list = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # valid numbers that are not contacts (not created)
    errors: list = field(default_factory=list)  # imports.RowError: rows without a valid number


def csv_audience(sub_account: SubAccount, text: str) -> CsvAudience:
    """Match an uploaded CSV's numbers to this sub-account's contacts. Uses the contact import's
    parser (a `phone` column); a file of bare numbers without a header row works too. Raises
    imports.InvalidImportFile for a file that cannot be read."""
    first_cell = (text.lstrip().split("\n", 1)[0].replace(";", ",").split(",", 1)[0]).strip()
    try:
        to_e164(first_cell)
        text = "phone\n" + text  # no header: the first row is already a number
    except InvalidPhoneNumber:
        pass
    rows, errors = imports.parse_contact_rows(text, time_zone=sub_account.time_zone)
    phones = [r.phone for r in rows]
    found = {}
    for start in range(0, len(phones), 5000):
        chunk = phones[start : start + 5000]
        found |= dict(Contact.objects.filter(sub_account=sub_account, phone__in=chunk).values_list("phone", "pk"))
    return CsvAudience(
        contact_ids=[found[p] for p in phones if p in found],
        unknown=[p for p in phones if p not in found],
        errors=[e for e in errors if e.row > 1],  # unknown extra columns are not a problem here
    )


def sample_contact(contacts) -> Contact:
    """Whom the composed preview is shown for: the first of the audience, or a placeholder."""
    return contacts.order_by("phone").first() or Contact(first_name="Alex", last_name="Smith", phone="+12125550123")


def sending_numbers(sub_account: SubAccount) -> list[str]:
    return list(PhoneNumber.objects.filter(sub_account=sub_account).values_list("number", flat=True))


# --- Preview --------------------------------------------------------------------------------


@dataclass
class Preview:
    """What the user sees before confirming. Every skipped contact is counted with its reason."""

    total: int
    dnd: int  # R2
    no_consent: int  # R10
    over_limit: int  # R7
    ramp_sentence: str
    content: object = None  # compliance ContentMatch (R11): blocks the send
    snowshoe: list[str] = field(default_factory=list)  # R11: the send will be held for review
    no_number: bool = False
    suspended: str = ""  # R8: a temporary suspension covers the send time: nothing would go
    unregistered: str = ""  # issue 17: a chosen number lacks its 10DLC/toll-free registration
    quiet_wait: int = 0  # R13: outside their sending hours now; they go when the window opens
    quiet_fail: int = 0  # R13: their window opens more than VALIDITY_HOURS later: they would fail

    @property
    def will_send(self) -> int:
        if self.blocked:  # prohibited content, no number or audience, a suspension, no registration: nothing goes
            return 0
        return max(0, self.total - self.dnd - self.no_consent - self.over_limit - self.quiet_fail)

    @property
    def blocked(self) -> bool:
        return (
            self.content is not None or self.no_number or self.total == 0 or bool(self.suspended)
            or bool(self.unregistered)
        )  # fmt: skip

    def as_json(self) -> dict:
        return {
            "total": self.total, "will_send": self.will_send, "dnd": self.dnd, "no_consent": self.no_consent,
            "over_limit": self.over_limit, "ramp_sentence": self.ramp_sentence, "snowshoe": self.snowshoe,
            "content": _match_json(self.content), "suspended": self.suspended, "quiet_wait": self.quiet_wait,
            "quiet_fail": self.quiet_fail, "unregistered": self.unregistered,
        }  # fmt: skip


def _match_json(match) -> dict | None:
    if match is None:
        return None
    return {"category": match.category, "term": match.term, "matched": match.matched}


def audience_counts(
    sub_account: SubAccount, *, kind: str, tag_ids=(), contact_ids=(), segment_id=None, source: str, policy: Policy
) -> tuple[int, int, int]:
    """(total, DND, no consent): one aggregate query (one per BATCH explicit ids), the same
    rules as `rules.check_recipient`: DND first (R2), then consent for REQUIRE_CONSENT_FOR (R10)."""
    if kind == CSV:
        parts = [_aggregate(chunk) for chunk in _id_chunks(sub_account, contact_ids)]
    else:
        parts = [_aggregate(audience_contacts(sub_account, kind=kind, tag_ids=tag_ids, segment_id=segment_id))]
    total, dnd, no_consent = (sum(column) for column in zip(*parts, strict=True)) if parts else (0, 0, 0)
    return total, dnd, no_consent if source in policy.REQUIRE_CONSENT_FOR else 0


def _aggregate(contacts) -> tuple[int, int, int]:
    no_dnd = Q(dnd=Dnd.NONE)
    counts = contacts.aggregate(  # aliases must not shadow the fields the filters name
        n_total=Count("pk"),
        n_dnd=Count("pk", filter=~no_dnd),
        n_no_consent=Count("pk", filter=no_dnd & ~Q(consent=Consent.GRANTED)),
    )
    return counts["n_total"], counts["n_dnd"], counts["n_no_consent"]


def ramp_over_limit(sub_account: SubAccount, wanted: int, now: datetime, policy: Policy) -> tuple[int, str]:
    """R7: how many of `wanted` would be failed at `now` (the send time: for a scheduled send,
    the ramp as it will stand then, from what is known today), and the exact sentence ("" when
    all fit)."""
    state = RampState.objects.filter(sub_account=sub_account).first() or RampState(sub_account=sub_account)
    current = ramp.roll_forward(state.as_ramp(), now, policy)
    available = 0 if ramp.is_restricted(current, now) else max(0, ramp.limit_of(current, policy) - current.window_count)
    return max(0, wanted - available), ramp.bulk_sentence(current, wanted, now, policy)


def suspension_problem(sub_account: SubAccount, *, source: str, at) -> str:
    """R8/R9: the reason a send of `source` at `at` would be failed by a suspension, or ""."""
    return suspensions.suspension_decision(suspensions.suspension_in_force(sub_account.pk, at), source).reason


def registration_problem(sub_account: SubAccount, *, source: str, from_numbers: list[str]) -> str:
    """Issue 17: the reason a chosen number may not send `source` texts yet, naming it, or ""."""
    decisions = registration.send_decision(sub_account_id=sub_account.pk, source=source, numbers=from_numbers)
    refused = [(n, d.reason) for n, d in decisions.items() if not d.allowed]
    return f"{refused[0][0]}: {refused[0][1]}" if refused else ""


def bulk_preview(
    *, sub_account: SubAccount, body: str, audience: dict, from_numbers: list[str], source: str, now, send_at=None
) -> Preview:
    """The confirmation page's numbers for `audience` (kind, tag_ids, contact_ids, segment_id). Records
    nothing (content is screened with the pure function; the recording check runs on confirm)."""
    policy = get_policy()
    total, dnd, no_consent = audience_counts(
        sub_account, kind=audience["kind"], tag_ids=audience.get("tag_ids", ()),
        contact_ids=audience.get("contact_ids", ()), segment_id=audience.get("segment_id"), source=source,
        policy=policy,
    )  # fmt: skip
    over, sentence = ramp_over_limit(sub_account, total - dnd - no_consent, send_at or now, policy)
    # R11: the numbers this body went out from in 24 h, the new ones included; held above the policy's count.
    numbers = screening.snowshoe_numbers(sub_account=sub_account, body=body, from_numbers=from_numbers, now=now)
    snowshoe = numbers if len(numbers) > policy.SNOWSHOE_NUMBERS else []
    wait, fail = quiet_counts(sub_account, audience, source=source, at=send_at or now, policy=policy)
    return Preview(
        total=total, dnd=dnd, no_consent=no_consent, over_limit=over, ramp_sentence=sentence,
        content=content.screen(body, policy), snowshoe=list(snowshoe), no_number=not from_numbers,
        suspended=suspension_problem(sub_account, source=source, at=send_at or now), quiet_wait=wait, quiet_fail=fail,
        unregistered=registration_problem(sub_account, source=source, from_numbers=from_numbers),
    )  # fmt: skip


def quiet_counts(sub_account: SubAccount, audience: dict, *, source: str, at, policy: Policy) -> tuple[int, int]:
    """R13 for the preview: of the contacts that may be sent to, how many are outside their
    sending hours at `at` (they wait, or fail past VALIDITY_HOURS). The FL/OK frequency cap
    depends on what is sent meanwhile and is applied when each message goes."""
    if source not in policy.QUIET_SOURCES:
        return 0, 0
    if audience["kind"] == CSV:
        chunks = list(_id_chunks(sub_account, audience.get("contact_ids", ())))
    else:
        chunks = [
            audience_contacts(
                sub_account, kind=audience["kind"], tag_ids=audience.get("tag_ids", ()),
                segment_id=audience.get("segment_id"),
            )
        ]  # fmt: skip
    wait = fail = 0
    deadline = quiet.deadline_of(at, policy)
    for contacts in chunks:
        sendable = contacts.filter(dnd=Dnd.NONE)
        if source in policy.REQUIRE_CONSENT_FOR:
            sendable = sendable.filter(consent=Consent.GRANTED)
        for phone, zone in sendable.values_list("phone", "time_zone").iterator(chunk_size=5000):
            recipient = quiet.recipient_of(phone, zone, sub_account.time_zone)
            decision = quiet.check(recipient, now=at, deadline=deadline, recent=[], policy=policy)
            if not decision.allowed:
                wait, fail = (wait + 1, fail) if decision.opens_at else (wait, fail + 1)
    return wait, fail


# --- Start ----------------------------------------------------------------------------------


def bulk_send_start(
    *,
    sub_account: SubAccount,
    user,
    body: str,
    contact_ids,
    audience_label: str,
    send_at,
    from_numbers: list[str],
    name: str = "",
) -> BulkSend:
    """Start (or schedule) a confirmed bulk send on the state as it is now, not as it was
    previewed: content block (R11, recorded) → BulkSend blocked + BulkBlocked; snowshoe
    (R11) → held; else queued (or scheduled: send_after) in batches of
    BATCH contacts. Dispatch runs in RQ: this never waits for the carrier."""
    body = (body or "").strip()
    now = timezone.now()
    if not body:
        raise services.MessagingError("The message is empty.")
    unknown = merge_field_problem(body)
    if unknown:
        raise services.MessagingError(unknown)
    if send_at is not None and send_at <= now:
        raise services.MessagingError("The scheduled time is in the past. Choose a time in the future.")
    own = set(sending_numbers(sub_account))
    from_numbers = [n for n in from_numbers if n in own]
    if not from_numbers:
        raise services.MessagingError(rules.NO_NUMBER)
    contact_ids = list(contact_ids)
    if not contact_ids:
        raise services.MessagingError("The audience has no contacts.")
    # A Bulk SMS is a bulk action whenever it is sent: scheduling it must not change how its
    # initial messages are composed (R5/R6 are decided by source).
    source = Source.BULK
    suspended = suspension_problem(sub_account, source=source, at=send_at or now)
    if suspended:
        raise services.MessagingError(suspended)
    unregistered = registration_problem(sub_account, source=source, from_numbers=from_numbers)
    if unregistered:
        raise services.MessagingError(unregistered)
    common = dict(sub_account=sub_account, created_by=user, body=body, source=source, audience=audience_label[:300],
                  scheduled_for=send_at, total=len(contact_ids), name=name[:100])  # fmt: skip

    match = screening.content_block(sub_account=sub_account, body=body, user=user)
    if match is not None:
        preview = {"content": _match_json(match), "total": len(contact_ids)}
        bulk = BulkSend.objects.create(status=BulkSend.Status.BLOCKED, preview=preview, **common)
        raise BulkBlocked(match, bulk)
    preview = bulk_preview(
        sub_account=sub_account, body=body, audience={"kind": CSV, "contact_ids": contact_ids},
        from_numbers=from_numbers, source=source, now=now, send_at=send_at,
    ).as_json()  # fmt: skip
    hold = screening.snowshoe_hold_if_needed(
        sub_account=sub_account, body=body, from_numbers=from_numbers, now=now, user=user
    )
    if hold is not None:
        status = BulkSend.Status.HELD
    else:
        status = BulkSend.Status.SCHEDULED if send_at else BulkSend.Status.SENDING
    bulk = BulkSend.objects.create(status=status, preview=preview, **common)
    for batch in _id_chunks(sub_account, contact_ids):
        services.messages_send(
            sub_account=sub_account, contacts=batch.order_by("phone").only(*services.COMPOSE_FIELDS), body=body,
            source=source, user=user,
            send_after=send_at, batch=bulk.pk.hex, bulk_send=bulk, hold=hold, from_numbers=from_numbers,
            ramp_sentence=preview["ramp_sentence"],  # R7: the sentence as confirmed, on every batch
        )  # fmt: skip
    bulk_refresh_status(bulk)
    return bulk


def merge_field_problem(body: str) -> str:
    """An inline error for unknown merge fields ({frist_name}) or stray braces, else ""."""
    try:
        unknown = rules.merge_fields_unknown(body)
    except ValueError:
        return "A “{” or “}” is not closed. Merge fields look like {first_name}."
    if not unknown:
        return ""
    known = ", ".join("{" + f + "}" for f in rules.MERGE_FIELDS)
    names = ", ".join("{" + f + "}" for f in unknown)
    return f"Unknown merge field(s): {names}. Available: {known}."


# --- Test SMS -------------------------------------------------------------------------------


def bulk_test_send(*, sub_account: SubAccount, user, body: str, phone: str, from_number: str):
    """One test message to a number of the user's choice (their own phone): source `test`,
    composed as the initial bulk message would be (R5, R6), so what arrives is exactly what
    the audience gets. The number becomes (or is) a contact; DND still applies (R2).
    Raises InvalidPhoneNumber or MessagingError."""
    body = (body or "").strip()
    problem = merge_field_problem(body) if body else "The message is empty."
    if problem:
        raise services.MessagingError(problem)
    policy = get_policy()
    match = content.screen(body, policy)
    if match is not None:
        raise services.MessagingError(
            f"The message contains prohibited content ({match.category}): “{match.matched}”. It cannot be sent."
        )
    contact, _ = contact_get_or_create(sub_account=sub_account, phone=phone)
    composed = services.compose_for(sub_account, contact, body, Source.BULK, True, policy)
    own = sending_numbers(sub_account)
    numbers = [from_number] if from_number in own else own[:1]
    return services.messages_send(
        sub_account=sub_account, contacts=[contact], body=composed, source=Source.TEST, user=user,
        from_numbers=numbers,
    )[0]  # fmt: skip


# --- Progress and report --------------------------------------------------------------------


@dataclass
class Report:
    total: int
    by_status: dict
    pending: int  # queued/sending/unknown, not held: what the progress bar waits for
    held: int
    handed: int  # sent to the carrier: sent + delivered + undelivered
    delivered: int
    undelivered: int
    failed: int
    undelivered_by_code: list
    failed_by_reason: list
    opt_outs: int
    percent: int
    polling: bool
    quiet_hours: int = 0  # of `pending`: waiting for the recipients' sending hours (R13)


def bulk_report(bulk: BulkSend, now=None) -> Report:
    """Counts by aggregate queries (values('status').annotate(Count)), never a loop over rows."""
    now = now or timezone.now()
    messages = bulk.messages.all()
    by_status = {row["status"]: row["n"] for row in messages.values("status").annotate(n=Count("pk")).order_by()}
    held = messages.filter(hold__isnull=False, status=Status.QUEUED).count()
    # R13: waiting for the recipients' sending hours (back in the queue until the window opens).
    quiet = messages.filter(
        hold__isnull=True, status=Status.QUEUED, send_after__gt=now, valid_until__isnull=False
    ).count()
    total = sum(by_status.values()) or bulk.total
    pending = sum(by_status.get(s, 0) for s in PENDING) - held
    undelivered_by_code = list(
        messages.filter(status=Status.UNDELIVERED).values("error_code").annotate(n=Count("pk")).order_by("-n")
    )
    failed_by_reason = list(
        messages.filter(status=Status.FAILED).values("failure_reason").annotate(n=Count("pk")).order_by("-n")
    )
    # R3/R8: opt-outs from this send's recipients since it started.
    opt_outs = (
        ConsentEvent.objects.filter(
            kind=ConsentEvent.Kind.OPT_OUT,
            contact_id__in=messages.values("contact_id"),
            created_at__gte=bulk.created_at,
        )
        .values("contact_id")
        .distinct()
        .count()
    )
    waiting = bulk.scheduled_for is not None and bulk.scheduled_for > now
    return Report(
        total=total, by_status=by_status, pending=pending, held=held,
        handed=sum(by_status.get(s, 0) for s in HANDED), delivered=by_status.get(Status.DELIVERED, 0),
        undelivered=by_status.get(Status.UNDELIVERED, 0), failed=by_status.get(Status.FAILED, 0),
        undelivered_by_code=undelivered_by_code, failed_by_reason=failed_by_reason, opt_outs=opt_outs,
        percent=round(100 * (total - pending - held) / total) if total else 100,
        polling=pending - quiet > 0 and not waiting, quiet_hours=quiet,
    )  # fmt: skip


def bulk_refresh_status(bulk: BulkSend, report: Report | None = None) -> BulkSend:
    """sending/scheduled → done once nothing is left to hand to the carrier (held and blocked
    sends keep their state). A conditional update: two pollers cannot disagree."""
    if bulk.status not in (BulkSend.Status.SENDING, BulkSend.Status.SCHEDULED):
        return bulk
    report = report or bulk_report(bulk)
    started = not (bulk.scheduled_for and bulk.scheduled_for > timezone.now())
    if report.pending == 0 and report.held == 0:
        new = BulkSend.Status.DONE
    elif bulk.status == BulkSend.Status.SCHEDULED and started:
        new = BulkSend.Status.SENDING
    else:
        return bulk
    if BulkSend.objects.filter(pk=bulk.pk, status=bulk.status).update(status=new):
        bulk.status = new
    return bulk


RECIPIENT_ORDER = ("created_at", "id")  # message_bulk_created_id_idx: the order they were queued
RECIPIENT_STATUSES = ("delivered", "undelivered", "failed", "sent", "queued")  # the report's filter
RECIPIENTS_PAGE = 50


def bulk_recipients(bulk: BulkSend, *, status: str = "", after: str = "", before: str = "", last: bool = False):
    """One keyset page of a bulk send's or campaign's recipients and what happened to each
    message (issue 16): every page, first or last, reads its rows from the index."""
    messages = bulk.messages.select_related("contact").only(
        "id", "bulk_send_id", "created_at", "status", "error_code", "failure_reason", "to_number", "sent_at",
        "final_at", "contact__id", "contact__phone", "contact__first_name", "contact__last_name",
    )  # fmt: skip
    if status in RECIPIENT_STATUSES:
        messages = messages.filter(status=status)
    return keyset_page(messages, RECIPIENT_ORDER, after=after, before=before, last=last, size=RECIPIENTS_PAGE)


def bulk_history(sub_account: SubAccount):
    """Past bulk sends with their counts, in one query."""
    return (
        sub_account.bulk_sends.select_related("created_by")
        .annotate(
            n_total=Count("messages"),
            n_handed=Count("messages", filter=Q(messages__status__in=HANDED)),
            n_delivered=Count("messages", filter=Q(messages__status=Status.DELIVERED)),
            n_failed=Count("messages", filter=Q(messages__status=Status.FAILED)),
            n_pending=Count("messages", filter=Q(messages__status__in=PENDING)),
        )
        .order_by("-created_at")
    )
