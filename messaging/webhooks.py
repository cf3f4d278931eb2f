"""Twilio's webhooks (and the simulator's, which speaks the same format). Each request is
verified with X-Twilio-Signature first; a bad or missing signature gets 403 and changes
nothing. Twilio retries on errors, so everything here is idempotent.

A signed request is answered 200 even when part of it cannot be used (a sid or status longer
than any Twilio sends): retrying it would never make it usable, only loop. What can be used is
stored. A database outage, though, answers 503 (config.errors), so Twilio tries again later."""

import logging

from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging import inbound as inbound_texts
from messaging import receipts
from messaging.models import Message, ReceiptEvent
from messaging.providers import InvalidSignature, get_provider

log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
# The columns' sizes. Twilio's sids have 34 characters, its error codes 5 digits.
SID_MAX = Message._meta.get_field("provider_sid").max_length
STATUS_MAX = ReceiptEvent._meta.get_field("status").max_length
ERROR_CODE_MAX = ReceiptEvent._meta.get_field("error_code").max_length


def twiml_ok():
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def status(request):
    try:
        receipt = get_provider().parse_status(request)
    except InvalidSignature:
        log.warning("status webhook with a bad signature from %s", request.META.get("REMOTE_ADDR"))
        return HttpResponseForbidden("Invalid signature")
    if not receipt.sid or not receipt.status:
        return twiml_ok()
    if len(receipt.sid) > SID_MAX or len(receipt.status) > STATUS_MAX:
        # No message of ours has such a sid, and no status is that long: never applicable.
        log.warning("status webhook ignored: sid %.70r or status %.30r longer than any", receipt.sid, receipt.status)
        return twiml_ok()
    error_code = receipt.error_code
    if len(error_code) > ERROR_CODE_MAX:
        # The status is still worth applying; the code as sent stays in the stored payload.
        log.warning("receipt for %s: error code %.30r is longer than any, stored without it", receipt.sid, error_code)
        error_code = ""
    receipts.receipt_store(sid=receipt.sid, status=receipt.status, error_code=error_code, payload=receipt.raw)
    if not receipts.receipts_apply_pending(receipt.sid):
        log.info("receipt for %s (%s) stored; message not known (yet)", receipt.sid, receipt.status)
    return twiml_ok()


@csrf_exempt
@require_POST
def inbound(request):
    try:
        sms = get_provider().parse_inbound(request)
    except InvalidSignature:
        log.warning("inbound webhook with a bad signature from %s", request.META.get("REMOTE_ADDR"))
        return HttpResponseForbidden("Invalid signature")
    sid = sms.sid
    if len(sid) > SID_MAX:
        # Still stored and acted on (it may be a STOP, R3); only without the sid it cannot hold.
        log.warning("inbound text with a sid of %d characters (%.70r…): stored without it", len(sid), sid)
        sid = ""
    inbound_texts.inbound_receive(sid=sid, from_=sms.from_, to=sms.to, body=sms.body, opt_out_type=sms.opt_out_type)
    return twiml_ok()


@csrf_exempt
@require_POST
def voice_status(request):
    try:
        call = get_provider().parse_voice(request)
    except InvalidSignature:
        log.warning("voice-status webhook with a bad signature from %s", request.META.get("REMOTE_ADDR"))
        return HttpResponseForbidden("Invalid signature")
    inbound_texts.missed_call_handle(call_sid=call.call_sid, from_=call.from_, to=call.to, status=call.status)
    return twiml_ok()
