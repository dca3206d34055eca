"""Phone numbers: E.164 text ("+447700900123") via the phonenumbers library.

>>> clean_phone("07700 900123")
'+447700900123'
>>> clean_phone("(202) 555-0143 ext. 12", default_region="US")
'+12025550143'
>>> clean_phone("0000000000") is None
True

A number is kept when phonenumbers finds it *possible* (right length), not
necessarily *valid* (allocated), so synthetic test numbers pass.

``phonenumbers.parse`` costs about 20 µs, too slow for a million distinct numbers,
so the common plain forms ("07700900123", "+447700900123") take a fast path
that reproduces its result from the same metadata and defers to it whenever a
number needs any of its special handling (national prefix rules, IDD, leading
zeros). ``tests/standardise/test_phones.py`` checks the two agree.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from mdm.standardise import _vectorised as vec
from mdm.standardise._columns import INVALID, LOCAL, PLACEHOLDER, Cleaned, Status, assemble
from mdm.standardise._columns import to_text as _to_text
from mdm.standardise._phone_arrow import classify_phones
from mdm.standardise._phone_rules import rules_for_region

_EXTENSION = re.compile(r"\s*(?:;\s*ext=|ext(?:ension|n)?\.?|x|#)\s*\d{1,7}\s*$", re.IGNORECASE)
_NON_DIGITS = re.compile(r"\D+")
_FORMATTING = str.maketrans("", "", " \t\u00a0-()./")
_PLAIN = re.compile(r"\+?[0-9]{7,17}")
_DIGITS_ONLY = re.compile(r"\+?[0-9]+")
_MIN_DIGITS = 7
_ASCENDING = "01234567890123456789"
_DESCENDING = "98765432109876543210"


def clean_phone(value: object, default_region: str | None = "GB") -> str | None:
    """Return a phone number as E.164, or None when impossible, a placeholder or
    possible only without its area code ("949-4255" in the US: it has no E.164).

    Numbers without a country code are read as from ``default_region`` (ISO 3166
    alpha-2). Extensions are dropped. Placeholders: one digit repeated
    ("0000000000"), a run such as "1234567890", fewer than seven digits.
    """
    return _classify_phone(value, _checked_region(default_region))[0]


def standardise_phone_column(
    series: pd.Series, default_region: str | None = "GB"
) -> tuple[pd.Series, int]:
    """Clean a phone column once per distinct value; also return the number of invalid ones.

    Placeholders and numbers without their area code ("949-4255" in the US) become
    None but are not counted as invalid.
    """
    rows, counts = _standardise(series, _checked_region(default_region))
    return rows, int(counts[Status.INVALID])


def standardise_phone_column_by_region(
    series: pd.Series, regions: np.ndarray
) -> tuple[pd.Series, np.ndarray]:
    """Clean a phone column, each row's number read as from its own region.

    Args:
        series: The phone numbers as written.
        regions: Per row, the ISO 3166 alpha-2 region of numbers without a country code.

    Returns:
        The E.164 numbers (None where there is none) and the row count of each
        :class:`~mdm.standardise._columns.Status` (LOCAL: a number without its area code).
    """
    codes, distinct = pd.factorize(pd.Series(regions, dtype=object), use_na_sentinel=False)
    if len(distinct) <= 1:
        return _standardise(series, _checked_region(distinct[0] if len(distinct) else None))
    out = np.full(len(series), None, dtype=object)
    counts = np.zeros(len(Status), dtype=np.int64)
    for code, region in enumerate(distinct.tolist()):
        rows = np.flatnonzero(codes == code)
        values, found = _standardise(series.iloc[rows], _checked_region(region))
        out[rows] = values.to_numpy(dtype=object)
        counts += found
    return pd.Series(out, index=series.index, dtype=object), counts


def _standardise(series: pd.Series, region: str | None) -> tuple[pd.Series, np.ndarray]:
    """Each distinct value classified once: the rows, and the row count of each Status."""
    unique = vec.unique_texts(series)

    def classify(text: str | None) -> Cleaned:
        return _classify_phone(text, region)

    if unique.array is None:
        results = [classify(text) for text in unique.texts()]
        values = np.array([value for value, _ in results], dtype=object)
        statuses = np.array([status for _, status in results], dtype=np.int8)
    else:
        values, statuses = classify_phones(unique.array, region, classify)
    return assemble(unique.codes, values, statuses, series.index)


def _checked_region(region: str | None) -> str | None:
    if region is None:
        return None
    upper = region.upper()
    if upper not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"unknown phone region {region!r}: use an ISO 3166 alpha-2 code such as 'GB' or 'US'"
        )
    return upper


def _classify_phone(value: object, region: str | None) -> Cleaned:
    text = _to_text(value)
    if text is None:
        return None, Status.EMPTY
    compact = text.translate(_FORMATTING)
    if _DIGITS_ONLY.fullmatch(compact):
        digits = compact.lstrip("+")
    else:
        text = _EXTENSION.sub("", text)
        digits, compact = _NON_DIGITS.sub("", text), ""
    if not digits:
        return INVALID
    if _is_placeholder(digits):
        return PLACEHOLDER
    if len(digits) < _MIN_DIGITS:
        return INVALID
    found = _fast_e164(compact, region) if compact else _UNDECIDED
    if found is _UNDECIDED:
        found = _parse_e164(text, region)
    if found is _LOCAL_ONLY or _dialled_locally(found, digits, region):
        return LOCAL
    if not isinstance(found, tuple) or len(found[0]) <= _MIN_DIGITS:
        return INVALID  # impossible, or under 7 digits once an extension is gone
    e164, national = found
    return PLACEHOLDER if _is_placeholder(national) else (e164, Status.OK)


def _dialled_locally(found: object, digits: str, region: str | None) -> bool:
    """A number written as dialled within its area: its digits are its national number
    (no country code, no trunk prefix) of a length only a local landline has."""
    if region is None or not isinstance(found, tuple) or found[1] != digits:
        return False
    rules = rules_for_region(region)
    return rules is not None and len(digits) in rules.dialled_local_lengths


def _is_placeholder(digits: str) -> bool:
    """One digit repeated, or a run of seven or more consecutive digits."""
    if len(set(digits)) == 1:
        return True
    return len(digits) >= 7 and (digits in _ASCENDING or digits in _DESCENDING)


def _parse_e164(text: str, region: str | None) -> tuple[str, str] | _LocalOnly | None:
    """E.164 and national significant number by phonenumbers itself, None if impossible,
    ``_LOCAL_ONLY`` when possible only without its area code.

    A number whose national part starts with 0 must read the same again from its
    E.164 form; garbage such as "0000001" in DE does not, and is not kept.
    """
    found = _parse_once(text, region)
    if not isinstance(found, tuple) or not found[1].startswith("0"):
        return found
    if _parse_once(found[0], None) != found:
        return None
    return found


def _parse_once(text: str, region: str | None) -> tuple[str, str] | _LocalOnly | None:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason == ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        return _LOCAL_ONLY
    if reason != ValidationResult.IS_POSSIBLE:
        return None
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return e164, phonenumbers.national_significant_number(number)


class _Undecided:
    """The fast path cannot be sure; ask phonenumbers."""


_UNDECIDED = _Undecided()


class _LocalOnly:
    """A number possible only when dialled locally ("949-4255" in the US): no E.164."""


_LOCAL_ONLY = _LocalOnly()


def _fast_e164(
    compact: str, region: str | None
) -> tuple[str, str] | _LocalOnly | _Undecided | None:
    """Reproduce phonenumbers for a number without formatting ("+447700900123",
    "07700900123"), or give up with ``_UNDECIDED``."""
    if not _PLAIN.fullmatch(compact):
        return _UNDECIDED
    if compact[0] == "+":
        return _fast_international(compact[1:])
    rules = None if region is None else rules_for_region(region)
    if rules is None or (rules.idd is not None and rules.idd.match(compact)):
        return _UNDECIDED
    if compact.startswith(rules.country_code):
        return _UNDECIDED
    national = compact
    match = rules.national_prefix.match(compact) if rules.national_prefix else None
    if match:
        stripped = compact[match.end() :]
        if not rules.prefix_is_simple or (
            rules.general.fullmatch(compact) and not rules.general.fullmatch(stripped)
        ):
            return _UNDECIDED
        if len(stripped) not in rules.possible_lengths or len(stripped) in rules.local_lengths:
            return _UNDECIDED
        national = stripped
    if len(national) < 2 or national[0] == "0":
        return _UNDECIDED
    if len(national) in rules.main_local_lengths:
        return _LOCAL_ONLY
    if len(national) not in rules.main_lengths:
        return None
    return f"+{rules.country_code}{national}", national


def _fast_international(digits: str) -> tuple[str, str] | _LocalOnly | _Undecided | None:
    """The fast path for "+<country code><number>"."""
    if digits[0] == "0":
        return _UNDECIDED
    for size in (1, 2, 3):
        country_code = int(digits[:size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return _UNDECIDED
    region = phonenumbers.region_code_for_country_code(country_code)
    rules = rules_for_region(region) if region != phonenumbers.UNKNOWN_REGION else None
    national = digits[size:]
    if rules is None or region == "001" or len(national) < 2 or national[0] == "0":
        return _UNDECIDED
    if rules.national_prefix is not None and rules.national_prefix.match(national):
        return _UNDECIDED
    if len(national) in rules.main_local_lengths:
        return _LOCAL_ONLY
    if len(national) not in rules.main_lengths:
        return None
    return f"+{digits}", national
