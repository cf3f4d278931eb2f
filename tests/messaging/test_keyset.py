"""Keyset pages (issue 16): every row on exactly one page in both directions, stable under
inserts, the last page read from the end, and a cursor that cannot be read is the first page."""

import pytest

from messaging.keyset import keyset_page
from messaging.models import Contact

pytestmark = pytest.mark.django_db
BY_NAME = ("last_name", "first_name", "phone")
NEWEST = ("-created_at", "-id")


@pytest.fixture
def many(world):
    Contact.objects.bulk_create(
        [Contact(sub_account=world.a1, phone=f"+1718555{i:04}", last_name=f"L{i % 7}") for i in range(120)]
    )
    return world.a1.contacts.all()


@pytest.mark.parametrize("order", [BY_NAME, NEWEST, ("-last_name", "-first_name", "-phone")])
def test_forward_and_backward_pages_cover_every_row_once(many, order):
    expected = [c.pk for c in many.order_by(*order)]
    seen, page = [], keyset_page(many, order, size=50)
    assert not page.has_previous
    while True:
        seen += [c.pk for c in page.items]
        if not page.has_next:
            break
        page = keyset_page(many, order, after=page.next_cursor, size=50)
    assert seen == expected
    last = keyset_page(many, order, last=True, size=50)
    assert [c.pk for c in last.items] == expected[-50:] and last.has_previous and not last.has_next
    before = keyset_page(many, order, before=last.previous_cursor, size=50)
    assert [c.pk for c in before.items] == expected[-100:-50] and before.has_next


def test_a_row_inserted_before_the_cursor_does_not_shift_the_next_page(many, world):
    first = keyset_page(many, BY_NAME, size=50)
    second = [c.pk for c in keyset_page(many, BY_NAME, after=first.next_cursor, size=50).items]
    Contact.objects.create(sub_account=world.a1, phone="+17185559999", last_name="")  # sorts first
    assert [c.pk for c in keyset_page(many, BY_NAME, after=first.next_cursor, size=50).items] == second


@pytest.mark.parametrize("cursor", ["garbage", "W10", "WyJhIl0", "!!"])
def test_an_unreadable_cursor_is_the_first_page(many, cursor):
    first = [c.pk for c in keyset_page(many, BY_NAME, size=50).items]
    assert [c.pk for c in keyset_page(many, BY_NAME, after=cursor, size=50).items] == first
