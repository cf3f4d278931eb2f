"""Many rows in one statement: PostgreSQL's COPY, fed Python values that psycopg adapts itself.
Django's bulk_create compiles every value of every row through the field machinery (about a
third of a bulk send's CPU); a Bulk SMS writes two rows per recipient, a dispatch wave one
event per message. Elsewhere (SQLite: the tests, a laptop) it is bulk_create."""

from django.db import connection


def insert(model, fields: list[str], rows: list[tuple]) -> None:
    """Insert `rows` (values in the order of `fields`, field attnames: `contact_id`, not
    `contact`) into `model`'s table. Values are stored as given: defaults, `auto_now` and
    choices are the caller's (they are not applied here)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create((model(**dict(zip(fields, row, strict=True))) for row in rows), batch_size=1000)
        return
    meta = model._meta
    columns = ", ".join(connection.ops.quote_name(meta.get_field(name).column) for name in fields)
    with connection.cursor() as cursor, cursor.copy(f"COPY {meta.db_table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def insert_objects(objs: list) -> None:
    """Insert model instances built in memory, every column as it is on the instance (their
    primary keys included: set by the field's default when they were built)."""
    if not objs:
        return
    fields = [f.attname for f in objs[0]._meta.concrete_fields]
    insert(type(objs[0]), fields, [tuple(getattr(obj, name) for name in fields) for obj in objs])
