"""Every state change of an outbound message after it was created, each written once: fail,
requeue, mark unknown, record sent. Each takes many messages in one call (a queryset of the
candidates, already narrowed by the status they must be in), is conditional on that status —
so of two processes racing for a row exactly one moves it — writes one MessageEvent per row it
changed, and gives back the ramp capacity (R7) of exactly those rows.

Locks follow the documented order (docs/ARCHITECTURE.md): a caller that locks a contact does so
before calling; here the message rows are locked (in primary-key order), then the ramp row, then
the hour's rate counters."""

from collections import Counter

from django.db import connection, transaction
from django.utils import timezone

from compliance import limits, monitoring
from messaging import copy
from messaging.models import Message, MessageEvent, Status

CHUNK = 1000  # ids per UPDATE: within every database's limit on query parameters


def record_event(message: Message, *, status: str, source: str, error_code: str = "", detail: str = "") -> None:
    MessageEvent.objects.create(
        message_id=message.pk, sub_account_id=message.sub_account_id, status=status, error_code=error_code,
        detail=detail[:300], source=source,
    )  # fmt: skip


def _lock(candidates) -> list[tuple]:
    """(id, sub-account, ramp window) of the candidates, locked until the transaction ends. A row
    another transaction changed meanwhile is re-checked against the candidates' conditions after
    its lock is released (PostgreSQL), so what comes back still matches them."""
    return list(
        candidates.select_for_update(of=("self",)).order_by("pk").values_list("pk", "sub_account_id", "ramp_window")
    )


def _update(rows, **fields) -> None:
    ids = [pk for pk, _, _ in rows]
    for start in range(0, len(ids), CHUNK):
        Message.objects.filter(pk__in=ids[start : start + CHUNK]).update(**fields)


EVENT_FIELDS = ["message_id", "sub_account_id", "status", "error_code", "detail", "source", "created_at"]


def _events(rows, *, status: str, source: str, detail: str = "", error_code: str = "") -> None:
    now, detail = timezone.now(), detail[:300]
    copy.insert(
        MessageEvent, EVENT_FIELDS,
        [(pk, sub_account_id, status, error_code, detail, source, now) for pk, sub_account_id, _ in rows],
    )  # fmt: skip


def _give_back(rows) -> None:
    """R7: capacity reserved for messages that will not reach the carrier in that window."""
    for (sub_account_id, window), count in sorted(Counter((s, w) for _, s, w in rows if w).items()):
        limits.ramp_release(sub_account_id=sub_account_id, window_start=window, count=count)


def messages_fail(
    candidates, *, reason: str, source: str, error_code: str = "", give_back_ramp: bool = True, now=None
) -> set:
    """Fail the candidates with `reason` (a sentence the user reads). Their ramp capacity goes
    back unless `give_back_ramp` is False (a message whose outcome was unknown may have reached
    the carrier). Returns the ids it failed."""
    now = now or timezone.now()
    with transaction.atomic():
        rows = _lock(candidates)
        if not rows:
            return set()
        _update(rows, status=Status.FAILED, failure_reason=reason[:300], error_code=error_code, final_at=now)
        _events(rows, status=Status.FAILED, source=source, detail=reason, error_code=error_code)
        if give_back_ramp:
            _give_back(rows)
    return {pk for pk, _, _ in rows}


def messages_requeue(
    candidates, *, source: str, detail: str, send_after=None, valid_until=None, give_back_ramp: bool = False
) -> set:
    """Back to `queued`, unclaimed and not handed off: nothing was sent. `send_after` (when given)
    is when it may go again; `valid_until` its R13 deadline. With `give_back_ramp` its capacity
    goes back and it is reserved again in the window it is sent in (`dispatch.reserve_deferred`).
    Returns the ids it requeued."""
    fields = {"status": Status.QUEUED, "claim_token": None, "handed_at": None}
    if send_after is not None:
        fields["send_after"] = send_after
    if valid_until is not None:
        fields["valid_until"] = valid_until
    if give_back_ramp:
        fields["ramp_window"] = None
    with transaction.atomic():
        rows = _lock(candidates)
        if not rows:
            return set()
        _update(rows, **fields)
        _events(rows, status=Status.QUEUED, source=source, detail=detail)
        if give_back_ramp:
            _give_back(rows)
    return {pk for pk, _, _ in rows}


def messages_mark_unknown(candidates, *, source: str, detail: str) -> set:
    """Handed to the provider with no answer we can trust: it may have been sent, so it is never
    re-sent blindly; the sweep reconciles it with the provider."""
    with transaction.atomic():
        rows = _lock(candidates)
        if rows:
            _update(rows, status=Status.UNKNOWN)
            _events(rows, status=Status.UNKNOWN, source=source, detail=detail)
    return {pk for pk, _, _ in rows}


def messages_record_sent(sent: list[tuple[Message, str, object]], *, from_status: str, source: str) -> set:
    """The provider accepted these: (message, provider sid, sent at) → `sent`, each only if it is
    still `from_status` (an opt-out cannot reach a handed-off row, a second run finds it sent).
    Counted for R8 in the same transaction, at the hour it was sent. Returns the ids it recorded;
    the caller then applies receipts that raced ahead (`receipts.receipts_apply_raced`) — after
    the commit, so a receipt stored meanwhile is either seen there or finds its message sent."""
    if not sent:
        return set()
    sent = sorted(sent, key=lambda item: item[0].pk)
    if connection.vendor == "postgresql":
        return _record_sent_postgresql(sent, from_status, source)
    counts = Counter()
    now = timezone.now()
    with transaction.atomic():
        recorded = {
            message.pk
            for message, sid, sent_at in sent
            if Message.objects.filter(pk=message.pk, status=from_status).update(
                status=Status.SENT, provider_sid=sid, sent_at=sent_at
            )
        }
        for message, _sid, sent_at in sent:
            if message.pk in recorded:
                counts[(message.sub_account_id, message.source, sent_at or now)] += 1
        if recorded:
            rows = [(m.pk, m.sub_account_id, None) for m, _, _ in sent if m.pk in recorded]
            _events(rows, status=Status.SENT, source=source)
            for (sub_account_id, message_source, at), count in sorted(counts.items(), key=str):
                monitoring.count_sent(sub_account_id=sub_account_id, source=message_source, now=at, count=count)
    return recorded


def _record_sent_postgresql(sent, from_status: str, source: str) -> set:
    """The whole wave in one statement, which is its own transaction: the conditional UPDATE
    (`… FROM unnest(…)`), its events inserted from what it changed, and the R8 counters bumped
    from the same rows (`monitoring.count_sent_sql`) — no round trips, no BEGIN/COMMIT, and
    nothing recorded in part."""
    messages, events = Message._meta.db_table, MessageEvent._meta.db_table
    counting, counting_params = monitoring.count_sent_sql("sent")
    now = timezone.now()
    with connection.cursor() as cursor:
        sql = (
            "WITH v AS (SELECT * FROM "  # noqa: S608 - our table names; the values go as parameters
            "unnest(%s::uuid[], %s::text[], %s::timestamptz[]) AS v(id, sid, sent_at)), "
            f"sent AS (UPDATE {messages} AS m SET status = %s, provider_sid = v.sid, sent_at = v.sent_at FROM v "
            "WHERE m.id = v.id AND m.status = %s RETURNING m.id, m.sub_account_id, m.source, m.sent_at), "
            f"events AS (INSERT INTO {events} ({', '.join(EVENT_FIELDS)}) "
            "SELECT id, sub_account_id, %s, '', '', %s, %s FROM sent), "
            f"counted AS ({counting}) "
            "SELECT id FROM sent"
        )
        cursor.execute(
            sql,
            [[m.pk for m, _, _ in sent], [sid for _, sid, _ in sent], [at or now for _, _, at in sent],
             Status.SENT, from_status, Status.SENT, source, now, *counting_params],
        )  # fmt: skip
        return {pk for (pk,) in cursor.fetchall()}
