"""The JSON API for workflows and integrations: contacts and messages of one sub-account,
authenticated with that sub-account's API key (`Authorization: Bearer <key>`).

Every response is JSON; every error is `{"error": "...", "fields": {...}}` (fields only where
they apply). Sends go through the same service as every other send, so a message refused by
a rule is still created (status `failed`, with the reason) and nothing is silently dropped."""

import json
from functools import wraps

from django import forms
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from compliance import ledger
from compliance.errors import ComplianceError
from messaging import keys, services, throttle
from messaging.contacts import contact_get_or_create, contact_set_tags
from messaging.models import Consent, Contact, Source
from messaging.phone import InvalidPhoneNumber, to_e164

API_SOURCES = (Source.WORKFLOW, Source.CAMPAIGN, Source.ONE_TO_ONE)
MAX_BODY = 1600  # the carrier's limit for one (concatenated) SMS


class ApiError(Exception):
    def __init__(self, message: str, *, status: int = 400, fields: dict | None = None):
        super().__init__(message)
        self.status, self.fields = status, fields


def error(message: str, *, status: int = 400, fields: dict | None = None) -> JsonResponse:
    payload = {"error": message} | ({"fields": fields} if fields else {})
    return JsonResponse(payload, status=status)


def _bearer_key(request):
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    return keys.api_key_authenticate(raw.strip()) if scheme.lower() == "bearer" else None


def api_view(*methods):
    """Method check, API-key auth, JSON body parsing (as `request.data`) and JSON errors. The
    view is called with the key's sub-account: every lookup starts from it, so another
    tenant's ids are simply not found (404)."""

    def decorator(view):
        @csrf_exempt  # token auth: no cookies are involved
        @wraps(view)
        @throttle.with_rate_limit_headers
        def wrapper(request, *args, **kwargs):
            if request.method not in methods:
                response = error(f"Method {request.method} is not allowed here.", status=405)
                response["Allow"] = ", ".join(methods)
                return response
            key = _bearer_key(request)
            if key is None:
                response = error("Missing, invalid or revoked API key.", status=401)
                response["WWW-Authenticate"] = "Bearer"
                return response
            request.api_key = key
            if limited := throttle.api_key_throttle(request, key):
                return limited  # 429 + Retry-After: the key's allowance is spent
            try:
                if request.method == "POST":
                    request.data = _json_object(request.body)
                return view(request, key.sub_account, *args, **kwargs)
            except ApiError as exc:
                return error(str(exc), status=exc.status, fields=exc.fields)
            except (services.MessagingError, ComplianceError) as exc:
                return error(str(exc))
            except Http404:
                return error("Not found.", status=404)

        return wrapper

    return decorator


def _json_object(body: bytes) -> dict:
    try:
        data = json.loads(body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(f"Malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(f"Malformed JSON: expected an object, got {type(data).__name__}.")
    return data


def _valid(form: forms.Form, prefix: str = "") -> dict:
    if not form.is_valid():
        fields = {prefix + name: list(errors) for name, errors in form.errors.items()}
        raise ApiError("; ".join(f"{name}: {errors[0]}" for name, errors in fields.items()), fields=fields)
    return form.cleaned_data


class PhoneField(forms.CharField):
    def to_python(self, value):
        value = super().to_python(value)
        try:
            return to_e164(value) if value else value
        except InvalidPhoneNumber as exc:
            raise forms.ValidationError(str(exc)) from None


# --- Contacts -------------------------------------------------------------------------------


class TagsField(forms.Field):
    def to_python(self, value):
        if value in (None, ""):
            return []
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise forms.ValidationError("Send tags as a list of strings.")
        return value


class ContactIn(forms.Form):
    phone = PhoneField()
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    email = forms.EmailField(max_length=254, required=False)
    tags = TagsField(required=False)


class ConsentIn(forms.Form):
    """R10 proof of opt-in. `at` defaults to the time of the request."""

    source = forms.CharField(max_length=100, required=False)
    at = forms.DateTimeField(required=False)
    ip = forms.CharField(max_length=200, required=False)
    url = forms.URLField(max_length=500, required=False, assume_scheme="https")


def contact_json(contact: Contact) -> dict:
    return {
        "id": str(contact.pk),
        "phone": contact.phone,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "email": contact.email,
        "tags": sorted(t.name for t in contact.tags.all()),
        "dnd": contact.dnd,
        "consent": contact.consent == Consent.GRANTED,
    }


def _contact_input(data: dict) -> tuple[str, dict, list | None, dict | None]:
    """(E.164, the given scalar fields, tags or None, consent or None) or ApiError."""
    given = _valid(ContactIn(data))
    fields = {name: given[name] for name in ("first_name", "last_name", "email") if name in data}
    consent = data.get("consent")
    if consent is not None and not isinstance(consent, dict):
        raise ApiError("consent: Send consent as an object.", fields={"consent": ["Send consent as an object."]})
    consent = _valid(ConsentIn(consent), prefix="consent.") if consent is not None else None
    return given["phone"], fields, (given["tags"] if "tags" in data else None), consent


@api_view("POST")
def contacts(request, sub_account):
    phone, fields, tags, consent = _contact_input(request.data)
    with transaction.atomic():
        contact, created = contact_get_or_create(sub_account=sub_account, phone=phone, **fields)
        if fields and not created:
            for name, value in fields.items():
                setattr(contact, name, value)
            contact.save(update_fields=list(fields))
        if tags is not None:
            contact_set_tags(contact=contact, names=tags)
        if consent is not None:
            ledger.consent_record_opt_in(
                contact=contact,
                source=consent["source"] or "api",
                at=consent["at"] or timezone.now(),
                ip_or_method=consent["ip"] or "API",
                url=consent["url"],
            )
    return JsonResponse(contact_json(contact), status=201 if created else 200)


@api_view("GET")
def contact_detail(request, sub_account, phone):
    try:
        phone = to_e164(phone)
    except InvalidPhoneNumber as exc:
        raise ApiError(str(exc)) from None
    contact = get_object_or_404(sub_account.contacts.prefetch_related("tags"), phone=phone)
    return JsonResponse(contact_json(contact))


# --- Messages -------------------------------------------------------------------------------


class MessageIn(forms.Form):
    to = PhoneField()
    body = forms.CharField(max_length=MAX_BODY)  # required: an empty body is a 400
    source = forms.ChoiceField(choices=[(s.value, s.label) for s in API_SOURCES])


@api_view("POST")
def messages(request, sub_account):
    given = _valid(MessageIn(request.data))
    with transaction.atomic():  # a refused request leaves no new contact behind
        contact, _ = contact_get_or_create(sub_account=sub_account, phone=given["to"])
        message = services.message_send_one(
            sub_account=sub_account, contact=contact, body=given["body"], source=given["source"]
        )
    payload = {"id": str(message.pk)} | {f: getattr(message, f) for f in ("status", "body_sent", "failure_reason")}
    return JsonResponse(payload, status=201)


@api_view("GET")
def message_detail(request, sub_account, message_id):
    message = get_object_or_404(sub_account.messages, pk=message_id)
    fields = ("status", "error_code", "provider_sid", "body_sent", "failure_reason", "source")
    return JsonResponse({"id": str(message.pk)} | {f: getattr(message, f) for f in fields})


@csrf_exempt
def not_found(request):
    """Unknown paths under api/v1/ answer in JSON too."""
    return error("Not found.", status=404)
