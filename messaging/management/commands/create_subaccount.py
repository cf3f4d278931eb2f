"""Operator command: a sub-account with its owner and sending number, in one step. Reuses
what exists (agency, sub-account, user), so it is safe to run again. The sub-account's id is
the last line on stdout, for scripts: `ID=$(manage.py create_subaccount … | tail -n 1)`."""

import secrets

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Agency, Membership, Role, SubAccount, User
from messaging.models import PhoneNumber
from messaging.phone import InvalidPhoneNumber, to_e164


class Command(BaseCommand):
    help = "Create (or reuse) an agency, a sub-account, its owner and its sending number; print the sub-account id."

    def add_arguments(self, parser):
        parser.add_argument("--agency", required=True, help="Agency name (created if missing).")
        parser.add_argument("--name", required=True, help="Sub-account name, also used as the business name.")
        parser.add_argument("--owner-email", required=True, help="Owner's login (created if missing).")
        parser.add_argument("--number", required=True, help="Sending number in E.164, e.g. +16465550123.")

    def handle(self, *args, agency, name, owner_email, number, **options):
        try:
            number = to_e164(number)
        except InvalidPhoneNumber as exc:
            raise CommandError(f"--number: {exc} Use E.164, e.g. +16465550123.") from None
        with transaction.atomic():  # a refused number leaves nothing half-created
            agency_obj, _ = Agency.objects.get_or_create(name=agency.strip())
            sub, sub_created = SubAccount.objects.get_or_create(
                agency=agency_obj, name=name.strip(), defaults={"business_name": name.strip()}
            )
            owned = PhoneNumber.objects.select_related("sub_account").filter(number=number).first()
            if owned and owned.sub_account_id != sub.pk:
                other = owned.sub_account
                raise CommandError(f"{number} already belongs to another sub-account, “{other}” ({other.pk}).")
            if owned is None:
                PhoneNumber.objects.create(sub_account=sub, number=number, label="Main")
            user, password = self._owner(owner_email)
            Membership.objects.update_or_create(user=user, sub_account=sub, defaults={"role": Role.SUBACCOUNT_OWNER})
        self.stdout.write(f"{'Created' if sub_created else 'Reused'} sub-account “{sub.name}” of “{agency_obj.name}”.")
        if password:
            self.stdout.write(f"Created owner {user.email} with password: {password}")
            self.stdout.write("It is shown only now: ask the owner to reset it (Password link after logging in).")
        else:
            self.stdout.write(f"Owner {user.email} already existed; password unchanged.")
        self.stdout.write(str(sub.pk))

    def _owner(self, email) -> tuple[User, str]:
        email = User.objects.normalize_email(email.strip()).lower()
        user = User.objects.filter(email=email).first()
        if user:
            return user, ""
        password = secrets.token_urlsafe(12)
        return User.objects.create_user(email, password), password
