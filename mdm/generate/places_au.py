"""Australian places for ``--locale au``: the UK map of the generator re-dressed.

As :mod:`mdm.generate.places_us`: each generated town becomes a real Australian city
with its state, its one-digit area code and a postcode range; each address keeps its
street and neighbours ("Flat 3, 12 Oak Road" becomes "3/12 Oak Road"); each number
keeps its last digits under an Australian mobile ("04..") or landline prefix. A pure
function of the UK values, so the UK output never changes.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from mdm.generate.arrays import ObjArray, obj, present, with_domains
from mdm.generate.people import People
from mdm.generate.places import Addresses
from mdm.generate.places_us import _hash

#: City, state, area code, first postcode; largest first.
_CITIES = """
Sydney,NSW,2,2000 Melbourne,VIC,3,3000 Brisbane,QLD,7,4000 Perth,WA,8,6000
Adelaide,SA,8,5000 Gold Coast,QLD,7,4217 Newcastle,NSW,2,2300 Canberra,ACT,2,2600
Sunshine Coast,QLD,7,4556 Wollongong,NSW,2,2500 Hobart,TAS,3,7000 Geelong,VIC,3,3220
Townsville,QLD,7,4810 Cairns,QLD,7,4870 Darwin,NT,8,0800 Toowoomba,QLD,7,4350
Ballarat,VIC,3,3350 Bendigo,VIC,3,3550 Albury,NSW,2,2640 Launceston,TAS,3,7250
Mackay,QLD,7,4740 Rockhampton,QLD,7,4700 Bunbury,WA,8,6230 Bundaberg,QLD,7,4670
Coffs Harbour,NSW,2,2450 Wagga Wagga,NSW,2,2650 Hervey Bay,QLD,7,4655 Mildura,VIC,3,3500
Shepparton,VIC,3,3630 Port Macquarie,NSW,2,2444 Orange,NSW,2,2800 Dubbo,NSW,2,2830
Geraldton,WA,8,6530 Kalgoorlie,WA,8,6430 Mount Gambier,SA,8,5290 Alice Springs,NT,8,0870
"""
_STATE_NAMES = {
    "NSW": "New South Wales", "VIC": "Victoria", "QLD": "Queensland",
    "WA": "Western Australia", "SA": "South Australia", "TAS": "Tasmania",
    "ACT": "Australian Capital Territory", "NT": "Northern Territory",
}  # fmt: skip
_ROWS = [row.split(",") for row in re.findall(r"[A-Z][^,]*,[A-Z]{2,3},\d,\d{4}", _CITIES)]
CITY = np.array([row[0] for row in _ROWS], dtype=object)
STATE = np.array([row[1] for row in _ROWS], dtype=object)
STATE_NAME = np.array([_STATE_NAMES[row[1]] for row in _ROWS], dtype=object)
AREA_CODE = np.array([row[2] for row in _ROWS], dtype=object)
FIRST_POSTCODE = np.array([int(row[3]) for row in _ROWS])
#: The UK domain suffixes the generator writes, and this country's.
_DOMAINS = {".co.uk": ".com.au", ".ac.uk": ".edu.au"}

PHONE_PLACEHOLDERS = {
    "07000000000": "0000000000",
    "00000000000": "0000000000",
    "01234567890": "0123456789",
}
_FLAT = re.compile(r"Flat (\d+), (\d+ .*)")


def city_of_town(n_towns: int) -> np.ndarray:
    """The Australian city of each generated town (the Zipf ranks kept)."""
    return np.arange(n_towns) % len(CITY)


def localise_people(people: People) -> People:
    """``people`` with Australian towns, addresses, phone numbers and email domains."""
    city = city_of_town(len(people.towns.name))
    towns = replace(people.towns, name=CITY[city], dial_code=AREA_CODE[city])
    addresses = _addresses(people.addresses, city)
    home_city = city[addresses.town[people.address]]
    return replace(
        people,
        towns=towns,
        addresses=addresses,
        mobile=_numbers(people.mobile, home_city, mobile=True),
        landline=_numbers(people.landline, home_city, mobile=False),
        email=with_domains(people.email, _DOMAINS),
        email_alt=with_domains(people.email_alt, _DOMAINS),
    )


def record_states(people: People, address: np.ndarray) -> tuple[ObjArray, ObjArray]:
    """The state (code and name) of each record's address."""
    city = city_of_town(len(people.towns.name))[people.addresses.town[address]]
    return STATE[city], STATE_NAME[city]


def _addresses(addresses: Addresses, city: np.ndarray) -> Addresses:
    lines = [_FLAT.sub(r"\1/\2", str(line)) for line in addresses.line]
    codes = [
        f"{FIRST_POSTCODE[city[town]] + _hash(str(postcode).split(' ')[0], 40):04d}"
        for postcode, town in zip(addresses.postcode, addresses.town, strict=True)
    ]
    return Addresses(obj(lines), addresses.town, obj(codes))


def _numbers(numbers: ObjArray, home_city: np.ndarray, mobile: bool) -> ObjArray:
    """Ten-digit national numbers: "04" mobiles, landlines under the home area code."""
    out = np.full(len(numbers), None, dtype=object)
    for i in np.flatnonzero(present(numbers)):
        digits = str(numbers[i])
        if mobile:
            out[i] = f"04{1 + _hash(digits, 9)}{digits[-7:]}"
        else:
            out[i] = f"0{AREA_CODE[home_city[i]]}{2 + _hash(digits, 8)}{digits[-7:]}"
    return out
