"""What the steward pages show: the review queue, a task side by side with the evidence,
a golden record's story, customer search and the dashboard. Plain queries over the
store (and the real-time engine's scorer for the evidence); no web framework here.

Why one module of this size: each page's reads are a few queries and the shaping of
their rows, small alone; together they are the steward's side of the store, and the
pages and the CSV/Excel exports must read the same rows the same way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from mdm.clock import utcnow
from mdm.display import SHOWN, display_value, proper_case
from mdm.errors import ConflictError, InputError, NotFoundError
from mdm.linkage.customers import score_customers
from mdm.schema import ATTRIBUTES
from mdm.store.reads import display_sources

if TYPE_CHECKING:
    from mdm.realtime.engine import Engine

#: Records' names ("first last", None if it has neither) by (source, record_id).
NamesOf = Callable[[set[tuple[str, str]]], dict[tuple[str, str], str | None]]

#: The glossary's words for the customer schema's columns.
LABELS = {
    "first_name": "First name",
    "middle_name": "Middle name",
    "last_name": "Last name",
    "full_name": "Full name",
    "date_of_birth": "Date of birth",
    "gender": "Gender",
    "national_id": "National ID",
    "email": "Email",
    "phone": "Phone",
    "address_line": "Address",
    "city": "City",
    "postcode": "Postcode",
    "region": "Region",
    "country": "Country",
}

#: Match probability bands a steward can filter the queue by: name -> [low, high).
BANDS = {"likely": (0.8, 1.01), "unsure": (0.5, 0.8), "unlikely": (0.0, 0.5)}
SORTS = {
    "probability": "t.match_probability DESC, t.task_id",
    "oldest": "t.created_at, t.task_id",
    "newest": "t.created_at DESC, t.task_id",
}
PAGE = 50
#: A steward's hold on a task lapses after this long, so a task left open is not lost.
CLAIM_TTL = timedelta(hours=1)


@dataclass(frozen=True)
class QueueFilter:
    """Which open tasks a steward is looking at."""

    source: str | None = None
    band: str | None = None
    min_age_days: int | None = None
    sort: str = "probability"
    page: int = 1

    def check(self) -> QueueFilter:
        if self.band is not None and self.band not in BANDS:
            raise InputError(f"band must be one of {', '.join(BANDS)}")
        if self.sort not in SORTS:
            raise InputError(f"sort must be one of {', '.join(SORTS)}")
        if self.page < 1 or (self.min_age_days is not None and self.min_age_days < 0):
            raise InputError("page starts at 1 and age is a number of days")
        return self


def queue(
    con: duckdb.DuckDBPyConnection,
    wanted: QueueFilter,
    names_of: NamesOf | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of open review tasks and how many match the filter. ``names_of`` gives
    records' names (the real-time engine holds them in memory); else the store does."""
    wanted = wanted.check()
    where = ["t.status = 'open'"]
    params: list[object] = []
    if wanted.source:
        where.append("(t.source_l = ? OR t.source_r = ?)")
        params += [wanted.source, wanted.source]
    if wanted.band:
        low, high = BANDS[wanted.band]
        where.append("t.match_probability >= ? AND t.match_probability < ?")
        params += [low, high]
    if wanted.min_age_days:
        where.append("t.created_at <= ?")
        params.append(utcnow() - timedelta(days=wanted.min_age_days))
    condition = " AND ".join(where)
    total = con.execute(f"SELECT count(*) FROM review_tasks t WHERE {condition}", params)
    count = int(total.fetchall()[0][0])
    # Only the columns shown are sorted and kept (a count over the same rows as a window
    # would lose the top-fifty sort: three times slower on 120k tasks).
    result = con.execute(
        "SELECT t.task_id, t.match_probability, t.created_at, t.source_l, t.record_id_l, "
        "t.source_r, t.record_id_r, c.claimed_by "
        "FROM (SELECT task_id, match_probability, created_at, source_l, record_id_l, "
        f"source_r, record_id_r FROM review_tasks t WHERE {condition} "
        f"ORDER BY {SORTS[wanted.sort]} LIMIT ? OFFSET ?) t "
        "LEFT JOIN (SELECT * FROM task_claims WHERE claimed_at >= ?) c USING (task_id) "
        f"ORDER BY {SORTS[wanted.sort]}",
        [*params, PAGE, (wanted.page - 1) * PAGE, utcnow() - CLAIM_TTL],
    )
    names_read = [d[0] for d in result.description]
    # Fifty rows as plain values (a data frame's conversions cost more than the query).
    rows = [dict(zip(names_read, row, strict=True)) for row in result.fetchall()]
    keys = {(r[f"source_{s}"], r[f"record_id_{s}"]) for r in rows for s in "lr"}
    names = names_of(keys) if names_of is not None else _names(con, keys)
    for row in rows:
        for side in "lr":
            row[f"name_{side}"] = names.get((row[f"source_{side}"], row[f"record_id_{side}"]))
    return rows, count


def _names(
    con: duckdb.DuckDBPyConnection, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], str | None]:
    """(source, record_id) -> "first last" for a few records, from the store."""
    if not keys:
        return {}
    frame = pa.table(
        {
            "source": pa.array([k[0] for k in keys], pa.string()),
            "record_id": pa.array([k[1] for k in keys], pa.string()),
        }
    )
    con.register("_page_keys", frame)
    try:
        found = con.execute(
            "SELECT source, record_id, concat_ws(' ', first_name, last_name) FROM records "
            "JOIN _page_keys USING (source, record_id)"
        ).fetchall()
    finally:
        con.unregister("_page_keys")
    return {(source, record_id): proper_case(name) if name else None
            for source, record_id, name in found}  # fmt: skip


def sources(con: duckdb.DuckDBPyConnection, engine: Engine | None = None) -> list[str]:
    """The sources of the stored records, in order: from the engine's memory when it is
    given (the store would read every cross-reference)."""
    if engine is not None:
        with engine.lock:
            return engine.table.sources()
    return [r[0] for r in con.execute("SELECT DISTINCT source FROM xref ORDER BY 1").fetchall()]


def claim(con: duckdb.DuckDBPyConnection, task_id: int, user: str) -> None:
    """Take an open task (in the caller's transaction); refused if another has it."""
    status = con.execute("SELECT status FROM review_tasks WHERE task_id = ?", [task_id])
    row = status.fetchall()
    if not row:
        raise NotFoundError(f"there is no review task {task_id}")
    if row[0][0] != "open":
        raise ConflictError(f"review task {task_id} is {row[0][0]}, not open")
    holder = claimed_by(con, task_id)
    if holder is not None and holder != user:
        raise ConflictError(f"review task {task_id} is taken by {holder}")
    con.execute(
        "INSERT OR REPLACE INTO task_claims VALUES (?, ?, ?)", [task_id, user, utcnow()]
    ).fetchall()


def claimed_by(con: duckdb.DuckDBPyConnection, task_id: int) -> str | None:
    """Who holds a task now (a hold lapses after :data:`CLAIM_TTL`)."""
    row = con.execute(
        "SELECT claimed_by FROM task_claims WHERE task_id = ? AND claimed_at >= ?",
        [task_id, utcnow() - CLAIM_TTL],
    )
    found = row.fetchall()
    return found[0][0] if found else None


#: Comparisons a queue row names for and against its pair (the strongest of each).
REASONS_SHOWN = 3


def queue_customers(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Add to each queue row (a page of :func:`queue`) its two customers as they are now
    (``golden_l``, ``golden_r``; none for a record that is gone)."""
    with engine.lock:
        for row in rows:
            for side in "lr":
                slot = engine.table.slot_of(row[f"source_{side}"], row[f"record_id_{side}"])
                if slot is not None:
                    row[f"golden_{side}"] = engine.table.clustered_golden_id(slot)


def waiting_reasons(
    con: duckdb.DuckDBPyConnection, engine: Engine, task_ids: list[int]
) -> dict[int, dict[str, list[str]]]:
    """Why each of ``task_ids`` waits: ``for`` and ``against``, the comparisons that
    speak for and against its pair, strongest first, scored as the task page scores it
    (with what each customer knows where a record lacks a value). A task whose record
    is gone, or that is not open, is left out."""
    wanted = [int(t) for t in task_ids][:CUSTOMERS_PAGE]
    if not wanted:
        return {}
    rows = con.execute(
        "SELECT task_id, source_l, record_id_l, source_r, record_id_r FROM review_tasks "
        "WHERE status = 'open' AND task_id IN (SELECT unnest($ids))",
        {"ids": wanted},
    ).fetchall()
    found: dict[int, dict[str, list[str]]] = {}
    with engine.lock:  # a consistent view while real-time writes go on
        lent: dict[str, _LentLazily] = {}
        for task_id, *keys in rows:
            sides = []
            for source, record_id in ((keys[0], keys[1]), (keys[2], keys[3])):
                slot = engine.table.slot_of(source, record_id)
                if slot is None:
                    break
                golden_id = engine.table.clustered_golden_id(slot)
                if golden_id not in lent:
                    lent[golden_id] = _LentLazily(engine, golden_id)
                sides.append((engine.table.row(slot), lent[golden_id]))
            if len(sides) < 2:
                continue
            (left, left_lent), (right, right_lent) = sides
            hits = score_customers(engine.scorer, left, right, left_lent, right_lent).score
            ranked = sorted(hits.comparisons, key=lambda hit: -abs(hit.match_weight))
            named = [(_reason(hit.comparison, hit.label), hit.match_weight) for hit in ranked]
            found[int(task_id)] = {
                "for": [label for label, weight in named if weight > 0][:REASONS_SHOWN],
                "against": [label for label, weight in named if weight < 0][:REASONS_SHOWN],
            }
    return found


class _LentLazily(Mapping[str, Mapping[str, Any]]):
    """A customer's values by the records that gave them (``Engine.lent_values``),
    derived only when a comparison of its record finds a value missing (most rows of a
    queue page never need them)."""

    def __init__(self, engine: Engine, golden_id: str) -> None:
        self._engine, self._golden_id = engine, golden_id
        self._lent: dict[str, Mapping[str, Any]] | None = None

    def _values(self) -> dict[str, Mapping[str, Any]]:
        if self._lent is None:
            self._lent = self._engine.lent_values(self._golden_id)
        return self._lent

    def __getitem__(self, attribute: str) -> Mapping[str, Any]:
        return self._values()[attribute]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values())

    def __len__(self) -> int:
        return len(self._values())


def _reason(comparison: str, label: str) -> str:
    """A comparison's level in a few words: "email exact", "date of birth different"."""
    return f"{comparison.replace('_', ' ')} {label}"


def task_detail(con: duckdb.DuckDBPyConnection, engine: Engine, task_id: int) -> dict[str, Any]:
    """A task: both records side by side (which values differ), the match-weight
    waterfall (the prior, each comparison's contribution, the total) and the golden
    records the two records are in."""
    from mdm.store.reads import get_golden

    rows = con.execute(
        "SELECT task_id, status, source_l, record_id_l, source_r, record_id_r, "
        "match_probability, created_at, scored_on FROM review_tasks WHERE task_id = ?",
        [task_id],
    ).fetchall()
    if not rows:
        raise NotFoundError(f"there is no review task {task_id}")
    task_id, status, sl, rl, sr, rr, probability, created, scored_on = rows[0]
    with engine.lock:  # a consistent view while real-time writes go on
        sides, golden_ids, donors = [], [], []
        for source, record_id in ((sl, rl), (sr, rr)):
            slot = engine.table.slot_of(source, record_id)
            if slot is None:
                raise NotFoundError(f"record {source}/{record_id} of task {task_id} is gone")
            sides.append(engine.table.row(slot))
            golden_ids.append(engine.table.clustered_golden_id(slot))
            donors.append(customer_donors(con, engine, golden_ids[-1]))
        scored = score_customers(engine.scorer, *sides, *donors)
        score = scored.score
        prior = engine.scorer.prior_weight
    left, right = scored.left, scored.right
    from_customer = scored.filled
    fields = [
        {
            "label": LABELS[a],
            "left": left.get(a),
            "right": right.get(a),
            "differs": left.get(a) is not None
            and right.get(a) is not None
            and left.get(a) != right.get(a),
            # Taken from the customer (golden record) the record belongs to.
            "left_from": from_customer["left"].get(a),
            "right_from": from_customer["right"].get(a),
        }
        for a in ATTRIBUTES
        if left.get(a) is not None or right.get(a) is not None
    ]
    steps = [("Prior", prior)]  # how often two compared records match
    steps += [(hit.comparison.replace("_", " ").capitalize() + f": {hit.label}", hit.match_weight)
              for hit in score.comparisons]  # fmt: skip
    waterfall, running = [], 0.0
    for label, weight in steps:
        waterfall.append({"label": label, "weight": weight, "start": running,
                          "end": running + weight})  # fmt: skip
        running += weight
    # The customers' names in proper case: the task page shows no more of them.
    golden = [shown_golden(get_golden(con, g, display=False)) for g in dict.fromkeys(golden_ids)]
    return {
        "task_id": task_id,
        "status": status,
        "created_at": created,
        "match_probability": probability,
        #: What the stored probability scored: "records" (the two source records) or
        #: "customers" (with their golden records' values where a record lacks one).
        "scored_on": scored_on,
        "now": {"weight": score.match_weight, "probability": score.match_probability},
        #: The two source records alone, without their customers' values.
        "records_only": {
            "weight": scored.records.match_weight,
            "probability": scored.records.match_probability,
        },
        "left": {"source": sl, "record_id": rl},
        "right": {"source": sr, "record_id": rr},
        "fields": fields,
        "waterfall": waterfall,
        "golden": golden,
        "claimed_by": claimed_by(con, task_id),
    }


def customer_donors(
    con: duckdb.DuckDBPyConnection, engine: Engine, golden_id: str
) -> dict[str, dict[str, Any]]:
    """Attribute -> the row (in the engine's memory) of the source record that gave
    golden record ``golden_id`` its value (its lineage); the caller holds the engine's
    lock. A value a steward set is no record's, and is not lent."""
    donors: dict[str, dict[str, Any]] = {}
    for attribute, source, record_id in con.execute(
        "SELECT attribute, source, record_id FROM lineage WHERE golden_id = ?", [golden_id]
    ).fetchall():
        slot = engine.table.slot_of(source, record_id) if source and record_id else None
        if slot is not None and engine.table.golden_id(slot) == golden_id:
            donors[attribute] = engine.table.row(slot)
    return donors


def engine_names(engine: Engine) -> NamesOf:
    """Records' names from the engine's memory (no store reads)."""

    def names_of(keys: set[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        found: dict[tuple[str, str], str | None] = {}
        with engine.lock:
            for key in keys:
                slot = engine.table.slot_of(*key)
                if slot is not None:
                    first, last = engine.table.values(slot, ["first_name", "last_name"])
                    name = " ".join(v for v in (first, last) if v)
                    found[key] = proper_case(name) if name else None
        return found

    return names_of


def golden_records(con: duckdb.DuckDBPyConnection, golden_id: str) -> list[dict[str, Any]]:
    """The source records of a golden record, with their values (names and addresses
    as each record typed them)."""
    frame = con.execute(
        f"SELECT source, record_id, {', '.join(ATTRIBUTES)}, raw::VARCHAR AS _raw FROM "
        "records JOIN xref USING (source, record_id) WHERE golden_id = ? "
        "ORDER BY source, record_id",
        [golden_id],
    ).df()
    rows: list[dict[str, Any]] = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for row in rows:
        raw = json.loads(row.pop("_raw") or "{}")
        typed = [v for v in raw.values() if isinstance(v, str)]
        for attribute in SHOWN:
            row[attribute] = display_value(attribute, row.get(attribute), typed)
    return rows


def next_task(con: duckdb.DuckDBPyConnection, user: str, after: int | None = None) -> int | None:
    """The next open task for ``user``: most probable first, not taken by another; the
    tasks ``user`` skipped come after every other (a skip is "not now", so working
    through the queue never meets the same task again until the rest are done)."""
    row = con.execute(
        "SELECT t.task_id FROM review_tasks t LEFT JOIN (SELECT * FROM task_claims "
        "WHERE claimed_at >= ?) c USING (task_id) "
        "LEFT JOIN (SELECT DISTINCT task_id, true AS skipped FROM decisions "
        "WHERE decision = 'skip' AND actor = ?) k USING (task_id) "
        "WHERE t.status = 'open' AND (c.claimed_by IS NULL OR c.claimed_by = ?) "
        "AND t.task_id IS DISTINCT FROM ? "
        "ORDER BY k.skipped IS NOT NULL, t.match_probability DESC, t.task_id LIMIT 1",
        [utcnow() - CLAIM_TTL, user, user, after],
    ).fetchall()
    return int(row[0][0]) if row else None


#: What the customer list shows and exports of each customer (golden record).
CUSTOMER_COLUMNS = (
    "golden_id", "full_name", "date_of_birth", "email", "phone", "address_line", "city",
    "postcode", "record_count", "updated_at",
)  # fmt: skip
#: Attributes the customer list can ask to be missing ("customers with no email").
MISSING_CHOICES = ("email", "phone", "date_of_birth", "postcode", "address_line")
#: Rows the customer list shows on one page, and the most an export holds.
CUSTOMERS_PAGE, EXPORT_MAX = 100, 100_000
#: A word this similar (Jaro-Winkler) to a customer's first or last name finds it too.
FUZZY_NAME = 0.9
#: What a word of the customer list's text is looked for in.
_SEARCHED = ("full_name", "first_name", "last_name", "email", "phone", "postcode", "city",
             "golden_id", "national_id")  # fmt: skip


@dataclass(frozen=True)
class CustomerQuery:
    """A steward's question about customers, each part optional (all must hold).

    ``text``: every word found in a name, email, phone, postcode, city, golden id or a
    source record id (partial, any case), or a name within a typo (Jaro-Winkler at
    least :data:`FUZZY_NAME`); ``postcode``: starting with it (spaces ignored);
    ``source``: with a record from that source; ``open_tasks``: with an open review
    task; ``changed_since``: changed on or after that date (YYYY-MM-DD); ``missing``:
    attributes the customer has no value for.
    """

    text: str = ""
    postcode: str = ""
    source: str = ""
    open_tasks: bool = False
    changed_since: str = ""
    missing: tuple[str, ...] = ()

    def sql(self) -> tuple[str, dict[str, Any]]:
        """The WHERE condition over golden records ``g`` and its parameters."""
        where: list[str] = ["g.status = 'active'"]
        params: dict[str, Any] = {}
        for n, word in enumerate(self.text.lower().split()[:8]):
            key = f"w{n}"
            params[key] = word
            found = " OR ".join(f"lower(g.{c}) LIKE '%' || ${key} || '%'" for c in _SEARCHED)
            fuzzy = " OR ".join(
                f"jaro_winkler_similarity(g.{c}, ${key}) >= {FUZZY_NAME}"
                for c in ("first_name", "last_name")
            )
            digits = "".join(ch for ch in word if ch.isdigit())
            phone = ""
            if len(digits) >= 6:  # a phone number typed any way
                params[f"{key}d"] = digits
                phone = f" OR regexp_replace(g.phone, '[^0-9]', '', 'g') LIKE '%' || ${key}d"
            record = (
                f" OR EXISTS (SELECT 1 FROM xref x WHERE x.golden_id = g.golden_id "
                f"AND lower(x.record_id) LIKE '%' || ${key} || '%')"
            )
            where.append(f"({found} OR {fuzzy}{phone}{record})")
        if self.postcode.strip():
            params["postcode"] = self.postcode.replace(" ", "").upper()
            where.append("replace(upper(g.postcode), ' ', '') LIKE $postcode || '%'")
        if self.source.strip():
            params["source"] = self.source.strip()
            where.append(
                "EXISTS (SELECT 1 FROM xref x WHERE x.golden_id = g.golden_id "
                "AND x.source = $source)"
            )
        if self.open_tasks:
            where.append(
                "g.golden_id IN (SELECT x.golden_id FROM review_tasks t JOIN xref x "
                "ON x.source = t.source_l AND x.record_id = t.record_id_l WHERE t.status = "
                "'open' UNION SELECT x.golden_id FROM review_tasks t JOIN xref x "
                "ON x.source = t.source_r AND x.record_id = t.record_id_r "
                "WHERE t.status = 'open')"
            )
        if self.changed_since.strip():
            try:
                params["since"] = date.fromisoformat(self.changed_since.strip())
            except ValueError:
                raise InputError(
                    f"changed since: {self.changed_since!r} is not a date; write it "
                    "YYYY-MM-DD, e.g. 2026-01-31"
                ) from None
            where.append("g.updated_at >= $since")
        for attribute in self.missing:
            if attribute not in MISSING_CHOICES:
                raise InputError(
                    f"missing: {attribute!r} is not one of {', '.join(MISSING_CHOICES)}"
                )
            where.append(f"g.{attribute} IS NULL")
        return " AND ".join(where), params

    def asked(self) -> bool:
        """Whether anything was asked (an empty question lists nobody)."""
        return bool(
            self.text.strip() or self.postcode.strip() or self.source.strip()
            or self.open_tasks or self.changed_since.strip() or self.missing
        )  # fmt: skip


def shown(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (with golden_id and attribute values) with each name and address value
    in its display form, as its source record typed it (:mod:`mdm.display`)."""
    raw = display_sources(con, [r["golden_id"] for r in rows], SHOWN)
    for row in rows:
        for attribute in SHOWN:
            if row.get(attribute) is not None:
                row[attribute] = display_value(
                    attribute, row[attribute], raw.get((row["golden_id"], attribute), [])
                )
    return rows


def shown_golden(golden: dict[str, Any]) -> dict[str, Any]:
    """A golden record (:func:`mdm.store.reads.get_golden`) with its name and address
    values, and their lineage lines, in display form (the matching form stays in
    ``matching``), for a page."""
    display = golden.get("display", {})
    golden["matching"] = {a: golden.get(a) for a in display}
    golden.update(display)
    for line in golden["lineage"]:
        if line["attribute"] in display and line["rule"] != "steward_override":
            line["value"] = display[line["attribute"]]
    return golden


def find_customers(
    con: duckdb.DuckDBPyConnection,
    query: CustomerQuery,
    limit: int = CUSTOMERS_PAGE,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """The customers (active golden records) a :class:`CustomerQuery` finds, by name,
    and how many there are in all. Every word of its text must be found."""
    if query.text.strip() and len(query.text.strip()) < 2:
        raise InputError("type at least two characters: a name, email, phone, postcode or id")
    condition, params = query.sql()
    total = int(
        con.execute(f"SELECT count(*) FROM golden g WHERE {condition}", params).fetchall()[0][0]
    )
    columns = ", ".join(f"g.{c}" for c in CUSTOMER_COLUMNS)
    frame = con.execute(
        f"SELECT {columns}, (SELECT string_agg(DISTINCT x.source, ', ' ORDER BY x.source) "
        "FROM xref x WHERE x.golden_id = g.golden_id) AS sources "
        f"FROM golden g WHERE {condition} "
        "ORDER BY g.last_name NULLS LAST, g.first_name NULLS LAST, g.golden_id "
        "LIMIT $limit OFFSET $offset",
        {**params, "limit": limit, "offset": offset},
    ).df()
    rows: list[dict[str, Any]] = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return shown(con, rows), total


def export_customers(con: duckdb.DuckDBPyConnection, query: CustomerQuery, kind: str) -> bytes:
    """Every customer a query finds (at most :data:`EXPORT_MAX`), as CSV (UTF-8) or an
    Excel workbook (``kind``: "csv" or "xlsx"). A value a spreadsheet would run as a
    formula is written as text (:func:`mdm.exports.spreadsheet_safe`)."""
    import io

    import pandas as pd

    from mdm.exports import spreadsheet_safe

    if kind not in ("csv", "xlsx"):
        raise InputError(f"export as csv or xlsx, not {kind!r}")
    rows, total = find_customers(con, query, limit=EXPORT_MAX)
    if total > EXPORT_MAX:
        raise InputError(
            f"{total:,} customers match; an export holds at most {EXPORT_MAX:,}: narrow the "
            "question (a postcode, a source, changed since)"
        )
    frame = pd.DataFrame(rows, columns=[*CUSTOMER_COLUMNS, "sources"])
    frame["updated_at"] = frame["updated_at"].map(
        lambda moment: moment.isoformat(sep=" ", timespec="seconds") if moment else None
    )
    frame = spreadsheet_safe(frame)
    out = io.BytesIO()
    if kind == "csv":
        out.write(frame.to_csv(index=False).encode("utf-8"))
    else:
        frame.to_excel(out, index=False, sheet_name="customers", engine="openpyxl")
    return out.getvalue()


def dashboard(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """What a CRM manager reads: records per source, golden records, duplicates found,
    the review backlog and its age, and how complete each source's fields are."""
    per_source = con.execute(
        "SELECT source, count(*) FROM records GROUP BY 1 ORDER BY 2 DESC, 1"
    ).fetchall()
    records = sum(n for _, n in per_source)
    golden, shared = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE record_count > 1) FROM golden "
        "WHERE status = 'active'"
    ).fetchall()[0]
    now = utcnow()
    ages = con.execute(
        "SELECT CASE WHEN created_at >= $day THEN 'under a day' "
        "WHEN created_at >= $week THEN '1 to 7 days' "
        "WHEN created_at >= $month THEN '1 to 4 weeks' ELSE 'over 4 weeks' END, count(*) "
        "FROM review_tasks WHERE status = 'open' GROUP BY 1",
        {"day": now - timedelta(days=1), "week": now - timedelta(days=7),
         "month": now - timedelta(days=28)},
    ).fetchall()  # fmt: skip
    order = ["under a day", "1 to 7 days", "1 to 4 weeks", "over 4 weeks"]
    backlog = dict(ages)
    counts = ", ".join(f"count({a}) AS {a}" for a in ATTRIBUTES)
    completeness = []
    for row in con.execute(
        f"SELECT source, count(*), {counts} FROM records GROUP BY 1 ORDER BY 1"
    ).fetchall():
        source, total, *present = row
        completeness.append(
            {"source": source, "records": total,
             "fields": {LABELS[a]: (n / total if total else 0.0)
                        for a, n in zip(ATTRIBUTES, present, strict=True)}}
        )  # fmt: skip
    decided = con.execute("SELECT count(*) FROM decisions WHERE decision <> 'skip'").fetchall()[0][
        0
    ]
    return {
        "records": records,
        "per_source": per_source,
        "golden": int(golden),
        "shared": int(shared),
        "duplicates": records - int(golden),
        "backlog": [(label, int(backlog.get(label, 0))) for label in order],
        "open_tasks": sum(int(n) for n in backlog.values()),
        "decided": int(decided),
        "completeness": completeness,
        "as_of": now,
    }


__all__ = [
    "LABELS",
    "CustomerQuery",
    "QueueFilter",
    "dashboard",
    "export_customers",
    "find_customers",
    "queue",
    "task_detail",
]
