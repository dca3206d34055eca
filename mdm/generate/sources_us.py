"""The four source systems as an American company keeps them (``--locale us``).

| source  | date of birth | phone                                          | place            |
|---------|---------------|------------------------------------------------|------------------|
| crm     | 12/31/1980    | call centre: (616) 949-4255, 1-616-949-4255,   | state code, ZIP  |
|         |               | 616-949-4255; some 949-4255 (no area code)     |                  |
| billing | 1980-12-31    | +16169494255, +1 616 949 4255                  | ZIP+4, country   |
| webshop | 12/31/1980    | as typed: 616.949.4255, (616) 949-4255, ...    | ZIP, country     |
| branch  | Dec 31, 1980  | (616) 949-4255, 616-949-4255; some 949-4255    | state name, ZIP  |
|         |               |                                                | (Excel: 2134)    |

:data:`MAPPINGS` holds each source's mapping onto the customer schema; ``write_sample``
writes them beside the files (``sources/<name>.yaml``), leaving the phone region and
date order to be detected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mdm.generate.arrays import IntArray, ObjArray, obj, present, replaced, text, zfill
from mdm.generate.people import People
from mdm.generate.places_us import PHONE_PLACEHOLDERS, record_states
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
    _join,
    _Slice,
    _upper,
)
from mdm.generate.sources import _crm as _uk_crm

#: Columns of each source, in file order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "crm": (
        "customer_no", "title", "fname", "mname", "surname", "dob", "email", "phone",
        "addr1", "city", "state", "zip", "gender", "true_person_id",
    ),
    "billing": (
        "account_id", "full_name", "birth_date", "email_address", "phone", "street", "city",
        "state", "zip_code", "country", "true_person_id",
    ),
    "webshop": (
        "id", "first_name", "last_name", "date_of_birth", "email", "phone", "address_line",
        "city", "state", "zip", "country", "true_person_id",
    ),
    "branch": (
        "ref", "name", "dob", "tel", "address", "town", "state", "zip", "loyalty_tier",
        "true_person_id",
    ),
}  # fmt: skip

#: Schema attribute -> column of each source (the mapping files' ``columns``).
MAPPINGS: dict[str, dict[str, str]] = {
    "crm": {
        "record_id": "customer_no", "first_name": "fname", "middle_name": "mname",
        "last_name": "surname", "date_of_birth": "dob", "gender": "gender", "email": "email",
        "phone": "phone", "address_line": "addr1", "city": "city", "region": "state",
        "postcode": "zip",
    },
    "billing": {
        "record_id": "account_id", "full_name": "full_name", "date_of_birth": "birth_date",
        "email": "email_address", "phone": "phone", "address_line": "street", "city": "city",
        "region": "state", "postcode": "zip_code", "country": "country",
    },
    "webshop": {
        "record_id": "id", "first_name": "first_name", "last_name": "last_name",
        "date_of_birth": "date_of_birth", "email": "email", "phone": "phone",
        "address_line": "address_line", "city": "city", "region": "state", "postcode": "zip",
        "country": "country",
    },
    "branch": {
        "record_id": "ref", "full_name": "name", "date_of_birth": "dob", "phone": "tel",
        "address_line": "address", "city": "town", "region": "state", "postcode": "zip",
    },
}  # fmt: skip


def mapping_yaml(name: str, locale: str = "us", columns: dict[str, str] | None = None) -> str:
    """The mapping file of source ``name`` (``columns``, by default the US ones): region
    and date order left to detection."""
    lines = [f"# {name} (generated with --locale {locale}): phone region and date order detected."]
    lines += [f"source: {name}", "columns:"]
    chosen = MAPPINGS[name] if columns is None else columns
    lines += [f"  {attribute}: {column}" for attribute, column in chosen.items()]
    lines += ["options:", "  date_order: auto"]
    return "\n".join(lines) + "\n"


def format_us_source(
    name: str, records: Records, rows: IntArray, people: People, rng: np.random.Generator
) -> pd.DataFrame:
    """The frame of US source ``name`` holding ``records`` at positions ``rows``."""
    r = _Slice(records, rows)
    code, state_name = record_states(people, r.address)
    state = np.where(rng.random(r.n) < 0.97, code, np.array(None, dtype=object)).astype(
        object
    )  # some left blank
    state[~present(r.city) & (rng.random(r.n) < 0.5)] = None
    digits = replaced(r.phone, PHONE_PLACEHOLDERS)  # UK placeholders, in this country's form
    columns = _BUILDERS[name](r, rng, digits)
    columns["state"] = np.where(
        (rng.random(r.n) < 0.5) & (name == "branch") & present(state), state_name, state
    )
    columns["true_person_id"] = "P" + zfill(records.person[rows] + 1, 7)
    data = {c: np.asarray(columns[c], dtype=object) for c in COLUMNS[name]}
    return pd.DataFrame(data, dtype=object)


def _crm(r: _Slice, rng: np.random.Generator, digits: ObjArray) -> dict[str, ObjArray]:
    columns = _crm_uk(r, rng)
    columns["dob"] = _mdy(r)
    columns["phone"] = _styled(
        digits, rng, {"parens": 0.40, "dashed": 0.25, "one": 0.12, "plain": 0.10,
                      "dots": 0.07, "local": 0.06}
    )  # fmt: skip
    columns["city"] = columns.pop("town")
    columns["zip"] = _zips(r.postcode, rng, plus4=0.15)
    return columns


def _billing(r: _Slice, rng: np.random.Generator, digits: ObjArray) -> dict[str, ObjArray]:
    first, last, suffix = _blank(r.first), _blank(r.last), _blank(r.suffix)
    initial = np.array([m[:1] for m in _blank(r.middle)], dtype=object)
    ledger = _join(last, suffix)
    ledger = np.where(first != "", ledger + ", " + _join(first, initial), ledger)
    plain = _join(_join(_join(first, initial), last), suffix)
    full = np.where(rng.random(r.n) < 0.5, _upper(ledger), plain)
    full[full == ""] = None
    return {
        "account_id": "ACC" + text(rng.choice(90_000_000, r.n, replace=False) + 10_000_000),
        "full_name": full,
        "birth_date": _date(
            r, lambda y, m, d: _YEAR[y - _YEAR0] + "-" + _MONTH2[m] + "-" + _DAY2[d]
        ),
        "email_address": r.email,
        "phone": _styled(digits, rng, {"e164": 0.7, "plus": 0.3}),
        "street": r.address_line,
        "city": r.city,
        "zip_code": _zips(r.postcode, rng, plus4=0.7),
        "country": _countries(rng, r.n, {"US": 0.6, "USA": 0.25, "United States": 0.15}),
    }


def _webshop(r: _Slice, rng: np.random.Generator, digits: ObjArray) -> dict[str, ObjArray]:
    return {
        "id": text(200_000 + np.cumsum(rng.integers(1, 6, r.n))),
        "first_name": r.first,
        "last_name": r.last,
        "date_of_birth": _mdy(r),
        "email": r.email,
        "phone": _styled(
            digits,
            rng,
            {"plain": 0.35, "parens": 0.2, "dashed": 0.2, "dots": 0.1, "plus": 0.08, "one": 0.07},
        ),  # fmt: skip
        "address_line": r.address_line,
        "city": r.city,
        "zip": _zips(r.postcode, rng, plus4=0.1),
        "country": _countries(
            rng, r.n, {"United States": 0.6, "USA": 0.1, "U.S.A.": 0.05, "US": 0.05, "": 0.2}
        ),
    }


def _branch(r: _Slice, rng: np.random.Generator, digits: ObjArray) -> dict[str, ObjArray]:
    first, last = _blank(r.first), _blank(r.last)
    name = _join(_join(_join(first, _blank(r.middle)), last), _blank(r.suffix))
    name[name == ""] = None
    zips = _zips(r.postcode, rng, plus4=0.0)
    excel = present(zips)  # a spreadsheet read the ZIP as a number: "02134" -> "2134"
    zips[excel] = [str(z).lstrip("0") or "0" for z in zips[excel]]
    return {
        "ref": "BR" + zfill(np.cumsum(rng.integers(1, 3, r.n)), 6),
        "name": name,
        "dob": _date(r, lambda y, m, d: _MONTH_ABBR[m] + " " + _DAY[d] + ", " + _YEAR[y - _YEAR0]),
        "tel": _styled(digits, rng, {"parens": 0.6, "dashed": 0.35, "local": 0.05}),
        "address": r.address_line,
        "town": r.city,
        "zip": zips,
        "loyalty_tier": _TIERS[rng.choice(5, r.n, p=[0.35, 0.25, 0.15, 0.05, 0.2])],
    }


_BUILDERS = {"crm": _crm, "billing": _billing, "webshop": _webshop, "branch": _branch}


def _crm_uk(r: _Slice, rng: np.random.Generator) -> dict[str, ObjArray]:
    """The UK crm's columns (names, email, address); phone and date are replaced."""
    columns = _uk_crm(r, rng)
    columns.pop("mobile")
    columns.pop("postcode")
    return columns


def _mdy(r: _Slice) -> ObjArray:
    return _date(r, lambda y, m, d: _MONTH2[m] + "/" + _DAY2[d] + "/" + _YEAR[y - _YEAR0])


def _styled(digits: ObjArray, rng: np.random.Generator, shares: dict[str, float]) -> ObjArray:
    """Ten-digit numbers written in the given styles, in the given shares."""
    area, exchange, line = _cut(digits, 0, 3), _cut(digits, 3, 6), _cut(digits, 6)
    digits = _blank(digits)
    forms = {
        "parens": "(" + area + ") " + exchange + "-" + line,
        "dashed": area + "-" + exchange + "-" + line,
        "dots": area + "." + exchange + "." + line,
        "one": "1-" + area + "-" + exchange + "-" + line,
        "plain": obj(digits),
        "e164": "+1" + obj(digits),
        "plus": "+1 " + area + " " + exchange + " " + line,
        "local": exchange + "-" + line,
    }
    names = list(shares)
    style = rng.choice(len(names), len(digits), p=np.array(list(shares.values())))
    out = np.empty(len(digits), dtype=object)
    for i, form in enumerate(names):
        out[style == i] = np.asarray(forms[form], dtype=object)[style == i]
    out[digits == ""] = None
    return out


def _zips(postcode: ObjArray, rng: np.random.Generator, plus4: float) -> ObjArray:
    """ZIP+4 ("49503-1234") for a share ``plus4`` of records, the five-digit ZIP otherwise."""
    out = postcode.copy()
    short = present(out) & (rng.random(len(out)) >= plus4)
    out[short] = [str(code).split("-")[0] for code in out[short]]
    return out


def _countries(rng: np.random.Generator, n: int, shares: dict[str, float]) -> ObjArray:
    names = np.array(list(shares), dtype=object)
    out = names[rng.choice(len(names), n, p=np.array(list(shares.values())))]
    out[out == ""] = None
    return obj(out)
