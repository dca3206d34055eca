"""National identifiers in the generated sources (``GeneratorConfig.national_ids``).

Each person gets one identifier in the locale's own form: a UK National Insurance
number ("QQ 12 34 56 C"), a US Social Security number ("123-45-6789") or an
Australian Tax File Number ("123 456 789"). The sources that ask for it (:data:`SHARE`:
the CRM and billing) carry it on part of their records, as people typed it, with the
errors such numbers collect:

- a digit mistyped, or two neighbouring digits swapped;
- a filler where the form wanted something ("000-00-0000", "AA000000A");
- another person's number instead of the person's own (a relative's, say).

Drawn from their own random stream: a configuration without ``national_ids`` produces
exactly what it did before.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mdm.generate.arrays import ObjArray, padded

#: Locale -> (the column the sources write it in, a filler people type instead).
COLUMN = {
    "gb": ("ni_number", "AA000000A"),
    "us": ("ssn", "000-00-0000"),
    "au": ("tfn", "000 000 000"),
}
#: Source -> share of its records that carry the identifier.
SHARE = {"crm": 0.8, "billing": 0.6}
#: Of the records carrying it: a typing slip, a filler, another person's number.
P_TYPO, P_FILLER, P_OTHER = 0.03, 0.01, 0.005
#: National Insurance prefixes use neither D, F, I, Q, U, V, nor O as the second letter.
_NI_FIRST = np.array(list("ABCEGHJKLMNPRSTWXYZ"), dtype=object)
_NI_SECOND = np.array(list("ABCEGHJKLMNPRSTWXYZ"), dtype=object)
_NI_SUFFIX = np.array(list("ABCD"), dtype=object)
_D2, _D3, _D4 = padded(2, 100), padded(3, 1000), padded(4, 10000)


def person_identifiers(n_people: int, locale: str, rng: np.random.Generator) -> ObjArray:
    """One identifier per person, distinct, in the locale's written form."""
    if locale == "gb":
        number = rng.choice(1_000_000, size=n_people, replace=n_people > 1_000_000)
        digits = padded(6, 1_000_000)[number]
        first = _NI_FIRST[rng.integers(0, len(_NI_FIRST), n_people)]
        second = _NI_SECOND[rng.integers(0, len(_NI_SECOND), n_people)]
        suffix = _NI_SUFFIX[rng.integers(0, len(_NI_SUFFIX), n_people)]
        return first + second + digits + suffix  # type: ignore[no-any-return]
    # nine digits, distinct; an SSN's area is never 000, 666 or 900-999
    number = rng.choice(899_000_000, size=n_people, replace=False) + 1_000_000
    area, rest = number // 1_000_000, number % 1_000_000
    area = np.where(area == 666, 667, area)
    if locale == "us":
        return _D3[area] + "-" + _D2[rest // 10_000] + "-" + _D4[rest % 10_000]  # type: ignore[no-any-return]
    text = _D3[area] + padded(6, 1_000_000)[rest]
    return np.array([f"{t[:3]} {t[3:6]} {t[6:]}" for t in text], dtype=object)


def mapping_with_identifier(text: str, locale: str) -> str:
    """A source's mapping file (``text``) with the identifier column mapped."""
    line = f"  national_id: {COLUMN[locale][0]}\n"
    head, sep, rest = text.partition("columns:")
    first, newline, tail = rest.partition("\n")
    return head + sep + first + newline + line + tail


def add_national_ids(
    frames: dict[str, pd.DataFrame], n_people: int, locale: str, seed: int
) -> dict[str, pd.DataFrame]:
    """``frames`` with the identifier column added to the sources of :data:`SHARE`."""
    rng = np.random.default_rng([seed, 0x1D])
    ids = person_identifiers(n_people, locale, rng)
    column, filler = COLUMN[locale]
    out = dict(frames)
    for name, share in SHARE.items():
        if name not in frames:
            continue
        frame = frames[name].copy()
        person = frame["true_person_id"].str[1:].astype(int).to_numpy() - 1
        n = len(frame)
        values = ids[person].copy()
        other = rng.random(n) < P_OTHER  # the next person's (people come by household)
        values[other] = ids[np.minimum(person[other] + 1, n_people - 1)]
        typo = rng.random(n) < P_TYPO
        values[typo] = [_slip(v, rng) for v in values[typo]]
        values[rng.random(n) < P_FILLER] = filler
        values[rng.random(n) >= share] = None
        frame.insert(len(frame.columns) - 1, column, values)  # before true_person_id
        out[name] = frame
    return out


def _slip(value: str, rng: np.random.Generator) -> str:
    """One typing slip in the digits: a digit mistyped, or two neighbours swapped."""
    at = [i for i, c in enumerate(value) if c.isdigit()]
    i = at[int(rng.integers(0, len(at)))]
    chars = list(value)
    following = [j for j in at if j > i]
    if following and rng.random() < 0.3:
        j = following[0]
        chars[i], chars[j] = chars[j], chars[i]
    else:
        chars[i] = str((int(chars[i]) + int(rng.integers(1, 10))) % 10)
    return "".join(chars)
