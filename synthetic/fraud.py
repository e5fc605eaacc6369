"""Fraud typologies planted into a chunk's honest claims.

Each typology picks its cases among suitable live claims (one fraud per
person), changes what the claim declares or what the other sources show, and
labels the claim. Strength varies: some cases are blatant, some subtle.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    BENEFIT_TYPOLOGY_SHARES,
    ESA,
    FRAUD_RATE,
    HB,
    HMO,
    HOUSING_TYPOLOGY_SHARES,
    JSA,
    PC,
    SOCIAL,
    SPD,
    TAX_MONTHS,
    UC,
)
from synthetic.population import (
    AS_OF_DAY,
    CHILD,
    DAYS_PER_YEAR,
    HEAD,
    SECOND_ADULT,
    Population,
    day_array,
)


@dataclass(frozen=True)
class Planted:
    """A chunk after fraud was planted.

    Attributes
    ----------
    people : pandas.DataFrame
        People, with ``must_register`` (kept on the electoral register at home).
    benefit_claims, housing_claims : pandas.DataFrame
        Claims with their ``typology`` filled for fraud.
    extra_registrations : pandas.DataFrame
        Electoral registrations the fraud adds: person, address, registered_from.
    """

    people: pd.DataFrame
    benefit_claims: pd.DataFrame
    housing_claims: pd.DataFrame
    extra_registrations: pd.DataFrame


def is_live(end: np.ndarray) -> np.ndarray:
    """True where a claim has no end date or ends after the as-of date."""
    end = day_array(end)
    return np.isnat(end) | (end > AS_OF_DAY)


def typology_counts(live_subjects: int) -> dict[tuple[str, str], int]:
    """How many cases of each (table, typology) a chunk gets.

    Every typology gets at least a handful (a ring needs three members, a
    duplicate a pair), so even small worlds hold each one.
    """
    total = FRAUD_RATE * live_subjects
    counts = {("benefit", name): max(2, round(total * share))
              for name, share in BENEFIT_TYPOLOGY_SHARES.items()}
    counts |= {("housing", name): max(2, round(total * share))
               for name, share in HOUSING_TYPOLOGY_SHARES.items()}
    counts[("benefit", "shared_details_ring")] = max(3, counts[("benefit", "shared_details_ring")])
    counts[("housing", "duplicate_housing_claim")] += counts[("housing", "duplicate_housing_claim")] % 2
    return counts


def _pick(candidates: np.ndarray, owner: np.ndarray, used: np.ndarray, k: int,
          rng: np.random.Generator) -> np.ndarray:
    """Up to ``k`` of ``candidates`` (row indices) whose owner (person) has no fraud yet."""
    free = candidates[~used[owner[candidates]]]
    _, first = np.unique(owner[free], return_index=True)  # one claim per person
    free = free[np.sort(first)]
    chosen = rng.permutation(free)[:k]
    used[owner[chosen]] = True
    return np.sort(chosen)


def _strength(n: int, strong: tuple[float, float], subtle: tuple[float, float],
              rng: np.random.Generator, subtle_share: float = 0.3) -> np.ndarray:
    """A multiplier per case: mostly blatant, a share subtle."""
    return np.where(rng.random(n) < subtle_share, rng.uniform(*subtle, n), rng.uniform(*strong, n))


def _set(frame: pd.DataFrame, rows: np.ndarray, **columns: np.ndarray | object) -> pd.DataFrame:
    """A copy of ``frame`` with ``columns`` replaced at positional ``rows``."""
    out = {}
    for name, value in columns.items():
        column = frame[name].to_numpy().copy()
        column[rows] = value
        out[name] = column
    return frame.assign(**out)


def _undeclared_earnings(people: pd.DataFrame, claims: pd.DataFrame, rows: np.ndarray,
                         rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
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
    declared = np.where(rng.random(k) < 0.55, 0.0, actual * _strength(k, (0.05, 0.35), (0.4, 0.6), rng))
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
                              rng: np.random.Generator) -> pd.DataFrame:
    """Housing costs far above the local norm for the home's LA and size."""
    address = claims["address"].to_numpy()[rows]
    norm = local_norm_rent(addresses["la"].to_numpy()[address], addresses["bedrooms"].to_numpy()[address])
    cost = norm * _strength(len(rows), (1.6, 3.0), (1.3, 1.6), rng)
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


def _empty_registrations() -> pd.DataFrame:
    """An empty frame of extra electoral registrations."""
    return pd.DataFrame({"person": np.array([], dtype=np.int64), "address": np.array([], dtype=np.int64),
                         "registered_from": np.array([], dtype="datetime64[D]")})


def plant_fraud(population: Population, people: pd.DataFrame, benefit: pd.DataFrame,
                housing: pd.DataFrame, person_offset: int, rng: np.random.Generator) -> Planted:
    """Plant every typology into a chunk, about ``FRAUD_RATE`` of its live subjects.

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

    Returns
    -------
    Planted
        The chunk with fraud.
    """
    addresses = population.addresses
    people = people.assign(must_register=np.zeros(len(people), dtype=bool))
    live_b = benefit["live"].to_numpy()
    live_h = is_live(housing["end_date"])
    counts = typology_counts(int(live_b.sum() + live_h.sum()))
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
                 counts[("benefit", "undeclared_earnings")], rng)
    people, benefit = _undeclared_earnings(people, benefit, rows, rng)
    benefit = label(benefit, rows, "undeclared_earnings")

    # Living together, hidden capital and rings pay only where the award is means-tested
    # and the claimant earns little.
    low_earner = benefit["declared_monthly_earnings"].to_numpy() < 1000
    couple_head = (role[b_person] == HEAD) & people["couple"].to_numpy()[b_person]
    rows = _pick(np.flatnonzero(live_b & np.isin(btype, (UC, PC)) & couple_head & low_earner
                                & benefit["declared_partner"].to_numpy()),
                 b_person, used, counts[("benefit", "living_together")], rng)
    used[b_person[rows] + 1] = True
    people, benefit = _living_together(people, benefit, rows, live_claims > 0, rng)
    benefit = label(benefit, rows, "living_together")

    rows = _pick(np.flatnonzero(live_b & single_claim & np.isin(btype, (UC, PC)) & low_earner), b_person,
                 used, counts[("benefit", "undeclared_capital")], rng)
    people, benefit = _undeclared_capital(people, benefit, rows, rng)
    benefit = label(benefit, rows, "undeclared_capital")

    rows = _pick(np.flatnonzero(live_b & (btype == UC) & (benefit["monthly_housing_costs"].to_numpy() > 0)),
                 b_person, used, counts[("benefit", "inflated_housing_costs")], rng)
    benefit = label(_inflated_benefit_housing(benefit, addresses, rows, rng), rows, "inflated_housing_costs")

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

    housing, people, extra = _plant_housing(population, people, housing, counts, used, rng)
    return Planted(people=people, benefit_claims=benefit, housing_claims=housing,
                   extra_registrations=extra)


def _plant_housing(population: Population, people: pd.DataFrame, housing: pd.DataFrame,
                   counts: dict[tuple[str, str], int], used: np.ndarray,
                   rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
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
    heads = _pick(candidates, np.arange(len(people)), used, counts[("housing", "single_person_discount")], rng)
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
                      counts[("housing", "subletting")], rng)
    age = people["age"].to_numpy()
    holders = np.flatnonzero((role <= SECOND_ADULT) & (age > 27) & (age < 70) & ~used)
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
    people = _set(people, subtenants, must_register=rng.random(len(subtenants)) < 0.9)
    still_registered = rng.random(k) < 0.25
    extra.append(pd.DataFrame({"person": holders[still_registered],
                               "address": housing["address"].to_numpy()[tenancies][still_registered],
                               "registered_from": start[still_registered]}))

    # Housing benefit on a rent far above the local norm.
    rows = _pick(np.flatnonzero(live_h & (scheme == HB) & (housing["typology"].to_numpy() == "")),
                 h_person, used, counts[("housing", "inflated_housing_costs")], rng)
    address = housing["address"].to_numpy()[rows]
    la, bedrooms = address_la[address], addresses["bedrooms"].to_numpy()[address]
    rent = local_norm_rent(la, bedrooms) * _strength(len(rows), (1.6, 3.0), (1.3, 1.6), rng)
    housing = _set(housing, rows, monthly_rent=np.round(rent, 2),
                   monthly_award=np.round(housing_benefit_award(rent, la, bedrooms,
                                                                np.ones(len(rows), bool), rng), 2),
                   typology="inflated_housing_costs")
    housing = pd.concat([housing, *new_parts], ignore_index=True)
    return housing, people, pd.concat(extra, ignore_index=True)
