"""Errors people and systems make when they type or store a value.

Each function changes an object array in place where a mask says so. Random
numbers are drawn in bulk from the generator's ``rng``; only the selected
values (a few percent) are touched one by one.
"""

from __future__ import annotations

import numpy as np

from mdm.generate.arrays import BoolArray, ObjArray, present
from mdm.generate.places import STREET_ABBREVIATIONS

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _c, _ch in enumerate(_row):
        near = [_row[j] for j in (_c - 1, _c + 1) if 0 <= j < len(_row)]
        for _dr in (-1, 1):
            if 0 <= _r + _dr < len(_ROWS):
                other = _ROWS[_r + _dr]
                near += [other[j] for j in (_c - 1, _c, _c + 1) if 0 <= j < len(other)]
        _NEIGHBOURS[_ch] = "".join(near)

INSERT, DELETE, SUBSTITUTE, TRANSPOSE = range(4)


def typo(value: str, op: int, u: float, v: float) -> str:
    """One keyboard slip in ``value``: insert, delete, substitute or transpose.

    ``u`` picks the position and ``v`` the letter, both in [0, 1).
    """
    letters = [i for i, ch in enumerate(value) if ch.isalpha()]
    if len(letters) < 3:
        return value
    i = letters[min(int(u * len(letters)), len(letters) - 1)]
    ch = value[i]
    near = _NEIGHBOURS.get(ch.lower(), "e")
    new = near[min(int(v * len(near)), len(near) - 1)]
    new = new.upper() if ch.isupper() else new
    if op == INSERT:
        extra = ch if v < 0.5 else new  # doubled letter or a neighbour
        return value[: i + 1] + extra + value[i + 1 :]
    if op == DELETE:
        return value[:i] + value[i + 1 :]
    if op == SUBSTITUTE:
        return value[:i] + new + value[i + 1 :]
    j = i + 1 if i + 1 < len(value) and value[i + 1].isalpha() else i - 1
    a, b = min(i, j), max(i, j)
    if value[a].lower() == value[b].lower():
        return value[:i] + new + value[i + 1 :]
    return value[:a] + value[b] + value[a] + value[b + 1 :]


def add_typos(rng: np.random.Generator, values: ObjArray, rate: np.ndarray | float) -> None:
    """Put one typo into about ``rate`` of the values."""
    n = len(values)
    idx = np.flatnonzero((rng.random(n) < rate) & present(values))
    ops = rng.integers(0, 4, len(idx))
    u, v = rng.random(len(idx)), rng.random(len(idx))
    for k, i in enumerate(idx):
        values[i] = typo(str(values[i]), int(ops[k]), float(u[k]), float(v[k]))


def add_email_typos(rng: np.random.Generator, values: ObjArray, rate: np.ndarray | float) -> None:
    """A slip in the part before the @ (or, now and then, in the domain)."""
    n = len(values)
    idx = np.flatnonzero((rng.random(n) < rate) & present(values))
    ops = rng.integers(0, 4, len(idx))
    u, v, w = rng.random(len(idx)), rng.random(len(idx)), rng.random(len(idx))
    for k, i in enumerate(idx):
        local, at, domain = str(values[i]).partition("@")
        if w[k] < 0.8 or not at:
            local = typo(local, int(ops[k]), float(u[k]), float(v[k]))
        else:
            domain = typo(domain, int(ops[k]), float(u[k]), float(v[k]))
        values[i] = local + at + domain


def add_digit_typos(rng: np.random.Generator, values: ObjArray, rate: np.ndarray | float) -> None:
    """A wrong or swapped digit, after the first three (the prefix is rarely wrong)."""
    n = len(values)
    idx = np.flatnonzero((rng.random(n) < rate) & present(values))
    pos = rng.random(len(idx))
    digit = rng.integers(0, 10, len(idx))
    swap = rng.random(len(idx)) < 0.4
    for k, i in enumerate(idx):
        s = str(values[i])
        if len(s) < 6:
            continue
        p = 3 + min(int(pos[k] * (len(s) - 4)), len(s) - 5)
        if swap[k] and s[p] != s[p + 1]:
            values[i] = s[:p] + s[p + 1] + s[p] + s[p + 2 :]
        else:
            values[i] = s[:p] + str(digit[k]) + s[p + 1 :]


def change_case(rng: np.random.Generator, values: ObjArray, upper: np.ndarray | float,
                lower: np.ndarray | float) -> None:  # fmt: skip
    """Shout some values (UPPER CASE) and whisper others (lower case)."""
    n = len(values)
    u = rng.random(n)
    has = present(values)
    up = np.flatnonzero(has & (u < upper))
    values[up] = np.array([str(s).upper() for s in values[up]], dtype=object)
    down = np.flatnonzero(has & (u >= upper) & (u < upper + lower))
    values[down] = np.array([str(s).lower() for s in values[down]], dtype=object)


def add_whitespace(rng: np.random.Generator, values: ObjArray, rate: np.ndarray | float) -> None:
    """Trailing, leading or doubled spaces."""
    n = len(values)
    idx = np.flatnonzero((rng.random(n) < rate) & present(values))
    kind = rng.integers(0, 3, len(idx))
    for k, i in enumerate(idx):
        s = str(values[i])
        if kind[k] == 0:
            values[i] = s + " "
        elif kind[k] == 1:
            values[i] = " " + s
        else:
            values[i] = s.replace(" ", "  ", 1) if " " in s else s + "  "


def abbreviate_street(line: str) -> str:
    """ "12 Oak Road" -> "12 Oak Rd"."""
    head, _, last = line.rpartition(" ")
    short = STREET_ABBREVIATIONS.get(last)
    return f"{head} {short}" if short and head else line


def drop_flat(line: str) -> str:
    """ "Flat 3, 12 Oak Road" -> "12 Oak Road" (the flat number forgotten)."""
    if line.startswith("Flat "):
        return line.partition(", ")[2] or line
    return line


def squash_commas(line: str) -> str:
    """ "Flat 3, 12 Oak Road" -> "Flat 3 12 Oak Road"."""
    return line.replace(", ", " ")


def set_where(rng: np.random.Generator, values: ObjArray, rate: np.ndarray | float,
              choices: tuple[str | None, ...]) -> BoolArray:  # fmt: skip
    """Replace about ``rate`` of the values with one of ``choices``; returns the mask."""
    n = len(values)
    mask = rng.random(n) < rate
    pick = np.array(choices, dtype=object)[rng.integers(0, len(choices), int(mask.sum()))]
    values[mask] = pick
    return mask
