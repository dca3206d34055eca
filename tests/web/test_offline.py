"""The steward pages work without internet: every script, style sheet and image they
load is served by the service itself, and no page names another site."""

from __future__ import annotations

import re

from tests.api.test_docs import assert_offline


def test_every_steward_page_loads_only_from_the_service(web, sign_in) -> None:
    assert_offline(web.anon, "/ui/login")
    viewer = sign_in("vic")
    task_id = re.search(r"/ui/tasks/(\d+)", viewer.get("/ui/queue").text).group(1)
    golden_id = re.search(r"/ui/golden/(G\w+)", viewer.get(f"/ui/tasks/{task_id}").text).group(1)
    for path in ("/ui/", "/ui/queue", f"/ui/tasks/{task_id}", f"/ui/golden/{golden_id}",
                 "/ui/search?q=ferrand", "/ui/names"):  # fmt: skip
        assert_offline(viewer, path)
