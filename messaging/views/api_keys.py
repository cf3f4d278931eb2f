"""Settings → API keys. Everyone in the sub-account sees the list; only owners and agency
admins create and revoke keys. A new key is shown once, on the page the POST returns, and
is stored only as a hash."""

from django import forms
from django.conf import settings
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts import access
from messaging import keys

FORBIDDEN = "Only sub-account owners and agency admins can create or revoke API keys."


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where the key is used, e.g. “Booking workflow”.")


def _page(request, sub_account, *, form=None, raw_key="", error="", status=200):
    return render(
        request,
        "messaging/api_keys.html",
        {
            "sub_account": sub_account,
            "keys": sub_account.api_keys.select_related("created_by"),
            "form": form or ApiKeyForm(),
            "can_manage": access.can_manage(request.user, sub_account),
            "raw_key": raw_key,
            "error": error,
            "api_url": settings.PUBLIC_BASE_URL + reverse("api_messages"),
            "nav": "api",
        },
        status=status,
    )


@never_cache  # the response to a create carries the raw key: no browser or proxy may keep it
@login_required
def api_key_list(request, sub_account_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    if request.method != "POST":
        return _page(request, sub_account)
    if not access.can_manage(request.user, sub_account):
        return _page(request, sub_account, error=FORBIDDEN, status=403)
    form = ApiKeyForm(request.POST)
    if not form.is_valid():
        return _page(request, sub_account, form=form)
    _, raw_key = keys.api_key_create(sub_account=sub_account, name=form.cleaned_data["name"], user=request.user)
    return _page(request, sub_account, raw_key=raw_key)


@login_required
@require_POST
def api_key_revoke(request, sub_account_id, key_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    key = get_object_or_404(sub_account.api_keys, pk=key_id)
    if not access.can_manage(request.user, sub_account):
        return _page(request, sub_account, error=FORBIDDEN, status=403)
    if keys.api_key_revoke(key=key, user=request.user):
        flash.success(request, f"Revoked “{key.name}” ({key.prefix}…). Requests with it are now refused.")
    return redirect("api_key_list", sub_account.pk)
