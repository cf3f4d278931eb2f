"""Settings → Phone numbers (R12): the sub-account's numbers; search the provider's numbers for
sale and buy one, import one the provider account already has, release one (after a
confirmation page). Adding is refused with the reason while suspended or restricted for repeated
violations; a permanent suspension shows the phone system's own error texts (R9).

Numbers are no longer typed in: one the provider account does not have could neither send
(Twilio refuses a From number that is not the account's) nor receive (its webhooks would not be
ours); "Import from provider account" covers numbers bought elsewhere, and sets their webhooks."""

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts import access
from compliance import provisioning
from messaging import numbers
from messaging.providers import NumberSearch
from messaging.services import MessagingError

# R9: what the phone system shows a permanently suspended sub-account, word for word.
PERMANENT_TEXTS = ("Failed to retrieve Phone Numbers", "Lead Connector returned Unauthorized")
COUNTRIES = [("US", "United States"), ("CA", "Canada")]


class SearchForm(forms.Form):
    country = forms.ChoiceField(choices=COUNTRIES, initial="US")
    area_code = forms.RegexField(
        regex=r"^[2-9]\d\d$", required=False, max_length=3, label="Area code",
        error_messages={"invalid": "An area code is three digits, not starting with 0 or 1 (e.g. 646)."},
    )  # fmt: skip
    contains = forms.RegexField(
        regex=r"^[0-9A-Za-z]{2,7}$", required=False, max_length=7, label="Contains",
        help_text="Digits or letters (read as on a phone keypad), e.g. 2024 or SMILE.",
        error_messages={"invalid": "Enter 2 to 7 digits or letters."},
    )  # fmt: skip
    sms_only = forms.BooleanField(required=False, initial=True, label="SMS-capable only")

    def query(self) -> NumberSearch:
        data = self.cleaned_data
        return NumberSearch(country=data["country"], area_code=data["area_code"], contains=data["contains"],
                            sms_enabled=data["sms_only"])  # fmt: skip


def _page(request, sub_account_id):
    """The sub-account, whether the user may change its numbers, and the R12 state."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    return (
        sub_account,
        access.can_manage(request.user, sub_account),
        provisioning.provisioning_state(sub_account, timezone.now()),
    )


@login_required
def phone_numbers(request, sub_account_id):
    sub_account, can_manage, state = _page(request, sub_account_id)
    form, results, search_error = SearchForm(request.GET if "country" in request.GET else None), None, ""
    if can_manage and state.decision.allowed and form.is_bound and form.is_valid():
        try:
            results = numbers.numbers_search(sub_account=sub_account, query=form.query())
        except MessagingError as exc:
            search_error = str(exc)
    context = {
        "sub_account": sub_account, "numbers": sub_account.phone_numbers.all(), "form": form, "results": results,
        "search_error": search_error, "can_manage": can_manage, "state": state, "permanent_texts": PERMANENT_TEXTS,
        "nav": "settings",
    }  # fmt: skip
    template = "messaging/phone_numbers.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#results"
    return render(request, template, context)


def _require_manage(can_manage):
    if not can_manage:
        raise PermissionDenied("Only sub-account owners and agency admins can change phone numbers.")


@login_required
@require_POST
def phone_number_buy(request, sub_account_id):
    sub_account, can_manage, _ = _page(request, sub_account_id)
    _require_manage(can_manage)
    try:
        bought = numbers.number_buy(sub_account=sub_account, number=request.POST.get("number", ""), user=request.user)
    except MessagingError as exc:
        flash.error(request, str(exc))
    else:
        flash.success(request, f"Bought {bought.number}: it can send and receive texts now.")
    return redirect("phone_numbers", sub_account.pk)


@login_required
def phone_number_import(request, sub_account_id):
    sub_account, can_manage, state = _page(request, sub_account_id)
    _require_manage(can_manage)
    if request.method == "POST":
        try:
            added = numbers.number_import(sub_account=sub_account, sid=request.POST.get("sid", ""), user=request.user)
        except MessagingError as exc:
            flash.error(request, str(exc))
            return redirect("phone_number_import", sub_account.pk)
        flash.success(request, f"Imported {added.number}: its texts and calls now come to this sub-account.")
        return redirect("phone_numbers", sub_account.pk)
    importable, error = [], ""
    try:
        importable = numbers.numbers_importable(sub_account=sub_account)
    except MessagingError as exc:
        error = str(exc)
    return render(
        request, "messaging/phone_number_import.html",
        {"sub_account": sub_account, "importable": importable, "error": error, "nav": "settings"},
    )  # fmt: skip


@login_required
def phone_number_release(request, sub_account_id, number_id):
    """GET: the confirmation page; POST: release."""
    sub_account, can_manage, _ = _page(request, sub_account_id)
    phone_number = get_object_or_404(sub_account.phone_numbers, pk=number_id)
    _require_manage(can_manage)
    if request.method == "POST":
        try:
            numbers.number_release(phone_number=phone_number, user=request.user)
        except MessagingError as exc:
            flash.error(request, str(exc))
        else:
            flash.success(request, f"Released {phone_number.number}.")
        return redirect("phone_numbers", sub_account.pk)
    return render(
        request, "messaging/phone_number_release.html",
        {"sub_account": sub_account, "phone_number": phone_number, "nav": "settings",
         "last_number": sub_account.phone_numbers.count() == 1},
    )  # fmt: skip
