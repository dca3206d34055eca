"""Settings of the synthetic data generator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The four bundled source systems, in the order files are written.
SOURCES: tuple[str, ...] = ("crm", "billing", "webshop", "branch")
#: Where the generated people live: "gb" (the default), "us" or "au".
LOCALES: tuple[str, ...] = ("gb", "us", "au")


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate.

    Rates are probabilities. Household and person rates shape the hidden truth;
    record rates are the errors each source record may carry, multiplied by
    ``error_scale`` (0 gives records that differ from the truth only by each
    source's format) and by each source's own quality (see ``sources.PROFILES``).

    Attributes:
        n_records: total source records to produce, over all sources (exact).
        seed: the same seed gives the same output.
        sources: which sources to produce; records are shared out among them.
        source_weights: relative share of records per source, aligned with
            ``sources``; ``None`` uses 35/25/25/15 for crm/billing/webshop/branch.
        records_per_person: probability that a person has 1, 2, ... records.
        household_mix: shares of single, couple, family and flat-share households.
        p_housemate_customer: chance that each member of a household other than its
            head is a customer too (has records); the others stay hidden.
        p_married_name: share of couples where one partner took the other's surname.
        p_maiden_records: of those partners, share whose older records carry the
            maiden name and the address from before the marriage.
        p_moved: share of households that moved; some records keep the old address.
        p_old_address: share of a mover's records that carry the old address.
        p_jr: share of families with a son named after his father.
        p_twins: share of families with two or more children that have twins.
        p_shared_email: share of couples who share one email address.
        p_goes_by_middle: share of people with a middle name who go by it.
        error_scale: multiplies every record-level error and missing-value rate.
        nickname_scale: multiplies each source's nickname rate (capped at 1), for sets
            where people go by nicknames more than usual.
        household_scale: multiplies the chance that a housemate is a customer too
            (``p_housemate_customer``), that a couple shares one email
            (``p_shared_email``) and a grown child uses it, and that a household has a
            landline, each capped at 1: denser households sharing more phones and emails.
        single_record_source: a source that holds exactly one record of every person
            (a clean master file, the first of the person's records); the person's other
            records go to the other sources by their weights. ``None`` (the default)
            spreads every record over all sources.
        names_dir: folder with the reference name lists (default: the repository's).
        locale: "gb" (UK towns, postcodes, phones, dd/mm dates) or "us" (US cities with
            their states, ZIP and ZIP+4, US phone styles with some local 7-digit numbers,
            mm/dd dates, a country column in billing and webshop) or "au" (Australian
            cities with their states, 4-digit postcodes, 04.. mobiles and (02) landlines,
            some 8-digit numbers without their area code, dd/mm dates).
        national_ids: give each person a national identifier in the locale's form (UK
            National Insurance, US Social Security or Australian Tax File number) and
            write it in the CRM and billing sources, with slips, fillers and another
            person's number now and then (see :mod:`mdm.generate.identifiers`).
    """

    n_records: int
    seed: int = 0
    sources: tuple[str, ...] = SOURCES
    source_weights: tuple[float, ...] | None = None
    records_per_person: tuple[float, ...] = (0.40, 0.30, 0.15, 0.08, 0.05, 0.02)
    household_mix: tuple[float, float, float, float] = (0.36, 0.26, 0.28, 0.10)
    p_housemate_customer: float = 0.35
    p_married_name: float = 0.75
    p_maiden_records: float = 0.4
    p_moved: float = 0.12
    p_old_address: float = 0.4
    p_jr: float = 0.12
    p_twins: float = 0.04
    p_shared_email: float = 0.15
    p_goes_by_middle: float = 0.05
    error_scale: float = 1.0
    nickname_scale: float = 1.0
    household_scale: float = 1.0
    single_record_source: str | None = None
    names_dir: Path | None = None
    locale: str = "gb"
    national_ids: bool = False

    def __post_init__(self) -> None:
        if self.locale not in LOCALES:
            raise ValueError(f"locale must be one of {LOCALES}, got {self.locale!r}")
        if self.n_records < 0:
            raise ValueError(f"n_records must be >= 0, got {self.n_records}")
        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown or not self.sources:
            raise ValueError(f"sources must be a non-empty subset of {SOURCES}, got {self.sources}")
        if self.source_weights is not None and len(self.source_weights) != len(self.sources):
            raise ValueError("source_weights must have one weight per source")
        if abs(sum(self.records_per_person) - 1.0) > 1e-6:
            raise ValueError("records_per_person must sum to 1")
        if abs(sum(self.household_mix) - 1.0) > 1e-6:
            raise ValueError("household_mix must sum to 1")
        if self.error_scale < 0:
            raise ValueError("error_scale must be >= 0")
        if self.nickname_scale < 0:
            raise ValueError("nickname_scale must be >= 0")
        if self.household_scale < 0:
            raise ValueError("household_scale must be >= 0")
        if self.single_record_source is not None and (
            self.single_record_source not in self.sources or len(self.sources) < 2
        ):
            raise ValueError(
                "single_record_source must be one of the sources, and there must be "
                f"another for the other records; got {self.single_record_source!r} "
                f"of {self.sources}"
            )

    def housemate_rate(self) -> float:
        """Chance that a household member other than its head is a customer too."""
        return min(self.p_housemate_customer * self.household_scale, 1.0)

    def household_rate(self, base: float) -> float:
        """A household-sharing rate scaled by ``household_scale``, capped at 1."""
        return min(base * self.household_scale, 1.0)

    def weights(self) -> tuple[float, ...]:
        """Share of records per source, aligned with ``sources``, summing to 1."""
        default = {"crm": 0.35, "billing": 0.25, "webshop": 0.25, "branch": 0.15}
        raw = self.source_weights or tuple(default[s] for s in self.sources)
        total = float(sum(raw))
        return tuple(w / total for w in raw)
