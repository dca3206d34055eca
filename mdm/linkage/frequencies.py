"""Term frequencies for the scorer, from the store's live tables.

First and last names come from ``name_frequencies`` (kept up to date by every ingest,
bulk or single); any other column a level adjusts for is counted over the store's
records. The bulk run gives splink the same figures (see
:func:`mdm.bulk.link.name_term_frequencies`), so both paths score a pair alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import duckdb

from mdm.names.store import FREQUENCY_COLUMNS

_KIND_OF = {column: kind for kind, column in FREQUENCY_COLUMNS.items()}


class LiveFrequencies(Mapping[str, float]):
    """A value's share of the records that have one, kept as counts so that adding or
    removing a record is O(1): ``count / total``, as splink's ``tf_<column>``."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts
        self.total = sum(counts.values())

    def __getitem__(self, value: str) -> float:
        return self.counts[value] / self.total

    def get(self, value: str, default: float | None = None) -> float | None:  # type: ignore[override]
        count = self.counts.get(value)
        return default if count is None else count / self.total

    def __iter__(self) -> Iterator[str]:
        return iter(self.counts)

    def __len__(self) -> int:
        return len(self.counts)

    def add(self, value: str | None, times: int = 1) -> None:
        """Count ``value`` ``times`` more (negative to remove); None is not counted."""
        if value is None:
            return
        count = self.counts.get(value, 0) + times
        if count > 0:
            self.counts[value] = count
        else:
            self.counts.pop(value, None)
        self.total += times


def live_term_frequencies(
    con: duckdb.DuckDBPyConnection, columns: Iterable[str], records: str = "records"
) -> dict[str, LiveFrequencies]:
    """column -> its live frequencies: names from ``name_frequencies``, any other column
    counted over ``records``."""
    lookup: dict[str, LiveFrequencies] = {}
    for column in columns:
        if column in _KIND_OF:
            sql = "SELECT name, count FROM name_frequencies WHERE kind = ?"
            params = [_KIND_OF[column]]
        else:
            sql = (
                f'SELECT "{column}", count(*) FROM {records} WHERE "{column}" IS NOT NULL '
                "GROUP BY 1"
            )
            params = []
        lookup[column] = LiveFrequencies(dict(con.execute(sql, params).fetchall()))
    return lookup
