"""The contact list's match count (issue 16): counting a search's matches repeats its scan of
every contact, so the list never waits for it. Free when every match is on the page; else the
page says it is counting and asks for it in a second request (htmx), or, without JS, offers a
link that counts; capped; another tenant's list is a 404 with the count too."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from messaging.models import Contact
from messaging.views import contacts as contact_views

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def contacts(world):
    """70 Smiths and 50 Joneses in a1 (with Ava: 121)."""
    Contact.objects.bulk_create(
        [Contact(sub_account=world.a1, phone=f"+1718555{i:04}", last_name="Smith" if i < 70 else "Jones")
         for i in range(120)]
    )  # fmt: skip


def get(client, world, headers=None, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("contact_list", args=[world.a1.pk]), params, headers=headers or {})
    counts = [q["sql"] for q in queries.captured_queries if q["sql"].upper().startswith("SELECT COUNT(")
              and 'FROM "messaging_contact"' in q["sql"]]  # fmt: skip
    return response, response.content.decode(), counts


def matching_text(html: str) -> str:
    return re.sub(r"\s+", " ", re.search(r'data-testid="matching"[^>]*>(.*?)</p>', html, re.S).group(1)).strip()


def test_all_matches_on_one_page_are_counted_for_free(world, login, contacts):
    _, html, counts = get(login(world.a1_user), world, q="Jones")
    assert matching_text(html) == "50 of 121 match these filters." and len(counts) == 1  # the total only


def test_more_than_a_page_the_list_comes_first_then_the_count(world, login, contacts):
    client = login(world.a1_user)
    _, html, counts = get(client, world, q="Smith")
    assert "Counting the matches…" in html and len(counts) == 1  # the list did not wait for the count
    count_url = re.search(r'hx-get="([^"]*count=1[^"]*)" hx-trigger="load"', html).group(1).replace("&amp;", "&")
    assert "q=Smith" in count_url
    response = client.get(count_url, headers=HTMX)
    part = response.content.decode()
    assert matching_text(part) == "70 of 121 match these filters." and 'data-testid="contact-results"' not in part


def test_the_count_request_reads_no_page_of_contacts(world, login, contacts):
    client = login(world.a1_user)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("contact_list", args=[world.a1.pk]), {"q": "Smith", "count": "1"}, headers=HTMX)
    selects = [q["sql"] for q in queries.captured_queries if 'FROM "messaging_contact"' in q["sql"]]
    assert selects and all("COUNT(" in s.upper() for s in selects)  # the match count and the total, no rows


def test_without_js_a_link_counts(world, login, contacts):
    client = login(world.a1_user)
    _, html, _ = get(client, world, q="Smith")
    assert "<noscript><a href=" in html and "Count the matches" in html
    _, html, counts = get(client, world, q="Smith", count="1")
    assert matching_text(html) == "70 of 121 match these filters." and len(counts) == 2


def test_the_count_stops_at_the_cap(world, login, contacts, monkeypatch):
    monkeypatch.setattr(contact_views, "COUNT_CAP", 60)
    client = login(world.a1_user)
    response = client.get(reverse("contact_list", args=[world.a1.pk]), {"q": "Smith", "count": "1"}, headers=HTMX)
    assert matching_text(response.content.decode()) == "More than 60 of 121 match these filters."


def test_no_filter_no_match_count(world, login, contacts):
    _, html, counts = get(login(world.a1_user), world)
    assert matching_text(html) == "" and len(counts) == 1


def test_another_tenant_cannot_count(world, login, contacts):
    response = login(world.b_admin).get(
        reverse("contact_list", args=[world.a1.pk]), {"q": "Smith", "count": "1"}, headers=HTMX
    )
    assert response.status_code == 404
