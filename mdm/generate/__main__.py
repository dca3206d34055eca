"""``python -m mdm.generate --records N --seed S --out DIR``: write synthetic sources."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from mdm.generate.config import LOCALES, SOURCES, GeneratorConfig
from mdm.generate.sample import write_sample


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, write the files, print where they went."""
    parser = argparse.ArgumentParser(
        prog="python -m mdm.generate",
        description="Write synthetic customer records for several sources, with ground truth.",
    )
    parser.add_argument("--records", type=int, required=True, help="total records, all sources")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the files to")
    parser.add_argument(
        "--sources",
        default=",".join(SOURCES),
        help=f"comma-separated subset of {','.join(SOURCES)} (default: all)",
    )
    parser.add_argument(
        "--error-scale", type=float, default=1.0, help="multiply every error rate (default 1)"
    )
    parser.add_argument(
        "--nickname-scale",
        type=float,
        default=1.0,
        help="multiply each source's nickname rate (default 1; 5 gives a nickname-heavy set)",
    )
    parser.add_argument(
        "--household-scale",
        type=float,
        default=1.0,
        help="multiply the chance that housemates are customers too and share a landline "
        "or an email (default 1; 3 gives dense households)",
    )
    parser.add_argument(
        "--single-record-source",
        metavar="SOURCE",
        help="a source holding exactly one record of every person (a clean master); the "
        "other records go to the other sources",
    )
    parser.add_argument(
        "--locale",
        choices=LOCALES,
        default="gb",
        help="where the people live: gb (default), us (US cities, states, ZIPs, phone "
        "styles, mm/dd dates) or au (Australian cities, states, postcodes, phones); "
        "for us and au the mappings are written to OUT/sources/",
    )
    parser.add_argument(
        "--national-ids",
        action="store_true",
        help="give people a national identifier (NI number, SSN or TFN by locale) in the "
        "crm and billing sources, with typing slips and fillers; the mappings that name "
        "it are written to OUT/sources/",
    )
    args = parser.parse_args(argv)
    config = GeneratorConfig(
        n_records=args.records,
        seed=args.seed,
        sources=tuple(s.strip() for s in args.sources.split(",") if s.strip()),
        error_scale=args.error_scale,
        nickname_scale=args.nickname_scale,
        household_scale=args.household_scale,
        single_record_source=args.single_record_source,
        locale=args.locale,
        national_ids=args.national_ids,
    )
    started = time.perf_counter()
    paths = write_sample(args.out, config)
    elapsed = time.perf_counter() - started
    for name, path in paths.items():
        print(f"{name:8} {path}")
    print(f"{config.n_records} records in {elapsed:.1f} s", file=sys.stderr)
    if config.locale != "gb" or config.national_ids:
        print(
            f"mdm reconcile reads these headers without a mapping; the explicit mappings are "
            f"in {args.out / 'sources'} (used with 'mdm init {args.out}' and --rules "
            f"{args.out / 'customer.match.yaml'})",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
