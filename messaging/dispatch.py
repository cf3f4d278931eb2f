"""Dispatch: the RQ jobs that hand queued messages to the provider.

1. Claim rows with a conditional update (queued → sending, stamped with this run's token), so
   two runs of the same job, or two jobs with overlapping ids, never both send a message.
2. Re-check what may have changed since the message was queued (DND, consent).
3. Call the provider with no transaction open, SMS_MAX_CONCURRENCY calls in flight.
4. Record `sent` + provider id, or the failure, each with a conditional update.

A worker killed between 1 and 4 leaves rows in `sending`; `sweep` marks them `unknown` and
reconciles them with the provider, never re-sending blindly.
"""

import logging
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from compliance import limits, quiet, rules, suspensions
from compliance.policy import get_policy
from messaging.automations.pausing import hold_paused
from messaging.models import Contact, Message, Status
from messaging.providers import (
    OutgoingSms,
    ProviderOutcomeUnknown,
    ProviderRejected,
    ProviderRetryable,
    get_provider,
)
from messaging.receipts import provider_rejected, receipts_apply_pending
from messaging.transitions import messages_fail, messages_mark_unknown, messages_record_sent, messages_requeue

log = logging.getLogger(__name__)

STALE_AFTER = timedelta(minutes=20)  # longer than a dispatch job may run (job_timeout=900 s)
RECONCILE_GIVE_UP_AFTER = timedelta(hours=1)
INTERRUPTED = "Sending was interrupted and the carrier has no record of this message; it was not re-sent. Use Resend."


def enqueue_dispatch(message_ids: list[str]) -> None:
    """Batches of SMS_DISPATCH_BATCH ids per RQ job: one job per message caps out near 100
    messages/s per worker."""
    queue = django_rq.get_queue("dispatch")
    size = settings.SMS_DISPATCH_BATCH
    for start in range(0, len(message_ids), size):
        queue.enqueue(dispatch_batch, message_ids[start : start + size], job_timeout=900)


def claim(message_ids, now) -> tuple[uuid.UUID, list[Message]]:
    token = uuid.uuid4()
    Message.objects.filter(pk__in=message_ids, status=Status.QUEUED, hold__isnull=True).filter(
        Q(send_after__isnull=True) | Q(send_after__lte=now)
    ).update(status=Status.SENDING, claim_token=token, claimed_at=now)
    claimed = list(
        Message.objects.filter(claim_token=token, status=Status.SENDING).select_related("contact", "sub_account")
    )
    return token, claimed


def _claimed(messages):
    """The still-claimed rows of `messages`: an opt-out may have failed some meanwhile."""
    return Message.objects.filter(pk__in=[m.pk for m in messages], status=Status.SENDING)


def fail_each(refused: dict[str, list[Message]]) -> None:
    """reason → its messages: each group failed in one statement set (never reached the
    carrier, so their ramp capacity goes back, R7)."""
    for reason, group in refused.items():
        messages_fail(_claimed(group), reason=reason, source="dispatch")


def recheck(messages: list[Message]) -> list[Message]:
    """What may have changed since queueing: a suspension (R8), DND and consent (re-read from
    the database)."""
    messages = hold_paused(messages)  # paused bulk send, campaign, workflow or "pause all": back to queued
    policy = get_policy()
    in_force = suspensions.suspensions_in_force({m.sub_account_id for m in messages}, timezone.now())
    states = dict(
        (pk, (dnd, consent))
        for pk, dnd, consent in Contact.objects.filter(pk__in={m.contact_id for m in messages}).values_list(
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
    recipients = {
        m.pk: quiet.recipient_of(m.to_number, m.contact.time_zone, m.sub_account.time_zone) for m in quiet_ones
    }
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
            waiting[(decision.reason, decision.opens_at, deadline)].append(m)
    fail_each(refused)
    for (reason, opens_at, deadline), group in waiting.items():
        # R7: it counts in the window it is sent in, so its reservation in this one goes back
        # and dispatch reserves it again when the window opens (`reserve_deferred`).
        messages_requeue(
            _claimed(group).filter(handed_at__isnull=True), source="dispatch",
            detail=f"{reason} Goes at {opens_at:%Y-%m-%d %H:%M} UTC.", send_after=opens_at, valid_until=deadline,
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


def _send_with_retries(provider, sms: OutgoingSms):
    """Runs in a pool thread: no database access here, only the provider call."""
    base = settings.SMS_RETRY_BACKOFF_SECONDS  # 429s and refused connections: backoff, 3 retries
    for attempt, delay in enumerate((base, base * 2, base * 4, None)):
        try:
            return provider.send(sms)
        except ProviderRetryable as exc:
            if delay is None:
                return exc
            log.info("provider busy (attempt %s), retrying in %ss: %s", attempt + 1, delay, exc)
            time.sleep(delay)
        except (ProviderRejected, ProviderOutcomeUnknown) as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - an unexpected error: outcome unknown, never re-send
            log.exception("provider raised unexpectedly for %s", sms.message_id)
            return ProviderOutcomeUnknown(repr(exc))


def record(message: Message, outcome) -> None:
    record_wave([(message, outcome)])


def record_wave(outcomes: list[tuple[Message, object]]) -> None:
    """The provider's answers for one wave, each recorded only if its row is still `sending`."""
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
        messages_record_sent(accepted, from_status=Status.SENDING, source="dispatch")  # counted for R8 there
        # A receipt may have raced ahead of us: apply what arrived for these sids.
        for _message, sid, _at in accepted:
            receipts_apply_pending(sid)


def hand_off(wave: list[Message], now) -> list[Message]:
    """The point of no return, one wave at a time, right before the provider calls: mark the
    rows handed to the provider, unless an opt-out failed them meanwhile. An opt-out fails only
    rows not yet handed off, in the same kind of conditional UPDATE, so for each message exactly
    one of the two wins — a message never goes out after the STOP that failed it was stored."""
    ids = [m.pk for m in wave]
    Message.objects.filter(pk__in=ids, status=Status.SENDING, handed_at__isnull=True).update(handed_at=now)
    handed = set(Message.objects.filter(pk__in=ids, status=Status.SENDING, handed_at=now).values_list("pk", flat=True))
    return [m for m in wave if m.pk in handed]


def dispatch_batch(message_ids: list[str]) -> dict:
    """The RQ job. Safe to run twice: the second run claims nothing."""
    _token, claimed = claim(message_ids, timezone.now())
    now = timezone.now()
    ready = reserve_deferred(hold_for_quiet_hours(recheck(claimed), now), now)
    provider = get_provider()
    callback = settings.PUBLIC_BASE_URL + reverse("twilio_status")
    width = max(1, settings.SMS_MAX_CONCURRENCY)
    sent = 0
    with ThreadPoolExecutor(max_workers=width) as pool:
        for start in range(0, len(ready), width):
            wave = ready[start : start + width]
            if start:  # a batch takes a while: what changed since it began (a suspension, 21:00) counts
                now = timezone.now()
                wave = hold_for_quiet_hours(recheck(wave), now)
            wave = hand_off(wave, timezone.now())
            outgoing = [OutgoingSms(str(m.pk), m.to_number, m.from_number, m.body_sent, callback) for m in wave]
            outcomes = pool.map(lambda sms: _send_with_retries(provider, sms), outgoing)
            record_wave(list(zip(wave, outcomes, strict=True)))
            sent += len(wave)
    return {"claimed": len(claimed), "sent_to_provider": sent}


def sweep() -> dict:
    """Cron safety net (every minute), idempotent:
    - queued messages that are due (scheduled, retried, or whose job was lost) are enqueued;
    - `sending` rows older than any job could run (a killed worker) go back to `queued` if they
      were never handed to the provider, else become `unknown`;
    - `unknown` rows are reconciled with the provider: found → sent; never found → failed."""
    now = timezone.now()
    due = list(
        Message.objects.filter(status=Status.QUEUED, hold__isnull=True)
        .filter(Q(send_after__lte=now) | Q(send_after__isnull=True, created_at__lte=now - timedelta(minutes=10)))
        .values_list("pk", flat=True)[:20000]
    )
    if due:
        enqueue_dispatch([str(pk) for pk in due])
    stale = Message.objects.filter(status=Status.SENDING, claimed_at__lt=now - STALE_AFTER)
    # Claimed but never handed to the provider: provably unsent, so back to the queue.
    unhanded = list(stale.filter(handed_at__isnull=True).values_list("pk", flat=True)[:5000])
    if unhanded:
        messages_requeue(stale.filter(pk__in=unhanded, handed_at__isnull=True), source="sweep",
                         detail="dispatch interrupted")  # fmt: skip
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
            receipts_apply_pending(sid)
            reconciled += 1
        elif message.claimed_at and message.claimed_at < now - RECONCILE_GIVE_UP_AFTER:
            # It may have reached the carrier: its ramp capacity stays used.
            messages_fail(
                Message.objects.filter(pk=message.pk, status=Status.UNKNOWN), reason=INTERRUPTED, source="reconcile",
                give_back_ramp=False, now=now,
            )  # fmt: skip
    return {"enqueued": len(due), "reconciled": reconciled}


def enqueue_sweep():
    django_rq.get_queue("default").enqueue(sweep)
