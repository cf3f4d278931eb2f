"""Contact-page compliance actions: remove a temporary DND (R2), record an opt-in with its
proof (R10), export the proof of opt-in for a number (R9 fields) as a printable page or CSV."""

import csv

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.validators import FileExtensionValidator
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import access
from accounts.models import Role, SubAccount
from compliance import appeals as appeal_services
from compliance import dashboard, monitoring, services
from compliance.models import Appeal, LimitExtensionRequest, SnowshoeHold
from compliance.policy import get_policy
from compliance.uploads import image_or_pdf
from messaging import services as messaging_services

SCREENSHOT_MAX_BYTES = 5 * 1024 * 1024


def at_most_5_mb(upload):
    if upload.size > SCREENSHOT_MAX_BYTES:
        raise forms.ValidationError("The screenshot is larger than 5 MB.")


# Consent and appeal screenshots: an image or a PDF of at most 5 MB.
SCREENSHOT = [FileExtensionValidator(["png", "jpg", "jpeg", "gif", "webp", "pdf"]), at_most_5_mb, image_or_pdf]


def _contact(request, sub_account_id, contact_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    return sub_account, get_object_or_404(sub_account.contacts, pk=contact_id)


@login_required
@require_POST
def dnd_remove(request, sub_account_id, contact_id):
    """R2: one contact at a time, temporary DND only. There is no bulk variant, anywhere."""
    _sub_account, contact = _contact(request, sub_account_id, contact_id)
    try:
        services.dnd_remove_temporary(contact=contact, user=request.user)
        flash.success(request, "Temporary DND removed. Messages can be sent to this contact again.")
    except services.ComplianceError as exc:
        flash.error(request, str(exc))
    return redirect("contact_detail", sub_account_id, contact.pk)


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


@login_required
def consent_record(request, sub_account_id, contact_id):
    """R10: record an opt-in with the proof fields (and optional screenshot)."""
    sub_account, contact = _contact(request, sub_account_id, contact_id)
    form = OptInForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            event = messaging_services.consent_record_opt_in(
                contact=contact, source=data["source"], at=data["at"], ip_or_method=data["ip_or_method"],
                url=data["url"], consent_text=data["consent_text"], user=request.user,
            )  # fmt: skip
        except messaging_services.MessagingError as exc:
            form.add_error(None, str(exc))
        else:
            if data["screenshot"]:
                event.screenshot = data["screenshot"]
                event.save(update_fields=["screenshot"])
            flash.success(request, "Opt-in recorded.")
            return redirect("contact_detail", sub_account.pk, contact.pk)
    return render(
        request, "compliance/consent_record.html", {"sub_account": sub_account, "contact": contact, "form": form}
    )


PROOF_COLUMNS = [
    "Phone", "Name", "Email", "Physical address", "Event", "Registration date and time (UTC)",
    "IP address or method", "URL or collection details", "Source", "Consent text", "Screenshot",
]  # fmt: skip


def _proof_rows(request, contact):
    for e in contact.consent_events.order_by("at", "id"):
        yield [
            contact.phone, contact.name, contact.email, contact.address, e.get_kind_display(),
            e.at.strftime("%Y-%m-%d %H:%M:%S"), e.ip_or_method, e.url, e.source, e.consent_text,
            request.build_absolute_uri(screenshot_url(contact, e)) if e.screenshot else "",
        ]  # fmt: skip


def screenshot_url(contact, event) -> str:
    return reverse("consent_screenshot", args=[contact.sub_account_id, contact.pk, event.pk])


@login_required
def consent_screenshot(request, sub_account_id, contact_id, event_id):
    """R9/R10: a consent screenshot, to the sub-account's own users only (uploads are not
    public media: they can show a person's name, address and phone number)."""
    _sub_account, contact = _contact(request, sub_account_id, contact_id)
    event = get_object_or_404(contact.consent_events.exclude(screenshot=""), pk=event_id)
    return private_file(event.screenshot)


def private_file(field_file) -> FileResponse:
    """An uploaded file (consent or appeal screenshot), served by a view that has checked the
    tenant: never guessed as another type, never run as a page."""
    try:
        handle = field_file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404("The file is missing.") from None
    name = field_file.name.rsplit("/", 1)[-1]
    # A PDF is downloaded, not shown in the browser: it can carry scripts, forms and links that
    # an in-browser viewer acts on, beyond what the CSP below governs.
    response = FileResponse(handle, filename=name, as_attachment=name.lower().endswith(".pdf"))
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return response


@login_required
def consent_proof(request, sub_account_id, contact_id):
    """R9/R10: proof of opt-in for one number, as a printable page (Print → Save as PDF)."""
    sub_account, contact = _contact(request, sub_account_id, contact_id)
    events = contact.consent_events.order_by("at", "id")
    return render(
        request,
        "compliance/consent_proof.html",
        {"sub_account": sub_account, "contact": contact, "events": events, "generated_at": timezone.now()},
    )


@login_required
def consent_proof_csv(request, sub_account_id, contact_id):
    _sub_account, contact = _contact(request, sub_account_id, contact_id)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="proof-of-opt-in-{contact.phone.lstrip("+")}.csv"'
    writer = csv.writer(response)
    writer.writerow(PROOF_COLUMNS)
    writer.writerows(_proof_rows(request, contact))
    return response


# --- R7 limit extensions --------------------------------------------------------------------


class LimitRequestForm(forms.Form):
    requested_limit = forms.IntegerField(label="Daily limit you need", min_value=5001, max_value=1_000_000)
    reason = forms.CharField(
        label="Why", widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
        help_text="Your use case, audience and how consent is collected.",
    )  # fmt: skip


@login_required
def limit_request(request, sub_account_id):
    """At ramp level 8, owners (and agency admins) ask support for a higher daily limit."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    card = services.ramp_card(sub_account, timezone.now())
    can_ask = access.can_manage(request.user, sub_account) and card.level == len(card.levels)
    form = LimitRequestForm(request.POST or None)
    if request.method == "POST":
        if not can_ask:
            raise PermissionDenied("Only owners and agency admins of a sub-account at level 8 can ask.")
        if form.is_valid():
            LimitExtensionRequest.objects.create(
                sub_account=sub_account, requested_by=request.user, **form.cleaned_data
            )
            flash.success(request, "Your request was sent to support.")
            return redirect("limit_request", sub_account.pk)
    return render(
        request,
        "compliance/limit_request.html",
        {"sub_account": sub_account, "form": form, "card": card, "can_ask": can_ask, "nav": "dashboard",
         "requests": sub_account.limit_requests.all()},
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


@login_required
def support_limit_requests(request):
    access.require_support(request.user)
    pending = LimitExtensionRequest.objects.filter(status="pending").select_related("sub_account__agency")
    decided = LimitExtensionRequest.objects.exclude(status="pending").select_related("sub_account", "decided_by")[:50]
    return render(
        request, "compliance/support_limit_requests.html",
        {"pending": pending, "decided": decided, "form": DecisionForm()},
    )  # fmt: skip


@login_required
@require_POST
def support_limit_decide(request, request_id):
    access.require_support(request.user)
    ask = get_object_or_404(LimitExtensionRequest, pk=request_id)
    form = DecisionForm(request.POST)
    if not form.is_valid():
        flash.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    elif ask.status != "pending":
        flash.error(request, "This request was already decided.")
    else:
        services.limit_request_decide(
            request=ask, approve=form.cleaned_data["decision"] == "approve",
            granted_limit=form.cleaned_data["granted_limit"], note=form.cleaned_data["note"], user=request.user,
        )  # fmt: skip
        flash.success(request, f"Request from {ask.sub_account} {ask.status}.")
    return redirect("support_limit_requests")


# --- R11 snowshoeing holds ------------------------------------------------------------------


class JustificationForm(forms.Form):
    justification = forms.CharField(max_length=4000)


@login_required
def snowshoe_holds(request, sub_account_id):
    """R11: the sub-account's held sends; owners and agency admins justify the awaiting ones."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    holds = sub_account.snowshoe_holds.annotate(held=Count("messages")).select_related("submitted_by")
    return render(
        request, "compliance/snowshoe_holds.html",
        {"sub_account": sub_account, "holds": holds, "nav": "bulk", "limit": get_policy().SNOWSHOE_NUMBERS,
         "can_justify": access.can_manage(request.user, sub_account)},
    )  # fmt: skip


@login_required
@require_POST
def snowshoe_justify(request, sub_account_id, hold_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    hold = get_object_or_404(sub_account.snowshoe_holds, pk=hold_id)
    if not access.can_manage(request.user, sub_account):
        raise PermissionDenied("Only owners and agency admins can justify a held send.")
    form = JustificationForm(request.POST)
    try:
        if not form.is_valid():
            raise services.ComplianceError("Write the business justification (at most 4000 characters).")
        services.snowshoe_justify(hold=hold, text=form.cleaned_data["justification"], user=request.user)
        flash.success(request, "Your justification was sent to support.")
    except services.ComplianceError as exc:
        flash.error(request, str(exc))
    return redirect("snowshoe_holds", sub_account.pk)


class SnowshoeDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("reject", "Reject")])
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=250)

    def clean(self):
        data = super().clean()
        if data.get("decision") == "reject" and not data.get("note"):
            self.add_error("note", "Say why, for the sub-account to read.")
        return data


@login_required
def support_snowshoe(request):
    access.require_support(request.user)
    holds = SnowshoeHold.objects.annotate(held=Count("messages")).select_related("sub_account__agency")
    return render(
        request, "compliance/support_snowshoe.html",
        {"pending": holds.filter(status="pending").select_related("submitted_by").order_by("submitted_at"),
         "awaiting": holds.filter(status="awaiting").count(),
         "decided": holds.filter(status__in=["accepted", "rejected"]).select_related("decided_by")
                         .order_by("-decided_at")[:50]},
    )  # fmt: skip


@login_required
@require_POST
def support_snowshoe_decide(request, hold_id):
    access.require_support(request.user)
    hold = get_object_or_404(SnowshoeHold.objects.select_related("sub_account"), pk=hold_id)
    form = SnowshoeDecisionForm(request.POST)
    if not form.is_valid():
        flash.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("support_snowshoe")
    accept = form.cleaned_data["decision"] == "accept"
    try:
        count = services.snowshoe_decide(hold=hold, accept=accept, note=form.cleaned_data["note"], user=request.user)
    except services.ComplianceError as exc:
        flash.error(request, str(exc))
    else:
        done = "released" if accept else "failed"
        flash.success(
            request, f"Hold for {hold.sub_account} {hold.get_status_display().lower()}: {count} message(s) {done}."
        )
    return redirect("support_snowshoe")


# --- R8/R9 rate monitoring ------------------------------------------------------------------


@login_required
@require_POST
def suspension_lift(request, sub_account_id, suspension_id):
    """R9 last bullet: an agency admin lifts a temporary rate suspension early (agency older than
    90 days, once per 30 days, acknowledgement ticked and `confirm` typed; checked by the service)."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    suspension = get_object_or_404(sub_account.suspensions, pk=suspension_id)
    if access.role_in(request.user, sub_account) != Role.AGENCY_ADMIN:
        raise PermissionDenied("Only agency admins can lift a suspension.")
    try:
        monitoring.suspension_self_lift(
            suspension=suspension, user=request.user, acknowledged=request.POST.get("acknowledge") == "on",
            typed=request.POST.get("typed", ""),
        )  # fmt: skip
    except monitoring.MonitoringError as exc:
        flash.error(request, str(exc))
    else:
        flash.success(request, "Suspension lifted: bulk, workflow and campaign messages can be sent again.")
    return redirect("subaccount_dashboard", sub_account.pk)


@login_required
def support_risk(request):
    """R8 for support: every sub-account, closest to a suspension threshold first."""
    access.require_support(request.user)
    rows = dashboard.risk_list(SubAccount.objects.select_related("agency"), timezone.now())
    return render(
        request, "compliance/support_risk.html",
        {"rows": rows[: dashboard.RISK_LIST_ROWS], "total": len(rows), "policy": get_policy(),
         "suspension_at": dashboard.suspension_thresholds(get_policy())},
    )  # fmt: skip


# --- R9 appeals -----------------------------------------------------------------------------


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


@login_required
def appeals(request, sub_account_id):
    """R9: the sub-account's appeals; owners and agency admins appeal a permanent suspension."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    can_appeal = access.can_manage(request.user, sub_account)
    suspension, refusal = appeal_services.appealable(sub_account, timezone.now())
    form = AppealForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        if not can_appeal:
            raise PermissionDenied("Only sub-account owners and agency admins can appeal.")
        if form.is_valid():
            try:
                appeal = appeal_services.appeal_submit(
                    sub_account=sub_account, user=request.user, data=form.cleaned_data
                )
            except appeal_services.AppealError as exc:
                flash.error(request, str(exc))
            else:
                flash.success(request, "Your appeal was sent to support.")
                return redirect("appeal_detail", sub_account.pk, appeal.pk)
    return render(
        request, "compliance/appeals.html",
        {"sub_account": sub_account, "nav": "dashboard", "form": form, "suspension": suspension, "refusal": refusal,
         "can_appeal": can_appeal, "appeals": sub_account.appeals.select_related("suspension", "decided_by"),
         "limit": get_policy().MAX_APPEALS_PER_SUSPENSION},
    )  # fmt: skip


class AppealResponseForm(forms.Form):
    response = forms.CharField(label="Your answer", widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)


@login_required
def appeal_detail(request, sub_account_id, appeal_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    appeal = get_object_or_404(sub_account.appeals.select_related("suspension", "decided_by"), pk=appeal_id)
    form = AppealResponseForm(request.POST or None)
    if request.method == "POST":
        if not access.can_manage(request.user, sub_account):
            raise PermissionDenied("Only sub-account owners and agency admins can answer support.")
        if form.is_valid():
            try:
                appeal_services.appeal_respond(appeal=appeal, user=request.user, response=form.cleaned_data["response"])
            except appeal_services.AppealError as exc:
                flash.error(request, str(exc))
            else:
                flash.success(request, "Your answer was sent to support.")
            return redirect("appeal_detail", sub_account.pk, appeal.pk)
    return render(
        request, "compliance/appeal_detail.html",
        {"sub_account": sub_account, "nav": "dashboard", "appeal": appeal, "form": form,
         "can_respond": access.can_manage(request.user, sub_account), "proof": appeal_services.proof_for(appeal)},
    )  # fmt: skip


APPEAL_FILES = {"opt-in": "opt_in_screenshot", "checkbox": "checkbox_screenshot"}


@login_required
def appeal_file(request, sub_account_id, appeal_id, which):
    """An appeal's screenshot, to the sub-account's users and support staff only."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    appeal = get_object_or_404(sub_account.appeals, pk=appeal_id)
    field = APPEAL_FILES.get(which)
    if field is None:
        raise Http404
    return private_file(getattr(appeal, field))


@login_required
def support_appeals(request):
    access.require_support(request.user)
    appeals_ = Appeal.objects.select_related("sub_account__agency", "suspension")
    return render(
        request, "compliance/support_appeals.html",
        {"waiting": appeals_.filter(status=Appeal.Status.SUBMITTED).order_by("created_at"),
         "asked": appeals_.filter(status=Appeal.Status.INFO_REQUESTED).order_by("info_requested_at"),
         "decided": appeals_.filter(status__in=[Appeal.Status.APPROVED, Appeal.Status.REJECTED])
                            .select_related("decided_by").order_by("-decided_at")[:50]},
    )  # fmt: skip


class AppealDecisionForm(forms.Form):
    action = forms.ChoiceField(choices=[("info", "Ask for more information"), ("approve", "Approve"),
                                        ("reject", "Reject")])  # fmt: skip
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=5000)
    numbers = forms.CharField(
        label="Numbers to prove opt-in for", widget=forms.Textarea(attrs={"rows": 2}), required=False,
        help_text="One per line, when asking for more information.",
    )  # fmt: skip


@login_required
def support_appeal(request, appeal_id):
    """Support's view of one appeal, with the proof of opt-in for the numbers it asked about;
    ask for more information, approve (lifts the suspension) or reject with a reason."""
    access.require_support(request.user)
    appeal = get_object_or_404(Appeal.objects.select_related("sub_account__agency", "suspension"), pk=appeal_id)
    form = AppealDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["action"] == "info":
                numbers = appeal_services.parse_numbers(data["numbers"])
                appeal_services.appeal_request_info(appeal=appeal, user=request.user, message=data["message"],
                                                    numbers=numbers)  # fmt: skip
            else:
                appeal_services.appeal_decide(appeal=appeal, user=request.user, approve=data["action"] == "approve",
                                              note=data["message"])  # fmt: skip
        except appeal_services.AppealError as exc:
            flash.error(request, str(exc))
        else:
            flash.success(request, f"Appeal of {appeal.sub_account}: {appeal.get_status_display().lower()}.")
            return redirect("support_appeals")
    return render(
        request, "compliance/support_appeal.html",
        {"appeal": appeal, "form": form, "proof": appeal_services.proof_for(appeal),
         "others": appeal.suspension.appeals.exclude(pk=appeal.pk).order_by("created_at"),
         "number": appeal.suspension.appeals.filter(created_at__lte=appeal.created_at).count(),
         "limit": get_policy().MAX_APPEALS_PER_SUSPENSION},
    )  # fmt: skip
