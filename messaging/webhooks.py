"""Twilio's webhooks (and the simulator's, which speaks the same format). Each request is
verified with X-Twilio-Signature first; a bad or missing signature gets 403 and changes
nothing. Twilio retries on errors, so everything here is idempotent."""

import logging

from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging import inbound as inbound_texts
from messaging import receipts
from messaging.providers import InvalidSignature, get_provider

log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


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
    receipts.receipt_store(sid=receipt.sid, status=receipt.status, error_code=receipt.error_code, payload=receipt.raw)
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
    inbound_texts.inbound_receive(sid=sms.sid, from_=sms.from_, to=sms.to, body=sms.body, opt_out_type=sms.opt_out_type)
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
