"""The demo's history and states (`manage.py seed_demo`): Sunrise Dental's conversations, DND and
opted-out contacts, a workflow and a scheduled campaign; and the Northwind Digital sub-accounts,
one in each state a support user must see — a limit extension request at level 8, a temporary
suspension, a permanent suspension with an appeal waiting, a held snowshoe send.

Idempotent like the rest of the seed: history is written once (skipped when it is there); a state
is put back only when it is no longer in force (a temporary suspension that ended, a request
support decided), so a demo started on another day still shows every queue. The records go
through the product's own paths where they exist (the ledger for DND and opt-outs, the bulk send
for the campaign and the held send, the workflow controls), so they look exactly like real ones."""

from contextlib import contextmanager
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.core.files.base import ContentFile
from django.utils import timezone

from accounts.models import Agency, Membership, Role, SubAccount, User
from compliance import ledger, rates, rebuild, rules, screening, times
from compliance.models import (
    Appeal,
    ConsentEvent,
    LimitExtensionRequest,
    RampState,
    SnowshoeHold,
    Suspension,
    Violation,
)
from compliance.policy import get_policy
from messaging import bulk
from messaging.automations.controls import workflow_activate
from messaging.automations.models import Workflow, WorkflowStep
from messaging.models import BulkSend, Consent, Contact, Direction, Message, PhoneNumber, Source, Status, Tag

# A 1×1 PNG: the appeal's screenshots (the demo has no real ones).
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)

# Sunrise's conversations: (contact index, [(direction, text, hours ago)]). Indexes from 80 up:
# the browser tests use the first contacts, so these are left alone.
CONVERSATIONS = [
    (81, [("out", "Hi {first_name}, it's Sunrise Dental Care: your cleaning is due. Shall we book you in?", 74),
          ("in", "Yes please! Is Thursday morning free?", 73),
          ("out", "Thursday 9:30 AM is yours. See you then!", 72),
          ("in", "Perfect, thanks!", 3)]),
    (82, [("out", "Hi {first_name}, a reminder of your appointment tomorrow at 2:00 PM. Reply C to confirm.", 50),
          ("in", "C", 49),
          ("out", "Confirmed, thank you {first_name}!", 48.5)]),
    (83, [("in", "Hello, do you take Delta Dental insurance?", 30),
          ("out", "We do, {first_name}! Bring your card to the first visit.", 29)]),
    (84, [("out", "Hi {first_name}, we have openings this week for whitening. Interested?", 60)]),
    (85, [("out", "Hi {first_name}, your new patient forms are ready: sunrisedental.example.com/forms", 96),
          ("in", "Done, filled them in.", 95)]),
]  # fmt: skip
# (contact index, carrier code of an undelivered text, hours ago): R1 puts the DND on them.
DND_FROM_CODES = [(89, "30003", 40), (79, "30004", 44)]
OPTED_OUT = 69  # texted STOP (R3): consent revoked, permanent DND
UNDELIVERED_SPAM = (84, "30007")  # the whitening offer was filtered: the thread shows what it means
WORKFLOW = "Appointment reminder"
CAMPAIGN = "Saturday hours"
CAMPAIGN_BODY = "Hi {first_name}, Sunrise Dental Care is open on Saturdays this month. Book: sunrisedental.example.com"

STATES_AGENCY, STATES_AGENCY_AGE_DAYS = "Northwind Digital", 200
STATES_ADMIN = "admin@northwind.test"
# (name, business, zone, numbers, contact area code)
STATES = {
    "level8": ("Lakeside Realty", "Lakeside Realty Group", "America/Chicago", ["+13125550131"], "312"),
    "suspended": ("Maple Auto", "Maple Auto Repair", "America/Denver", ["+13035550141"], "303"),
    "permanent": ("Cedar Law", "Cedar Law Offices", "America/New_York", ["+16175550151"], "617"),
    "snowshoe": ("Birch Salon", "Birch Hair Salon", "America/Los_Angeles",
                 ["+12135550161", "+12135550162", "+12135550163", "+12135550164"], "213"),
}  # fmt: skip
STATE_CONTACTS = 20
SNOWSHOE_BODY = "Birch Salon: 20% off color services this week only. Book at birchsalon.example.com"


def at(now, hours):
    return now - timedelta(hours=hours)


# --- Sunrise Dental --------------------------------------------------------------------------


def sunrise_history(sub: SubAccount, owner: User, now) -> None:
    """Conversations with replies, DND and opted-out contacts, the counters rebuilt from them, a
    workflow and a scheduled campaign."""
    contacts = list(sub.contacts.order_by("phone"))
    if not Message.objects.filter(sub_account=sub, direction=Direction.OUTBOUND).exists():
        number = sub.phone_numbers.values_list("number", flat=True).first()
        for index, turns in CONVERSATIONS:
            code = UNDELIVERED_SPAM[1] if index == UNDELIVERED_SPAM[0] else ""
            _conversation(sub, contacts[index], number, turns, now, code=code)
        for index, code, hours in DND_FROM_CODES:
            text = f"Hi {contacts[index].first_name}, your check-up is due. Reply to book."
            message = _message(sub, contacts[index], number, "out", text, at(now, hours), now,
                               status=Status.UNDELIVERED, code=code, initial=True)  # fmt: skip
            ledger.dnd_from_error_code(message=message, error_code=code)
            Contact.objects.filter(pk=contacts[index].pk).update(
                last_message_at=message.created_at, last_message_preview=message.body_sent[:120]
            )
        _opted_out(sub, contacts[OPTED_OUT], number, now)
        first = min(Message.objects.filter(sub_account=sub).values_list("created_at", flat=True))
        last = Message.objects.filter(sub_account=sub, direction=Direction.OUTBOUND).latest("created_at")
        window = Message.objects.filter(sub_account=sub, direction=Direction.OUTBOUND,
                                        created_at__gte=last.created_at - timedelta(hours=24)).count()  # fmt: skip
        # R7: a handful a day never filled level 1; the window closed days ago, so it is level 1 still.
        RampState.objects.update_or_create(
            sub_account=sub, defaults={"level": 1, "started_at": first, "window_start": last.created_at,
                                       "window_count": window},
        )  # fmt: skip
        rebuild.rates_rebuild(sub_account_id=sub.pk, since=rates.hour_of(first))
    _workflow(sub, owner, contacts, now)
    _campaign(sub, owner, now)


def _message(sub, contact, number, direction, text, when, now, *, status=None, code="", initial=False):
    if direction == "in":
        message = Message.objects.create(
            sub_account=sub, contact=contact, direction=Direction.INBOUND, source=Source.INBOUND,
            status=Status.RECEIVED, body=text, body_sent=text, from_number=contact.phone, to_number=number,
            provider_sid=f"SMdemoin{contact.phone[-4:]}{int(when.timestamp())}",
        )  # fmt: skip
    else:
        body = text.format(first_name=contact.first_name)
        sent = rules.compose(
            body, source=Source.ONE_TO_ONE, is_initial=initial, has_texted_in=contact.has_texted_in,
            business_name=sub.business_name, opt_out_text=sub.opt_out_text, sender_text=sub.sender_text,
            policy=get_policy(),
        )  # fmt: skip
        status = status or Status.DELIVERED
        message = Message.objects.create(
            sub_account=sub, contact=contact, direction=Direction.OUTBOUND, source=Source.ONE_TO_ONE, status=status,
            body=body, body_sent=sent, from_number=number, to_number=contact.phone, error_code=code,
            failure_reason="", provider_sid=f"SMdemo{contact.phone[-4:]}{int(when.timestamp())}",
            sent_at=when, final_at=when + timedelta(seconds=4),
        )  # fmt: skip
    Message.objects.filter(pk=message.pk).update(created_at=when)  # auto_now_add set it to now
    message.created_at = when
    return message


def _conversation(sub, contact, number, turns, now, *, code=""):
    """One thread (R5: the first text to someone who never texted in carries the opt-out text),
    with the contact's summary as the list shows it: the last text as it was sent. A reply of
    the last 12 hours is unread."""
    texted = False
    for direction, text, hours in turns:
        initial = direction == "out" and not texted
        message = _message(sub, contact, number, direction, text, at(now, hours), now, initial=initial, code=code,
                           status=Status.UNDELIVERED if code and direction == "out" else None)  # fmt: skip
        texted = texted or direction == "out"
        contact.has_texted_in = contact.has_texted_in or direction == "in"
    unread = 1 if turns[-1][0] == "in" and turns[-1][2] < 12 else 0
    Contact.objects.filter(pk=contact.pk).update(
        has_texted_in=contact.has_texted_in, unread_count=unread,
        last_message_at=message.created_at, last_message_preview=message.body_sent[:120],
    )  # fmt: skip


def _opted_out(sub, contact, number, now):
    """Opted in on the website two months ago, texted STOP yesterday (R3): the ledger records it."""
    Contact.objects.filter(pk=contact.pk).update(consent=Consent.GRANTED)
    ConsentEvent.objects.create(
        sub_account=sub, contact=contact, kind=ConsentEvent.Kind.OPT_IN, source="Website form", at=at(now, 24 * 60),
        ip_or_method="203.0.113.69", url="https://sunrisedentalcare.example.com/join",
        consent_text=f"I agree to receive texts from {sub.business_name}. Reply STOP to opt out.",
    )  # fmt: skip
    contact.refresh_from_db()
    _message(sub, contact, number, "out", "Hi {first_name}, time for your check-up! Reply to book.", at(now, 27), now,
             initial=True)  # fmt: skip
    stop = _message(sub, contact, number, "in", "STOP", at(now, 26), now)
    ledger.opt_out_record(contact=contact, message=stop, keyword=rules.classify_inbound("STOP", get_policy()))
    Contact.objects.filter(pk=contact.pk).update(
        has_texted_in=True, last_message_at=stop.created_at, last_message_preview="STOP"
    )


def _workflow(sub, owner, contacts, now):
    """An active reminder 24 hours before each appointment; two contacts have one in two days."""
    if Workflow.objects.filter(sub_account=sub, name=WORKFLOW).exists():
        return
    workflow = Workflow.objects.create(
        sub_account=sub, name=WORKFLOW, trigger=Workflow.Trigger.DATE, trigger_date_field="appointment_at",
        trigger_offset_minutes=-24 * 60, allow_reentry=True, created_by=owner,
    )  # fmt: skip
    steps = [
        dict(kind=WorkflowStep.Kind.SEND_SMS,
             body="Hi {first_name}, a reminder of your appointment at {business_name} tomorrow. Reply C to confirm."),
        dict(kind=WorkflowStep.Kind.WAIT, wait_minutes=120),
        dict(kind=WorkflowStep.Kind.STOP_IF_REPLIED),
        dict(kind=WorkflowStep.Kind.SEND_SMS, body="Hi {first_name}, can you make it tomorrow? Reply C to confirm."),
    ]  # fmt: skip
    for position, step in enumerate(steps):
        WorkflowStep.objects.create(workflow=workflow, position=position, **step)
    workflow_activate(workflow=workflow, user=owner, now=now)
    soon = (now + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    Contact.objects.filter(pk__in=[contacts[81].pk, contacts[82].pk]).update(appointment_at=soon)


def _campaign(sub, owner, now):
    """A Bulk SMS scheduled three days ahead at 10:00 in the sub-account's zone, to the tag
    `patient` — composed and checked like any bulk send; put back when the last one went."""
    if BulkSend.objects.filter(sub_account=sub, name=CAMPAIGN, status=BulkSend.Status.SCHEDULED).exists():
        return
    local = timezone.localtime(now + timedelta(days=3), timezone=_zone(sub))
    send_at = local.replace(hour=10, minute=0, second=0, microsecond=0)
    tag = Tag.objects.get(sub_account=sub, name="patient")
    ids = bulk.audience_ids(sub, kind=bulk.TAGS, tag_ids=[tag.pk])
    with _summaries_kept(sub):
        bulk.bulk_send_start(
            sub_account=sub, user=owner, body=CAMPAIGN_BODY, contact_ids=ids, audience_label="Tag: patient",
            send_at=send_at, from_numbers=bulk.sending_numbers(sub)[:1], name=CAMPAIGN,
        )  # fmt: skip


@contextmanager
def _summaries_kept(sub):
    """A thread's summary is its last text as sent; a scheduled or held send has sent nothing
    yet, so the summaries it touched are put back as they were."""
    before = list(sub.contacts.values_list("pk", "last_message_at", "last_message_preview"))
    yield
    rows = [Contact(pk=pk, last_message_at=when, last_message_preview=text) for pk, when, text in before]
    Contact.objects.bulk_update(rows, ["last_message_at", "last_message_preview"], batch_size=500)


def _zone(sub):
    return ZoneInfo(sub.time_zone)


# --- Northwind Digital: one sub-account per support queue -------------------------------------


def support_states(now, password: str, *, register) -> list[str]:
    """The four sub-accounts (each registered for A2P 10DLC by `register`) and their agency
    admin; returns the login line to print."""
    agency, created = Agency.objects.get_or_create(name=STATES_AGENCY)
    if created:
        Agency.objects.filter(pk=agency.pk).update(created_at=now - timedelta(days=STATES_AGENCY_AGE_DAYS))
    admin = User.objects.filter(email=STATES_ADMIN).first() or User(email=STATES_ADMIN)
    admin.set_password(password)
    admin.save()
    Membership.objects.get_or_create(user=admin, agency=agency, defaults={"role": Role.AGENCY_ADMIN})
    subs = {key: _state_sub(agency, *spec) for key, spec in STATES.items()}
    for sub in subs.values():
        register(sub)
    _level8(subs["level8"], admin, now)
    _suspended(subs["suspended"], now)
    _permanent(subs["permanent"], admin, now)
    _snowshoe(subs["snowshoe"], admin, now)
    return [f"  {STATES_ADMIN:<22} Agency admin, {STATES_AGENCY} (a sub-account in each support state)"]


def _state_sub(agency, name, business, zone, numbers, area):
    sub, _ = SubAccount.objects.get_or_create(
        agency=agency, name=name, defaults={"business_name": business, "time_zone": zone}
    )
    for number in numbers:
        PhoneNumber.objects.get_or_create(number=number, defaults={"sub_account": sub, "label": "Main"})
    if not sub.contacts.exists():
        for i in range(STATE_CONTACTS):
            contact = Contact.objects.create(
                sub_account=sub, phone=f"+1{area}55502{i:02d}", first_name=f"Client{i:02d}", consent=Consent.GRANTED
            )
            ConsentEvent.objects.create(
                sub_account=sub, contact=contact, kind=ConsentEvent.Kind.OPT_IN, source="Paper form",
                at=timezone.now() - timedelta(days=30), ip_or_method="Signed at the front desk",
            )  # fmt: skip
    return sub


def _level8(sub, admin, now):
    """R7: at the top level, asking support for more than 5,000 a day."""
    RampState.objects.update_or_create(sub_account=sub, defaults={"level": 8, "started_at": now - timedelta(days=40)})
    if not LimitExtensionRequest.objects.filter(sub_account=sub).pending().exists():
        LimitExtensionRequest.objects.create(
            sub_account=sub, requested_limit=8000, requested_by=admin,
            reason="Open-house announcements to 7,500 opted-in buyers each week; consent from our listing "
            "sign-up form.",
        )  # fmt: skip


def _suspended(sub, now):
    """R8: 15 % of yesterday evening's texts undelivered (carrier filtering): a violation and a
    temporary suspension until the next 00:00 UTC, the counters rebuilt from the messages."""
    if not Message.objects.filter(sub_account=sub).exists():
        contacts = list(sub.contacts.order_by("phone"))
        number = sub.phone_numbers.values_list("number", flat=True).first()
        body = "Maple Auto: winter tire special, $49 mounting this week. Call to book."
        rows = []
        for i in range(80):
            contact, when = contacts[i % len(contacts)], at(now, 3) + timedelta(seconds=i)
            bad = i % 20 < 3  # 12 of 80: 15 %
            rows.append(Message(
                sub_account=sub, contact=contact, direction=Direction.OUTBOUND, source=Source.BULK, body=body,
                body_sent=body, status=Status.UNDELIVERED if bad else Status.DELIVERED,
                error_code="30007" if bad else "", from_number=number, to_number=contact.phone,
                provider_sid=f"SMmaple{i:03d}", sent_at=when, final_at=when + timedelta(seconds=5),
            ))  # fmt: skip
        Message.objects.bulk_create(rows)
        Message.objects.filter(pk__in=[m.pk for m in rows]).update(created_at=at(now, 3))
        rebuild.rates_rebuild(sub_account_id=sub.pk, since=rates.hour_of(at(now, 4)))
    if Suspension.objects.filter(sub_account=sub).in_force(now).exists():
        return
    ends, zone = rates.suspension_end(now, get_policy()), sub.time_zone
    action = (f"Temporary suspension of bulk, workflow and campaign SMS until {times.utc_and_local(ends, zone)}; "
              "suspension email sent")  # fmt: skip
    lapsed = Suspension.objects.filter(sub_account=sub, lifted_at__isnull=True, kind=Suspension.Kind.TEMPORARY).first()
    if lapsed is not None:
        # The demo's own suspension from an earlier day, brought forward: a new one each day
        # would soon be "three in 30 days" (R9) for a story that has only one.
        Violation.objects.filter(pk=lapsed.violation_id).update(created_at=now, action=action)
        Suspension.objects.filter(pk=lapsed.pk).update(started_at=now, ends_at=ends)
        return
    violation = Violation.objects.create(
        sub_account=sub, kind=Violation.Kind.ERROR_RATE, level=Violation.Level.SUSPENSION, emailed_at=now,
        detail={"error_rate": "15 %", "outbound": 80, "finalized": 80, "undelivered": 12, "opt_outs": 0},
        action=action,
    )  # fmt: skip
    Suspension.objects.create(sub_account=sub, cause=Suspension.Cause.ERROR_RATE, violation=violation,
                              started_at=now, ends_at=ends)  # fmt: skip


def _permanent(sub, admin, now):
    """R9: the third suspension in 30 days is permanent; the appeal waits for support."""
    suspension = Suspension.objects.filter(sub_account=sub, kind=Suspension.Kind.PERMANENT).in_force(now).first()
    if suspension is None:
        violation = Violation.objects.create(
            sub_account=sub, kind=Violation.Kind.OPT_OUT_RATE, level=Violation.Level.SUSPENSION, emailed_at=now,
            detail={"opt_out_rate": "3.1 %", "outbound": 320, "opt_outs": 10},
            action="Permanent suspension (3 suspensions within 30 days): no SMS of any source until support "
            "approves an appeal; suspension email sent",
        )  # fmt: skip
        suspension = Suspension.objects.create(
            sub_account=sub, kind=Suspension.Kind.PERMANENT, cause=Suspension.Cause.OPT_OUT_RATE,
            violation=violation, started_at=now - timedelta(days=2),
        )  # fmt: skip
    if not suspension.appeals.filter(status__in=[Appeal.Status.SUBMITTED, Appeal.Status.INFO_REQUESTED]).exists():
        appeal = Appeal(
            sub_account=sub, suspension=suspension, collection_url="https://cedarlaw.example.com/consultation",
            consent_description="Clients tick an unticked consent box on the consultation form; the box is required.",
            activity_stopped=True, use_case="Appointment reminders and case updates for existing clients.",
            submitted_by=admin,
        )  # fmt: skip
        appeal.opt_in_screenshot.save("demo-opt-in.png", ContentFile(PIXEL), save=False)
        appeal.checkbox_screenshot.save("demo-checkbox.png", ContentFile(PIXEL), save=False)
        appeal.save()


def _snowshoe(sub, admin, now):
    """R11: the same text from all four numbers within 24 h is held; the owner's justification
    waits for support."""
    if SnowshoeHold.objects.filter(sub_account=sub, status=SnowshoeHold.Status.PENDING).exists():
        return
    hold = SnowshoeHold.objects.filter(sub_account=sub, status=SnowshoeHold.Status.AWAITING_JUSTIFICATION).first()
    if hold is None:
        with _summaries_kept(sub):
            sent = bulk.bulk_send_start(
                sub_account=sub, user=admin, body=SNOWSHOE_BODY, contact_ids=bulk.audience_ids(sub, kind=bulk.ALL),
                audience_label="All contacts", send_at=None, from_numbers=bulk.sending_numbers(sub),
            )  # fmt: skip
        hold = SnowshoeHold.objects.filter(sub_account=sub, messages__bulk_send=sent).distinct().first()
    if hold is not None:
        screening.snowshoe_justify(
            hold=hold, user=admin,
            text="Four salons, one number each: each location texts its own opted-in clients about the same offer.",
        )  # fmt: skip
