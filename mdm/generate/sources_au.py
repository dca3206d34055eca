"""The four source systems as an Australian company keeps them (``--locale au``).

| source  | date of birth | phone                                         | place             |
|---------|---------------|-----------------------------------------------|-------------------|
| crm     | 31/12/1980    | 0412 345 678, (02) 9876 5432                  | state code        |
| billing | 1980-12-31    | +61412345678, +61 2 9876 5432                 | postcode, country |
| webshop | 31/12/1980    | as typed: 0412345678, +61 412 345 678, ...    | postcode, country |
| branch  | 31 Dec 1980   | 02 9876 5432; some 9876 5432 (no area code)   | state name        |

Australia has no "local only" numbers in phonenumbers' metadata, so "9876 5432" reads
as a (wrong) possible national number: a case for the robustness work.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mdm.generate.arrays import IntArray, ObjArray, obj, present, replaced, text, zfill
from mdm.generate.people import People
from mdm.generate.places_au import PHONE_PLACEHOLDERS, record_states
from mdm.generate.records import Records
from mdm.generate.sources import (
    _DAY,
    _DAY2,
    _MONTH2,
    _MONTH_ABBR,
    _TIERS,
    _YEAR,
    _YEAR0,
    _blank,
    _cut,
    _date,
    _Slice,
)
from mdm.generate.sources import _billing as _uk_billing
from mdm.generate.sources import _crm as _uk_crm
from mdm.generate.sources_us import COLUMNS as US_COLUMNS
from mdm.generate.sources_us import _countries

_RENAMED = {"zip": "postcode", "zip_code": "post_code"}

#: Columns of each source, in file order: the US columns, postcodes named so.
COLUMNS: dict[str, tuple[str, ...]] = {
    source: tuple(_RENAMED.get(column, column) for column in columns)
    for source, columns in US_COLUMNS.items()
}


def mappings() -> dict[str, dict[str, str]]:
    """Schema attribute -> column of each source: the US mappings, postcodes renamed."""
    from mdm.generate.sources_us import MAPPINGS

    return {
        name: {attribute: _RENAMED.get(column, column) for attribute, column in columns.items()}
        for name, columns in MAPPINGS.items()
    }


def format_au_source(
    name: str, records: Records, rows: IntArray, people: People, rng: np.random.Generator
) -> pd.DataFrame:
    """The frame of Australian source ``name`` holding ``records`` at positions ``rows``."""
    r = _Slice(records, rows)
    code, state_name = record_states(people, r.address)
    state = np.where(rng.random(r.n) < 0.97, code, np.array(None, dtype=object)).astype(object)
    digits = replaced(r.phone, PHONE_PLACEHOLDERS)  # UK placeholders, in this country's form
    columns = _BUILDERS[name](r, rng, digits)
    use_name = (rng.random(r.n) < 0.5) & (name == "branch") & present(state)
    columns["state"] = np.where(use_name, state_name, state)
    columns["true_person_id"] = "P" + zfill(records.person[rows] + 1, 7)
    data = {c: np.asarray(columns[c], dtype=object) for c in COLUMNS[name]}
    return pd.DataFrame(data, dtype=object)


def _crm(r: _Slice, rng: np.random.Generator, digits: ObjArray) -> dict[str, ObjArray]:
    columns = _uk_crm(r, rng)
    columns.pop("mobile")
    columns["phone"] = _styled(digits, rng, {"national": 0.85, "plain": 0.15})
    columns["city"] = columns.pop("town")
    return columns


def _billing(r: _Slice, rng: np.random.Generator, digits: ObjArray) -> dict[str, ObjArray]:
    columns = _uk_billing(r, rng)
    columns["phone"] = _styled(digits, rng, {"e164": 0.7, "spaced": 0.3})
    columns["country"] = _countries(rng, r.n, {"Australia": 0.6, "AU": 0.25, "AUS": 0.15})
    return columns


def _webshop(r: _Slice, rng: np.random.Generator, digits: ObjArray) -> dict[str, ObjArray]:
    return {
        "id": text(200_000 + np.cumsum(rng.integers(1, 6, r.n))),
        "first_name": r.first,
        "last_name": r.last,
        "date_of_birth": _date(
            r, lambda y, m, d: _DAY2[d] + "/" + _MONTH2[m] + "/" + _YEAR[y - _YEAR0]
        ),
        "email": r.email,
        "phone": _styled(digits, rng, {"plain": 0.5, "national": 0.3, "spaced": 0.2}),
        "address_line": r.address_line,
        "city": r.city,
        "postcode": r.postcode,
        "country": _countries(rng, r.n, {"Australia": 0.7, "AU": 0.1, "": 0.2}),
    }


def _branch(r: _Slice, rng: np.random.Generator, digits: ObjArray) -> dict[str, ObjArray]:
    first, last = _blank(r.first), _blank(r.last)
    name = obj([" ".join(p for p in parts if p) for parts in zip(first, last, strict=True)])
    name[name == ""] = None
    return {
        "ref": "BR" + zfill(np.cumsum(rng.integers(1, 3, r.n)), 6),
        "name": name,
        "dob": _date(r, lambda y, m, d: _DAY[d] + " " + _MONTH_ABBR[m] + " " + _YEAR[y - _YEAR0]),
        "tel": _styled(digits, rng, {"national": 0.95, "local": 0.05}),
        "address": r.address_line,
        "town": r.city,
        "postcode": r.postcode,
        "loyalty_tier": _TIERS[rng.choice(5, r.n, p=[0.35, 0.25, 0.15, 0.05, 0.2])],
    }


_BUILDERS = {"crm": _crm, "billing": _billing, "webshop": _webshop, "branch": _branch}


def _styled(digits: ObjArray, rng: np.random.Generator, shares: dict[str, float]) -> ObjArray:
    """Ten-digit national numbers ("0412345678", "0298765432") in the given styles."""
    mobile = _cut(digits, 1, 2) == "4"
    head = np.where(mobile, _cut(digits, 0, 4), "(" + _cut(digits, 0, 2) + ")")
    tail = np.where(
        mobile,
        _cut(digits, 4, 7) + " " + _cut(digits, 7),
        _cut(digits, 2, 6) + " " + _cut(digits, 6),
    )
    plus = np.where(
        mobile,
        "+61 " + _cut(digits, 1, 4) + " " + _cut(digits, 4, 7) + " " + _cut(digits, 7),
        "+61 " + _cut(digits, 1, 2) + " " + _cut(digits, 2, 6) + " " + _cut(digits, 6),
    )
    forms = {
        "national": obj(head + " " + tail),
        "plain": obj(_blank(digits)),
        "e164": obj("+61" + _cut(digits, 1)),
        "spaced": obj(plus),
        "local": obj(
            np.where(mobile, head + " " + tail, _cut(digits, 2, 6) + " " + _cut(digits, 6))
        ),
    }
    names = list(shares)
    style = rng.choice(len(names), len(digits), p=np.array(list(shares.values())))
    out = np.empty(len(digits), dtype=object)
    for i, form in enumerate(names):
        out[style == i] = forms[form][style == i]
    out[~present(digits)] = None
    return out
