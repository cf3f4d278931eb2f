"""Conversations: threads by latest activity, a thread that updates itself (htmx polling),
a send box that shows refusals inline with the exact POLICY texts, and resend."""

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST

from accounts import access
from messaging import services, storable
from messaging.contacts import contact_mark_read
from messaging.models import Direction, Source

THREAD_LENGTH = 200


@login_required
def conversation_list(request, sub_account_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    threads = sub_account.contacts.conversations().only(
        "id", "phone", "first_name", "last_name", "last_message_at", "last_message_preview", "unread_count", "dnd"
    )
    page = Paginator(threads, 50).get_page(request.GET.get("page"))
    template = "messaging/conversation_list.html" + ("#threads" if request.htmx else "")
    return render(request, template, {"sub_account": sub_account, "page": page, "nav": "conversations"})


def _thread_context(sub_account, contact, **extra):
    recent = contact.messages.order_by("-created_at")[:THREAD_LENGTH]
    return {
        "sub_account": sub_account,
        "contact": contact,
        "thread": list(reversed(recent)),
        "nav": "conversations",
        **extra,
    }


@login_required
def conversation(request, sub_account_id, contact_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    contact = get_object_or_404(sub_account.contacts, pk=contact_id)
    contact_mark_read(contact)
    template = "messaging/conversation.html" + ("#messages" if request.htmx else "")
    return render(request, template, _thread_context(sub_account, contact))


@login_required
@require_POST
def conversation_send(request, sub_account_id, contact_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    contact = get_object_or_404(sub_account.contacts, pk=contact_id)
    body = request.POST.get("body", "")
    error = storable.problem(body)  # a NUL is refused here, with the text kept: not a 500 from PostgreSQL
    if not error:
        try:
            message = services.message_send_one(
                sub_account=sub_account, contact=contact, body=body, source=Source.ONE_TO_ONE, user=request.user
            )
            error = message.failure_reason if message.status == "failed" else ""
        except services.MessagingError as exc:
            error = str(exc)
    kept = storable.strip(body) if error else ""  # nothing typed is lost
    if not request.htmx:
        if error:
            flash.error(request, error)
        return redirect("conversation", sub_account.pk, contact.pk)
    return _sendbox_and_messages(request, sub_account, contact, error=error, body=kept)


@login_required
@require_POST
def message_resend(request, sub_account_id, contact_id, message_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    contact = get_object_or_404(sub_account.contacts, pk=contact_id)
    original = get_object_or_404(contact.messages, pk=message_id, direction=Direction.OUTBOUND)
    error = ""
    try:
        message = services.message_resend(message=original, user=request.user)
        error = message.failure_reason if message.status == "failed" else ""
    except services.MessagingError as exc:
        error = str(exc)
    if not request.htmx:
        if error:
            flash.error(request, error)
        return redirect("conversation", sub_account.pk, contact.pk)
    return _sendbox_and_messages(request, sub_account, contact, error=error)


def _sendbox_and_messages(request, sub_account, contact, *, error="", body=""):
    """htmx answer: the send box (cleared, or with the refusal and the text kept) and the
    message list swapped out-of-band."""
    context = _thread_context(sub_account, contact, send_error=error, body=body)
    html = render_to_string("messaging/conversation.html#sendbox", context, request=request)
    html += render_to_string("messaging/conversation.html#messages", {**context, "oob": True}, request=request)
    return HttpResponse(html)
