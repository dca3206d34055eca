"""Small numpy helpers shared by the generator modules (object arrays of str | None)."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

#: An object array of ``str`` or ``None``: how the generator carries text columns.
ObjArray: TypeAlias = npt.NDArray[np.object_]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

_NONE = np.array(None, dtype=object)


def cumulative(weights: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Cumulative weights, ready for :func:`pick_weighted`."""
    return np.cumsum(np.asarray(weights, dtype=np.float64))


def pick_weighted(rng: np.random.Generator, cum: npt.NDArray[np.float64], n: int) -> IntArray:
    """``n`` indices drawn with probability proportional to the weights behind ``cum``."""
    u = rng.random(n) * cum[-1]
    idx = np.searchsorted(cum, u, side="right")
    return np.asarray(np.minimum(idx, len(cum) - 1), dtype=np.int64)


def chance(rng: np.random.Generator, n: int, p: float | npt.NDArray[np.float64]) -> BoolArray:
    """A boolean mask, each entry true with probability ``p``."""
    return rng.random(n) < p


def present(values: ObjArray) -> BoolArray:
    """Where an object array holds a value (not ``None``)."""
    return np.asarray(np.not_equal(values, _NONE), dtype=np.bool_)


def obj(values: npt.ArrayLike) -> ObjArray:
    """``values`` as an object array."""
    return np.asarray(values, dtype=object)


def keep_where(mask: BoolArray, values: ObjArray) -> ObjArray:
    """A copy of ``values`` with ``None`` where ``mask`` is false."""
    out = np.asarray(values, dtype=object).copy()
    out[~mask] = None
    return out


def padded(width: int, upto: int) -> ObjArray:
    """Lookup table of zero-padded numbers: ``padded(2, 32)[7] == "07"``."""
    return np.array([str(i).zfill(width) for i in range(upto)], dtype=object)


def text(values: npt.NDArray[Any]) -> ObjArray:
    """Integers (or anything numpy can print) as an object array of ``str``."""
    return np.asarray(values).astype(str).astype(object)


def map_strings(values: ObjArray, mask: BoolArray, fn: Any) -> None:
    """Apply ``fn`` in place to the entries selected by ``mask`` that hold a value."""
    idx = np.flatnonzero(mask & present(values))
    if len(idx):
        values[idx] = np.array([fn(v) for v in values[idx]], dtype=object)


def words(listing: str) -> tuple[str, ...]:
    """Split a whitespace-separated listing; "_" stands for a space inside an item."""
    return tuple(w.replace("_", " ") for w in listing.split())


def weighted_words(listing: str) -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
    """Split a listing of "item:weight" pairs into items and weights."""
    pairs = [w.rpartition(":") for w in words(listing)]
    return tuple(p[0] for p in pairs), np.array([float(p[2]) for p in pairs])


def zfill(values: npt.NDArray[np.int64], width: int) -> ObjArray:
    """Non-negative integers as zero-padded text: ``zfill([7], 3) == ["007"]``."""
    if not len(values):
        return np.empty(0, dtype=object)
    return np.char.zfill(np.asarray(values).astype(str), width).astype(object)


def replaced(values: ObjArray, table: dict[Any, Any]) -> ObjArray:
    """A copy of ``values`` with each value that is a key of ``table`` replaced by its
    value (e.g. the UK placeholder phone numbers by another country's)."""
    out = values.copy()
    for old, new in table.items():
        out[out == old] = new
    return out


def with_domains(emails: ObjArray, table: dict[str, str]) -> ObjArray:
    """A copy of ``emails`` with each domain suffix that is a key of ``table`` replaced
    by its value (the UK ``.co.uk`` by another country's), in the table's order."""
    out = emails.copy()
    has = present(out)
    texts = [str(e) for e in out[has]]
    for old, new in table.items():
        texts = [t.replace(old, new) for t in texts]
    out[has] = texts
    return out
