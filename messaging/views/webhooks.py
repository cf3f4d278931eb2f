"""Settings → Webhooks (issue 16): a sub-account's outgoing webhook endpoints, each with its
delivery log. Owners and agency admins of the sub-account only (403 for its other users, 404 for
anyone else). The signing secret is shown once, on the page the create (or "roll secret") POST
returns, and never again."""

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts import access
from messaging import webhooks_out
from messaging.keyset import keyset_page
from messaging.models import DeliveryState, WebhookDelivery, WebhookEvent
from messaging.webhooks_out import manage
from messaging.webhooks_out.safety import UnsafeUrl

FORBIDDEN = "Only sub-account owners and agency admins can see and change webhooks."
LOG_PAGE = 25


class EndpointForm(forms.Form):
    url = forms.URLField(
        max_length=500, assume_scheme="https", label="Address (URL)",
        help_text="Where we POST the events, e.g. https://crm.example.com/hooks/textwise. It must start with https://.",
    )  # fmt: skip
    events = forms.MultipleChoiceField(
        choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple, label="Events to send",
        error_messages={"required": "Choose at least one event."},
    )  # fmt: skip

    def clean_url(self):
        url = self.cleaned_data["url"]
        if problem := manage.url_problem(url):
            raise forms.ValidationError(problem)
        return url


def _sub_account(request, sub_account_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    if not access.can_manage(request.user, sub_account):
        raise PermissionDenied(FORBIDDEN)
    return sub_account


def _endpoint(request, sub_account_id, endpoint_id):
    sub_account = _sub_account(request, sub_account_id)
    return sub_account, get_object_or_404(sub_account.webhook_endpoints, pk=endpoint_id)


def _list_page(request, sub_account, *, form=None, created=None, status=200):
    last = WebhookDelivery.objects.filter(endpoint=OuterRef("pk")).order_by("-id")
    endpoints = sub_account.webhook_endpoints.order_by("created_at", "id").annotate(
        last_at=Subquery(last.values("created_at")[:1]),
        last_state=Subquery(last.values("state")[:1]),
        last_status=Subquery(last.values("last_status_code")[:1]),
    )
    return render(
        request, "messaging/webhooks.html",
        {"sub_account": sub_account, "endpoints": endpoints, "form": form or EndpointForm(), "created": created,
         "event_labels": dict(WebhookEvent.choices), "nav": "webhooks"},
        status=status,
    )  # fmt: skip


@never_cache  # the answer to a create carries the secret: no browser or proxy may keep it
@login_required
def webhook_list(request, sub_account_id):
    sub_account = _sub_account(request, sub_account_id)
    if request.method != "POST":
        return _list_page(request, sub_account)
    form = EndpointForm(request.POST)
    if not form.is_valid():
        return _list_page(request, sub_account, form=form, status=400)
    try:  # checked again at save: the name may resolve elsewhere by now
        endpoint = webhooks_out.endpoint_create(sub_account=sub_account, **form.cleaned_data)
    except (UnsafeUrl, ValueError) as exc:
        form.add_error("url" if isinstance(exc, UnsafeUrl) else "events", str(exc))
        return _list_page(request, sub_account, form=form, status=400)
    return _list_page(request, sub_account, created=endpoint)


def _detail_page(request, sub_account, endpoint, *, form=None, secret="", status=200):
    page = keyset_page(
        WebhookDelivery.objects.for_endpoint(endpoint), ("-id",), after=request.GET.get("after", ""),
        before=request.GET.get("before", ""), size=LOG_PAGE,
    )  # fmt: skip
    context = {
        "sub_account": sub_account, "endpoint": endpoint, "page": page, "secret": secret, "nav": "webhooks",
        "form": form or EndpointForm(initial={"url": endpoint.url, "events": endpoint.events}),
        "event_labels": dict(WebhookEvent.choices),
        # Refresh the log by itself while a delivery on it is still being tried.
        "polling": any(d.state == DeliveryState.PENDING for d in page.items),
    }  # fmt: skip
    template = "messaging/webhooks_detail.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#log"
    return render(request, template, context, status=status)


@never_cache
@login_required
@vary_on_headers("HX-Request")  # the same URL answers with the page or the log alone
def webhook_detail(request, sub_account_id, endpoint_id):
    """GET: the endpoint and its delivery log, newest first. POST: change its address and events."""
    sub_account, endpoint = _endpoint(request, sub_account_id, endpoint_id)
    if request.method != "POST":
        return _detail_page(request, sub_account, endpoint)
    form = EndpointForm(request.POST)
    if not form.is_valid():
        return _detail_page(request, sub_account, endpoint, form=form, status=400)
    try:
        manage.endpoint_update(endpoint=endpoint, **form.cleaned_data)
    except manage.WebhookRefused as exc:
        form.add_error(None, str(exc))
        return _detail_page(request, sub_account, endpoint, form=form, status=400)
    flash.success(request, "Saved. The next events go to this address.")
    return redirect("webhook_detail", sub_account.pk, endpoint.pk)


@login_required
@require_POST
def webhook_toggle(request, sub_account_id, endpoint_id):
    sub_account, endpoint = _endpoint(request, sub_account_id, endpoint_id)
    manage.endpoint_update(endpoint=endpoint, enabled=not endpoint.enabled)
    if endpoint.enabled:
        flash.success(request, "Turned on: new events are sent to this endpoint again.")
    else:
        flash.success(request, "Turned off: no events are sent to this endpoint until you turn it on.")
    return redirect("webhook_detail", sub_account.pk, endpoint.pk)


@never_cache  # carries the new secret
@login_required
@require_POST
def webhook_roll_secret(request, sub_account_id, endpoint_id):
    sub_account, endpoint = _endpoint(request, sub_account_id, endpoint_id)
    secret = manage.endpoint_roll_secret(endpoint=endpoint)
    return _detail_page(request, sub_account, endpoint, secret=secret)


@login_required
@require_POST
def webhook_send_test(request, sub_account_id, endpoint_id):
    sub_account, endpoint = _endpoint(request, sub_account_id, endpoint_id)
    try:
        manage.endpoint_send_test(endpoint=endpoint)
    except manage.WebhookRefused as exc:
        flash.error(request, str(exc))
    else:
        flash.success(request, "Test event sent: it shows in the log below.")
    return redirect("webhook_detail", sub_account.pk, endpoint.pk)


@login_required
@require_POST
def webhook_send_again(request, sub_account_id, endpoint_id, delivery_id):
    sub_account, endpoint = _endpoint(request, sub_account_id, endpoint_id)
    delivery = get_object_or_404(endpoint.deliveries, pk=delivery_id)
    try:
        manage.delivery_send_again(delivery=delivery)
    except manage.WebhookRefused as exc:
        flash.error(request, str(exc))
    else:
        flash.success(request, f"Sending event {delivery.event_id} again, with the same event id.")
    return redirect("webhook_detail", sub_account.pk, endpoint.pk)


@login_required
def webhook_delete(request, sub_account_id, endpoint_id):
    """GET: the confirmation page; POST: delete the endpoint and its log."""
    sub_account, endpoint = _endpoint(request, sub_account_id, endpoint_id)
    if request.method == "POST":
        endpoint.delete()
        flash.success(request, f"Deleted the webhook to {endpoint.url}. No more events go there.")
        return redirect("webhook_list", sub_account.pk)
    return render(
        request, "messaging/webhooks_delete.html", {"sub_account": sub_account, "endpoint": endpoint, "nav": "webhooks"}
    )
