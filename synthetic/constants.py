"""Fixed facts of the synthetic world: its calendar, places, rates and sizes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from features.contract import TYPOLOGIES

LAST_TAX_MONTH = "2026-09"
"""The last month the tax records cover; live claims are live at its end."""

TAX_MONTHS = 24
"""How many months of tax records the world holds, ending at ``LAST_TAX_MONTH``."""

AS_OF = dt.date(2026, 9, 30)
"""Last day of ``LAST_TAX_MONTH``: a claim is live if it has not ended by then."""

EARLIEST_CLAIM = dt.date(2012, 4, 1)
"""No claim in the world starts before this date."""

FRAUD_RATE = 0.015
"""Share of live subjects (live benefit and housing claims) that are fraudulent."""

SELF_EMPLOYMENT_VOLATILITY = 0.35
"""Log-normal spread of a month's self-employment profit around its usual level."""

CHUNK_PEOPLE = 50_000
"""People generated together; every household, ring and pair lives inside one chunk."""

BENEFIT_TYPOLOGY_SHARES = dict(zip(TYPOLOGIES["benefit_claim"], (0.20, 0.15, 0.12, 0.08, 0.12), strict=True))
"""Share of all frauds falling to each benefit-claim typology (:data:`features.contract.TYPOLOGIES`)."""

HOUSING_TYPOLOGY_SHARES = dict(zip(TYPOLOGIES["housing_claim"], (0.12, 0.08, 0.07, 0.06), strict=True))
"""Share of all frauds falling to each housing-claim typology."""

UC, PC, ESA, JSA, CA = range(5)  # positions in features.contract.BENEFIT_TYPES

HB, CTR, SPD, SOCIAL = range(4)  # positions in features.contract.SCHEMES

FLAT, TERRACED, SEMI, DETACHED, HMO = range(5)  # positions in features.contract.PROPERTY_TYPES

OWNER, PRIVATE, SOCIAL_RENT = range(3)
"""Tenure codes of a household (owner-occupier, private renter, social renter)."""

FEMALE, MALE, OTHER_SEX, UNKNOWN_SEX = range(4)  # positions in features.contract.SEXES

BEDROOM_RENT_FACTOR = np.array([0.62, 0.78, 1.0, 1.22, 1.5, 1.8])
"""Monthly rent of a home with 0..5 bedrooms relative to a two-bedroom home."""

HMO_ROOM_FACTOR = 0.5
"""A room in a shared house costs this share of a one-bedroom home's rent."""

SOCIAL_RENT_FACTOR = 0.55
"""Social rent as a share of the market rent of the same home."""


@dataclass(frozen=True)
class LocalAuthority:
    """One local authority of the world.

    Attributes
    ----------
    code : str
        ONS code (E06/E07/E08 outside London, E09 for London boroughs).
    area : str
        Postcode area its postcodes start with.
    districts : tuple of int
        Postcode district numbers it owns within ``area``.
    weight : float
        Relative population.
    rent_2bed : float
        Typical monthly market rent of a two-bedroom home (GBP).
    council_tax : float
        Typical monthly council tax of a two-bedroom home (GBP).
    """

    code: str
    area: str
    districts: tuple[int, ...]
    weight: float
    rent_2bed: float
    council_tax: float

    @property
    def london(self) -> bool:
        """True for a London borough."""
        return self.code.startswith("E09")


LOCAL_AUTHORITIES = (
    LocalAuthority("E06000001", "TS", (24, 25, 26, 27), 3, 600, 165),
    LocalAuthority("E06000002", "TS", (1, 2, 3, 4, 5, 6, 7, 8), 4, 620, 160),
    LocalAuthority("E06000010", "HU", (1, 2, 3, 4, 5, 6, 7, 8, 9), 5, 610, 150),
    LocalAuthority("E06000018", "NG", (1, 2, 3, 5, 6, 7, 8, 11), 6, 820, 175),
    LocalAuthority("E06000023", "BS", (1, 2, 3, 4, 5, 6, 7, 13, 14, 16), 7, 1250, 185),
    LocalAuthority("E06000043", "BN", (1, 2, 3, 41), 5, 1450, 180),
    LocalAuthority("E07000178", "OX", (1, 2, 3, 4), 3, 1500, 190),
    LocalAuthority("E08000003", "M", (1, 4, 8, 9, 11, 12, 13, 14, 15, 16, 19, 20, 40), 8, 1050, 160),
    LocalAuthority("E08000012", "L", (1, 3, 4, 5, 6, 7, 8, 11, 13, 15, 17, 18, 24), 7, 800, 170),
    LocalAuthority("E08000025", "B", (5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 20, 21, 23, 29), 9, 900, 155),
    LocalAuthority("E08000035", "LS", (1, 2, 4, 6, 7, 8, 9, 11, 12, 15, 17), 7, 950, 150),
    LocalAuthority("E08000021", "NE", (1, 2, 3, 4, 5, 6, 7, 15), 5, 800, 175),
    LocalAuthority("E09000007", "NW", (1, 3, 5, 6), 3, 2500, 150),
    LocalAuthority("E09000012", "E", (5, 8, 9), 4, 2100, 145),
    LocalAuthority("E09000025", "E", (6, 7, 12, 13, 15, 16), 4, 1700, 140),
    LocalAuthority("E09000030", "E", (1, 2, 3, 14), 4, 2100, 125),
    LocalAuthority("E09000033", "W", (1, 2, 9, 10, 11), 3, 2800, 75),
    LocalAuthority("E09000022", "SW", (2, 4, 8, 9), 4, 2000, 135),
    LocalAuthority("E09000028", "SE", (1, 5, 15, 16, 17, 22), 4, 1900, 130),
    LocalAuthority("E09000008", "CR", (0, 2, 4, 5, 7, 8), 4, 1500, 170),
)
"""The twenty local authorities; postcode districts never overlap between them."""

LA_CODES = np.array([la.code for la in LOCAL_AUTHORITIES], dtype=object)
LA_WEIGHTS = np.array([la.weight for la in LOCAL_AUTHORITIES], dtype=float) / sum(
    la.weight for la in LOCAL_AUTHORITIES
)
LA_RENT_2BED = np.array([la.rent_2bed for la in LOCAL_AUTHORITIES], dtype=float)
LA_COUNCIL_TAX = np.array([la.council_tax for la in LOCAL_AUTHORITIES], dtype=float)
LA_LONDON = np.array([la.london for la in LOCAL_AUTHORITIES])
