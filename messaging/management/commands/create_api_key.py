"""Operator command: an API key for a sub-account, printed once (only its hash is stored). The
key is the last line on stdout."""

import uuid

from django.core.management.base import BaseCommand, CommandError

from accounts.models import SubAccount
from messaging.keys import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a sub-account and print it (once)."

    def add_arguments(self, parser):
        parser.add_argument("--subaccount", required=True, help="The sub-account's id.")
        parser.add_argument("--name", default="Command line", help="What the key is for.")

    def handle(self, *args, subaccount, name, **options):
        try:
            sub = SubAccount.objects.get(pk=uuid.UUID(subaccount.strip()))
        except (ValueError, SubAccount.DoesNotExist):
            raise CommandError(f"No sub-account with id {subaccount!r}.") from None
        key, raw = api_key_create(sub_account=sub, name=name, user=None)
        self.stdout.write(f"API key “{key.name}” for sub-account “{sub.name}”. Copy it now: it is not stored.")
        self.stdout.write(raw)
