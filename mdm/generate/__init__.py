"""Synthetic multi-source customer data with ground truth.

People live in households (singles, couples, families with grown-up children,
twins, fathers and sons of the same name, flat-shares) and each appears in one
to six records spread over four source systems (crm CSV, billing Parquet,
webshop JSON lines, branch Excel), each with its own columns, formats and
habits: nicknames, initials, typos, old addresses, maiden names, placeholders,
empty fields. Every record carries ``true_person_id`` for scoring only. The
mapping of each source onto the customer schema is in ``mdm/data/sample/sources/``
(their headers are also ones :mod:`mdm.headers` recognises without a mapping).

Example::

    from mdm.generate import GeneratorConfig, generate_sources, write_sample

    frames = generate_sources(GeneratorConfig(n_records=10_000, seed=1))
    paths = write_sample(Path("out/sample"), GeneratorConfig(n_records=6000, seed=42))

or ``python -m mdm.generate --records 100000 --seed 1 --out out/bulk``.
"""

from mdm.generate.config import SOURCES, GeneratorConfig
from mdm.generate.sample import (
    EXCEL_MAX_RECORDS,
    Generated,
    generate,
    generate_sources,
    write_sample,
)

__all__ = [
    "EXCEL_MAX_RECORDS",
    "SOURCES",
    "Generated",
    "GeneratorConfig",
    "generate",
    "generate_sources",
    "write_sample",
]
