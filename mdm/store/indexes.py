"""The indexes the real-time service keeps on the store, which a bulk run drops.

Showing or deriving again one golden record reads its lineage and its source records by
golden id; without an index each is a scan of every golden record's. A bulk run rewrites
those tables whole, faster without the indexes: :mod:`mdm.store.golden` drops
:data:`~mdm.store.golden.LINEAGE_INDEX`, :mod:`mdm.store.records` writes a new xref table
without :data:`~mdm.store.records.XREF_INDEX`, and :func:`index_for_service` makes them
again.
"""

from __future__ import annotations

import duckdb

from mdm.store.golden import LINEAGE_INDEX
from mdm.store.records import XREF_INDEX


def index_for_service(con: duckdb.DuckDBPyConnection) -> None:
    """Index lineage and cross-references by golden id, so that re-deriving or showing one
    golden record does not scan every one's (the real-time service does this at start-up)."""
    con.execute(f"CREATE INDEX IF NOT EXISTS {LINEAGE_INDEX} ON lineage (golden_id)").fetchall()
    con.execute(f"CREATE INDEX IF NOT EXISTS {XREF_INDEX} ON xref (golden_id)").fetchall()
