"""Name tables for the generator: frequencies, display forms, nicknames and spelling variants.

Read from the packaged reference names in ``mdm/data/reference_names/`` (first_names.csv,
last_names.csv, name_variants.csv, all lowercase ASCII). Names are drawn by frequency, so
common names are common. A few names get a decorated display form that some sources
keep and others lose: accents (José, Zoë, Núñez) and apostrophes (O'Brien).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from mdm.bundled import REFERENCE_NAMES_DIR
from mdm.errors import InputError
from mdm.generate.arrays import BoolArray, IntArray, ObjArray, cumulative, pick_weighted

#: Where the reference name lists live in the repository.

#: Decorated first names; the plain form is the ASCII key.
_DECORATED_FIRST = {
    "jose": "José", "zoe": "Zoë", "chloe": "Chloé", "renee": "Renée", "andre": "André",
    "noel": "Noël", "sian": "Siân", "sean": "Seán", "ines": "Inés", "rene": "René",
    "raphael": "Raphaël", "michele": "Michèle", "helene": "Hélène", "celine": "Céline",
    "francois": "François", "jerome": "Jérôme", "aine": "Áine", "jesus": "Jesús",
    "ramon": "Ramón", "joaquin": "Joaquín", "lucia": "Lucía", "sofia": "Sofía",
    "elodie": "Élodie", "desiree": "Désirée", "bjorn": "Björn", "jurgen": "Jürgen",
    "joao": "João", "agnes": "Agnès", "angel": "Ángel", "cedric": "Cédric",
    "zoey": "Zoëy", "nadege": "Nadège", "leonie": "Léonie", "maelle": "Maëlle",
    "anais": "Anaïs", "noemi": "Noémi", "oscar": "Óscar", "ruben": "Rubén",
}  # fmt: skip
#: Decorated surnames (accents and the Irish O').
_DECORATED_LAST = {
    "garcia": "García", "rodriguez": "Rodríguez", "martinez": "Martínez",
    "hernandez": "Hernández", "lopez": "López", "gonzalez": "González", "perez": "Pérez",
    "sanchez": "Sánchez", "ramirez": "Ramírez", "gomez": "Gómez", "diaz": "Díaz",
    "jimenez": "Jiménez", "alvarez": "Álvarez", "nunez": "Núñez", "munoz": "Muñoz",
    "ibanez": "Ibáñez", "pena": "Peña", "muller": "Müller", "schroder": "Schröder",
    "fernandez": "Fernández", "gutierrez": "Gutiérrez", "vasquez": "Vásquez",
    "benitez": "Benítez", "suarez": "Suárez", "mendez": "Méndez", "chavez": "Chávez",
    "dominguez": "Domínguez", "marquez": "Márquez", "rios": "Ríos", "leon": "León",
    "obrien": "O'Brien", "oconnor": "O'Connor", "oneill": "O'Neill",
    "odonnell": "O'Donnell", "oreilly": "O'Reilly", "ohara": "O'Hara",
    "osullivan": "O'Sullivan", "oleary": "O'Leary", "okeefe": "O'Keefe",
    "orourke": "O'Rourke", "omalley": "O'Malley", "oconnell": "O'Connell",
    "odell": "O'Dell", "oneal": "O'Neal", "otoole": "O'Toole", "ogrady": "O'Grady",
}  # fmt: skip
_VARIANT_WEIGHT_FLOOR = 20.0


@dataclass(frozen=True)
class Variants:
    """Variants per name in CSR form: row ``i`` owns ``values[start[i]:stop[i]]``."""

    start: IntArray
    stop: IntArray
    values: ObjArray  # display form
    cum: npt.NDArray[np.float64]  # cumulative weights over ``values``

    def has(self, idx: IntArray) -> BoolArray:
        """Which of the names ``idx`` have at least one variant."""
        return np.asarray(self.stop[idx] > self.start[idx], dtype=bool)

    def pick(self, rng: np.random.Generator, idx: IntArray) -> ObjArray:
        """One variant for each name in ``idx`` (each must have one), common ones more often."""
        a, b = self.start[idx], self.stop[idx]
        base = np.where(a > 0, self.cum[np.maximum(a - 1, 0)], 0.0)
        top = self.cum[b - 1]
        target = base + rng.random(len(idx)) * (top - base)
        j = np.clip(np.searchsorted(self.cum, target, side="right"), a, b - 1)
        return self.values[j]


@dataclass(frozen=True)
class NameTable:
    """One name list: keys (lowercase ASCII), display forms and sampling weights."""

    key: ObjArray
    display: ObjArray  # "Mcdonald" -> "McDonald"; ASCII
    decorated: ObjArray  # "José", "O'Brien"; equal to display when there is none
    has_decoration: BoolArray
    count: npt.NDArray[np.float64]
    initial: ObjArray  # first letter of the key
    decoration_p: npt.NDArray[np.float64]  # chance a bearer writes it decorated

    def decorate(self, rng: np.random.Generator, idx: IntArray) -> BoolArray:
        """Which people write their name decorated: always O'Brien, often José."""
        return np.asarray(rng.random(len(idx)) < self.decoration_p[idx], dtype=bool)


@dataclass(frozen=True)
class Names:
    """Everything the generator needs about names."""

    first: NameTable
    last: NameTable
    cum_female: npt.NDArray[np.float64]
    cum_male: npt.NDArray[np.float64]
    cum_last: npt.NDArray[np.float64]
    nicknames: Variants
    spellings: Variants

    def sample_first(self, rng: np.random.Generator, female: BoolArray) -> IntArray:
        """A first name for each person, drawn by frequency within their gender."""
        out = np.empty(len(female), dtype=np.int64)
        out[female] = pick_weighted(rng, self.cum_female, int(female.sum()))
        out[~female] = pick_weighted(rng, self.cum_male, int((~female).sum()))
        return out

    def sample_last(self, rng: np.random.Generator, n: int) -> IntArray:
        """``n`` surnames drawn by frequency."""
        return pick_weighted(rng, self.cum_last, n)


def display_name(key: str) -> str:
    """Title-case a lowercase name: "smith" -> "Smith", "mcdonald" -> "McDonald"."""
    if key.startswith("mc") and len(key) > 3:
        return "Mc" + key[2].upper() + key[3:]
    return key.capitalize()


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(
            f"reference name list {path} not found; the generator needs first_names.csv, "
            "last_names.csv and name_variants.csv (see reference_names/README.md)"
        )
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{path} lacks columns {missing}; columns are {list(frame.columns)}")
    return frame


def _table(keys: pd.Series, counts: pd.Series, decorations: dict[str, str]) -> NameTable:
    key = keys.to_numpy(dtype=object)
    display = np.array([display_name(k) for k in key], dtype=object)
    decorated = np.array([decorations.get(k, d) for k, d in zip(key, display, strict=True)])
    return NameTable(
        key=key,
        display=display,
        decorated=decorated.astype(object),
        has_decoration=np.asarray(decorated != display, dtype=bool),
        count=counts.astype(float).to_numpy(),
        initial=np.array([k[:1] for k in key], dtype=object),
        decoration_p=np.array(
            [_decoration_p(d, p) for d, p in zip(decorated, display, strict=True)]
        ),
    )


def _decoration_p(decorated: str, plain: str) -> float:
    """O'Brien always writes the apostrophe; only some people called Jose write José."""
    if decorated == plain:
        return 0.0
    return 1.0 if "'" in decorated else 0.65


def _variant_weight(name: str, variant: str, count_of: dict[str, float]) -> float:
    """How often a variant is used: common names more ("Bob", not "Dobbin"), damped by a
    square root so a frequent given name does not swamp the list, and four times more
    when it starts like the formal name (John: "Jack", "Johnny" before "Ian")."""
    base = max(count_of.get(variant, 0.0), _VARIANT_WEIGHT_FLOOR) ** 0.5
    return float(base) * (4.0 if variant[:1] == name[:1] else 1.0)


def _variants(
    table: NameTable, pairs: pd.DataFrame, weight_of: dict[str, float], symmetric: bool
) -> Variants:
    """CSR variants for each name of ``table`` from (name, variant) ``pairs``."""
    frame = pairs[["name", "variant"]]
    if symmetric:
        flipped = frame.rename(columns={"name": "variant", "variant": "name"})
        frame = pd.concat([frame, flipped], ignore_index=True)
    row_of = {k: i for i, k in enumerate(table.key)}
    rows = frame["name"].map(row_of)
    frame = frame[rows.notna()].assign(row=rows[rows.notna()].astype(np.int64))
    frame = frame.drop_duplicates(["row", "variant"]).sort_values(["row", "variant"])
    row = frame["row"].to_numpy(dtype=np.int64)
    values = np.array([display_name(v) for v in frame["variant"]], dtype=object)
    weights = np.array(
        [
            _variant_weight(name, variant, weight_of)
            for name, variant in zip(frame["name"], frame["variant"], strict=True)
        ]
    )
    n = len(table.key)
    start = np.searchsorted(row, np.arange(n), side="left").astype(np.int64)
    stop = np.searchsorted(row, np.arange(n), side="right").astype(np.int64)
    return Variants(start, stop, values, cumulative(weights) if len(weights) else np.zeros(1))


def load_names(directory: Path | None = None) -> Names:
    """Read the reference name lists (default: the repository's ``reference_names/``)."""
    directory = directory or REFERENCE_NAMES_DIR
    first = _read(directory / "first_names.csv", ("name", "count", "gender_share_f"))
    last = _read(directory / "last_names.csv", ("name", "count"))
    variants = _read(directory / "name_variants.csv", ("name", "variant", "kind"))
    first_table = _table(first["name"], first["count"], _DECORATED_FIRST)
    last_table = _table(last["name"], last["count"], _DECORATED_LAST)
    share_f = first["gender_share_f"].astype(float).to_numpy()
    weight_of = dict(zip(first_table.key, first_table.count, strict=True))
    spelling = variants[variants["kind"].isin(["spelling", "transliteration"])]
    return Names(
        first=first_table,
        last=last_table,
        cum_female=cumulative(first_table.count * share_f),
        cum_male=cumulative(first_table.count * (1.0 - share_f)),
        cum_last=cumulative(last_table.count),
        nicknames=_variants(
            first_table, variants[variants["kind"] == "nickname"], weight_of, False
        ),
        spellings=_variants(first_table, spelling, weight_of, True),
    )
