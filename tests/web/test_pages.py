"""The steward pages over HTTP: who may see and do what, form tokens, claims, and
every page rendering with real data."""

from __future__ import annotations

import logging
import re
import shutil
from datetime import timedelta

import duckdb
import httpx
import pytest

from api import Settings
from mdm.clock import utcnow
from mdm.errors import ConflictError
from mdm.store import open_store
from mdm.workbench import CLAIM_TTL, claim, claimed_by
from tests.api.conftest import LiveServer
from tests.web.conftest import PASSWORDS, token


def _first_task(client) -> int:
    page = client.get("/ui/queue").text
    return int(re.search(r"/ui/tasks/(\d+)", page).group(1))


def test_signed_out_visitors_are_sent_to_sign_in(web) -> None:
    for path in ("/ui/", "/ui/queue", "/ui/tasks/1", "/ui/search?q=ann", "/ui/names"):
        answer = web.client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login")
    page = web.client.get("/ui/login").text
    wrong = web.client.post(
        "/ui/login", data={"csrf": token(page), "username": "ann", "password": "guess"}
    )
    assert wrong.status_code == 401 and "do not match" in wrong.text
    nobody = web.client.post(
        "/ui/login", data={"csrf": token(page), "username": "nobody", "password": "guess"}
    )
    assert nobody.status_code == 401  # the same answer for an unknown name


def test_sign_in_never_sends_a_user_to_another_site(web) -> None:
    page = web.client.get("/ui/login?next=https://evil.example/").text
    assert "evil.example" not in page
    answer = web.client.post(
        "/ui/login",
        data={"csrf": token(page), "username": "ann", "password": "correct horse battery",
              "next": "//evil.example/"},
    )  # fmt: skip
    assert answer.headers["location"] == "/ui/"


def test_every_page_renders_for_a_viewer(sign_in) -> None:
    viewer = sign_in("vic")
    task_id = _first_task(viewer)
    golden_id = re.search(r"/ui/golden/(G\w+)", viewer.get(f"/ui/tasks/{task_id}").text).group(1)
    for path in ("/ui/", "/ui/queue", "/ui/queue?band=likely&sort=oldest&age=0",
                 f"/ui/tasks/{task_id}", f"/ui/golden/{golden_id}", "/ui/search?q=ferrand",
                 "/ui/names"):  # fmt: skip
        answer = viewer.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
    task = viewer.get(f"/ui/tasks/{task_id}").text
    assert "Same person" not in task and "a steward decides it" in task
    dashboard = viewer.get("/ui/").text
    assert "duplicates found" in dashboard and "Review backlog by age" in dashboard


def test_a_viewer_cannot_decide(sign_in) -> None:
    viewer = sign_in("vic")
    task_id = _first_task(viewer)
    page = viewer.get(f"/ui/tasks/{task_id}").text
    answer = viewer.post(
        f"/ui/tasks/{task_id}/decision", data={"csrf": token(page), "decision": "same"}
    )
    assert answer.status_code == 403 and "only stewards" in answer.text
    assert f"/ui/tasks/{task_id}" in viewer.get("/ui/queue").text  # still open


def test_a_form_without_the_session_token_is_refused(sign_in) -> None:
    steward = sign_in("ann")
    task_id = _first_task(steward)
    forged = steward.post(f"/ui/tasks/{task_id}/decision", data={"decision": "same"})
    assert forged.status_code == 403 and "expired" in forged.text
    other = sign_in("bo")  # another session's token does not work either
    theirs = token(other.get("/ui/queue").text)
    crossed = steward.post(
        f"/ui/tasks/{task_id}/decision", data={"csrf": theirs, "decision": "same"}
    )
    assert crossed.status_code == 403


def test_a_claimed_task_is_decided_by_its_steward_only(sign_in) -> None:
    ann, bo = sign_in("ann"), sign_in("bo")
    task_id = _first_task(ann)
    page = ann.get(f"/ui/tasks/{task_id}").text
    assert ann.post(f"/ui/tasks/{task_id}/claim", data={"csrf": token(page)}).status_code == 303
    assert "taken by ann" in bo.get(f"/ui/tasks/{task_id}").text
    theirs = bo.get(f"/ui/tasks/{task_id}").text
    refused = bo.post(
        f"/ui/tasks/{task_id}/decision", data={"csrf": token(theirs), "decision": "different"}
    )
    assert refused.status_code == 303  # back to the task, with the reason
    assert "taken by ann" in bo.get(f"/ui/tasks/{task_id}").text
    done = ann.post(
        f"/ui/tasks/{task_id}/decision", data={"csrf": token(page), "decision": "different"}
    )
    assert done.status_code == 303
    assert "not the same person" in ann.get(done.headers["location"]).text


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(sign_in, web) -> None:
    """Sessions are kept by the server: a cookie copied before sign-out (a shared
    computer, a stolen cookie) opens nothing afterwards, and cannot claim a task."""
    ann = sign_in("ann")
    task_id = _first_task(ann)
    stolen = httpx.Client(base_url=web.url, timeout=30, cookies=dict(ann.cookies))
    try:
        assert stolen.get("/ui/queue").status_code == 200  # the copy works while signed in
        page = ann.get("/ui/queue").text
        assert ann.post("/ui/logout", data={"csrf": token(page)}).status_code == 303
        assert ann.get("/ui/queue").status_code == 303
        for path in ("/ui/queue", f"/ui/tasks/{task_id}"):
            answer = stolen.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login")
        claim = stolen.post(f"/ui/tasks/{task_id}/claim", data={"csrf": token(page)})
        assert claim.status_code == 303 and claim.headers["location"].startswith("/ui/login")
    finally:
        stolen.close()
    assert "taken by" not in sign_in("bo").get(f"/ui/tasks/{task_id}").text


def test_twenty_wrong_passwords_lock_the_account_and_are_logged(
    sign_in, web, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="mdm.security")
    with httpx.Client(base_url=web.url, timeout=30) as client:
        page = client.get("/ui/login").text
        for attempt in range(20):
            wrong = client.post(
                "/ui/login",
                data={"csrf": token(page), "username": "ann", "password": f"guess {attempt}"},
            )
            assert wrong.status_code == 401, attempt
        right = client.post(
            "/ui/login",
            data={"csrf": token(page), "username": "ann", "password": "correct horse battery"},
        )
        assert right.status_code == 429 and "paused" in right.text
        assert client.get("/ui/queue").status_code == 303  # not signed in
    failures = [r for r in caplog.records if "failed sign-in for user 'ann'" in r.getMessage()]
    assert len(failures) == 20
    assert any("sign-in locked for user 'ann'" in r.getMessage() for r in caplog.records)
    assert sign_in("bo").get("/ui/queue").status_code == 200  # others still sign in


def test_session_cookies_are_http_only_and_strict(sign_in) -> None:
    client = sign_in("ann")
    page = client.get("/ui/login")
    answer = client.post(
        "/ui/login",
        data={"csrf": token(page.text), "username": "ann", "password": "correct horse battery"},
    )
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_problems_are_pages_that_say_what_was_wrong(sign_in, web) -> None:
    steward = sign_in("ann")
    band = steward.get("/ui/queue?band=nonsense")
    assert band.status_code == 400 and "band must be one of" in band.text
    assert band.headers["content-type"].startswith("text/html")
    missing = steward.get("/ui/tasks/999999")
    assert missing.status_code == 404 and "no review task 999999" in missing.text
    gone = steward.get("/ui/golden/GNOPE")
    assert gone.status_code == 404 and "no golden record GNOPE" in gone.text
    # An error page keeps the navigation and the signed-in steward.
    for page in (band, missing, gone):
        assert 'href="/ui/queue"' in page.text and "Sign out" in page.text
    # The API keeps answering in JSON.
    api = web.client.get("/v1/golden/GNOPE")
    assert api.status_code == 404 and api.json()["error"]["type"] == "NotFoundError"


def test_the_customer_page_explains_what_happened(sign_in, web) -> None:
    """The history reads latest first; a steward's value shows with who, when and why;
    an unmerge names the records taken out and links to where they went."""
    steward = sign_in("ann")
    golden_id = _customer_of_several_records(steward)
    put = web.client.put(
        f"/v1/golden/{golden_id}/overrides/email",
        json={"value": "right@example.org", "by": "ann", "reason": "customer phoned in"},
    )
    assert put.status_code == 200, put.text
    page = steward.get(f"/ui/golden/{golden_id}").text
    assert "Set by a steward" in page and "customer phoned in" in page
    assert "right@example.org" in page
    records = re.findall(r'name="record" value="([^"]+)"', page)
    assert len(records) >= 2
    taken = steward.post(
        f"/ui/golden/{golden_id}/unmerge",
        data={"csrf": token(page), "record": records[0], "reason": "two people"},
    )
    assert taken.status_code == 303
    after = steward.get(f"/ui/golden/{golden_id}").text
    timeline = after.split('class="timeline"')[1].split("</ul>")[0]
    first = timeline.split("<li>")[1]
    assert "unmerged by a steward" in first and records[0] in first  # the latest first
    assert re.search(r'href="/ui/golden/G[0-9A-F]+"', first)  # where it went
    assert "max-height" not in steward.get("/ui/static/app.css").text.split(".timeline")[1][:80]


def _customer_of_several_records(client: httpx.Client) -> str:
    """A customer with two or more source records, found on the customer list."""
    page = client.get("/ui/search", params={"open_tasks": "yes"}).text
    for row in page.split("<tr>")[2:]:
        found = re.search(r'href="/ui/golden/(G[0-9A-F]+)"', row)
        cells = re.findall(r"<td>([^<]*)</td>", row)
        if found and any(c.isdigit() and int(c) >= 2 for c in cells):
            return found.group(1)
    raise AssertionError("the sample store has customers of several records")


def test_the_name_page_lists_what_is_worth_reading(web_db, sign_in, web) -> None:
    """Learned proposals that look like typos or two different names, or that only one
    person supports, wait behind a link; what looks like a name and more people
    support comes first, labelled."""
    steward = sign_in("ann")
    answer = web.client.post(
        "/v1/names/variants", json={"name": "xylia", "variant": "xyla", "kind": "nickname"}
    )
    assert answer.status_code == 201, answer.text
    page = steward.get("/ui/names").text
    assert "Looks like" in page and "xyla" in page  # a person's proposal is always listed
    everything = steward.get("/ui/names", params={"every": "yes"}).text
    assert everything.count("<tr>") >= page.count("<tr>")
    listed = web.client.get("/v1/names/variants", params={"status": "proposed"}).json()
    assert all(v["looks_like"] in ("typo", "nickname", "unlikely") for v in listed["variants"])


def test_the_queue_says_why_each_task_waits(sign_in) -> None:
    """Each row names the strongest comparisons for and against its pair (fetched by the
    page once it is shown, so the queue answers at once)."""
    viewer = sign_in("vic")
    page = viewer.get("/ui/queue").text
    assert "Why it waits" in page
    tasks = re.findall(r'data-task="(\d+)"', page)
    assert tasks
    reasons = viewer.get("/ui/queue/reasons", params={"task": tasks}).json()
    assert set(reasons) == set(tasks)
    assert all(r["for"] or r["against"] for r in reasons.values())
    assert any(r["against"] for r in reasons.values())
    assert viewer.get("/ui/queue/reasons", params={"task": ["x"]}).status_code == 422


def test_the_queue_form_as_a_browser_sends_it(sign_in) -> None:
    steward = sign_in("ann")  # empty fields come as empty strings
    answer = steward.get("/ui/queue?source=&band=&age=&sort=probability")
    assert answer.status_code == 200, answer.text[:300]
    older = steward.get("/ui/queue?source=crm&band=unsure&age=3&sort=oldest&page=1")
    assert older.status_code == 200


def test_a_hold_on_a_task_lapses(reconciled_db, tmp_path) -> None:
    """A steward who takes a task and leaves does not block it for ever."""
    db = tmp_path / "mdm.duckdb"
    shutil.copy(reconciled_db, db)
    with open_store(db) as con:
        task_id = con.execute("SELECT min(task_id) FROM review_tasks WHERE status = 'open'")
        task_id = task_id.fetchall()[0][0]
        claim(con, task_id, "ann")
        with pytest.raises(ConflictError, match="taken by ann"):
            claim(con, task_id, "bo")
        con.execute(
            "UPDATE task_claims SET claimed_at = ? WHERE task_id = ?",
            [utcnow() - CLAIM_TTL - timedelta(minutes=1), task_id],
        )
        assert claimed_by(con, task_id) is None
        claim(con, task_id, "bo")
        assert claimed_by(con, task_id) == "bo"


def test_changing_a_password_signs_out_everywhere_else(sign_in, web) -> None:
    here, elsewhere = sign_in("ann"), sign_in("ann")
    page = here.get("/ui/account").text
    new = {"new": "a new long one 1", "again": "a new long one 1"}
    wrong = here.post("/ui/account/password", data={"csrf": token(page), "current": "x", **new})
    assert wrong.status_code == 401 and "not right" in wrong.text
    differ = here.post("/ui/account/password", data={
        "csrf": token(page), "current": "correct horse battery", "new": "a new long one 1",
        "again": "a new long one 2"})  # fmt: skip
    assert differ.status_code == 400
    done = here.post("/ui/account/password", data={
        "csrf": token(page), "current": "correct horse battery", "new": "a new long one 1",
        "again": "a new long one 1"})  # fmt: skip
    assert done.status_code == 303, done.text
    assert "1 other session" in here.get(done.headers["location"]).text
    assert here.get("/ui/queue").status_code == 200  # this browser goes on
    assert elsewhere.get("/ui/queue").status_code == 303  # the other is signed out
    with httpx.Client(base_url=web.url, timeout=30) as client:
        login = client.get("/ui/login").text
        old = {"csrf": token(login), "username": "ann", "password": "correct horse battery"}
        assert client.post("/ui/login", data=old).status_code == 401
        new = {**old, "password": "a new long one 1"}
        assert client.post("/ui/login", data=new).status_code == 303


def test_a_proposal_shows_the_people_behind_it_side_by_side(web_db) -> None:
    """A learned name pair lists the people who used both names, each with the record
    that used one name beside the record that used the other."""
    with duckdb.connect(str(web_db)) as con:
        golden_id, first, second = con.execute(
            "SELECT x.golden_id, min(r.first_name), max(r.first_name) FROM xref x "
            "JOIN records r USING (source, record_id) WHERE r.first_name IS NOT NULL "
            "GROUP BY 1 HAVING count(DISTINCT r.first_name) = 2 ORDER BY 1 LIMIT 1"
        ).fetchall()[0]
        con.execute(
            "INSERT INTO name_variants VALUES (?, ?, 'nickname', 'learned', NULL, 2, "
            "'proposed', now(), now()) ON CONFLICT DO NOTHING",
            [first, second],
        )
        con.execute(
            "INSERT INTO name_variant_evidence VALUES (?, ?, ?, 1) ON CONFLICT DO NOTHING",
            [first, second, golden_id],
        )
    with LiveServer(Settings(db=web_db, secure_cookies=False)) as server:
        client = httpx.Client(base_url=server.url, timeout=30)
        login = client.get("/ui/login").text
        client.post("/ui/login", data={"csrf": token(login), "username": "ann",
                                       "password": PASSWORDS["ann"]})  # fmt: skip
        page = client.get("/ui/names", params={"every": "yes", "q": first}).text
        client.close()
    table = page.split('class="side-by-side"')[1].split("</table>")[0]
    assert golden_id in table
    cells = re.findall(r"<td>([^<]+)<div", table)
    assert [c.split()[0].lower() for c in cells[:2]] == [first.split()[0], second.split()[0]]
