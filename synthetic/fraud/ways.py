"""The ways beyond each typology's first, and the honest look-alikes (see :mod:`synthetic.variants`)."""


from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic.claims import (
    current_earnings,
    local_norm_rent,
)
from synthetic.constants import (
    ESA,
    HB,
    JSA,
    PC,
    TAX_MONTHS,
    UC,
)
from synthetic.fraud.drawing import (
    Planted,
    _discounts,
    _employ,
    _newcomers,
    _pick,
    _pools,
    _registrations,
    _set,
    _some_day_after,
    is_live,
)
from synthetic.fraud.typologies import _sublet
from synthetic.population import (
    Population,
    day_array,
)


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
