"""Load the seed reference-name tables and answer "are these two names known variants?".

The seed files ship in the package (``mdm/data/reference_names/``); the repository's
``reference_names/`` folder documents their provenance and licences and rebuilds them
with ``build.py``:

- ``name_variants.csv``: ``name,variant,kind,origin``; ``name`` is the canonical name.
- ``first_names.csv``: ``name,count,gender_share_f``.
- ``last_names.csv``: ``name,count``.

Nicknames are not transitive: "al" is short for alan, albert and alfred, which are not
each other's variants. So variant groups are not connected components. A name's
*group keys* are the name itself and every canonical name it is a variant of; two
names are known variants iff their keys intersect (bob -> (bob, robert) and
rob -> (rob, robert) share robert; alan -> (alan,) and albert -> (albert,) share
nothing, although both share a key with al -> (al, alan, albert, alfred)).

The only state is an ``lru_cache`` on file reads, keyed by the file's path, size and
modification time, so a rewritten file is read again. Loaders return copies.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

import pandas as pd
from anyascii import anyascii

from mdm.bundled import REFERENCE_NAMES_DIR
from mdm.errors import InputError

VARIANTS_FILE = "name_variants.csv"
FREQUENCY_FILES: dict[str, str] = {"first": "first_names.csv", "last": "last_names.csv"}
VARIANT_COLUMNS: tuple[str, ...] = ("name", "variant", "kind", "origin")
VARIANT_KINDS: frozenset[str] = frozenset({"nickname", "spelling", "transliteration"})
FREQUENCY_COLUMNS: dict[str, tuple[str, ...]] = {
    "first": ("name", "count", "gender_share_f"),
    "last": ("name", "count"),
}
_DTYPES: dict[str, str] = {
    "name": "str",
    "variant": "str",
    "kind": "str",
    "origin": "str",
    "count": "int64",
    "gender_share_f": "float64",
}

VariantGroups = Mapping[str, tuple[str, ...]]


def reference_dir() -> Path:
    """The packaged seed lists (``mdm/data/reference_names/``)."""
    return REFERENCE_NAMES_DIR


@functools.lru_cache(maxsize=8)
def _read_csv_cached(
    path: str, columns: tuple[str, ...], _size: int, _mtime_ns: int
) -> pd.DataFrame:
    try:
        df = pd.read_csv(
            path,
            dtype={c: _DTYPES[c] for c in columns},
            keep_default_na=False,  # "nan", "na" and "null" are real names
            na_values=[],
            encoding="utf-8",
        )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read reference file {path}: {exc}") from exc
    if tuple(df.columns) != columns:
        raise InputError(
            f"reference file {path} has columns {list(df.columns)}; expected {list(columns)}"
        )
    return df


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        stat = path.stat()
    except OSError as exc:
        raise InputError(
            f"reference file {path} is missing; rebuild it with reference_names/build.py"
        ) from exc
    return _read_csv_cached(str(path), columns, stat.st_size, stat.st_mtime_ns).copy()


def load_name_variants(path: Path | None = None) -> pd.DataFrame:
    """Name/variant pairs: columns ``name, variant, kind, origin``, one row per pair."""
    path = reference_dir() / VARIANTS_FILE if path is None else Path(path)
    df = _read_csv(path, VARIANT_COLUMNS)
    bad = sorted(set(df["kind"]) - VARIANT_KINDS)
    if bad:
        raise InputError(f"{path}: unknown kind {bad}; allowed: {sorted(VARIANT_KINDS)}")
    return df


def load_name_frequencies(kind: Literal["first", "last"], path: Path | None = None) -> pd.DataFrame:
    """Name counts: ``name, count, gender_share_f`` (first) or ``name, count`` (last)."""
    if kind not in FREQUENCY_FILES:
        raise ValueError(f"kind must be 'first' or 'last', not {kind!r}")
    path = reference_dir() / FREQUENCY_FILES[kind] if path is None else Path(path)
    return _read_csv(path, FREQUENCY_COLUMNS[kind])


def normalise_name(name: str) -> str:
    """The form names take in the reference tables: ASCII, lowercase, letters only."""
    return "".join(c for c in anyascii(name).lower() if "a" <= c <= "z")


def build_variant_groups(pairs: Iterable[tuple[str, str]]) -> dict[str, tuple[str, ...]]:
    """Each name's sorted group keys, from ``(canonical name, variant)`` pairs.

    The keys of a name are the name itself and every canonical name it is a variant
    of. Not transitive: ``[("alan", "al"), ("albert", "al")]`` gives
    ``{"al": ("al", "alan", "albert"), "alan": ("alan",), "albert": ("albert",)}``,
    so al ~ alan and al ~ albert but not alan ~ albert. A symmetric pair (a spelling
    variant) needs no special case: both names share the key of its ``name`` side.
    """
    keys: dict[str, set[str]] = defaultdict(set)
    for name, variant in pairs:
        name, variant = normalise_name(name), normalise_name(variant)
        if not name or not variant:
            continue
        keys[name].add(name)
        keys[variant].update((variant, name))
    return {n: tuple(sorted(k)) for n, k in sorted(keys.items())}


def variant_keys(name: str | None, groups: VariantGroups) -> list[str] | None:
    """The group keys of ``name``; ``[name]`` for a name not in the table; None if blank."""
    if name is None:
        return None
    norm = normalise_name(name)
    if not norm:
        return None
    return list(groups.get(norm, (norm,)))


def are_known_variants(a: str | None, b: str | None, groups: VariantGroups) -> bool:
    """True if ``a`` and ``b`` are the same name or known variants of each other.

    Symmetric, and reflexive for every name with at least one letter; a missing or
    blank name (None, "", "-") is nobody's variant, not even its own.
    """
    keys_a = variant_keys(a, groups)
    keys_b = variant_keys(b, groups)
    if keys_a is None or keys_b is None:
        return False
    return not set(keys_a).isdisjoint(keys_b)
