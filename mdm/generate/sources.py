"""Each source system's own columns and formats.

| source  | file    | name                           | date of birth | phone                    |
|---------|---------|--------------------------------|---------------|--------------------------|
| crm     | CSV     | title, fname, mname, surname   | 31/12/1980    | 07700 900123             |
| billing | Parquet | "SMITH, JOHN A", "John A Smith" | 1980-12-31   | +447700900123            |
| webshop | JSONL   | first_name, last_name          | 12/31/1980    | as the customer typed it |
| branch  | Excel   | "John Smith"                   | 31 Dec 1980   | landline or mobile       |

Every frame also has ``true_person_id``, the hidden person, for scoring only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from mdm.generate.arrays import IntArray, ObjArray, obj, padded, present, text, words, zfill
from mdm.generate.records import Records

#: Columns of each source, in file order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "crm": (
        "customer_no", "title", "fname", "mname", "surname", "dob", "email", "mobile",
        "addr1", "town", "postcode", "gender", "true_person_id",
    ),
    "billing": (
        "account_id", "full_name", "birth_date", "email_address", "phone", "street", "city",
        "post_code", "true_person_id",
    ),
    "webshop": (
        "id", "first_name", "last_name", "date_of_birth", "email", "phone", "address_line",
        "city", "postcode", "true_person_id",
    ),
    "branch": (
        "ref", "name", "dob", "tel", "address", "town", "postcode", "loyalty_tier",
        "true_person_id",
    ),
}  # fmt: skip

_DAY2 = padded(2, 32)
_DAY = np.array([str(i) for i in range(32)], dtype=object)
_MONTH2 = padded(2, 13)
_MONTH_ABBR = np.array(
    ("",) + words("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec"), dtype=object
)
_YEAR0 = 1800
_YEAR = np.array([str(y) for y in range(_YEAR0, 2101)], dtype=object)
_TIERS = np.array(["Bronze", "Silver", "Gold", "Platinum", None], dtype=object)


def format_source(
    name: str, records: Records, rows: IntArray, rng: np.random.Generator
) -> pd.DataFrame:
    """The frame of source ``name`` holding ``records`` at positions ``rows``."""
    build = _BUILDERS[name]
    columns = build(_Slice(records, rows), rng)
    columns["true_person_id"] = "P" + zfill(records.person[rows] + 1, 7)
    data = {c: np.asarray(columns[c], dtype=object) for c in COLUMNS[name]}
    return pd.DataFrame(data, dtype=object)


class _Slice:
    """The records of one source (attribute access returns that source's rows)."""

    def __init__(self, records: Records, rows: IntArray):
        self._records, self.rows, self.n = records, rows, len(rows)

    def __getattr__(self, name: str) -> np.ndarray:
        value: np.ndarray = getattr(self._records, name)[self.rows]
        return value


def _crm(r: _Slice, rng: np.random.Generator) -> dict[str, ObjArray]:
    surname = r.last.copy()
    suffix = present(r.suffix) & present(surname)
    surname[suffix] = surname[suffix] + " " + r.suffix[suffix]
    style = rng.random(r.n)
    mobile = np.where(style < 0.85, _national(r.phone), r.phone)
    mobile = np.where(style > 0.95, _e164_spaced(r.phone), mobile)
    return {
        "customer_no": "C" + text(1_000_000 + np.cumsum(rng.integers(1, 4, r.n))),
        "title": r.title,
        "fname": r.first,
        "mname": r.middle,
        "surname": surname,
        "dob": _date(r, lambda y, m, d: _DAY2[d] + "/" + _MONTH2[m] + "/" + _YEAR[y - _YEAR0]),
        "email": r.email,
        "mobile": mobile,
        "addr1": r.address_line,
        "town": r.city,
        "postcode": r.postcode,
        "gender": r.gender,
    }


def _billing(r: _Slice, rng: np.random.Generator) -> dict[str, ObjArray]:
    first, last, suffix = _blank(r.first), _blank(r.last), _blank(r.suffix)
    initial = np.array([m[:1] for m in _blank(r.middle)], dtype=object)
    style = rng.random(r.n)
    ledger = _join(last, suffix)
    ledger = np.where(first != "", ledger + ", " + _join(first, initial), ledger)
    plain = _join(_join(_join(first, initial), last), suffix)
    full = np.where(style < 0.5, _upper(ledger), plain)
    titled = (style > 0.9) & present(r.title)
    full[titled] = r.title[titled] + " " + full[titled]
    full[full == ""] = None
    phone = np.where(rng.random(r.n) < 0.7, _e164(r.phone), _e164_spaced(r.phone))
    return {
        "account_id": "ACC" + text(rng.choice(90_000_000, r.n, replace=False) + 10_000_000),
        "full_name": full,
        "birth_date": _date(
            r, lambda y, m, d: _YEAR[y - _YEAR0] + "-" + _MONTH2[m] + "-" + _DAY2[d]
        ),
        "email_address": r.email,
        "phone": phone,
        "street": r.address_line,
        "city": r.city,
        "post_code": r.postcode,
    }


def _webshop(r: _Slice, rng: np.random.Generator) -> dict[str, ObjArray]:
    return {
        "id": text(200_000 + np.cumsum(rng.integers(1, 6, r.n))),
        "first_name": r.first,
        "last_name": r.last,
        "date_of_birth": _date(
            r, lambda y, m, d: _MONTH2[m] + "/" + _DAY2[d] + "/" + _YEAR[y - _YEAR0]
        ),
        "email": r.email,
        "phone": _typed_phone(r.phone, rng),
        "address_line": r.address_line,
        "city": r.city,
        "postcode": r.postcode,
    }


def _branch(r: _Slice, rng: np.random.Generator) -> dict[str, ObjArray]:
    first, last = _blank(r.first), _blank(r.last)
    name = _join(_join(_join(first, _blank(r.middle)), last), _blank(r.suffix))
    titled = (rng.random(r.n) < 0.15) & present(r.title) & (name != "")
    name[titled] = r.title[titled] + " " + name[titled]
    name[name == ""] = None
    tel = np.where(rng.random(r.n) < 0.7, _national(r.phone), r.phone)
    return {
        "ref": "BR" + zfill(np.cumsum(rng.integers(1, 3, r.n)), 6),
        "name": name,
        "dob": _date(r, lambda y, m, d: _DAY[d] + " " + _MONTH_ABBR[m] + " " + _YEAR[y - _YEAR0]),
        "tel": tel,
        "address": r.address_line,
        "town": r.city,
        "postcode": r.postcode,
        "loyalty_tier": _TIERS[rng.choice(5, r.n, p=[0.35, 0.25, 0.15, 0.05, 0.2])],
    }


_BUILDERS: dict[str, Callable[[_Slice, np.random.Generator], dict[str, ObjArray]]] = {
    "crm": _crm,
    "billing": _billing,
    "webshop": _webshop,
    "branch": _branch,
}


def _date(r: _Slice, fmt: Callable[[IntArray, IntArray, IntArray], ObjArray]) -> ObjArray:
    year = np.clip(r.year, _YEAR0, 2100)
    out = np.asarray(fmt(year, r.month, r.day), dtype=object)
    out[~r.has_dob] = None
    return out


def _blank(values: ObjArray) -> ObjArray:
    """``None`` -> "" (so pieces can be joined)."""
    out = values.copy()
    out[~present(out)] = ""
    return out


def _join(left: ObjArray, right: ObjArray) -> ObjArray:
    """Join with one space, skipping empty pieces."""
    both = (left != "") & (right != "")
    return obj(np.where(both, left + " " + right, left + right))


def _upper(values: ObjArray) -> ObjArray:
    return np.array([v.upper() for v in values], dtype=object)


def _cut(values: ObjArray, start: int, stop: int | None = None) -> ObjArray:
    """Characters ``start:stop`` of each value ("" where there is none)."""
    as_str = _blank(values).astype(str)
    return np.strings.slice(as_str, start, stop).astype(object)


def _split_phone(digits: ObjArray) -> tuple[ObjArray, ObjArray]:
    """National number -> (area or mobile prefix, subscriber part): "07700", "900123"."""
    london = _cut(digits, 0, 3) == "020"
    head = np.where(london, _cut(digits, 0, 3), _cut(digits, 0, 5)).astype(object)
    tail = np.where(london, _cut(digits, 3, 7) + " " + _cut(digits, 7), _cut(digits, 5))
    return head, tail.astype(object)


def _with_gaps(values: ObjArray, digits: ObjArray) -> ObjArray:
    out = np.asarray(values, dtype=object).copy()
    out[~present(digits)] = None
    return out


def _national(digits: ObjArray) -> ObjArray:
    """ "07700 900123", "01632 960123", "020 7946 0123"."""
    head, tail = _split_phone(digits)
    return _with_gaps(head + " " + tail, digits)


def _e164(digits: ObjArray) -> ObjArray:
    """ "+447700900123"."""
    return _with_gaps("+44" + _cut(digits, 1), digits)


def _e164_spaced(digits: ObjArray) -> ObjArray:
    """ "+44 7700 900123"."""
    head, tail = _split_phone(digits)
    return _with_gaps("+44 " + _cut(head, 1) + " " + tail, digits)


def _typed_phone(digits: ObjArray, rng: np.random.Generator) -> ObjArray:
    """However a customer types a number into a web form."""
    head, tail = _split_phone(digits)
    tail_plain = np.array([t.replace(" ", "") for t in tail], dtype=object)
    forms = [
        digits,
        head + " " + tail,
        "+44" + _cut(digits, 1),
        "+44 " + _cut(head, 1) + " " + tail,
        "(" + head + ") " + tail,
        head + "-" + _cut(tail_plain, 0, 3) + "-" + _cut(tail_plain, 3),
    ]
    style = rng.choice(len(forms), len(digits), p=[0.45, 0.25, 0.12, 0.06, 0.06, 0.06])
    out = np.empty(len(digits), dtype=object)
    for i, form in enumerate(forms):
        out[style == i] = np.asarray(form, dtype=object)[style == i]
    return _with_gaps(out, digits)
