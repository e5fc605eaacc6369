"""The first way of drawing each typology: the world every variant starts from."""


from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic.claims import (
    EARLIEST_DAY,
    RING_TOKENS,
    council_tax,
    current_earnings,
    first_claim_day,
    housing_benefit_award,
    landlord_refs,
    local_norm_rent,
    submitted_at,
)
from synthetic.constants import (
    HB,
    HMO,
    SOCIAL,
    SPD,
    TAX_MONTHS,
)
from synthetic.fraud.drawing import _empty_registrations, _pick, _set, _strength, is_live
from synthetic.population import (
    AS_OF_DAY,
    CHILD,
    DAYS_PER_YEAR,
    HEAD,
    SECOND_ADULT,
    Population,
    day_array,
)
from synthetic.variants import Variant


def _undeclared_earnings(people: pd.DataFrame, claims: pd.DataFrame, rows: np.ndarray,
                         rng: np.random.Generator, subtle_share: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Claimants who work (PAYE or self-employed) but declare nothing or far too little."""
    person = claims["person"].to_numpy()[rows]
    k = len(rows)
    needs_job = current_earnings(people)[person] < 400
    as_self = needs_job & (rng.random(k) < 0.25)
    as_paye = needs_job & ~as_self
    pay = rng.lognormal(np.log(1300), 0.4, k)
    started = np.where(rng.random(k) < 0.3, rng.integers(14, TAX_MONTHS - 2, k), rng.integers(0, 12, k))
    people = _set(people, person[as_paye], employed=True, paye_monthly=pay[as_paye],
                  job_start_month=started[as_paye], job_end_month=TAX_MONTHS - 1,
                  second_employer=-1)
    people = _set(people, person[as_self], self_employed=True,
                  se_monthly=rng.lognormal(np.log(1000), 0.5, k)[as_self])
    actual = current_earnings(people)[person]
    declared = np.where(rng.random(k) < 0.55, 0.0, actual * _strength(k, (0.05, 0.35), (0.4, 0.6), rng, subtle_share))
    return people, _set(claims, rows, declared_monthly_earnings=np.round(declared, 2))

def _living_together(people: pd.DataFrame, claims: pd.DataFrame, rows: np.ndarray,
                     claimant: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A couple's claimant declares living alone; the partner lives, earns and registers there.

    A partner with a live claim of their own (``claimant``) keeps their means, so that
    claim stays honest.
    """
    person = claims["person"].to_numpy()[rows]
    k = len(rows)
    partner = person + 1  # the second adult follows the head in household order
    idle = ((people["paye_monthly"].to_numpy()[partner] == 0) & (people["age"].to_numpy()[partner] < 66)
            & ~claimant[partner])
    works = idle & (rng.random(k) < 0.6)
    people = _set(people, partner[works], employed=True,
                  paye_monthly=rng.lognormal(np.log(1700), 0.4, k)[works],
                  job_start_month=0, job_end_month=TAX_MONTHS - 1)
    people = _set(people, partner, must_register=rng.random(k) < 0.85)
    adults = claims["adults_in_household"].to_numpy()[rows]
    return people, _set(claims, rows, declared_partner=False, adults_in_household=np.maximum(1, adults - 1))

def _undeclared_capital(people: pd.DataFrame, claims: pd.DataFrame, rows: np.ndarray,
                        rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Declared savings are small while interest in the tax records implies a large capital."""
    person = claims["person"].to_numpy()[rows]
    k = len(rows)
    capital = np.where(rng.random(k) < 0.3, rng.uniform(17_000, 26_000, k),
                       np.maximum(17_000, rng.lognormal(np.log(45_000), 0.6, k)))
    inherited = rng.random(k) < 0.3
    people = _set(people, person, capital=capital, capital_until_month=TAX_MONTHS - 1,
                  capital_from_month=np.where(inherited, rng.integers(0, 18, k), 0))
    declared = np.where(rng.random(k) < 0.5, 0.0, rng.uniform(100, 3000, k))
    return people, _set(claims, rows, declared_savings=np.round(declared, 2))

def _inflated_benefit_housing(claims: pd.DataFrame, addresses: pd.DataFrame, rows: np.ndarray,
                              rng: np.random.Generator, subtle_share: float) -> pd.DataFrame:
    """Housing costs far above the local norm for the home's LA and size."""
    address = claims["address"].to_numpy()[rows]
    norm = local_norm_rent(addresses["la"].to_numpy()[address], addresses["bedrooms"].to_numpy()[address])
    cost = norm * _strength(len(rows), (1.6, 3.0), (1.3, 1.6), rng, subtle_share)
    return _set(claims, rows, monthly_housing_costs=np.round(cost))

def _rings(claims: pd.DataFrame, rows: np.ndarray, person_offset: int,
           rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Groups of 3-10 claims by different people at different addresses sharing contact details.

    Returns the claims and the rows that joined a ring (a remainder under three is left out).
    """
    k = len(rows)
    sizes = []
    while sum(sizes) < k - 2:
        sizes.append(int(min(rng.integers(3, 11), k - sum(sizes))))
    rows = rows[: sum(sizes)]
    k = len(rows)
    ring = np.repeat(np.arange(len(sizes)), sizes)
    n_rings = len(sizes)
    shares = rng.random((n_rings, 3)) < np.array([0.75, 0.55, 0.45])
    shares[~shares.any(axis=1), 0] = True
    token = RING_TOKENS + person_offset + np.arange(n_rings)
    out = {}
    for column, shared in zip(("bank_token", "phone_token", "email_token"), shares.T, strict=True):
        adopt = shared[ring] & (rng.random(k) < 0.9)
        values = claims[column].to_numpy().copy()
        values[rows[adopt]] = token[ring[adopt]]
        out[column] = values
    claims = claims.assign(**out)

    clustered = (rng.random(n_rings) < 0.7)[ring]
    base = AS_OF_DAY - rng.integers(30, 700, n_rings).astype("timedelta64[D]")
    start = base[ring] + rng.integers(0, 12, k).astype("timedelta64[D]")
    start = np.where(clustered, start, day_array(claims["claim_start"])[rows])
    channel = np.where(clustered & (rng.random(k) < 0.85), 0, claims["channel"].to_numpy()[rows])
    claims = _set(claims, rows, claim_start=start, channel=channel,
                  submitted_at=submitted_at(start, channel, rng))
    return claims, rows

def _sublet(people: pd.DataFrame, housing: pd.DataFrame, tenancies: np.ndarray, holders: np.ndarray,
            used: np.ndarray, rng: np.random.Generator, still_registered_share: float = 0.25,
            subtenants_register_share: float = 0.9) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Hand each tenancy (housing rows) to a holder of another household (``holders``: candidate people).

    The household living there becomes the subtenants; the holder stays on the register at the
    tenancy from its start with ``still_registered_share``. Returns housing, people, registrations.
    """
    household = people["household"].to_numpy()
    role = people["role"].to_numpy()
    h_person = housing["person"].to_numpy()
    holders = rng.permutation(holders)[: len(tenancies)]
    tenancies = tenancies[: len(holders)]
    elsewhere = household[holders] != household[h_person[tenancies]]
    holders, tenancies = holders[elsewhere], tenancies[elsewhere]
    used[holders] = True
    k = len(tenancies)
    tenants_moved = day_array(people["moved_in"])[h_person[tenancies]]
    years = np.round(rng.uniform(0.5, 8, k) * DAYS_PER_YEAR).astype("timedelta64[D]")
    start = np.maximum(tenants_moved - years, first_claim_day(day_array(people["dob"])[holders]))
    housing = _set(housing, tenancies, person=holders, start_date=start,
                   occupants_declared=rng.integers(1, 3, k), typology="subletting")
    subtenants = np.flatnonzero(np.isin(household, household[h_person[tenancies]]) & (role != CHILD))
    people = _set(people, subtenants, must_register=rng.random(len(subtenants)) < subtenants_register_share)
    still_registered = rng.random(k) < still_registered_share
    registrations = pd.DataFrame({"person": holders[still_registered],
                                  "address": housing["address"].to_numpy()[tenancies][still_registered],
                                  "registered_from": start[still_registered]})
    return housing, people, registrations

def _plant_housing(population: Population, people: pd.DataFrame, housing: pd.DataFrame,
                   counts: dict[tuple[str, str], int], ways: dict[str, dict[str, int]], variant: Variant,
                   used: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Plant the housing-claim typologies; returns housing claims, people and extra registrations."""
    addresses, hh = population.addresses, population.households
    role = people["role"].to_numpy()
    household = people["household"].to_numpy()
    live_h = is_live(housing["end_date"])
    h_person = housing["person"].to_numpy()
    scheme = housing["scheme"].to_numpy()
    address_la = addresses["la"].to_numpy()
    new_parts = []
    extra = [_empty_registrations()]

    # Single person discount claimed by the head of a household of several adults.
    has_spd = np.zeros(len(people), dtype=bool)
    has_spd[h_person[live_h & (scheme == SPD)]] = True
    head_address = people["address"].to_numpy()
    candidates = np.flatnonzero((role == HEAD) & (people["household_adults"].to_numpy() >= 2) & ~has_spd
                                & (addresses["property_type"].to_numpy()[head_address] != HMO))
    heads = _pick(candidates, np.arange(len(people)), used, ways["single_person_discount"]["household"], rng)
    k = len(heads)
    address = head_address[heads]
    moved = day_array(people["moved_in"])[heads]
    start = np.clip(moved + rng.integers(30, 1500, k).astype("timedelta64[D]"), EARLIEST_DAY, AS_OF_DAY - 30)
    others = np.flatnonzero(np.isin(household, household[heads]) & (role != HEAD) & (role != CHILD))
    people = _set(people, others, must_register=rng.random(len(others)) < 0.85)
    spd = pd.DataFrame({
        "person": heads, "scheme": SPD, "address": address, "start_date": start,
        "end_date": np.full(k, np.datetime64("NaT"), dtype="datetime64[D]"),
        "monthly_rent": np.nan, "occupants_declared": 1, "landlord_ref": None,
        "monthly_award": np.round(0.25 * council_tax(address_la[address],
                                                     addresses["bedrooms"].to_numpy()[address]), 2),
        "typology": "single_person_discount", "disguised": False,
    })
    new_parts.append(spd)

    # The same person claims housing benefit in a second authority under another spelling.
    pairs = counts[("housing", "duplicate_housing_claim")] // 2
    originals = _pick(np.flatnonzero(live_h & (scheme == HB)), h_person, used, pairs, rng)
    occupied = np.zeros(len(addresses), dtype=bool)
    occupied[hh["address"].to_numpy()] = True
    vacant = np.flatnonzero(~occupied)
    orig_address = housing["address"].to_numpy()[originals]
    first_try, second_try = rng.choice(vacant, len(originals)), rng.choice(vacant, len(originals))
    target = np.where(address_la[first_try] != address_la[orig_address], first_try, second_try)
    keep = address_la[target] != address_la[orig_address]
    originals, target = originals[keep], target[keep]
    used_back = h_person[originals]
    m = len(originals)
    orig_start = day_array(housing["start_date"])[originals]
    dup_start = orig_start + rng.integers(-365, 700, m).astype("timedelta64[D]")
    dup_start = np.maximum(np.minimum(dup_start, AS_OF_DAY - 30),
                           first_claim_day(day_array(people["dob"])[used_back]))
    rent = addresses["market_rent"].to_numpy()[target]
    bedrooms = addresses["bedrooms"].to_numpy()[target]
    duplicate = pd.DataFrame({
        "person": used_back, "scheme": HB, "address": target, "start_date": dup_start,
        "end_date": np.full(m, np.datetime64("NaT"), dtype="datetime64[D]"),
        "monthly_rent": np.round(rent, 2), "occupants_declared": rng.integers(1, 4, m),
        "landlord_ref": landlord_refs(address_la[target], np.zeros(m, bool), rng),
        "monthly_award": np.round(housing_benefit_award(rent, address_la[target], bedrooms,
                                                        np.ones(m, bool), rng), 2),
        "typology": "duplicate_housing_claim", "disguised": True,
    })
    housing = _set(housing, originals, typology="duplicate_housing_claim")
    new_parts.append(duplicate)

    # A social tenancy held by someone living elsewhere, sublet to unrelated adults.
    tenancies = _pick(np.flatnonzero(live_h & (scheme == SOCIAL)), h_person, used,
                      ways["subletting"]["moved_out"], rng)
    age = people["age"].to_numpy()
    holders = np.flatnonzero((role <= SECOND_ADULT) & (age > 27) & (age < 70) & ~used)
    housing, people, registrations = _sublet(people, housing, tenancies, holders, used, rng)
    extra.append(registrations)

    # Housing benefit on a rent far above the local norm.
    rows = _pick(np.flatnonzero(live_h & (scheme == HB) & (housing["typology"].to_numpy() == "")),
                 h_person, used, counts[("housing", "inflated_housing_costs")], rng)
    address = housing["address"].to_numpy()[rows]
    la, bedrooms = address_la[address], addresses["bedrooms"].to_numpy()[address]
    rent = local_norm_rent(la, bedrooms) * _strength(len(rows), (1.6, 3.0), (1.3, 1.6), rng, variant.subtle_share)
    housing = _set(housing, rows, monthly_rent=np.round(rent, 2),
                   monthly_award=np.round(housing_benefit_award(rent, la, bedrooms,
                                                                np.ones(len(rows), bool), rng), 2),
                   typology="inflated_housing_costs")
    housing = pd.concat([housing, *new_parts], ignore_index=True)
    return housing, people, pd.concat(extra, ignore_index=True)
