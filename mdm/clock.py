"""The store's clock: naive UTC timestamps, as every table keeps them."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in UTC, without a time zone (DuckDB TIMESTAMP)."""
    return datetime.now(UTC).replace(tzinfo=None)
