"""A source's locale: the region of its phone numbers and the country of its postcodes.

A record's own ``country`` (or the country its ``region`` names) comes first; for the
records without one the source decides: its configured region, else the region
detected from its own values, else GB. Each choice carries its reason for the report:

>>> detect_phone_region([f"(616) 949-42{i:02}" for i in range(20)])
LocaleChoice(value='US', reason='detected: 100% of 20 numbers valid in US')
>>> decide_source_locale(None, [], []).phone_region
LocaleChoice(value='GB', reason='default: no number settles the region')

Pure: detection reads a bounded sample of distinct values, so it costs the same for a
thousand records as for a million.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import phonenumbers
from phonenumbers import NumberParseException

from mdm.standardise._columns import to_text
from mdm.standardise.countries import country_of, country_of_region

#: Regions tried when detecting a source's phone region, in order of preference on a tie.
CANDIDATE_REGIONS = ("GB", "US", "CA", "AU", "IE", "DE", "FR", "NZ", "IN")
#: The region of numbers without a country code when nothing else says.
FALLBACK_REGION = "GB"
#: Distinct values a detection reads at most.
DETECTION_SAMPLE = 200
#: Distinct national numbers a detection needs at least: one record's number is no
#: evidence ("07700 900123" is valid in DE and IN, not in GB), so a record sent alone
#: to the service, or a tiny file, is read in GB unless its country says otherwise.
DETECTION_MIN = 10
#: The share of sampled values a region must explain to be chosen.
MIN_SHARE = 0.5
#: How much more a region later in :data:`CANDIDATE_REGIONS` must explain to be chosen
#: over an earlier one: phonenumbers finds most digit strings valid in IN or DE ("07700
#: 900123" is an Indian mobile), so the UK's own numbers must not lose to them.
MARGIN = 0.25

#: Postcode formats by country (compact, upper case), for detection only.
POSTCODE_FORMATS = {
    "GB": re.compile(r"(?:GIR|[A-Z]{1,2}[0-9][A-Z0-9]?)[0-9][A-Z]{2}"),
    "CA": re.compile(r"[A-Z][0-9][A-Z][0-9][A-Z][0-9]"),
    "US": re.compile(r"[0-9]{5}(?:[0-9]{4})?"),
    "AU": re.compile(r"[0-9]{4}"),
    "DE": re.compile(r"(?:D|DE)?[0-9]{5}"),
    "FR": re.compile(r"(?:F|FR)?[0-9]{5}"),
}
_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")


@dataclass(frozen=True)
class LocaleChoice:
    """One locale decision and why it was made.

    Attributes:
        value: An ISO 3166 alpha-2 code, or None for "no country: any format".
        reason: "configured", "detected: ...", "as its phone numbers" or "default: ...".
    """

    value: str | None
    reason: str


@dataclass(frozen=True)
class SourceLocale:
    """How a source's records without a country of their own are read.

    Attributes:
        phone_region: The region of phone numbers written without a country code.
        postcode_country: The country whose postcode forms are repaired ("2134" -> "02134").
    """

    phone_region: LocaleChoice
    postcode_country: LocaleChoice

    @property
    def country(self) -> str | None:
        """The source's country when configured or detected (not a mere default)."""
        return None if self.phone_region.reason.startswith("default") else self.phone_region.value


def locale_from_report(report: dict[str, dict[str, str | None]]) -> SourceLocale | None:
    """The :class:`SourceLocale` a bulk run recorded (``{"phone_region": {"value": ...,
    "reason": ...}, "postcode_country": {...}}``), None when it recorded none."""
    try:
        phone, postcode = report["phone_region"], report["postcode_country"]
        return SourceLocale(
            LocaleChoice(phone["value"], str(phone["reason"])),
            LocaleChoice(postcode["value"], str(postcode["reason"])),
        )
    except (KeyError, TypeError):
        return None


def decide_source_locale(
    configured: str | None,
    phones: Iterable[object],
    postcodes: Iterable[object],
    own_countries: Mapping[str, int] | None = None,
) -> SourceLocale:
    """The locale of a source from its configured region and its distinct values.

    Args:
        configured: The region its mapping sets, if any: it decides.
        phones: Its distinct phone numbers: the region most are valid in, else
        own_countries: the country most of its records name themselves, else GB.
        postcodes: Its distinct postcodes, for the postcode country.
    """
    if configured is not None:
        chosen = LocaleChoice(configured.upper(), "configured")
        return SourceLocale(chosen, chosen)
    phone = detect_phone_region(phones) or _most_common(own_countries or {})
    country = None if phone.reason.startswith("default") else phone.value
    return SourceLocale(phone, detect_postcode_country(postcodes, country))


def _most_common(own_countries: Mapping[str, int]) -> LocaleChoice:
    if not own_countries:
        return LocaleChoice(FALLBACK_REGION, "default: no number settles the region")
    best = max(sorted(own_countries), key=lambda country: own_countries[country])
    share = own_countries[best] / sum(own_countries.values())
    return LocaleChoice(best, f"detected: {share:.0%} of records with a country name {best}")


def detect_phone_region(values: Iterable[object]) -> LocaleChoice | None:
    """The candidate region in which most of the sampled national numbers are valid.

    Numbers with a country code ("+1 ...", "0044 ...") say nothing and are skipped.
    Regions are tried in the order of :data:`CANDIDATE_REGIONS`, a later one chosen
    only when it explains :data:`MARGIN` more. None when none explains half of them,
    or there are fewer than :data:`DETECTION_MIN` numbers.
    """
    numbers = [
        text
        for text in (to_text(value) for value in _sample(values))
        if text is not None and not text.startswith(("+", "00"))
    ]
    if len(numbers) < DETECTION_MIN:
        return None
    counts = dict.fromkeys(CANDIDATE_REGIONS, 0)
    for text in numbers:
        for region in CANDIDATE_REGIONS:
            counts[region] += _valid_in(text, region)
    best, share = None, 0.0
    for region in CANDIDATE_REGIONS:
        found = counts[region] / len(numbers)
        if found >= MIN_SHARE and (best is None or found > share + MARGIN):
            best, share = region, found
    if best is None:
        return None
    return LocaleChoice(best, f"detected: {share:.0%} of {len(numbers)} numbers valid in {best}")


def detect_postcode_country(values: Iterable[object], country: str | None) -> LocaleChoice:
    """The postcode country of a source whose numbers point to ``country`` (or none).

    ``country`` is kept when at least half of the sampled postcodes fit its format;
    otherwise a format only one country uses (GB, CA) when half fit it.
    """
    codes = [_NOT_ALNUM.sub("", text.upper()) for text in _texts(_sample(values))]
    codes = [code for code in codes if code]
    if not codes:
        return LocaleChoice(country, "as its phone numbers" if country else "default: any format")
    share = {name: _share(pattern, codes) for name, pattern in POSTCODE_FORMATS.items()}
    if country is not None and share.get(country, 0.0) >= MIN_SHARE:
        return LocaleChoice(
            country, f"detected: {share[country]:.0%} of postcodes fit {country}, as its numbers"
        )
    for name in ("GB", "CA"):
        if share[name] >= MIN_SHARE:
            return LocaleChoice(name, f"detected: {share[name]:.0%} of postcodes fit {name}")
    return LocaleChoice(None, "default: any format (no country settles it)")


def record_countries(country: pd.Series, region: pd.Series) -> np.ndarray:
    """Per row, the record's own country: its ``country`` value, else what its ``region``
    names; None when neither names one. Each distinct value is looked up once."""
    found = _lookup(country, country_of)
    missing = np.flatnonzero(pd.isna(found))
    if len(missing):
        found[missing] = _lookup(region.iloc[missing], country_of_region)
    return found


def _lookup(series: pd.Series, name_to_code: Callable[[Any], str | None]) -> np.ndarray:
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    table = np.array([name_to_code(value) for value in uniques.tolist()] + [None], dtype=object)
    found: np.ndarray = table[codes]
    return found


def _sample(values: Iterable[object]) -> Sequence[object]:
    """At most :data:`DETECTION_SAMPLE` distinct values, evenly spread over them."""
    distinct = list(dict.fromkeys(v for v in values if v is not None and v == v))
    step = max(1, -(-len(distinct) // DETECTION_SAMPLE))
    return distinct[::step]


def _texts(values: Iterable[object]) -> list[str]:
    return [text for text in (to_text(value) for value in values) if text is not None]


def _share(pattern: re.Pattern[str], codes: list[str]) -> float:
    return sum(1 for code in codes if pattern.fullmatch(code)) / len(codes)


def _valid_in(text: str, region: str) -> bool:
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        return False
    return phonenumbers.is_valid_number_for_region(number, region)
