"""The API documentation pages work without internet: every script, style sheet and
icon they load comes from the service itself."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from api import Settings
from tests.api.conftest import LiveServer

#: What a page loads: scripts, style sheets, icons and images, and CSS url(...)s.
ASSET = re.compile(
    r"""<(?:script|link|img|source)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']"""
    r"""|url\(\s*["']?([^"')]+)"""
)
#: Every address a page names (links and forms too).
ADDRESS = re.compile(r"""\b(?:src|href|action)\s*=\s*["']([^"']+)["']""")


def references(page: str) -> list[str]:
    """The assets ``page`` loads."""
    return [a or b for a, b in ASSET.findall(page)]


def assert_offline(client: httpx.Client, path: str) -> None:
    """``path`` and every asset it loads are served here, and it names no other site."""
    page = client.get(path)
    assert page.status_code == 200, (path, page.text[:300])
    assert not re.search(r"https?://|//cdn|fonts\.googleapis", page.text), path
    for address in ADDRESS.findall(page.text):
        assert not address.startswith("//") and "://" not in address, (path, address)
    for asset in references(page.text):
        if asset.startswith(("#", "data:")):
            continue
        loaded = client.get(asset)
        assert loaded.status_code == 200 and loaded.content, (path, asset)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """A client without a key (the pages need none) of a service on loopback."""
    db = tmp_path_factory.mktemp("docs") / "mdm.duckdb"
    with LiveServer(Settings(db=db)) as server:
        yield server.anon


@pytest.mark.parametrize(
    ("path", "loads"),
    [
        ("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
        ("/redoc", ("redoc.standalone.js",)),
    ],
    ids=["swagger-ui", "redoc"],
)
def test_documentation_pages_load_everything_from_the_service(client, path, loads) -> None:
    page = client.get(path).text
    for asset in loads:
        assert any(r.endswith(asset) for r in references(page)), (path, asset)
    assert_offline(client, path)


def test_the_openapi_document_the_pages_show_is_served(client) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200 and spec.json()["info"]["title"] == "mdm"
    match = spec.json()["paths"]["/v1/match"]["post"]
    assert [p["name"] for p in match["parameters"]] == ["debug"]
    schemas = spec.json()["components"]["schemas"]
    answer = schemas["MatchPublic"]["properties"]
    assert answer["decision"]["enum"] == ["link", "review", "new"]
    assert {"golden_id", "review_golden_ids", "warnings", "debug"} <= set(answer)
    assert schemas["CandidatePublic"]["properties"]["decision"]["enum"] == [
        "link", "review", "no_link"]  # fmt: skip
    assert "warnings" in schemas["UpsertPublic"]["properties"]
    assert set(schemas["ValueWarningPublic"]["properties"]) == {"field", "value", "reason"}
