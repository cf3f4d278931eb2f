"""The inbox: threads on the left (search, unread / opted-out filters, keyset pages), the open
thread on the right with the contact panel and the send box (refusals inline with the exact
POLICY texts, the provider's length limit, canned replies), mark read/unread, resend, and one
poll per open tab that answers 204 when nothing it shows has changed. Every page is plain
HTML first; htmx only swaps its parts."""

import uuid

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from accounts import access
from messaging import inbox, services, storable
from messaging.contacts import contact_mark_read, contact_mark_unread
from messaging.models import Direction, Source

LIST_PARAMS = ("q", "show", "after", "before")


def _uuid(text: str):
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def _list_state(request) -> dict:
    """The left pane's search, filter and page, kept on every link and form of the page."""
    state = {k: request.GET.get(k, "")[:100] for k in LIST_PARAMS}
    if state["show"] not in inbox.FILTERS:
        state["show"] = ""
    return state


def _list_context(sub_account, state) -> dict:
    page = inbox.thread_page(
        inbox.filtered(sub_account, q=state["q"], show=state["show"]), after=state["after"], before=state["before"]
    )
    keep = {k: v for k, v in state.items() if v}
    filters = {k: v for k, v in keep.items() if k in ("q", "show")}
    return {
        "page": page,
        "state": state,
        "filters": inbox.FILTERS,
        "query": urlencode(keep),  # appended to thread links: the list stays where it was
        "filter_query": urlencode(filters),
        "list_stamp": inbox.list_stamp(page),
    }


def _page(request, sub_account, contact=None, **extra):
    state = _list_state(request)
    context = {
        "sub_account": sub_account,
        "nav": "conversations",
        "contact": contact,
        **_list_context(sub_account, state),
    }
    if contact is not None:
        context |= _thread_context(sub_account, contact, older=request.GET.get("older", ""), **extra)
    context["poll_url"] = _poll_url(sub_account, contact, state, context)
    return context


def _thread_context(sub_account, contact, *, older="", since="", **extra) -> dict:
    return {
        "contact": contact,
        "thread": inbox.thread_messages(contact, older=older, since=since),
        "thread_stamp": inbox.thread_stamp(contact),
        "panel": inbox.contact_panel(contact),
        "canned": list(sub_account.canned_replies.all()),
        **extra,
    }


def _poll_url(sub_account, contact, state, context) -> str:
    params = {k: v for k, v in state.items() if v} | {"ls": context["list_stamp"]}
    if contact is not None:  # tw: the thread window's oldest message, kept when it is refreshed
        params |= {"c": contact.pk, "ts": context["thread_stamp"], "tw": context["thread"].start}
    return reverse("conversation_poll", args=[sub_account.pk]) + "?" + urlencode(params)


@login_required
def conversation_list(request, sub_account_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    context = _page(request, sub_account)
    template = "messaging/conversation_list.html" + ("#threads" if request.htmx else "")
    return render(request, template, context)


@login_required
def conversation(request, sub_account_id, contact_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    contact = get_object_or_404(sub_account.contacts, pk=contact_id)
    contact_mark_read(contact)
    # The text kept after a refusal without JS, or a canned reply picked from the list.
    body = request.session.pop("conversation_draft", "")
    reply_id = _uuid(request.GET.get("reply", ""))
    reply = sub_account.canned_replies.filter(pk=reply_id).first() if reply_id else None
    if request.htmx and request.GET.get("older"):  # "Show older messages": that page, above the others
        thread = inbox.thread_messages(contact, older=request.GET["older"])
        context = {"sub_account": sub_account, "contact": contact, "thread": thread, "query": _query(request),
                   "older_only": True}  # fmt: skip
        return render(request, "messaging/conversation.html#older", context)
    context = _page(request, sub_account, contact, body=reply.body if reply else body)
    template = "messaging/conversation.html" + ("#messages" if request.htmx else "")
    return render(request, template, context)


def _query(request) -> str:
    return urlencode({k: v for k, v in _list_state(request).items() if v})


@login_required
def conversation_poll(request, sub_account_id):
    """One request per open tab and interval. 204 (htmx swaps nothing) when the list page and
    the open thread are as the tab shows them; else the changed parts, out of band, and a new
    poll element carrying the new stamps."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    contact = None
    if _uuid(request.GET.get("c", "")):
        contact = sub_account.contacts.filter(pk=_uuid(request.GET["c"])).first()
    thread_changed = contact is not None and inbox.thread_stamp(contact) != request.GET.get("ts")
    if thread_changed:
        contact_mark_read(contact)  # it is open on screen: what arrives is read
    state = _list_state(request)
    context = {"sub_account": sub_account, "contact": contact, **_list_context(sub_account, state)}
    list_changed = context["list_stamp"] != request.GET.get("ls")
    if not (thread_changed or list_changed):
        return HttpResponse(status=204)
    if contact is not None:
        context |= _thread_context(sub_account, contact, since=request.GET.get("tw", ""))
    context["poll_url"] = _poll_url(sub_account, contact, state, context)
    html = render_to_string("messaging/conversation_list.html#poll", context, request=request)
    if list_changed:
        html += render_to_string("messaging/conversation_list.html#threads", {**context, "oob": True}, request=request)
    if thread_changed:
        html += render_to_string("messaging/conversation.html#messages", {**context, "oob": True}, request=request)
    return HttpResponse(html)


@login_required
@require_POST
def conversation_read(request, sub_account_id, contact_id):
    """Mark read or (``unread=1``) unread; back to the list, which keeps the mark."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    contact = get_object_or_404(sub_account.contacts, pk=contact_id)
    if request.POST.get("unread"):
        contact_mark_unread(contact)
        return redirect(reverse("conversation_list", args=[sub_account.pk]) + _back(request))
    contact_mark_read(contact)
    return redirect(reverse("conversation", args=[sub_account.pk, contact.pk]) + _back(request))


def _back(request) -> str:
    query = urlencode({k: request.POST[k][:100] for k in LIST_PARAMS if request.POST.get(k)})
    return "?" + query if query else ""


@login_required
@require_POST
def conversation_send(request, sub_account_id, contact_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    contact = get_object_or_404(sub_account.contacts, pk=contact_id)
    body = request.POST.get("body", "")
    error = storable.problem(body)  # a NUL is refused here, with the text kept: not a 500 from PostgreSQL
    if not error:
        try:  # the provider's 1,600 characters (21617) are checked by the send path, as composed
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
            request.session["conversation_draft"] = kept
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
    since = request.POST.get("tw", "")  # the window shown (hx-include): refreshed from its start
    context = {"sub_account": sub_account,
               **_thread_context(sub_account, contact, since=since, send_error=error, body=body)}  # fmt: skip
    html = render_to_string("messaging/conversation.html#sendbox", context, request=request)
    html += render_to_string("messaging/conversation.html#messages", {**context, "oob": True}, request=request)
    return HttpResponse(html)
