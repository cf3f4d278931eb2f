"""The JSON API for workflows and integrations: contacts and messages of one sub-account,
authenticated with that sub-account's API key (`Authorization: Bearer <key>`).

Every answer is JSON, errors included: `{"error": "<sentence>", "code": "<stable code>"}`, with
`"fields": {...}` where they apply (the codes are the contract, listed in docs/API.md). Input
is taken as sent, never coerced: a value of the wrong JSON type, text PostgreSQL cannot store,
a body too large or nested too deeply is refused and changes nothing. Sends go through the
same service as every other send, so a message refused by a rule is still created (status
`failed`, with the reason) and nothing is silently dropped."""

import hashlib
import json
from functools import wraps

from django import forms
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt

from compliance import ledger
from compliance.errors import ComplianceError
from messaging import idempotency, keys, services, sms, storable, throttle
from messaging.contacts import contact_get_or_create, contact_set_tags
from messaging.forms import MAX_TAGS, TAG_MAX_LENGTH
from messaging.keyset import InvalidCursor, keyset_page
from messaging.models import Consent, Contact, Direction, Message, Source, Status
from messaging.phone import InvalidPhoneNumber, to_e164

API_PREFIX = "/api/"
API_SOURCES = (Source.WORKFLOW, Source.CAMPAIGN, Source.ONE_TO_ONE)
# The deepest valid body nests two levels ({"consent": {...}}); refusing anything much deeper
# keeps the checks below short, and json's own recursion limit is far above it.
MAX_JSON_DEPTH = 8
IDEMPOTENCY_KEY_MAX_LENGTH = 255  # as Stripe's


class ApiError(Exception):
    """An answer other than success, raised anywhere below `api_view`. `headers` are sent
    with it (Allow, WWW-Authenticate, Retry-After)."""

    def __init__(self, message: str, *, status: int = 400, code: str = "invalid_fields", fields=None, headers=None):
        super().__init__(message)
        self.status, self.code, self.fields, self.headers = status, code, fields, headers or {}

    def response(self) -> JsonResponse:
        return error(str(self), status=self.status, code=self.code, fields=self.fields, headers=self.headers)


def error(message: str, *, status: int = 400, code: str, fields: dict | None = None, headers=None) -> JsonResponse:
    payload = {"error": message, "code": code} | ({"fields": fields} if fields else {})
    response = JsonResponse(payload, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def api_view(*methods, bodiless=False):
    """Method check, API-key auth, the JSON body (as `request.data`), Idempotency-Key, and
    JSON errors, in that order. The view is called with the key's sub-account: every lookup
    starts from it, so another tenant's ids are simply not found (404). `bodiless`: an action
    that takes no fields (POST …/redeliver) accepts an empty body as `{}`."""

    def decorator(view):
        @csrf_exempt  # token auth: no cookies are involved
        @wraps(view)
        @throttle.with_rate_limit_headers
        def wrapper(request, *args, **kwargs):
            try:
                _check_method(request, methods)
                request.api_key = _authenticate(request)
                if limited := throttle.api_key_throttle(request, request.api_key):
                    return limited  # 429 + Retry-After: the key's allowance is spent, the body is not read
                request.data = None
                if request.method in ("POST", "PATCH"):
                    no_body = request.META.get("CONTENT_LENGTH") in (None, "", "0")
                    request.data = {} if bodiless and no_body else _json_body(request)
                key = _idempotency_key(request)
                if key:
                    return idempotency.run_once(
                        api_key=request.api_key,
                        key=key,
                        fingerprint=_fingerprint(request),
                        run=lambda: view(request, request.api_key.sub_account, *args, **kwargs),
                    )
                return view(request, request.api_key.sub_account, *args, **kwargs)
            except ApiError as exc:
                return exc.response()
            except idempotency.KeyReused:
                return error(
                    "This Idempotency-Key was used with a different request in the last 24 hours: "
                    "use a new key for a new request.",
                    status=409,
                    code="idempotency_key_reused",
                )
            except (services.MessagingError, ComplianceError) as exc:
                return error(str(exc), code="refused")
            except Http404:
                return error("Not found.", status=404, code="not_found")

        return wrapper

    return decorator


def _check_method(request, methods) -> None:
    if request.method not in methods:
        raise ApiError(
            f"Method {request.method} is not allowed here.",
            status=405,
            code="method_not_allowed",
            headers={"Allow": ", ".join(methods)},
        )


def _authenticate(request):
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    key = keys.api_key_authenticate(raw.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        raise ApiError(
            "Missing, invalid or revoked API key.",
            status=401,
            code="unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key


def _json_body(request) -> dict:
    """The body as a JSON object, read only when its size and type are right."""
    limit = settings.API_MAX_REQUEST_BYTES
    too_large = ApiError(f"The request body is larger than {limit:,} bytes.", status=413, code="payload_too_large")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise too_large  # refused before it is read
    charset = request.content_params.get("charset", "utf-8").lower()
    if length and (request.content_type != "application/json" or charset not in ("utf-8", "utf8")):
        raise ApiError(
            "Send the body as JSON, with Content-Type: application/json (UTF-8).",
            status=415,
            code="unsupported_media_type",
        )
    try:
        body = request.body
    except RequestDataTooBig:  # Django's own limit, DATA_UPLOAD_MAX_MEMORY_SIZE
        raise too_large from None
    if len(body) > limit:
        raise too_large
    return json_object(body)


def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _no_duplicate_keys(pairs):
    data = {}
    for name, value in pairs:
        if name in data:  # which one would win is the parser's whim, not the client's intent
            raise ValueError(f"the key {name!r} appears twice")
        data[name] = value
    return data


def json_object(body: bytes) -> dict:
    """A JSON object, strictly: UTF-8, no NaN/Infinity, no key twice, at most MAX_JSON_DEPTH
    levels, and only text that can be stored."""
    malformed = "malformed_json"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError("Malformed JSON: the body is not UTF-8 text.", code=malformed) from None
    try:
        data = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_no_duplicate_keys)
    except RecursionError:  # deeper than the interpreter's limit: the C parser stops cleanly
        raise ApiError(f"Malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels.", code=malformed) from None
    except ValueError as exc:
        raise ApiError(f"Malformed JSON: {exc}", code=malformed) from None
    if not isinstance(data, dict):
        raise ApiError(f"Malformed JSON: expected an object, got {type(data).__name__}.", code=malformed)
    _check_values(data)
    return data


def _check_values(data: dict) -> None:
    """Depth and storable text, for every key and value (iterative: no recursion to exhaust)."""
    fields = {}
    stack = [(data, "", 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ApiError(f"Malformed JSON: nested deeper than {MAX_JSON_DEPTH} levels.", code="malformed_json")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for name, item in items:
                child = f"{path}[{name}]" if isinstance(value, list) else (f"{path}.{name}" if path else name)
                if isinstance(name, str) and (problem := storable.problem(name)):
                    fields.setdefault(path or "(key)", []).append(problem)
                stack.append((item, child, depth + 1))
        elif isinstance(value, str) and (problem := storable.problem(value)):
            fields.setdefault(path, []).append(problem)
    if fields:
        raise ApiError("; ".join(f"{name}: {errors[0]}" for name, errors in sorted(fields.items())), fields=fields)


def _idempotency_key(request) -> str:
    if request.method != "POST":
        return ""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return ""
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX_LENGTH or not key.isascii() or not key.isprintable():
        raise ApiError(
            f"Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters "
            "(a UUID is a good choice).",
            code="invalid_idempotency_key",
        )
    return key


def _fingerprint(request) -> str:
    """The same request is the same method, path and JSON value (key order and spacing aside)."""
    canonical = json.dumps(request.data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method} {request.path}\n{canonical}".encode()).hexdigest()


def _valid(form: forms.Form, prefix: str = "") -> dict:
    if not form.is_valid():
        fields = {prefix + name: list(errors) for name, errors in form.errors.items()}
        raise ApiError("; ".join(f"{name}: {errors[0]}" for name, errors in fields.items()), fields=fields)
    return form.cleaned_data


JSON_TYPE_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "true or false", type(None): "null"}


class JsonTyped:
    """A form field over a parsed JSON value: a value of another JSON type is an error, not
    converted (`{"body": ["a"]}` once sent the text "['a']")."""

    json_type = str

    def to_python(self, value):
        if value is not None and not isinstance(value, self.json_type):
            wanted, got = JSON_TYPE_NAMES[self.json_type], JSON_TYPE_NAMES.get(type(value), "a number")
            raise forms.ValidationError(f"Send {wanted}, not {got}.")
        return super().to_python(value)


class Text(JsonTyped, forms.CharField):
    pass


class Email(JsonTyped, forms.EmailField):
    pass


class Url(JsonTyped, forms.URLField):
    pass


class DateTime(JsonTyped, forms.DateTimeField):
    pass


class Choice(JsonTyped, forms.ChoiceField):
    pass


class PhoneField(Text):
    def to_python(self, value):
        value = super().to_python(value)
        try:
            return to_e164(value) if value else value
        except InvalidPhoneNumber as exc:
            raise forms.ValidationError(str(exc)) from None


# --- Contacts -------------------------------------------------------------------------------


class TagsField(JsonTyped, forms.Field):
    json_type = list

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return []
        if not all(isinstance(t, str) for t in value):
            raise forms.ValidationError("Send tags as a list of strings.")
        if len(value) > MAX_TAGS:
            raise forms.ValidationError(f"A contact has at most {MAX_TAGS} tags; {len(value)} were sent.")
        too_long = next((t.strip() for t in value if len(t.strip()) > TAG_MAX_LENGTH), None)
        if too_long:
            raise forms.ValidationError(
                f"Tags have at most {TAG_MAX_LENGTH} characters; one has {len(too_long)} (“{too_long[:20]}…”)."
            )
        return value


class ContactIn(forms.Form):
    phone = PhoneField()
    first_name = Text(max_length=100, required=False)
    last_name = Text(max_length=100, required=False)
    email = Email(max_length=254, required=False)
    tags = TagsField(required=False)


class ConsentIn(forms.Form):
    """R10 proof of opt-in. `at` defaults to the time of the request."""

    source = Text(max_length=100, required=False)
    at = DateTime(required=False)
    ip = Text(max_length=200, required=False)
    url = Url(max_length=500, required=False, assume_scheme="https")


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
        raise ApiError(str(exc), code="invalid_phone") from None
    contact = get_object_or_404(sub_account.contacts.prefetch_related("tags"), phone=phone)
    return JsonResponse(contact_json(contact))


# --- Messages -------------------------------------------------------------------------------


class MessageIn(forms.Form):
    to = PhoneField()
    body = Text(validators=[sms.validate_length])  # required: an empty body is a 400; over 1,600: 21617
    source = Choice(choices=[(s.value, s.label) for s in API_SOURCES])


# Newest first; the id breaks ties between messages of the same microsecond (a bulk send's).
MESSAGE_ORDER = ("-created_at", "-id")  # message_sub_created_id_idx
MESSAGE_LIST_FIELDS = (
    "id", "sub_account_id", "contact_id", "direction", "source", "status", "to_number", "from_number",
    "body_sent", "error_code", "failure_reason", "bulk_send_id", "created_at", "sent_at", "final_at",
)  # fmt: skip
LIST_LIMIT, LIST_LIMIT_MAX = 50, 200


class MessageListQuery(forms.Form):
    """The list's query string (plain strings: it is not JSON)."""

    limit = forms.IntegerField(min_value=1, max_value=LIST_LIMIT_MAX, required=False)
    status = forms.ChoiceField(choices=Status.choices, required=False)
    direction = forms.ChoiceField(choices=Direction.choices, required=False)
    contact = forms.CharField(required=False)  # a phone number, as in GET /contacts/<number>
    after = forms.CharField(required=False)
    before = forms.CharField(required=False)


def message_list_json(m: Message) -> dict:
    def iso(at):
        return at.isoformat() if at else None

    return {
        "id": str(m.pk), "contact_id": str(m.contact_id), "direction": m.direction, "source": m.source,
        "status": m.status, "to": m.to_number, "from": m.from_number, "body_sent": m.body_sent,
        "error_code": m.error_code, "failure_reason": m.failure_reason,
        "bulk_send_id": str(m.bulk_send_id) if m.bulk_send_id else None,
        "created_at": iso(m.created_at), "sent_at": iso(m.sent_at), "final_at": iso(m.final_at),
    }  # fmt: skip


def _message_list(request, sub_account) -> JsonResponse:
    """Keyset pages, newest first (issue 16): `next` and `previous` are links with an opaque
    cursor, so a client never computes an offset, a message arriving meanwhile never shows twice
    or pushes one off a page, and the last page costs what the first does. No total: counting
    every message of a sub-account is the one thing here that grows with it."""
    query = _valid(MessageListQuery(request.GET))
    if query["after"] and query["before"]:
        raise ApiError("Send after or before, not both.", code="invalid_cursor")
    messages = sub_account.messages.only(*MESSAGE_LIST_FIELDS)
    if query["status"]:
        messages = messages.filter(status=query["status"])
    if query["direction"]:
        messages = messages.filter(direction=query["direction"])
    if query["contact"]:
        try:
            phone = to_e164(query["contact"])
        except InvalidPhoneNumber as exc:
            raise ApiError(str(exc), code="invalid_phone") from None
        # The contact's id, not a join: message_contact_created_id_idx then serves the seek.
        contact = sub_account.contacts.filter(phone=phone).values_list("id", flat=True).first()
        messages = messages.filter(contact_id=contact) if contact else messages.none()
    try:
        page = keyset_page(
            messages, MESSAGE_ORDER, after=query["after"], before=query["before"],
            size=query["limit"] or LIST_LIMIT, strict=True,
        )  # fmt: skip
    except InvalidCursor as exc:
        raise ApiError(str(exc), code="invalid_cursor") from None
    keep = {k: v for k, v in request.GET.items() if k not in ("after", "before")}

    def link(**cursor):
        return request.build_absolute_uri(request.path + "?" + urlencode(keep | cursor))

    return JsonResponse({
        "data": [message_list_json(m) for m in page.items],
        "next": link(after=page.next_cursor) if page.has_next else None,
        "previous": link(before=page.previous_cursor) if page.has_previous else None,
    })  # fmt: skip


@api_view("GET", "POST")
def messages(request, sub_account):
    if request.method == "GET":
        return _message_list(request, sub_account)
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
    """Unknown paths under api/ answer in JSON too, whatever the method."""
    return error("Not found.", status=404, code="not_found")
