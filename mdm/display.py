"""How a customer's values are shown to a person.

Values are matched in a folded form ("evelyn", "o brien", "25 manor rd"); people read
"Evelyn", "O'Brien", "25 Manor Road". The display form of a value is the way its own
source record typed it, found among that record's raw values (its words, folded, are
the value's words; a street type may be written out: "Road" for "rd"), with the
source's accents and punctuation. Typed in one case only ("EVELYN", "evelyn") it is
put in proper case; not found (a value the standardiser rewrote), the matching form
is put in proper case. Pure: the caller gives the source record's raw values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mdm.standardise.text import ADDRESS_ABBREVIATIONS, normalise_words

#: The attributes shown in a display form (the others read as they are matched: an
#: email in lower case, a phone in E.164, a postcode in capitals, a date in ISO).
SHOWN = ("first_name", "middle_name", "last_name", "full_name", "address_line", "city")

#: Name particles kept in lower case inside a name ("Ludwig van Beethoven").
PARTICLES = frozenset(
    {"de", "da", "del", "della", "der", "di", "du", "la", "le", "van", "von", "den", "ter"}
)
_ROMAN = re.compile(r"^(i{1,3}|iv|v|vi{0,3}|ix|x)$", re.IGNORECASE)
_EDGE = ',;:()"[]'
#: A word proper case applies to: letters, digits, apostrophes, hyphens, periods.
_PLAIN = re.compile(r"^[\w'’.\-/&]+$")


def display_value(attribute: str, value: str | None, raw: Iterable[object]) -> str | None:
    """The display form of ``value`` (``attribute``'s matching form), from the raw
    values of the source record it came from."""
    if value is None or attribute not in SHOWN:
        return value
    wanted = value.split()
    address = attribute == "address_line"
    for text in raw:
        if not isinstance(text, str):
            continue
        run = _find_run(text, wanted, address)
        if run is not None:
            return run if _mixed_case(run) else proper_case(run)
    return proper_case(value)


def _words(token: str, address: bool) -> list[str]:
    words = normalise_words(token).split()
    if address:
        return [ADDRESS_ABBREVIATIONS.get(word, word) for word in words]
    return words


def _find_run(text: str, wanted: list[str], address: bool) -> str | None:
    """The words of ``text``, as typed, whose folded words are ``wanted``."""
    tokens = [t.strip(_EDGE) for t in text.split()]
    tokens = [t for t in tokens if t]
    folded = [_words(t, address) for t in tokens]
    for start in range(len(tokens)):
        found: list[str] = []
        for end in range(start, len(tokens)):
            found += folded[end]
            if found == wanted:
                return " ".join(tokens[start : end + 1])
            if found != wanted[: len(found)]:
                break
    return None


def _mixed_case(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return any(c.isupper() for c in letters) and any(c.islower() for c in letters)


def proper_case(text: str) -> str:
    """ "o'brien" -> "O'Brien", "smith-jones" -> "Smith-Jones", "mcdonald" ->
    "McDonald", "ludwig van beethoven" -> "Ludwig van Beethoven", "12a high st" ->
    "12A High St", "henry viii" -> "Henry VIII"."""
    words = text.split()
    return " ".join(_word(word, first=i == 0) for i, word in enumerate(words))


def _word(word: str, first: bool) -> str:
    if not _PLAIN.match(word):
        return word  # not a plain word (a formula, a URL, symbols): as it is
    lower = word.lower()
    if not first and lower in PARTICLES:
        return lower
    if _ROMAN.match(word) and not first:
        return word.upper()
    if any(c.isdigit() for c in word):
        return word.upper()
    parts = re.split(r"([-'’])", lower)
    shown = []
    for part in parts:
        if part in "-'’":
            shown.append(part)
        elif part.startswith("mc") and len(part) > 2:
            shown.append("Mc" + part[2:].capitalize())
        else:
            shown.append(part.capitalize())
    return "".join(shown)
