"""Drawing cases: claims and people no fraud has used yet, columns set, new registrations and discounts."""


from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic.claims import (
    EARLIEST_DAY,
    council_tax,
)
from synthetic.constants import (
    BENEFIT_TYPOLOGY_SHARES,
    FRAUD_RATE,
    HMO,
    HOUSING_TYPOLOGY_SHARES,
    PC,
    SOCIAL,
    SPD,
    TAX_MONTHS,
    UC,
)
from synthetic.population import (
    AS_OF_DAY,
    CHILD,
    HEAD,
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

def _empty_registrations() -> pd.DataFrame:
    """An empty frame of extra electoral registrations."""
    return pd.DataFrame({"person": np.array([], dtype=np.int64), "address": np.array([], dtype=np.int64),
                         "registered_from": np.array([], dtype="datetime64[D]")})


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
