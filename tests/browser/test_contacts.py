"""In the browser: tick rows on the contacts list and add a tag (it shows on those rows only),
and import a CSV — the preview with its problems, start, the progress bar moving while the RQ
worker runs, and the final report with the rows not imported (issues 15, 16)."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import SubAccount
from messaging.models import Contact, ImportJob
from tests.browser.test_login_roles import log_in

pytestmark = pytest.mark.browser
ROWS = 20_000  # 10 batches of IMPORT_BATCH (2,000): the worker takes seconds, the page polls every second


@pytest.fixture
def owner_page(page, live_server, demo_data):
    log_in(page, live_server.url, "owner@sunrise.test")
    return page


def test_tick_rows_and_add_a_tag(owner_page, live_server):
    page = owner_page
    sunrise = SubAccount.objects.get(name="Sunrise Dental")
    page.goto(f"{live_server.url}/s/{sunrise.pk}/contacts/")
    expect(page.get_by_test_id("total")).to_contain_text(f"{sunrise.contacts.count()} in all")
    rows = page.get_by_test_id("contact-results").locator("tbody tr")
    first, second, third = (rows.nth(i) for i in range(3))
    names = [r.locator("td").nth(1).inner_text() for r in (first, second, third)]
    first.get_by_role("checkbox").check()
    second.get_by_role("checkbox").check()
    expect(page.get_by_test_id("selected-count")).to_have_text("2 selected")
    # What the policy allows in bulk, and never a DND removal (R2).
    options = page.locator("#bulk-action option").all_inner_texts()
    assert "Add a tag" in options and "Remove a tag" in options
    assert not any("DND" in o for o in options)

    page.locator("#bulk-action").select_option("add_tag")
    page.locator("#bulk-tag").fill("spring-2027")
    page.get_by_role("button", name="Apply to selected").click()
    expect(page.get_by_role("status")).to_contain_text("Tag “spring-2027” added to 2 contact(s).")
    rows = page.get_by_test_id("contact-results").locator("tbody tr")
    expect(rows.nth(0).locator(".badge", has_text="spring-2027")).to_be_visible()
    expect(rows.nth(1).locator(".badge", has_text="spring-2027")).to_be_visible()
    expect(rows.nth(2).locator(".badge", has_text="spring-2027")).to_have_count(0)
    assert [r.locator("td").nth(1).inner_text() for r in (rows.nth(0), rows.nth(1), rows.nth(2))] == names
    assert sunrise.contacts.filter(tags__name="spring-2027").count() == 2

    # "Select all on this page" ticks every row of the page.
    page.locator("[data-select-all]").check()
    expect(page.get_by_test_id("selected-count")).to_have_text(f"{rows.count()} selected")


def import_file() -> bytes:
    """ROWS valid rows, with two problems among the first rows the preview shows."""
    lines = ["Phone,First Name,Last Name,Tags"]
    for i in range(ROWS):
        area = "929" if i < 10_000 else "347"
        lines.append(f"+1{area}555{i % 10_000:04d},P{i},Imported,imported")
        if i == 1:
            lines.append("not a number,Bad,Phone,")
        if i == 3:
            lines.append("+19295550000,Twice,Again,")  # the number of row 2
    return ("\n".join(lines) + "\n").encode()


def test_import_preview_progress_and_report(owner_page, live_server, run_jobs):
    page = owner_page
    sunrise = SubAccount.objects.get(name="Sunrise Dental")
    before = sunrise.contacts.count()
    page.goto(f"{live_server.url}/s/{sunrise.pk}/contacts/")
    page.get_by_role("link", name="Import CSV").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Import contacts")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "spring.csv", "mimeType": "text/csv", "buffer": import_file()}]
    )
    page.get_by_role("button", name="Upload and preview").click()

    # The preview: the columns as guessed, the first rows, the unreadable number marked.
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the columns of spring.csv")
    expect(page.get_by_test_id("column-0")).to_have_value("phone")
    expect(page.get_by_test_id("column-3")).to_have_value("tags")
    preview = page.get_by_test_id("preview-row")
    expect(preview).to_have_count(10)
    expect(preview.nth(0)).to_contain_text("+19295550000")
    expect(preview.nth(2)).to_contain_text("Not imported")
    assert sunrise.contacts.count() == before  # nothing is imported by the preview

    page.get_by_test_id("start-import").click()
    expect(page).to_have_url(re.compile(r"/contacts/import/[0-9a-f-]{36}/$"))
    expect(page.get_by_test_id("import-progress")).to_have_attribute("hx-trigger", "every 1s")
    # Every value the bar takes, recorded in the page while the worker runs in this thread.
    page.evaluate(
        """() => { window.barValues = [];
        setInterval(() => { const bar = document.querySelector('[data-testid="bar"]');
          if (bar) window.barValues.push(Number(bar.value)); }, 100); }"""
    )
    run_jobs()  # the RQ worker (burst) runs the import: 10 batches, each committed
    expect(page.get_by_test_id("state")).to_have_text("Finished", timeout=30_000)
    expect(page.get_by_test_id("bar")).to_have_attribute("value", "100")  # the same swap as "Finished"
    seen = page.evaluate("window.barValues")  # sampled every 100 ms: may stop just short of that swap
    assert any(0 < v < 100 for v in seen), f"the bar never showed a partial value: {sorted(set(seen))}"
    expect(page.get_by_test_id("import-progress")).not_to_have_attribute("hx-trigger", "every 1s")

    # The report: rows read, problems by row number with the reason, kept on the page.
    expect(page.get_by_test_id("rows-done")).to_contain_text(f"{ROWS + 2} of {ROWS + 2} rows read · 2 problems")
    errors = page.get_by_test_id("row-errors").locator("tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.nth(0).locator("td").first).to_have_text("4")
    expect(errors.nth(1).locator("td").first).to_have_text("7")
    expect(errors.nth(1)).to_contain_text("row 2")
    job = ImportJob.objects.get(sub_account=sunrise)
    assert (job.created, job.error_count) == (ROWS, 2)
    assert Contact.objects.filter(sub_account=sunrise, last_name="Imported").count() == ROWS

    page.reload()
    expect(page.get_by_test_id("state")).to_have_text("Finished")
    expect(page.get_by_test_id("row-errors").locator("tbody tr")).to_have_count(2)
