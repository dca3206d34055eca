"""Name variants and frequencies kept in the store: seeded, proposed, approved, rejected.

A pair ``(name, variant)`` says ``variant`` is another form of ``name``. A pair is
the same pair in either order: proposing (bob, robert) when (robert, bob) is known
changes nothing. Every change is logged in ``name_variant_events``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import pandas as pd

from mdm.errors import VariantError
from mdm.names.reference import load_name_variants, normalise_name

KINDS = ("nickname", "spelling", "transliteration")
STATUSES = ("proposed", "active", "rejected")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _clean(name: str, what: str) -> str:
    cleaned = normalise_name(name)
    if not cleaned:
        raise VariantError(
            f"{what} {name!r} has no letters once accents and scripts are folded to ASCII; "
            "give the name in Latin letters (e.g. 'Jose' for 'José')"
        )
    return cleaned


def _log(
    con: duckdb.DuckDBPyConnection, name: str, variant: str, action: str, actor: str, **detail
) -> None:
    row = con.execute("SELECT coalesce(max(event_id), 0) + 1 FROM name_variant_events").fetchall()
    con.execute(
        "INSERT INTO name_variant_events VALUES (?, ?, ?, ?, ?, ?, ?)",
        [row[0][0], _now(), name, variant, action, actor, json.dumps(detail)],
    ).fetchall()


def seed_variants(con: duckdb.DuckDBPyConnection) -> int:
    """Load the reference seed pairs as active (once; a store that has them is left alone)."""
    if con.execute("SELECT count(*) FROM name_variants").fetchall()[0][0]:
        return 0
    seed = load_name_variants()
    now = _now()
    frame = pd.DataFrame(
        {
            "name": seed["name"],
            "variant": seed["variant"],
            "kind": seed["kind"],
            "origin": "seed",
            "reference": seed["origin"],
            "evidence": 0,
            "status": "active",
            "first_seen": now,
            "last_seen": now,
        }
    ).drop_duplicates(["name", "variant"])
    con.register("seed_frame", frame)
    con.execute("INSERT INTO name_variants SELECT * FROM seed_frame").fetchall()
    con.unregister("seed_frame")
    return len(frame)


def _find(con: duckdb.DuckDBPyConnection, a: str, b: str) -> tuple | None:
    rows = con.execute(
        "SELECT name, variant, status, origin FROM name_variants "
        "WHERE (name = ? AND variant = ?) OR (name = ? AND variant = ?)",
        [a, b, b, a],
    ).fetchall()
    return rows[0] if rows else None


def _pair(name: str, variant: str) -> tuple[str, str]:
    a, b = _clean(name, "name"), _clean(variant, "variant")
    if a == b:
        raise VariantError(
            f"'{name}' and '{variant}' are the same name once folded ('{a}'); "
            "a variant must be a different name"
        )
    return a, b


def propose(con: duckdb.DuckDBPyConnection, name: str, variant: str, kind: str, actor: str) -> str:
    """Propose a pair for review; returns what happened."""
    if kind not in KINDS:
        raise VariantError(f"kind must be one of {', '.join(KINDS)}, not '{kind}'")
    a, b = _pair(name, variant)
    found = _find(con, a, b)
    if found is not None:
        if found[2] == "rejected":
            raise VariantError(
                f"'{found[0]}' ~ '{found[1]}' was rejected; a rejected pair is not proposed "
                f"again: approve it explicitly ('mdm names approve {found[0]} {found[1]}')"
            )
        return f"'{found[0]}' ~ '{found[1]}' is already {found[2]}"
    now = _now()
    con.execute(
        "INSERT INTO name_variants VALUES (?, ?, ?, 'steward', NULL, 0, 'proposed', ?, ?)",
        [a, b, kind, now, now],
    ).fetchall()
    _log(con, a, b, "proposed", actor, kind=kind)
    return f"proposed '{a}' ~ '{b}' ({kind})"


def decide(
    con: duckdb.DuckDBPyConnection, name: str, variant: str, approve: bool, actor: str
) -> str:
    """Approve (make active) or reject a pair; an unknown pair is created as decided."""
    a, b = _pair(name, variant)
    status = "active" if approve else "rejected"
    found = _find(con, a, b)
    now = _now()
    if found is None:
        con.execute(
            "INSERT INTO name_variants VALUES (?, ?, 'nickname', 'steward', NULL, 0, ?, ?, ?)",
            [a, b, status, now, now],
        ).fetchall()
        key = (a, b)
    else:
        key = (found[0], found[1])
        con.execute(
            "UPDATE name_variants SET status = ?, last_seen = ?, "
            "evidence = evidence + CASE WHEN ? THEN 0 ELSE -1 END WHERE name = ? AND variant = ?",
            [status, now, approve, *key],
        ).fetchall()
    _log(con, *key, "approved" if approve else "rejected", actor)
    return f"'{key[0]}' ~ '{key[1]}' is now {status}"


def list_variants(
    con: duckdb.DuckDBPyConnection,
    status: str | None = None,
    origin: str | None = None,
    text: str | None = None,
    limit: int = 100,
) -> pd.DataFrame:
    """Pairs, filtered by status, origin or a name fragment; most evidence first."""
    if status is not None and status not in STATUSES:
        raise VariantError(f"status must be one of {', '.join(STATUSES)}, not '{status}'")
    where, params = ["true"], []
    if status:
        where.append("status = ?")
        params.append(status)
    if origin:
        where.append("origin = ?")
        params.append(origin)
    if text is not None:
        fragment = _clean(text, "search text")
        where.append("(contains(name, ?) OR contains(variant, ?))")
        params += [fragment, fragment]
    return con.execute(
        "SELECT name, variant, kind, origin, reference, evidence, status, first_seen, last_seen "
        f"FROM name_variants WHERE {' AND '.join(where)} "
        "ORDER BY evidence DESC, name, variant LIMIT ?",
        [*params, limit],
    ).df()


def active_pairs(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """The pairs matching uses: every active one."""
    return [
        (name, variant)
        for name, variant in con.execute(
            "SELECT name, variant FROM name_variants WHERE status = 'active' ORDER BY 1, 2"
        ).fetchall()
    ]


def refresh_frequencies(con: duckdb.DuckDBPyConnection) -> None:
    """Recount first and last names over the store's records."""
    con.execute("DELETE FROM name_frequencies").fetchall()
    con.execute(
        "INSERT INTO name_frequencies SELECT 'first', first_name, count(*) FROM records "
        "WHERE first_name IS NOT NULL GROUP BY first_name UNION ALL "
        "SELECT 'last', last_name, count(*) FROM records WHERE last_name IS NOT NULL "
        "GROUP BY last_name"
    ).fetchall()
