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
from synthetic.variants import DEFAULT_VARIANT, VARIANTS, Variant, split_count


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


def typology_counts(live_subjects: int, fraud_rate: float = FRAUD_RATE) -> dict[tuple[str, str], int]:
    """How many cases of each (table, typology) a chunk gets.

    Every typology gets at least a handful (a ring needs three members, a
    duplicate a pair), so even small worlds hold each one.
    """
    total = fraud_rate * live_subjects
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


def _empty_registrations() -> pd.DataFrame:
    """An empty frame of extra electoral registrations."""
    return pd.DataFrame({"person": np.array([], dtype=np.int64), "address": np.array([], dtype=np.int64),
                         "registered_from": np.array([], dtype="datetime64[D]")})


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


# --------------------------------------------------------------------------- other ways and look-alikes


def _outside_adults(people: pd.DataFrame, candidates: np.ndarray, used: np.ndarray, k: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Up to ``k`` of ``candidates`` (people) aged 20-65 without fraud yet, in random order; marked used."""
    age = people["age"].to_numpy()[candidates]
    free = candidates[(age >= 20) & (age <= 65) & ~used[candidates]]
    chosen = rng.permutation(free)[:k]
    used[chosen] = True
    return chosen


def _some_day_after(start: np.ndarray, rng: np.random.Generator, earliest: int = 60) -> np.ndarray:
    """A day from ``earliest`` days after ``start`` to a month before the as-of date (never before ``start``)."""
    first = start + np.timedelta64(earliest, "D")
    last = np.maximum(first, AS_OF_DAY - 30)
    span = (last - first).astype(np.int64) + 1
    return first + (rng.random(len(start)) * span).astype("timedelta64[D]")


def _registrations(person: np.ndarray, address: np.ndarray, registered_from: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"person": person, "address": address, "registered_from": registered_from.astype("datetime64[D]")})


@dataclass(frozen=True)
class _Pools:
    """Who can play a part in a way of drawing fraud (or a look-alike), as of the planted chunk."""

    single_claims: np.ndarray  # live UC/PC claims of people living alone, made single, little earned
    no_claim_adults: np.ndarray  # adults without any live claim
    one_claim_adults: np.ndarray  # adults with exactly one live benefit claim and no housing claim, honest
    one_claim_rows: np.ndarray  # each person's live benefit claim row (-1 when none)
    lone_heads: np.ndarray  # heads living alone, not in a house in multiple occupation, without a discount
    social_tenancies: np.ndarray  # live honest social tenancy rows


def _pools(population: Population, planted: Planted) -> _Pools:
    people, benefit, housing = planted.people, planted.benefit_claims, planted.housing_claims
    n = len(people)
    role, alone = people["role"].to_numpy(), people["household_adults"].to_numpy() == 1
    live_b, live_h = benefit["live"].to_numpy(), is_live(housing["end_date"])
    b_person, h_person = benefit["person"].to_numpy(), housing["person"].to_numpy()
    honest_b = benefit["typology"].to_numpy() == ""
    live_claims = np.bincount(b_person[live_b], minlength=n)
    housing_claims = np.bincount(h_person[live_h], minlength=n)
    started = day_array(benefit["claim_start"]) < AS_OF_DAY - 180
    single_claims = np.flatnonzero(
        live_b & honest_b & started & np.isin(benefit["benefit_type"].to_numpy(), (UC, PC))
        & ~benefit["declared_partner"].to_numpy() & (benefit["adults_in_household"].to_numpy() == 1)
        & (benefit["declared_monthly_earnings"].to_numpy() < 1000) & alone[b_person] & (role[b_person] == HEAD))
    one_claim_rows = np.full(n, -1, dtype=np.int64)
    honest_live = np.flatnonzero(live_b & honest_b)
    one_claim_rows[b_person[honest_live]] = honest_live
    adult = role != CHILD
    has_spd = np.zeros(n, dtype=bool)
    has_spd[h_person[live_h & (housing["scheme"].to_numpy() == SPD)]] = True
    not_hmo = population.addresses["property_type"].to_numpy()[people["address"].to_numpy()] != HMO
    return _Pools(
        single_claims=single_claims,
        no_claim_adults=np.flatnonzero(adult & (live_claims == 0) & (housing_claims == 0)),
        one_claim_adults=np.flatnonzero(adult & (live_claims == 1) & (housing_claims == 0) & (one_claim_rows >= 0)),
        one_claim_rows=one_claim_rows,
        lone_heads=np.flatnonzero((role == HEAD) & alone & ~has_spd & not_hmo),
        social_tenancies=np.flatnonzero(live_h & (housing["scheme"].to_numpy() == SOCIAL)
                                        & (housing["typology"].to_numpy() == "")),
    )


def _newcomers(people: pd.DataFrame, pool: np.ndarray, address: np.ndarray, since: np.ndarray, used: np.ndarray,
               register_share: float, rng: np.random.Generator) -> tuple[np.ndarray, pd.DataFrame]:
    """Adults of ``pool`` who register at ``address`` some time after ``since`` (with ``register_share``).

    Returns the adults (fewer when the pool runs short: the first ones get one) and their registrations.
    """
    adults = _outside_adults(people, pool, used, len(address), rng)
    k = len(adults)
    registers = rng.random(k) < register_share
    return adults, _registrations(adults[registers], address[:k][registers],
                                  _some_day_after(since[:k], rng)[registers])


def _employ(people: pd.DataFrame, adults: np.ndarray, share: float, rng: np.random.Generator) -> pd.DataFrame:
    """Give ``share`` of ``adults`` who earn nothing a job over the whole tax window."""
    idle = people["paye_monthly"].to_numpy()[adults] == 0
    works = adults[idle & (rng.random(len(adults)) < share)]
    return _set(people, works, employed=True, paye_monthly=rng.lognormal(np.log(1700), 0.4, len(works)),
                job_start_month=0, job_end_month=TAX_MONTHS - 1, second_employer=-1)


def _discounts(population: Population, people: pd.DataFrame, heads: np.ndarray, typology: str,
               rng: np.random.Generator) -> pd.DataFrame:
    """New single person discount claims of ``heads`` (living alone when it began), labelled ``typology``."""
    addresses = population.addresses
    address = people["address"].to_numpy()[heads]
    k = len(heads)
    moved = day_array(people["moved_in"])[heads]
    start = np.clip(moved + rng.integers(30, 1500, k).astype("timedelta64[D]"), EARLIEST_DAY, AS_OF_DAY - 200)
    return pd.DataFrame({
        "person": heads, "scheme": SPD, "address": address, "start_date": start,
        "end_date": np.full(k, np.datetime64("NaT"), dtype="datetime64[D]"),
        "monthly_rent": np.nan, "occupants_declared": 1, "landlord_ref": None,
        "monthly_award": np.round(0.25 * council_tax(addresses["la"].to_numpy()[address],
                                                     addresses["bedrooms"].to_numpy()[address]), 2),
        "typology": typology, "disguised": False,
    })


def _share_details(benefit: pd.DataFrame, rows: np.ndarray, partner_rows: np.ndarray,
                   rng: np.random.Generator) -> pd.DataFrame:
    """The partner's claims (``partner_rows``) take the phone, e-mail or bank account of the claims ``rows``."""
    k = len(rows)
    draws = rng.random((k, 3)) < np.array([0.7, 0.5, 0.4])
    draws[~draws.any(axis=1), 0] = True
    out = {}
    for column, takes in zip(("phone_token", "email_token", "bank_token"), draws.T, strict=True):
        values = benefit[column].to_numpy().copy()
        theirs = values[rows]
        adopt = takes & (theirs >= 0)
        values[partner_rows[adopt]] = theirs[adopt]
        out[column] = values
    return benefit.assign(**out)


def _plant_other_ways(population: Population, planted: Planted, ways: dict[str, dict[str, int]],
                      used: np.ndarray, rng: np.random.Generator) -> Planted:
    """Plant the ways beyond each typology's first (see :mod:`synthetic.variants`)."""
    people, benefit, housing = planted.people, planted.benefit_claims, planted.housing_claims
    extra, new_housing = [planted.extra_registrations], []
    pools = _pools(population, planted)
    b_person = benefit["person"].to_numpy()
    b_address = benefit["address"].to_numpy()
    b_start = day_array(benefit["claim_start"])

    # living together: a partner arrives after the claim began, or keeps a claim elsewhere sharing details
    for way, register_share in (("newcomer", 0.85), ("shared_details", 0.4)):
        rows = _pick(pools.single_claims, b_person, used, ways["living_together"].get(way, 0), rng)
        pool = pools.no_claim_adults if way == "newcomer" else pools.one_claim_adults
        partners, registrations = _newcomers(people, pool, b_address[rows], b_start[rows], used, register_share, rng)
        rows = rows[: len(partners)]
        if way == "newcomer":
            people = _employ(people, partners, 0.6, rng)
        else:
            benefit = _share_details(benefit, rows, pools.one_claim_rows[partners], rng)
        benefit = _set(benefit, rows, typology="living_together")
        extra.append(registrations)

    # single person discount: another adult arrives later, or claims a benefit from the address
    for way, register_share in (("newcomer", 0.9), ("claimant_at_address", 0.3)):
        heads = _pick(pools.lone_heads, np.arange(len(people)), used, ways["single_person_discount"].get(way, 0), rng)
        discounts = _discounts(population, people, heads, "single_person_discount", rng)
        pool = pools.no_claim_adults if way == "newcomer" else pools.one_claim_adults
        others, registrations = _newcomers(people, pool, discounts["address"].to_numpy(),
                                           day_array(discounts["start_date"]), used, register_share, rng)
        discounts = discounts.iloc[: len(others)]
        if way == "claimant_at_address":
            benefit = _set(benefit, pools.one_claim_rows[others], address=discounts["address"].to_numpy())
        new_housing.append(discounts)
        extra.append(registrations)

    # subletting: the tenant claims a benefit from their real home, or stays registered while strangers move in
    h_person = housing["person"].to_numpy()
    for way, holders, still_registered in (("claims_elsewhere", pools.one_claim_adults, 0.6),
                                           ("unconnected", pools.no_claim_adults, 1.0)):
        tenancies = _pick(pools.social_tenancies, h_person, used, ways["subletting"].get(way, 0), rng)
        age = people["age"].to_numpy()[holders]
        housing, people, registrations = _sublet(people, housing, tenancies, holders[(age > 27) & (age < 70)], used,
                                                 rng, still_registered, 0.6 if way == "claims_elsewhere" else 1.0)
        extra.append(registrations)
    return Planted(people=people, benefit_claims=benefit,
                   housing_claims=pd.concat([housing, *new_housing], ignore_index=True),
                   extra_registrations=pd.concat(extra, ignore_index=True))


def _plant_other_means(population: Population, planted: Planted, ways: dict[str, dict[str, int]],
                       used: np.ndarray, rng: np.random.Generator) -> Planted:
    """Plant the ways of hidden earnings, capital and housing costs beyond the first (see :mod:`synthetic.variants`)."""
    people, benefit, housing = planted.people, planted.benefit_claims, planted.housing_claims
    live_b, b_person = benefit["live"].to_numpy(), benefit["person"].to_numpy()
    btype = benefit["benefit_type"].to_numpy()
    single_claim = np.bincount(b_person[live_b], minlength=len(people))[b_person] == 1
    earners = live_b & single_claim & np.isin(btype, (UC, JSA, ESA))
    low_earner = benefit["declared_monthly_earnings"].to_numpy() < 1000
    savers = live_b & single_claim & np.isin(btype, (UC, PC)) & low_earner

    def label(rows: np.ndarray, typology: str) -> None:
        nonlocal benefit
        benefit = _set(benefit, rows, typology=typology)

    # a few months of work during the claim, ended before the latest months, never reported
    rows = _pick(np.flatnonzero(earners & (current_earnings(people)[b_person] < 400)), b_person, used,
                 ways["undeclared_earnings"].get("past_job", 0), rng)
    person, k = b_person[rows], len(rows)
    ended = TAX_MONTHS - 1 - rng.integers(1, 4, k)
    people = _set(people, person, employed=True, paye_monthly=rng.lognormal(np.log(1200), 0.4, k),
                  job_start_month=ended - rng.integers(1, 4, k), job_end_month=ended, second_employer=-1)
    label(rows, "undeclared_earnings")
    # a let property whose rent reaches the tax records but not the claim
    rows = _pick(np.flatnonzero(earners & (people["property_monthly"].to_numpy()[b_person] == 0)), b_person, used,
                 ways["undeclared_earnings"].get("rental_income", 0), rng)
    people = _set(people, b_person[rows], property_monthly=rng.uniform(500, 1400, len(rows)))
    label(rows, "undeclared_earnings")

    # capital that arrived in the last months, or sits just over the limit while the claim declares less
    for way, low, high in (("arrived_late", 17_000, 60_000), ("near_limit", 16_500, 21_000)):
        rows = _pick(np.flatnonzero(savers), b_person, used, ways["undeclared_capital"].get(way, 0), rng)
        person, k = b_person[rows], len(rows)
        arrived = TAX_MONTHS - rng.integers(3, 7, k) if way == "arrived_late" else np.zeros(k, dtype=np.int64)
        people = _set(people, person, capital=rng.uniform(low, high, k), capital_from_month=arrived,
                      capital_until_month=TAX_MONTHS - 1)
        declared = rng.uniform(0, 3000, k) if way == "arrived_late" else rng.uniform(6000, 15_000, k)
        benefit = _set(benefit, rows, declared_savings=np.round(declared, 2))
        label(rows, "undeclared_capital")

    # housing costs above the rent the council records for the same person and home
    live_h = is_live(housing["end_date"])
    recorded = housing[live_h & (housing["scheme"].to_numpy() == HB) & housing["monthly_rent"].notna().to_numpy()
                       & (housing["typology"].to_numpy() == "")]
    council_rent = benefit[["person", "address"]].merge(
        recorded[["person", "address", "monthly_rent"]].drop_duplicates(["person", "address"]),
        on=["person", "address"], how="left")["monthly_rent"].to_numpy(dtype=float)
    costs = benefit["monthly_housing_costs"].to_numpy()
    rows = _pick(np.flatnonzero(live_b & (btype == UC) & (costs > 0) & ~np.isnan(council_rent)), b_person, used,
                 ways["inflated_housing_costs"].get("above_council_record", 0), rng)
    benefit = _set(benefit, rows, monthly_housing_costs=np.round(council_rent[rows] * rng.uniform(1.3, 2.0, len(rows))))
    label(rows, "inflated_housing_costs")
    # only modestly above the local norm
    rows = _pick(np.flatnonzero(live_b & (btype == UC) & (costs > 0)), b_person, used,
                 ways["inflated_housing_costs"].get("modest", 0), rng)
    address = benefit["address"].to_numpy()[rows]
    addresses = population.addresses
    norm = local_norm_rent(addresses["la"].to_numpy()[address], addresses["bedrooms"].to_numpy()[address])
    benefit = _set(benefit, rows, monthly_housing_costs=np.round(norm * rng.uniform(1.15, 1.35, len(rows))))
    label(rows, "inflated_housing_costs")
    return Planted(people=people, benefit_claims=benefit, housing_claims=housing,
                   extra_registrations=planted.extra_registrations)


def _plant_lookalikes(population: Population, planted: Planted, counts: dict[tuple[str, str], int],
                      per_case: float, used: np.ndarray, rng: np.random.Generator) -> Planted:
    """Honest households showing what a fraud shows, with an honest explanation (never labelled).

    A single claimant's lodger registers after the claim began and is declared; a discount
    holder's lodger registers, then leaves (registers elsewhere); a social tenant's lodger
    registers and is declared on the tenancy; a social tenant is away for a while (registered
    elsewhere) with nobody moving in.
    """
    if per_case <= 0:
        return planted
    people, benefit, housing = planted.people, planted.benefit_claims, planted.housing_claims
    extra, new_housing = [planted.extra_registrations], []
    pools = _pools(population, planted)
    b_person, h_person = benefit["person"].to_numpy(), housing["person"].to_numpy()

    def how_many(typology: str) -> int:
        table = "benefit" if typology == "living_together" else "housing"
        return round(per_case * counts[(table, typology)])

    rows = _pick(pools.single_claims, b_person, used, how_many("living_together"), rng)
    lodgers, registrations = _newcomers(people, pools.no_claim_adults, benefit["address"].to_numpy()[rows],
                                        day_array(benefit["claim_start"])[rows], used, 1.0, rng)
    rows = rows[: len(lodgers)]
    people = _employ(people, lodgers, 0.6, rng)
    benefit = _set(benefit, rows, adults_in_household=2)
    extra.append(registrations)

    heads = _pick(pools.lone_heads, np.arange(len(people)), used, how_many("single_person_discount"), rng)
    discounts = _discounts(population, people, heads, "", rng)
    lodgers, registrations = _newcomers(people, pools.no_claim_adults, discounts["address"].to_numpy(),
                                        day_array(discounts["start_date"]) - np.timedelta64(400, "D"), used, 1.0, rng)
    left = _registrations(registrations["person"].to_numpy(),
                          people["address"].to_numpy()[registrations["person"].to_numpy()],
                          _some_day_after(day_array(registrations["registered_from"]), rng, earliest=30))
    new_housing.append(discounts.iloc[: len(lodgers)])
    extra += [registrations, left]

    away, declared = np.array_split(_pick(pools.social_tenancies, h_person, used, 2 * how_many("subletting"), rng), 2)
    tenancy_address, tenancy_start = housing["address"].to_numpy(), day_array(housing["start_date"])
    lodgers, registrations = _newcomers(people, pools.no_claim_adults, tenancy_address[declared],
                                        tenancy_start[declared], used, 1.0, rng)
    declared = declared[: len(lodgers)]
    housing = _set(housing, declared, occupants_declared=housing["occupants_declared"].to_numpy()[declared] + 1)
    elsewhere = rng.integers(0, len(population.addresses), len(away))
    extra += [registrations, _registrations(h_person[away], elsewhere, _some_day_after(tenancy_start[away], rng))]
    return Planted(people=people, benefit_claims=benefit,
                   housing_claims=pd.concat([housing, *new_housing], ignore_index=True),
                   extra_registrations=pd.concat(extra, ignore_index=True))
