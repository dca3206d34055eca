"""Term frequencies for the scorer, from the store's live tables.

First and last names come from ``name_frequencies`` (kept up to date by every ingest);
any other column a level adjusts for is counted over the store's records. The bulk
run gives splink the same figures (see :func:`mdm.jobs.name_term_frequencies`).
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from mdm.names.store import term_frequency_sql


def live_term_frequencies(
    con: duckdb.DuckDBPyConnection, columns: Iterable[str], records: str = "records"
) -> dict[str, dict[str, float]]:
    """column -> value -> share of the records with a value in that column."""
    lookup: dict[str, dict[str, float]] = {}
    for column in columns:
        sql = term_frequency_sql(column) or (
            f'SELECT "{column}", count(*) / sum(count(*)) OVER () FROM {records} '
            f'WHERE "{column}" IS NOT NULL GROUP BY 1'
        )
        lookup[column] = dict(con.execute(sql).fetchall())
    return lookup
