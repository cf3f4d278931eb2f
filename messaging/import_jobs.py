"""The contact CSV import as a background job (issue 16): the upload stores the file (an
ImportJob), the user checks the column mapping on a preview of the first rows, and an RQ job
reads the stored file as a stream and writes it in batches (`contacts.contacts_import`).

Memory stays flat whatever the file's length: the file is read a record at a time, a batch of
IMPORT_BATCH rows at most is held, and the numbers already seen (a number twice in one file is
reported on its second row) are kept in Redis, not in the worker. Safe to run twice: each
batch, its problems and the job's checkpoint (`last_row`) commit in one transaction, under the
job's row lock; a retried job skips the rows up to the checkpoint, and a second run of the same
job at the same time stops at its first batch. The writes themselves are idempotent as well
(contacts by number, the same consent proof never appended twice)."""

import codecs
import csv
import io
import logging
from datetime import datetime

import django_rq
import redis
from django.db import transaction
from django.utils import timezone

from accounts.models import SubAccount
from messaging import imports
from messaging.contacts import IMPORT_BATCH, contacts_import
from messaging.models import ImportJob, ImportProblem

log = logging.getLogger(__name__)
PREVIEW_ROWS = 10
HEAD_BYTES = 64 * 1024  # read at upload to check the file is UTF-8 CSV with a header
SEEN_TTL = 2 * 24 * 3600  # while the job may still run (be retried)
SEEN_KEPT = 600  # after it has ended


class Stop(Exception):
    """Another run of the same job is ahead of this one."""


def _text(binary):
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")


def _reader(text):
    first = text.readline()
    header_reader = csv.reader([first], dialect=imports.sniff_dialect(first))
    header = next(header_reader, [])
    return header, csv.reader(text, dialect=imports.sniff_dialect(first))


def import_upload(*, sub_account: SubAccount, user, upload) -> ImportJob:
    """Store an uploaded CSV as an ImportJob waiting for its preview. Raises InvalidImportFile
    when its start is not UTF-8 or it has no header row."""
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    try:
        text = head.decode("utf-8-sig") if len(head) < HEAD_BYTES else _decode_prefix(head)
    except UnicodeDecodeError:
        raise imports.InvalidImportFile(
            "The file is not UTF-8 text. In Excel, save it as “CSV UTF-8 (Comma delimited)”."
        ) from None
    first = text.split("\n", 1)[0]
    header = next(csv.reader([first], dialect=imports.sniff_dialect(first)), [])
    if not any(h.strip() for h in header):
        raise imports.InvalidImportFile("The file is empty.")
    job = ImportJob(sub_account=sub_account, created_by=user, file_name=upload.name[:255], header=header)
    job.mapping = imports.guess_mapping(header)
    job.file.save(upload.name, upload, save=False)  # in chunks: the request never holds the file
    job.save()
    return job


def _decode_prefix(head: bytes) -> str:
    """The first bytes as text; a character cut at the end of the read is not an error."""
    return codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)


def import_preview(job: ImportJob, mapping: list[str]) -> tuple[list[tuple[int, dict, str]], str]:
    """The first rows as `mapping` reads them: (row number, {field: value}, problem or ""),
    and the mapping's own problem ("" when it can be imported)."""
    try:
        imports.check_mapping(job.header, mapping)
    except imports.InvalidImportFile as exc:
        problem = str(exc)
    else:
        problem = ""
    shown = []
    with job.file.open("rb") as binary:
        _, reader = _reader(_text(binary))
        try:
            for number, item in imports.parse_records(
                reader, mapping, time_zone=job.sub_account.time_zone, now=timezone.now()
            ):
                values = {}
                if not isinstance(item, imports.RowError):
                    values = {"phone": item.phone, **item.fields, "tags": ", ".join(item.tags)}
                    if item.consent:
                        values["consent_at"] = item.consent.at.isoformat(timespec="minutes")
                shown.append((number, values, item.reason if isinstance(item, imports.RowError) else ""))
                if len(shown) >= PREVIEW_ROWS:
                    break
        except (csv.Error, UnicodeDecodeError) as exc:
            problem = problem or f"The file cannot be read after row {len(shown) + 1}: {exc}."
    return shown, problem


def import_start(*, job: ImportJob, mapping: list[str]) -> bool:
    """preview → queued with the confirmed mapping, the job enqueued on commit. Raises
    InvalidImportFile for a mapping that cannot be imported; False when it had started already
    (a second click)."""
    imports.check_mapping(job.header, mapping)
    changed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.PREVIEW).update(
        status=ImportJob.Status.QUEUED, mapping=mapping
    )
    if changed:
        transaction.on_commit(lambda: import_enqueue(job.pk))
    return bool(changed)


NOT_QUEUED = (
    "The import has not started: the job queue could not be reached. It is tried again every minute, "
    "or press “Start now”."
)


def _rq_id(job_id) -> str:
    return f"import-{job_id}"


def import_enqueue(job_id) -> bool:
    """Put the job on the queue (one RQ job id per import). When the queue cannot be reached
    (Redis down) the import says so on its page (`failure`, while still queued) instead of
    waiting for ever: `import_jobs_requeue` (cron) and the page's “Start now” try again."""
    try:
        django_rq.get_queue("default").enqueue(import_job_run, job_id, job_id=_rq_id(job_id), job_timeout=6 * 3600)
    except Exception:  # Redis down (or any error of the queue): said on the job's page
        log.warning("import %s: could not be queued", job_id, exc_info=True)
        ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(failure=NOT_QUEUED)
        return False
    ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED, failure=NOT_QUEUED).update(failure="")
    return True


def import_jobs_requeue() -> int:
    """Cron safety net (every minute): a confirmed import that is not on the queue — its enqueue
    failed (Redis was down), or Redis lost its queue — is queued again. A job on the queue twice
    is harmless: the second run finds it done, or stops at its first batch."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    connection = django_rq.get_connection("default")
    requeued = 0
    for job_id in ImportJob.objects.filter(status=ImportJob.Status.QUEUED).values_list("pk", flat=True)[:100]:
        try:
            lost = Job.fetch(_rq_id(job_id), connection=connection).get_status() in ("failed", "stopped", "canceled")
        except NoSuchJobError:
            lost = True
        except redis.exceptions.RedisError:
            log.warning("import sweep: Redis cannot be reached; tried again at the next run", exc_info=True)
            break
        if lost and import_enqueue(job_id):
            requeued += 1
    return requeued


def import_job_run(job_id) -> None:
    """The RQ job. Reloads the job, resumes after its checkpoint, and marks it done or failed."""
    job = ImportJob.objects.select_related("sub_account", "created_by").get(pk=job_id)
    if job.status not in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING):
        return  # done, failed, or never confirmed: nothing to do
    now = timezone.now()
    ImportJob.objects.filter(pk=job.pk, started_at__isnull=True).update(started_at=now)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, failure="")
    try:
        if job.total_rows is None:
            job.total_rows = _count_rows(job)
            ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
        _run(job, now)
    except Stop:
        return
    except (csv.Error, UnicodeDecodeError) as exc:
        _finish(job, ImportJob.Status.FAILED, f"The file cannot be read after row {job.last_row}: {exc}. "
                "The rows before it were imported.")  # fmt: skip
        return
    except Exception:
        _finish(
            job, ImportJob.Status.FAILED, "The import stopped on an unexpected error; the rows before it were imported."
        )
        raise
    _finish(job, ImportJob.Status.DONE, "")


def _finish(job, status, failure):
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
        status=status, failure=failure, finished_at=timezone.now()
    )
    _Seen(job).forget()


def _count_rows(job) -> int:
    with job.file.open("rb") as binary:
        _, reader = _reader(_text(binary))
        return sum(1 for cells in reader if any(cell.strip() for cell in cells))


def _run(job: ImportJob, now: datetime) -> None:
    seen = _Seen(job)
    with job.file.open("rb") as binary:
        _, reader = _reader(_text(binary))
        rows, problems, records, last = [], [], 0, job.last_row
        for number, item in imports.parse_records(reader, job.mapping, time_zone=job.sub_account.time_zone, now=now):
            if number <= job.last_row:
                continue  # written by an earlier run of this job
            records += 1
            last = number
            (problems if isinstance(item, imports.RowError) else rows).append(item)
            if records >= IMPORT_BATCH:
                _batch(job, rows, problems, records, last, seen)
                rows, problems, records = [], [], 0
        if records:
            _batch(job, rows, problems, records, last, seen)


def _batch(job, rows, problems, records, last, seen) -> None:
    rows, duplicates = seen.split(rows)
    problems = problems + duplicates
    with transaction.atomic():
        locked = ImportJob.objects.select_for_update().get(pk=job.pk)
        if locked.last_row != job.last_row or locked.status != ImportJob.Status.RUNNING:
            raise Stop
        result = contacts_import(sub_account=job.sub_account, rows=rows, user=job.created_by)
        problems = sorted([*problems, *(imports.RowError(*e) for e in result.errors)])
        ImportProblem.objects.bulk_create(
            [
                ImportProblem(sub_account_id=job.sub_account_id, job_id=job.pk, row=p.row, reason=p.reason[:500])
                for p in problems
            ]
        )
        for name, value in (("created", result.created), ("updated", result.updated), ("consents", result.consents),
                            ("error_count", len(problems)), ("rows_done", records)):  # fmt: skip
            setattr(job, name, getattr(locked, name) + value)
        job.last_row = last
        job.save(update_fields=["created", "updated", "consents", "error_count", "rows_done", "last_row"])


class _Seen:
    """The numbers of this file written so far and the row of each, in a Redis hash of the job
    (a worker's memory would grow with the file). A row whose number an earlier row had is
    reported; the same row again (a retried batch) is not a duplicate of itself."""

    def __init__(self, job):
        self.key = f"import:{job.pk}:seen"
        self.redis = django_rq.get_connection("default")

    def split(self, rows):
        if not rows:
            return rows, []
        first = {}
        for r in rows:
            first.setdefault(r.phone, r.row)
        pipe = self.redis.pipeline(transaction=False)  # one round trip; HSETNX decides each number
        for phone, row in first.items():
            pipe.hsetnx(self.key, phone, row)
        pipe.hmget(self.key, list(first))
        pipe.expire(self.key, SEEN_TTL)
        *_, rows_of, _ = pipe.execute()
        recorded = {phone: int(row) for phone, row in zip(first, rows_of, strict=True)}
        kept, duplicates = [], []
        for r in rows:
            if recorded[r.phone] == r.row:
                kept.append(r)
            else:
                duplicates.append(imports.RowError(r.row, imports.duplicate_reason(recorded[r.phone])))
        return kept, duplicates

    def forget(self):
        """The job has ended: its numbers are dropped soon (SEEN_KEPT), not after SEEN_TTL."""
        try:
            self.redis.expire(self.key, SEEN_KEPT)
        except redis.exceptions.RedisError:  # Redis down: the key expires by itself (SEEN_TTL)
            log.warning("import: could not shorten the life of %s", self.key, exc_info=True)
