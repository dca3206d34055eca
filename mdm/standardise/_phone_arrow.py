"""The phone fast path of :mod:`mdm.standardise.phones`, on whole Arrow arrays.

Plain numbers ("07700 900123", "+44 7700 900123") are read here with the same
metadata rules as ``phones._fast_e164``; every other value, and every number the
fast path would hand to phonenumbers, is left for ``phones._classify_phone``.
``tests/standardise/test_phones.py`` checks the two agree.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

from mdm.standardise import _vectorised as vec
from mdm.standardise._columns import Cleaned, Status
from mdm.standardise._phone_rules import Rules, rules_for_region

#: Status of a value the kernel leaves to the scalar function.
UNDECIDED = -1

_FORMATTING = (" ", "\t", "-", "(", ")", ".", "/")
_COUNTRY_CODES = pa.array(sorted(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE))


def _runs(sequence: str) -> list[str]:
    return [sequence[i:j] for i in range(len(sequence)) for j in range(i + 7, len(sequence) + 1)]


_SEQUENCES = pa.array(sorted(set(_runs("01234567890123456789") + _runs("98765432109876543210"))))


def classify_phones(
    texts: pa.StringArray, region: str | None, classify: Callable[[str | None], Cleaned]
) -> tuple[np.ndarray, np.ndarray]:
    """Phone numbers as E.164 and their statuses, ``classify`` doing what Arrow cannot."""
    compact = texts
    for char in _FORMATTING:
        compact = pc.replace_substring(compact, char, "")
    ascii_only = _numpy(pc.fill_null(pc.string_is_ascii(texts), False))
    plain = ascii_only & _numpy(vec.matching(compact, r"^\+?[0-9]+$"))
    digits = pc.utf8_ltrim(compact, "+")
    length = np.where(plain, pc.fill_null(pc.utf8_length(digits), 0).to_numpy(), 0)

    statuses = np.full(len(texts), UNDECIDED, dtype=np.int8)
    values = np.full(len(texts), None, dtype=object)
    statuses[_numpy(pc.is_null(texts))] = Status.EMPTY
    placeholder = plain & (length > 0) & _is_placeholder(digits)
    _settle(statuses, plain & (length == 0), Status.INVALID)
    _settle(statuses, placeholder, Status.PLACEHOLDER)
    _settle(statuses, plain & (length < 7), Status.INVALID)

    fast = (statuses == UNDECIDED) & plain & (length <= 17)
    international = fast & _numpy(pc.fill_null(pc.starts_with(compact, "+"), False))
    e164, national, local = _fast_international(digits, international)
    if region is not None:
        domestic = _fast_national(digits, fast & ~international, rules_for_region(region))
        e164 = pc.coalesce(e164, domestic[0])
        national = pc.coalesce(national, domestic[1])
        local |= domestic[2] | _dialled_locally(digits, national, rules_for_region(region))
    found = _numpy(pc.is_valid(national)) & (statuses == UNDECIDED)
    _settle(statuses, found & local, Status.LOCAL)
    possible = found & _numpy(pc.fill_null(pc.greater(pc.utf8_length(e164), 7), False))
    _settle(statuses, possible & _is_placeholder(national), Status.PLACEHOLDER)
    _settle(statuses, possible, Status.OK)
    _settle(statuses, found, Status.INVALID)
    ok = statuses == Status.OK
    values[ok] = pc.filter(e164, pa.array(ok)).to_pylist()

    undecided = np.flatnonzero(statuses == UNDECIDED)
    for at, text in zip(undecided, texts.take(undecided).to_pylist(), strict=True):
        values[at], statuses[at] = classify(text)
    return values, statuses


def _fast_international(
    digits: pa.StringArray, rows: np.ndarray
) -> tuple[pa.StringArray, pa.StringArray, np.ndarray]:
    """E.164 (null when impossible), national number and whether it is possible only
    locally, for "+" rows the fast path decides.

    Rows it leaves to phonenumbers get a null national number.
    """
    e164 = pa.nulls(len(digits), pa.string())
    national_out = pa.nulls(len(digits), pa.string())
    local = np.zeros(len(digits), dtype=bool)
    rows = rows & ~_numpy(pc.fill_null(pc.starts_with(digits, "0"), True))
    country = pa.nulls(len(digits), pa.string())
    for size in (3, 2, 1):  # country codes are prefix-free: at most one size is known
        prefix = pc.utf8_slice_codeunits(digits, 0, size)
        known = pc.fill_null(pc.is_in(prefix, value_set=_COUNTRY_CODES), False)
        country = pc.if_else(known, prefix, country)
    for code in pc.unique(pc.filter(country, pa.array(rows))).to_pylist():
        if code is None:
            continue
        region = phonenumbers.region_code_for_country_code(int(code))
        rules = rules_for_region(region) if region != phonenumbers.UNKNOWN_REGION else None
        if rules is None or region == "001":
            continue
        group = rows & _numpy(pc.fill_null(pc.equal(country, code), False))
        national = pc.utf8_slice_codeunits(digits, len(code))
        bad = _numpy(pc.less(pc.utf8_length(national), 2)) | _starts_zero(national)
        if rules.national_prefix is not None:
            bad |= _numpy(vec.matching(national, f"^(?:{rules.national_prefix.pattern})"))
        group &= ~bad
        possible, local_only = _lengths(national, rules)
        mask = pa.array(group)
        national_out = pc.if_else(mask, national, national_out)
        plus = pc.binary_join_element_wise("+", digits, "")
        e164 = pc.if_else(pa.array(group & possible & ~local_only), plus, e164)
        local |= group & local_only
    return e164, national_out, local


def _fast_national(
    digits: pa.StringArray, rows: np.ndarray, rules: Rules | None
) -> tuple[pa.StringArray, pa.StringArray, np.ndarray]:
    """E.164 (null when impossible), national number and whether it is possible only
    locally, for rows without "+"."""
    none = pa.nulls(len(digits), pa.string())
    if rules is None or not rows.any():
        return none, none, np.zeros(len(digits), dtype=bool)
    bad = _numpy(pc.fill_null(pc.starts_with(digits, rules.country_code), False))
    if rules.idd is not None:
        bad |= _numpy(vec.matching(digits, f"^(?:{rules.idd.pattern})"))
    national = digits
    if rules.national_prefix is not None:
        prefix = f"^(?:{rules.national_prefix.pattern})"
        has_prefix = _numpy(vec.matching(digits, prefix))
        stripped = vec.replace_matching(digits, prefix, "")
        if not rules.prefix_is_simple:
            bad |= has_prefix
        general = f"^(?:{rules.general.pattern})$"
        bad |= (
            has_prefix
            & _numpy(vec.matching(digits, general))
            & ~_numpy(vec.matching(stripped, general))
        )
        stripped_length = pc.utf8_length(stripped)
        exact = pc.and_(
            pc.is_in(stripped_length, pa.array(sorted(rules.possible_lengths))),
            pc.invert(pc.is_in(stripped_length, pa.array(sorted(rules.local_lengths or {-1})))),
        )
        bad |= has_prefix & ~_numpy(pc.fill_null(exact, False))
        national = pc.if_else(pa.array(has_prefix), stripped, digits)
    bad |= _numpy(pc.less(pc.utf8_length(national), 2)) | _starts_zero(national)
    rows = rows & ~bad
    possible, local_only = _lengths(national, rules)
    e164 = pc.binary_join_element_wise("+" + rules.country_code, national, "")
    return (
        pc.if_else(pa.array(rows & possible & ~local_only), e164, none),
        pc.if_else(pa.array(rows), national, none),
        rows & local_only,
    )


def _lengths(national: pa.StringArray, rules: Rules) -> tuple[np.ndarray, np.ndarray]:
    """Whether each national number has a possible length, and one possible only locally."""
    length = pc.utf8_length(national)
    possible = _numpy(pc.is_in(length, pa.array(sorted(rules.main_lengths))))
    local = _numpy(pc.is_in(length, pa.array(sorted(rules.main_local_lengths or {-1}))))
    return possible, local


def _dialled_locally(
    digits: pa.StringArray, national: pa.StringArray, rules: Rules | None
) -> np.ndarray:
    """Arrow twin of ``phones._dialled_locally``: written as its national number, of a
    length only a local landline has."""
    if rules is None or not rules.dialled_local_lengths:
        return np.zeros(len(digits), dtype=bool)
    lengths = pa.array(sorted(rules.dialled_local_lengths))
    same = pc.and_(pc.equal(digits, national), pc.is_in(pc.utf8_length(national), lengths))
    return _numpy(pc.fill_null(same, False))


def _is_placeholder(digits: pa.StringArray) -> np.ndarray:
    """Arrow twin of ``phones._is_placeholder``: one digit repeated, or a run of 7+."""
    length = pc.utf8_length(digits)
    repeated = pc.equal(pc.binary_repeat(pc.utf8_slice_codeunits(digits, 0, 1), length), digits)
    run = pc.is_in(digits, value_set=_SEQUENCES)
    return _numpy(pc.fill_null(pc.or_(repeated, run), False))


def _starts_zero(array: pa.StringArray) -> np.ndarray:
    return _numpy(pc.fill_null(pc.starts_with(array, "0"), False))


def _settle(statuses: np.ndarray, rows: np.ndarray, status: Status) -> None:
    """Give ``status`` to the ``rows`` that have none yet."""
    statuses[rows & (statuses == UNDECIDED)] = status


def _numpy(mask: pa.Array) -> np.ndarray:
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
