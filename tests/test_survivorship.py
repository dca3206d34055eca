"""Survivorship strategies, run as the store runs them (SQL on DuckDB)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mdm.golden import RECENCY_SQL, survive, survivorship_queries
from mdm.rules.survivorship import SurvivorshipRules
from mdm.schema import ATTRIBUTES

RECORDS = [
    # source, record_id, ingested_at, updated_at, first_name, email, phone, address_line, city
    ("crm", "1", "2026-01-01", "2020-01-01", "bob", "old@x.org", "+441", "1 high st", "leeds"),
    ("web", "2", "2026-01-01", "2023-06-01", "robert", "new@x.org", None, "9 low rd", "york"),
    ("crm", "3", "2026-01-01", "2021-01-01", "bob", None, "+442", None, None),
    ("web", "4", "2026-01-01", None, "roberto", "new@x.org", "+443", None, "hull"),
]


def _survive(rules: SurvivorshipRules, rows=RECORDS) -> dict[str, tuple]:
    frame = pd.DataFrame(
        rows,
        columns=["source", "record_id", "ingested_at", "updated_at", "first_name", "email", "phone",
                 "address_line", "city"],
    )  # fmt: skip
    for column in ATTRIBUTES:
        if column not in frame:
            frame[column] = None
    frame["golden_id"] = "G1"
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute(f"CREATE TABLE work AS SELECT *, {RECENCY_SQL} AS _recency FROM frame")
    result = {}
    for columns, sql in survivorship_queries(rules, "work"):
        rows = con.execute(sql).df()
        if rows.empty:
            continue
        row = rows.iloc[0]
        for column in columns:
            result[column] = (row[column], row["source"], row["record_id"], row["rule"])
    # The real-time path (in process) must agree with the bulk SQL on every value.
    members = frame.astype(object).where(frame.notna(), None).to_dict("records")
    derived = survive(members, rules)
    in_process = {line[0]: (line[1], line[2], line[3], line[4]) for line in derived.lineage}
    assert in_process == {c: v for c, v in result.items() if v[0] is not None}
    return result


def _rules(**attributes) -> SurvivorshipRules:
    return SurvivorshipRules.model_validate(
        {"source_priority": ["crm", "web"], "attributes": attributes,
         "groups": {"address": {"strategy": "most_recent", "columns": ["address_line", "city"]}}}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("strategy", "attribute", "expected"),
    [
        ("most_frequent", "first_name", ("bob", "crm")),
        ("most_recent", "first_name", ("robert", "web")),
        ("source_priority", "phone", ("+442", "crm")),
        ("most_complete", "first_name", ("roberto", "web")),
        ("most_frequent", "email", ("new@x.org", "web")),
    ],
    ids=["most-frequent", "most-recent", "source-priority", "most-complete", "frequent-tie-break"],
)
def test_strategies(strategy: str, attribute: str, expected: tuple) -> None:
    value, source, _, rule = _survive(_rules(**{attribute: {"strategy": strategy}}))[attribute]
    assert (value, source) == expected
    assert rule == strategy


def test_address_survives_whole_from_one_record() -> None:
    result = _survive(_rules())
    assert result["address_line"][0] == "9 low rd" and result["city"][0] == "york"
    assert result["address_line"][1:3] == result["city"][1:3]


def test_missing_values_never_win() -> None:
    result = _survive(_rules(phone={"strategy": "most_recent"}))
    assert result["phone"][0] == "+442"  # the most recent record with a phone


@settings(max_examples=25, deadline=None)
@given(st.permutations(RECORDS))
def test_result_does_not_depend_on_record_order(rows) -> None:
    rules = _rules(first_name={"strategy": "most_frequent"}, phone={"strategy": "source_priority"})
    assert _survive(rules, rows) == _survive(rules)


STRATEGIES = st.sampled_from(["most_frequent", "most_recent", "source_priority", "most_complete"])
WHEN = st.sampled_from(["2020-01-01", "2021-05-01", "2026-01-01"])


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.tuples(
            st.sampled_from(["crm", "web", "branch"]),
            WHEN,
            st.none() | WHEN,
            *(st.none() | st.sampled_from(["a", "bb", "c"]) for _ in range(5)),
        ),
        min_size=1,
        max_size=8,
    ),
    strategies=st.tuples(STRATEGIES, STRATEGIES, STRATEGIES),
)
def test_bulk_and_real_time_agree_on_any_records(values, strategies) -> None:
    """Ties in recency and in values, missing values, every strategy: the bulk SQL and
    the real-time derivation pick the same value from the same record (``_survive``)."""
    rows = [(source, str(n), *rest) for n, (source, *rest) in enumerate(values)]
    first, email, phone = strategies
    _survive(_rules(first_name={"strategy": first}, email={"strategy": email},
                    phone={"strategy": phone}), rows)  # fmt: skip
