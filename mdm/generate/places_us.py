"""US places for ``--locale us``: the UK map of the generator re-dressed as American.

Each generated town becomes a real US city with its state, area code and ZIP prefix
(the largest towns the largest cities); each address keeps its house, street and
neighbours but gets a US house number, a ZIP+4 (one ZIP per UK postcode district, so
neighbours share it) and an "Apt" instead of a "Flat"; each phone number keeps its
last four digits under a US area code (a landline the home city's, most mobiles too).
The mapping is a pure function of the UK values, so the UK output never changes.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import replace

import numpy as np

from mdm.generate.arrays import ObjArray, obj, present, with_domains
from mdm.generate.people import People
from mdm.generate.places import Addresses, Towns

#: City, state, state name, area code, ZIP prefix; largest first.
_CITIES = """
New York,NY,212,100 Los Angeles,CA,213,900 Chicago,IL,312,606 Houston,TX,713,770
Phoenix,AZ,602,850 Philadelphia,PA,215,191 San Antonio,TX,210,782 San Diego,CA,619,921
Dallas,TX,214,752 San Jose,CA,408,951 Austin,TX,512,787 Jacksonville,FL,904,322
Fort Worth,TX,817,761 Columbus,OH,614,432 Charlotte,NC,704,282 Indianapolis,IN,317,462
Seattle,WA,206,981 Denver,CO,303,802 Boston,MA,617,021 Nashville,TN,615,372
Detroit,MI,313,482 Portland,OR,503,972 Memphis,TN,901,381 Louisville,KY,502,402
Baltimore,MD,410,212 Milwaukee,WI,414,532 Albuquerque,NM,505,871 Tucson,AZ,520,857
Fresno,CA,559,937 Sacramento,CA,916,958 Kansas City,MO,816,641 Atlanta,GA,404,303
Omaha,NE,402,681 Raleigh,NC,919,276 Miami,FL,305,331 Minneapolis,MN,612,554
Tulsa,OK,918,741 Cleveland,OH,216,441 Wichita,KS,316,672 New Orleans,LA,504,701
Tampa,FL,813,336 Pittsburgh,PA,412,152 Cincinnati,OH,513,452 St. Louis,MO,314,631
Orlando,FL,407,328 Buffalo,NY,716,142 Richmond,VA,804,232 Salt Lake City,UT,801,841
Birmingham,AL,205,352 Rochester,NY,585,146 Grand Rapids,MI,616,495 Spokane,WA,509,992
Des Moines,IA,515,503 Boise,ID,208,837 Little Rock,AR,501,722 Madison,WI,608,537
Knoxville,TN,865,379 Providence,RI,401,029 Hartford,CT,860,061 Springfield,IL,217,627
Lansing,MI,517,489 Kalamazoo,MI,269,490 Dayton,OH,937,454 Toledo,OH,419,436
Akron,OH,330,443 Syracuse,NY,315,132 Albany,NY,518,122 Worcester,MA,508,016
Newark,NJ,973,071 Jersey City,NJ,201,073 Trenton,NJ,609,086 Wilmington,DE,302,198
Charleston,SC,843,294 Columbia,SC,803,292 Savannah,GA,912,314 Chattanooga,TN,423,374
Lexington,KY,859,405 Fort Wayne,IN,260,468 Evansville,IN,812,477 Peoria,IL,309,616
Rockford,IL,815,611 Green Bay,WI,920,543 Duluth,MN,218,558 Fargo,ND,701,581
Sioux Falls,SD,605,571 Billings,MT,406,591 Cheyenne,WY,307,820 Reno,NV,775,895
Las Vegas,NV,702,891 Anchorage,AK,907,995 Honolulu,HI,808,968 Burlington,VT,802,054
Manchester,NH,603,031 Portland,ME,207,041 Bakersfield,CA,661,933 Eugene,OR,541,974
Tacoma,WA,253,984 Colorado Springs,CO,719,809 El Paso,TX,915,799 Lubbock,TX,806,794
Shreveport,LA,318,711 Jackson,MS,601,392 Mobile,AL,251,366 Pensacola,FL,850,325
Charleston,WV,304,253 Scranton,PA,570,185 Allentown,PA,610,181 Norfolk,VA,757,235
Baton Rouge,LA,225,708
"""
_STATE_NAMES = {
    "NY": "New York", "CA": "California", "IL": "Illinois", "TX": "Texas", "AZ": "Arizona",
    "PA": "Pennsylvania", "FL": "Florida", "OH": "Ohio", "NC": "North Carolina",
    "IN": "Indiana", "WA": "Washington", "CO": "Colorado", "MA": "Massachusetts",
    "TN": "Tennessee", "MI": "Michigan", "OR": "Oregon", "KY": "Kentucky", "MD": "Maryland",
    "WI": "Wisconsin", "NM": "New Mexico", "MO": "Missouri", "GA": "Georgia", "NE": "Nebraska",
    "MN": "Minnesota", "OK": "Oklahoma", "KS": "Kansas", "LA": "Louisiana", "VA": "Virginia",
    "UT": "Utah", "AL": "Alabama", "IA": "Iowa", "ID": "Idaho", "AR": "Arkansas",
    "RI": "Rhode Island", "CT": "Connecticut", "NJ": "New Jersey", "DE": "Delaware",
    "SC": "South Carolina", "ND": "North Dakota", "SD": "South Dakota", "MT": "Montana",
    "WY": "Wyoming", "NV": "Nevada", "AK": "Alaska", "HI": "Hawaii", "VT": "Vermont",
    "NH": "New Hampshire", "ME": "Maine", "MS": "Mississippi", "WV": "West Virginia",
}  # fmt: skip
_CITY_ROWS = [row.split(",") for row in re.findall(r"[A-Z][^,]*,[A-Z]{2},\d{3},\d{3}", _CITIES)]
CITY = np.array([row[0] for row in _CITY_ROWS], dtype=object)
STATE = np.array([row[1] for row in _CITY_ROWS], dtype=object)
STATE_NAME = np.array([_STATE_NAMES[row[1]] for row in _CITY_ROWS], dtype=object)
AREA_CODE = np.array([row[2] for row in _CITY_ROWS], dtype=object)
ZIP3 = np.array([row[3] for row in _CITY_ROWS], dtype=object)
#: The UK domain suffixes the generator writes, and this country's.
_DOMAINS = {".co.uk": ".com", ".ac.uk": ".edu"}

PHONE_PLACEHOLDERS = {
    "07000000000": "0000000000",
    "00000000000": "0000000000",
    "01234567890": "1234567890",
}
_LINE = re.compile(r"(?:Flat (\d+), )?(?:(\d+) )?(.*?)$")


def _hash(text: str, modulo: int) -> int:
    return zlib.crc32(text.encode()) % modulo


def city_of_town(towns: Towns) -> np.ndarray:
    """The US city of each generated town (the Zipf ranks kept, cities reused past 108)."""
    return np.arange(len(towns.name)) % len(CITY)


def localise_people(people: People) -> People:
    """``people`` with US towns, addresses, phone numbers and email domains."""
    city = city_of_town(people.towns)
    towns = replace(people.towns, name=CITY[city], dial_code=AREA_CODE[city])
    addresses = _addresses(people.addresses, city)
    home_city = city[addresses.town[people.address]]
    return replace(
        people,
        towns=towns,
        addresses=addresses,
        mobile=_numbers(people.mobile, home_city, roam=0.15),
        landline=_numbers(people.landline, home_city, roam=0.0),
        email=with_domains(people.email, _DOMAINS),
        email_alt=with_domains(people.email_alt, _DOMAINS),
    )


def record_states(people: People, address: np.ndarray) -> tuple[ObjArray, ObjArray]:
    """The state (code and name) of each record's address."""
    city = city_of_town(people.towns)[people.addresses.town[address]]
    return STATE[city], STATE_NAME[city]


def _addresses(addresses: Addresses, city: np.ndarray) -> Addresses:
    lines = [_us_line(str(line), i) for i, line in enumerate(addresses.line)]
    codes = [
        _zip(str(postcode), str(ZIP3[city[town]]))
        for postcode, town in zip(addresses.postcode, addresses.town, strict=True)
    ]
    return Addresses(obj(lines), addresses.town, obj(codes))


def _us_line(line: str, i: int) -> str:
    """ "Flat 3, 12 Oak Road" -> "1207 Oak Road, Apt 3"; a house name gets a number."""
    match = _LINE.match(line)
    assert match is not None  # the pattern matches any line
    flat, number, street = match[1], match[2], match[3]
    if number is None:  # "Rose Cottage, Mill Lane"
        street, number = street.rpartition(", ")[2], str(1 + _hash(line, 90))
    house = int(number) * 10 + i % 10
    return f"{house} {street}" + (f", Apt {flat}" if flat else "")


def _zip(postcode: str, zip3: str) -> str:
    """ZIP+4: one ZIP per UK postcode district, the +4 per UK postcode."""
    district = postcode.split(" ")[0]
    return f"{zip3}{_hash(district, 100):02d}-{_hash(postcode, 9999) + 1:04d}"


def _numbers(numbers: ObjArray, home_city: np.ndarray, roam: float) -> ObjArray:
    """US ten-digit numbers: the home city's area code (a share ``roam`` another's)."""
    out = np.full(len(numbers), None, dtype=object)
    for i in np.flatnonzero(present(numbers)):
        digits = str(numbers[i])
        city = home_city[i]
        if _hash(digits + "r", 1000) < roam * 1000:
            city = _hash(digits, len(CITY))
        exchange = 200 + _hash(digits, 800)
        if exchange % 100 == 11 or exchange == 555:
            exchange += 1
        out[i] = f"{AREA_CODE[city]}{exchange}{digits[-4:]}"
    return out
