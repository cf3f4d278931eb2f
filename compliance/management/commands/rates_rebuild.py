"""Recompute the R8 rate counters from the message table, e.g. after importing message history
or upgrading onto existing data. Live counting never needs it; running it twice changes nothing."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import SubAccount
from compliance import rates, rebuild


class Command(BaseCommand):
    help = "Recompute the hourly error/opt-out rate counters of the last N days from the messages."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=30, help="How far back (default 30, the dashboard's span).")
        parser.add_argument("--sub-account", help="One sub-account's id (default: all).")

    def handle(self, *args, days, sub_account, **options):
        if days < 1:
            raise CommandError("--days must be at least 1.")
        since = rates.hour_of(timezone.now() - timedelta(days=days))
        subs = SubAccount.objects.all()
        if sub_account:
            try:
                subs = subs.filter(pk=sub_account)
                if not subs.exists():
                    raise CommandError(f"No sub-account with id {sub_account}.")
            except Exception as exc:  # a malformed UUID
                raise CommandError(f"No sub-account with id {sub_account}.") from exc
        for sub in subs.order_by("name"):
            hours = rebuild.rates_rebuild(sub_account_id=sub.pk, since=since)
            self.stdout.write(f"{sub.name}: {hours} hour(s) of counters since {since:%Y-%m-%d %H:00} UTC")
