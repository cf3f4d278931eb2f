"""The compliance app's forms: what each page accepts, checked before any rule or record."""

from django import forms
from django.core.validators import FileExtensionValidator
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import SubAccount
from compliance.policy import get_policy
from compliance.rules import HELP, OPT_IN, OPT_OUT, keyword_reply_problem, opt_out_text_problem
from compliance.uploads import image_or_pdf

SCREENSHOT_MAX_BYTES = 5 * 1024 * 1024


def at_most_5_mb(upload):
    if upload.size > SCREENSHOT_MAX_BYTES:
        raise forms.ValidationError("The screenshot is larger than 5 MB.")


# Consent and appeal screenshots: an image or a PDF of at most 5 MB.
SCREENSHOT = [FileExtensionValidator(["png", "jpg", "jpeg", "gif", "webp", "pdf"]), at_most_5_mb, image_or_pdf]


class BusinessInfoForm(forms.ModelForm):
    """Settings → Business Info → General (R5, R6)."""

    class Meta:
        model = SubAccount
        fields = ["business_name", "opt_out_text", "sender_text"]
        labels = {"opt_out_text": "Custom opt-out text", "sender_text": "Custom sender identification"}
        help_texts = {
            "opt_out_text": "Appended to initial bulk messages. Empty: “Reply STOP to unsubscribe”. "
            "It must contain a standard opt-out keyword (STOP, END, CANCEL, …).",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The default names the business itself: "<Business name>" was read as an HTML tag and
        # the hint showed `Empty: “Thanks, ”` (help texts are rendered unescaped).
        name = self.instance.business_name or "your business name"
        self.fields["sender_text"].help_text = format_html(
            "Appended to initial bulk messages. Empty: “Thanks, {}”.", name
        )

    def clean_opt_out_text(self):
        text = self.cleaned_data["opt_out_text"].strip()
        problem = opt_out_text_problem(text, get_policy())
        if problem:
            raise forms.ValidationError(problem)
        return text

    def clean_sender_text(self):
        return self.cleaned_data["sender_text"].strip()


class KeywordRepliesForm(forms.ModelForm):
    """Settings → Business Info → Keyword replies (R3/R4/HELP): the sub-account's own texts —
    English, and the same three for each other language the policy knows (`es_help_reply`, …,
    kept in `other_language_replies`) — each checked against the business name being saved with
    them (the same page's General fields). Empty: the policy's text in that language."""

    KINDS = {"help_reply": HELP, "opt_out_confirmation": OPT_OUT, "opt_in_confirmation": OPT_IN}
    RECORDED_FIELDS = ["help_reply", "opt_out_confirmation", "opt_in_confirmation", "other_language_replies"]

    class Meta:
        model = SubAccount
        fields = ["help_reply", "opt_out_confirmation", "opt_in_confirmation"]
        labels = {
            "help_reply": "HELP reply",
            "opt_out_confirmation": "Opt-out confirmation",
            "opt_in_confirmation": "Opt-in confirmation",
        }
        help_texts = {
            "help_reply": "Sent to a contact who texts HELP or INFO. It must name the business, give a "
            "support phone number or email, say how to opt out and include “Msg&data rates may apply”.",
            "opt_out_confirmation": "Sent once to a contact who opts out (STOP, “remove me”, …). "
            "It must name the business.",
            "opt_in_confirmation": "Sent to a contact who opts back in (START, YES, UNSTOP). "
            "It must name the business and say how to opt out.",
        }
        widgets = {f: forms.Textarea(attrs={"rows": 3}) for f in fields}

    def __init__(self, *args, business_name: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.business_name = business_name
        policy = get_policy()
        saved = self.instance.other_language_replies or {}
        self.languages = {}  # field name → language code, for the other languages' fields
        for code in (c for c in policy.KEYWORD_LANGUAGES if c != "en"):
            for name, kind in self.KINDS.items():
                field_name = f"{code}_{name}"
                self.fields[field_name] = forms.CharField(
                    label=f"{self.Meta.labels[name]} ({policy.LANGUAGE_NAMES.get(code, code)})",
                    required=False,
                    max_length=320,
                    initial=saved.get(code, {}).get(kind, ""),
                    widget=forms.Textarea(attrs={"rows": 3, "lang": code}),
                )
                self.languages[field_name] = code
        for name in self.fields:
            self.fields[name].widget.attrs["placeholder"] = "Empty: the default shown below"

    def english_fields(self):
        return [self[name] for name in self.Meta.fields]

    def language_fields(self, code):
        return [self[f"{code}_{name}"] for name in self.Meta.fields]

    def clean(self):
        cleaned = super().clean()
        policy = get_policy()
        for name in list(self.Meta.fields) + list(self.languages):
            if name not in cleaned:
                continue  # already refused by its field (too long)
            text = cleaned[name].strip()
            language = self.languages.get(name, "en")
            kind = self.KINDS[name.removeprefix(f"{language}_")]
            problem = keyword_reply_problem(kind, text, business_name=self.business_name, policy=policy,
                                            language=language)  # fmt: skip
            if problem:
                self.add_error(name, problem)
            else:
                cleaned[name] = text
        return cleaned

    def save(self, commit=True):
        replies = {}
        for name, code in self.languages.items():
            text = self.cleaned_data.get(name, "")
            if text:
                replies.setdefault(code, {})[self.KINDS[name.removeprefix(f"{code}_")]] = text
        self.instance.other_language_replies = replies
        return super().save(commit=commit)


# --- R10 consent -----------------------------------------------------------------------------


class OptInForm(forms.Form):
    source = forms.CharField(max_length=100, help_text="Where consent was given: web form, paper form, event…")
    at = forms.DateTimeField(label="Consented at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ip_or_method = forms.CharField(label="IP address or method", max_length=200, required=False)
    url = forms.URLField(label="URL of the form", max_length=500, required=False, assume_scheme="https")
    consent_text = forms.CharField(label="Consent text shown", widget=forms.Textarea(attrs={"rows": 2}), required=False)
    screenshot = forms.FileField(
        label="Screenshot of the form",
        required=False,
        validators=SCREENSHOT,
    )

    def clean_at(self):
        at = self.cleaned_data["at"]
        if at > timezone.now():
            raise forms.ValidationError("Consent cannot be dated in the future.")
        return at


# --- R7 limit extensions ---------------------------------------------------------------------


class LimitRequestForm(forms.Form):
    requested_limit = forms.IntegerField(label="Daily limit you need", min_value=5001, max_value=1_000_000)
    reason = forms.CharField(
        label="Why", widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
        help_text="Your use case, audience and how consent is collected.",
    )  # fmt: skip


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    granted_limit = forms.IntegerField(min_value=5001, max_value=1_000_000, required=False)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000)

    def clean(self):
        data = super().clean()
        if data.get("decision") == "approve" and not data.get("granted_limit"):
            self.add_error("granted_limit", "Give the new daily limit to approve.")
        if data.get("decision") == "reject" and not data.get("note"):
            self.add_error("note", "Say why, for the sub-account to read.")
        return data


# --- R11 snowshoeing holds -------------------------------------------------------------------


class JustificationForm(forms.Form):
    justification = forms.CharField(max_length=4000)


class SnowshoeDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=250)

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not data.get("note"):
            self.add_error("note", "Say why, for the sub-account to read.")
        return data


# --- R9 appeals ------------------------------------------------------------------------------


class AppealForm(forms.Form):
    opt_in_screenshot = forms.FileField(label="Screenshot of the initial opt-in text", validators=SCREENSHOT)
    collection_url = forms.URLField(label="URL of the page where numbers are collected", max_length=500,
                                    assume_scheme="https")  # fmt: skip
    checkbox_screenshot = forms.FileField(label="Screenshot of the consent checkbox", validators=SCREENSHOT)
    consent_description = forms.CharField(label="How consent is obtained", widget=forms.Textarea(attrs={"rows": 4}),
                                          max_length=5000)  # fmt: skip
    activity_stopped = forms.BooleanField(
        label="I confirm the activity that caused the errors or opt-outs has stopped", required=True
    )
    use_case = forms.CharField(label="Business use case (optional)", widget=forms.Textarea(attrs={"rows": 3}),
                               required=False, max_length=5000)  # fmt: skip


class AppealResponseForm(forms.Form):
    response = forms.CharField(label="Your answer", widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)


class AppealDecisionForm(forms.Form):
    action = forms.ChoiceField(choices=[("info", "Ask for more information"), ("approve", "Approve"),
                                        ("reject", "Reject")])  # fmt: skip
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)
    numbers = forms.CharField(
        label="Numbers to prove opt-in for", widget=forms.Textarea(attrs={"rows": 2}), required=False,
        help_text="One per line, when asking for more information.",
    )  # fmt: skip


class ExportRangeForm(forms.Form):
    """The days of an export (messages, compliance audit), in the sub-account's time zone; both
    days included. Read from the query string (`?start=2026-11-01&end=2026-11-30`)."""

    start = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To (included)", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise forms.ValidationError("The last day is before the first day.")
        return data

    def error_text(self) -> str:
        """The errors as one sentence (for a download link, which has no form to show them)."""
        return " ".join(f"{'' if name == '__all__' else name + ': '}{e}" for name, errs in self.errors.items()
                        for e in errs)  # fmt: skip
