"""Fraud typologies planted into a chunk's honest claims.

Each typology picks its cases among suitable live claims (one fraud per
person), changes what the claim declares or what the other sources show, and
labels the claim. Strength varies: some cases are blatant, some subtle.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic.constants import ESA, JSA, PC, UC
from synthetic.fraud.drawing import Planted, _pick, _set, is_live, typology_counts
from synthetic.fraud.typologies import (
    _inflated_benefit_housing,
    _living_together,
    _plant_housing,
    _rings,
    _undeclared_capital,
    _undeclared_earnings,
)
from synthetic.fraud.ways import _plant_lookalikes, _plant_other_means, _plant_other_ways
from synthetic.population import HEAD, Population
from synthetic.variants import DEFAULT_VARIANT, VARIANTS, Variant, split_count


def plant_fraud(population: Population, people: pd.DataFrame, benefit: pd.DataFrame,
                housing: pd.DataFrame, person_offset: int, rng: np.random.Generator,
                variant: Variant = VARIANTS[DEFAULT_VARIANT]) -> Planted:
    """Plant every typology into a chunk, about ``variant.fraud_rate`` of its live subjects.

    Parameters
    ----------
    population : Population
        The chunk (households and addresses).
    people : pandas.DataFrame
        People of the chunk (with capital already adjusted by the claims step).
    benefit, housing : pandas.DataFrame
        Honest claims.
    person_offset : int
        Global index of the chunk's first person (keeps ring tokens unique).
    rng : numpy.random.Generator
        Random source.
    variant : Variant
        How the typologies are drawn. The ways and look-alikes beyond the standard
        variant's draw from a stream of their own, spawned from ``rng``, so the
        standard world stays as it was.

    Returns
    -------
    Planted
        The chunk with fraud.
    """
    addresses = population.addresses
    people = people.assign(must_register=np.zeros(len(people), dtype=bool))
    live_b = benefit["live"].to_numpy()
    live_h = is_live(housing["end_date"])
    counts = typology_counts(int(live_b.sum() + live_h.sum()), variant.fraud_rate)
    ways = {typology: split_count(counts[(table, typology)], getattr(variant, typology), first)
            for table, typology, first in (("benefit", "living_together", "household"),
                                           ("housing", "single_person_discount", "household"),
                                           ("housing", "subletting", "moved_out"),
                                           ("benefit", "undeclared_earnings", "hidden_job"),
                                           ("benefit", "undeclared_capital", "interest"),
                                           ("benefit", "inflated_housing_costs", "above_norm"))}
    variant_rng = rng.spawn(1)[0]
    used = np.zeros(len(people), dtype=bool)
    b_person = benefit["person"].to_numpy()
    btype = benefit["benefit_type"].to_numpy()
    role = people["role"].to_numpy()

    def label(frame: pd.DataFrame, rows: np.ndarray, name: str) -> pd.DataFrame:
        """Mark ``rows`` of ``frame`` with typology ``name``."""
        return _set(frame, rows, typology=name)

    # Hidden earnings and capital belong to the person, so they go to people with one live claim
    # (another live claim of theirs would show the same gap while staying honest).
    live_claims = np.bincount(b_person[live_b], minlength=len(people))
    single_claim = live_claims[b_person] == 1
    rows = _pick(np.flatnonzero(live_b & single_claim & np.isin(btype, (UC, JSA, ESA))), b_person, used,
                 ways["undeclared_earnings"]["hidden_job"], rng)
    people, benefit = _undeclared_earnings(people, benefit, rows, rng, variant.subtle_share)
    benefit = label(benefit, rows, "undeclared_earnings")

    # Living together, hidden capital and rings pay only where the award is means-tested
    # and the claimant earns little.
    low_earner = benefit["declared_monthly_earnings"].to_numpy() < 1000
    couple_head = (role[b_person] == HEAD) & people["couple"].to_numpy()[b_person]
    rows = _pick(np.flatnonzero(live_b & np.isin(btype, (UC, PC)) & couple_head & low_earner
                                & benefit["declared_partner"].to_numpy()),
                 b_person, used, ways["living_together"]["household"], rng)
    used[b_person[rows] + 1] = True
    people, benefit = _living_together(people, benefit, rows, live_claims > 0, rng)
    benefit = label(benefit, rows, "living_together")

    rows = _pick(np.flatnonzero(live_b & single_claim & np.isin(btype, (UC, PC)) & low_earner), b_person,
                 used, ways["undeclared_capital"]["interest"], rng)
    people, benefit = _undeclared_capital(people, benefit, rows, rng)
    benefit = label(benefit, rows, "undeclared_capital")

    rows = _pick(np.flatnonzero(live_b & (btype == UC) & (benefit["monthly_housing_costs"].to_numpy() > 0)),
                 b_person, used, ways["inflated_housing_costs"]["above_norm"], rng)
    benefit = label(_inflated_benefit_housing(benefit, addresses, rows, rng, variant.subtle_share), rows,
                    "inflated_housing_costs")

    # Ring members come from different households, so from different addresses.
    household = people["household"].to_numpy()
    ring_candidates = np.flatnonzero(live_b & (btype == UC) & low_earner
                                     & (people["age"].to_numpy()[b_person] >= 21))
    _, one_per_household = np.unique(household[b_person[ring_candidates]], return_index=True)
    rows = _pick(ring_candidates[one_per_household], b_person, used,
                 counts[("benefit", "shared_details_ring")], rng)
    rows = rng.permutation(rows)
    benefit, rows = _rings(benefit, rows, person_offset, rng)
    benefit = label(benefit, rows, "shared_details_ring")

    housing, people, extra = _plant_housing(population, people, housing, counts, ways, variant, used, rng)
    planted = Planted(people=people, benefit_claims=benefit, housing_claims=housing, extra_registrations=extra)
    # a stream of their own, so the worlds of variants drawn before these ways stay as they were
    means_rng = variant_rng.spawn(1)[0]
    planted = _plant_other_ways(population, planted, ways, used, variant_rng)
    planted = _plant_other_means(population, planted, ways, used, means_rng)
    return _plant_lookalikes(population, planted, counts, variant.lookalikes, used, variant_rng)
