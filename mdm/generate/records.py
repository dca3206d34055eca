"""Source records: each person's truth as one source system recorded it.

A record starts from the person's details at some moment (an old address before
a move, a maiden name before a marriage), then passes through the habits of the
source that holds it: nicknames, initials, typos, placeholders, empty fields.
Values stay in a neutral form here (digits for phones, year/month/day for
dates); :mod:`mdm.generate.sources` writes them in each source's own format.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mdm.generate import noise
from mdm.generate.arrays import (
    BoolArray,
    IntArray,
    ObjArray,
    chance,
    keep_where,
    map_strings,
    present,
)
from mdm.generate.config import GeneratorConfig
from mdm.generate.names import Names
from mdm.generate.people import JR, SR, TITLES, People
from mdm.generate.profiles import missing_rate, rate

_EMAIL_PLACEHOLDERS = ("n/a", "none", "noemail@example.com", "no@email.com", "x@x.com", "-")
_PHONE_PLACEHOLDERS = ("07000000000", "07000000000", "00000000000", "01234567890")
_DOB_PLACEHOLDERS = ((1970, 1, 1), (1970, 1, 1), (1900, 1, 1), (1901, 1, 1))


@dataclass
class Records:
    """One row per source record, in the order they are written."""

    person: IntArray
    source: IntArray  # index into config.sources
    title: ObjArray
    first: ObjArray
    middle: ObjArray
    last: ObjArray
    suffix: ObjArray  # "Jr" / "Sr" / None
    gender: ObjArray  # "M" / "F" / None
    year: IntArray
    month: IntArray
    day: IntArray
    has_dob: BoolArray
    email: ObjArray
    phone: ObjArray  # national digits "07700900123"
    address_line: ObjArray
    city: ObjArray
    postcode: ObjArray
    address: IntArray  # index into people.addresses (its town gives the US state)


def build_records(
    config: GeneratorConfig, names: Names, people: People, rng: np.random.Generator
) -> Records:
    """Spread each person's records over the sources and give each its errors."""
    n = config.n_records
    person = np.repeat(np.arange(len(people), dtype=np.int64), people.n_records)
    person = person[rng.permutation(n)]
    source = rng.choice(len(config.sources), n, p=np.asarray(config.weights())).astype(np.int64)
    if config.single_record_source is not None:
        source = _one_record_each(config, rng, person, source)

    at_old = (people.old_address[person] >= 0) & chance(rng, n, config.p_old_address)
    maiden_era = (people.maiden[person] >= 0) & chance(rng, n, config.p_old_address)
    address = people.address[person].copy()
    address[at_old] = people.old_address[person[at_old]]
    address[maiden_era] = people.premarriage_address[person[maiden_era]]

    ctx = _Context(config, rng, source)
    first, middle, last = _names(ctx, names, people, person, maiden_era)
    year, month, day, has_dob = _dates(ctx, people, person)
    line, city, postcode = _addresses(ctx, people, address)
    shout, whisper = ctx.chance(ctx.habit("upper")), ctx.chance(ctx.habit("lower"))
    for values in (first, middle, last, line, city):  # a whole record typed in one case
        noise.change_case(rng, values, np.where(shout, 1.0, 0.0), np.where(whisper, 1.0, 0.0))
    gender = np.where(people.female[person], "F", "M").astype(object)
    gender[chance(rng, n, ctx.missing("gender"))] = None
    return Records(
        person=person,
        source=source,
        title=_titles(ctx, people, person),
        first=first,
        middle=middle,
        last=last,
        suffix=_suffixes(ctx, people, person),
        gender=gender,
        year=year,
        month=month,
        day=day,
        has_dob=has_dob,
        email=_emails(ctx, people, person),
        phone=_phones(ctx, people, person, at_home=~(at_old | maiden_era)),
        address_line=line,
        city=city,
        postcode=postcode,
        address=address,
    )


def _one_record_each(
    config: GeneratorConfig, rng: np.random.Generator, person: IntArray, source: IntArray
) -> IntArray:
    """Each person's first record to ``config.single_record_source``, the rest elsewhere."""
    master = config.sources.index(str(config.single_record_source))
    first = np.zeros(len(person), dtype=bool)
    first[np.unique(person, return_index=True)[1]] = True
    others = np.array([i for i in range(len(config.sources)) if i != master], dtype=np.int64)
    weights = np.asarray(config.weights())[others]
    moved = ~first & (source == master)
    source = source.copy()
    source[moved] = others[rng.choice(len(others), int(moved.sum()), p=weights / weights.sum())]
    source[first] = master
    return source


class _Context:
    """The record-level dice: rates by each record's source, scaled by ``error_scale``."""

    def __init__(self, config: GeneratorConfig, rng: np.random.Generator, source: IntArray):
        self.config, self.rng, self.source = config, rng, source
        self.n = len(source)
        self.scale = config.error_scale

    def habit(self, name: str, scaled: bool = True) -> np.ndarray:
        return rate(self.config.sources, self.source, name, self.scale if scaled else 1.0)

    def missing(self, field_name: str) -> np.ndarray:
        return missing_rate(self.config.sources, self.source, field_name, self.scale)

    def chance(self, p: np.ndarray | float) -> BoolArray:
        return chance(self.rng, self.n, p)

    def typo_rate(self, base: float) -> np.ndarray:
        return self.habit("typo") * base


def _names(
    ctx: _Context, names: Names, people: People, person: IntArray, maiden_era: BoolArray
) -> tuple[ObjArray, ObjArray, ObjArray]:
    rng = ctx.rng
    keep_decor = ~ctx.chance(ctx.habit("strip_decoration", scaled=False))
    fi = people.first[person]
    first = np.where(
        people.first_decorated[person] & keep_decor,
        names.first.decorated[fi],
        names.first.display[fi],
    ).astype(object)
    li = np.where(maiden_era, people.maiden[person], people.last[person])
    decorated = np.where(maiden_era, people.maiden_decorated[person], people.last_decorated[person])
    last = np.where(decorated & keep_decor, names.last.decorated[li], names.last.display[li])
    last = last.astype(object)
    mi = people.middle[person]
    middle = keep_where(mi >= 0, names.first.display[np.maximum(mi, 0)])

    by_middle = people.goes_by_middle[person] & ctx.chance(0.6)
    first[by_middle], middle[by_middle] = middle[by_middle], None
    free = ~by_middle
    nickname_rate = np.minimum(ctx.habit("nickname") * ctx.config.nickname_scale, 1.0)
    nick = free & ctx.chance(nickname_rate) & names.nicknames.has(fi)
    first[nick] = names.nicknames.pick(rng, fi[nick])
    spell = free & ~nick & ctx.chance(ctx.habit("spelling")) & names.spellings.has(fi)
    first[spell] = names.spellings.pick(rng, fi[spell])
    noise.add_typos(rng, first, ctx.typo_rate(0.02))
    noise.add_typos(rng, last, ctx.typo_rate(0.02))
    noise.add_typos(rng, middle, ctx.typo_rate(0.01))
    map_strings(first, ctx.chance(ctx.habit("initial")), lambda s: s[:1])
    map_strings(middle, ctx.chance(0.3), lambda s: s[:1])  # a middle initial is common
    swap = ctx.chance(ctx.habit("swap")) & present(first) & present(last)
    first[swap], last[swap] = last[swap], first[swap]
    middle[ctx.chance(ctx.missing("middle"))] = None
    for values in (first, middle, last):
        noise.change_case(rng, values, 0.005 * ctx.scale, 0.005 * ctx.scale)
        noise.add_whitespace(rng, values, 0.01 * ctx.scale)
    first[ctx.chance(0.002 * ctx.scale)] = None
    return first, middle, last


def _titles(ctx: _Context, people: People, person: IntArray) -> ObjArray:
    title = TITLES[people.title[person]].copy()
    title[ctx.chance(ctx.missing("title"))] = None
    wrong = ctx.chance(0.01 * ctx.scale) & present(title)  # "Mrs" typed for a Ms, and so on
    title[wrong] = TITLES[ctx.rng.integers(1, 5, int(wrong.sum()))]
    return title


def _suffixes(ctx: _Context, people: People, person: IntArray) -> ObjArray:
    """Jr and Sr are mostly not recorded at all."""
    code = people.suffix[person]
    suffix = np.full(ctx.n, None, dtype=object)
    suffix[(code == JR) & ctx.chance(0.12)] = "Jr"
    suffix[(code == SR) & ctx.chance(0.06)] = "Sr"
    return suffix


def _dates(
    ctx: _Context, people: People, person: IntArray
) -> tuple[IntArray, IntArray, IntArray, BoolArray]:
    dob = people.dob[person]
    year = dob.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (dob.astype("datetime64[M]").astype(np.int64) % 12) + 1
    day = (dob - dob.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    swap = ctx.chance(ctx.habit("day_month_swap")) & (day <= 12) & (day != month)
    month[swap], day[swap] = day[swap], month[swap]
    slip = ctx.chance(0.004 * ctx.scale)
    year[slip] += ctx.rng.choice([-10, -1, 1, 10], int(slip.sum()))
    off = ctx.chance(0.004 * ctx.scale)
    moved = day[off] + ctx.rng.choice([-1, 1], int(off.sum()))
    day[off] = np.where(moved < 1, 2, np.where(moved > 28, day[off] - 1, moved))
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    day[(month == 2) & (day == 29) & ~leap] = 28  # a slipped year must still be a real date
    fake = ctx.chance(0.004 * ctx.scale)
    which = np.array(_DOB_PLACEHOLDERS)[
        ctx.rng.integers(0, len(_DOB_PLACEHOLDERS), int(fake.sum()))
    ]
    year[fake], month[fake], day[fake] = which[:, 0], which[:, 1], which[:, 2]
    has_dob = ~ctx.chance(ctx.missing("dob"))
    return year, month, day, has_dob


def _emails(ctx: _Context, people: People, person: IntArray) -> ObjArray:
    email = people.email[person].copy()
    alt = people.email_alt[person]
    use_alt = present(alt) & ctx.chance(0.15)
    email[use_alt] = alt[use_alt]
    noise.add_email_typos(ctx.rng, email, ctx.typo_rate(0.01))
    shout = ctx.chance(0.015 * ctx.scale)
    map_strings(email, shout, lambda s: s.upper())
    capital = ctx.chance(0.015 * ctx.scale)
    map_strings(email, capital, lambda s: ".".join(p.capitalize() for p in s.split(".")))
    email[ctx.chance(ctx.missing("email"))] = None
    noise.set_where(ctx.rng, email, 0.008 * ctx.scale, _EMAIL_PLACEHOLDERS)
    return email


def _phones(ctx: _Context, people: People, person: IntArray, at_home: BoolArray) -> ObjArray:
    """The number a source holds: its preferred kind when the person has one, else the other."""
    mobile = people.mobile[person]
    landline = keep_where(at_home, people.landline[person])
    has_land, has_mobile = present(landline), present(mobile)
    wants_land = ctx.chance(ctx.habit("landline_first", scaled=False))
    crm = np.array([s == "crm" for s in ctx.config.sources])[ctx.source]
    use_land = has_land & (wants_land | ~has_mobile) & ~(crm & has_mobile)
    use_land &= ~crm | ctx.chance(0.3)  # a CRM "mobile" column holds a landline now and then
    phone = np.where(use_land, landline, mobile).astype(object)
    noise.add_digit_typos(ctx.rng, phone, ctx.typo_rate(0.006))
    phone[ctx.chance(ctx.missing("phone"))] = None
    noise.set_where(ctx.rng, phone, 0.004 * ctx.scale, _PHONE_PLACEHOLDERS)
    return phone


def _addresses(
    ctx: _Context, people: People, address: IntArray
) -> tuple[ObjArray, ObjArray, ObjArray]:
    rng = ctx.rng
    places = people.addresses
    line = places.line[address].copy()
    map_strings(
        line, ctx.chance(ctx.habit("abbreviate_street", scaled=False)), noise.abbreviate_street
    )
    map_strings(line, ctx.chance(0.2 * ctx.scale), noise.drop_flat)
    map_strings(line, ctx.chance(0.3), noise.squash_commas)
    noise.add_typos(rng, line, ctx.typo_rate(0.015))
    city = people.towns.name[places.town[address]].copy()
    noise.add_typos(rng, city, ctx.typo_rate(0.006))
    postcode = places.postcode[address].copy()
    noise.add_typos(rng, postcode, ctx.typo_rate(0.004))
    map_strings(postcode, ctx.chance(ctx.habit("postcode_no_space", scaled=False)), _no_space)
    map_strings(postcode, ctx.chance(ctx.habit("lower")), str.lower)
    for values in (line, city):
        noise.change_case(rng, values, 0.005 * ctx.scale, 0.005 * ctx.scale)
        noise.add_whitespace(rng, values, 0.01 * ctx.scale)
    line[ctx.chance(ctx.missing("address"))] = None
    city[ctx.chance(ctx.missing("city"))] = None
    postcode[ctx.chance(ctx.missing("postcode"))] = None
    return line, city, postcode


def _no_space(value: str) -> str:
    return value.replace(" ", "")
