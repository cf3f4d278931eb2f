"""Workflows, their steps, enrollments with their append-only step log, and the sub-account's
"pause all sending" record."""

import uuid

from django.db import models
from django.db.models import Q

from accounts.models import SubAccount

# The contact's custom date fields a workflow can be triggered by (messaging.Contact columns).
DATE_FIELDS = {"appointment_at": "Appointment", "follow_up_at": "Follow-up date"}


class WorkflowQuerySet(models.QuerySet):
    def enrolling(self):
        """Workflows a trigger enrolls into: active ones, and paused ones (their contacts wait
        for the resume, so nobody who triggered meanwhile is missed)."""
        return self.filter(status__in=[Workflow.Status.ACTIVE, Workflow.Status.PAUSED])


class Workflow(models.Model):
    """A sub-account's automation: one trigger, ordered steps, a status. Enrolled contacts are
    stepped only while it is active; paused, they wait where they are; stopped, they are out."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        STOPPED = "stopped", "Stopped"

    class Trigger(models.TextChoices):
        CONTACT_CREATED = "contact_created", "Contact created"
        TAG_ADDED = "tag_added", "Tag added"
        KEYWORD = "keyword", "Inbound text matches a keyword"
        MISSED_CALL = "missed_call", "Missed call"
        DATE = "date", "A date on the contact"
        API = "api", "Enrolled through the API"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="workflows")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    trigger_tag = models.ForeignKey(
        "messaging.Tag", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Tag added: which tag.",
    )  # fmt: skip
    trigger_keyword = models.CharField(max_length=50, blank=True, help_text="Keyword: the whole inbound text.")
    trigger_date_field = models.CharField(max_length=20, blank=True, choices=list(DATE_FIELDS.items()))
    trigger_offset_minutes = models.IntegerField(
        default=0, help_text="Date: minutes after the date (negative: before it)."
    )
    allow_reentry = models.BooleanField(
        default=False, help_text="A contact who went through it once may be enrolled again (one at a time)."
    )
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # The last status change: who paused, resumed, activated or stopped it, and when.
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = WorkflowQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                name="workflow_status_valid", condition=Q(status__in=["draft", "active", "paused", "stopped"])
            ),
            models.CheckConstraint(
                name="workflow_trigger_valid",
                condition=Q(trigger__in=["contact_created", "tag_added", "keyword", "missed_call", "date", "api"]),
            ),
        ]
        indexes = [models.Index(fields=["sub_account", "trigger", "status"], name="workflow_trigger_idx")]

    def __str__(self):
        return self.name

    @property
    def is_editable(self) -> bool:
        """Steps change only while nothing is being stepped: draft, paused or stopped."""
        return self.status != self.Status.ACTIVE

    def set_status(self, status: str, *, allowed_from, user, now) -> bool:
        """A conditional status change (two clicks, or a click racing "pause all", change it
        once), recorded with who and when. Returns whether it changed."""
        changed = Workflow.objects.filter(pk=self.pk, status__in=list(allowed_from)).update(
            status=status, status_changed_at=now, status_changed_by=user
        )
        if changed:
            self.status, self.status_changed_at, self.status_changed_by = status, now, user
        return bool(changed)


class WorkflowStep(models.Model):
    """One step, at `position` (0, 1, …: renumbered on every change, under the workflow's lock)."""

    class Kind(models.TextChoices):
        SEND_SMS = "send_sms", "Send SMS"
        WAIT = "wait", "Wait"
        ADD_TAG = "add_tag", "Add tag"
        REMOVE_TAG = "remove_tag", "Remove tag"
        STOP_IF_REPLIED = "stop_if_replied", "Stop if the contact replied"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    body = models.TextField(blank=True, help_text="Send SMS: the text, with merge fields.")
    wait_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Wait: a duration.")
    wait_until = models.TimeField(null=True, blank=True, help_text="Wait: until this time of day, contact's zone.")
    tag = models.ForeignKey("messaging.Tag", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["workflow", "position"]
        constraints = [
            models.CheckConstraint(
                name="workflowstep_kind_valid",
                condition=Q(kind__in=["send_sms", "wait", "add_tag", "remove_tag", "stop_if_replied"]),
            ),
            models.CheckConstraint(
                name="workflowstep_wait_has_one_of_both",
                condition=~Q(kind="wait")
                | Q(wait_minutes__isnull=False, wait_until__isnull=True)
                | Q(wait_minutes__isnull=True, wait_until__isnull=False),
            ),
        ]
        indexes = [models.Index(fields=["workflow", "position"], name="workflowstep_position_idx")]

    def __str__(self):
        return f"{self.position + 1}. {self.get_kind_display()}"


class EnrollmentQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Enrollment.Status.ACTIVE)


class Enrollment(models.Model):
    """A contact going through a workflow: the next step to run (`position`) and when
    (`next_run_at`). A wait is only a row with a later `next_run_at`, so it survives any restart;
    the due-step job claims due rows with a conditional update (`claim_token`), like dispatch
    claims messages. A contact is in a workflow at most once at a time."""

    class Status(models.TextChoices):
        ACTIVE = "active", "In progress"
        COMPLETED = "completed", "Completed"
        EXITED = "exited", "Exited"

    class Exit(models.TextChoices):
        OPTED_OUT = "opted_out", "Opted out"
        REPLIED = "replied", "Replied"
        UNENROLLED = "unenrolled", "Unenrolled"
        STOPPED = "stopped", "Workflow stopped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+")
    workflow = models.ForeignKey(Workflow, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey("messaging.Contact", on_delete=models.CASCADE, related_name="enrollments")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    position = models.PositiveIntegerField(default=0, help_text="The next step to run.")
    next_run_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, help_text="Which step-job run claimed it.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=200, help_text="What enrolled the contact, in words.")
    trigger_key = models.CharField(
        max_length=100, blank=True, help_text="A date or call id enrolled once only (date and missed-call triggers)."
    )
    enrolled_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    exit_kind = models.CharField(max_length=12, blank=True, choices=Exit.choices)
    exit_reason = models.CharField(max_length=300, blank=True)

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        ordering = ["-enrolled_at"]
        constraints = [
            models.CheckConstraint(
                name="enrollment_status_valid", condition=Q(status__in=["active", "completed", "exited"])
            ),
            # At most once at a time, also when two triggers race (the second insert fails).
            models.UniqueConstraint(
                fields=["workflow", "contact"], name="enrollment_one_active_per_contact", condition=Q(status="active")
            ),
            models.UniqueConstraint(
                fields=["workflow", "contact", "trigger_key"], name="enrollment_unique_trigger_key",
                condition=~Q(trigger_key=""),
            ),
        ]  # fmt: skip
        indexes = [
            # The due-step job's claim: active rows by due time.
            models.Index(fields=["next_run_at"], name="enrollment_due_idx", condition=Q(status="active")),
            models.Index(fields=["workflow", "status"], name="enrollment_workflow_idx"),
            models.Index(fields=["contact", "status"], name="enrollment_contact_idx"),
        ]

    def __str__(self):
        return f"{self.contact_id} in {self.workflow_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class EnrollmentStep(models.Model):
    """Append-only: what ran for an enrollment, the message it produced, or why it was skipped,
    refused or ended there."""

    class Outcome(models.TextChoices):
        DONE = "done", "Done"
        QUEUED = "queued", "Message queued"
        REFUSED = "refused", "Message refused"
        WAITING = "waiting", "Waiting"
        SKIPPED = "skipped", "Skipped"
        EXITED = "exited", "Exited"

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="log")
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    step = models.ForeignKey(WorkflowStep, null=True, blank=True, on_delete=models.SET_NULL, related_name="log")
    kind = models.CharField(max_length=20, help_text="The step's kind when it ran (or `exit`).")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    message = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="workflow_log"
    )
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                name="enrollmentstep_outcome_valid",
                condition=Q(outcome__in=["done", "queued", "refused", "waiting", "skipped", "exited"]),
            ),
        ]
        indexes = [
            models.Index(fields=["enrollment", "created_at"], name="enrollmentstep_enrollment_idx"),
            # The dispatch-wave pause check and a workflow's message counts go from the message.
            models.Index(fields=["message"], name="enrollmentstep_message_idx", condition=Q(message__isnull=False)),
            models.Index(fields=["step", "outcome"], name="enrollmentstep_step_idx"),
        ]

    def __str__(self):
        return f"{self.position + 1}. {self.kind}: {self.outcome}"


class SendingPauseQuerySet(models.QuerySet):
    def in_force(self):
        return self.filter(resumed_at__isnull=True)


class SendingPause(models.Model):
    """ "Pause all sending" of a sub-account, recorded with who and when: it paused every active
    workflow, campaign and running bulk send, and while it is in force it also holds workflow
    and campaign messages that belong to none of them (sent through the API). Resume all ends
    it; items can also be resumed one by one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sub_account = models.ForeignKey(SubAccount, on_delete=models.CASCADE, related_name="sending_pauses")
    paused_at = models.DateTimeField()
    paused_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    items = models.PositiveIntegerField(default=0, help_text="Workflows, campaigns and bulk sends it paused.")
    resumed_at = models.DateTimeField(null=True, blank=True)
    resumed_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    objects = SendingPauseQuerySet.as_manager()

    class Meta:
        ordering = ["-paused_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sub_account"], name="sendingpause_one_in_force", condition=Q(resumed_at__isnull=True)
            ),
        ]

    def __str__(self):
        return f"Paused {self.paused_at:%Y-%m-%d %H:%M}"
