"""What phonenumbers' metadata says about reading a plain number of one region.

Shared by the scalar fast path in :mod:`mdm.standardise.phones` and its Arrow twin.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneMetadata


@dataclass(frozen=True)
class Rules:
    """How phonenumbers reads a plain digit string of one region.

    Attributes:
        country_code: The calling code, as text ("44").
        idd: The international dialling prefix ("00"), if any.
        national_prefix: What phonenumbers strips as a trunk prefix ("0"), if anything.
        prefix_is_simple: The prefix is stripped as is (no carrier code, no rewriting).
        general: The pattern every national number of the region fits.
        possible_lengths: Lengths of a possible national number.
        local_lengths: Lengths possible only when dialled locally.
        main_lengths: Lengths ``is_possible_number`` accepts for this calling code.
        main_local_lengths: Those of ``main_lengths`` possible only when dialled locally
            (a US number without its area code): phonenumbers says IS_POSSIBLE_LOCAL_ONLY.
        dialled_local_lengths: Lengths of a landline dialled without its area code that
            no full landline or mobile number has ("9876 5432" in AU, "946 0123" in GB).
            Written with neither country code nor trunk prefix, such a number is local
            even where phonenumbers finds it possible (AU allows 8-digit numbers).
    """

    country_code: str
    idd: re.Pattern[str] | None
    national_prefix: re.Pattern[str] | None
    prefix_is_simple: bool
    general: re.Pattern[str]
    possible_lengths: frozenset[int]
    local_lengths: frozenset[int]
    main_lengths: frozenset[int]
    main_local_lengths: frozenset[int]
    dialled_local_lengths: frozenset[int]


@functools.lru_cache(maxsize=512)
def rules_for_region(region: str) -> Rules | None:
    """The :class:`Rules` of ``region`` (ISO 3166 alpha-2), None when it has no metadata."""
    metadata = PhoneMetadata.metadata_for_region(region, None)
    if metadata is None or metadata.country_code is None or metadata.general_desc is None:
        return None
    main_region = phonenumbers.region_code_for_country_code(metadata.country_code)
    main = PhoneMetadata.metadata_for_region(main_region, None)
    general = metadata.general_desc
    if main is None or main.general_desc is None or general.national_number_pattern is None:
        return None
    prefix = metadata.national_prefix_for_parsing
    prefix_pattern = re.compile(prefix) if prefix else None
    idd = metadata.international_prefix
    return Rules(
        country_code=str(metadata.country_code),
        idd=re.compile(idd) if idd else None,
        national_prefix=prefix_pattern,
        prefix_is_simple=prefix_pattern is None
        or (prefix_pattern.groups == 0 and not metadata.national_prefix_transform_rule),
        general=re.compile(general.national_number_pattern),
        possible_lengths=frozenset(general.possible_length),
        local_lengths=frozenset(general.possible_length_local_only),
        main_lengths=frozenset(main.general_desc.possible_length)
        | frozenset(main.general_desc.possible_length_local_only),
        main_local_lengths=frozenset(main.general_desc.possible_length_local_only),
        dialled_local_lengths=_dialled_local_lengths(metadata),
    )


def _dialled_local_lengths(metadata: PhoneMetadata) -> frozenset[int]:
    fixed = metadata.fixed_line
    if fixed is None:
        return frozenset()
    full = {
        length
        for desc in (fixed, metadata.mobile)
        if desc is not None
        for length in desc.possible_length
        if length > 0
    }
    return frozenset(fixed.possible_length_local_only or ()) - full
