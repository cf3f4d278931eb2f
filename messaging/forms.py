"""Forms of the contacts pages: the list filters, a contact, its opt-in proof (R10) and the
CSV upload."""

import zoneinfo
from functools import cache

from django import forms
from django.utils import timezone

from messaging.models import NAME_TOO_LONG, Consent, Contact, Dnd
from messaging.phone import InvalidPhoneNumber, to_e164

IMPORT_MAX_BYTES = 5 * 1024 * 1024
TAG_MAX_LENGTH = 50  # Tag.name
# Per contact and request: each tag costs queries, and 10,000 in one API call once took ~10k.
MAX_TAGS = 50
DUPLICATE_NUMBER = "A contact with this number already exists."


@cache
def time_zone_choices():
    return [("", "From the phone number")] + [(z, z) for z in sorted(zoneinfo.available_timezones())]


# One rule for tags wherever they are typed or imported (the contact form, the CSV import, the
# list's bulk action): the form once split on commas and the import on ; and |, so a cell
# "vip,lead" silently became one tag.
TAG_SEPARATORS = ",;|"
TAG_RULE = "Separate tags with commas, semicolons or vertical bars, e.g. “vip, spring promo”."


class InvalidTags(ValueError):
    """Text that is not a list of tags: the message says why, in words for the user."""


def split_tags(text: str) -> list[str]:
    """The distinct tags of `text` (sorted), split on any of TAG_SEPARATORS. Raises InvalidTags
    for a tag with a line break or another control character (a pasted cell, never a tag),
    one longer than TAG_MAX_LENGTH, or more than MAX_TAGS of them."""
    for sep in TAG_SEPARATORS[1:]:
        text = text.replace(sep, TAG_SEPARATORS[0])
    names = sorted({name.strip() for name in text.split(TAG_SEPARATORS[0]) if name.strip()})
    for name in names:
        if any(not ch.isprintable() for ch in name):
            raise InvalidTags(f"Tags could not be read: “{name[:30]}” has a line break or a control character.")
        if len(name) > TAG_MAX_LENGTH:
            raise InvalidTags(f"Tags have at most {TAG_MAX_LENGTH} characters: “{name[:30]}…” is longer.")
    if len(names) > MAX_TAGS:
        raise InvalidTags(f"A contact has at most {MAX_TAGS} tags; {len(names)} were given.")
    return names


class ContactFilterForm(forms.Form):
    """The list's search box and filters. Invalid values are ignored, never an error page."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, email or number"}),
    )
    tag = forms.ChoiceField(required=False)
    dnd = forms.ChoiceField(label="DND", required=False, choices=[("", "Any DND state"), *Dnd.choices])
    consent = forms.ChoiceField(required=False, choices=[("", "Any consent"), *Consent.choices])

    def __init__(self, *args, tag_names=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tag"].choices = [("", "Any tag")] + [(n, n) for n in tag_names]

    def apply(self, contacts):
        """The contacts matching the valid filters; each one uses an indexed column or the
        named QuerySet method."""
        return contacts.matching(**self.values())

    def values(self) -> dict:
        """The valid filters, "" for the others (what a segment saves)."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in ("q", "tag", "dnd", "consent")}


class ContactForm(forms.ModelForm):
    """A contact of one sub-account. The number is parsed by `phonenumbers` (any format in,
    E.164 stored); tags are comma-separated."""

    phone = forms.CharField(label="Phone number", max_length=40, widget=forms.TextInput(attrs={"type": "tel"}))
    time_zone = forms.ChoiceField(
        required=False, choices=time_zone_choices, help_text="Empty: taken from the number (for sending hours)."
    )
    tags = forms.CharField(required=False, max_length=1000, help_text=TAG_RULE)

    class Meta:
        model = Contact
        fields = ["phone", "first_name", "last_name", "email", "address", "time_zone", "appointment_at", "follow_up_at"]
        widgets = {
            "appointment_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "follow_up_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        }
        error_messages = {"first_name": NAME_TOO_LONG, "last_name": NAME_TOO_LONG}
        help_texts = {
            "appointment_at": "In the sub-account's time zone. A workflow can be triggered by it.",
            "follow_up_at": "In the sub-account's time zone. A workflow can be triggered by it.",
        }

    DATE_FIELDS = ("appointment_at", "follow_up_at")

    def __init__(self, *args, sub_account, **kwargs):
        super().__init__(*args, **kwargs)
        self.sub_account = sub_account
        # Dates are typed and shown in the sub-account's zone, whatever zone the request runs in.
        self.zone = zoneinfo.ZoneInfo(sub_account.time_zone)
        for name in self.DATE_FIELDS:
            value = getattr(self.instance, name)
            if value is not None:
                self.initial[name] = value.astimezone(self.zone).replace(tzinfo=None)
        self.instance.sub_account = sub_account
        if self.instance.pk:
            self.initial.setdefault("tags", ", ".join(t.name for t in self.instance.tags.all()))
        if self.instance.pk and (self.instance.dnd != Dnd.NONE or self.instance.consent != Consent.NONE):
            # DND and consent belong to the number: moving them to another number would free
            # this one for a new contact without its DND (R2) or lend it a consent (R10).
            self.fields["phone"].disabled = True
            self.fields[
                "phone"
            ].help_text = (
                "Locked: DND or consent is on record for this number. For another number, create a new contact."
            )

    def clean_phone(self):
        try:
            phone = to_e164(self.cleaned_data["phone"])
        except InvalidPhoneNumber as exc:
            raise forms.ValidationError(str(exc)) from None
        # The unique constraint includes sub_account, which is not a form field, so Django's
        # own unique check skips it: check here for a message next to the field.
        if self.sub_account.contacts.filter(phone=phone).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(DUPLICATE_NUMBER)
        return phone

    def _in_zone(self, name):
        value = self.cleaned_data.get(name)
        if value is None:
            return None
        typed = timezone.localtime(value).replace(tzinfo=None)  # what was typed, before Django gave it a zone
        return timezone.make_aware(typed, self.zone)

    def clean_appointment_at(self):
        return self._in_zone("appointment_at")

    def clean_follow_up_at(self):
        return self._in_zone("follow_up_at")

    def clean_tags(self):
        try:
            return split_tags(self.cleaned_data["tags"])
        except InvalidTags as exc:
            raise forms.ValidationError(str(exc)) from None

    def save(self, commit=True):
        """Writes only this form's columns: DND, consent and the conversation summary may
        have changed since the page was loaded (an inbound STOP, R3) and must not be undone."""
        contact = super().save(commit=False)
        if commit:
            contact.save(update_fields=None if contact._state.adding else self._meta.fields)
        return contact


class ConsentForm(forms.Form):
    """Optional proof of opt-in given with a new contact (R10). Left empty, nothing is
    recorded; once any field is filled, source and time are required. A time without a zone
    is in the sub-account's time zone."""

    source = forms.CharField(
        label="Consent source", max_length=100, required=False,
        help_text="Where consent was given: web form, paper form, event…",
    )  # fmt: skip
    at = forms.DateTimeField(
        label="Consented at", required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip
    ip_or_method = forms.CharField(label="IP address or method", max_length=200, required=False)
    url = forms.URLField(label="URL of the form", max_length=500, required=False, assume_scheme="https")
    consent_text = forms.CharField(label="Consent text shown", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, time_zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zoneinfo.ZoneInfo(time_zone)
        self.fields["at"].help_text = f"In the sub-account's time zone ({time_zone})."

    def full_clean(self):
        with timezone.override(self.zone):  # naive input → the sub-account's zone
            super().full_clean()

    def clean(self):
        data = super().clean()
        if not any(data.get(name) for name in self.fields):
            return data
        for name in ("source", "at"):
            if not data.get(name) and name not in self.errors:
                self.add_error(name, "Required to record consent.")
        if data.get("at") and data["at"] > timezone.now():
            self.add_error("at", "Consent cannot be dated in the future.")
        return data

    @property
    def given(self) -> bool:
        return bool(self.cleaned_data.get("source"))


# The contact import runs as a job reading the stored file as a stream, so a file of 500,000
# rows is fine; the limit only keeps a mistaken upload (a video) off the disk.
CONTACT_IMPORT_MAX_BYTES = 200 * 1024 * 1024


class ContactImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8, at most 200 MB (about a million rows).")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > CONTACT_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.0f} MB; the limit is 200 MB. Split it into smaller files."
            )
        return upload
