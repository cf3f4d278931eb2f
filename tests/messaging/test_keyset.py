"""Keyset pages (issue 16): every row on exactly one page in both directions, stable under
inserts, the last page read from the end, and a cursor that cannot be read — also one whose
values are not their fields' type, which was a 500 on the contact list — is the first page, or,
for the API (strict), InvalidCursor."""

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


def _cursor(values) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


WELL_FORMED_BUT_WRONG = [
    _cursor(["not a date", "6f1c8a55-8a3e-4c59-9d76-6c0a2d8e0a11"]),
    _cursor(["2026-11-02T15:00:00", "6f1c8a55-8a3e-4c59-9d76-6c0a2d8e0a11"]),  # naive: encode() never writes one
    _cursor(["2026-11-02T15:00:00+00:00", "not-a-uuid"]),
]


@pytest.mark.parametrize("cursor", WELL_FORMED_BUT_WRONG)
def test_values_that_are_not_their_fields_type_are_the_first_page_not_an_error(many, cursor):
    first = [c.pk for c in keyset_page(many, NEWEST, size=50).items]
    assert [c.pk for c in keyset_page(many, NEWEST, after=cursor, size=50).items] == first
    assert [c.pk for c in keyset_page(many, NEWEST, before=cursor, size=50).items] == first


@pytest.mark.parametrize("cursor", ["garbage", "W10", *WELL_FORMED_BUT_WRONG])
def test_strict_pages_refuse_a_cursor_they_did_not_write(many, cursor):
    from messaging.keyset import InvalidCursor

    with pytest.raises(InvalidCursor):
        keyset_page(many, NEWEST, after=cursor, size=50, strict=True)
    with pytest.raises(InvalidCursor):
        keyset_page(many, NEWEST, before=cursor, size=50, strict=True)


def test_the_contact_list_sorted_by_date_with_a_hand_edited_cursor_is_its_first_page(many, world, login):
    from django.urls import reverse

    url = reverse("contact_list", args=[world.a1.pk])
    response = login(world.a1_user).get(url, {"sort": "-created", "after": WELL_FORMED_BUT_WRONG[0]})
    assert response.status_code == 200 and not response.context["page"].has_previous
