"""What enrolls a contact, and what ends an enrollment from outside the workflow. Each hook is one
call from where the event happens, inside its transaction (the enrollment is written with it, the
step job runs on commit):

    contacts_created   messaging.contacts / the contact form / the API / the CSV import
    tags_added         messaging.contacts.contact_set_tags, the CSV import, a workflow's add-tag step
    inbound_text       messaging.inbound, for a text that is not an R3/R4/HELP keyword
    missed_call        messaging.inbound.missed_call_handle
    dates_due          the step job, every run (a date on the contact comes up)
    api_enroll         POST /api/v1/workflows/<id>/enrollments
    opt_out            messaging.keywords, in the opt-out's transaction (R3: it ends them all)
    unenroll           the workflow page and DELETE /api/v1/enrollments/<id>
"""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from compliance import rules, times
from compliance.policy import get_policy
from messaging.automations.enrolling import enroll, enrollments_end, who
from messaging.automations.models import DATE_FIELDS, Enrollment, Workflow
from messaging.models import Contact, Message
from messaging.services import MessagingError
from messaging.transitions import messages_fail

T = Workflow.Trigger
DATE_LATE = timedelta(hours=1)  # a date missed by more than this (the workflow was off) is skipped


class NotEnrolled(MessagingError):
    """The API asked to enroll a contact the workflow does not take now; `conflict` when the
    contact is (or was, without re-entry) already in it."""

    def __init__(self, message: str, *, conflict: bool = False):
        super().__init__(message)
        self.conflict = conflict


def _workflows(sub_account_id, trigger: str):
    return Workflow.objects.enrolling().filter(sub_account_id=sub_account_id, trigger=trigger)


# --- Triggers -------------------------------------------------------------------------------


def contacts_created(*, sub_account_id, contact_ids, via: str = "") -> None:
    ids = list(contact_ids)
    if not ids:
        return
    trigger = f"Contact created ({via})" if via else "Contact created"
    for workflow in _workflows(sub_account_id, T.CONTACT_CREATED):
        enroll(workflow=workflow, contact_ids=ids, trigger=trigger)


def tags_added(*, sub_account_id, links) -> None:
    """`links`: (contact id, tag id) pairs that are new, i.e. the tag was not on the contact."""
    by_tag: dict = {}
    for contact_id, tag_id in links:
        by_tag.setdefault(tag_id, []).append(contact_id)
    if not by_tag:
        return
    workflows = _workflows(sub_account_id, T.TAG_ADDED).filter(trigger_tag_id__in=list(by_tag))
    for workflow in workflows.select_related("trigger_tag"):
        enroll(workflow=workflow, contact_ids=by_tag[workflow.trigger_tag_id],
               trigger=f"Tag “{workflow.trigger_tag.name}” added")  # fmt: skip


def normalise_keyword(text: str) -> str:
    """Whole message, case-insensitive, spaces collapsed, outer punctuation ignored ("Book!")."""
    return " ".join((text or "").casefold().split()).strip(".!?,;:()'\" ")


def keyword_problem(keyword: str) -> str:
    """R3/R4: a keyword the policy gives a meaning (STOP, START, HELP, `remove me`, …) cannot
    trigger a workflow: the contact is opting out, in, or asking for help."""
    if not normalise_keyword(keyword):
        return "Enter the keyword."
    meaning = rules.classify_inbound(keyword, get_policy())
    if meaning.kind == rules.OPT_OUT:
        return f"“{keyword.strip()}” is an opt-out keyword: a contact texting it is opted out, never enrolled."
    if meaning.kind == rules.OPT_IN:
        return f"“{keyword.strip()}” is an opt-in keyword: it cannot trigger a workflow."
    if meaning.kind == rules.HELP:
        return f"“{keyword.strip()}” is a HELP keyword: it gets the help reply and cannot trigger a workflow."
    return ""


def inbound_text(*, message: Message, keyword: rules.Keyword) -> None:
    """An inbound text that is not a compliance keyword, matched against keyword triggers."""
    if keyword.kind != rules.NO_KEYWORD:
        return
    text = normalise_keyword(message.body)
    if not text:
        return
    for workflow in _workflows(message.sub_account_id, T.KEYWORD):
        if normalise_keyword(workflow.trigger_keyword) == text:
            enroll(workflow=workflow, contact_ids=[message.contact_id], trigger=f"Texted “{message.body.strip()[:50]}”")


def missed_call(*, contact: Contact, call_sid: str) -> None:
    """Once per call: Twilio retries its webhook, the call id keeps it one enrollment."""
    for workflow in _workflows(contact.sub_account_id, T.MISSED_CALL):
        enroll(workflow=workflow, contact_ids=[contact.pk], trigger="Missed call", key=f"call:{call_sid}")


def dates_due(now) -> int:
    """Date triggers ("24 hours before the appointment"): contacts whose date plus the offset has
    come within the last DATE_LATE, each date once. One query per active date workflow."""
    enrolled = 0
    for workflow in Workflow.objects.filter(trigger=T.DATE, status=Workflow.Status.ACTIVE):
        field = workflow.trigger_date_field
        if field not in DATE_FIELDS:
            continue
        offset = timedelta(minutes=workflow.trigger_offset_minutes)
        # The moment comes when date + offset ≤ now, i.e. date ≤ now − offset.
        window = {f"{field}__lte": now - offset, f"{field}__gt": now - offset - DATE_LATE}
        due = Contact.objects.filter(sub_account_id=workflow.sub_account_id, **window).values_list("pk", field)
        by_date: dict = {}
        for pk, value in due:
            by_date.setdefault(value, []).append(pk)
        for value, ids in by_date.items():
            label = f"{DATE_FIELDS[field]} {times.local(value, workflow.sub_account.time_zone)}"
            with transaction.atomic():
                created = enroll(workflow=workflow, contact_ids=ids, trigger=label, key=f"{field}:{value.isoformat()}",
                                 now=now)  # fmt: skip
            enrolled += len(created)
    return enrolled


def api_enroll(*, workflow: Workflow, contact: Contact) -> Enrollment:
    """POST /api/v1/workflows/<id>/enrollments: any active or paused workflow takes contacts
    through the API (a workflow triggered *only* that way has the `api` trigger)."""
    if workflow.status not in (Workflow.Status.ACTIVE, Workflow.Status.PAUSED):
        raise NotEnrolled(f"The workflow is {workflow.get_status_display().lower()}: activate it first.")
    with transaction.atomic():
        created = enroll(workflow=workflow, contact_ids=[contact.pk], trigger="Enrolled through the API")
    if not created:
        current = Enrollment.objects.active().filter(workflow=workflow, contact=contact).first()
        if current is not None:
            raise NotEnrolled("The contact is already in this workflow.", conflict=True)
        raise NotEnrolled("The contact went through this workflow before and re-entry is off.", conflict=True)
    return Enrollment.objects.get(pk=next(iter(created)))


# --- Endings --------------------------------------------------------------------------------


def opt_out(*, contact: Contact, now=None) -> int:
    """R3: an opt-out ends every enrollment of the contact. Called in the opt-out's transaction,
    after the contact's row is locked (lock order: contact → enrollment → messages)."""
    return enrollments_end(
        Enrollment.objects.filter(contact=contact), kind=Enrollment.Exit.OPTED_OUT,
        reason="The contact opted out.", now=now or timezone.now(),
    )  # fmt: skip


def unenroll(*, enrollment: Enrollment, user=None, via: str = "") -> bool:
    """Takes the contact out; what the workflow queued for them and has not handed to the carrier
    fails ("Unenrolled by …")."""
    now = timezone.now()
    reason = f"Unenrolled by {who(user)}." if user is not None else " ".join(["Unenrolled", via]).strip() + "."
    with transaction.atomic():
        Contact.objects.select_for_update().filter(pk=enrollment.contact_id).first()  # lock order: contact first
        ended = enrollments_end(
            Enrollment.objects.filter(pk=enrollment.pk), kind=Enrollment.Exit.UNENROLLED, reason=reason, now=now
        )
        if ended:
            messages_fail(
                Message.objects.filter(workflow_log__enrollment=enrollment).unhanded(), reason=reason,
                source="unenroll", now=now,
            )  # fmt: skip
    enrollment.refresh_from_db()
    return bool(ended)
