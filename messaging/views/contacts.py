"""Contacts of a sub-account: a list that stays fast at 100,000 rows (search, tag, DND and
consent filters), the contact page (DND, consent ledger, message history), create/edit, and
the CSV import that imports the valid rows and reports the others by row number."""

import uuid

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from accounts import access
from compliance import ledger
from messaging import import_jobs, imports
from messaging.automations import triggers as automations
from messaging.automations.models import Workflow
from messaging.contacts import (
    BulkActionError,
    contact_set_tags,
    contacts_add_tag,
    contacts_enroll,
    contacts_remove_tag,
)
from messaging.forms import DUPLICATE_NUMBER, TAG_RULE, ConsentForm, ContactFilterForm, ContactForm, ContactImportForm
from messaging.keyset import keyset_page
from messaging.models import ImportJob, Segment, Tag
from messaging.phone import pretty

PAGE_SIZE = 50
HISTORY_LENGTH = 50
PROBLEMS_SHOWN = 1000
COUNT_CAP = 10_000  # a filtered count stops here: counting every match of a search is a second scan
LIST_COLUMNS = ("id", "sub_account_id", "phone", "first_name", "last_name", "email", "dnd", "consent", "created_at")
# The sortable columns, each a total order (keyset pages need one) backed by an index.
SORTS = {
    "name": ("last_name", "first_name", "phone"),  # contact_subaccount_name_idx
    "-name": ("-last_name", "-first_name", "-phone"),
    "phone": ("phone",),  # contact_unique_phone_per_subaccount
    "-phone": ("-phone",),
    "created": ("created_at", "id"),  # contact_subaccount_created_idx
    "-created": ("-created_at", "-id"),
}


@login_required
@vary_on_headers("HX-Request")  # the same URL answers with the page or the partial
def contact_list(request, sub_account_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    tag_names = sub_account.tags.values_list("name", flat=True)
    filters = ContactFilterForm(request.GET, tag_names=tag_names)
    sort = request.GET.get("sort") if request.GET.get("sort") in SORTS else "name"
    matching = filters.apply(sub_account.contacts.all())
    filtered = any(filters.values().values())
    counting = filtered and request.GET.get("count") == "1"
    if counting and request.htmx:  # the match count, asked for by the list once it is shown
        context = {"filtered": True, "matching": _count(matching), "count_cap": COUNT_CAP,
                   "total": sub_account.contacts.count()}  # fmt: skip
        return render(request, "messaging/contacts/list.html#matching", context)
    contacts = matching.only(*LIST_COLUMNS).prefetch_related(Prefetch("tags", queryset=Tag.objects.only("id", "name")))
    page = keyset_page(
        contacts, SORTS[sort], after=request.GET.get("after", ""), before=request.GET.get("before", ""),
        last=request.GET.get("last") == "1", size=PAGE_SIZE,
    )  # fmt: skip
    # Counting the matches of a search repeats its scan of every contact (docs/BENCHMARKS.md): it
    # is free when every match is on this page, else it comes in a second request (htmx, once
    # the list is shown) or, without JS, when asked for (`count=1`).
    on_one_page = not (page.has_next or page.has_previous)
    count = len(page.items) if on_one_page else _count(matching) if counting else None
    context = {
        "sub_account": sub_account, "filters": filters, "page": page, "sort": sort, "filtered": filtered,
        "total": sub_account.contacts.count(),  # an index-only count of one sub-account: cheap
        "matching": count if filtered else None, "count_cap": COUNT_CAP,
        "workflows": Workflow.objects.filter(sub_account=sub_account).enrolling().order_by("name"),
        "segments": sub_account.segments.all(), "sort_columns": _sort_columns(sort), "nav": "contacts",
        "can_export": access.can_manage(request.user, sub_account),  # the export buttons (owners, admins)
    }  # fmt: skip
    partial = request.htmx and not request.htmx.history_restore_request
    return render(request, "messaging/contacts/list.html" + ("#results" if partial else ""), context)


def _count(matching) -> int:
    return matching.order_by()[: COUNT_CAP + 1].count()


def _sort_columns(sort: str) -> list[dict]:
    """Each sortable column's link: ascending first, a second click descending."""
    columns = []
    for key, label in (("name", "Name"), ("phone", "Phone"), ("created", "Added")):
        arrow = " ↑" if sort == key else " ↓" if sort == "-" + key else ""
        columns.append({"key": key, "label": label, "arrow": arrow, "next": "-" + key if sort == key else key})
    return columns


BULK_ACTIONS = {"add_tag", "remove_tag", "enroll"}


@login_required
@require_POST
def contact_bulk_action(request, sub_account_id):
    """The list's bulk actions on the ticked rows: add a tag, remove a tag, enroll in a workflow.
    Never DND (R2: it is not undone in bulk)."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    action, ids = request.POST.get("action"), request.POST.getlist("contact")
    ids = [i for i in ids if _is_uuid(i)]
    back = reverse("contact_list", args=[sub_account.pk]) + _query(request.POST.get("query", ""))
    if action not in BULK_ACTIONS or not ids:
        flash.error(request, "Tick at least one contact and choose an action.")
        return redirect(back)
    try:
        if action == "add_tag":
            n = contacts_add_tag(sub_account=sub_account, contact_ids=ids, name=request.POST.get("tag", ""))
            flash.success(request, f"Tag “{request.POST['tag'].strip()}” added to {n} contact(s).")
        elif action == "remove_tag":
            n = contacts_remove_tag(sub_account=sub_account, contact_ids=ids, name=request.POST.get("tag", ""))
            flash.success(request, f"Tag “{request.POST['tag'].strip()}” removed from {n} contact(s).")
        else:
            enrolled, skipped = contacts_enroll(
                sub_account=sub_account, contact_ids=ids, workflow_id=_uuid_or_none(request.POST.get("workflow")),
                user=request.user,
            )  # fmt: skip
            note = f" {skipped} were already in it or went through it before." if skipped else ""
            flash.success(request, f"{enrolled} contact(s) enrolled.{note}")
    except BulkActionError as exc:
        flash.error(request, str(exc))
    return redirect(back)


@login_required
@require_POST
def segment_create(request, sub_account_id):
    """Save the list's current filters as a segment (a Bulk SMS audience)."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    filters = ContactFilterForm(request.POST, tag_names=sub_account.tags.values_list("name", flat=True))
    name = request.POST.get("name", "").strip()[:100]
    back = reverse("contact_list", args=[sub_account.pk]) + _query(request.POST.get("query", ""))
    if not name:
        flash.error(request, "Give the segment a name.")
    elif sub_account.segments.filter(name=name).exists():
        flash.error(request, f"A segment named “{name}” exists already.")
    else:
        Segment.objects.create(sub_account=sub_account, name=name, filters=filters.values(), created_by=request.user)
        flash.success(request, f"Segment “{name}” saved. Choose it as the audience on the Bulk SMS page.")
    return redirect(back)


def _query(text: str) -> str:
    """A query string to go back to (only a query string: never another address)."""
    return "?" + QueryDict(text).urlencode() if text else ""


def _is_uuid(text) -> bool:
    return _uuid_or_none(text) is not None


def _uuid_or_none(text):
    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None


@login_required
def contact_create(request, sub_account_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    form = ContactForm(request.POST or None, sub_account=sub_account)
    consent_form = ConsentForm(request.POST or None, prefix="consent", time_zone=sub_account.time_zone)
    valid = request.method == "POST" and all([form.is_valid(), consent_form.is_valid()])  # both: every error shows
    if valid and (contact := _save_contact(form, consent_form, user=request.user)):
        flash.success(request, f"Contact {contact} created.")
        return redirect("contact_detail", sub_account.pk, contact.pk)
    context = {"sub_account": sub_account, "form": form, "consent_form": consent_form, "nav": "contacts"}
    return render(request, "messaging/contacts/form.html", context)


@login_required
def contact_edit(request, sub_account_id, contact_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    contact = get_object_or_404(sub_account.contacts, pk=contact_id)
    form = ContactForm(instance=contact, sub_account=sub_account)
    if request.method == "POST":
        with transaction.atomic():
            # Locked, so the number's lock (DND or consent on record) is decided on the state
            # the write sees, not on what an inbound STOP changed in between (R2, R3).
            contact = sub_account.contacts.select_for_update().get(pk=contact.pk)
            form = ContactForm(request.POST, instance=contact, sub_account=sub_account)
            saved = form.is_valid() and _save_contact(form)
        if saved:
            flash.success(request, f"Contact {saved} saved.")
            return redirect("contact_detail", sub_account.pk, saved.pk)
    context = {"sub_account": sub_account, "contact": contact, "form": form, "nav": "contacts"}
    return render(request, "messaging/contacts/form.html", context)


def _save_contact(form, consent_form=None, *, user=None):
    """The contact, its tags and (on create) its opt-in, or None with the error on the form
    when the number was taken meanwhile by another request."""
    try:
        with transaction.atomic():
            created = form.instance._state.adding
            contact = form.save()
            if created:
                automations.contacts_created(sub_account_id=contact.sub_account_id, contact_ids=[contact.pk])
            contact_set_tags(contact=contact, names=form.cleaned_data["tags"])
            if consent_form is not None and consent_form.given:
                data = consent_form.cleaned_data
                ledger.consent_record_opt_in(
                    contact=contact, source=data["source"], at=data["at"], ip_or_method=data["ip_or_method"],
                    url=data["url"], consent_text=data["consent_text"], user=user,
                )  # fmt: skip
    except IntegrityError:
        form.add_error("phone", DUPLICATE_NUMBER)
        return None
    return contact


@login_required
def contact_detail(request, sub_account_id, contact_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    contact = get_object_or_404(sub_account.contacts.prefetch_related("tags"), pk=contact_id)
    context = {
        "sub_account": sub_account,
        "contact": contact,
        "consent_events": contact.consent_events.all(),
        "history": contact.messages.order_by("-created_at")[:HISTORY_LENGTH],
        "enrollments": contact.enrollments.select_related("workflow").order_by("-enrolled_at")[:HISTORY_LENGTH],
        "history_length": HISTORY_LENGTH,
        "phone_pretty": pretty(contact.phone),
        "nav": "contacts",
    }
    return render(request, "messaging/contacts/detail.html", context)


@login_required
def contact_import(request, sub_account_id):
    """Upload a CSV: the file is stored and its preview shown; nothing is imported yet."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    form = ContactImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = import_jobs.import_upload(
                sub_account=sub_account, user=request.user, upload=form.cleaned_data["file"]
            )
        except imports.InvalidImportFile as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("contact_import_job", sub_account.pk, job.pk)
    context = {
        "sub_account": sub_account, "form": form, "jobs": sub_account.import_jobs.select_related("created_by")[:20],
        "tag_rule": TAG_RULE, "nav": "contacts",
    }  # fmt: skip
    return render(request, "messaging/contacts/import.html", context)


@login_required
@vary_on_headers("HX-Request")
def contact_import_job(request, sub_account_id, job_id):
    """One import: its preview (map the columns, see the first rows and their problems, then
    import), then its progress, polled by htmx, and its report, kept afterwards."""
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    job = get_object_or_404(sub_account.import_jobs, pk=job_id)
    context = {"sub_account": sub_account, "job": job, "nav": "contacts"}
    if job.status == ImportJob.Status.PREVIEW:
        data = request.POST if request.method == "POST" else request.GET
        mapping = [data.get(f"column{i}", m) for i, m in enumerate(job.mapping)] if data else job.mapping
        if request.method == "POST" and "start" in request.POST:
            try:
                import_jobs.import_start(job=job, mapping=mapping)
            except imports.InvalidImportFile as exc:
                context["mapping_problem"] = str(exc)
            else:
                return redirect("contact_import_job", sub_account.pk, job.pk)
        rows, problem = import_jobs.import_preview(job, mapping)
        context.setdefault("mapping_problem", problem)
        columns = [(i, name, mapping[i]) for i, name in enumerate(job.header)]
        fields = [m for m in mapping if m]
        context |= {"columns": columns, "field_choices": FIELD_CHOICES, "preview": rows, "fields": fields}
        return render(request, "messaging/contacts/import_preview.html", context)
    if request.method == "POST" and "retry" in request.POST and job.status == ImportJob.Status.QUEUED:
        # “Start now” on an import whose enqueue failed (Redis down): tried again at once.
        if import_jobs.import_enqueue(job.pk):
            flash.success(request, "The import is on its way.")
        else:
            flash.error(request, "The job queue still cannot be reached; the import is tried again every minute.")
        return redirect("contact_import_job", sub_account.pk, job.pk)
    context["problems"] = job.problems.all()[:PROBLEMS_SHOWN] if not job.is_active else []
    partial = request.htmx and not request.htmx.history_restore_request
    return render(request, "messaging/contacts/import_job.html" + ("#progress" if partial else ""), context)


FIELD_CHOICES = [("", "Ignore this column")] + [(c, c) for c in imports.COLUMNS]
