"""DuckDB's SQL functions that comparison levels use, reproduced in Python.

The real-time scorer evaluates a level's condition in Python and must pick the same
level DuckDB would, so each function here returns exactly what DuckDB returns
(checked against DuckDB by property tests). What DuckDB does that one might not guess:

* ``jaro_winkler_similarity``, ``levenshtein`` and ``damerau_levenshtein`` work on
  UTF-8 *bytes* up to DuckDB 1.x ("é" is two bytes apart from "e") and on characters
  (code points) from 2.0.
  Which one the installed DuckDB does is asked once, per function, and the same
  units are compared here, so the scorer agrees with every DuckDB the package allows.
  Jaro-Winkler of an empty string is 0, even against another empty string (rapidfuzz
  says 1.0). Otherwise rapidfuzz on the same units agrees with DuckDB to the last bit
  or two: DuckDB's build may fuse the
  Winkler step ``sim + prefix * 0.1 * (1 - sim)`` into one multiply-add, which rounds
  once instead of twice. Near a threshold the exact arithmetic decides, fused or not
  as the installed DuckDB does it (asked once);
* ``length``, ``left`` and ``substr`` count characters (code points);
* ``list_has_any`` never matches a NULL element;
* ``try_cast(text AS DATE)`` accepts far more than ISO dates (``2020/1/1``,
  ``epoch``, a trailing time); text that is not a plain ``YYYY-MM-DD`` is handed to
  DuckDB itself once and the answer kept.

Callers pass non-NULL values; NULL handling belongs to the level's condition.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from datetime import date
from fractions import Fraction
from functools import lru_cache

import duckdb
from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler, Levenshtein

from mdm.errors import ConfigError

#: rapidfuzz and DuckDB may round the last bit of a Jaro-Winkler similarity
#: differently; closer than this to a threshold, the exact DuckDB arithmetic decides.
_JW_TIE = 1e-9

_PREFIX_WEIGHT = 0.1
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def jaro_winkler_similarity(a: str, b: str) -> float:
    """DuckDB's ``jaro_winkler_similarity(a, b)``, bit for bit (its arithmetic and units)."""
    units = _units("jaro_winkler_similarity")
    return _jaro_winkler(units(a), units(b), fused=_winkler_is_fused())


def jaro_winkler_at_least(a: str, b: str, threshold: float) -> bool:
    """``jaro_winkler_similarity(a, b) >= threshold`` as DuckDB decides it (fast)."""
    if not a or not b:
        return threshold <= 0.0
    units = _units("jaro_winkler_similarity")
    left, right = units(a), units(b)
    similarity = JaroWinkler.similarity(left, right)
    if threshold - _JW_TIE <= similarity <= threshold + _JW_TIE:
        similarity = _jaro_winkler(left, right, fused=_winkler_is_fused())
    return similarity >= threshold


def levenshtein(a: str, b: str) -> int:
    """DuckDB's ``levenshtein(a, b)``: edits between bytes or characters, as it counts them."""
    units = _units("levenshtein")
    return int(Levenshtein.distance(units(a), units(b)))


def damerau_levenshtein(a: str, b: str) -> int:
    """DuckDB's ``damerau_levenshtein(a, b)``: edits, two neighbours swapped counting one."""
    units = _units("damerau_levenshtein")
    return int(DamerauLevenshtein.distance(units(a), units(b)))


def list_has_any(a: Iterable[object], b: Iterable[object]) -> bool:
    """DuckDB's ``list_has_any(a, b)`` for two lists (NULL elements never match)."""
    present = set(a)
    present.discard(None)
    return not present.isdisjoint(b)


def substr(text: str, start: int, length: int) -> str:
    """DuckDB's ``substr(text, start, length)`` for ``start >= 1`` (1-based, characters)."""
    return text[start - 1 : start - 1 + length]


@lru_cache(maxsize=1 << 16)
def date_days(text: str) -> int | None:
    """Days since 1970-01-01 of ``try_cast(text AS DATE)``; None where that is NULL or
    infinite (``date_diff`` of an infinite date is NULL too). Remembers its answers."""
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        return _duckdb_date_days(text)
    year, month, day = (int(part) for part in match.groups())
    if year == 0:
        return _duckdb_date_days(text)  # year 0 is 1 BC to DuckDB; Python has no such date
    try:
        return date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None


#: Pairs on which the functions above are checked against the installed DuckDB once,
#: before a scorer is built: accents, a two-byte letter, an empty side, near ties.
_AGREEMENT_PAIRS = (
    ("café", "cafe"), ("ß", ""), ("martha", "marhta"), ("dwayne", "duane"),
    ("jönsson", "jonsson"), ("abbb", "aabba"), ("baaaabbbba", "bbaaaabbbaba"),
    ("o'neil", "oneill"), ("", ""), ("李", "李小"),
)  # fmt: skip


@lru_cache(maxsize=1)
def check_agreement() -> None:
    """Raise :class:`ConfigError` unless the functions here give the installed DuckDB's
    answers: the real-time scorer would then pick other levels than bulk scoring."""
    for left, right in _AGREEMENT_PAIRS:
        duck = tuple(
            _ask_duckdb(f"SELECT {function}(?::VARCHAR, ?::VARCHAR)", [left, right])
            for function in ("jaro_winkler_similarity", "levenshtein", "damerau_levenshtein")
        )
        ours = (
            jaro_winkler_similarity(left, right),
            levenshtein(left, right),
            damerau_levenshtein(left, right),
        )
        if duck != ours:
            raise ConfigError(
                f"the installed DuckDB {duckdb.__version__} gives {duck} for "
                "jaro_winkler_similarity, levenshtein and damerau_levenshtein of "
                f"({left!r}, {right!r}) where "
                f"mdm's real-time scorer gives {ours}: real-time and bulk scores would "
                "differ. Install the tested set (make setup, or pip install -r "
                "requirements/lock.txt) or report the DuckDB version as an issue"
            )


_connection: duckdb.DuckDBPyConnection | None = None
_lock = threading.Lock()


def _ask_duckdb(sql: str, params: list[object]) -> object:
    """The one value of ``sql`` as the installed DuckDB computes it."""
    global _connection
    with _lock:
        if _connection is None:
            _connection = duckdb.connect()
        row = _connection.execute(sql, params).fetchone()
    return None if row is None else row[0]


def _duckdb_date_days(text: str) -> int | None:
    days = _ask_duckdb(
        "SELECT date_diff('day', DATE '1970-01-01', try_cast(?::VARCHAR AS DATE))", [text]
    )
    return None if days is None else int(days)  # type: ignore[call-overload]


Units = Callable[[str], "bytes | str"]


def _utf8(text: str) -> bytes:
    return text.encode()


def _characters(text: str) -> str:
    return text


#: Per function, a pair of texts and the function's value for them when it counts
#: UTF-8 bytes: "ß" is one character but two bytes; "é" likewise.
_BYTE_PROBES: dict[str, tuple[str, str]] = {
    "levenshtein": ("ß", ""),
    "damerau_levenshtein": ("ß", ""),
    "jaro_winkler_similarity": ("café", "cafe"),
}


@lru_cache(maxsize=2)
def _units(function: str) -> Units:
    """What the installed DuckDB's ``function`` compares: UTF-8 bytes or characters."""
    left, right = _BYTE_PROBES[function]
    duck = _ask_duckdb(f"SELECT {function}(?::VARCHAR, ?::VARCHAR)", [left, right])
    if function == "levenshtein":
        as_bytes: object = Levenshtein.distance(_utf8(left), _utf8(right))
    elif function == "damerau_levenshtein":
        as_bytes = DamerauLevenshtein.distance(_utf8(left), _utf8(right))
    else:
        as_bytes = _jaro_winkler(_utf8(left), _utf8(right), fused=_winkler_is_fused())
    return _utf8 if duck == as_bytes else _characters


#: A pair whose Jaro-Winkler similarity rounds differently with and without a fused
#: multiply-add in the Winkler step (0.805 fused, 0.8049999999999999 not).
_FUSE_PROBE = ("abbb", "aabba")


@lru_cache(maxsize=1)
def _winkler_is_fused() -> bool:
    """Whether the installed DuckDB computes the Winkler step with one rounding."""
    left, right = _FUSE_PROBE
    duck = _ask_duckdb("SELECT jaro_winkler_similarity(?::VARCHAR, ?::VARCHAR)", [left, right])
    return duck == _jaro_winkler(left.encode(), right.encode(), fused=True)


def _jaro_winkler(p: bytes | str, t: bytes | str, *, fused: bool) -> float:
    """duckdb_jaro_winkler::jaro_winkler_similarity with prefix weight 0.1, no cutoff."""
    similarity = _jaro(p, t)
    if similarity <= 0.7:
        return similarity
    prefix = 0
    for x, y in zip(p[:4], t[:4], strict=False):
        if x != y:
            break
        prefix += 1
    boost, rest = prefix * _PREFIX_WEIGHT, 1.0 - similarity
    if fused:  # fma(boost, rest, similarity): the exact result, rounded once
        return float(Fraction(boost) * Fraction(rest) + Fraction(similarity))
    return similarity + boost * rest


def _jaro(p: bytes | str, t: bytes | str) -> float:
    """duckdb_jaro_winkler::jaro_similarity: greedy matching within the window, then
    ``(m/|p| + m/|t| + (m - transpositions/2)/m) / 3`` in that order."""
    p_len, t_len = len(p), len(t)
    if not p_len or not t_len:
        return 0.0
    if p_len == 1 and t_len == 1:
        return float(p[0] == t[0])
    bound = max(p_len, t_len) // 2 - 1
    p_flags = [False] * p_len
    t_matched: list[int | str] = []
    for j, char in enumerate(t):
        for i in range(max(0, j - bound), min(p_len, j + bound + 1)):
            if not p_flags[i] and p[i] == char:
                p_flags[i] = True
                t_matched.append(char)
                break
    common = len(t_matched)
    if not common:
        return 0.0
    p_matched = [char for char, flagged in zip(p, p_flags, strict=True) if flagged]
    transpositions = sum(x != y for x, y in zip(t_matched, p_matched, strict=True)) // 2
    similarity = 0.0
    similarity += common / p_len
    similarity += common / t_len
    similarity += (common - transpositions) / common
    return similarity / 3.0
