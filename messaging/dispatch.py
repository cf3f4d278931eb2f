"""Dispatch: the RQ jobs that hand queued messages to the provider.

Two lanes. Person-facing and compliance messages (one-to-one, test, resend, keyword replies,
missed-call text back) have the `dispatch_person` queue, listed first by every worker; bulk,
campaign and workflow messages the `dispatch` queue. A bulk job also serves the person lane
between its waves, so a reply typed in a conversation never waits behind a bulk batch.

Coalesced: a send does not enqueue its own job. It makes sure one "dispatch what is due" job is
queued for its lane (`dispatch_due_soon`, a Redis flag set with NX), and that job claims the due
rows a batch at a time until none are left — so 1,000 single API sends are a few jobs, not 1,000
forks. The worker stays the forking one: each job runs in a work-horse of its own (a crash or a
leak ends with the job, its database connection is fresh), and the fork (~0.15 s) is paid per
job, which now covers many batches, not per message.

Each batch:
1. Claim rows with a conditional update (queued → sending, stamped with this run's token; due
   rows skip those another worker has locked), so two runs never send the same message.
2. Re-check what may have changed since the message was queued (suspension, DND, consent,
   sending hours), again before every wave of SMS_MAX_CONCURRENCY: statements per wave, not
   per message.
3. Hand the wave off (the point after which an opt-out no longer stops it) and refresh the
   claim's heartbeat, then call the provider with no transaction open, the whole wave in flight.
4. Record the outcomes of the wave: on PostgreSQL the accepted ones, their events and the R8
   counters in one statement, then the receipts that raced ahead applied. Pipelined: a wave is
   recorded while the next wave's calls are in flight.

A worker killed mid-batch leaves rows in `sending` whose heartbeat stops: after
SMS_CLAIM_STALE_SECONDS the sweep puts those never handed off back in the queue and marks the
others `unknown`, reconciling them with the provider, never re-sending blindly.
"""

import logging
import os
import time
import uuid
from collections import defaultdict
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from redis.exceptions import RedisError

from compliance import limits, quiet, rules, suspensions, times
from compliance.policy import get_policy
from messaging.automations.pausing import hold_paused
from messaging.models import Contact, Message, Source, Status
from messaging.providers import (
    OutgoingSms,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderRetryable,
    get_provider,
)
from messaging.receipts import provider_rejected, receipts_apply_raced
from messaging.transitions import messages_fail, messages_mark_unknown, messages_record_sent, messages_requeue

log = logging.getLogger(__name__)

RECONCILE_GIVE_UP_AFTER = timedelta(hours=1)
INTERRUPTED = "Sending was interrupted and the carrier has no record of this message; it was not re-sent. Use Resend."

# --- Lanes ----------------------------------------------------------------------------------

PERSON, BULK = "person", "bulk"
BULK_SOURCES = (Source.BULK, Source.CAMPAIGN, Source.WORKFLOW)
PERSON_SOURCES = tuple(s for s in Source.values if s not in BULK_SOURCES and s != Source.INBOUND)
LANE_SOURCES = {PERSON: PERSON_SOURCES, BULK: BULK_SOURCES}
QUEUES = {PERSON: "dispatch_person", BULK: "dispatch"}
DUE_JOB_SECONDS = 60  # then the job hands over to a fresh one (and its work-horse exits)
FLAG_SECONDS = 120  # a flag whose job was lost expires; the sweep enqueues again meanwhile


def lane_of(source: str) -> str:
    return BULK if source in BULK_SOURCES else PERSON


def lanes_of(message_ids) -> list[str]:
    sources = Message.objects.filter(pk__in=list(message_ids)).values_list("source", flat=True).distinct()
    return sorted({lane_of(s) for s in sources})


def _flag(lane: str) -> str:
    return f"dispatch:due:{lane}"


_redis_clients: dict = {}


def _redis():
    """The dispatch queues' Redis client, one per process and URL (django_rq.get_connection makes
    a new client, and so a new connection, on every call: once per send and per wave here)."""
    url = settings.RQ_QUEUES[QUEUES[BULK]]["URL"]
    key = (os.getpid(), url)
    if key not in _redis_clients:
        _redis_clients[key] = django_rq.get_connection(QUEUES[BULK])
    return _redis_clients[key]


def dispatch_due_soon(*lanes: str) -> None:
    """Make sure a `dispatch_due` job is queued for each lane — at most one waiting at a time.
    Called on commit, so it never raises for Redis: the rows are already `queued`, and a 5xx for
    a send that happened would make the client retry it. The sweep queues a run for due rows
    every minute, so a Redis outage only delays them."""
    redis = _redis()
    for lane in dict.fromkeys(lanes):
        try:
            if redis.set(_flag(lane), "1", nx=True, ex=FLAG_SECONDS):
                try:
                    django_rq.get_queue(QUEUES[lane]).enqueue(dispatch_due, lane, job_timeout=900)
                except RedisError:
                    redis.delete(_flag(lane))
                    raise
        except RedisError as exc:  # down, timeout, out of memory
            log.warning("dispatch run for the %s lane not queued (%s: %s); the sweep will pick them up",
                        lane, type(exc).__name__, exc)  # fmt: skip


def enqueue_dispatch(message_ids) -> None:
    """The messages' lanes get a dispatch run (they are claimed as due rows, not by id)."""
    dispatch_due_soon(*lanes_of(message_ids))


# --- Claiming -------------------------------------------------------------------------------


# What dispatch reads of a claimed message: a narrow row, and the two time zones R13 needs as
# annotations (a batch is thousands of instances: no Contact and SubAccount built for each).
CLAIMED_FIELDS = (
    "sub_account_id", "contact_id", "source", "status", "to_number", "from_number", "body_sent", "created_at",
    "send_after", "valid_until", "ramp_window", "claim_token", "bulk_send_id",
)  # fmt: skip


def _claimed_by(token) -> list[Message]:
    rows = Message.objects.filter(claim_token=token, status=Status.SENDING).only(*CLAIMED_FIELDS)
    return list(rows.annotate(contact_zone=F("contact__time_zone"), sub_account_zone=F("sub_account__time_zone")))


def claim(message_ids, now) -> tuple[uuid.UUID, list[Message]]:
    """Claim these messages, if they are queued, due and not held."""
    token = uuid.uuid4()
    Message.objects.filter(pk__in=message_ids, status=Status.QUEUED, hold__isnull=True).filter(
        Q(send_after__isnull=True) | Q(send_after__lte=now)
    ).update(status=Status.SENDING, claim_token=token, claimed_at=now)
    return token, _claimed_by(token)


def claim_due(lane: str, limit: int, now) -> tuple[uuid.UUID, list[Message]]:
    """Claim up to `limit` due messages of a lane, oldest first. Rows another worker is claiming
    at this moment are skipped (SKIP LOCKED), so two workers take different batches."""
    token = uuid.uuid4()
    if connection.vendor == "postgresql":
        return token, _claim_due_postgresql(token, lane, limit, now)
    with transaction.atomic():
        ids = list(
            Message.objects.filter(status=Status.QUEUED, hold__isnull=True, source__in=LANE_SOURCES[lane])
            .filter(Q(send_after__isnull=True) | Q(send_after__lte=now))
            .order_by("created_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        if ids:
            Message.objects.filter(pk__in=ids, status=Status.QUEUED).update(
                status=Status.SENDING, claim_token=token, claimed_at=now
            )
    return token, (_claimed_by(token) if ids else [])


def _claim_due_postgresql(token, lane: str, limit: int, now) -> list[Message]:
    """The same claim as one statement (the ids never travel to Python and back)."""
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, claim_token = %s, claimed_at = %s WHERE id IN ("  # noqa: S608 - our table name
            f"SELECT id FROM {table} WHERE status = %s AND hold_id IS NULL AND source = ANY(%s) "
            "AND (send_after IS NULL OR send_after <= %s) ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED)",
            [Status.SENDING, token, now, Status.QUEUED, list(LANE_SOURCES[lane]), now, limit],
        )
        claimed = cursor.rowcount
    return _claimed_by(token) if claimed else []


def _claimed(messages):
    """The still-claimed rows of `messages`: an opt-out may have failed some meanwhile."""
    return Message.objects.filter(pk__in=[m.pk for m in messages], status=Status.SENDING)


# --- Re-checks before each wave -------------------------------------------------------------


def fail_each(refused: dict[str, list[Message]]) -> None:
    """reason → its messages: each group failed in one statement set (never reached the
    carrier, so their ramp capacity goes back, R7)."""
    for reason, group in refused.items():
        messages_fail(_claimed(group), reason=reason, source="dispatch")


def recheck(messages: list[Message]) -> list[Message]:
    """What may have changed since queueing: a suspension (R8), DND and consent (re-read from
    the database), and pauses (a paused bulk send, campaign, workflow or "pause all": back to
    queued, never failed). Three queries for the whole wave."""
    if not messages:
        return []
    messages = hold_paused(messages)
    policy = get_policy()
    in_force = suspensions.suspensions_in_force({m.sub_account_id for m in messages}, timezone.now())
    states = dict(
        (pk, (dnd, consent))
        for pk, dnd, consent in Contact.objects.filter(pk__any=list({m.contact_id for m in messages})).values_list(
            "pk", "dnd", "consent"
        )
    )
    ready, refused = [], defaultdict(list)
    for m in messages:
        dnd, consent = states[m.contact_id]
        decision = suspensions.suspension_decision(in_force.get(m.sub_account_id), m.source)
        if decision.allowed:
            decision = rules.check_recipient(source=m.source, dnd=dnd, consent=consent, policy=policy)
        if decision.allowed:
            ready.append(m)
        else:
            refused[decision.reason].append(m)
    fail_each(refused)
    return ready


def hold_for_quiet_hours(messages: list[Message], now) -> list[Message]:
    """R13, checked at hand-off time: bulk, campaign and workflow messages go only inside the
    recipient's sending hours (and the FL/OK frequency cap). Outside them a message goes back to
    the queue until the window opens (the sweep dispatches it then), or fails if it could not go
    within VALIDITY_HOURS of when it was due. Other sources pass through."""
    policy = get_policy()
    quiet_ones = [m for m in messages if m.source in policy.QUIET_SOURCES]
    if not quiet_ones:
        return messages
    recipients = {m.pk: quiet.recipient_of(m.to_number, m.contact_zone, m.sub_account_zone) for m in quiet_ones}
    # The FL/OK cap: what was handed to the carrier, by this or another dispatch run (`sent_at`
    # comes a moment later), to those contacts only — no query when the batch has none.
    capped = {m.contact_id for m in quiet_ones if recipients[m.pk].state in quiet.FREQUENCY_STATES}
    recent: dict = {}
    if capped:
        handed = Message.objects.filter(
            contact_id__in=capped, source__in=policy.QUIET_SOURCES, handed_at__gt=now - timedelta(hours=24)
        )
        for contact_id, handed_at in handed.values_list("contact_id", "handed_at"):
            recent.setdefault(contact_id, []).append(handed_at)
    held, refused, waiting = set(), defaultdict(list), defaultdict(list)
    for m in quiet_ones:
        recipient = recipients[m.pk]
        deadline = m.valid_until or quiet.deadline_of(m.send_after or m.created_at, policy)
        decision = quiet.check(recipient, now=now, deadline=deadline, recent=recent.get(m.contact_id, []),
                               policy=policy)  # fmt: skip
        if decision.allowed:
            recent.setdefault(m.contact_id, []).append(now)  # counts for the next one in this batch
            continue
        held.add(m.pk)
        if decision.opens_at is None:
            refused[decision.reason].append(m)
        else:
            waiting[(decision.reason, decision.opens_at, deadline, m.sub_account_zone)].append(m)
    fail_each(refused)
    for (reason, opens_at, deadline, zone), group in waiting.items():
        # R7: it counts in the window it is sent in, so its reservation in this one goes back
        # and dispatch reserves it again when the window opens (`reserve_deferred`).
        messages_requeue(
            _claimed(group).filter(handed_at__isnull=True), source="dispatch",
            detail=f"{reason} Goes at {times.local(opens_at, zone)}.", send_after=opens_at, valid_until=deadline,
            give_back_ramp=True,
        )  # fmt: skip
    return [m for m in messages if m.pk not in held]


def reserve_deferred(messages: list[Message], now) -> list[Message]:
    """R7 for messages that were scheduled or waited for quiet hours: their capacity is reserved
    now, in the window they are actually sent in, under the ramp row lock; what does not fit
    fails with R7's words.
    Messages reserved when they were queued (ramp_window set) and keyword replies pass through."""
    policy = get_policy()
    waiting: dict = {}
    for m in messages:
        if m.ramp_window is None and m.source not in policy.COMPLIANCE_SOURCES:
            waiting.setdefault(m.sub_account_id, []).append(m)
    refused = set()
    for sub_account_id, group in waiting.items():
        with transaction.atomic():
            # The message rows first, then the ramp row: the order an opt-out takes them in.
            list(Message.objects.select_for_update().filter(pk__in=[m.pk for m in group]).values_list("pk"))
            granted, window, sentence = limits.ramp_reserve(sub_account_id=sub_account_id, wanted=len(group), now=now)
            ids = [m.pk for m in group[:granted]]
            # Conditional: an opt-out may have failed one meanwhile; its capacity goes back.
            stamped = Message.objects.filter(pk__in=ids, status=Status.SENDING).update(ramp_window=window)
            if stamped < len(ids):
                limits.ramp_release(sub_account_id=sub_account_id, window_start=window, count=len(ids) - stamped)
        for m in group[:granted]:
            m.ramp_window = window
        if group[granted:]:
            reason = limits.ramp_refusal(source=group[0].source, wanted=len(group), sentence=sentence)
            messages_fail(_claimed(group[granted:]), reason=reason, source="dispatch")
            refused.update(m.pk for m in group[granted:])
    return [m for m in messages if m.pk not in refused]


# --- Hand-off and outcomes ------------------------------------------------------------------


def hand_off(wave: list[Message], now) -> list[Message]:
    """The point of no return, one wave at a time, right before the provider calls: mark the
    rows handed to the provider, unless an opt-out failed them meanwhile. An opt-out fails only
    rows not yet handed off, in the same kind of conditional UPDATE, so for each message exactly
    one of the two wins — a message never goes out after the STOP that failed it was stored.
    The same statement is the claim's heartbeat: the rows of the claim not yet handed off whose
    `claimed_at` is older than a quarter of SMS_CLAIM_STALE_SECONDS get a fresh one, so the
    sweep knows this run is alive. Only then: rewriting the whole rest of the batch at every
    wave was most of dispatch's row writes (a batch of 500 in waves of 100: 1,500 rows)."""
    if not wave:
        return []
    ids = [m.pk for m in wave]
    token = wave[0].claim_token
    beat_before = now - timedelta(seconds=settings.SMS_CLAIM_STALE_SECONDS / 4)
    table = Message._meta.db_table
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET claimed_at = %s, handed_at = CASE WHEN id = ANY(%s) THEN %s::timestamptz END "  # noqa: S608 - our table name
                "WHERE claim_token = %s AND status = %s AND handed_at IS NULL AND (id = ANY(%s) OR claimed_at < %s) "
                "RETURNING id, handed_at",
                [now, ids, now, token, Status.SENDING, ids, beat_before],
            )
            handed = {pk for pk, handed_at in cursor.fetchall() if handed_at is not None}
    else:
        with transaction.atomic():
            Message.objects.filter(pk__in=ids, status=Status.SENDING, handed_at__isnull=True).update(
                handed_at=now, claimed_at=now
            )
            Message.objects.filter(claim_token=token, status=Status.SENDING, claimed_at__lt=beat_before).update(
                claimed_at=now
            )
            handed = set(
                Message.objects.filter(pk__in=ids, status=Status.SENDING, handed_at=now).values_list("pk", flat=True)
            )
    return [m for m in wave if m.pk in handed]


def record(message: Message, outcome) -> None:
    record_wave([(message, outcome)])


def record_wave(outcomes: list[tuple[Message, object]]) -> None:
    """The provider's answers for one wave, each recorded only if its row is still `sending`:
    the accepted ones together (`messages_record_sent`: on PostgreSQL one statement for the
    rows, their events and the R8 counters), then the receipts that raced ahead of them."""
    if not outcomes:
        return
    now = timezone.now()
    accepted = []
    for message, outcome in outcomes:
        if isinstance(outcome, ProviderRejected):
            provider_rejected(message, code=outcome.code, reason=outcome.reason)
        elif isinstance(outcome, ProviderRetryable):
            # Still refused after the in-job retries: nothing was sent, back to the queue.
            messages_requeue(
                _claimed([message]), source="dispatch", detail=f"provider busy, retried in 30 s: {outcome}",
                send_after=now + timedelta(seconds=30),
            )  # fmt: skip
        elif isinstance(outcome, ProviderOutcomeUnknown):
            messages_mark_unknown(_claimed([message]), source="dispatch", detail=str(outcome))
        else:
            accepted.append((message, outcome.sid, now))
    if accepted:
        messages_record_sent(accepted, from_status=Status.SENDING, source="dispatch")
        receipts_apply_raced([sid for _, sid, _ in accepted])


def _dispatch(claimed: list[Message], lane: str) -> int:
    """Send a claimed batch, wave by wave, pipelined: a wave's outcomes are recorded while the
    next wave's calls are in flight, so recording hides behind the provider's answer time. The
    next wave waits for the previous one's last answer (a contact's second message never
    overtakes its first), then is re-checked and handed off right before its calls, as if
    nothing overlapped: a pause or a suspension stops everything after the wave on its way.
    Returns how many were handed to the provider."""
    now = timezone.now()
    ready = reserve_deferred(hold_for_quiet_hours(recheck(claimed), now), now)
    provider = get_provider()
    callback = settings.PUBLIC_BASE_URL + reverse("twilio_status")
    width = max(1, settings.SMS_MAX_CONCURRENCY)
    sent = 0
    flying = None  # (wave, future of its outcomes)
    try:
        for number, wave in enumerate(waves_of(ready, width)):
            landed, flying = _landed(flying), None
            if number:  # a batch takes a while: what changed since it began (a suspension, 21:00) counts
                if lane == BULK:
                    _serve_person_lane()
                wave = hold_for_quiet_hours(recheck(wave), timezone.now())
            wave = hand_off(wave, timezone.now())
            if wave:
                outgoing = [OutgoingSms(str(m.pk), m.to_number, m.from_number, m.body_sent, callback) for m in wave]
                flying = (wave, provider.start_many(outgoing, width=width))
                sent += len(wave)
            record_wave(landed)
        last, flying = _landed(flying), None
        record_wave(last)
    except BaseException:
        # Whatever failed, the calls already made are recorded if the database lets us; if not,
        # their rows stay `sending` with a stopped heartbeat, and the sweep reconciles them.
        if flying:
            try:
                record_wave(_landed(flying))
            except Exception:  # noqa: BLE001 - the original error is the one to raise
                log.exception("could not record a wave in flight when dispatch failed")
        raise
    return sent


def _landed(flying) -> list[tuple[Message, object]]:
    """The outcomes of the wave in flight, waiting for its last answer."""
    if flying is None:
        return []
    wave, outcomes = flying
    return list(zip(wave, outcomes.result(), strict=True))


def waves_of(messages: list[Message], width: int):
    """Waves of at most `width` messages, each contact at most once a wave: the calls of a wave
    run at the same time, so two messages to one person (a workflow's "send, send") would
    otherwise reach the carrier in either order. A later one waits for the next wave."""
    pending = sorted(messages, key=lambda m: m.created_at)
    while pending:
        wave, contacts, later = [], set(), []
        for m in pending:
            if len(wave) < width and m.contact_id not in contacts:
                wave.append(m)
                contacts.add(m.contact_id)
            else:
                later.append(m)
        yield wave
        pending = later


def _serve_person_lane() -> None:
    """Between bulk waves: if person-facing messages are waiting, send them now, in this job,
    instead of after the rest of the bulk batch (lanes: they never wait behind bulk)."""
    if _redis().exists(_flag(PERSON)):
        dispatch_due(PERSON)


def dispatch_due(lane: str) -> dict:
    """The coalesced RQ job: claim what is due in `lane` a batch at a time and send it, until
    nothing is due or DUE_JOB_SECONDS have passed (then a successor is queued). While a full
    batch was claimed, more may be waiting: another job is queued for the next free worker.
    Safe to run any number of times at once: claims are conditional and skip locked rows."""
    _redis().delete(_flag(lane))  # from here on a new send queues another run
    deadline = time.monotonic() + DUE_JOB_SECONDS
    batch = max(1, settings.SMS_DISPATCH_BATCH)
    claimed = sent = 0
    while True:
        _token, rows = claim_due(lane, batch, timezone.now())
        if not rows:
            break
        if len(rows) == batch:
            dispatch_due_soon(lane)
        claimed += len(rows)
        sent += _dispatch(rows, lane)
        if time.monotonic() > deadline:
            dispatch_due_soon(lane)
            break
    return {"claimed": claimed, "sent_to_provider": sent}


def dispatch_batch(message_ids: list[str]) -> dict:
    """Dispatch these messages (tests, the benchmark's per-message baseline, jobs queued before
    the lanes). Safe to run twice: the second run claims nothing."""
    _token, claimed = claim(message_ids, timezone.now())
    lanes = {lane_of(m.source) for m in claimed}
    sent = _dispatch(claimed, BULK if BULK in lanes else PERSON)
    return {"claimed": len(claimed), "sent_to_provider": sent}


# --- The sweep ------------------------------------------------------------------------------


def sweep() -> dict:
    """Cron safety net (every minute), idempotent:
    - lanes with due queued messages (scheduled, retried, waiting for their hours, or whose run
      was lost) get a dispatch run;
    - `sending` rows whose claim stopped beating (a killed worker) go back to `queued` if they
      were never handed to the provider, else become `unknown`;
    - `unknown` rows are reconciled with the provider: found → sent; never found → failed."""
    now = timezone.now()
    due = Message.objects.filter(status=Status.QUEUED, hold__isnull=True).filter(
        Q(send_after__isnull=True) | Q(send_after__lte=now)
    )
    lanes = [lane for lane, sources in LANE_SOURCES.items() if due.filter(source__in=sources).exists()]
    if lanes:
        dispatch_due_soon(*lanes)
    stale = Message.objects.filter(
        status=Status.SENDING, claimed_at__lt=now - timedelta(seconds=settings.SMS_CLAIM_STALE_SECONDS)
    )
    # Claimed but never handed to the provider: provably unsent, so back to the queue.
    unhanded = list(stale.filter(handed_at__isnull=True).values_list("pk", flat=True)[:5000])
    if unhanded:
        messages_requeue(stale.filter(pk__in=unhanded, handed_at__isnull=True), source="sweep",
                         detail="dispatch interrupted")  # fmt: skip
        dispatch_due_soon(*lanes_of(unhanded))
    messages_mark_unknown(stale.filter(handed_at__isnull=False), source="sweep", detail="dispatch interrupted")
    reconciled = 0
    provider = get_provider()
    for message in Message.objects.filter(status=Status.UNKNOWN)[:500]:
        sid = provider.find_sent(
            to=message.to_number, from_=message.from_number, body=message.body_sent, after=message.claimed_at
        )
        if sid:
            # Counted when it was sent (as `sent_at` says and `rates_rebuild` counts it).
            messages_record_sent([(message, sid, message.claimed_at)], from_status=Status.UNKNOWN, source="reconcile")
            receipts_apply_raced([sid])
            reconciled += 1
        elif message.claimed_at and message.claimed_at < now - RECONCILE_GIVE_UP_AFTER:
            # It may have reached the carrier: its ramp capacity stays used.
            messages_fail(
                Message.objects.filter(pk=message.pk, status=Status.UNKNOWN), reason=INTERRUPTED, source="reconcile",
                give_back_ramp=False, now=now,
            )  # fmt: skip
    return {"lanes": lanes, "requeued": len(unhanded), "reconciled": reconciled}


def enqueue_sweep():
    django_rq.get_queue("default").enqueue(sweep)
