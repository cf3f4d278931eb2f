"""Contact CSV import: row-level validation (pure, `parse_contact_rows`), writing in batches
(`contacts_import`), and the upload page."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from compliance.models import ConsentEvent
from messaging import contacts
from messaging.imports import InvalidImportFile, RowError, parse_contact_rows
from messaging.models import Contact

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


def parse(text, **kwargs):
    return parse_contact_rows(text, now=NOW, **kwargs)


# --- Parsing (no database) ------------------------------------------------------------------


def test_valid_rows_are_normalised():
    rows, errors = parse(
        "Phone,First_Name,LAST NAME,email,tags\n(212) 555-0101,Ann,Lee,ann@example.com,vip; spring|vip\n"
    )
    assert errors == []
    (row,) = rows
    assert (row.row, row.phone, row.tags) == (2, "+12125550101", ("spring", "vip"))
    assert row.fields == {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}


def test_invalid_rows_are_reported_with_spreadsheet_row_numbers_and_reasons():
    text = (
        "phone,email,consent_at,consent_source\n"
        "2125550101,,,\n"  # row 2: valid
        "not a number,,,\n"  # row 3
        ",someone@example.com,,\n"  # row 4
        "2125550102,not-an-email,,\n"  # row 5
        "\n"  # row 6: blank, skipped
        "2125550103,,yesterday,web\n"  # row 7
        "2125550104,,,web form\n"  # row 8: consent without its time
        "+1 212 555 0101,,,\n"  # row 9: the number of row 2 again
        "2125550105,,2999-01-01T00:00,web\n"  # row 10: future
    )
    rows, errors = parse(text)
    assert [r.row for r in rows] == [2]
    assert errors == [
        RowError(3, "“not a number” is not a phone number."),
        RowError(4, "Phone number is missing."),
        RowError(5, "“not-an-email” is not a valid email address."),
        RowError(7, "consent_at “yesterday” is not an ISO 8601 date/time (2024-05-01T14:30)."),
        RowError(8, "consent_at is required when consent is given."),
        RowError(9, "Same number as row 2: only that row was imported."),
        RowError(10, "consent_at is in the future."),
    ]


def test_consent_columns_naive_time_is_in_the_sub_accounts_zone():
    text = "phone,consent_source,consent_at,consent_ip,consent_url\n"
    text += "2125550101,Web form,2025-03-01 09:30,203.0.113.7,sunrise.example.com/join\n"
    (row,), _ = parse(text, time_zone="America/New_York")
    assert row.consent.at == datetime(2025, 3, 1, 9, 30, tzinfo=NY) == datetime(2025, 3, 1, 14, 30, tzinfo=UTC)
    assert (row.consent.source, row.consent.ip_or_method) == ("Web form", "203.0.113.7")
    assert row.consent.url == "https://sunrise.example.com/join"


def test_consent_time_with_offset_or_date_only():
    text = "phone,consent_at\n2125550101,2025-03-01T09:30Z\n2125550102,2025-03-01\n"
    rows, _ = parse(text, time_zone="America/New_York")
    assert rows[0].consent.at == datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    assert rows[1].consent.at == datetime(2025, 3, 1, tzinfo=NY)
    assert rows[1].consent.source == "CSV import"


def test_semicolon_separated_file_and_bom_free_text():
    rows, errors = parse("phone;first_name;tags\n2125550101;Zoë;a|b\n")
    assert errors == [] and rows[0].fields == {"first_name": "Zoë"} and rows[0].tags == ("a", "b")


def test_unknown_columns_are_reported_on_the_header_row():
    rows, errors = parse("phone,emial\n2125550101,x@example.com\n")
    assert len(rows) == 1 and errors == [RowError(1, "Unknown column “emial” was ignored.")]


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "The file is empty."), ("name,email\nAnn,a@example.com\n", "needs a “phone” column")],
)
def test_file_level_problems(text, message):
    with pytest.raises(InvalidImportFile, match=message):
        parse(text)


def test_a_cell_with_a_nul_is_a_row_error():
    """The csv module passes NUL through and PostgreSQL refuses it: one bad cell must not lose the batch."""
    rows, errors = parse("phone,first_name,tags\n2125550101,Ann\x00,\n2125550102,Bo,vip\x00\n2125550103,Cy,\n")
    assert [r.phone for r in rows] == ["+12125550103"]
    assert errors == [
        RowError(2, "first_name contains a NUL character."),
        RowError(3, "tags contains a NUL character."),
    ]


def test_more_than_50_tags_in_a_row_is_a_row_error():
    rows, errors = parse("phone,tags\n2125550101," + ";".join(f"t{i}" for i in range(51)) + "\n")
    assert rows == [] and errors == [RowError(2, "A contact has at most 50 tags; 51 were given.")]


def test_tags_follow_one_rule_commas_too():
    """Issue 15: a cell `vip,lead` became the one tag "vip,lead"; the form splits on commas, so
    the import does too (and on ; and | as before)."""
    rows, errors = parse('phone,tags\n2125550101,"vip,lead"\n2125550102,a;b|c\n')
    assert errors == [] and [r.tags for r in rows] == [("lead", "vip"), ("a", "b", "c")]


def test_a_row_whose_tags_cannot_be_read_is_reported_not_imported():
    rows, errors = parse('phone,tags\n2125550101,"vip\nlead"\n2125550102,' + "x" * 51 + "\n2125550103,ok\n")
    assert [r.row for r in rows] == [4]
    assert [e.row for e in errors] == [2, 3]
    assert "line break" in errors[0].reason and "at most 50 characters" in errors[1].reason


def test_too_many_rows_is_refused():
    with pytest.raises(InvalidImportFile, match="more than 3 rows"):
        parse("phone\n" + "".join(f"21255501{i:02}\n" for i in range(4)), max_rows=3)
    rows, _ = parse("phone\n" + "".join(f"21255501{i:02}\n" for i in range(3)), max_rows=3)
    assert len(rows) == 3


# --- Writing and the page --------------------------------------------------------------------


def import_url(world):
    return reverse("contact_import", args=[world.a1.pk])


def upload(client, world, text, *, bom=False, name="contacts.csv"):
    data = ("\ufeff" if bom else "") + text
    return client.post(import_url(world), {"file": SimpleUploadedFile(name, data.encode(), content_type="text/csv")})


@pytest.fixture
def do_import(run_jobs, django_capture_on_commit_callbacks):
    """Upload, confirm the preview's mapping, run the job: the job's page (its report)."""

    def _import(client, world, text, **kwargs):
        response = upload(client, world, text, **kwargs)
        assert response.status_code == 302, response.content.decode()[:2000]
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(response["Location"], {"start": "1"}).status_code == 302
        run_jobs()
        return client.get(response["Location"])

    return _import


MIXED = (
    "phone,first_name,last_name,email,tags,consent_source,consent_at,consent_ip,consent_url\n"
    "(212) 555-0101,Ann,Lee,ann@example.com,vip;spring,Website form,2025-03-01 09:30,203.0.113.7,https://sunrise.example.com/join\n"
    "garbage,Bad,Phone,,,,,,\n"
    "2125550102,Bo,,bo@@example,,,,,\n"
    "2125550103,Cy,,,,Paper form,not-a-date,front desk,\n"
    "2125550104,Di,,,spring,,,,\n"
    ",No,Phone,,,,,,\n"
)


@pytest.mark.django_db
def test_csv_import_imports_valid_rows_and_reports_the_others(world, login, do_import):
    world.a1.time_zone = "America/New_York"
    world.a1.save()
    response = do_import(login(world.a1_user), world, MIXED, bom=True)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="created">2<' in page and 'data-testid="updated">0<' in page
    assert 'data-testid="consents">1<' in page and 'data-testid="error-count">4<' in page
    for row, reason in [
        (3, "“garbage” is not a phone number."),
        (4, "“bo@@example” is not a valid email address."),
        (5, "consent_at “not-a-date” is not an ISO 8601"),
        (7, "Phone number is missing."),
    ]:
        assert f"<td>{row}</td><td>{reason}" in page

    ann = Contact.objects.get(sub_account=world.a1, phone="+12125550101")
    assert (ann.first_name, ann.last_name, ann.email, ann.consent) == ("Ann", "Lee", "ann@example.com", "granted")
    assert sorted(ann.tags.values_list("name", flat=True)) == ["spring", "vip"]
    di = Contact.objects.get(sub_account=world.a1, phone="+12125550104")
    assert list(di.tags.values_list("name", flat=True)) == ["spring"] and di.consent == "none"
    assert not Contact.objects.filter(phone__in=["+12125550102", "+12125550103"]).exists()

    event = ConsentEvent.objects.get()
    assert (event.contact, event.sub_account, event.kind, event.recorded_by) == (ann, world.a1, "opt_in", world.a1_user)
    assert (event.source, event.ip_or_method, event.url) == (
        "Website form",
        "203.0.113.7",
        "https://sunrise.example.com/join",
    )
    assert event.at == datetime(2025, 3, 1, 14, 30, tzinfo=UTC)  # 09:30 in New York (EST)


@pytest.mark.django_db
def test_csv_with_a_nul_cell_imports_the_other_rows(world, login, do_import):
    text = "phone,first_name\n2125550101,Ann\x00\n2125550102,Bo\n"
    page = do_import(login(world.a1_user), world, text).content.decode()
    assert "<td>2</td><td>first_name contains a NUL character." in page
    imported = Contact.objects.filter(phone__in=["+12125550101", "+12125550102"]).values_list("phone", flat=True)
    assert list(imported) == ["+12125550102"]


@pytest.mark.django_db
def test_reimport_updates_instead_of_duplicating(world, login, do_import):
    client = login(world.a1_user)
    do_import(client, world, MIXED)
    text = "phone,first_name,email,tags,consent_source,consent_at,consent_ip,consent_url\n"
    text += "+1 212-555-0101,Annie,,new,Website form,2025-03-01T09:30,203.0.113.7,https://sunrise.example.com/join\n"
    text += f"{world.a1_contact.phone},,ava@example.com,,,,,\n"
    page = do_import(client, world, text).content.decode()
    assert 'data-testid="created">0<' in page and 'data-testid="updated">2<' in page
    assert Contact.objects.filter(sub_account=world.a1, phone="+12125550101").count() == 1
    ann = Contact.objects.get(sub_account=world.a1, phone="+12125550101")
    assert (ann.first_name, ann.last_name, ann.email) == ("Annie", "Lee", "ann@example.com")  # empty cells keep data
    assert sorted(ann.tags.values_list("name", flat=True)) == ["new", "spring", "vip"]  # tags are added
    world.a1_contact.refresh_from_db()
    assert (world.a1_contact.first_name, world.a1_contact.email) == ("Ava", "ava@example.com")
    # The same proof twice is one ledger entry.
    assert ConsentEvent.objects.filter(contact=ann).count() == 1


@pytest.mark.django_db
def test_import_never_opts_in_a_contact_who_opted_out_by_text(world, login, do_import):
    Contact.objects.filter(pk=world.a1_contact.pk).update(dnd="permanent", consent="revoked")
    text = f"phone,first_name,consent_source,consent_at\n{world.a1_contact.phone},Ava,Web,2025-01-01T10:00\n"
    page = do_import(login(world.a1_user), world, text).content.decode()
    assert "<td>2</td><td>Consent not recorded: This contact opted out by text message" in page
    world.a1_contact.refresh_from_db()
    assert world.a1_contact.consent == "revoked" and not ConsentEvent.objects.exists()


@pytest.mark.django_db
def test_opt_ins_of_a_batch_skip_only_the_contacts_who_opted_out_by_text(world):
    """R2, R4 in the set-based write: the opted-out row is reported, the others of the same
    batch are opted in (temporary DND does not block an opt-in), and the same file again
    appends nothing."""
    stopped = Contact.objects.create(sub_account=world.a1, phone="+12125550111", dnd="permanent", consent="revoked")
    paused = Contact.objects.create(sub_account=world.a1, phone="+12125550112", dnd="temporary")
    text = "phone,consent_source,consent_at,consent_ip\n" + "".join(
        f"{phone},Web form,2025-03-0{i}T10:00,203.0.113.{i}\n"
        for i, phone in enumerate([world.a1_contact.phone, stopped.phone, paused.phone, "+12125550113"], start=1)
    )
    rows, _ = parse(text)
    result = contacts.contacts_import(sub_account=world.a1, rows=rows, user=world.a1_user)
    assert (result.created, result.updated, result.consents) == (1, 3, 3)
    assert result.errors == [
        (3, "Consent not recorded: This contact opted out by text message (permanent DND): only they can opt "
            "back in, by texting START."),
    ]  # fmt: skip
    consent = dict(world.a1.contacts.values_list("phone", "consent"))
    assert consent == {
        world.a1_contact.phone: "granted", stopped.phone: "revoked", paused.phone: "granted", "+12125550113": "granted"
    }  # fmt: skip
    event = ConsentEvent.objects.get(contact=paused)
    assert (event.sub_account, event.kind, event.source, event.ip_or_method, event.recorded_by) == (
        world.a1, "opt_in", "Web form", "203.0.113.3", world.a1_user
    )  # fmt: skip
    assert event.at == datetime(2025, 3, 3, 10, 0, tzinfo=UTC)

    again = contacts.contacts_import(sub_account=world.a1, rows=rows, user=world.a1_user)
    assert (again.consents, len(again.errors), ConsentEvent.objects.count()) == (0, 1, 3)


@pytest.mark.django_db
def test_import_query_count_does_not_grow_with_the_rows(world, django_assert_max_num_queries):
    """200 new contacts with tags and an opt-in each, then the same numbers with new names and
    new proofs: a fixed number of queries per batch (one at a time it was five a row). SQLite
    splits the inserts at 999 parameters, hence a few more there."""

    def csv(variant):
        return "phone,first_name,tags,consent_source,consent_at,consent_url\n" + "".join(
            f"+1718555{i:04},Ann{i}{variant},t{i % 3};all,Web{variant},2025-03-01T10:00,https://a.example/{variant}\n"
            for i in range(200)
        )

    rows, _ = parse(csv("a"))
    with django_assert_max_num_queries(20):
        result = contacts.contacts_import(sub_account=world.a1, rows=rows, user=None)
    assert (result.created, result.consents, result.errors) == (200, 200, [])
    rows, _ = parse(csv("b"))
    with django_assert_max_num_queries(20):
        result = contacts.contacts_import(sub_account=world.a1, rows=rows, user=None)
    assert (result.updated, result.consents, result.errors) == (200, 200, [])
    assert world.a1.contacts.filter(first_name="Ann7b", consent="granted").count() == 1
    assert ConsentEvent.objects.count() == 400


@pytest.mark.django_db
def test_import_writes_in_batches_and_counts_across_them(world):
    text = "phone,tags\n" + "".join(f"+1718555{i:04},t{i % 3}\n" for i in range(1, 1202))
    rows, errors = parse(text)
    assert errors == [] and len(rows) == 1201
    result = contacts.contacts_import(sub_account=world.a1, rows=rows, user=None)
    assert (result.created, result.updated, result.errors) == (1201, 0, [])
    assert world.a1.contacts.count() == 1202 and world.a1.tags.count() == 3
    assert world.a1.contacts.filter(tags__name="t0").count() == 400

    # The same numbers again, every row changing three columns: written in chunks (SQLite takes
    # at most 999 parameters a query), each contact its own values, the fourth column untouched.
    text = "phone,first_name,last_name,email\n" + "".join(
        f"+1718555{i:04},F{i},L{i},c{i}@example.com\n" for i in range(1, 1202)
    )
    rows, _ = parse(text)
    Contact.objects.filter(sub_account=world.a1, phone="+17185550007").update(address="1 Main St")
    result = contacts.contacts_import(sub_account=world.a1, rows=rows, user=None)
    assert (result.created, result.updated) == (0, 1201)
    imported = world.a1.contacts.filter(phone__startswith="+1718")
    values = {c.phone: (c.first_name, c.last_name, c.email) for c in imported}
    assert values == {f"+1718555{i:04}": (f"F{i}", f"L{i}", f"c{i}@example.com") for i in range(1, 1202)}
    assert world.a1.contacts.get(phone="+17185550007").address == "1 Main St"


@pytest.mark.django_db
def test_oversized_file_is_refused(world, login, monkeypatch):
    monkeypatch.setattr("messaging.forms.CONTACT_IMPORT_MAX_BYTES", 1024)
    text = "phone\n" + "2125550101\n" * 100
    response = upload(login(world.a1_user), world, text)
    assert "the limit is 200 MB" in response.content.decode()
    assert world.a1.contacts.count() == 1


@pytest.mark.django_db
def test_file_level_errors_are_shown_on_the_form(world, login):
    client = login(world.a1_user)
    assert "is empty" in upload(client, world, "\n").content.decode()
    latin1 = SimpleUploadedFile("c.csv", "phone,first_name\n2125550101,Zoë\n".encode("latin-1"))
    assert "is not UTF-8 text" in client.post(import_url(world), {"file": latin1}).content.decode()
    assert world.a1.contacts.count() == 1 and not world.a1.import_jobs.exists()
    # No column named phone: the preview says so and cannot start until one is chosen.
    preview = client.get(upload(client, world, "name,mobile\nAnn,2125550101\n")["Location"]).content.decode()
    assert "needs a “phone” column" in preview and 'data-testid="start-import" disabled' in preview


@pytest.mark.django_db
def test_import_of_another_tenant_is_404_and_writes_nothing(world, login):
    response = upload(login(world.b_admin), world, "phone\n2125550199\n")
    assert response.status_code == 404 and not Contact.objects.filter(phone="+12125550199").exists()


@pytest.mark.django_db
def test_an_import_job_run_twice_or_resumed_imports_once(world, login, do_import):
    """Issue 16: a retried job duplicates no contact, consent event or problem; a job resumed
    after its checkpoint (a worker killed mid-file) writes only the rows after it."""
    from messaging.import_jobs import import_job_run
    from messaging.models import ImportJob

    text = "phone,consent_source,consent_at\n" + "".join(f"+1718555{i:04},Web,2025-03-01T10:00\n" for i in range(1200))
    text += "+17185550000,Web,2025-03-01T10:00\nbad,,\n"
    page = do_import(login(world.a1_user), world, text).content.decode()
    job = ImportJob.objects.get()
    assert (job.status, job.created, job.total_rows, job.error_count) == ("done", 1200, 1202, 2)
    assert "<td>1202</td><td>Same number as row 2" in page
    import_job_run(job.pk)  # run again: done, nothing to do
    ImportJob.objects.filter(pk=job.pk).update(status="running", last_row=501)  # resumed after row 501
    import_job_run(job.pk)
    assert world.a1.contacts.count() == 1201 and ConsentEvent.objects.count() == 1200
    job.refresh_from_db()
    assert job.status == "done" and job.problems.count() == 4  # only the rows after the checkpoint again


@pytest.mark.django_db
def test_an_import_started_while_redis_is_down_says_so_and_starts_once_it_is_back(
    world, login, redis_down, run_jobs, django_capture_on_commit_callbacks
):
    """Issue 16: it stayed “Waiting to start” for ever. Now the page says the queue could not be
    reached and offers “Start now”; the cron sweep queues it again once Redis answers, and a job
    already on the queue is not queued a second time."""
    from messaging.import_jobs import NOT_QUEUED, import_jobs_requeue
    from messaging.models import ImportJob

    client = login(world.a1_user)
    job_url = upload(client, world, "phone,first_name\n2125550101,Ann\n2125550102,Bo\n")["Location"]
    with redis_down():
        with django_capture_on_commit_callbacks(execute=True):
            assert client.post(job_url, {"start": "1"}).status_code == 302
        job = ImportJob.objects.get()
        assert (job.status, job.failure) == ("queued", NOT_QUEUED)
        page = client.get(job_url).content.decode()
        assert "Waiting to start" in page and NOT_QUEUED in page
        assert 'data-testid="retry-import"' in page
        # “Start now” while Redis is still down: said, and still waiting.
        page = client.post(job_url, {"retry": "1"}, follow=True).content.decode()
        assert "still cannot be reached" in page
        assert import_jobs_requeue() == 0  # the sweep cannot reach it either
    job.refresh_from_db()
    assert (job.status, job.failure) == ("queued", NOT_QUEUED)

    assert import_jobs_requeue() == 1  # Redis is back: the next sweep queues it
    job.refresh_from_db()
    assert job.failure == ""
    assert 'data-testid="retry-import"' not in client.get(job_url).content.decode()
    assert import_jobs_requeue() == 0  # on the queue already: not twice
    run_jobs()
    job.refresh_from_db()
    assert (job.status, job.created) == ("done", 2)
    assert world.a1.contacts.filter(phone__in=["+12125550101", "+12125550102"]).count() == 2


@pytest.mark.django_db
def test_start_now_queues_an_import_whose_enqueue_failed(
    world, login, redis_down, run_jobs, django_capture_on_commit_callbacks
):
    from messaging.models import ImportJob

    client = login(world.a1_user)
    job_url = upload(client, world, "phone\n2125550101\n")["Location"]
    with redis_down(), django_capture_on_commit_callbacks(execute=True):
        client.post(job_url, {"start": "1"})
    page = client.post(job_url, {"retry": "1"}, follow=True).content.decode()
    assert "The import is on its way." in page and ImportJob.objects.get().failure == ""
    run_jobs()
    assert ImportJob.objects.get().status == "done"
    assert world.a1.contacts.filter(phone="+12125550101").exists()
