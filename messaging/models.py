"""Contacts, the sub-account's phone numbers, messages and their append-only events."""

import uuid

from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual

from accounts.models import SubAccount


class PhoneNumber(models.Model):
    """A sending number of a sub-account (R12). A number belongs to one sub-account."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="phone_numbers")
    number = models.CharField(max_length=20, unique=True, help_text="E.164, e.g. +15550100001")
    label = models.CharField(max_length=100, blank=True)
    provider_sid = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]

    def __str__(self):
        return self.number


class Tag(models.Model):
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=50)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["sub_account", "name"], name="tag_unique_name_per_subaccount")]

    def __str__(self):
        return self.name


class Dnd(models.TextChoices):
    NONE = "none", "None"
    TEMPORARY = "temporary", "Temporary"
    PERMANENT = "permanent", "Permanent"


class Consent(models.TextChoices):
    NONE = "none", "No consent on record"
    GRANTED = "granted", "Opted in"
    REVOKED = "revoked", "Opted out"


class ContactQuerySet(models.QuerySet):
    def search(self, text: str):
        """Every word in the name or email ("Ben Adams": Ben in the first name, Adams in the
        last), or the digits in the number ("(305) 555" as typed from a form)."""
        words = text.split()
        if not words:
            return self
        q = Q()
        for word in words:
            q &= Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
        digits = "".join(ch for ch in text if ch.isdigit())
        if digits:
            q |= Q(phone__contains=digits)
        return self.filter(q)

    def with_tag(self, tag_name: str):
        """By the tag's ids, not a join on its name: with the name PostgreSQL assumes every tag
        is of average size and walks the whole sub-account for a rare one (docs/BENCHMARKS.md)."""
        if not tag_name:
            return self
        return self.filter(tags__in=list(Tag.objects.filter(name=tag_name).values_list("pk", flat=True)))

    def matching(self, *, q: str = "", tag: str = "", dnd: str = "", consent: str = ""):
        """The contacts list's filters (and a saved segment's): each uses an indexed column or
        a named method above."""
        contacts = self.search(q).with_tag(tag)
        if dnd:
            contacts = contacts.filter(dnd=dnd)
        if consent:
            contacts = contacts.filter(consent=consent)
        return contacts

    def conversations(self):
        """Threads by latest activity: contacts that have at least one message."""
        return self.filter(last_message_at__isnull=False).order_by("-last_message_at")


# A name longer than this is refused with a clear error (form, API, import) and by the database
# on every backend (a CHECK, since SQLite does not enforce varchar lengths).
NAME_MAX_LENGTH = 100
NAME_TOO_LONG = {
    "max_length": "Names have at most %(limit_value)d characters; this one has %(show_value)d.",
}


class Contact(models.Model):
    """An end user of one sub-account. `dnd` and `consent` are the current state; their full
    history is append-only in compliance (DndChange, ConsentEvent)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="contacts")
    phone = models.CharField(max_length=20, help_text="E.164")
    first_name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True, error_messages=NAME_TOO_LONG)
    last_name = models.CharField(max_length=NAME_MAX_LENGTH, blank=True, error_messages=NAME_TOO_LONG)
    email = models.EmailField(blank=True)
    address = models.CharField(max_length=300, blank=True)
    time_zone = models.CharField(max_length=64, blank=True, help_text="Empty: taken from the number (R13).")
    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    dnd = models.CharField(max_length=10, choices=Dnd.choices, default=Dnd.NONE)
    consent = models.CharField(max_length=10, choices=Consent.choices, default=Consent.NONE)
    # Conversation summary, kept by the messaging services so the thread list needs no scan.
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=120, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    has_texted_in = models.BooleanField(default=False, help_text="Has ever texted the sub-account (R5).")
    # Custom date fields a workflow can be triggered by ("24 hours before the appointment").
    appointment_at = models.DateTimeField("appointment", null=True, blank=True)
    follow_up_at = models.DateTimeField("follow-up date", null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name", "phone"]
        constraints = [
            models.UniqueConstraint(fields=["sub_account", "phone"], name="contact_unique_phone_per_subaccount"),
            models.CheckConstraint(name="contact_dnd_valid", condition=Q(dnd__in=[c.value for c in Dnd])),
            models.CheckConstraint(name="contact_consent_valid", condition=Q(consent__in=[c.value for c in Consent])),
            models.CheckConstraint(
                name="contact_names_length",
                condition=Q(LessThanOrEqual(Length("first_name"), NAME_MAX_LENGTH))
                & Q(LessThanOrEqual(Length("last_name"), NAME_MAX_LENGTH)),
            ),
        ]
        indexes = [
            # The list's orders, each total (phone is unique per sub-account; id breaks ties of
            # created_at) so keyset pages (messaging.keyset) seek through the index.
            models.Index(
                fields=["sub_account", "last_name", "first_name", "phone"], name="contact_subaccount_name_idx"
            ),
            models.Index(fields=["sub_account", "created_at", "id"], name="contact_subaccount_created_idx"),
            models.Index(fields=["sub_account", "-last_message_at"], name="contact_subaccount_recent_idx"),
            models.Index(fields=["sub_account", "dnd"], name="contact_subaccount_dnd_idx"),
            models.Index(fields=["sub_account", "consent"], name="contact_subaccount_consent_idx"),
            # Date-triggered workflows look for contacts whose date comes up now.
            models.Index(
                fields=["sub_account", "appointment_at"], name="contact_appointment_idx",
                condition=Q(appointment_at__isnull=False),
            ),
            models.Index(
                fields=["sub_account", "follow_up_at"], name="contact_follow_up_idx",
                condition=Q(follow_up_at__isnull=False),
            ),
        ]  # fmt: skip

    def __str__(self):
        return self.name or self.phone

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Direction(models.TextChoices):
    OUTBOUND = "outbound", "Outbound"
    INBOUND = "inbound", "Inbound"


class Source(models.TextChoices):
    BULK = "bulk", "Bulk"
    WORKFLOW = "workflow", "Workflow"
    CAMPAIGN = "campaign", "Campaign"
    ONE_TO_ONE = "one_to_one", "One-to-one"
    MISSED_CALL_TEXT_BACK = "missed_call_text_back", "Missed-call text back"
    TEST = "test", "Test"
    RESEND = "resend", "Resend"
    KEYWORD_REPLY = "keyword_reply", "Keyword reply"
    INBOUND = "inbound", "Inbound"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    UNKNOWN = "unknown", "Outcome unknown"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Undelivered"
    FAILED = "failed", "Failed"
    RECEIVED = "received", "Received"


FINAL_STATUSES = (Status.DELIVERED, Status.UNDELIVERED, Status.FAILED)


class MessageQuerySet(models.QuerySet):
    def outbound(self):
        return self.filter(direction=Direction.OUTBOUND)

    def not_failed(self):
        return self.exclude(status=Status.FAILED)

    def unhanded(self):
        """Outbound and not yet handed to the provider: queued, scheduled, or claimed by a
        dispatch run that has not reached it. What an opt-out must fail at once (R3)."""
        return self.filter(direction=Direction.OUTBOUND).filter(
            Q(status=Status.QUEUED) | Q(status=Status.SENDING, handed_at__isnull=True)
        )


class Message(models.Model):
    """One SMS. `body` is what the user wrote, `body_sent` what the carrier gets (R5/R6
    appended). A `failed` message always has a `failure_reason` in plain words."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No single-column indexes on the two keys: the (…, created_at) indexes below serve every
    # lookup by them, and each index is written on every one of a message's four row writes.
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="messages", db_index=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="messages", db_index=False)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    source = models.CharField(max_length=25, choices=Source.choices)
    status = models.CharField(max_length=12, choices=Status.choices)
    body = models.TextField()
    body_sent = models.TextField(blank=True)
    from_number = models.CharField(max_length=20, blank=True)
    to_number = models.CharField(max_length=20, blank=True)
    error_code = models.CharField(max_length=10, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True)
    provider_sid = models.CharField(max_length=64, null=True, blank=True)  # unique: Meta (no LIKE index)
    batch = models.CharField(max_length=40, blank=True, help_text="Dispatch batch or bulk send id.")
    # Not indexed: only deleting a user looks messages up by it (one scan, rarely), and an index
    # here is written on every one of each bulk message's four row writes.
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)
    send_after = models.DateTimeField(null=True, blank=True, help_text="Scheduled: not before this time.")
    valid_until = models.DateTimeField(
        null=True, blank=True, help_text="Held for quiet hours (R13): failed if it cannot go by then."
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, help_text="Which dispatch run claimed it.")
    bulk_send = models.ForeignKey(
        "messaging.BulkSend", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages",
        db_index=False,  # message_bulk_created_id_idx leads with it
    )  # fmt: skip
    hold = models.ForeignKey(
        "compliance.SnowshoeHold", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages",
        help_text="Held for review (R11): not dispatched while set.", db_index=False,  # partial index: Meta
    )  # fmt: skip
    ramp_window = models.DateTimeField(
        null=True, blank=True, help_text="The ramp window this message's capacity was reserved in (R7)."
    )
    handed_at = models.DateTimeField(
        null=True, blank=True, help_text="Committed to the provider: past this point an opt-out cannot stop it."
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    final_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                name="message_direction_valid", condition=Q(direction__in=[c.value for c in Direction])
            ),
            models.CheckConstraint(name="message_source_valid", condition=Q(source__in=[c.value for c in Source])),
            models.CheckConstraint(name="message_status_valid", condition=Q(status__in=[c.value for c in Status])),
            models.CheckConstraint(
                name="message_failed_has_reason", condition=~Q(status=Status.FAILED) | ~Q(failure_reason="")
            ),
            # A constraint, not unique=True: the field option adds a second (LIKE) index.
            models.UniqueConstraint(fields=["provider_sid"], name="message_provider_sid_unique"),
        ]
        indexes = [
            # Keyset pages (issue 16) seek on (created_at, id): the id in the index makes the row
            # comparison an index condition, so the last page reads 51 rows like the first. These
            # replace (contact, created_at) and (sub_account, created_at), which they also serve.
            models.Index(fields=["contact", "created_at", "id"], name="message_contact_created_id_idx"),
            models.Index(fields=["sub_account", "created_at", "id"], name="message_sub_created_id_idx"),
            # A bulk send's or campaign's recipients, paged; also serves the bulk_send foreign key.
            models.Index(fields=["bulk_send", "created_at", "id"], name="message_bulk_created_id_idx"),
            # R8 dashboard: failed-before-the-carrier by reason, without scanning every message.
            models.Index(fields=["sub_account", "created_at"], name="message_failed_idx", condition=Q(status="failed")),
            models.Index(fields=["status", "send_after"], name="message_queued_idx", condition=Q(status="queued")),
            # Missed-call text back looks its call's message up by batch (`inbound.missed_call`);
            # nothing else does, so bulk messages (batch = their send) stay out of it.
            models.Index(fields=["batch"], name="message_call_batch_idx", condition=Q(source="missed_call_text_back")),
            # Only while claimed: a sent message leaves the index (its token stays on the row).
            models.Index(
                fields=["claim_token"],
                name="message_claim_sending_idx",
                condition=Q(claim_token__isnull=False, status="sending"),
            ),  # fmt: skip
            models.Index(fields=["hold"], name="message_hold_idx", condition=Q(hold__isnull=False)),
            models.Index(
                fields=["status", "claimed_at"],
                name="message_inflight_idx",
                condition=Q(status__in=["sending", "unknown"]),
            ),
        ]

    def __str__(self):
        return f"{self.direction} {self.status} to {self.to_number}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class MessageEvent(models.Model):
    """Append-only: every status change and every receipt of a message, as it happened."""

    # Two rows per message sent, read only through their message (msgevent_message_idx): no
    # single-column indexes (deleting a sub-account scans for its events once).
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="events", db_index=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+", db_index=False)
    status = models.CharField(max_length=12, choices=Status.choices)
    error_code = models.CharField(max_length=10, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=20, help_text="app, dispatch, receipt, …")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["message", "created_at"], name="msgevent_message_idx")]

    def __str__(self):
        return f"{self.status} {self.error_code}".strip()


class ReceiptEvent(models.Model):
    """Append-only: every status receipt as the provider sent it. Stored before it is applied,
    so a receipt that arrives before we recorded the provider id (or twice, or out of order)
    is applied once, when its message is known."""

    provider_sid = models.CharField(max_length=64)
    status = models.CharField(max_length=20)
    error_code = models.CharField(max_length=10, blank=True)
    payload = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider_sid", "status", "error_code"], name="receipt_unique_per_status"),
        ]
        indexes = [
            models.Index(fields=["provider_sid"], name="receipt_sid_idx"),
        ]

    def __str__(self):
        return f"{self.provider_sid} {self.status}"


class ApiKey(models.Model):
    """A per-sub-account key for the JSON API. Only a SHA-256 of the key is stored; the key
    itself is shown once, when created."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a key.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class IdempotencyKey(models.Model):
    """An API POST sent with an `Idempotency-Key` header and the answer it got, kept 24 h: the
    same key with the same request gets this answer again instead of a second send. Written in
    the same transaction as the request's own rows, so a key is never on record for work that
    was rolled back, and work is never committed without its key."""

    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+")
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of the method, path and JSON body.")
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Keys are the client's own names: one client's key never answers for another's.
            models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_unique_key_per_api_key"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self):
        return f"{self.key} ({self.response_status})"


class BulkSendQuerySet(models.QuerySet):
    def campaigns(self):
        """A Bulk SMS scheduled for later is a campaign."""
        return self.filter(scheduled_for__isnull=False)

    def running(self):
        """What a pause can still stop: scheduled or being sent."""
        return self.filter(status__in=[BulkSend.Status.SCHEDULED, BulkSend.Status.SENDING])


class BulkSend(models.Model):
    """One bulk send as the user confirmed it: what, to whom, when, and what the preview said.
    Its messages point back to it (Message.bulk_send) for the progress bar and the report.
    Scheduled for later it is a campaign (`Campaign`, the same rows). Scheduled and sending ones
    can be paused (nothing more is handed to the carrier) and resumed, or cancelled (what is
    still queued fails); `messaging.automations.campaigns` does what that means for messages."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        HELD = "held", "Held for review"
        BLOCKED = "blocked", "Blocked"
        PAUSED = "paused", "Paused"
        CANCELLED = "cancelled", "Cancelled"
        DONE = "done", "Done"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="bulk_sends")
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    name = models.CharField(max_length=100, blank=True, help_text="A campaign's name; empty for a Bulk SMS sent now.")
    body = models.TextField()
    source = models.CharField(
        max_length=10, default="bulk",
        help_text="bulk (scheduled or not, R5/R6); campaign only on sends scheduled before that was fixed",
    )  # fmt: skip
    audience = models.CharField(max_length=300, help_text="All contacts, tags, or the uploaded file's name.")
    scheduled_for = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    total = models.PositiveIntegerField(default=0)
    preview = models.JSONField(default=dict, help_text="The counts and sentences shown before confirming.")
    created_at = models.DateTimeField(auto_now_add=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = BulkSendQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="bulksend_status_valid",
                condition=Q(status__in=["scheduled", "sending", "held", "blocked", "paused", "cancelled", "done"]),
            ),
            models.CheckConstraint(name="bulksend_source_valid", condition=Q(source__in=["bulk", "campaign"])),
        ]

    def __str__(self):
        if self.name:
            return self.name
        return f"Bulk send {self.created_at:%Y-%m-%d %H:%M} ({self.total})"

    @property
    def is_campaign(self) -> bool:
        return self.scheduled_for is not None

    @property
    def can_pause(self) -> bool:
        return self.status in (self.Status.SCHEDULED, self.Status.SENDING)

    @property
    def can_cancel(self) -> bool:
        return self.status in (self.Status.SCHEDULED, self.Status.SENDING, self.Status.PAUSED, self.Status.HELD)

    def pause(self, *, user, now) -> bool:
        """scheduled/sending → paused, conditional on the state it is in now (two clicks, or a
        click racing the send finishing, change it once). Returns whether it changed."""
        changed = BulkSend.objects.filter(pk=self.pk, status__in=[self.Status.SCHEDULED, self.Status.SENDING]).update(
            status=self.Status.PAUSED, paused_at=now, paused_by=user
        )
        if changed:
            self.status, self.paused_at, self.paused_by = self.Status.PAUSED, now, user
        return bool(changed)

    def resume(self, *, now) -> bool:
        """paused → scheduled (its time has not come) or sending."""
        status = self.Status.SCHEDULED if self.scheduled_for and self.scheduled_for > now else self.Status.SENDING
        changed = BulkSend.objects.filter(pk=self.pk, status=self.Status.PAUSED).update(status=status)
        if changed:
            self.status = status
        return bool(changed)

    def cancel(self, *, user, now) -> bool:
        """Anything not finished → cancelled (final)."""
        allowed = [self.Status.SCHEDULED, self.Status.SENDING, self.Status.PAUSED, self.Status.HELD]
        changed = BulkSend.objects.filter(pk=self.pk, status__in=allowed).update(
            status=self.Status.CANCELLED, cancelled_at=now, cancelled_by=user
        )
        if changed:
            self.status, self.cancelled_at, self.cancelled_by = self.Status.CANCELLED, now, user
        return bool(changed)


class CampaignManager(models.Manager.from_queryset(BulkSendQuerySet)):
    def get_queryset(self):
        return super().get_queryset().campaigns()


class Campaign(BulkSend):
    """A Bulk SMS scheduled for later: the same row, listed on its own with its report."""

    objects = CampaignManager()

    class Meta:
        proxy = True
        ordering = ["-scheduled_for"]


class CannedReply(models.Model):
    """A saved answer of one sub-account, inserted into a conversation's send box."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="canned_replies")
    title = models.CharField(max_length=60)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(fields=["sub_account", "title"], name="canned_reply_unique_title_per_subaccount")
        ]

    def __str__(self):
        return self.title


class Segment(models.Model):
    """A saved filter of the contacts list (search, tag, DND, consent), usable as the audience
    of a Bulk SMS. It stores the filter, not the contacts: who is in it is read when used."""

    FILTERS = ("q", "tag", "dnd", "consent")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="segments")
    name = models.CharField(max_length=100)
    filters = models.JSONField(default=dict, help_text="q, tag, dnd, consent as the list's query string has them.")
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["sub_account", "name"], name="segment_unique_name_per_subaccount")
        ]

    def __str__(self):
        return self.name

    def contacts(self):
        return Contact.objects.filter(sub_account_id=self.sub_account_id).matching(
            **{k: str(self.filters.get(k, "")) for k in self.FILTERS}
        )


class ImportJob(models.Model):
    """One contact CSV import: the stored file, the column mapping the user confirmed, its
    progress and its counts. Written by the import job (`messaging.import_jobs`) one batch at a
    time, in the batch's transaction: `last_row` is the checkpoint a retried job resumes after."""

    class Status(models.TextChoices):
        PREVIEW = "preview", "Waiting for you to check the columns"
        QUEUED = "queued", "Waiting to start"
        RUNNING = "running", "Importing"
        DONE = "done", "Finished"
        FAILED = "failed", "Stopped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    file = models.FileField(upload_to="imports/%Y/%m/")
    file_name = models.CharField(max_length=255)
    header = models.JSONField(default=list, help_text="The file's first row.")
    mapping = models.JSONField(default=list, help_text="The field of each column, '' for ignored.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEW)
    total_rows = models.PositiveIntegerField(null=True, blank=True, help_text="Counted when the job starts.")
    rows_done = models.PositiveIntegerField(default=0)
    last_row = models.PositiveIntegerField(default=1, help_text="Spreadsheet row of the last row written.")
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    consents = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="importjob_status_valid",
                condition=Q(status__in=["preview", "queued", "running", "done", "failed"]),
            ),
        ]
        indexes = [models.Index(fields=["sub_account", "-created_at"], name="importjob_subaccount_idx")]

    def __str__(self):
        return f"Import of {self.file_name}"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(100, self.rows_done * 100 // self.total_rows)


class ImportProblem(models.Model):
    """A row of an import that was not imported (or only in part), with why: the report."""

    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+")
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="problems")
    row = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)

    class Meta:
        ordering = ["row", "id"]
        indexes = [models.Index(fields=["job", "row"], name="importproblem_job_idx")]

    def __str__(self):
        return f"Row {self.row}: {self.reason}"


class WebhookEvent(models.TextChoices):
    MESSAGE_STATUS = "message.status", "Message status"
    MESSAGE_INBOUND = "message.inbound", "Inbound message"
    CONTACT_OPTED_OUT = "contact.opted_out", "Contact opted out"
    CONTACT_OPTED_IN = "contact.opted_in", "Contact opted in"
    VIOLATION_RECORDED = "violation.recorded", "Violation recorded"
    SUSPENSION_STARTED = "suspension.started", "Suspension started"
    SUSPENSION_ENDED = "suspension.ended", "Suspension ended"
    ENROLLMENT_FINISHED = "workflow.enrollment.finished", "Workflow enrollment finished"


class WebhookEndpoint(models.Model):
    """An outgoing webhook of a sub-account (issue 16). The secret is shown once on creation.
    `failure_count` counts failed attempts in a row (any delivery; a 2xx resets it). Disabled by
    the delivery engine (410, giving up after 24 h, too many failures in a row) with the reason."""

    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=64)
    enabled = models.BooleanField(default=True)
    failure_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_notified_at = models.DateTimeField(
        null=True, blank=True, help_text="When the email saying it was disabled went out (sent once)."
    )

    def __str__(self):
        return self.url

    def enable(self) -> None:
        """On again (a user's choice): the failure streak and the last disabling are cleared."""
        self.enabled, self.failure_count = True, 0
        self.disabled_at, self.disabled_reason, self.disabled_notified_at = None, "", None
        self.save(update_fields=["enabled", "failure_count", "disabled_at", "disabled_reason", "disabled_notified_at"])


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDeliveryQuerySet(models.QuerySet):
    def for_endpoint(self, endpoint):
        """An endpoint's delivery log, newest first, each with its attempts (`delivery.log.all()`,
        oldest first) in one more query."""
        return (
            self.filter(endpoint=endpoint)
            .order_by("-id")
            .prefetch_related(models.Prefetch("log", queryset=WebhookAttempt.objects.order_by("attempted_at", "id")))
        )

    def due(self, now):
        """Pending deliveries of enabled endpoints whose next attempt has come (a claimed one is
        not due until its claim runs out: `next_attempt_at` is pushed past the attempt)."""
        return self.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now, endpoint__enabled=True)


class WebhookDelivery(models.Model):
    """One event for one endpoint. `event_id` and `body` are fixed at emission, so every retry
    (and a send again) carries the same id: receivers deduplicate on it."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=40, choices=WebhookEvent.choices)
    body = models.JSONField()
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="webhook_delivery_state_valid", condition=Q(state__in=["pending", "delivered", "failed"])
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due_idx"),
            # An endpoint's log, newest first (for_endpoint, and the keyset pages of Settings → Webhooks).
            models.Index(fields=["endpoint", "id"], name="webhook_delivery_endpoint_idx"),
        ]

    def __str__(self):
        return f"{self.event_type} {self.event_id}"


class WebhookAttempt(models.Model):
    """Append-only: one POST of a delivery, with the answer's status code (none: no answer, or
    refused before connecting) or the error, and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+", db_index=False)
    attempted_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField()

    class Meta:
        ordering = ["attempted_at", "id"]
        indexes = [models.Index(fields=["delivery", "attempted_at"], name="webhook_attempt_delivery_idx")]

    def __str__(self):
        return f"{self.delivery_id} at {self.attempted_at:%Y-%m-%d %H:%M:%S} UTC: {self.status_code or self.error}"
