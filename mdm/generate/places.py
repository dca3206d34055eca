"""UK-shaped places for the generator: towns, streets, postcodes and phone area codes.

The towns are invented from place-name parts (about three hundred, sized by a Zipf
law), the streets are "<word> Road/Street/Lane/..." and the postcodes look like
"AB12 3CD": the outward code belongs to the town (area letters + district), the
inward code to the street and the stretch of house numbers, so neighbours share a
postcode and the same street name in two towns does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from mdm.generate.arrays import ObjArray, cumulative, obj, pick_weighted, weighted_words, words

N_TOWNS = 300
_GEO_SEED = 20_240_601  # the map is the same for every seed; who lives where is not

_TOWN_HEADS = words("""
    Ash Ald Bar Bex Brad Bram Brent Brom Bur Cald Carl Chel Ches Clay Col Cran Dal Dun Eas
    Elm Fair Farn Fel Glen Gran Hal Ham Har Hather Hels Hol Ken King Kirk Lang Leigh Lin
    Lyd Mal Mar Mel Mid Mil New Nor Oak Ock Pen Rad Ray Red Rich Ros Rother Salt Sand
    Sel Shep Stan Stock Stow Sud Sut Thorn Tod Wal Wat Wen West Whit Wil Win Wood Wor
""")
#: Town name endings with their relative frequency.
_TOWN_TAILS, _TOWN_TAIL_WEIGHTS = weighted_words("""
    ford:9 bury:8 ton:12 ham:10 ley:9 field:7 worth:5 wick:5 stead:4 by:4 thorpe:4 well:5
    bridge:5 combe:3 mouth:3 minster:2 chester:2 caster:2 borough:4 hurst:3 den:5 ington:3
    stone:3 wood:3 dale:2 port:2
""")

#: Real UK postcode areas; towns are spread over them.
_AREAS = words("""
    AB AL B BA BB BD BH BL BN BR BS CA CB CF CH CM CO CR CT CV CW DA DD DE DH DL DN DT DY
    E EH EN EX FK FY G GL GU HA HD HG HP HR HU HX IG IP KA KT KY L LA LE LN LS LU M ME MK
    ML N NE NG NN NP NR NW OL OX PE PH PL PO PR RG RH RM S SA SE SG SK SL SM SN SO SP SR SS
    ST SW SY TA TF TN TQ TR TS TW UB W WA WD WF WN WR WS WV YO
""")
#: Letters used in the inward part of real postcodes (no C, I, K, M, O, V).
_UNIT_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"), dtype=object)

_STREET_WORDS = words("""
    High Church Station Main Park Victoria Green Manor Mill School Queens Kings New Grange
    London North Chapel West Springfield Windsor Albert York Alexandra Highfield George
    Meadow Orchard Broad Castle Oak Elm Beech Ash Willow Birch Cedar Maple Rowan Hazel
    Holly Chestnut Lime Poplar Sycamore Hawthorn Cherry Laurel Heather Primrose Bluebell
    Daisy Rose Ivy Fern Clover Jubilee Coronation Princess Regent Stanley Nelson Wellington
    Marlborough Cambridge Oxford Bath Bristol Chester Lancaster Warwick Gloucester
    Belmont Fairfield Woodland Hillside Riverside Brook Bridge Ferry Harbour Quay Market
    Abbey Priory Vicarage Rectory Farm Barn Forge Kiln Quarry Tannery Wharf Canal Dock
    Field Moor Heath Common Hill Valley Lakeside Spring Well Fountain Water Marsh Meadowbank
    Sunnyside Mount Pleasant Grove Hollybush Ashfield Beechwood Oakfield Elmfield Greenway
    Kingsway Queensway Churchill Trinity Alma Cromwell Milton Shakespeare Tennyson Byron
    Wordsworth Chaucer Dickens Darwin Newton Faraday Stephenson Telford Brunel Nightingale
    Edward Arthur Charles Henry Frederick William Mary Elizabeth Catherine Anne Margaret
    Thomas James Richard Robert John Howard Russell Spencer Percy Grosvenor Cavendish
    Devonshire Somerset Norfolk Suffolk Essex Kent Surrey Sussex Dorset Devon Cornwall
    Clarence Lansdowne Beaufort Bedford Salisbury Winchester Canterbury Durham Lincoln
    Sandy Stony Long Short Back Front Little Great Upper Lower Middle Cross Gate Tower
    Walnut Mulberry Juniper Larch Alder Pine Aspen Hornbeam Linden Myrtle Lavender
""")
#: Street types with their relative frequency.
_STREET_TYPES, _STREET_TYPE_WEIGHTS = weighted_words("""
    Road:30 Street:15 Lane:11 Close:10 Avenue:8 Drive:7 Way:5 Crescent:4 Gardens:3 Grove:3
    Place:2 Court:1.5 Terrace:1.5 Walk:0.6 Rise:0.6 Mews:0.5 View:0.5 Row:0.4 Hill:0.4
    Park:0.5
""")
_STREET_PREFIXES = ("", "North ", "South ", "East ", "West ", "Upper ", "Lower ", "Old ", "New ")
_STREET_PREFIX_WEIGHTS = np.array([88, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5])

#: Short forms a clerk might type for a street type.
STREET_ABBREVIATIONS = {
    "Road": "Rd",
    "Street": "St",
    "Lane": "Ln",
    "Avenue": "Ave",
    "Drive": "Dr",
    "Close": "Cl",
    "Crescent": "Cres",
    "Gardens": "Gdns",
    "Place": "Pl",
    "Court": "Ct",
    "Terrace": "Tce",
}

_HOUSE_NAMES = words("""
    Rose_Cottage The_Old_Rectory Ivy_Cottage The_Coach_House Orchard_House The_Barn
    Mill_House Holly_Lodge The_Willows Woodside Hillcrest Fairview The_Laurels Meadow_View
    Brook_House The_Old_Forge Appletree_Cottage The_Stables Well_Cottage Greystones
""")

_HOUSEHOLDS_PER_STREET = 12  # customers we see per street; the street itself is longer


@dataclass(frozen=True)
class Towns:
    """The fixed map of towns: names, Zipf weights, postcode outward codes, phone codes."""

    name: ObjArray
    weight: npt.NDArray[np.float64]
    area: ObjArray
    district_start: npt.NDArray[np.int64]
    n_districts: npt.NDArray[np.int64]
    dial_code: ObjArray  # "01632" style; the largest town has "020"


@dataclass(frozen=True)
class Addresses:
    """Distinct addresses, one per row."""

    line: ObjArray  # "Flat 3, 12 Oak Road" / "12 Oak Road" / "Rose Cottage, Mill Lane"
    town: npt.NDArray[np.int64]
    postcode: ObjArray  # "AB12 3CD"


@lru_cache(maxsize=1)
def build_towns() -> Towns:
    """The map of towns; the same on every call."""
    rng = np.random.default_rng(_GEO_SEED)
    heads = np.array(_TOWN_HEADS, dtype=object)
    tails = np.array(_TOWN_TAILS, dtype=object)
    combos = np.array([[_join_parts(h, t) for t in tails] for h in heads], dtype=object)
    weights = np.ones(len(heads))[:, None] * _TOWN_TAIL_WEIGHTS[None, :]
    flat_names = combos.ravel()
    chosen = rng.choice(
        len(flat_names), N_TOWNS, replace=False, p=(weights / weights.sum()).ravel()
    )
    names = flat_names[chosen]
    rank = np.arange(1, N_TOWNS + 1, dtype=float)
    weight = 1.0 / rank**1.05
    weight /= weight.sum()
    # Spread towns over postcode areas: the larger towns get an area to themselves.
    areas = np.array(_AREAS, dtype=object)
    area_of = np.empty(N_TOWNS, dtype=object)
    area_of[: len(areas)] = rng.permutation(areas)
    area_of[len(areas) :] = areas[rng.integers(0, len(areas), N_TOWNS - len(areas))]
    n_districts = np.clip(np.ceil(weight * 400), 1, 28).astype(np.int64)
    district_start = np.ones(N_TOWNS, dtype=np.int64)
    next_free: dict[str, int] = {}
    for t in range(N_TOWNS):  # towns, not records: a few hundred iterations
        a = str(area_of[t])
        district_start[t] = next_free.get(a, 1)
        next_free[a] = int(district_start[t] + n_districts[t])
    codes = rng.choice(np.arange(1200, 1999), N_TOWNS, replace=False)
    dial = np.array(["0" + str(c) for c in codes], dtype=object)
    dial[0] = "020"
    return Towns(names, weight, area_of, district_start, n_districts, dial)


def _join_parts(head: str, tail: str) -> str:
    """ "West" + "ton" -> "Weston" (a letter shared at the joint is written once)."""
    return head + tail[1:] if head[-1] == tail[0] else head + tail


@lru_cache(maxsize=1)
def _street_table() -> tuple[ObjArray, npt.NDArray[np.float64]]:
    """Every street name with its popularity ("High Street" everywhere, "Aspen Rise" rarely)."""
    street_words = np.array(_STREET_WORDS, dtype=object)
    word_w = 1.0 / np.arange(1, len(street_words) + 1) ** 0.8
    types = np.array(_STREET_TYPES, dtype=object)
    prefixes = np.array(_STREET_PREFIXES, dtype=object)
    names = prefixes[:, None, None] + street_words[None, :, None] + " " + types[None, None, :]
    w = (
        _STREET_PREFIX_WEIGHTS[:, None, None]
        * word_w[None, :, None]
        * _STREET_TYPE_WEIGHTS[None, None, :]
    )
    names = names.ravel()
    names[names == "High Road"] = "High Street"  # keep the classic; duplicates are removed below
    _, first = np.unique(names, return_index=True)
    keep = np.sort(first)
    w = w.ravel()[keep]
    return names[keep], w / w.sum()


def build_addresses(
    rng: np.random.Generator, towns: Towns, town_of: npt.NDArray[np.int64]
) -> Addresses:
    """Distinct addresses, one in each given town (``town_of[i]`` for address ``i``)."""
    n = len(town_of)
    street_names, street_w = _street_table()
    line = np.empty(n, dtype=object)
    postcode = np.empty(n, dtype=object)
    order = np.argsort(town_of, kind="stable")
    counts = np.bincount(town_of, minlength=N_TOWNS)
    bounds = np.concatenate([[0], np.cumsum(counts)])
    street_gid = 0
    for t in np.flatnonzero(counts):  # towns, not records
        rows = order[bounds[t] : bounds[t + 1]]
        h = len(rows)
        n_streets = min(len(street_names), max(3, -(-h // _HOUSEHOLDS_PER_STREET)))
        names = street_names[rng.choice(len(street_names), n_streets, replace=False, p=street_w)]
        lengths = rng.integers(30, 260, n_streets)
        slot = rng.choice(int(lengths.sum()), h, replace=False)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        street = np.searchsorted(starts, slot, side="right") - 1
        number = slot - starts[street] + 1
        line[rows] = _house_lines(rng, number, names[street])
        postcode[rows] = _postcodes(rng, towns, int(t), street, street_gid, number, n_streets)
        street_gid += n_streets
    return Addresses(line, town_of.astype(np.int64), postcode)


def _house_lines(
    rng: np.random.Generator, number: npt.NDArray[np.int64], street: ObjArray
) -> ObjArray:
    n = len(number)
    num = number.astype(str).astype(object)
    line = num + " " + street
    kind = rng.random(n)
    flat = kind < 0.14
    flat_no = rng.integers(1, 16, n).astype(str).astype(object)
    line[flat] = "Flat " + flat_no[flat] + ", " + line[flat]
    named = kind > 0.98
    names = np.array(_HOUSE_NAMES, dtype=object)[rng.integers(0, len(_HOUSE_NAMES), n)]
    line[named] = names[named] + ", " + street[named]
    return obj(line)


def _postcodes(
    rng: np.random.Generator,
    towns: Towns,
    t: int,
    street: npt.NDArray[np.int64],
    first_gid: int,
    number: npt.NDArray[np.int64],
    n_streets: int,
) -> ObjArray:
    """Outward code from the town (a district per street), inward code per stretch of houses."""
    district_of_street = towns.district_start[t] + rng.integers(0, towns.n_districts[t], n_streets)
    sector_of_street = rng.integers(0, 10, n_streets)
    district = district_of_street[street].astype(str).astype(object)
    sector = sector_of_street[street].astype(str).astype(object)
    block = number // 16
    gid = street.astype(np.int64) + first_gid
    h = (gid * 7919 + block * 104_729 + 17) * 2_654_435_761 % 400
    unit = _UNIT_LETTERS[h // 20] + _UNIT_LETTERS[h % 20]
    return obj(towns.area[t] + district + " " + sector + unit)


def pick_towns(rng: np.random.Generator, towns: Towns, n: int) -> npt.NDArray[np.int64]:
    """Draw ``n`` towns in proportion to their size."""
    return pick_weighted(rng, cumulative(towns.weight), n)
