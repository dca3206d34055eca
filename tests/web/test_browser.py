"""The steward pages in a real browser: Debian's Chromium, headless, driven by
Playwright. A steward signs in, works the review queue with the keyboard, sees the
golden record change, unmerges a record and approves a name variant. The task page's
screenshot is the one the README shows."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from api import Settings
from mdm.store.names import propose
from tests.api.conftest import LiveServer
from tests.web.conftest import PASSWORDS

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "screenshots" / "task-page.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if CHROMIUM is None and os.environ.get("MDM_REQUIRE_BROWSER"):
    raise RuntimeError("MDM_REQUIRE_BROWSER is set but there is no chromium on the PATH")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs Chromium: 'apt-get install chromium' (.ci/run installs it; no download)",
)


def _shot(page, name: str, tmp_path: Path) -> Path:
    """A full-page screenshot: into docs/screenshots/ with MDM_UPDATE_SCREENSHOTS=1 (the
    README's copies), otherwise into the test's temporary folder."""
    folder = SCREENSHOT.parent if os.environ.get("MDM_UPDATE_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def _sign_in(page, name: str, landing: str) -> None:
    """Sign ``name`` in on the sign-in page a signed-out visitor was sent to, and wait
    for the page asked for (``landing``, a URL glob)."""
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(landing)


def _two_customers(db: Path, condition: str) -> tuple[str, str]:
    """The first two active golden records (by id) meeting ``condition``."""
    with duckdb.connect(str(db), read_only=True) as con:
        first, second = (
            row[0]
            for row in con.execute(
                f"SELECT golden_id FROM golden WHERE status = 'active' AND {condition} "
                "ORDER BY golden_id LIMIT 2"
            ).fetchall()
        )
    return first, second


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


def test_a_steward_works_the_queue_in_a_browser(web_db: Path, browser, tmp_path: Path) -> None:
    with duckdb.connect(str(web_db)) as con:
        propose(con, "katherine", "kasia", "nickname", "test")
    # Secure cookies, as in production: the browser treats loopback as secure.
    with LiveServer(Settings(db=web_db)) as server:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{server.url}/ui/queue")
        assert "/ui/login" in page.url  # signed out: sent to sign in, then back
        _sign_in(page, "ann", "**/ui/queue")
        assert page.get_by_role("heading", name="Review queue").is_visible()
        # One task per pair of customers, each with why it waits.
        rows = page.locator("table.queue tbody tr")
        pairs = [
            frozenset(rows.nth(i).locator("a.customer").all_inner_texts())
            for i in range(rows.count())
        ]
        assert pairs and all(len(pair) == 2 for pair in pairs)
        assert len(set(pairs)) == len(pairs)
        page.wait_for_selector("body[data-reasons=shown]")  # fetched once shown
        reasons = page.locator("td.reasons").all_inner_texts()
        assert all("for:" in r or "against:" in r for r in reasons)
        _shot(page, "queue", tmp_path)

        page.locator("table.queue tbody a").first.click()
        page.wait_for_url("**/ui/tasks/*")
        task_url = page.url
        assert page.locator("svg.waterfall rect").count() >= 2  # the prior and comparisons
        assert page.get_by_text("Why the engine thinks they match").is_visible()
        # MDM_UPDATE_SCREENSHOTS=1 refreshes the README's copy; otherwise it goes to tmp.
        shot = SCREENSHOT if os.environ.get("MDM_UPDATE_SCREENSHOTS") else tmp_path / "task.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        golden_before = page.locator("a[href^='/ui/golden/']").count()
        assert golden_before == 2  # two customers, not yet one

        # S: the same person. The next task opens, and the decision is confirmed.
        page.keyboard.press("s")
        page.wait_for_url(lambda url: url != task_url)
        assert "the same person" in page.locator(".flash").inner_text()
        page.goto(task_url)
        assert page.locator("a[href^='/ui/golden/']").count() == 1  # now one customer
        page.locator("a[href^='/ui/golden/']").first.click()
        page.wait_for_url("**/ui/golden/*")
        golden_url = page.url
        records = page.locator("input[name=record]")
        assert records.count() >= 2
        _shot(page, "customer-page", tmp_path)

        # Fix a wrong merge: take one record out again.
        records.first.check()
        page.fill("input[name=reason]", "different people after all")
        page.get_by_role("button", name="Unmerge the ticked records").click()
        page.wait_for_load_state()
        assert "Taken out into" in page.locator(".flash").inner_text()
        assert page.get_by_text("is never with").first.is_visible()

        # Approve a name variant.
        page.goto(f"{server.url}/ui/names?q=kasia")
        _shot(page, "name-variants", tmp_path)
        page.get_by_role("button", name="Approve").first.click()
        page.wait_for_load_state()
        assert "is now active" in page.locator(".flash").inner_text()
        page.goto(f"{server.url}/ui/names?q=kasia")
        assert page.get_by_text("No proposals waiting").is_visible()  # kasia is decided

        # Usable on a tablet: no page is wider than the screen (wide tables scroll inside).
        page.set_viewport_size({"width": 800, "height": 1000})
        others = ("/ui/queue", "/ui/", "/ui/search?q=ferrand", "/ui/names")
        for url in (task_url, golden_url, *(server.url + path for path in others)):
            page.goto(url)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{url} is {overflow} px too wide at 800 px"
        page.close()


def test_merging_two_different_people_asks_first(web_db: Path, browser, tmp_path: Path) -> None:
    """A steward merges two customers the model holds to be different people: the page
    in between shows the evidence against and merges only with a reason, on purpose."""
    first, second = _two_customers(web_db, "record_count = 2")
    with LiveServer(Settings(db=web_db)) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{server.url}/ui/golden/{first}")
        _sign_in(page, "ann", f"**/ui/golden/{first}")
        page.fill("input[name=other]", second)
        page.get_by_role("button", name="Merge", exact=True).click()
        page.wait_for_load_state()
        warning = page.get_by_role("alert")
        assert "two different people" in warning.inner_text()
        assert page.locator("ul.against li").count() >= 1
        _shot(page, "merge-warning", tmp_path)
        # Nothing merged yet (seen in another tab); merging anyway needs a reason.
        look = context.new_page()
        look.goto(f"{server.url}/ui/golden/{second}")
        assert look.get_by_role("heading", name=f"Customer {second}").is_visible()
        assert "active" in look.locator("p.muted").first.inner_text()
        look.close()
        page.fill("input[name=reason]", "one person: the sisters' records were mixed up")
        page.get_by_role("button", name="Merge anyway").click()
        page.wait_for_load_state()
        assert "Merged into" in page.locator(".flash").inner_text()
        context.close()


def test_a_customers_history_shows_old_and_new_values_and_reasons(
    web_db: Path, browser, tmp_path: Path
) -> None:
    """A steward merges two customers with a reason, takes a record out again with a
    reason, corrects an email with a reason, and a source system updates a record: the
    customer page's history shows each with who, old -> new values and why."""
    first, second = _two_customers(web_db, "record_count = 1 AND email IS NOT NULL")
    with duckdb.connect(str(web_db), read_only=True) as con:
        (other_key,) = con.execute(
            "SELECT source || '/' || record_id FROM xref WHERE golden_id = ?", [second]
        ).fetchall()[0]
    with LiveServer(Settings(db=web_db)) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        page.goto(f"{server.url}/ui/golden/{first}")
        _sign_in(page, "ann", f"**/ui/golden/{first}")
        page.fill("input[name=other]", second)
        page.fill("input[name=reason]", "same customer number on both letters")
        page.get_by_role("button", name="Merge", exact=True).click()
        page.wait_for_load_state()
        if page.get_by_role("button", name="Merge anyway").count():
            page.fill("input[name=reason]", "same customer number on both letters")
            page.get_by_role("button", name="Merge anyway").click()
            page.wait_for_load_state()
        survivor = page.locator(".flash").inner_text().split("Merged into", 1)[1].split()[0]
        survivor = survivor.strip(".")
        page.goto(f"{server.url}/ui/golden/{survivor}")
        page.get_by_label(f"take out {other_key}").check()
        page.locator("form[action$='/unmerge'] input[name=reason]").fill("two people after all")
        page.get_by_role("button", name="Unmerge the ticked records").click()
        page.wait_for_load_state()
        was = server.client.get(f"/v1/golden/{survivor}").json()["values"]["email"]
        page.select_option("select[name=attribute]", "email")
        page.locator("form[action$='/value'] input[name=value]").fill("steward.fixed@example.net")
        page.locator("form[action$='/value'] input[name=reason]").fill(
            "customer rang to correct it"
        )
        page.get_by_role("button", name="Set value").click()
        page.wait_for_load_state()
        # A source system updates the customer's record: its phone changes.
        (key,) = server.client.get(f"/v1/golden/{survivor}").json()["records"][:1]
        record = server.client.get(f"/v1/records/{key['source']}/{key['record_id']}").json()
        values = {k: v for k, v in record["values"].items() if v is not None}
        values.update(source=key["source"], record_id=key["record_id"], phone="07700 900461")
        sent = server.client.post("/v1/records", json={"records": [values]})
        assert sent.status_code == 200, sent.text
        page.goto(f"{server.url}/ui/golden/{survivor}")
        timeline = page.locator("ul.timeline")
        text = timeline.inner_text()
        assert "Reason: “same customer number on both letters”" in text
        assert "Reason: “two people after all”" in text
        assert "Reason: “customer rang to correct it”" in text
        assert f"{was} → steward.fixed@example.net" in text
        assert "+447700900461" in text  # the upsert's new phone, after its old one
        assert page.locator("ul.timeline del").count() >= 3
        _shot(page, "customer-history", tmp_path)
        context.close()


def test_a_steward_finds_customers_and_exports_them(web_db: Path, browser, tmp_path: Path) -> None:
    """The business question "our customers in this district with no email", asked on
    the page and downloaded: the file holds exactly the customers the page found."""
    import csv

    with duckdb.connect(str(web_db), read_only=True) as con:
        postcode = con.execute(
            "SELECT min(postcode) FROM golden WHERE status = 'active' AND email IS NULL "
            "AND postcode LIKE '% %'"
        ).fetchall()[0][0]
    district = postcode.split()[0]
    with LiveServer(Settings(db=web_db)) as server:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        page = context.new_page()
        page.goto(f"{server.url}/ui/search")
        _sign_in(page, "vic", "**/ui/search")  # a viewer may search and export
        page.fill("input[name=postcode]", district.lower())
        page.get_by_label("with no email").check()
        page.get_by_role("button", name="Find").click()
        page.wait_for_load_state()
        shown = page.locator("table.customers tbody tr td:first-child a").all_inner_texts()
        assert shown
        for cells in page.locator("table.customers tbody tr").all():
            texts = cells.locator("td").all_inner_texts()
            assert texts[3] == "" and texts[7].replace(" ", "").startswith(district)
        _shot(page, "find-customers", tmp_path)
        with page.expect_download() as waiting:
            page.get_by_role("link", name="CSV").click()
        saved = tmp_path / "customers.csv"
        waiting.value.save_as(saved)
        with saved.open(encoding="utf-8") as handle:
            exported = [row["golden_id"] for row in csv.DictReader(handle)]
        assert sorted(exported) == sorted(shown)
        context.close()


def test_a_steward_works_ten_tasks_by_keyboard(web_db: Path, browser, tmp_path: Path) -> None:
    """Ten tasks in a row without the mouse: D (not the same person), S (same) and K
    (skip); each opens the next task and says what was done; the queue shrinks by the
    tasks decided."""
    with LiveServer(Settings(db=web_db)) as server:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(f"{server.url}/ui/queue")
        _sign_in(page, "ann", "**/ui/queue")
        waiting = int(page.locator("h1 .muted").inner_text().strip("()").split()[0])
        assert waiting >= 12
        page.locator("table.queue tbody a").first.click()
        page.wait_for_url("**/ui/tasks/*")
        keys = "dsdkdddsdk"
        seen = []
        for key in keys:
            seen.append(page.url)
            page.keyboard.press(key)
            page.wait_for_url(lambda url, before=page.url: url != before)
            flash = page.locator(".flash").inner_text()
            expected = {"d": "not the same person", "s": "the same person", "k": "skipped"}
            assert expected[key] in flash.lower(), (key, flash)
        assert len(set(seen)) == len(keys)  # ten different tasks
        page.goto(f"{server.url}/ui/queue")
        left = int(page.locator("h1 .muted").inner_text().strip("()").split()[0])
        decided = sum(key != "k" for key in keys)
        # A "same person" can close other tasks of the two customers too; never more stay.
        assert left <= waiting - decided
        context.close()
