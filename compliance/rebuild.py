"""R8: the rate counters recomputed from the message table, for data that predates them (an
upgrade, an import) and for demo data; live counting (`compliance.monitoring`) never needs it."""

from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import TruncDay, TruncHour

from compliance import rates
from compliance.models import ConsentEvent, RateBucket, UndeliveredCode
from compliance.policy import get_policy
from messaging.models import Direction, Message, Status


def rates_rebuild(*, sub_account_id, since) -> int:
    """Recompute a sub-account's counters from `since` (a whole UTC hour) from the message
    table, counting what the live path counts: `sent` at the hour of `sent_at`, final statuses
    at the hour of `final_at`, opt-outs at the hour their ConsentEvent was stored. For data
    that predates the counters (an upgrade, an import) and for demo data; live counting never
    needs it. Returns the number of hour rows written."""
    policy = get_policy()
    outbound = Message.objects.filter(sub_account_id=sub_account_id, direction=Direction.OUTBOUND).exclude(
        source__in=policy.COMPLIANCE_SOURCES
    )
    handed = (Status.SENT, Status.DELIVERED, Status.UNDELIVERED)
    hours: dict = {}

    def add(rows, **names):
        for row in rows:
            bucket = hours.setdefault(row["h"], dict.fromkeys(("outbound", "finalized", "delivered", "undelivered",
                                                                "opt_outs"), 0))  # fmt: skip
            for field, key in names.items():
                bucket[field] += row[key]

    add(
        outbound.filter(status__in=handed, sent_at__gte=since)
        .annotate(h=TruncHour("sent_at", tzinfo=rates.UTC))
        .values("h").annotate(n=Count("pk")).order_by(),
        outbound="n",
    )  # fmt: skip
    add(
        outbound.filter(status__in=(Status.DELIVERED, Status.UNDELIVERED), final_at__gte=since)
        .annotate(h=TruncHour("final_at", tzinfo=rates.UTC))
        .values("h")
        .annotate(f=Count("pk"), d=Count("pk", filter=Q(status=Status.DELIVERED)),
                  u=Count("pk", filter=Q(status=Status.UNDELIVERED)))
        .order_by(),
        finalized="f", delivered="d", undelivered="u",
    )  # fmt: skip
    add(
        ConsentEvent.objects.filter(
            sub_account_id=sub_account_id, kind=ConsentEvent.Kind.OPT_OUT, message__isnull=False, created_at__gte=since
        )
        .annotate(h=TruncHour("created_at", tzinfo=rates.UTC))
        .values("h").annotate(n=Count("pk")).order_by(),
        opt_outs="n",
    )  # fmt: skip
    codes = (
        outbound.filter(status=Status.UNDELIVERED, final_at__gte=since)
        .annotate(day=TruncDay("final_at", tzinfo=rates.UTC))
        .values("day", "error_code").annotate(n=Count("pk")).order_by()
    )  # fmt: skip
    with transaction.atomic():
        RateBucket.objects.filter(sub_account_id=sub_account_id, hour__gte=since).delete()
        RateBucket.objects.bulk_create(RateBucket(sub_account_id=sub_account_id, hour=h, **v) for h, v in hours.items())
        UndeliveredCode.objects.filter(sub_account_id=sub_account_id, day__gte=since.date()).delete()
        UndeliveredCode.objects.bulk_create(
            UndeliveredCode(
                sub_account_id=sub_account_id, day=row["day"].date(), code=(row["error_code"] or "none")[:10],
                count=row["n"],
            )
            for row in codes
        )  # fmt: skip
    return len(hours)
