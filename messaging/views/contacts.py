"""Contacts of a sub-account: a list that stays fast at 100,000 rows (search, tag, DND and
consent filters), the contact page (DND, consent ledger, message history), create/edit, and
the CSV import that imports the valid rows and reports the others by row number."""

from dataclasses import dataclass

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.vary import vary_on_headers

from accounts import access
from compliance import ledger
from messaging import imports
from messaging.automations import triggers as automations
from messaging.contacts import contact_set_tags, contacts_import
from messaging.forms import DUPLICATE_NUMBER, ConsentForm, ContactFilterForm, ContactForm, ContactImportForm
from messaging.models import Tag
from messaging.phone import pretty

PAGE_SIZE = 50
HISTORY_LENGTH = 50
ERRORS_SHOWN = 1000
LIST_COLUMNS = ("id", "sub_account_id", "phone", "first_name", "last_name", "email", "dnd", "consent")


@dataclass
class Page:
    """One page of an ordered queryset, without COUNT(*): counting a searched 100,000-row
    list is a second full scan on every keystroke. One row more than a page tells whether
    there is a next page."""

    items: list
    number: int
    has_next: bool

    @property
    def has_previous(self):
        return self.number > 1

    @property
    def start(self):
        return (self.number - 1) * PAGE_SIZE + 1

    @property
    def end(self):
        return self.start + len(self.items) - 1


def _page(queryset, number: str | None) -> Page:
    number = int(number) if (number or "").isdigit() and 0 < int(number) < 100_000 else 1
    start = (number - 1) * PAGE_SIZE
    rows = list(queryset[start : start + PAGE_SIZE + 1])
    return Page(items=rows[:PAGE_SIZE], number=number, has_next=len(rows) > PAGE_SIZE)


@login_required
@vary_on_headers("HX-Request")  # the same URL answers with the page or the partial
def contact_list(request, sub_account_id):
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    tag_names = sub_account.tags.values_list("name", flat=True)
    filters = ContactFilterForm(request.GET, tag_names=tag_names)
    contacts = (
        filters.apply(sub_account.contacts.all())
        .order_by("last_name", "first_name", "phone")  # contact_subaccount_name_idx
        .only(*LIST_COLUMNS)
        .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("id", "name")))
    )
    partial = request.htmx and not request.htmx.history_restore_request
    template = "messaging/contacts/list.html" + ("#results" if partial else "")
    context = {"sub_account": sub_account, "filters": filters, "page": _page(contacts, request.GET.get("page"))}
    return render(request, template, context | {"nav": "contacts"})


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
    sub_account = access.get_subaccount_for(request.user, sub_account_id)
    form = ContactImportForm(request.POST or None, request.FILES or None)
    context = {"sub_account": sub_account, "form": form, "nav": "contacts"}
    if request.method == "POST" and form.is_valid():
        try:
            rows, errors = imports.parse_contact_rows(form.cleaned_data["file"], time_zone=sub_account.time_zone)
        except imports.InvalidImportFile as exc:
            form.add_error("file", str(exc))
        else:
            result = contacts_import(sub_account=sub_account, rows=rows, user=request.user)
            errors = sorted([*errors, *(imports.RowError(*e) for e in result.errors)])
            context |= {"result": result, "row_errors": errors[:ERRORS_SHOWN], "error_count": len(errors)}
            context["form"] = ContactImportForm()
    return render(request, "messaging/contacts/import.html", context)
