"""The JSON API for outgoing webhooks (issue 16): list, create (the answer carries the signing
secret, once), read, change and delete the key's sub-account's endpoints; list an endpoint's
deliveries; send one again; send a test event. Same keys, auth and error shape as the rest of the
API (`messaging.api.api_view`): every lookup starts from the key's sub-account, so another
tenant's ids are 404."""

from django import forms
from django.http import JsonResponse
from django.shortcuts import get_object_or_404

from messaging import webhooks_out
from messaging.api import ApiError, JsonTyped, Url, _valid, api_view
from messaging.keyset import keyset_page
from messaging.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from messaging.webhooks_out import manage

DELIVERIES_PAGE = 50


class EventsField(JsonTyped, forms.Field):
    json_type = list
    default_error_messages = {"required": "Choose at least one event."}

    def to_python(self, value):
        value = super().to_python(value)
        if value and not all(isinstance(e, str) for e in value):
            raise forms.ValidationError("Send events as a list of strings.")
        if value and (problem := manage.events_problem(value)):
            raise forms.ValidationError(f"{problem} Known events: {', '.join(WebhookEvent.values)}.")
        return value


class Flag(JsonTyped, forms.Field):
    json_type = bool


class EndpointIn(forms.Form):
    url = Url(max_length=500, assume_scheme="https")
    events = EventsField()
    enabled = Flag(required=False)

    def __init__(self, data, *, partial=False):
        super().__init__(data)
        for field in self.fields.values():
            field.required = field.required and not partial

    def clean_url(self):
        url = self.cleaned_data["url"]
        if url and (problem := manage.url_problem(url)):
            raise forms.ValidationError(problem)
        return url


def endpoint_json(endpoint: WebhookEndpoint) -> dict:
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "events": endpoint.events,
        "enabled": endpoint.enabled,
        "failure_count": endpoint.failure_count,
        "disabled_at": _at(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at.isoformat(),
    }


def _at(value):
    return value.isoformat() if value else None


def delivery_json(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.pk,
        "event_id": str(delivery.event_id),
        "event_type": delivery.event_type,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created_at": _at(delivery.created_at),
        "first_attempt_at": _at(delivery.first_attempt_at),
        "next_attempt_at": _at(delivery.next_attempt_at),
        "delivered_at": _at(delivery.delivered_at),
        "log": [
            {
                "attempted_at": _at(a.attempted_at),
                "status_code": a.status_code,
                "error": a.error,
                "duration_ms": a.duration_ms,
            }
            for a in delivery.log.all()
        ],  # fmt: skip
    }


def _refused(exc: manage.WebhookRefused):
    return ApiError(str(exc), status=409, code="conflict")


@api_view("GET", "POST")
def webhooks(request, sub_account):
    if request.method == "GET":
        listed = sub_account.webhook_endpoints.order_by("created_at", "id")
        return JsonResponse({"webhooks": [endpoint_json(e) for e in listed]})
    given = _valid(EndpointIn(request.data))
    try:  # checked again at save: the name may resolve elsewhere by now
        endpoint = webhooks_out.endpoint_create(sub_account=sub_account, url=given["url"], events=given["events"])
    except ValueError as exc:
        raise ApiError(f"url: {exc}", fields={"url": [str(exc)]}) from None
    if given["enabled"] is False:
        manage.endpoint_update(endpoint=endpoint, enabled=False)
    return JsonResponse(endpoint_json(endpoint) | {"secret": endpoint.secret}, status=201)


@api_view("GET", "PATCH", "DELETE")
def webhook_detail(request, sub_account, endpoint_id):
    endpoint = get_object_or_404(sub_account.webhook_endpoints, pk=endpoint_id)
    if request.method == "DELETE":
        endpoint_id = endpoint.pk
        endpoint.delete()
        return JsonResponse({"id": endpoint_id, "deleted": True})
    if request.method == "PATCH":
        given = _valid(EndpointIn(request.data, partial=True))
        changes = {name: given[name] for name in ("url", "events", "enabled") if name in request.data}
        try:
            manage.endpoint_update(endpoint=endpoint, **changes)
        except manage.WebhookRefused as exc:
            field = "events" if "events" in changes and manage.events_problem(changes["events"]) else "url"
            raise ApiError(f"{field}: {exc}", fields={field: [str(exc)]}) from None
    return JsonResponse(endpoint_json(endpoint))


@api_view("GET")
def deliveries(request, sub_account, endpoint_id):
    """Newest first, 50 a page; `?after=<next_cursor>` for the next page."""
    endpoint = get_object_or_404(sub_account.webhook_endpoints, pk=endpoint_id)
    log = WebhookDelivery.objects.for_endpoint(endpoint)
    page = keyset_page(log, ("-id",), after=request.GET.get("after", ""), size=DELIVERIES_PAGE)
    next_cursor = page.next_cursor if page.has_next else None
    return JsonResponse({"deliveries": [delivery_json(d) for d in page.items], "next_cursor": next_cursor})


@api_view("POST", bodiless=True)
def redeliver(request, sub_account, endpoint_id, delivery_id):
    endpoint = get_object_or_404(sub_account.webhook_endpoints, pk=endpoint_id)
    delivery = get_object_or_404(endpoint.deliveries, pk=delivery_id)
    try:
        again = manage.delivery_send_again(delivery=delivery)
    except manage.WebhookRefused as exc:
        raise _refused(exc) from None
    return JsonResponse(delivery_json(again), status=201)


@api_view("POST", bodiless=True)
def send_test(request, sub_account, endpoint_id):
    endpoint = get_object_or_404(sub_account.webhook_endpoints, pk=endpoint_id)
    try:
        delivery = manage.endpoint_send_test(endpoint=endpoint)
    except manage.WebhookRefused as exc:
        raise _refused(exc) from None
    return JsonResponse(delivery_json(delivery), status=201)
