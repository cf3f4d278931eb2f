"""Append-only records a regulator or customer may ask about (R2, R10)."""

import uuid

from django.db import models
from django.db.models import Q

from accounts.models import SubAccount
from compliance import signals
from compliance.errors import ComplianceError
from compliance.ramp import Ramp


class ConsentEvent(models.Model):
    """R10: each opt-in is a record with the proof-of-opt-in fields (R9); opt-outs too."""

    class Kind(models.TextChoices):
        OPT_IN = "opt_in", "Opt-in"
        OPT_OUT = "opt_out", "Opt-out"

    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("messaging.Contact", on_delete=models.CASCADE, related_name="consent_events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.CharField(max_length=100, help_text="Web form, keyword, import, …")
    at = models.DateTimeField(help_text="When consent was given or revoked.")
    ip_or_method = models.CharField(max_length=200, blank=True)
    url = models.URLField(max_length=500, blank=True)
    consent_text = models.TextField(blank=True, help_text="The consent wording the person saw.")
    screenshot = models.FileField(upload_to="consent/%Y/%m/", blank=True)
    recorded_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.ForeignKey("messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(name="consent_kind_valid", condition=Q(kind__in=["opt_in", "opt_out"])),
        ]
        indexes = [models.Index(fields=["contact", "at"], name="consent_contact_at_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.contact_id} at {self.at:%Y-%m-%d %H:%M}"


class DndChange(models.Model):
    """R2: every DND change — when, why (carrier code / keyword / user), by whom or which
    message. Append-only."""

    class Cause(models.TextChoices):
        ERROR_CODE = "error_code", "Carrier error code"
        KEYWORD = "keyword", "Keyword from the contact"
        USER = "user", "Removed by a user"

    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey("messaging.Contact", on_delete=models.CASCADE, related_name="dnd_changes")
    from_state = models.CharField(max_length=10)
    to_state = models.CharField(max_length=10)
    cause = models.CharField(max_length=12, choices=Cause.choices)
    detail = models.CharField(max_length=200, help_text="The code, keyword and rule, or the user's note.")
    message = models.ForeignKey("messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    user = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="dndchange_cause_valid", condition=Q(cause__in=["error_code", "keyword", "user"])
            ),
            models.CheckConstraint(
                name="dndchange_states_valid",
                condition=Q(from_state__in=["none", "temporary", "permanent"])
                & Q(to_state__in=["none", "temporary", "permanent"]),
            ),
        ]
        indexes = [models.Index(fields=["contact", "created_at"], name="dndchange_contact_idx")]

    def __str__(self):
        return f"{self.from_state} → {self.to_state} ({self.cause})"


class RampState(models.Model):
    """R7: a sub-account's place on the sending ramp. Read through `compliance.ramp` (pure
    functions that roll it forward to now); written only under a row lock."""

    sub_account = models.OneToOneField(SubAccount, on_delete=models.CASCADE, primary_key=True, related_name="ramp")
    level = models.PositiveSmallIntegerField(default=1)
    started_at = models.DateTimeField(null=True, blank=True)
    window_start = models.DateTimeField(null=True, blank=True)
    window_count = models.PositiveIntegerField(default=0)
    restricted_until = models.DateTimeField(null=True, blank=True)
    limit_extension = models.PositiveIntegerField(null=True, blank=True, help_text="Granted by support (level 8).")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(name="ramp_level_valid", condition=Q(level__gte=1) & Q(level__lte=8)),
        ]

    def __str__(self):
        return f"Level {self.level} ({self.window_count} in window)"

    def as_ramp(self) -> Ramp:
        return Ramp(
            level=self.level, started_at=self.started_at, window_start=self.window_start,
            window_count=self.window_count, restricted_until=self.restricted_until, extension=self.limit_extension,
        )  # fmt: skip

    def store(self, ramp) -> None:
        self.level, self.started_at, self.window_start = ramp.level, ramp.started_at, ramp.window_start
        self.window_count, self.restricted_until = ramp.window_count, ramp.restricted_until
        self.save(
            update_fields=["level", "started_at", "window_start", "window_count", "restricted_until", "updated_at"]
        )

    def extend(self, limit: int) -> None:
        """A limit extension granted by support (R7, level 8), applied at once."""
        self.limit_extension = limit
        self.save(update_fields=["limit_extension", "updated_at"])


class LimitExtensionRequestQuerySet(models.QuerySet):
    def pending(self):
        return self.filter(status=LimitExtensionRequest.Status.PENDING)

    def decided(self):
        return self.exclude(status=LimitExtensionRequest.Status.PENDING)


class LimitExtensionRequest(models.Model):
    """R7: at level 8 an owner asks for a higher daily limit; support staff decide. Append-only
    apart from the decision."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="limit_requests")
    requested_limit = models.PositiveIntegerField()
    reason = models.TextField()
    requested_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    granted_limit = models.PositiveIntegerField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LimitExtensionRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="limitrequest_status_valid", condition=Q(status__in=["pending", "approved", "rejected"])
            ),
            models.CheckConstraint(
                name="limitrequest_approved_has_limit",
                condition=~Q(status="approved") | Q(granted_limit__isnull=False),
            ),
        ]

    def __str__(self):
        return f"{self.sub_account} → {self.requested_limit} ({self.status})"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING

    def decide(self, *, approve: bool, granted_limit: int | None, note: str, user, now) -> None:
        self.status = self.Status.APPROVED if approve else self.Status.REJECTED
        self.granted_limit = granted_limit if approve else None
        self.decision_note, self.decided_by, self.decided_at = note, user, now
        self.save(update_fields=["status", "granted_limit", "decision_note", "decided_by", "decided_at"])


class Violation(models.Model):
    """A policy violation as recorded (R8, R11): kind, what was measured, what was done.
    Append-only (apart from `emailed_at`). Rate monitoring (R8) records the rates, counts and
    window in `detail`; content screening and snowshoeing (R11) what matched."""

    class Kind(models.TextChoices):
        PROHIBITED_CONTENT = "prohibited_content", "Prohibited content"
        SNOWSHOE = "snowshoe", "Snowshoeing"
        ERROR_RATE = "error_rate", "Error rate"
        OPT_OUT_RATE = "opt_out_rate", "Opt-out rate"

    class Level(models.TextChoices):
        NONE = "", "—"
        VIOLATION = "violation", "Violation email"
        SUSPENSION = "suspension", "Suspension"

    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="violations")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    level = models.CharField(max_length=12, choices=Level.choices, blank=True, default="", help_text="R8 only.")
    detail = models.JSONField(default=dict, help_text="What was measured or matched.")
    action = models.CharField(max_length=200, help_text="What was done: blocked, held, emailed, suspended…")
    notice_day = models.DateField(
        null=True, blank=True, help_text="R8: the UTC day of a violation email (at most one per sub-account per day)."
    )
    emailed_at = models.DateTimeField(null=True, blank=True, help_text="When its email went out (R8).")
    user = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]  # a frozen or coarse clock gives ties: newest row first
        constraints = [
            models.CheckConstraint(
                name="violation_kind_valid",
                condition=Q(kind__in=["prohibited_content", "snowshoe", "error_rate", "opt_out_rate"]),
            ),
            models.CheckConstraint(
                name="violation_level_valid", condition=Q(level__in=["", "violation", "suspension"])
            ),
            # R8: at most one violation email per sub-account per UTC day, also under concurrent receipts.
            models.UniqueConstraint(
                fields=["sub_account", "notice_day"], condition=Q(level="violation"), name="violation_one_email_per_day"
            ),
        ]
        indexes = [models.Index(fields=["sub_account", "created_at"], name="violation_subaccount_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.sub_account}"

    def save(self, *args, **kwargs):
        adding = self._state.adding
        super().save(*args, **kwargs)
        if adding:
            signals.violation_recorded.send(sender=Violation, violation=self)


class SnowshoeHoldQuerySet(models.QuerySet):
    def awaiting_justification(self):
        return self.filter(status=SnowshoeHold.Status.AWAITING_JUSTIFICATION)

    def pending_review(self):
        return self.filter(status=SnowshoeHold.Status.PENDING)

    def decided(self):
        return self.filter(status__in=[SnowshoeHold.Status.ACCEPTED, SnowshoeHold.Status.REJECTED])


class SnowshoeHold(models.Model):
    """R11: the same or a near-identical body from more than SNOWSHOE_NUMBERS numbers within
    24 h. Its messages wait (Message.hold) until support accepts the business justification."""

    class Status(models.TextChoices):
        AWAITING_JUSTIFICATION = "awaiting", "Awaiting justification"
        PENDING = "pending", "Pending review"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="snowshoe_holds")
    body = models.TextField(help_text="The message body that triggered the hold.")
    numbers = models.JSONField(default=list, help_text="The sending numbers it went out from within 24 h.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.AWAITING_JUSTIFICATION)
    justification = models.TextField(blank=True)
    submitted_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SnowshoeHoldQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="snowshoe_status_valid", condition=Q(status__in=["awaiting", "pending", "accepted", "rejected"])
            ),
        ]

    def __str__(self):
        return f"Snowshoe hold · {self.sub_account} ({self.status})"

    def justify(self, *, text: str, user, now) -> None:
        """An owner or agency admin explains the business reason; the hold goes to support."""
        if self.status != self.Status.AWAITING_JUSTIFICATION:
            raise ComplianceError("This hold is not awaiting a justification.")
        self.status = self.Status.PENDING
        self.justification, self.submitted_by, self.submitted_at = text, user, now
        self.save(update_fields=["status", "justification", "submitted_by", "submitted_at"])

    def decide(self, *, accept: bool, note: str, user, now) -> None:
        """Support accepts or rejects the justification (a rejection says why)."""
        if not accept and not note:
            raise ComplianceError("Say why the justification is rejected, for the sub-account to read.")
        if self.status != self.Status.PENDING:
            raise ComplianceError("Only a hold with a justification pending review can be decided.")
        self.status = self.Status.ACCEPTED if accept else self.Status.REJECTED
        self.decision_note, self.decided_by, self.decided_at = note, user, now
        self.save(update_fields=["status", "decision_note", "decided_by", "decided_at"])


class BusinessInfoChange(models.Model):
    """Business Info edits (R5/R6 texts): who, when, before and after. Append-only."""

    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="business_info_changes")
    user = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    before = models.JSONField()
    after = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"Business Info of {self.sub_account} changed {self.created_at:%Y-%m-%d}"


class RateBucket(models.Model):
    """R8: one sub-account's counters for one UTC hour, kept as messages are handed to the
    carrier, receipts arrive and opt-outs are received — so the trailing-24-hour rates are a sum
    of at most 24 rows, never a scan of the message table. Written only by
    `compliance.monitoring` with conditional `F()` increments in the transaction that changes
    the message, so a receipt applied once is counted once."""

    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="rate_buckets")
    hour = models.DateTimeField(help_text="The UTC hour, e.g. 2026-11-23 14:00.")
    outbound = models.PositiveIntegerField(default=0, help_text="Handed to the carrier (sent).")
    finalized = models.PositiveIntegerField(default=0, help_text="With a final carrier status.")
    delivered = models.PositiveIntegerField(default=0)
    undelivered = models.PositiveIntegerField(default=0)
    opt_outs = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sub_account", "hour"]
        constraints = [models.UniqueConstraint(fields=["sub_account", "hour"], name="ratebucket_unique_hour")]
        indexes = [models.Index(fields=["hour"], name="ratebucket_hour_idx")]

    def __str__(self):
        return f"{self.sub_account_id} {self.hour:%Y-%m-%d %H}:00"


class UndeliveredCode(models.Model):
    """R8 dashboard: undelivered messages per carrier error code per UTC day and sub-account."""

    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    code = models.CharField(max_length=10)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sub_account", "day", "code"], name="undeliveredcode_unique_day_code")
        ]

    def __str__(self):
        return f"{self.code} × {self.count} on {self.day}"


class SuspensionQuerySet(models.QuerySet):
    def ended_unannounced(self, now):
        """Temporary suspensions that ended by time (not lifted early: a lift announces itself)
        and have not been announced yet."""
        return self.filter(ends_at__lte=now, lifted_at__isnull=True, end_announced_at__isnull=True)

    def in_force(self, now):
        """Suspensions that stop sending at `now`: started, not ended, not lifted. Lifting by
        time needs no job: an ended suspension simply no longer matches (R8). A permanent one
        (no end) lasts until support approves an appeal (R9)."""
        return self.covering(now).filter(lifted_at__isnull=True)

    def covering(self, now):
        """Suspensions whose period covers `now`, a temporary one lifted early or not: while one
        does, rate monitoring does not suspend again (a self-lift holds until the period's end).
        A permanent one covers until support lifts it on appeal; then monitoring resumes. Not
        bounded by `started_at <= now` (a suspension never starts in the future): a caller's
        `now` may be a little older than a suspension another process just recorded."""
        return self.filter(Q(ends_at__isnull=True, lifted_at__isnull=True) | Q(ends_at__gt=now))


class Suspension(models.Model):
    """R8: a temporary suspension of bulk, workflow and campaign sending, from a rate crossing
    a suspension threshold until the next 00:00 UTC (or 24 h). It ends by time alone; an agency
    admin may lift it early (R9 last bullet), recorded here.
    R9: the PERMANENT_AFTER-th temporary suspension within PERMANENT_WINDOW_DAYS is permanent
    instead: no end, no outbound SMS of any source, no new numbers, until support approves an
    appeal."""

    class Cause(models.TextChoices):
        ERROR_RATE = "error_rate", "Error rate"
        OPT_OUT_RATE = "opt_out_rate", "Opt-out rate"

    class Kind(models.TextChoices):
        TEMPORARY = "temporary", "Temporary"
        PERMANENT = "permanent", "Permanent"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="suspensions")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEMPORARY)
    cause = models.CharField(max_length=20, choices=Cause.choices)
    violation = models.OneToOneField(Violation, on_delete=models.PROTECT, related_name="suspension")
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True, help_text="Empty: permanent (R9).")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lift_note = models.CharField(max_length=300, blank=True)
    end_announced_at = models.DateTimeField(
        null=True, blank=True, help_text="When listeners (outgoing webhooks) were told it ended by time (once)."
    )

    objects = SuspensionQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                name="suspension_cause_valid", condition=Q(cause__in=["error_rate", "opt_out_rate"])
            ),
            models.CheckConstraint(name="suspension_kind_valid", condition=Q(kind__in=["temporary", "permanent"])),
            # A temporary suspension ends after it starts; only a permanent one has no end.
            models.CheckConstraint(
                name="suspension_ends_after_start",
                condition=Q(kind="temporary", ends_at__gt=models.F("started_at"))
                | Q(kind="permanent", ends_at__isnull=True),
            ),
        ]
        indexes = [models.Index(fields=["sub_account", "ends_at"], name="suspension_subaccount_end_idx")]

    def __str__(self):
        if self.ends_at is None:
            return f"Permanent suspension of {self.sub_account_id}"
        return f"Suspension of {self.sub_account_id} until {self.ends_at:%Y-%m-%d %H:%M} UTC"

    def save(self, *args, **kwargs):
        adding = self._state.adding
        super().save(*args, **kwargs)
        if adding:
            signals.suspension_started.send(sender=Suspension, suspension=self)

    @property
    def is_permanent(self) -> bool:
        return self.kind == self.Kind.PERMANENT

    def lift(self, *, user, note: str, now) -> None:
        self.lifted_at, self.lifted_by, self.lift_note = now, user, note[:300]
        self.save(update_fields=["lifted_at", "lifted_by", "lift_note"])
        signals.suspension_ended.send(sender=Suspension, suspension=self)


class ProvisioningLift(models.Model):
    """R12: support staff lifted a sub-account's restriction on new phone numbers (repeated
    violations: PROVISIONING_RESTRICT_AFTER suspensions within the window). Append-only: who,
    when, why. Suspensions started before the latest lift no longer count toward the restriction;
    it comes back only with enough new ones."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="provisioning_lifts")
    lifted_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    lifted_at = models.DateTimeField()
    reason = models.TextField()

    class Meta:
        ordering = ["-lifted_at"]
        constraints = [models.CheckConstraint(name="provisioning_lift_reason_given", condition=~Q(reason=""))]
        indexes = [models.Index(fields=["sub_account", "lifted_at"], name="provlift_subaccount_at_idx")]

    def __str__(self):
        return f"Number restriction of {self.sub_account_id} lifted at {self.lifted_at:%Y-%m-%d %H:%M} UTC"


class Appeal(models.Model):
    """R9: the sub-account's case for lifting a permanent suspension, with its proof of opt-in,
    reviewed by support staff. At most MAX_APPEALS_PER_SUSPENSION per suspension. Support may ask
    for more information (and proof of opt-in for specific numbers), then approves (the
    suspension is lifted) or rejects (with a reason the sub-account sees)."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", "Awaiting support"
        INFO_REQUESTED = "info_requested", "More information requested"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="appeals")
    suspension = models.ForeignKey(Suspension, on_delete=models.CASCADE, related_name="appeals")
    opt_in_screenshot = models.FileField(upload_to="appeals/%Y/%m/", help_text="The initial opt-in text message.")
    collection_url = models.URLField(max_length=500, help_text="The page where phone numbers are collected.")
    checkbox_screenshot = models.FileField(upload_to="appeals/%Y/%m/", help_text="The consent checkbox.")
    consent_description = models.TextField(help_text="How consent is obtained.")
    activity_stopped = models.BooleanField(help_text="Confirmed: the activity causing errors/opt-outs has stopped.")
    use_case = models.TextField(blank=True, help_text="The business use case (optional).")
    status = models.CharField(max_length=15, choices=Status.choices, default=Status.SUBMITTED)
    info_request = models.TextField(blank=True, help_text="What support asked for.")
    numbers_requested = models.JSONField(default=list, help_text="Numbers support wants proof of opt-in for.")
    response = models.TextField(blank=True, help_text="The sub-account's answer to the request.")
    decision_note = models.TextField(blank=True, help_text="Support's reason, shown to the sub-account.")
    submitted_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    info_requested_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="appeal_status_valid",
                condition=Q(status__in=["submitted", "info_requested", "approved", "rejected"]),
            ),
            models.CheckConstraint(name="appeal_activity_stopped", condition=Q(activity_stopped=True)),
            models.CheckConstraint(
                name="appeal_rejection_has_reason", condition=~Q(status="rejected") | ~Q(decision_note="")
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="appeal_queue_idx")]

    def __str__(self):
        return f"Appeal of {self.sub_account} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in (self.Status.SUBMITTED, self.Status.INFO_REQUESTED)

    def request_info(self, *, message: str, numbers: list[str], now) -> None:
        """Support asks for more information, and proof of opt-in for `numbers` (may be empty)."""
        if self.status != self.Status.SUBMITTED:
            raise ComplianceError("Only an appeal awaiting support can be asked for more information.")
        self.status, self.info_request, self.numbers_requested = self.Status.INFO_REQUESTED, message, numbers
        self.info_requested_at = now
        self.save(update_fields=["status", "info_request", "numbers_requested", "info_requested_at"])

    def respond(self, *, response: str, now) -> None:
        """The sub-account answers; the appeal goes back to support."""
        if self.status != self.Status.INFO_REQUESTED:
            raise ComplianceError("Support has not asked for more information on this appeal.")
        self.status, self.response, self.responded_at = self.Status.SUBMITTED, response, now
        self.save(update_fields=["status", "response", "responded_at"])

    def decide(self, *, approve: bool, note: str, user, now) -> None:
        if self.status != self.Status.SUBMITTED:
            raise ComplianceError("Only an appeal awaiting support can be decided.")
        self.status = self.Status.APPROVED if approve else self.Status.REJECTED
        self.decision_note, self.decided_by, self.decided_at = note, user, now
        self.save(update_fields=["status", "decision_note", "decided_by", "decided_at"])


class RegistrationQuerySet(models.QuerySet):
    def awaiting_review(self):
        return self.filter(status=Registration.Status.SUBMITTED)


class Registration(models.Model):
    """A sub-account's carrier registration: A2P 10DLC (a brand and its campaign) for US long codes,
    or toll-free verification for US toll-free numbers. US carriers block unregistered 10DLC
    traffic; `compliance.registration` decides which sends that refuses. Its status moves
    draft → submitted → approved | rejected (with the reason); a rejected one can be edited and
    submitted again. Every change of status is a RegistrationEvent (append-only)."""

    class Kind(models.TextChoices):
        TEN_DLC = "10dlc", "A2P 10DLC (US local numbers)"
        TOLL_FREE = "toll_free", "Toll-free verification"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted, in review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class UseCase(models.TextChoices):
        MARKETING = "MARKETING", "Marketing"
        MIXED = "MIXED", "Mixed (marketing and customer care)"
        CUSTOMER_CARE = "CUSTOMER_CARE", "Customer care"
        ACCOUNT_NOTIFICATION = "ACCOUNT_NOTIFICATION", "Account notifications"
        DELIVERY_NOTIFICATION = "DELIVERY_NOTIFICATION", "Delivery notifications"
        LOW_VOLUME = "LOW_VOLUME", "Low-volume mixed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="registrations")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEN_DLC)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    # The brand: who sends.
    legal_name = models.CharField("Legal business name", max_length=200)
    tax_id = models.CharField("EIN / tax number", max_length=40, blank=True)
    website = models.URLField("Business website", max_length=300)
    contact_email = models.EmailField("Notification email")
    # The campaign: what is sent, to whom, and how they agreed (the facts an appeal asks for too).
    use_case = models.CharField(max_length=30, choices=UseCase.choices, default=UseCase.MARKETING)
    description = models.TextField("What the messages are for", max_length=4096)
    opt_in_description = models.TextField("How contacts opt in", max_length=2048)
    sample_1 = models.CharField("Sample message 1", max_length=1024)
    sample_2 = models.CharField("Sample message 2", max_length=1024)
    monthly_volume = models.CharField(max_length=20, default="1,000")
    # Twilio Trust Hub bundles (10DLC), from the Twilio console; the simulator needs none.
    customer_profile_sid = models.CharField("Trust Hub customer profile SID", max_length=40, blank=True)
    a2p_profile_sid = models.CharField("Trust Hub A2P profile SID", max_length=40, blank=True)
    # What the provider gave back.
    brand_sid = models.CharField(max_length=64, blank=True)
    campaign_sid = models.CharField(max_length=64, blank=True)
    provider_status = models.CharField(max_length=40, blank=True, help_text="The provider's own word for it.")
    rejection_reason = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        ordering = ["kind"]
        constraints = [
            models.UniqueConstraint(fields=["sub_account", "kind"], name="registration_one_per_kind"),
            models.CheckConstraint(name="registration_kind_valid", condition=Q(kind__in=["10dlc", "toll_free"])),
            models.CheckConstraint(
                name="registration_status_valid",
                condition=Q(status__in=["draft", "submitted", "approved", "rejected"]),
            ),
        ]
        indexes = [models.Index(fields=["status"], name="registration_status_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.sub_account}: {self.status}"

    @property
    def editable(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.REJECTED)

    def _move(self, status: str, *, now, user=None, note: str = "", fields=()) -> None:
        self.status = status
        self.save(update_fields=["status", "updated_at", *fields])
        RegistrationEvent.objects.create(
            registration=self, sub_account_id=self.sub_account_id, status=status, note=note, user=user, created_at=now
        )

    def mark_submitted(self, *, brand_sid: str, campaign_sid: str, provider_status: str, now, user=None) -> None:
        self.brand_sid, self.campaign_sid, self.provider_status = brand_sid, campaign_sid, provider_status
        self.submitted_at, self.decided_at, self.rejection_reason = now, None, ""
        fields = ("brand_sid", "campaign_sid", "provider_status", "submitted_at", "decided_at", "rejection_reason")
        self._move(self.Status.SUBMITTED, now=now, user=user, fields=fields)

    def mark_approved(self, *, provider_status: str, now) -> None:
        self.provider_status, self.decided_at = provider_status, now
        self._move(self.Status.APPROVED, now=now, fields=("provider_status", "decided_at"))

    def mark_rejected(self, *, provider_status: str, reason: str, now) -> None:
        self.provider_status, self.decided_at, self.rejection_reason = provider_status, now, reason
        self._move(
            self.Status.REJECTED, now=now, note=reason, fields=("provider_status", "decided_at", "rejection_reason")
        )


class RegistrationEvent(models.Model):
    """One change of a registration's status, who made it and why (append-only, for the audit)."""

    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="events")
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Registration.Status.choices)
    note = models.TextField(blank=True)
    user = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["sub_account", "created_at"], name="regevent_subaccount_time_idx")]

    def __str__(self):
        return f"{self.registration_id} → {self.status}"


class AppealStep(models.Model):
    """R9: every step of an appeal as it happened — submitted, more information requested (with
    the numbers), answered, approved or rejected — with who and what was written. Append-only,
    written by `compliance.appeals` in the transaction that changes the Appeal: the Appeal keeps
    only the latest request and answer, these rows keep them all (the compliance audit export)."""

    class Kind(models.TextChoices):
        SUBMITTED = "submitted", "Appeal submitted"
        INFO_REQUESTED = "info_requested", "More information requested"
        ANSWERED = "answered", "Information sent"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="steps")
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=15, choices=Kind.choices)
    text = models.TextField(blank=True, help_text="The request, the answer, or the decision's reason.")
    numbers = models.JSONField(default=list, blank=True, help_text="Numbers support asked proof of opt-in for.")
    user = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField()

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                name="appealstep_kind_valid",
                condition=Q(kind__in=["submitted", "info_requested", "answered", "approved", "rejected"]),
            ),
        ]
        indexes = [models.Index(fields=["sub_account", "at"], name="appealstep_subaccount_at_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.appeal_id}"
