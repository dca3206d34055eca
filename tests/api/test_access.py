"""API keys and roles: every endpoint, called with every role and with no key, does
what the README's role table says; keys are made, listed and revoked; rate and body
limits answer 429 and 413 with messages that say what to do."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from api import Settings, create_app
from api.access import ACCESS
from mdm.store.keys import ROLES
from tests.api.conftest import LiveServer

REPO = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| `(GET|POST|PUT|DELETE) (/v1/[^`]*)` \|(.*)\|\s*$")


def readme_table() -> dict[tuple[str, str], set[str]]:
    """The README's role table: (method, path) -> the roles ticked."""
    table = {}
    for line in (REPO / "README.md").read_text().splitlines():
        found = ROW.match(line)
        if found is None:
            continue
        cells = [cell.strip() for cell in found.group(3).split("|")]
        if len(cells) != len(ROLES):
            continue  # another table's row
        table[(found.group(1), found.group(2))] = {
            role for role, cell in zip(ROLES, cells, strict=True) if cell == "✓"
        }
    return table


def v1_routes() -> set[tuple[str, str]]:
    """Every /v1 endpoint the app serves (as its OpenAPI schema lists them)."""
    paths = create_app(Settings(db=Path("unused.duckdb"))).openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/v1")
        for method in operations
    }


def test_the_readme_table_the_code_and_the_routes_agree() -> None:
    table = readme_table()
    assert len(table) >= 29
    routes = v1_routes()
    assert set(table) == routes, set(table) ^ routes
    assert {key: set(roles) for key, roles in ACCESS.items()} == table
    assert all("admin" in roles for roles in table.values())


def _call(client: httpx.Client, method: str, path: str) -> httpx.Response:
    concrete = re.sub(r"\{task_id\}", "999999", path)
    concrete = re.sub(r"\{[a-z_]+\}", "nothing-here", concrete)
    if method in ("POST", "PUT"):
        return client.request(method, concrete, json={})
    return client.request(method, concrete)


def test_every_endpoint_with_every_role_and_with_no_key(live: LiveServer) -> None:
    """The role table, walked: an allowed role is never refused for who it is (the
    dummy call may still be a 404 or a 422), any other role gets a 403, no key a 401."""
    table = readme_table()
    clients = {role: live.as_role(role) for role in ROLES}
    deviations = []
    try:
        for (method, path), allowed in sorted(table.items()):
            anonymous = _call(live.anon, method, path)
            if anonymous.status_code != 401:
                deviations.append((method, path, "no key", anonymous.status_code))
            for role, client in clients.items():
                status = _call(client, method, path).status_code
                refused = status in (401, 403)
                if refused == (role in allowed) or (refused and status != 403):
                    deviations.append((method, path, role, status))
    finally:
        for client in clients.values():
            client.close()
    assert deviations == []


def test_a_refusal_says_what_was_wrong(live: LiveServer) -> None:
    missing = live.anon.post("/v1/match", json={"first_name": "Ann"})
    assert missing.status_code == 401 and "Authorization: Bearer" in missing.text
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = httpx.post(
        f"{live.url}/v1/match", json={"first_name": "Ann"},
        headers={"Authorization": "Bearer mdm_000000000000_nope"},
    )  # fmt: skip
    assert wrong.status_code == 401 and "not valid" in wrong.text
    with live.as_role("etl") as etl:
        denied = etl.post("/v1/match", json={"first_name": "Ann"})
    assert denied.status_code == 403
    message = denied.json()["error"]["message"]
    assert "role etl" in message and "operational" in message


def test_keys_are_made_listed_and_revoked_through_the_api(live: LiveServer) -> None:
    made = live.client.post("/v1/keys", json={"name": "web shop", "role": "operational",
                                              "by": "ops"})  # fmt: skip
    assert made.status_code == 201, made.text
    token, key_id = made.json()["token"], made.json()["key_id"]
    assert token.startswith(f"mdm_{key_id}_")
    listed = live.client.get("/v1/keys").json()
    assert key_id in {k["key_id"] for k in listed["keys"]}
    assert token not in live.client.get("/v1/keys").text  # never shown again
    shop = {"Authorization": f"Bearer {token}"}
    ann = {"first_name": "Ann", "last_name": "Lee"}
    assert httpx.post(f"{live.url}/v1/match", json=ann, headers=shop).is_success
    gone = live.client.delete(f"/v1/keys/{key_id}")
    assert gone.status_code == 200 and gone.json()["revoked_at"]
    after = httpx.post(f"{live.url}/v1/match", json=ann, headers=shop)
    assert after.status_code == 401
    assert live.client.delete(f"/v1/keys/{key_id}").status_code == 409
    assert live.client.delete("/v1/keys/nope").status_code == 404
    bad = live.client.post("/v1/keys", json={"name": "x", "role": "root", "by": "ops"})
    assert bad.status_code == 422
    every = live.client.get("/v1/keys", params={"revoked": True}).json()["keys"]
    assert any(k["key_id"] == key_id and k["revoked_at"] for k in every)


def test_a_key_expires_and_its_last_use_is_kept(live: LiveServer) -> None:
    """A key made to expire works until then and is refused after, saying so; the key
    list shows when each key was last used, and the revocation names the admin key."""
    soon = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    made = live.client.post("/v1/keys", json={"name": "trial", "role": "operational",
                                              "by": "ops", "expires_at": soon})  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json()["expires_at"] and made.json()["last_used_at"] is None
    trial = {"Authorization": f"Bearer {made.json()['token']}"}
    ann = {"first_name": "Ann", "last_name": "Lee"}
    assert httpx.post(f"{live.url}/v1/match", json=ann, headers=trial).is_success
    key_id = made.json()["key_id"]
    keys = {k["key_id"]: k for k in live.client.get("/v1/keys").json()["keys"]}
    assert keys[key_id]["last_used_at"]  # seen in memory, written every ten minutes
    time.sleep(3.2)
    refused = httpx.post(f"{live.url}/v1/match", json=ann, headers=trial)
    assert refused.status_code == 401 and "expired" in refused.json()["error"]["message"]
    assert key_id not in {k["key_id"] for k in live.client.get("/v1/keys").json()["keys"]}
    past = live.client.post("/v1/keys", json={"name": "late", "role": "etl", "by": "ops",
                                              "expires_at": "2020-01-01T00:00:00Z"})  # fmt: skip
    assert past.status_code == 400 and "has passed" in past.text
    other = live.client.post("/v1/keys", json={"name": "x", "role": "etl", "by": "ops"}).json()
    revoked = live.client.delete(f"/v1/keys/{other['key_id']}", params={"by": "ann"})
    admin = live.token.split("_")[1]
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == f"ann [key {admin}]"


def test_a_key_that_calls_too_often_waits(served_db: Path) -> None:
    with LiveServer(Settings(db=served_db, rate_limit=1.0, rate_burst=3)) as server:
        other = server.as_role("operational")  # made now: this call counts for the admin key
        time.sleep(1.1)
        answers = [server.client.get("/v1/events", params={"limit": 1}) for _ in range(4)]
        assert [a.status_code for a in answers[:3]] == [200, 200, 200]
        limited = answers[3]
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert "Retry-After" in limited.json()["error"]["message"]
        with other:  # another key has its own allowance
            assert other.get("/v1/events", params={"limit": 1}).status_code == 200
        time.sleep(1.1)
        assert server.client.get("/v1/events", params={"limit": 1}).status_code == 200


def test_bodies_over_the_limit_get_a_413_before_parsing(served_db: Path) -> None:
    settings = Settings(db=served_db, max_body_bytes=4096, max_upload_bytes=8192)
    with LiveServer(settings) as server:
        records = [{"source": "web", "record_id": f"R{i}", "first_name": "Ann" * 20,
                    "last_name": "Lee"} for i in range(60)]  # fmt: skip
        big = server.client.post("/v1/records", json={"records": records})
        assert big.status_code == 413
        assert "4096 bytes" in big.json()["error"]["message"]
        assert "fewer records" in big.json()["error"]["message"]

        def chunks():  # no Content-Length: counted as it arrives
            yield b'{"records": ['
            for _ in range(200):
                yield b'{"source": "web", "record_id": "x", "first_name": "Ann"},'
            yield b"]}"

        streamed = server.client.post(
            "/v1/records", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        upload = server.client.post(
            "/v1/jobs", files={"file": ("crm.csv", b"customer_no\n" + b"1\n" * 5000)},
            data={"source": "crm"},
        )  # fmt: skip
        assert upload.status_code == 413 and "job folder" in upload.text
        small = server.client.post("/v1/records", json={"records": records[:2]})
        assert small.status_code == 200, small.text


@pytest.mark.parametrize("role", ["etl", "steward"])
def test_the_cli_makes_lists_and_revokes_keys(served_db: Path, role: str) -> None:
    import subprocess
    import sys

    def mdm(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "mdm", *args], capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    made = mdm("keys", "create", "nightly", "--role", role, "--db", str(served_db))
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]
    key_id = token.split("_")[1]
    listed = mdm("keys", "list", "--db", str(served_db))
    assert key_id in listed.stdout and role in listed.stdout and token not in listed.stdout
    header = listed.stdout.splitlines()[0].split("\t")
    assert header == ["key_id", "role", "name", "made", "state", "expires", "last_used"]
    dated = mdm("keys", "create", "trial", "--role", role, "--expires", "30d", "--db",
                str(served_db))  # fmt: skip
    assert dated.returncode == 0 and "until" in dated.stdout
    late = mdm("keys", "create", "late", "--expires", "2020-01-01", "--db", str(served_db))
    assert late.returncode == 2 and "has passed" in late.stderr
    bad = mdm("keys", "create", "x", "--role", "root", "--db", str(served_db))
    assert bad.returncode == 2 and "etl, operational, steward, admin" in bad.stderr
    assert mdm("keys", "revoke", key_id, "--db", str(served_db)).returncode == 0
    assert key_id not in mdm("keys", "list", "--db", str(served_db)).stdout
    again = mdm("keys", "revoke", key_id, "--db", str(served_db))
    assert again.returncode == 2 and "revoked" in again.stderr


def test_a_keys_last_use_is_in_the_store_after_the_service_stops(served_db: Path) -> None:
    import duckdb

    with LiveServer(Settings(db=served_db)) as server:
        key = server.key("operational", name="till")
        ann = {"first_name": "Ann", "last_name": "Lee"}
        answer = httpx.post(f"{server.url}/v1/match", json=ann,
                            headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert answer.status_code == 200
    with duckdb.connect(str(served_db), read_only=True) as con:
        used = con.execute(
            "SELECT last_used_at IS NOT NULL FROM api_keys WHERE key_id = ?", [key.split("_")[1]]
        ).fetchall()
    assert used == [(True,)]


def test_key_expiry_is_read_as_days_dates_or_times() -> None:
    from mdm.errors import InputError
    from mdm.store.keys import parse_expiry

    now = datetime(2026, 12, 7, 9, 30)
    assert parse_expiry("90d", now) == datetime(2027, 3, 7, 9, 30)
    assert parse_expiry("2027-06-30", now) == datetime(2027, 6, 30)
    assert parse_expiry("2027-06-30T12:00+02:00", now) == datetime(2027, 6, 30, 10, 0)
    with pytest.raises(InputError, match="number of days"):
        parse_expiry("soon", now)


def test_a_keys_last_use_is_written_at_most_once_per_resolution(tmp_path: Path) -> None:
    """A busy key costs no write per call: its use is due again only after the
    resolution has passed since the time last written."""
    import duckdb

    from mdm.store import open_store
    from mdm.store.keys import KeyRing, create_key, note_used

    con = open_store(tmp_path / "keys.duckdb")
    _, token = create_key(con, "shop", "operational", "tests")
    ring = KeyRing(con)
    assert ring.check(token) is not None and ring.check(token) is not None
    first = ring.take_unwritten()
    assert len(first) == 1
    note_used(con, first)
    assert ring.check(token) is not None and ring.take_unwritten() == {}
    ring.reload(con)  # as after a key is made: the written time is read back
    assert ring.check(token) is not None and ring.take_unwritten() == {}
    _, other = create_key(con, "till", "operational", "tests")
    assert ring.check(other) is None  # not loaded yet
    ring.reload(con)
    assert ring.check(other) is not None
    ring.reload(con)  # a use seen but not yet written survives a reload
    assert list(ring.take_unwritten()) == [other.split("_")[1]]
    assert ring.check(token.replace(token[-4:], "abcd")) is None
    used = "SELECT last_used_at IS NOT NULL FROM api_keys WHERE name = 'shop'"
    assert con.execute(used).fetchall() == [(True,)]
    assert isinstance(con, duckdb.DuckDBPyConnection)
    con.close()
