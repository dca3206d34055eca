"""Term frequencies for the scorer, kept as counts a write can change in O(1).

They are read from the store's live tables by
:func:`mdm.store.names.live_term_frequencies`; the bulk run gives splink the same
figures (see :func:`mdm.bulk.link.name_term_frequencies`), so both paths score a pair
alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping


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
