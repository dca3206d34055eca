"""Tombstones: how an erased record is remembered without any of its values."""

from __future__ import annotations

import hashlib


def tombstone(source: str, record_id: str) -> str:
    """The hash an erased record (source, record_id) is remembered by: SHA-256 of the
    two joined by the unit separator, in hex (DuckDB: ``sha256(source || chr(31) ||
    record_id)``)."""
    return hashlib.sha256(f"{source}\x1f{record_id}".encode()).hexdigest()
