"""Idempotent demo data: two agencies, three sub-accounts, one user per role, a few hundred
contacts with consent, and sending numbers; Sunrise Dental's history and a third agency with a
sub-account in each state support must see (messaging/demo.py). Running it twice changes nothing."""

import random
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from accounts.models import Agency, Membership, Role, SubAccount, User
from compliance import rates, rebuild
from compliance.models import ConsentEvent, RampState, Registration
from messaging import demo
from messaging.models import Consent, Contact, Direction, Message, PhoneNumber, Source, Status, Tag

DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 - printed for demo logins

# (agency, sub-account, business name, time zone, sending numbers, contact area code)
SUB_ACCOUNTS = [
    (
        "Acme Marketing",
        "Sunrise Dental",
        "Sunrise Dental Care",
        "America/New_York",
        ["+16465550101", "+16465550102"],
        "212",
    ),
    ("Acme Marketing", "Harbor Fitness", "Harbor Fitness Club", "America/Chicago", ["+15125550111"], "512"),
    ("Globex Growth", "Pine Bakery", "Pine Street Bakery", "America/Los_Angeles", ["+14155550121"], "415"),
]

# (email, role, agency or sub-account name, support?)
USERS = [
    ("support@demo.test", None, None, "Support staff (all agencies)"),
    ("admin@acme.test", Role.AGENCY_ADMIN, "Acme Marketing", "Agency admin, Acme Marketing"),
    ("staff@acme.test", Role.AGENCY_STAFF, "Acme Marketing", "Agency staff, Acme Marketing"),
    ("owner@sunrise.test", Role.SUBACCOUNT_OWNER, "Sunrise Dental", "Sub-account owner, Sunrise Dental"),
    ("user@sunrise.test", Role.SUBACCOUNT_USER, "Sunrise Dental", "Sub-account user, Sunrise Dental"),
    ("admin@globex.test", Role.AGENCY_ADMIN, "Globex Growth", "Agency admin, Globex Growth"),
]

FIRST = [
    "Ava",
    "Ben",
    "Chloe",
    "Dan",
    "Ella",
    "Finn",
    "Grace",
    "Hugo",
    "Isla",
    "Jack",
    "Kara",
    "Leo",
    "Maya",
    "Noah",
    "Olive",
]
LAST = ["Adams", "Baker", "Clark", "Diaz", "Evans", "Fox", "Garcia", "Hill", "Ito", "Jones", "Khan", "Lopez", "Moore"]
TAGS = ["patient", "lead", "vip", "newsletter"]
CONTACTS_PER_SUBACCOUNT = 100  # 555-0100…0199: numbers reserved for fiction
# Agency ages: Acme may lift a suspension itself (R9: older than 90 days), Globex may not yet.
AGENCY_AGE_DAYS = {"Acme Marketing": 400, "Globex Growth": 30}
# Two weeks of bulk sends for Harbor Fitness, so its dashboard has history (R8 charts): a few
# undelivered messages a day, a worse list five days ago.
HISTORY_SUBACCOUNT, HISTORY_DAYS, HISTORY_PER_DAY = "Harbor Fitness", 14, 60
HISTORY_CODES = ["30003", "30005", "30006", "30007"]


class Command(BaseCommand):
    help = "Create or refresh the demo agencies, users and contacts (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        rng = random.Random(42)  # the same data every time
        now = timezone.now()
        subs = {}
        for agency_name, name, business, tz, numbers, area in SUB_ACCOUNTS:
            agency, created = Agency.objects.get_or_create(name=agency_name)
            if created:
                age = timedelta(days=AGENCY_AGE_DAYS[agency_name])
                Agency.objects.filter(pk=agency.pk).update(created_at=now - age)
            sub, _ = SubAccount.objects.get_or_create(
                agency=agency, name=name, defaults={"business_name": business, "time_zone": tz}
            )
            subs[name] = sub
            for number in numbers:
                PhoneNumber.objects.get_or_create(number=number, defaults={"sub_account": sub, "label": "Main"})
            tags = {t: Tag.objects.get_or_create(sub_account=sub, name=t)[0] for t in TAGS}
            if sub.contacts.exists():
                continue
            for i in range(CONTACTS_PER_SUBACCOUNT):
                consented = i % 10 != 9  # every tenth contact has no consent record (R10 demo)
                contact = Contact.objects.create(
                    sub_account=sub,
                    phone=f"+1{area}55501{i:02d}",
                    first_name=rng.choice(FIRST),
                    last_name=rng.choice(LAST),
                    email=f"contact{i}@example.com",
                    consent=Consent.GRANTED if consented else Consent.NONE,
                )
                contact.tags.set(rng.sample(list(tags.values()), k=rng.randint(0, 2)))
                if consented:
                    ConsentEvent.objects.create(
                        sub_account=sub,
                        contact=contact,
                        kind=ConsentEvent.Kind.OPT_IN,
                        source="Website form",
                        at=now - timedelta(days=rng.randint(1, 300)),
                        ip_or_method=f"203.0.113.{rng.randint(1, 254)}",
                        url=f"https://{sub.business_name.lower().replace(' ', '')}.example.com/join",
                        consent_text=f"I agree to receive texts from {sub.business_name}. Reply STOP to opt out.",
                    )

        _history(subs[HISTORY_SUBACCOUNT], rng, now)
        _registrations(subs, now)

        lines = []
        for email, role, scope, label in USERS:
            user = User.objects.filter(email=email).first() or User(email=email)
            user.is_support_staff = role is None
            user.set_password(DEMO_PASSWORD)
            user.save()
            if role in (Role.AGENCY_ADMIN, Role.AGENCY_STAFF):
                Membership.objects.get_or_create(
                    user=user, agency=Agency.objects.get(name=scope), defaults={"role": role}
                )
            elif role:
                Membership.objects.get_or_create(user=user, sub_account=subs[scope], defaults={"role": role})
            lines.append(f"  {email:<22} {label}")
        root = User.objects.filter(email="root@demo.test").first()
        if root is None:
            User.objects.create_superuser("root@demo.test", DEMO_PASSWORD)
        lines.append(f"  {'root@demo.test':<22} Django admin superuser (/admin/)")
        # Sunrise's history and the support states (messaging/demo.py): after the users, who act in them.
        demo.sunrise_history(subs["Sunrise Dental"], User.objects.get(email="owner@sunrise.test"), now)
        lines += demo.support_states(now, DEMO_PASSWORD, register=lambda sub: _register(sub, now))

        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Logins (password for all: {DEMO_PASSWORD}):"))
        self.stdout.write("\n".join(lines))


def _history(sub, rng, now):
    """Past bulk sends as they would have gone through the carrier (delivered or undelivered
    with a code), then the R8 counters rebuilt from them. Only once: skipped when the
    sub-account has sent anything."""
    if Message.objects.filter(sub_account=sub, direction=Direction.OUTBOUND).exists():
        return
    contacts = list(sub.contacts.filter(consent=Consent.GRANTED).order_by("phone"))
    number = sub.phone_numbers.values_list("number", flat=True).first()
    body = "Harbor Fitness: new spin classes at 6am and 7pm this week. Book in the app!"
    texted = set()
    for day in range(HISTORY_DAYS, 0, -1):
        at = (now - timedelta(days=day)).replace(hour=15, minute=0, second=0, microsecond=0)
        # 1–3 undelivered a day, 4 of 60 (6.7 %, above the healthy band, below a violation) five days ago.
        bad = 4 if day == 5 else rng.randint(1, 3)
        rows = []
        for i, contact in enumerate(rng.sample(contacts, k=min(HISTORY_PER_DAY, len(contacts)))):
            undelivered = i < bad
            code = rng.choice(HISTORY_CODES) if undelivered else ""
            initial = f"{body}\nThanks, {sub.business_name}\nReply STOP to unsubscribe"  # R5/R6
            sent_body = body if contact.pk in texted else initial
            texted.add(contact.pk)
            rows.append(Message(
                sub_account=sub, contact=contact, direction=Direction.OUTBOUND, source=Source.BULK,
                status=Status.UNDELIVERED if undelivered else Status.DELIVERED, body=body, body_sent=sent_body,
                from_number=number, to_number=contact.phone, error_code=code,
                provider_sid=f"SMdemo{day:02d}{contact.phone[-4:]}", sent_at=at, final_at=at + timedelta(seconds=4),
            ))  # fmt: skip
        Message.objects.bulk_create(rows)
        Message.objects.filter(pk__in=[m.pk for m in rows]).update(created_at=at)  # auto_now_add set it to now
    Contact.objects.filter(pk__in=texted).update(last_message_at=now - timedelta(days=1), last_message_preview=body)
    # R7: 60 a day never filled level 1's 100, so the ramp stayed at level 1; its window is the last send's.
    first = (now - timedelta(days=HISTORY_DAYS)).replace(hour=15, minute=0, second=0, microsecond=0)
    RampState.objects.update_or_create(
        sub_account=sub, defaults={"level": 1, "started_at": first, "window_start": at, "window_count": len(rows)}
    )
    rebuild.rates_rebuild(sub_account_id=sub.pk, since=rates.hour_of(now - timedelta(days=HISTORY_DAYS + 1)))


# Issue 17: carrier registration. Sunrise Dental and Harbor Fitness are registered for A2P 10DLC;
# Pine Bakery has not started, so its dashboard says what is missing and its bulk sends are refused.
REGISTERED = ("Sunrise Dental", "Harbor Fitness")


def _registrations(subs, now):
    for name in REGISTERED:
        _register(subs[name], now)


def _register(sub, now):
    """An approved A2P 10DLC registration (once)."""
    name = sub.name
    if Registration.objects.filter(sub_account=sub, kind=Registration.Kind.TEN_DLC).exists():
        return
    business = sub.business_name
    registration = Registration.objects.create(
        sub_account=sub,
        legal_name=f"{business} LLC",
        website=f"https://{business.lower().replace(' ', '')}.example.com",
        contact_email=f"owner@{name.split()[0].lower()}.test",
        use_case=Registration.UseCase.MIXED,
        description=f"Appointment reminders, offers and replies to questions for the customers of {business}.",
        opt_in_description="Customers tick an unchecked box on the website form or in the office sign-in sheet "
        "that says they agree to receive texts.",
        sample_1=f"Hi Ava, your appointment at {business} is tomorrow at 10:00. Reply STOP to unsubscribe.",
        sample_2=f"{business}: 20% off whitening this month. Reply STOP to unsubscribe.",
    )
    registration.mark_submitted(brand_sid="BN" + "0" * 32, campaign_sid="", provider_status="IN_REVIEW", now=now)
    registration.campaign_sid = "CM" + "0" * 32
    registration.save(update_fields=["campaign_sid"])
    registration.mark_approved(provider_status="VERIFIED", now=now)
