"""How each source system treats the people it records.

A profile is a source's habits: how often its clerks or customers use a
nickname or an initial, mistype, shout in capitals, leave a field empty. The
numbers are guesses at typical systems (a CRM fed by call-centre staff, a billing
system that is ASCII-only, a web shop where customers type their own details
and the date of birth is optional, branch staff filling in paper forms), not
tuned to any matcher.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mdm.generate.arrays import IntArray

FIELDS = ("title", "middle", "dob", "email", "phone", "address", "city", "postcode", "gender")


@dataclass(frozen=True)
class SourceProfile:
    """Rates of one source's habits (probabilities per record)."""

    nickname: float
    spelling: float
    initial: float
    swap: float
    typo: float  # multiplies the base typo rates
    strip_decoration: float  # accents and apostrophes lost
    upper: float
    lower: float
    day_month_swap: float
    landline_first: float  # gives the landline, when there is one, rather than the mobile
    abbreviate_street: float
    postcode_no_space: float
    missing: dict[str, float] = field(default_factory=dict)


PROFILES: dict[str, SourceProfile] = {
    "crm": SourceProfile(
        nickname=0.05, spelling=0.02, initial=0.02, swap=0.008, typo=1.0,
        strip_decoration=0.2, upper=0.02, lower=0.01, day_month_swap=0.005,
        landline_first=0.0, abbreviate_street=0.1, postcode_no_space=0.03,
        missing={"title": 0.15, "middle": 0.35, "dob": 0.06, "email": 0.12, "phone": 0.08,
                 "address": 0.02, "city": 0.03, "postcode": 0.04, "gender": 0.05},
    ),
    "billing": SourceProfile(
        nickname=0.02, spelling=0.015, initial=0.04, swap=0.003, typo=0.7,
        strip_decoration=1.0, upper=0.0, lower=0.0, day_month_swap=0.002,
        landline_first=0.2, abbreviate_street=0.3, postcode_no_space=0.02,
        missing={"title": 0.3, "middle": 0.2, "dob": 0.1, "email": 0.15, "phone": 0.05,
                 "address": 0.01, "city": 0.01, "postcode": 0.02},
    ),
    "webshop": SourceProfile(
        nickname=0.14, spelling=0.03, initial=0.01, swap=0.015, typo=1.2,
        strip_decoration=0.35, upper=0.03, lower=0.08, day_month_swap=0.05,
        landline_first=0.05, abbreviate_street=0.15, postcode_no_space=0.15,
        missing={"dob": 0.35, "email": 0.005, "phone": 0.25, "address": 0.01, "city": 0.02,
                 "postcode": 0.02},
    ),
    "branch": SourceProfile(
        nickname=0.08, spelling=0.03, initial=0.10, swap=0.005, typo=1.5,
        strip_decoration=0.5, upper=0.12, lower=0.01, day_month_swap=0.01,
        landline_first=0.6, abbreviate_street=0.25, postcode_no_space=0.05,
        missing={"title": 0.4, "middle": 0.9, "dob": 0.15, "phone": 0.1, "address": 0.03,
                 "city": 0.05, "postcode": 0.06},
    ),
}  # fmt: skip


def rate(sources: tuple[str, ...], source: IntArray, name: str, scale: float = 1.0) -> np.ndarray:
    """Per-record rate of the habit ``name`` (a profile attribute), given each record's source."""
    per_source = np.array([getattr(PROFILES[s], name) for s in sources], dtype=float)
    return per_source[source] * scale


def missing_rate(
    sources: tuple[str, ...], source: IntArray, field_name: str, scale: float = 1.0
) -> np.ndarray:
    """Per-record chance that ``field_name`` is left empty."""
    per_source = np.array([PROFILES[s].missing.get(field_name, 0.0) for s in sources])
    return np.minimum(per_source[source] * scale, 1.0)
