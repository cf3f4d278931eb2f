"""R7, the sending ramp as records: the sub-account's ramp row (locked while capacity is taken
or given back), reservations and releases, the dashboard card, and limit extension requests.
The arithmetic is pure, in `compliance.ramp`."""

from django.db import transaction
from django.utils import timezone

from compliance import ramp, times
from compliance.errors import ComplianceError
from compliance.models import LimitExtensionRequest, RampState
from compliance.policy import get_policy
from messaging.models import Source


def ramp_state_locked(sub_account_id) -> RampState:
    """The sub-account's ramp row, locked until the end of the caller's transaction, so two
    senders can never both take the last capacity."""
    RampState.objects.get_or_create(sub_account_id=sub_account_id)
    return RampState.objects.select_for_update().get(sub_account_id=sub_account_id)


def ramp_reserve(*, sub_account_id, wanted: int, now) -> tuple[int, object, str]:
    """Reserve up to `wanted` sends (call inside the transaction that writes the messages).
    Returns (granted, the window they belong to, the bulk sentence for the rest or "")."""
    policy = get_policy()
    state = ramp_state_locked(sub_account_id)
    before = state.as_ramp()
    sentence = ramp.bulk_sentence(before, wanted, now, policy)
    after, granted = ramp.reserve(before, wanted, now, policy)
    state.store(after)
    return granted, after.window_start, sentence


def ramp_release(*, sub_account_id, window_start, count: int) -> None:
    """Give back capacity for messages that failed before reaching the carrier."""
    if not window_start or count <= 0:
        return
    with transaction.atomic():
        state = ramp_state_locked(sub_account_id)
        state.store(ramp.release(state.as_ramp(), count, window_start, timezone.now(), get_policy()))


def ramp_refusal(*, source: str, wanted: int, sentence: str) -> str:
    """R7's words for a message over the limit: one-to-one (and any single message that is not
    bulk) `You have exceeded your SMS sending limit.`; bulk the sentence shown before it."""
    single = wanted == 1 and source != Source.BULK
    return ramp.EXCEEDED if single or not sentence else sentence


def ramp_card(sub_account, now):
    state = RampState.objects.filter(sub_account=sub_account).first() or RampState(sub_account=sub_account)
    return ramp.card(state.as_ramp(), now, get_policy(), fmt=lambda dt: times.local(dt, sub_account.time_zone))


def limit_request_decide(*, request, approve: bool, granted_limit: int | None, note: str, user) -> None:
    """Support approves (with the new limit, applied to the ramp at once) or rejects (with a
    reason the sub-account sees). Recorded on the request."""
    with transaction.atomic():
        locked = LimitExtensionRequest.objects.select_for_update().get(pk=request.pk)
        if not locked.is_pending:
            raise ComplianceError("This request was already decided.")
        locked.decide(approve=approve, granted_limit=granted_limit, note=note, user=user, now=timezone.now())
        if approve:
            ramp_state_locked(locked.sub_account_id).extend(granted_limit)
    request.refresh_from_db()
