"""What of a real-time record can be used: values left out, and whether it can be matched.

The real-time path never refuses a record over one optional value. A value that cannot
be standardised (a phone that is not a possible number, a date of birth of 31/02/1980)
is treated as missing, exactly as the bulk path treats it, and the answer says so with
a :class:`ValueWarning`; the raw value stays in the record's raw values. Only a record
that no blocking rule can use (:func:`require_blocking_keys`) is refused: it could never
be a candidate of anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mdm.errors import NothingToMatchError
from mdm.realtime.index import encode_key
from mdm.rules.match import BlockingRule
from mdm.schema import ATTRIBUTES

#: Why each checked attribute's value was left out.
_REASONS = {
    "date_of_birth": "not a date (give YYYY-MM-DD, or the source's day/month order)",
    "email": "not an email address (name@domain)",
    "phone": "not a possible phone number",
    "postcode": "not a postcode in a known format",
}

_MISSING = "; treated as missing"

#: The attribute each derived blocking key is made from (others: by suffix, or itself).
_DERIVED_FROM = {
    "first_initial": "first_name",
    "dob_year": "date_of_birth",
    "dob_month_day": "date_of_birth",
    "postcode_district": "postcode",
    "email_local": "email",
    "phone_last7": "phone",
}


@dataclass(frozen=True)
class ValueWarning:
    """A value of a record that was treated as missing, and why."""

    field: str
    value: str
    reason: str


@dataclass(frozen=True)
class Prepared:
    """A record standardised with its derived keys (as the bulk path makes it), and the
    values left out of it."""

    values: dict[str, Any]
    warnings: tuple[ValueWarning, ...] = ()


#: Why a phone number that is only a local number is left out.
_LOCAL_ONLY = "a local number without its area code (cannot be told apart from others)"


def value_warnings(
    record: Mapping[str, Any], unparseable: Sequence[str], local_only: Sequence[str] = ()
) -> tuple[ValueWarning, ...]:
    """A warning for each attribute of ``record`` whose value could not be standardised,
    or is a phone number without its area code; each is treated as missing."""
    reasons = {name: _REASONS.get(name, f"not a valid {name}") for name in unparseable}
    reasons.update(dict.fromkeys(local_only, _LOCAL_ONLY))
    return tuple(
        ValueWarning(name, str(record.get(name)), reason + _MISSING)
        for name, reason in reasons.items()
    )


def attribute_of(key: str) -> str:
    """The record attribute a blocking key is made from (``last_name_phonetic``:
    ``last_name``)."""
    for suffix in ("_phonetic", "_variants"):
        if key.endswith(suffix):
            return key.removesuffix(suffix)
    return _DERIVED_FROM.get(key, key)


def what_blocking_uses(rules: Sequence[BlockingRule]) -> list[str]:
    """The smallest sets of attributes with which some blocking rule has every key, as
    text ("email", "first_name with postcode"), fewest attributes first."""
    sets = {frozenset(attribute_of(k) for k in rule.keys) for rule in rules}
    smallest = [s for s in sets if not any(other < s for other in sets)]
    texts = [sorted(s, key=_schema_order) for s in smallest]
    return [
        " with ".join(t)
        for t in sorted(texts, key=lambda t: (len(t), [_schema_order(a) for a in t]))
    ]


def _schema_order(attribute: str) -> tuple[int, str]:
    return (ATTRIBUTES.index(attribute) if attribute in ATTRIBUTES else len(ATTRIBUTES), attribute)


def require_blocking_keys(prepared: Prepared, rules: Sequence[BlockingRule]) -> Prepared:
    """``prepared`` if at least one blocking rule has all its keys in it; otherwise
    :class:`NothingToMatchError`, saying what was left out and what to give."""
    values = prepared.values
    if any(encode_key([values.get(k) for k in rule.keys]) is not None for rule in rules):
        return prepared
    # The fields left out are named, never their values (error answers and logs carry
    # no customer values).
    left_out = "".join(
        f"; its {w.field} was left out: {w.reason.removesuffix(_MISSING)}"
        for w in prepared.warnings
    )
    raise NothingToMatchError(
        f"nothing to match on: no blocking rule can use this record{left_out}; give at "
        f"least one of: {', '.join(what_blocking_uses(rules))}"
    )
