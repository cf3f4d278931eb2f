"""Keyset pagination ("seek"): a page is the rows after (or before) the last one shown, found
through the index in the list's order, so the last page of 100,000 rows costs what the first
does (OFFSET reads and throws away every row before it) and a row inserted meanwhile never
shifts a row onto two pages or off both. The cursor is the order's values of one row, in the
query string. In a page a person reads, a cursor that cannot be read is the first page, never
an error; the API asks for `strict=True` and answers a 400 (InvalidCursor). Either way each
value is read back through its model field, so a cursor edited by hand (a date that is not a
date, an id that is not a UUID) never reaches the database, and the page is always a slice of
the queryset given: the tenant's, so a cursor never shows another tenant's rows."""

import base64
import json
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan


class InvalidCursor(ValueError):
    """A cursor this code did not write (strict pages only)."""


@dataclass
class KeysetPage:
    items: list
    has_next: bool
    has_previous: bool
    next_cursor: str = ""
    previous_cursor: str = ""


def encode(values) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else str(v) for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode(cursor: str, length: int) -> list | None:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(values, list) or len(values) != length or not all(isinstance(v, str) for v in values):
        return None
    return values


def _typed(model, names, values: list | None) -> list | None:
    """The cursor's values as their fields' Python values, or None if one cannot be."""
    if values is None:
        return None
    try:
        typed = [model._meta.get_field(n).to_python(v) for n, v in zip(names, values, strict=True)]
    except (ValidationError, FieldDoesNotExist, ValueError, TypeError, OverflowError):
        return None
    # encode() writes aware datetimes only: a naive one was typed by hand.
    if any(isinstance(v, datetime) and v.utcoffset() is None for v in typed):
        return None
    return typed


def position(model, names: tuple[str, ...], cursor: str) -> list | None:
    """A cursor's values as the fields' Python values, or None if it is not one encode() wrote."""
    return _typed(model, list(names), decode(cursor, len(names))) if cursor else None


def keyset_page(
    queryset, order: tuple[str, ...], *, after="", before="", last=False, size=50, strict=False
) -> KeysetPage:
    """One page of `queryset` in `order` (field names, each "-" for descending, all the same
    direction; the last ones must make the order total, e.g. a unique column). `after`: the
    page after that cursor; `before`: the page before it; `last`: the last page. `strict`: a
    cursor that cannot be read raises InvalidCursor instead of giving the first page."""
    descending = order[0].startswith("-")
    names = [name.lstrip("-") for name in order]
    reverse = [("" if descending else "-") + n for n in names]
    key = Tuple(*(F(n) for n in names))
    forward_lookup, backward_lookup = (
        (TupleLessThan, TupleGreaterThan) if descending else (TupleGreaterThan, TupleLessThan)
    )
    model = queryset.model
    after_values = _typed(model, names, decode(after, len(names))) if after else None
    before_values = _typed(model, names, decode(before, len(names))) if before else None
    if strict and ((after and after_values is None) or (before and before_values is None)):
        raise InvalidCursor("This cursor is not one this API gave out: follow the next and previous links as given.")
    if before_values is not None or last:
        qs = queryset.order_by(*reverse)
        if before_values is not None:
            qs = qs.filter(backward_lookup(key, before_values))
        rows = list(qs[: size + 1])
        items = rows[:size][::-1]
        page = KeysetPage(items, has_next=before_values is not None, has_previous=len(rows) > size)
    else:
        qs = queryset.order_by(*order)
        if after_values is not None:
            qs = qs.filter(forward_lookup(key, after_values))
        rows = list(qs[: size + 1])
        items = rows[:size]
        page = KeysetPage(items, has_next=len(rows) > size, has_previous=after_values is not None)
    if items:
        page.next_cursor = encode(getattr(items[-1], n) for n in names)
        page.previous_cursor = encode(getattr(items[0], n) for n in names)
    return page
