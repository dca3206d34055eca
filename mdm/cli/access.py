"""Who may use the service: steward users and API keys."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from mdm.cli._common import (
    DbOption,
    _names_call,
    _plain,
    _read,
    app,
    out,
)
from mdm.errors import InputError

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb

users = typer.Typer(
    help="People who sign in to the steward pages: stewards decide, viewers read.",
    no_args_is_help=True,
)
app.add_typer(users, name="users")


@users.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="The name to sign in with, e.g. j.smith.")],
    db: DbOption,
    role: Annotated[str, typer.Option(help="steward (decides) or viewer (reads).")] = "steward",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a user; the password is asked for (or read from stdin), never an argument."""
    from mdm.store.users import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        raise InputError(
            "the password is asked for on a terminal, and standard input is not one: to "
            "pipe it, add --password-stdin (printf '%s\\n' \"$PASSWORD\" | mdm users add "
            f"{username} --password-stdin --db {db})"
        )
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)

    def act(con: duckdb.DuckDBPyConnection) -> str:
        user = add_user(con, username, password, role)
        return f"user {user.username} added ({user.role})"

    _names_call(db, act, create=False)


@users.command("list")
def users_list(db: DbOption) -> None:
    """Every user and their role."""
    from mdm.store.users import list_users

    for user in _read(db, list_users):
        since = f"{user.created_at:%Y-%m-%d}"
        out.print(f"{user.username}\t{user.role}\tsince {since}", highlight=False)


@users.command("remove")
def users_remove(username: Annotated[str, typer.Argument()], db: DbOption) -> None:
    """Remove a user: they cannot sign in any more."""
    from mdm.store.users import remove_user

    def act(con: duckdb.DuckDBPyConnection) -> str:
        remove_user(con, username)
        return f"user {username} removed"

    _names_call(db, act, create=False)


keys = typer.Typer(
    help="API keys for systems that call the service: etl, operational, steward, admin.",
    no_args_is_help=True,
)
app.add_typer(keys, name="keys")


@keys.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key, e.g. 'web shop'.")],
    db: DbOption,
    role: Annotated[
        str, typer.Option(help="etl (jobs), operational (match, upsert, read), steward, admin.")
    ] = "operational",
    by: Annotated[str, typer.Option("--by", help="Who makes the key (kept).")] = "admin",
    expires: Annotated[
        str | None,
        typer.Option(
            help="When the key stops working: a number of days ('90d'), a date "
            "('2027-06-30', midnight UTC) or a UTC time ('2027-06-30T12:00'). Default: never."
        ),
    ] = None,
) -> None:
    """Make a key and print it once: only a hash is kept, so store it now."""
    from mdm.store.keys import create_key, parse_expiry

    made: list[str] = []
    expires_at = parse_expiry(expires) if expires else None

    def act(con: duckdb.DuckDBPyConnection) -> str:
        key, token = create_key(con, name, role, by, expires_at)
        made.append(token)
        until = f", until {key.expires_at:%Y-%m-%d %H:%M} UTC" if key.expires_at else ""
        return f"key {key.key_id} ({key.name}, {key.role}{until}) made; it is shown this once:"

    _names_call(db, act, create=False)
    print(made[0])


@keys.command("list")
def keys_list(
    db: DbOption,
    revoked: Annotated[bool, typer.Option("--revoked", help="Include revoked keys.")] = False,
) -> None:
    """Every key: id, role, name, who made it and when, its state, when it expires and
    when it was last used (never the key itself). Tab-separated, with a header line."""
    from mdm.store.keys import list_keys

    def when(moment: datetime | None) -> str:
        return f"{moment:%Y-%m-%d %H:%M}" if moment is not None else "-"

    print("key_id\trole\tname\tmade\tstate\texpires\tlast_used")
    for key in _read(db, lambda con: list_keys(con, include_revoked=revoked)):
        print(
            f"{key.key_id}\t{key.role}\t{_plain(key.name)}\tby {_plain(key.created_by)} "
            f"{key.created_at:%Y-%m-%d}\t{key.state}\t{when(key.expires_at)}\t"
            f"{when(key.last_used_at)}"
        )


@keys.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from 'mdm keys list').")],
    db: DbOption,
    by: Annotated[str, typer.Option("--by", help="Who revokes it (kept).")] = "admin",
) -> None:
    """Revoke a key: the service refuses it from then on (a running service: use
    DELETE /v1/keys/{id}, since the service holds the store)."""
    from mdm.store.keys import revoke_key

    def act(con: duckdb.DuckDBPyConnection) -> str:
        key = revoke_key(con, key_id, by)
        return f"key {key.key_id} ({key.name}) revoked"

    _names_call(db, act, create=False)
