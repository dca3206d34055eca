"""Email addresses: lowercase, validated, placeholders removed, name-like local parts spotted.

>>> clean_email(" MAILTO:James.Lewis@Example.co.uk ")
'james.lewis@example.co.uk'
>>> clean_email("noemail@gmail.com") is None
True
>>> is_name_like_email("james.lewis@gmail.com", "James", "Lewis")
True
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mdm.standardise import _vectorised as vec
from mdm.standardise._columns import (
    INVALID,
    PLACEHOLDER,
    Cleaned,
    Status,
    assemble,
    to_text,
)
from mdm.standardise.names import clean_name

_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL = re.compile(
    rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+"
    r"(?P<tld>[a-z]{2,24}))"
)
_WRAPPERS = "<>\"'()[],;:. \t"
#: Characters ignored when comparing an email local part with a name.
LOCAL_NOISE = r"[\d._-]+"
_LOCAL_NOISE = re.compile(LOCAL_NOISE)

#: Local parts (digits and . _ - ignored) that stand for "no email".
PLACEHOLDER_LOCAL_PARTS = frozenset(
    {
        "noemail",
        "nomail",
        "none",
        "no",
        "na",
        "n/a",
        "null",
        "test",
        "unknown",
        "noreply",
        "donotreply",
        "nobody",
        "abc",
        "x",
        "xx",
        "xxx",
        "email",
        "dummy",
        "fake",
        "invalid",
    }
)

#: Domains that stand for "no email".
PLACEHOLDER_DOMAINS = frozenset(
    {
        "example.com",
        "example.org",
        "example.net",
        "test.com",
        "none.com",
        "noemail.com",
        "nomail.com",
        "email.invalid",
    }
)
_RESERVED_TLDS = frozenset({"test", "example", "invalid", "localhost"})
_MAX_LENGTH, _MAX_LOCAL_LENGTH = 254, 64


def _spaced(word: str) -> str:
    """A regex for ``word`` with any digits, ".", "_" and "-" around its letters."""
    return "[0-9._-]*" + "".join(re.escape(c) + "[0-9._-]*" for c in word)


# The placeholder tests as regular expressions over valid addresses, for Arrow.
_PLACEHOLDER_LOCAL_PATTERN = (
    "^" + vec.alternation(map(_spaced, PLACEHOLDER_LOCAL_PARTS), escape=False) + r"(?:\+[^@]*)?@"
)
_PLACEHOLDER_DOMAIN_PATTERN = (
    "@" + vec.alternation(PLACEHOLDER_DOMAINS) + "$|\\." + vec.alternation(_RESERVED_TLDS) + "$"
)


def _classify_email(value: object) -> Cleaned:
    text = to_text(value)
    if text is None:
        return None, Status.EMPTY
    email = text.lower().strip(_WRAPPERS)
    if email.startswith("mailto:"):
        email = email[len("mailto:") :].strip(_WRAPPERS)
    match = _EMAIL.fullmatch(email)
    if match is None or len(email) > _MAX_LENGTH or len(match["local"]) > _MAX_LOCAL_LENGTH:
        return INVALID
    local = _LOCAL_NOISE.sub("", match["local"].split("+", 1)[0])
    if (
        local in PLACEHOLDER_LOCAL_PARTS
        or match["domain"] in PLACEHOLDER_DOMAINS
        or match["tld"] in _RESERVED_TLDS
    ):
        return PLACEHOLDER
    return email, Status.OK


def clean_email(value: object) -> str | None:
    """Lowercase and validate an email address; None when invalid or a placeholder.

    A leading "mailto:" and wrapping "<...>" are removed. Placeholders are local
    parts such as "noemail" or "n/a" and domains such as example.com.
    """
    return _classify_email(value)[0]


def email_local_part(email: object) -> str | None:
    """The part of a cleaned email before the "@", or None when the email is not valid."""
    cleaned = clean_email(email)
    return None if cleaned is None else cleaned.rsplit("@", 1)[0]


def is_name_like_email(email: object, first: object, last: object) -> bool:
    """True when the email's local part only repeats the person's name.

    Digits, ".", "_", "-" and any "+tag" are ignored; the rest must be first+last,
    last+first, initial+last, first+initial, last+initial, first or last
    ("james.lewis@", "jlewis@", "lewis.j@", "james1980@").
    """
    local = email_local_part(email)
    if local is None:
        return False
    return is_name_like_local_part(local, _squashed_name(first), _squashed_name(last))


def is_name_like_local_part(local: str, given: str, family: str) -> bool:
    """:func:`is_name_like_email` for the local part of a cleaned email and the person's
    cleaned names without spaces ("" when missing)."""
    local = _LOCAL_NOISE.sub("", local.split("+", 1)[0])
    candidates = {given, family}
    if given and family:
        candidates |= {
            given + family,
            family + given,
            given[0] + family,
            given + family[0],
            family + given[0],
        }
    candidates.discard("")
    return local in candidates


def _squashed_name(value: object) -> str:
    name = clean_name(value)
    return "" if name is None else name.replace(" ", "")


def standardise_email_column(series: pd.Series) -> tuple[pd.Series, int]:
    """Clean an email column once per distinct value; also return the number of invalid ones.

    Placeholders ("noemail@...") become None but are not counted as invalid.
    """
    unique = vec.unique_texts(series)
    if unique.array is None:
        results = [_classify_email(text) for text in unique.texts()]
        values = np.array([value for value, _ in results], dtype=object)
        statuses = np.array([status for _, status in results], dtype=np.int8)
    else:
        values, statuses = _classify_array(unique.array)
    rows, counts = assemble(unique.codes, values, statuses, series.index)
    return rows, int(counts[Status.INVALID])


def _classify_array(texts: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_classify_email` of each text: ASCII ones in Arrow, the rest one by one."""
    email = pc.ascii_trim(pc.ascii_lower(texts), characters=_WRAPPERS)
    email = vec.replace_matching(email, "^mailto:", "")
    email = pc.ascii_trim(email, characters=_WRAPPERS)
    valid = pc.and_(
        vec.matching(email, f"^{_EMAIL.pattern}$"),
        pc.invert(vec.matching(email, f"^[^@]{{{_MAX_LOCAL_LENGTH + 1}}}")),
    )
    valid = pc.and_(valid, pc.less_equal(pc.utf8_length(email), _MAX_LENGTH))
    placeholder = pc.or_(
        vec.matching(email, _PLACEHOLDER_LOCAL_PATTERN),
        vec.matching(email, _PLACEHOLDER_DOMAIN_PATTERN),
    )
    statuses = np.select(
        [_numpy(pc.is_null(texts)), ~_numpy(valid), _numpy(placeholder)],
        [Status.EMPTY, Status.INVALID, Status.PLACEHOLDER],
        Status.OK,
    ).astype(np.int8)
    values = vec.to_objects(email)
    values[statuses != Status.OK] = None
    not_ascii = ~_numpy(pc.fill_null(pc.string_is_ascii(texts), True))
    others = pc.filter(texts, not_ascii).to_pylist()
    for at, text in zip(np.flatnonzero(not_ascii), others, strict=True):
        values[at], statuses[at] = _classify_email(text)
    return values, statuses


def _numpy(mask: pa.BooleanArray) -> np.ndarray:
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _is_in(array: pa.Array, values: frozenset[str]) -> pa.Array:
    return pc.is_in(array, value_set=pa.array(sorted(values)))
