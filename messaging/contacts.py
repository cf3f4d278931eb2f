"""Contacts: find or create by number, tags, unread counts, and the CSV import's writes (the
parsing and validation are in `messaging.imports`)."""

from django.db import IntegrityError, connection, transaction

from accounts.models import SubAccount
from compliance import ledger
from compliance.models import ConsentEvent
from messaging.automations import triggers as automations
from messaging.automations.enrolling import enroll
from messaging.automations.models import Workflow
from messaging.models import Consent, Contact, Dnd, Tag
from messaging.phone import to_e164


def contact_get_or_create(*, sub_account: SubAccount, phone: str, **fields) -> tuple[Contact, bool]:
    """Find a contact by number (any format `phonenumbers` parses) or create it. Raises
    InvalidPhoneNumber for input that is not a valid number."""
    e164 = to_e164(phone)
    try:
        with transaction.atomic():
            contact, created = Contact.objects.get_or_create(sub_account=sub_account, phone=e164, defaults=fields)
    except IntegrityError:  # created concurrently by another request
        contact, created = Contact.objects.get(sub_account=sub_account, phone=e164), False
    if created:
        automations.contacts_created(sub_account_id=sub_account.pk, contact_ids=[contact.pk])
    return contact, created


def contact_set_tags(*, contact: Contact, names) -> None:
    names = sorted({n.strip()[:50] for n in names if n and n.strip()})
    tags = [Tag.objects.get_or_create(sub_account_id=contact.sub_account_id, name=n)[0] for n in names]
    had = set(contact.tags.values_list("pk", flat=True))
    contact.tags.set(tags)
    automations.tags_added(
        sub_account_id=contact.sub_account_id, links=[(contact.pk, t.pk) for t in tags if t.pk not in had]
    )


# --- Bulk actions of the contacts list ---------------------------------------------------------
# Only what the policy allows in bulk: tags and enrolling. DND is never removed in bulk (R2),
# so no such action exists here or on the page.

BULK_MAX = 1000  # contacts per action: what one page of checkboxes can select, with room


class BulkActionError(ValueError):
    """An action that cannot be done as asked; the message is for the user."""


def _selected(sub_account: SubAccount, contact_ids) -> list:
    """The ids of `contact_ids` that are this sub-account's contacts (others are ignored: a
    forged id of another tenant selects nothing)."""
    ids = list(contact_ids)[: BULK_MAX + 1]
    if len(ids) > BULK_MAX:
        raise BulkActionError(f"At most {BULK_MAX:,} contacts at a time.")
    return list(Contact.objects.filter(sub_account=sub_account, pk__in=ids).values_list("pk", flat=True))


def contacts_add_tag(*, sub_account: SubAccount, contact_ids, name: str) -> int:
    """Tag the selected contacts; returns how many got it now. Triggers "tag added" workflows."""
    name = name.strip()
    if not name or len(name) > 50 or any(not ch.isprintable() for ch in name):
        raise BulkActionError("Type a tag of 1 to 50 characters.")
    ids = _selected(sub_account, contact_ids)
    with transaction.atomic():
        tag, _ = Tag.objects.get_or_create(sub_account=sub_account, name=name)
        through = Contact.tags.through
        had = set(through.objects.filter(tag=tag, contact_id__in=ids).values_list("contact_id", flat=True))
        new = [pk for pk in ids if pk not in had]
        through.objects.bulk_create([through(contact_id=pk, tag_id=tag.pk) for pk in new], ignore_conflicts=True)
        automations.tags_added(sub_account_id=sub_account.pk, links=[(pk, tag.pk) for pk in new])
    return len(new)


def contacts_remove_tag(*, sub_account: SubAccount, contact_ids, name: str) -> int:
    ids = _selected(sub_account, contact_ids)
    tag = Tag.objects.filter(sub_account=sub_account, name=name.strip()).first()
    if tag is None:
        raise BulkActionError(f"There is no tag “{name.strip()}”.")
    removed, _ = Contact.tags.through.objects.filter(tag=tag, contact_id__in=ids).delete()
    return removed


def contacts_enroll(*, sub_account: SubAccount, contact_ids, workflow_id, user) -> tuple[int, int]:
    """Enroll the selected contacts in an active or paused workflow of this sub-account:
    (enrolled, skipped: already in it, or through it before with re-entry off). Its messages
    go through the one send path with its rules (DND, consent, hours) like any enrollment's."""
    workflow = Workflow.objects.filter(sub_account=sub_account, pk=workflow_id).first()
    if workflow is None or workflow.status not in (Workflow.Status.ACTIVE, Workflow.Status.PAUSED):
        raise BulkActionError("Choose an active or paused workflow.")
    ids = _selected(sub_account, contact_ids)
    who = user.email if user else "a user"
    with transaction.atomic():
        created = enroll(workflow=workflow, contact_ids=ids, trigger=f"Enrolled from the contacts list by {who}")
    return len(created), len(ids) - len(created)


def contact_mark_read(contact: Contact) -> None:
    Contact.objects.filter(pk=contact.pk, unread_count__gt=0).update(unread_count=0)


def contact_mark_unread(contact: Contact) -> None:
    """ "Mark as unread" in the inbox: at least one unread, so the thread stands out again."""
    Contact.objects.filter(pk=contact.pk, unread_count=0).update(unread_count=1)


# --- Contact import -------------------------------------------------------------------------

IMPORT_BATCH = 2000  # rows a transaction: ~1 s of work, few enough commits (each one an fsync)
_IMPORT_FETCH = ("id", "sub_account_id", "phone", "dnd", "consent", "first_name", "last_name", "email", "address")


class ImportResult:
    """Counts of what an import wrote, and the rows it could write only in part."""

    def __init__(self):
        self.created = self.updated = self.consents = 0
        self.errors: list[tuple[int, str]] = []  # (row number, reason)


def contacts_import(*, sub_account: SubAccount, rows, user=None) -> ImportResult:
    """Write validated import rows (`messaging.imports`): create or update each contact by
    number, add its tags, record its opt-in (R10). One transaction per IMPORT_BATCH rows, so a
    large file never holds a long transaction and a failure loses at most one batch."""
    result = ImportResult()
    for start in range(0, len(rows), IMPORT_BATCH):
        with transaction.atomic():
            _contacts_import_batch(sub_account, rows[start : start + IMPORT_BATCH], user, result)
    return result


def _contacts_import_batch(sub_account, rows, user, result) -> None:
    phones = [r.phone for r in rows]
    # The contacts on record, with only the columns compared or checked below.
    contacts = {c.phone: c for c in sub_account.contacts.filter(phone__in=phones).only(*_IMPORT_FETCH)}
    # A new contact with a proof of opt-in is created with its consent granted: it cannot have
    # opted out by text, and its opt-in event is appended below in the same transaction.
    new = {
        r.phone: Contact(
            sub_account=sub_account, phone=r.phone, consent=Consent.GRANTED if r.consent else Consent.NONE, **r.fields
        )
        for r in rows
        if r.phone not in contacts
    }
    if new:
        Contact.objects.bulk_create(new.values(), ignore_conflicts=True)
        # A number created meanwhile by another request was skipped by the insert: it is
        # read back and updated like any contact on record.
        ids = dict(sub_account.contacts.filter(phone__in=list(new)).values_list("phone", "id"))
        raced = [phone for phone, contact in new.items() if ids[phone] != contact.pk]
        for phone in raced:
            del new[phone]
        if raced:
            contacts |= {c.phone: c for c in sub_account.contacts.filter(phone__in=raced).only(*_IMPORT_FETCH)}
        contacts |= new
    automations.contacts_created(sub_account_id=sub_account.pk, contact_ids=[c.pk for c in new.values()], via="import")
    changed, columns = [], set()
    for r in rows:
        if r.phone in new:
            result.created += 1
            continue
        result.updated += 1
        contact = contacts[r.phone]
        # Only the cells that have a value: an empty cell never erases what is on record.
        differ = [name for name, value in r.fields.items() if getattr(contact, name) != value]
        for name in differ:
            setattr(contact, name, r.fields[name])
        if differ:
            changed.append(contact)
            columns.update(differ)
    if changed:
        _contacts_update_columns(changed, sorted(columns))
    _contacts_import_tags(sub_account, rows, contacts, new)
    _contacts_import_consents(sub_account, rows, contacts, new, user, result)


def _contacts_update_columns(contacts, columns) -> None:
    """One `UPDATE … FROM (VALUES …)` per chunk for the changed columns of `contacts`, instead
    of `bulk_update`, which builds one CASE WHEN per row and column in Python (0.1–0.2 ms each:
    most of a re-import's time when every row changes) and makes the database test each row
    against every WHEN. Portable: PostgreSQL and SQLite (3.33+) both read this form."""
    qn = connection.ops.quote_name
    table, pk = qn(Contact._meta.db_table), Contact._meta.pk
    fields = [Contact._meta.get_field(name) for name in columns]
    names = ", ".join(qn(f.column) for f in fields)
    sets = ", ".join(f"{qn(f.column)} = v.{qn(f.column)}" for f in fields)
    row = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
    per_query = min(500, (connection.features.max_query_params or 65_535) // (len(fields) + 1))
    with connection.cursor() as cursor:
        for start in range(0, len(contacts), per_query):
            chunk = contacts[start : start + per_query]
            params = []
            for contact in chunk:
                params.append(pk.get_db_prep_value(contact.pk, connection))
                params.extend(f.get_db_prep_save(getattr(contact, f.attname), connection) for f in fields)
            cursor.execute(
                f"WITH v(id, {names}) AS (VALUES {', '.join([row] * len(chunk))}) "  # noqa: S608 - names are the model's
                f"UPDATE {table} SET {sets} FROM v WHERE {table}.{qn(pk.column)} = v.id",
                params,
            )


def _contacts_import_tags(sub_account, rows, contacts, new) -> None:
    """Tags are added, never removed: importing a list tagged "spring" keeps a contact's other tags."""
    names = {name for r in rows for name in r.tags}
    if not names:
        return
    Tag.objects.bulk_create([Tag(sub_account=sub_account, name=n) for n in names], ignore_conflicts=True)
    tag_ids = dict(Tag.objects.filter(sub_account=sub_account, name__in=names).values_list("name", "id"))
    through = Contact.tags.through
    pairs = {(contacts[r.phone].pk, tag_ids[name]) for r in rows for name in r.tags}
    # Only a contact on record can have had a tag: a contact created by this batch has none.
    known = {contacts[r.phone].pk for r in rows if r.tags and r.phone not in new}
    had = set()
    if known:
        had = set(
            through.objects.filter(contact_id__in=known, tag_id__in=set(tag_ids.values())).values_list(
                "contact_id", "tag_id"
            )
        )
    through.objects.bulk_create([through(contact_id=c, tag_id=t) for c, t in pairs - had], ignore_conflicts=True)
    automations.tags_added(sub_account_id=sub_account.pk, links=sorted(pairs - had, key=str))


def _contacts_import_consents(sub_account, rows, contacts, new, user, result) -> None:
    """R10: one opt-in per row with consent columns, as `ledger.consent_record_opt_in` records it, but
    for the whole batch in at most three queries (a file of 50,000 rows one at a time was five a
    row). The same proof imported again is not appended a second time, so importing a file twice
    leaves the ledger as it was."""
    rows = [r for r in rows if r.consent]
    if not rows:
        return
    # A contact created by this batch has no proof on record yet.
    known = [contacts[r.phone].pk for r in rows if r.phone not in new]
    on_record = set()
    if known:
        on_record = set(
            ConsentEvent.objects.filter(contact_id__in=known, kind=ConsentEvent.Kind.OPT_IN).values_list(
                "contact_id", "at", "source", "ip_or_method", "url"
            )
        )
    opted_out_error = f"Consent not recorded: {ledger.OPTED_OUT_BY_TEXT}"
    events, granted = [], []
    for r in rows:
        contact, proof = contacts[r.phone], r.consent
        if (contact.pk, proof.at, proof.source, proof.ip_or_method, proof.url) in on_record:
            continue
        # R2, R4: a contact who opted out by text can only opt back in by text; the contact is
        # saved, the opt-in is not (the same check and sentence as `ledger.consent_record_opt_in`).
        if contact.dnd == Dnd.PERMANENT and contact.consent == Consent.REVOKED:
            result.errors.append((r.row, opted_out_error))
            continue
        events.append(
            ConsentEvent(
                sub_account_id=sub_account.pk, contact_id=contact.pk, kind=ConsentEvent.Kind.OPT_IN,
                source=proof.source or "unspecified", at=proof.at, ip_or_method=proof.ip_or_method, url=proof.url,
                recorded_by=user,
            )
        )  # fmt: skip
        if r.phone not in new and contact.consent != Consent.GRANTED:
            granted.append(contact.pk)
    if not events:
        return
    ConsentEvent.objects.bulk_create(events)
    result.consents += len(events)
    if granted:
        # The opt-out condition again in the UPDATE itself: a STOP committed since the contacts
        # were read keeps its revoked consent (the ledger then reads opt-in at the proof's time,
        # opt-out after).
        Contact.objects.filter(pk__in=granted).exclude(dnd=Dnd.PERMANENT, consent=Consent.REVOKED).update(
            consent=Consent.GRANTED
        )
