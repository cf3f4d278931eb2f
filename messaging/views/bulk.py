"""Bulk SMS: compose (live segment count and the exact composed texts, via htmx), preview the
counts the user must confirm (R2, R7, R10, R11), confirm (now or scheduled), test SMS, and a
progress page that polls itself until the send is done, then shows the report.

Nothing is sent by the preview: it renders a confirmation page carrying the form data in a
signed token; only the confirm POST starts the send, on the state as it is then."""

import uuid
import zoneinfo

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from accounts import access
from compliance import content
from compliance.policy import get_policy
from messaging import bulk, imports, services, sms
from messaging.forms import IMPORT_MAX_BYTES
from messaging.models import Segment, Source, Tag
from messaging.phone import InvalidPhoneNumber
from messaging.sms import segments

TOKEN_SALT = "messaging.bulk.confirm"  # noqa: S105 - a signing namespace, not a secret
TOKEN_MAX_AGE = 60 * 60  # a confirmation page older than an hour must be previewed again
ROTATE = "rotate"
UNKNOWN_SHOWN = 20


class BulkForm(forms.Form):
    body = forms.CharField(label="Message", validators=[sms.validate_length], widget=forms.Textarea(attrs={"rows": 5}))
    audience = forms.ChoiceField(
        choices=[(bulk.ALL, "All contacts"), (bulk.TAGS, "Contacts with any of these tags"),
                 (bulk.SEGMENT, "A saved segment of the contacts list"),
                 (bulk.CSV, "An uploaded CSV of phone numbers")],
        initial=bulk.ALL, widget=forms.RadioSelect,
    )  # fmt: skip
    tags = forms.ModelMultipleChoiceField(queryset=Tag.objects.none(), required=False)
    segment = forms.ModelChoiceField(
        queryset=Segment.objects.none(), required=False, empty_label="Choose a segment",
        help_text="Its saved filters, applied to the contacts as they are when you preview and when you confirm.",
    )  # fmt: skip
    file = forms.FileField(
        label="CSV file", required=False,
        help_text="A “phone” column, or one number per line. Numbers that are not contacts are reported, not added.",
    )  # fmt: skip
    sender = forms.ChoiceField(label="Send from")
    when = forms.ChoiceField(
        choices=[("now", "Send now"), ("later", "Schedule for later")], initial="now", widget=forms.RadioSelect
    )
    name = forms.CharField(
        label="Campaign name", max_length=100, required=False,
        help_text="Optional, for a send scheduled for later: how it is listed under Campaigns.",
    )  # fmt: skip
    send_at = forms.DateTimeField(
        label="Send at", required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )  # fmt: skip

    def __init__(self, *args, sub_account, **kwargs):
        super().__init__(*args, **kwargs)
        self.sub_account = sub_account
        self.numbers = bulk.sending_numbers(sub_account)
        self.fields["tags"].queryset = Tag.objects.filter(sub_account=sub_account)
        self.fields["segment"].queryset = Segment.objects.filter(sub_account=sub_account)
        self.fields["sender"].choices = [(n, n) for n in self.numbers] + (
            [(ROTATE, f"Rotate across all {len(self.numbers)} numbers")] if len(self.numbers) > 1 else []
        )
        self.fields["sender"].initial = self.numbers[0] if self.numbers else ""
        self.fields["send_at"].help_text = f"In this sub-account's time zone ({sub_account.time_zone})."

    def clean_body(self):
        body = self.cleaned_data["body"].strip()
        problem = bulk.merge_field_problem(body)
        if problem:
            raise forms.ValidationError(problem)
        return body

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if not upload:
            return None
        if upload.size > IMPORT_MAX_BYTES:
            raise forms.ValidationError("The file is larger than 5 MB.")
        try:
            return upload.name, b"".join(upload.chunks()).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None

    def clean(self):
        data = super().clean()
        if data.get("audience") == bulk.TAGS and not data.get("tags"):
            self.add_error("tags", "Choose at least one tag.")
        if data.get("audience") == bulk.SEGMENT and not data.get("segment") and "segment" not in self.errors:
            self.add_error("segment", "Choose a segment.")
        if data.get("audience") == bulk.CSV and not data.get("file") and "file" not in self.errors:
            self.add_error("file", "Upload a CSV file of phone numbers.")
        if data.get("when") == "later":
            send_at = data.get("send_at")
            if send_at is None and "send_at" not in self.errors:
                self.add_error("send_at", "Choose when to send.")
            elif send_at is not None and send_at <= timezone.now():
                self.add_error("send_at", "The scheduled time must be in the future.")
        return data

    @property
    def from_numbers(self) -> list[str]:
        sender = self.cleaned_data.get("sender")
        return list(self.numbers) if sender == ROTATE else [sender] if sender else []

    @property
    def source(self) -> str:
        return Source.BULK  # scheduled or not: a bulk action (R5/R6)


def _uuid_or_none(text):
    try:
        return uuid.UUID(str(text)) if text else None
    except ValueError:
        return None


def _sub_account(request, sub_account_id, *, sending=False):
    """Any agency or sub-account user of the sub-account may send bulk; support staff see the
    reports but do not send on a customer's behalf. Other tenants: 404."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    if sending and access.role_in(request.user, sub_account) == access.SUPPORT:
        raise PermissionDenied
    return sub_account


def _bound_form(request, sub_account):
    """The form, with datetimes read in the sub-account's time zone."""
    with timezone.override(zoneinfo.ZoneInfo(sub_account.time_zone)):
        form = BulkForm(request.POST, request.FILES or None, sub_account=sub_account)
        form.is_valid()
    return form


def _index_context(request, sub_account, form, **extra):
    page = Paginator(bulk.bulk_history(sub_account), 20).get_page(request.GET.get("page"))
    return {"sub_account": sub_account, "nav": "bulk", "form": form, "history": page, **extra}


@login_required
def bulk_index(request, sub_account_id):
    sub_account = _sub_account(request, sub_account_id)
    form = BulkForm(sub_account=sub_account)
    context = _index_context(request, sub_account, form, live=_live(sub_account, form))
    return render(request, "messaging/bulk/index.html", context)


def _live(sub_account, form) -> dict:
    """The compose box's live part: segment count, merge-field error, the exact composed texts
    (R5/R6) for an initial message and a follow-up, and a content warning (R11, pure)."""
    data = form.data
    body = (data.get("body") or "").strip()
    source = Source.BULK  # scheduled or not, what goes is composed as a bulk message (R5/R6)
    audience = data.get("audience") or bulk.ALL
    tag_ids = [t for t in data.getlist("tags") if str(t).isdigit()] if hasattr(data, "getlist") else []
    segment_id = _uuid_or_none(data.get("segment"))
    if audience == bulk.CSV:  # the file is not re-sent on every keystroke: a placeholder contact
        contacts = sub_account.contacts.none()
    else:
        contacts = bulk.audience_contacts(sub_account, kind=audience, tag_ids=tag_ids, segment_id=segment_id)
    sample = bulk.sample_contact(contacts)
    policy = get_policy()
    initial = services.compose_for(sub_account, sample, body, source, True, policy) if body else ""
    follow_up = services.compose_for(sub_account, sample, body, source, False, policy) if body else ""
    return {
        "body_count": segments(follow_up),  # merge fields filled: braces are never sent
        "merge_error": bulk.merge_field_problem(body),
        "length_error": sms.too_long(body) or sms.too_long_as_sent(initial),  # 21617, as sent
        "sample": sample,
        "source": source,
        "initial": initial,
        "initial_count": segments(initial),
        "follow_up": follow_up,
        "follow_up_count": segments(follow_up),
        "content_match": content.screen(body, policy) if body else None,
    }


@login_required
def bulk_count(request, sub_account_id):
    """htmx: the live part of the compose box (GET or POST). Without htmx, the whole page."""
    sub_account = _sub_account(request, sub_account_id)
    form = BulkForm(request.POST or request.GET, sub_account=sub_account)
    live = _live(sub_account, form)
    if request.htmx:
        return render(request, "messaging/bulk/index.html#live", {"sub_account": sub_account, "live": live})
    return render(request, "messaging/bulk/index.html", _index_context(request, sub_account, form, live=live))


@login_required
@require_POST
def bulk_preview(request, sub_account_id):
    """Counts and reasons, and a signed token of what was previewed. Sends nothing."""
    sub_account = _sub_account(request, sub_account_id, sending=True)
    form = _bound_form(request, sub_account)
    csv = None
    if form.is_valid() and form.cleaned_data["audience"] == bulk.CSV:
        try:
            csv = bulk.csv_audience(sub_account, form.cleaned_data["file"][1])
        except imports.InvalidImportFile as exc:
            form.add_error("file", str(exc))
    if not form.is_valid():
        context = _index_context(request, sub_account, form, live=_live(sub_account, form))
        return render(request, "messaging/bulk/index.html", context)
    data = form.cleaned_data
    send_at = data["send_at"] if data["when"] == "later" else None
    audience = {
        "kind": data["audience"],
        "tag_ids": [t.pk for t in data["tags"]] if data["audience"] == bulk.TAGS else [],
        "contact_ids": [str(pk) for pk in csv.contact_ids] if csv else [],
        "segment_id": str(data["segment"].pk) if data["audience"] == bulk.SEGMENT else None,
        "label": _audience_label(data, csv),
    }
    preview = bulk.bulk_preview(
        sub_account=sub_account, body=data["body"], audience=audience, from_numbers=form.from_numbers,
        source=form.source, now=timezone.now(), send_at=send_at,
    )  # fmt: skip
    token = signing.dumps(
        {"sub": str(sub_account.pk), "user": request.user.pk, "body": data["body"], "audience": audience,
         "from": form.from_numbers, "send_at": send_at.isoformat() if send_at else None,
         "name": data["name"].strip() if send_at else ""},
        salt=TOKEN_SALT, compress=True,
    )  # fmt: skip
    context = {
        "sub_account": sub_account, "nav": "bulk", "preview": preview, "token": token, "body": data["body"],
        "audience_label": audience["label"], "from_numbers": form.from_numbers, "send_at": send_at,
        "csv": csv, "unknown_shown": csv.unknown[:UNKNOWN_SHOWN] if csv else [],
        "live": _live(sub_account, form), "validity_hours": get_policy().VALIDITY_HOURS,
        "name": data["name"].strip() if send_at else "",
    }  # fmt: skip
    return render(request, "messaging/bulk/confirm.html", context)


def _audience_label(data, csv) -> str:
    if data["audience"] == bulk.TAGS:
        return "Tags: " + ", ".join(t.name for t in data["tags"])
    if data["audience"] == bulk.SEGMENT:
        return f"Segment: {data['segment'].name}"
    if data["audience"] == bulk.CSV:
        return f"File: {data['file'][0]} ({len(csv.contact_ids)} contacts matched)"
    return "All contacts"


@login_required
@require_POST
def bulk_confirm(request, sub_account_id):
    """Start the previewed send, re-reading the audience and every rule now (the preview may
    be stale). Blocked content: the BulkSend is recorded as blocked and shown."""
    sub_account = _sub_account(request, sub_account_id, sending=True)
    try:
        data = signing.loads(request.POST.get("token", ""), salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        flash.error(request, "The preview is more than an hour old. Preview the send again.")
        return redirect("bulk_index", sub_account.pk)
    except signing.BadSignature:
        return HttpResponseBadRequest("Invalid confirmation.")
    if data["sub"] != str(sub_account.pk) or data["user"] != request.user.pk:
        return HttpResponseBadRequest("Invalid confirmation.")
    audience = data["audience"]
    contact_ids = bulk.audience_ids(
        sub_account,
        kind=audience["kind"],
        tag_ids=audience["tag_ids"],
        contact_ids=audience["contact_ids"],
        segment_id=audience.get("segment_id"),
    )
    try:
        sent = bulk.bulk_send_start(
            sub_account=sub_account, user=request.user, body=data["body"],
            contact_ids=contact_ids,
            audience_label=audience["label"], send_at=parse_datetime(data["send_at"]) if data["send_at"] else None,
            from_numbers=data["from"], name=data.get("name", ""),
        )  # fmt: skip
    except bulk.BulkBlocked as exc:
        flash.error(request, str(exc))
        return redirect("bulk_detail", sub_account.pk, exc.bulk.pk)
    except services.MessagingError as exc:
        flash.error(request, str(exc))
        return redirect("bulk_index", sub_account.pk)
    return redirect("bulk_detail", sub_account.pk, sent.pk)


@login_required
@require_POST
def bulk_test(request, sub_account_id):
    """A test SMS to the user's own number, composed as the initial bulk message."""
    sub_account = _sub_account(request, sub_account_id, sending=True)
    phone, error, message = request.POST.get("test_number", ""), "", None
    sender = request.POST.get("sender", "")
    try:
        message = bulk.bulk_test_send(
            sub_account=sub_account, user=request.user, body=request.POST.get("body", ""), phone=phone,
            from_number=sender,
        )  # fmt: skip
        if message.status == "failed":
            error = message.failure_reason
    except (InvalidPhoneNumber, services.MessagingError) as exc:
        error = str(exc)
    if not request.htmx:
        if error:
            flash.error(request, error)
        else:
            flash.success(request, f"Test message queued to {message.to_number}.")
        return redirect("bulk_index", sub_account.pk)
    context = {"sub_account": sub_account, "test_error": error, "test_message": message, "test_number": phone}
    return render(request, "messaging/bulk/index.html#testresult", context)


@login_required
def bulk_detail(request, sub_account_id, bulk_id):
    """Progress (htmx polls every 2 s while anything is queued or sending), then the report, and
    the recipients in keyset pages. htmx swaps one part: the poll its progress, the recipients'
    links their table; each reads only what it shows."""
    sub_account = _sub_account(request, sub_account_id)
    sent = get_object_or_404(sub_account.bulk_sends.select_related("created_by"), pk=bulk_id)
    part = ("#recipients" if request.htmx.target == "recipients" else "#progress") if request.htmx else ""
    context = {"sub_account": sub_account, "nav": "bulk", "bulk": sent, "validity_hours": get_policy().VALIDITY_HOURS}
    if part != "#recipients":
        context["report"] = bulk.bulk_report(sent)
        bulk.bulk_refresh_status(sent, context["report"])
    if part != "#progress":
        status = request.GET.get("status") if request.GET.get("status") in bulk.RECIPIENT_STATUSES else ""
        recipients = bulk.bulk_recipients(
            sent, status=status, after=request.GET.get("after", ""), before=request.GET.get("before", ""),
            last=request.GET.get("last") == "1",
        )  # fmt: skip
        context |= {"recipients": recipients, "status": status, "statuses": bulk.RECIPIENT_STATUSES}
    template = "messaging/bulk/detail.html" + part
    return render(request, template, context)
