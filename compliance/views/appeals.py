"""R9 appeals: the sub-account appeals a permanent suspension with its proof of opt-in; support
asks for more, approves or rejects."""

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from accounts import access
from compliance import appeals as appeal_services
from compliance.errors import ComplianceError
from compliance.forms import AppealDecisionForm, AppealForm, AppealResponseForm
from compliance.models import Appeal
from compliance.policy import get_policy
from compliance.views.files import private_file


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
            except ComplianceError as exc:
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
            except ComplianceError as exc:
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
        except ComplianceError as exc:
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
