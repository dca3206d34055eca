"""Which country a record's ``country`` or ``region`` value names: "USA", "Deutschland", "NSW".

>>> country_of("U.S.A.")
'US'
>>> country_of("Deutschland")
'DE'
>>> country_of_region("Michigan"), country_of_region("ON"), country_of_region("Wales")
('US', 'CA', 'GB')

Names are matched after :func:`mdm.standardise.text.clean_text` (lower case, accents
folded, punctuation gone), also with the spaces removed ("u s a" -> "usa"). A
``country`` value may be any ISO 3166 alpha-2 code phonenumbers knows, an alpha-3
code or a name below; a ``region`` value a state, province or nation of the US,
Canada, Australia or the UK. An abbreviation two countries share ("WA": Washington
or Western Australia, "NT") names neither.
"""

from __future__ import annotations

import functools

import phonenumbers

from mdm.standardise.text import clean_text

#: Country names and alpha-3 codes (cleaned) -> ISO 3166 alpha-2.
COUNTRY_NAMES: dict[str, str] = {
    **dict.fromkeys(
        ("usa", "united states", "united states of america", "america", "estados unidos",
         "etats unis", "vereinigte staaten"), "US"
    ),
    **dict.fromkeys(
        # "UK" is the United Kingdom (its ISO code is GB), not Ukraine (UA)
        ("gbr", "uk", "united kingdom", "great britain", "britain", "england", "scotland",
         "wales", "northern ireland", "royaume uni", "vereinigtes konigreich", "reino unido"),
        "GB",
    ),
    **dict.fromkeys(("can", "canada"), "CA"),
    **dict.fromkeys(("aus", "australia", "australien", "australie"), "AU"),
    **dict.fromkeys(("irl", "ireland", "eire", "republic of ireland", "irland"), "IE"),
    **dict.fromkeys(("deu", "ger", "germany", "deutschland", "allemagne", "alemania"), "DE"),
    **dict.fromkeys(("fra", "france", "frankreich", "francia"), "FR"),
    **dict.fromkeys(("nzl", "new zealand", "aotearoa"), "NZ"),
    **dict.fromkeys(("ind", "india", "bharat"), "IN"),
    **dict.fromkeys(("esp", "spain", "espana", "spanien"), "ES"),
    **dict.fromkeys(("ita", "italy", "italia", "italien"), "IT"),
    **dict.fromkeys(("nld", "netherlands", "the netherlands", "holland", "nederland"), "NL"),
    **dict.fromkeys(("bel", "belgium", "belgique", "belgie"), "BE"),
    **dict.fromkeys(("che", "switzerland", "schweiz", "suisse", "svizzera"), "CH"),
    **dict.fromkeys(("aut", "austria", "osterreich"), "AT"),
    **dict.fromkeys(("prt", "portugal"), "PT"),
    **dict.fromkeys(("pol", "poland", "polska"), "PL"),
    **dict.fromkeys(("swe", "sweden", "sverige"), "SE"),
    **dict.fromkeys(("nor", "norway", "norge"), "NO"),
    **dict.fromkeys(("dnk", "denmark", "danmark"), "DK"),
    **dict.fromkeys(("mex", "mexico"), "MX"),
    **dict.fromkeys(("zaf", "south africa"), "ZA"),
    **dict.fromkeys(("pri", "puerto rico"), "PR"),
}  # fmt: skip

_US_STATES = {
    "al": "alabama", "ak": "alaska", "az": "arizona", "ar": "arkansas", "ca": "california",
    "co": "colorado", "ct": "connecticut", "de": "delaware", "fl": "florida", "ga": "georgia",
    "hi": "hawaii", "id": "idaho", "il": "illinois", "in": "indiana", "ia": "iowa",
    "ks": "kansas", "ky": "kentucky", "la": "louisiana", "me": "maine", "md": "maryland",
    "ma": "massachusetts", "mi": "michigan", "mn": "minnesota", "ms": "mississippi",
    "mo": "missouri", "mt": "montana", "ne": "nebraska", "nv": "nevada",
    "nh": "new hampshire", "nj": "new jersey", "nm": "new mexico", "ny": "new york",
    "nc": "north carolina", "nd": "north dakota", "oh": "ohio", "ok": "oklahoma",
    "or": "oregon", "pa": "pennsylvania", "ri": "rhode island", "sc": "south carolina",
    "sd": "south dakota", "tn": "tennessee", "tx": "texas", "ut": "utah", "vt": "vermont",
    "va": "virginia", "wa": "washington", "wv": "west virginia", "wi": "wisconsin",
    "wy": "wyoming", "dc": "district of columbia", "pr": "puerto rico",
}  # fmt: skip
_CA_PROVINCES = {
    "ab": "alberta", "bc": "british columbia", "mb": "manitoba", "nb": "new brunswick",
    "nl": "newfoundland and labrador", "ns": "nova scotia", "nt": "northwest territories",
    "nu": "nunavut", "on": "ontario", "pe": "prince edward island", "qc": "quebec",
    "sk": "saskatchewan", "yt": "yukon",
}  # fmt: skip
_AU_STATES = {
    "nsw": "new south wales", "vic": "victoria", "qld": "queensland", "wa": "western australia",
    "sa": "south australia", "tas": "tasmania", "act": "australian capital territory",
    "nt": "northern territory",
}  # fmt: skip
_UK_NATIONS = ("england", "scotland", "wales", "northern ireland")


def _region_table() -> dict[str, str]:
    """Region name or abbreviation -> country; abbreviations two countries share are left out."""
    table: dict[str, str] = {}
    shared: set[str] = set()
    for country, regions in (("US", _US_STATES), ("CA", _CA_PROVINCES), ("AU", _AU_STATES)):
        for abbreviation, name in regions.items():
            table[name] = country
            if abbreviation in table and table[abbreviation] != country:
                shared.add(abbreviation)
            table[abbreviation] = country
    table.update(dict.fromkeys(_UK_NATIONS, "GB"))
    table.update({"washington dc": "US", "newfoundland": "CA", "pq": "CA", "nfld": "CA"})
    return {name: country for name, country in table.items() if name not in shared}


#: State, province and nation names and abbreviations (cleaned) -> ISO 3166 alpha-2.
REGION_NAMES: dict[str, str] = _region_table()


@functools.lru_cache(maxsize=4096)
def country_of(value: object) -> str | None:
    """The ISO 3166 alpha-2 code a ``country`` value names, None when it names none."""
    name = clean_text(value)
    if name is None:
        return None
    compact = name.replace(" ", "")
    found = COUNTRY_NAMES.get(name) or COUNTRY_NAMES.get(compact)
    if found is None and len(compact) == 2 and compact.upper() in phonenumbers.SUPPORTED_REGIONS:
        found = compact.upper()
    return found


@functools.lru_cache(maxsize=4096)
def country_of_region(value: object) -> str | None:
    """The country whose state, province or nation a ``region`` value names, else None."""
    name = clean_text(value)
    if name is None:
        return None
    return REGION_NAMES.get(name) or REGION_NAMES.get(name.replace(" ", ""))


def record_country(country: object, region: object) -> str | None:
    """A record's own country: its ``country`` value, else the one its ``region`` names."""
    return country_of(country) or country_of_region(region)
