"""Forms of the automation pages: a workflow's settings and trigger, a step, and the missed-call
text back. Bad input is a message next to the field; nothing is saved half-way."""

from django import forms

from messaging import sms
from messaging.automations import steps as step_rules
from messaging.automations.models import DATE_FIELDS, Enrollment, Workflow, WorkflowStep
from messaging.automations.triggers import keyword_problem
from messaging.automations.workflows import body_problem
from messaging.forms import TAG_MAX_LENGTH
from messaging.models import Tag

UNIT_CHOICES = [("minutes", "minutes"), ("hours", "hours"), ("days", "days")]
T = Workflow.Trigger


def _tag(sub_account, name: str) -> Tag:
    return Tag.objects.get_or_create(sub_account=sub_account, name=name.strip()[:TAG_MAX_LENGTH])[0]


class Form(forms.Form):
    """Labels as the other pages write them: no colon."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class WorkflowForm(forms.ModelForm):
    """Name, trigger and what the trigger needs (a tag, a keyword, a date and offset), re-entry."""

    tag_name = forms.CharField(
        label="Tag", required=False, max_length=TAG_MAX_LENGTH, help_text="Tag added: a new tag is created."
    )
    offset_amount = forms.IntegerField(label="Offset", min_value=0, max_value=10_000, required=False, initial=0)
    offset_unit = forms.ChoiceField(label="Unit", choices=UNIT_CHOICES, initial="hours", required=False)
    offset_direction = forms.ChoiceField(
        label="Before or after", choices=[("before", "before the date"), ("after", "after the date")], initial="before",
        required=False,
    )  # fmt: skip

    class Meta:
        model = Workflow
        fields = ["name", "trigger", "trigger_keyword", "trigger_date_field", "allow_reentry"]
        labels = {"trigger_keyword": "Keyword", "trigger_date_field": "Date on the contact"}
        help_texts = {
            "trigger_keyword": "Inbound text matches a keyword: the whole text, any case (“Book”, “book!”). "
            "Opt-out, opt-in and HELP keywords cannot be used.",
        }

    def __init__(self, *args, sub_account, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.sub_account = sub_account
        self.fields["trigger_date_field"].choices = [("", "—"), *DATE_FIELDS.items()]
        workflow = self.instance
        if workflow.pk:
            self.initial.setdefault("tag_name", workflow.trigger_tag.name if workflow.trigger_tag_id else "")
            minutes = abs(workflow.trigger_offset_minutes)
            unit = next(u for u, size in (("days", 1440), ("hours", 60), ("minutes", 1)) if minutes % size == 0)
            self.initial.setdefault("offset_amount", minutes // step_rules.UNITS[unit])
            self.initial.setdefault("offset_unit", unit)
            self.initial.setdefault("offset_direction", "before" if workflow.trigger_offset_minutes < 0 else "after")

    def clean(self):
        data = super().clean()
        trigger = data.get("trigger")
        if trigger == T.TAG_ADDED and not (data.get("tag_name") or "").strip():
            self.add_error("tag_name", "Choose the tag that triggers this workflow.")
        if trigger == T.KEYWORD:
            problem = keyword_problem(data.get("trigger_keyword") or "")
            if problem:
                self.add_error("trigger_keyword", problem)
        if trigger == T.DATE and not data.get("trigger_date_field"):
            self.add_error("trigger_date_field", "Choose the contact's date.")
        return data

    def save(self, commit=True):
        workflow = super().save(commit=False)
        data = self.cleaned_data
        workflow.sub_account = self.sub_account
        workflow.trigger_tag = _tag(self.sub_account, data["tag_name"]) if workflow.trigger == T.TAG_ADDED else None
        if workflow.trigger != T.KEYWORD:
            workflow.trigger_keyword = ""
        if workflow.trigger == T.DATE:
            minutes = (data.get("offset_amount") or 0) * step_rules.UNITS[data.get("offset_unit") or "hours"]
            workflow.trigger_offset_minutes = -minutes if data.get("offset_direction") == "before" else minutes
        else:
            workflow.trigger_date_field, workflow.trigger_offset_minutes = "", 0
        if commit:
            workflow.save()
        return workflow


class StepForm(Form):
    """One step; which fields matter depends on `kind`."""

    kind = forms.ChoiceField(choices=WorkflowStep.Kind.choices, widget=forms.HiddenInput)
    body = forms.CharField(
        label="Message", validators=[sms.validate_length], required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    wait_amount = forms.IntegerField(label="Wait for", min_value=1, max_value=100_000, required=False)
    wait_unit = forms.ChoiceField(label="Unit", choices=UNIT_CHOICES, initial="minutes", required=False)
    wait_until = forms.TimeField(
        label="…or until", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="A time of day in the contact's time zone (else the number's, else the sub-account's).",
    )  # fmt: skip
    tag_name = forms.CharField(label="Tag", max_length=TAG_MAX_LENGTH, required=False)

    def __init__(self, *args, sub_account, step: WorkflowStep | None = None, **kwargs):
        if step is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(step)
        super().__init__(*args, **kwargs)
        self.sub_account = sub_account

    @staticmethod
    def initial_for(step: WorkflowStep) -> dict:
        initial = {"kind": step.kind, "body": step.body, "wait_until": step.wait_until,
                   "tag_name": step.tag.name if step.tag_id else ""}  # fmt: skip
        if step.wait_minutes:
            unit = next(
                u for u, size in (("days", 1440), ("hours", 60), ("minutes", 1)) if step.wait_minutes % size == 0
            )
            initial |= {"wait_amount": step.wait_minutes // step_rules.UNITS[unit], "wait_unit": unit}
        return initial

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == WorkflowStep.Kind.SEND_SMS:
            problem = body_problem(data.get("body") or "")
            if problem:
                self.add_error("body", problem)
        elif kind == WorkflowStep.Kind.WAIT:
            if bool(data.get("wait_amount")) == bool(data.get("wait_until")):
                self.add_error("wait_amount", "Give either how long to wait or until what time of day.")
        elif (
            kind in (WorkflowStep.Kind.ADD_TAG, WorkflowStep.Kind.REMOVE_TAG)
            and not (data.get("tag_name") or "").strip()
        ):
            self.add_error("tag_name", "Choose the tag.")
        return data

    def step_fields(self) -> dict:
        """The WorkflowStep fields for `workflows.step_add` / `step_update`."""
        data, kind = self.cleaned_data, self.cleaned_data["kind"]
        fields = {"kind": kind, "body": "", "wait_minutes": None, "wait_until": None, "tag": None}
        if kind == WorkflowStep.Kind.SEND_SMS:
            fields["body"] = data["body"].strip()
        elif kind == WorkflowStep.Kind.WAIT and data.get("wait_amount"):
            fields["wait_minutes"] = data["wait_amount"] * step_rules.UNITS[data.get("wait_unit") or "minutes"]
        elif kind == WorkflowStep.Kind.WAIT:
            fields["wait_until"] = data["wait_until"]
        elif kind in (WorkflowStep.Kind.ADD_TAG, WorkflowStep.Kind.REMOVE_TAG):
            fields["tag"] = _tag(self.sub_account, data["tag_name"])
        return fields


class MissedCallForm(Form):
    """The built-in missed-call text back (a SubAccount setting)."""

    enabled = forms.BooleanField(label="Text back callers we miss", required=False)
    body = forms.CharField(label="Reply text", max_length=320, widget=forms.Textarea(attrs={"rows": 3}))

    def clean_body(self):
        problem = body_problem(self.cleaned_data["body"])
        if problem:
            raise forms.ValidationError(problem)
        return self.cleaned_data["body"].strip()


class EnrollmentFilterForm(Form):
    """The workflow page's enrollment filters. Invalid values are ignored, never an error page."""

    status = forms.ChoiceField(required=False, choices=[("", "Any status"), *Enrollment.Status.choices])
    q = forms.CharField(
        label="Contact", required=False, max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or number"}),
    )  # fmt: skip

    def apply(self, enrollments, contacts):
        """`contacts`: the sub-account's contacts, searched by name or number."""
        self.is_valid()
        data = self.cleaned_data
        if data.get("status"):
            enrollments = enrollments.filter(status=data["status"])
        if (data.get("q") or "").strip():
            enrollments = enrollments.filter(contact__in=contacts.search(data["q"]).values("pk"))
        return enrollments
