"""``mdm serve``: starting the HTTP service.

The command lives with the service it starts. ``mdm`` never imports ``api``: the
command line finds this command as an installed entry point (group ``mdm.commands``
in pyproject.toml; see :func:`mdm.cli._common.add_installed_commands`), and this
module imports the application it serves."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mdm.cli._common import DEFAULT_RULES, DbOption


def serve(
    db: DbOption,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    rules: Annotated[Path, typer.Option(help="Match rules (YAML).")] = DEFAULT_RULES,
    access_log: Annotated[
        bool,
        typer.Option(
            help="uvicorn's log of every request, to the console: it writes each URL with "
            "its query string, so a steward's searches (names, emails) are in it. For a log "
            "to keep, use --audit-log. Costs throughput."
        ),
    ] = False,
    audit_log: Annotated[
        Path | None,
        typer.Option(
            help="Append one JSON line per API and page call to this file: the key or "
            "steward, the route and the ids in it, how it ended (refusals too); never "
            "search terms or bodies."
        ),
    ] = None,
    job_folder: Annotated[
        Path | None,
        typer.Option(help="A folder whose files jobs may name by path (default: uploads only)."),
    ] = None,
) -> None:
    """Start the HTTP service on a store (this process owns the file); docs at /docs,
    steward pages at /ui/."""
    import os

    import uvicorn

    from mdm.store import open_store

    # a store another process owns, or on read-only storage: a message, not a trace
    open_store(db).close()
    os.environ["MDM_DB"] = str(db)
    os.environ["MDM_RULES"] = str(rules)
    if job_folder is not None:
        os.environ["MDM_JOB_FOLDER"] = str(job_folder)
    if audit_log is not None:
        os.environ["MDM_AUDIT_LOG"] = str(audit_log)
    from api.app import app_from_env

    uvicorn.run(app_from_env, factory=True, host=host, port=port, access_log=access_log)
