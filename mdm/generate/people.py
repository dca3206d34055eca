"""The hidden truth: households and the people in them.

Households are singles, couples, families (one or two parents and grown-up
children, sometimes twins or a son named after his father) and flat-shares. Who
shares what follows life: couples and families share an address and often a
landline and a surname, sometimes an email; flatmates share only the address.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mdm.generate.arrays import BoolArray, IntArray, ObjArray, cumulative, pick_weighted
from mdm.generate.config import GeneratorConfig
from mdm.generate.contacts import make_emails, make_landlines, make_mobiles, share_emails
from mdm.generate.names import Names
from mdm.generate.places import Addresses, Towns, build_addresses, build_towns, pick_towns

SINGLE, COUPLE, FAMILY, FLAT = 0, 1, 2, 3
HOUSEHOLD_KINDS = ("single", "couple", "family", "flat-share")
TITLES = np.array([None, "Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "Rev"], dtype=object)
MR, MRS, MS, MISS, DR, PROF, REV = range(1, 8)
NO_SUFFIX, JR, SR = 0, 1, 2
_LANDLINE_SHARE = np.array([0.30, 0.55, 0.65, 0.12])  # by household kind


@dataclass(frozen=True)
class People:
    """One row per person (index = hidden person id); addresses index ``addresses``."""

    n_records: IntArray
    household: IntArray
    household_kind: IntArray
    female: BoolArray
    first: IntArray
    middle: IntArray  # -1: none
    last: IntArray
    maiden: IntArray  # -1: none; surname before marriage
    first_decorated: BoolArray
    last_decorated: BoolArray
    maiden_decorated: BoolArray
    suffix: IntArray
    title: IntArray
    dob: npt.NDArray[np.datetime64]
    goes_by_middle: BoolArray
    email: ObjArray
    email_alt: ObjArray
    mobile: ObjArray
    landline: ObjArray
    address: IntArray
    old_address: IntArray  # -1: never moved
    premarriage_address: IntArray  # -1: none; goes with ``maiden``
    addresses: Addresses
    towns: Towns

    def __len__(self) -> int:
        return len(self.first)


@dataclass(frozen=True)
class _Shape:
    """Household structure: who lives with whom, cut to the requested record count."""

    kind: IntArray  # per household
    n_adults: IntArray  # per household
    hh: IntArray  # per person
    rank: IntArray  # per person: place in the whole household, 0 is the head
    head: IntArray  # per person: index of the household head
    n_records: IntArray  # per person


def build_people(config: GeneratorConfig, names: Names, rng: np.random.Generator) -> People:
    """Households and people whose records add up to exactly ``config.n_records``."""
    shape = _shape(config, rng)
    n, n_hh = len(shape.hh), len(shape.kind)
    t = shape.kind[shape.hh]
    is_head = shape.rank == 0
    partnered = (t == COUPLE) | ((t == FAMILY) & (shape.n_adults[shape.hh] == 2))
    partner = partnered & (shape.rank == 1)
    child = (t == FAMILY) & (shape.rank >= shape.n_adults[shape.hh])
    same_sex = (rng.random(n_hh) < 0.05)[shape.hh]

    female = rng.random(n) < 0.5
    female[is_head & partnered & ~same_sex] = False
    female[partner & ~same_sex] = True
    female[partner & same_sex] = female[shape.head[partner & same_sex]]
    lone_parent = is_head & (t == FAMILY) & ~partnered
    female[lone_parent] = rng.random(int(lone_parent.sum())) < 0.75

    year = _birth_years(rng, shape, t, partner, child)
    dob = _dates_in_years(rng, year)

    last, maiden, married = _surnames(config, names, rng, shape, t, partner, child, same_sex)
    first, middle = _given_names(names, rng, shape, female)
    twins = _twins(config, rng, shape, child)
    dob[twins] = dob[twins - 1]
    last[twins] = last[twins - 1]
    suffix = _juniors(config, rng, shape, child, female, first, middle)

    first_key = names.first.key[first]
    email, email_alt = make_emails(
        rng, first_key, names.first.initial[first], names.last.key[last], year
    )
    share_emails(
        rng,
        email,
        shape.head,
        partner,
        child,
        config.household_rate(config.p_shared_email),
        names.last.key[last],
        p_child=config.household_rate(0.05),
    )

    towns = build_towns()
    hh_town = pick_towns(rng, towns, n_hh)
    moved = rng.random(n_hh) < config.p_moved
    old_town = np.where(rng.random(n_hh) < 0.6, hh_town, pick_towns(rng, towns, n_hh))[moved]
    premarried = married & (rng.random(n) < config.p_maiden_records)
    pre_town = np.where(rng.random(n) < 0.5, hh_town[shape.hh], pick_towns(rng, towns, n))
    pre_town = pre_town[premarried]
    addresses = build_addresses(rng, towns, np.concatenate([hh_town, old_town, pre_town]))
    hh_old = np.full(n_hh, -1, dtype=np.int64)
    hh_old[moved] = n_hh + np.arange(int(moved.sum()))
    premarriage_address = np.full(n, -1, dtype=np.int64)
    premarriage_address[premarried] = n_hh + len(old_town) + np.arange(int(premarried.sum()))
    maiden[~premarried] = -1

    landline_share = np.minimum(_LANDLINE_SHARE * config.household_scale, 1.0)
    has_landline = rng.random(n_hh) < landline_share[shape.kind]
    landline = make_landlines(rng, towns.dial_code[hh_town], has_landline)

    return People(
        n_records=shape.n_records,
        household=shape.hh,
        household_kind=t,
        female=female,
        first=first,
        middle=middle,
        last=last,
        maiden=maiden,
        first_decorated=names.first.decorate(rng, first),
        last_decorated=names.last.decorate(rng, last),
        maiden_decorated=names.last.decorate(rng, np.maximum(maiden, 0)) & (maiden >= 0),
        suffix=suffix,
        title=_titles(rng, female, married, year, child | (t == FLAT)),
        dob=dob,
        goes_by_middle=(middle >= 0) & (rng.random(n) < config.p_goes_by_middle),
        email=email,
        email_alt=email_alt,
        mobile=make_mobiles(rng, n),
        landline=landline[shape.hh],
        address=shape.hh.copy(),
        old_address=hh_old[shape.hh],
        premarriage_address=premarriage_address,
        addresses=addresses,
        towns=towns,
    )


def _shape(config: GeneratorConfig, rng: np.random.Generator) -> _Shape:
    """Draw households until their customers' records reach ``n_records``, then cut there.

    Every household has its head among the customers; each other member is a
    customer too with probability ``config.housemate_rate()``. Roles (partner,
    child) follow the member's place in the whole household, customer or not.
    """
    target = config.n_records
    k_cum = cumulative(config.records_per_person)
    mean_k = float(np.dot(np.arange(1, len(k_cum) + 1), config.records_per_person))
    p_housemate = config.housemate_rate()
    per_hh = 1.0 + 1.1 * p_housemate
    n_hh = int(target / (per_hh * mean_k) * 1.15) + 8
    while True:
        kind = rng.choice(4, n_hh, p=np.asarray(config.household_mix))
        flat_size = rng.choice([2, 3, 4], n_hh, p=[0.6, 0.3, 0.1])
        family_adults = 1 + (rng.random(n_hh) < 0.8)
        n_adults = np.select(
            [kind == SINGLE, kind == COUPLE, kind == FAMILY], [1, 2, family_adults], flat_size
        ).astype(np.int64)
        n_kids = np.where(kind == FAMILY, rng.choice([1, 2, 3], n_hh, p=[0.45, 0.4, 0.15]), 0)
        size = n_adults + n_kids
        hh = np.repeat(np.arange(n_hh, dtype=np.int64), size)
        rank = np.arange(len(hh), dtype=np.int64) - np.repeat(np.cumsum(size) - size, size)
        customer = (rank == 0) | (rng.random(len(hh)) < p_housemate)
        hh, rank = hh[customer], rank[customer]
        n_records = pick_weighted(rng, k_cum, len(hh)) + 1
        total = np.cumsum(n_records)
        if len(total) and total[-1] >= target:
            break
        n_hh *= 2
    keep = int(np.searchsorted(total, target)) + 1 if target > 0 else 0
    n_records = n_records[:keep].copy()
    if keep:
        n_records[-1] -= int(total[keep - 1] - target)
    hh, rank = hh[:keep], rank[:keep]
    n_kept_hh = int(hh[-1]) + 1 if keep else 0
    starts = np.searchsorted(hh, np.arange(n_kept_hh))
    return _Shape(
        kind=kind[:n_kept_hh],
        n_adults=n_adults[:n_kept_hh],
        hh=hh,
        rank=rank,
        head=starts[hh].astype(np.int64),
        n_records=n_records.astype(np.int64),
    )


def _year_weights(lo: int, hi: int) -> tuple[IntArray, npt.NDArray[np.float64]]:
    years = np.arange(lo, hi + 1)
    w = np.interp(years, [1925, 1940, 1955, 1965, 1990, 2000, 2008], [0, 0.3, 0.8, 1, 1, 0.7, 0.2])
    return years.astype(np.int64), cumulative(np.maximum(w, 1e-3))


def _pick_years(rng: np.random.Generator, lo: int, hi: int, n: int) -> IntArray:
    years, cum = _year_weights(lo, hi)
    return years[pick_weighted(rng, cum, n)]


def _birth_years(
    rng: np.random.Generator, shape: _Shape, t: IntArray, partner: BoolArray, child: BoolArray
) -> IntArray:
    n = len(t)
    year = np.select(
        [t == SINGLE, t == COUPLE, t == FAMILY],
        [
            _pick_years(rng, 1930, 2006, n),
            _pick_years(rng, 1932, 2002, n),
            _pick_years(rng, 1936, 1982, n),
        ],
        _pick_years(rng, 1970, 2005, n),
    )
    head_year = year[shape.head]
    gap = np.rint(rng.normal(-1.5, 4.0, n)).astype(np.int64)
    year = np.where(partner, np.clip(head_year + gap, 1928, 2005), year)
    kid_year = np.minimum(head_year + rng.integers(20, 41, n), 2006)
    return np.where(child, kid_year, year).astype(np.int64)


def _dates_in_years(rng: np.random.Generator, year: IntArray) -> npt.NDArray[np.datetime64]:
    start = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    offset = (rng.random(len(year)) * (365 + leap)).astype(np.int64)
    return np.asarray(start + offset.astype("timedelta64[D]"), dtype="datetime64[D]")


def _surnames(
    config: GeneratorConfig,
    names: Names,
    rng: np.random.Generator,
    shape: _Shape,
    t: IntArray,
    partner: BoolArray,
    child: BoolArray,
    same_sex: BoolArray,
) -> tuple[IntArray, IntArray, BoolArray]:
    """Surnames, the maiden name of partners who took the household's, and who did."""
    n = len(t)
    own = names.sample_last(rng, n)
    household = names.sample_last(rng, len(shape.kind))[shape.hh]
    last = own.copy()
    family_head = (shape.rank == 0) & ((t == COUPLE) | (t == FAMILY))
    last[family_head] = household[family_head]
    p_married = np.where(same_sex, 0.25 * config.p_married_name, config.p_married_name)
    married = partner & (rng.random(n) < p_married)
    last[married] = household[married]
    takes = child & (rng.random(n) < 0.93)
    last[takes] = household[takes]
    maiden = np.where(married, own, -1).astype(np.int64)
    return last, maiden, married


def _given_names(
    names: Names, rng: np.random.Generator, shape: _Shape, female: BoolArray
) -> tuple[IntArray, IntArray]:
    """First and middle names; no two people in a household share a first name."""
    n = len(female)
    first = names.sample_first(rng, female)
    n_first = len(names.first.key)
    for _ in range(12):
        key = shape.hh * n_first + first
        _, first_seen = np.unique(key, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first_seen] = False
        if not dup.any():
            break
        first[dup] = names.sample_first(rng, female[dup])
    middle = np.where(rng.random(n) < 0.55, names.sample_first(rng, female), -1)
    for _ in range(4):
        clash = middle == first
        middle[clash] = names.sample_first(rng, female[clash])
    middle[middle == first] = -1
    return first, middle.astype(np.int64)


def _twins(
    config: GeneratorConfig, rng: np.random.Generator, shape: _Shape, child: BoolArray
) -> IntArray:
    """Indices of the second-born of twins (the first twin is the index before)."""
    n = len(child)
    follows_sibling = np.zeros(n, dtype=bool)
    follows_sibling[1:] = child[1:] & child[:-1] & (shape.hh[1:] == shape.hh[:-1])
    second_child = shape.rank == shape.n_adults[shape.hh] + 1
    first_pair = follows_sibling & second_child
    first_pair[1:] &= shape.rank[:-1] == shape.n_adults[shape.hh[1:]]
    picked = first_pair & (rng.random(n) < config.p_twins)
    return np.flatnonzero(picked).astype(np.int64)


def _juniors(
    config: GeneratorConfig,
    rng: np.random.Generator,
    shape: _Shape,
    child: BoolArray,
    female: BoolArray,
    first: IntArray,
    middle: IntArray,
) -> IntArray:
    """Name some first sons after their father (Jr/Sr); returns the suffix code per person."""
    suffix = np.zeros(len(child), dtype=np.int64)
    sons = np.flatnonzero(child & ~female)
    if not len(sons):
        return suffix
    _, first_son_at = np.unique(shape.hh[sons], return_index=True)
    son = sons[first_son_at]
    father = shape.head[son]
    named = (~female[father]) & (rng.random(len(son)) < config.p_jr)
    son, father = son[named], father[named]
    first[son] = first[father]
    same_middle = rng.random(len(son)) < 0.5
    middle[son[same_middle]] = middle[father[same_middle]]
    suffix[son] = JR
    suffix[father] = SR
    return suffix


def _titles(
    rng: np.random.Generator,
    female: BoolArray,
    married: BoolArray,
    year: IntArray,
    young_or_sharing: BoolArray,
) -> IntArray:
    n = len(female)
    u = rng.random(n)
    title = np.full(n, MR, dtype=np.int64)
    title[female] = np.where(u[female] < 0.55, MS, MRS)
    single_f = female & ~married & ((year >= 1985) | young_or_sharing)
    title[single_f] = np.where(u[single_f] < 0.5, MISS, MS)
    title[female & married] = np.where(u[female & married] < 0.85, MRS, MS)
    v = rng.random(n)
    adult = year <= 1998
    title[adult & (v < 0.03)] = DR
    title[adult & (v >= 0.03) & (v < 0.033)] = PROF
    title[adult & (v >= 0.033) & (v < 0.035)] = REV
    return title
