"""People, their households, the addresses they live at and their means.

Everything here is one chunk of the world, built with vectorised numpy draws
from one random generator. Dates are ``datetime64[D]`` arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from synthetic.constants import (
    AS_OF,
    BEDROOM_RENT_FACTOR,
    DETACHED,
    FEMALE,
    FLAT,
    HMO,
    HMO_ROOM_FACTOR,
    LA_CODES,
    LA_LONDON,
    LA_RENT_2BED,
    LA_WEIGHTS,
    LOCAL_AUTHORITIES,
    MALE,
    OTHER_SEX,
    OWNER,
    PRIVATE,
    SEMI,
    SOCIAL_RENT,
    TAX_MONTHS,
    TERRACED,
)
from synthetic.names import NamePool
from synthetic.tax import BANKS, EMPLOYERS

AS_OF_DAY = np.datetime64(AS_OF, "D")
DAYS_PER_YEAR = 365.25

HEAD, SECOND_ADULT, THIRD_ADULT, CHILD = range(4)
NINO_PREFIXES = np.array(
    [
        a + b
        for a in "ABCEGHJKLMNOPRSTWXYZ"
        for b in "ABCEGHJKLMNPRSTWXYZ"
        if a + b not in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ")
    ],
    dtype=object,
)
UNIT_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"), dtype=object)
DEPRIVED_AREAS = {"E06000001", "E06000002", "E06000010", "E08000012", "E08000025",
                  "E09000025", "E09000030"}


@dataclass(frozen=True)
class Population:
    """One chunk of the world's people.

    Attributes
    ----------
    households : pandas.DataFrame
        One row per household: address, la, tenure, moved_in, deprivation,
        adults, children, couple, prev_address.
    people : pandas.DataFrame
        One row per person with identity, household role, address and means.
    addresses : pandas.DataFrame
        One row per address: uprn, postcode, la, property_type, bedrooms,
        market_rent (what a tenant of the household there pays per month).
    """

    households: pd.DataFrame
    people: pd.DataFrame
    addresses: pd.DataFrame


def scrambled_codes(index: np.ndarray, modulus: int, multiplier: int) -> np.ndarray:
    """Map distinct indices to distinct, random-looking codes below ``modulus``.

    A multiplication modulo ``modulus`` by a coprime ``multiplier`` is a bijection,
    so codes never collide across chunks.
    """
    return ((index.astype(np.int64) + 7_919) * multiplier) % modulus


def nino_for(person_index: np.ndarray) -> np.ndarray:
    """National Insurance numbers (``AA999999A``) unique per global person index."""
    code = scrambled_codes(person_index, len(NINO_PREFIXES) * 1_000_000, 48_271_144_813)
    digits = pd.Series(code % 1_000_000).astype(str).str.zfill(6)
    suffix = np.array(list("ABCD"), dtype=object)[person_index % 4]
    return (NINO_PREFIXES[code // 1_000_000] + digits.to_numpy(dtype=object) + suffix).astype(object)


def uprn_for(address_index: np.ndarray) -> np.ndarray:
    """Unique Property Reference Numbers (12 digits) unique per global address index."""
    code = scrambled_codes(address_index, 900_000_000_000, 386_294_807_713) + 100_000_000_000
    return code.astype(str).astype(object)


def day_array(values: pd.Series | np.ndarray) -> np.ndarray:
    """Dates as a ``datetime64[D]`` array (pandas keeps them at a finer unit)."""
    return np.asarray(values).astype("datetime64[D]")


def years_before_as_of(years: np.ndarray) -> np.ndarray:
    """The day ``years`` (fractional) before the world's as-of date."""
    return AS_OF_DAY - np.round(years * DAYS_PER_YEAR).astype("timedelta64[D]")


def _make_households(n_people: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw households until they hold ``n_people`` people (the last one is cut)."""
    n = int(n_people / 1.6) + 20
    head_age = np.where(rng.random(n) < 0.2, rng.uniform(66, 95, n),
                        np.clip(rng.normal(42, 13, n), 19, 90) - rng.uniform(0, 1, n))
    adults = rng.choice([1, 2, 3], n, p=[0.42, 0.48, 0.10])
    child_counts = rng.choice(8, n, p=[0.6, 0.15, 0.14, 0.07, 0.025, 0.01, 0.004, 0.001])
    children = np.where(head_age < 58, child_counts, 0)
    size = adults + children
    kept = int(np.searchsorted(np.cumsum(size), n_people)) + 1
    la = rng.choice(len(LOCAL_AUTHORITIES), kept, p=LA_WEIGHTS)
    london = LA_LONDON[la]
    pensioner = head_age[:kept] >= 66
    tenure_draw = rng.random(kept)
    owner_share = np.where(london, 0.25, 0.40) + np.where(pensioner, 0.25, 0.0)
    social_share = np.where(london, 0.35, 0.30)
    tenure = np.where(tenure_draw < owner_share, OWNER,
                      np.where(tenure_draw < owner_share + social_share, SOCIAL_RENT, PRIVATE))
    area_effect = np.isin(LA_CODES[la], list(DEPRIVED_AREAS)).astype(float) * 0.35
    years_here = np.where(rng.random(kept) < 0.12, rng.uniform(0.05, 1.0, kept),
                          rng.exponential(7.0, kept))
    years_here = np.minimum(years_here, np.maximum(head_age[:kept] - 18, 0.1))
    return pd.DataFrame({
        "la": la,
        "tenure": tenure,
        "deprivation": rng.normal(0, 1, kept) + area_effect + (tenure == SOCIAL_RENT) * 0.4,
        "adults": adults[:kept],
        "children": children[:kept],
        "couple": (adults[:kept] >= 2) & (rng.random(kept) < 0.82),
        "third_is_child": rng.random(kept) < 0.6,
        "head_age": head_age[:kept],
        "moved_in": years_before_as_of(years_here),
    })


def _ages(hh: pd.DataFrame, household: np.ndarray, role: np.ndarray, adult_child: np.ndarray,
          rng: np.random.Generator) -> np.ndarray:
    """Age in years of every person, consistent with their household role."""
    n = len(household)
    head_age = hh["head_age"].to_numpy()[household]
    couple = hh["couple"].to_numpy()[household]
    partner_age = np.clip(head_age + rng.normal(0, 4, n), 18, 99)
    flatmate_age = rng.uniform(18, 50, n)
    child_of_age = 18 + rng.uniform(0, 1, n) * np.clip(head_age - 38, 0, 12)
    lodger_age = rng.uniform(19, 60, n)
    child_age = rng.uniform(0, 1, n) * np.clip(head_age - 17, 1, 18)
    return np.select(
        [role == HEAD, role == SECOND_ADULT, role == THIRD_ADULT],
        [head_age, np.where(couple, partner_age, flatmate_age),
         np.where(adult_child, child_of_age, lodger_age)],
        default=np.minimum(child_age, 17.99),
    )


def _identities(hh: pd.DataFrame, household: np.ndarray, role: np.ndarray,
                adult_child: np.ndarray, pool: NamePool,
                rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sex, names and surnames of every person."""
    n = len(household)
    couple = hh["couple"].to_numpy()[household]
    head_female = rng.random(len(hh)) < 0.5
    sex = np.where(rng.random(n) < 0.5, FEMALE, MALE)
    opposite = np.where(head_female[household], MALE, FEMALE)
    sex = np.where(role == HEAD, np.where(head_female[household], FEMALE, MALE), sex)
    sex = np.where((role == SECOND_ADULT) & couple & (rng.random(n) < 0.95), opposite, sex)
    sex = np.where((role != CHILD) & (rng.random(n) < 0.003), OTHER_SEX, sex)

    male_pick = rng.choice(pool.male_count, n, p=pool.weight[: pool.male_count]
                           / pool.weight[: pool.male_count].sum())
    female_count = len(pool.first) - pool.male_count
    female_pick = pool.male_count + rng.choice(
        female_count, n, p=pool.weight[pool.male_count:] / pool.weight[pool.male_count:].sum())
    female_named = (sex == FEMALE) | ((sex == OTHER_SEX) & (rng.random(n) < 0.5))
    first_idx = np.where(female_named, female_pick, male_pick)
    middle_idx = np.where(female_named, np.roll(female_pick, 1), np.roll(male_pick, 1))
    has_middle = (rng.random(n) < 0.55) & (middle_idx != first_idx)

    def surname_pair(count: int, double_share: float) -> tuple[np.ndarray, np.ndarray]:
        """Surnames and, for a share of them, a second part (double-barrelled), else ""."""
        a = rng.choice(len(pool.surname), count, p=pool.surname_weight)
        b = rng.choice(len(pool.surname), count, p=pool.surname_weight)
        double = (rng.random(count) < double_share) & (a != b)
        return pool.surname[a], np.where(double, pool.surname[b], "").astype(object)

    hh_a, hh_b = surname_pair(len(hh), 0.07)
    own_a, own_b = surname_pair(n, 0.04)
    keeps_family_name = (
        (role == HEAD) | (role == CHILD)
        | ((role == SECOND_ADULT) & couple & (rng.random(n) < 0.6))
        | ((role == THIRD_ADULT) & adult_child)
    )
    return {
        "sex": sex,
        "first": pool.first[first_idx],
        "nickname": pool.nickname[first_idx],
        "middle": np.where(has_middle, pool.first[middle_idx], "").astype(object),
        "surname_a": np.where(keeps_family_name, hh_a[household], own_a).astype(object),
        "surname_b": np.where(keeps_family_name, hh_b[household], own_b).astype(object),
    }


def _bedrooms(hh: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Bedrooms of each household's home: enough for its size, give or take."""
    n = len(hh)
    children = hh["children"].to_numpy()
    adults = hh["adults"].to_numpy()
    need = np.where(children > 0, 1 + (children + 1) // 2,
                    np.where(adults == 1, rng.choice([0, 1, 2], n, p=[0.12, 0.6, 0.28]),
                             rng.choice([1, 2, 3], n, p=[0.35, 0.45, 0.2])))
    need = need + (adults == 3)
    jitter = rng.choice([-1, 0, 1], n, p=[0.1, 0.75, 0.15])
    spare = (hh["tenure"].to_numpy() == OWNER) & (rng.random(n) < 0.4)
    return np.clip(need + jitter + spare, 0, 5)


def _property_types(bedrooms: np.ndarray, london: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Property type of each home given its bedrooms and whether it is in London."""
    draw = rng.random(len(bedrooms)) - np.where(london, 0.2, 0.0)
    small = np.where(draw < 0.85, FLAT, TERRACED)
    two = np.select([draw < 0.5, draw < 0.85], [FLAT, TERRACED], SEMI)
    three = np.select([draw < 0.15, draw < 0.6, draw < 0.9], [FLAT, TERRACED, SEMI], DETACHED)
    large = np.select([draw < 0.25, draw < 0.65], [TERRACED, SEMI], DETACHED)
    return np.select([bedrooms <= 1, bedrooms == 2, bedrooms == 3], [small, two, three], large)


def _postcodes(la: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Realistic UK postcodes, several addresses to a postcode, within each LA's districts."""
    postcode = np.empty(len(la), dtype=object)
    for code, authority in enumerate(LOCAL_AUTHORITIES):
        members = rng.permutation(np.flatnonzero(la == code))
        if len(members) == 0:
            continue
        sizes = rng.integers(3, 21, len(members))
        group = np.searchsorted(np.cumsum(sizes), np.arange(len(members)), side="right")
        groups = group[-1] + 1
        district = rng.choice(np.array(authority.districts), groups).astype(str).astype(object)
        sector = rng.integers(0, 10, groups).astype(str).astype(object)
        unit = UNIT_LETTERS[rng.integers(0, 20, groups)] + UNIT_LETTERS[rng.integers(0, 20, groups)]
        postcode[members] = (authority.area + district + " " + sector + unit)[group]
    return postcode


def _addresses(hh: pd.DataFrame, address_offset: int,
               rng: np.random.Generator) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Give each household an address: its own home or a room in a shared house (HMO).

    Returns the address index of each household, the address table (which also
    holds vacant homes, for people who move or claim elsewhere) and each
    household's local authority (sharers take their shared house's).
    """
    n = len(hh)
    single_room = ((hh["adults"].to_numpy() == 1) & (hh["children"].to_numpy() == 0)
                   & (hh["tenure"].to_numpy() == PRIVATE) & (hh["head_age"].to_numpy() < 60))
    sharer = np.flatnonzero(single_room & (rng.random(n) < 0.35))
    group_sizes = rng.integers(3, 7, len(sharer))
    group = np.searchsorted(np.cumsum(group_sizes), np.arange(len(sharer)), side="right")
    n_groups = int(group[-1]) + 1 if len(sharer) else 0
    own = np.setdiff1d(np.arange(n), sharer)
    n_vacant = max(20, int(0.06 * n))

    address_of = np.empty(n, dtype=np.int64)
    address_of[own] = np.arange(len(own))
    address_of[sharer] = len(own) + group
    n_addresses = len(own) + n_groups + n_vacant

    la = np.empty(n_addresses, dtype=np.int64)
    la[: len(own)] = hh["la"].to_numpy()[own]
    group_first = np.searchsorted(group, np.arange(n_groups))
    la[len(own): len(own) + n_groups] = hh["la"].to_numpy()[sharer[group_first]]
    la[len(own) + n_groups:] = rng.choice(len(LOCAL_AUTHORITIES), n_vacant, p=LA_WEIGHTS)
    # Sharers live in their group's local authority.
    hh_la = hh["la"].to_numpy().copy()
    hh_la[sharer] = la[address_of[sharer]]

    bedrooms = np.empty(n_addresses, dtype=np.int64)
    bedrooms[: len(own)] = _bedrooms(hh.iloc[own], rng)
    bedrooms[len(own): len(own) + n_groups] = np.minimum(
        5, np.bincount(group, minlength=n_groups) + rng.integers(0, 2, n_groups))
    bedrooms[len(own) + n_groups:] = rng.choice(6, n_vacant, p=[0.05, 0.3, 0.35, 0.2, 0.07, 0.03])
    ptype = _property_types(bedrooms, LA_LONDON[la], rng)
    ptype[len(own): len(own) + n_groups] = HMO

    home_rent = LA_RENT_2BED[la] * BEDROOM_RENT_FACTOR[bedrooms] * rng.lognormal(0, 0.15, n_addresses)
    room_rent = (LA_RENT_2BED[la] * BEDROOM_RENT_FACTOR[1] * HMO_ROOM_FACTOR
                 * rng.lognormal(0, 0.12, n_addresses))
    addresses = pd.DataFrame({
        "uprn": uprn_for(address_offset + np.arange(n_addresses)),
        "postcode": _postcodes(la, rng),
        "la": la,
        "property_type": ptype,
        "bedrooms": bedrooms,
        "market_rent": np.where(ptype == HMO, room_rent, home_rent),
    })
    return address_of, addresses, hh_la


def _previous_addresses(la_of: np.ndarray, addresses: pd.DataFrame, moved_years: np.ndarray,
                        rng: np.random.Generator) -> np.ndarray:
    """A previous address (mostly in the same LA) for recent movers, else -1."""
    n = len(la_of)
    address_la = addresses["la"].to_numpy()
    order = np.argsort(address_la, kind="stable")
    start = np.searchsorted(address_la[order], la_of)
    count = np.bincount(address_la, minlength=len(LOCAL_AUTHORITIES))[la_of]
    same_la = order[start + (rng.random(n) * count).astype(np.int64)]
    anywhere = rng.integers(0, len(addresses), n)
    previous = np.where(rng.random(n) < 0.8, same_la, anywhere)
    moved = (moved_years < 12) & (rng.random(n) < 0.85)
    return np.where(moved, previous, -1)


def _means(people: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Employment, self-employment, savings and property income of every person."""
    n = len(people)
    age = people["age"].to_numpy()
    adult = age >= 18
    working_age = adult & (age < 66)
    dep = people["deprivation"].to_numpy()
    p_employed = np.where(working_age, 1 / (1 + np.exp(-(0.5 - 0.9 * dep))), 0.04 * adult)
    employed = rng.random(n) < p_employed
    part_time = rng.random(n) < 0.35
    paye = (2000 * np.exp(-0.3 * dep) * np.where(part_time, 0.5, 1.0)
            * rng.lognormal(0, 0.35, n))
    volatile = rng.random(n) < 0.18
    job_start = np.where(rng.random(n) < 0.2, rng.integers(1, TAX_MONTHS, n), 0)
    job_end = np.where(rng.random(n) < 0.15, rng.integers(0, TAX_MONTHS, n), TAX_MONTHS - 1)
    job_end = np.maximum(job_end, job_start)
    self_employed = working_age & (rng.random(n) < 0.09)
    has_savings = adult & (rng.random(n) < 0.45 - 0.1 * np.clip(dep, -1.5, 1.5))
    capital = np.where(has_savings, rng.lognormal(np.log(2500), 1.3, n), 0.0)
    landlord = adult & (age > 35) & (rng.random(n) < 0.02)
    return {
        "employed": employed,
        "paye_monthly": np.where(employed, paye, 0.0),
        "pay_volatility": np.where(volatile, 0.35, 0.05),
        "job_start_month": job_start,
        "job_end_month": job_end,
        "employer": rng.integers(0, EMPLOYERS, n),
        "second_employer": np.where(rng.random(n) < 0.12, rng.integers(0, EMPLOYERS, n), -1),
        "job_change_month": rng.integers(1, TAX_MONTHS, n),
        "self_employed": self_employed,
        "se_monthly": np.where(self_employed, rng.lognormal(np.log(1100), 0.6, n), 0.0),
        "capital": capital,
        "capital_from_month": np.zeros(n, dtype=np.int64),
        "capital_until_month": np.full(n, TAX_MONTHS - 1),
        "disregarded_capital": np.zeros(n),
        "interest_rate": rng.uniform(0.015, 0.045, n),
        "interest_every": np.where(rng.random(n) < 0.5, 1, 3),
        "bank": rng.integers(0, len(BANKS), n),
        "property_monthly": np.where(landlord, rng.uniform(450, 1500, n), 0.0),
    }


def make_population(n_people: int, person_offset: int, address_offset: int,
                    pool: NamePool, rng: np.random.Generator) -> Population:
    """Build one chunk of people, households and addresses.

    Parameters
    ----------
    n_people : int
        People in the chunk.
    person_offset, address_offset : int
        Global index of the chunk's first person and first address (keeps
        person ids, NINOs and UPRNs unique across chunks).
    pool : NamePool
        Names to draw from.
    rng : numpy.random.Generator
        The chunk's random source.

    Returns
    -------
    Population
        Households, people and addresses of the chunk.
    """
    hh = _make_households(n_people, rng)
    size = (hh["adults"] + hh["children"]).to_numpy()
    household = np.repeat(np.arange(len(hh)), size)[:n_people]
    starts = np.concatenate([[0], np.cumsum(size)[:-1]])
    position = np.arange(n_people) - starts[household]
    role = np.where(position < hh["adults"].to_numpy()[household],
                    np.minimum(position, THIRD_ADULT), CHILD)
    # The last household may have been cut short: count who is really there.
    adults = np.bincount(household, weights=role != CHILD, minlength=len(hh)).astype(np.int64)
    hh = hh.assign(adults=adults,
                   children=np.bincount(household, minlength=len(hh)) - adults,
                   couple=hh["couple"].to_numpy() & (adults >= 2))
    adults_here = adults[household]
    adult_child = ((role == THIRD_ADULT) & hh["third_is_child"].to_numpy()[household]
                   & (hh["head_age"].to_numpy()[household] >= 38))

    age = _ages(hh, household, role, adult_child, rng)
    address_of, addresses, hh_la = _addresses(hh, address_offset, rng)
    moved_years = (AS_OF_DAY - day_array(hh["moved_in"])).astype(float) / DAYS_PER_YEAR
    hh = hh.assign(la=hh_la, address=address_of,
                   prev_address=_previous_addresses(hh_la, addresses, moved_years, rng))

    identity = _identities(hh, household, role, adult_child, pool, rng)
    global_index = person_offset + np.arange(n_people)
    couple = hh["couple"].to_numpy()[household]
    # Lodgers and flatmates arrive on their own dates from their own previous homes.
    independent = ((role == SECOND_ADULT) & ~couple) | ((role == THIRD_ADULT) & ~adult_child)
    own_years = rng.exponential(2.5, n_people)
    own_moved = years_before_as_of(np.minimum(own_years, np.maximum(age - 18, 0.05)))
    moved_in = np.where(independent, own_moved, day_array(hh["moved_in"])[household])
    own_prev = _previous_addresses(hh_la[household], addresses, own_years, rng)
    prev = np.where(independent, own_prev, hh["prev_address"].to_numpy()[household])
    prev = np.where(role == CHILD, -1, prev)

    people = pd.DataFrame({
        "person_id": pd.Series(global_index).astype(str).str.zfill(8).radd("P").to_numpy(dtype=object),
        "household": household,
        "role": role,
        "couple": couple & (role <= SECOND_ADULT),
        "age": age,
        "dob": years_before_as_of(age) - rng.integers(0, 365, n_people).astype("timedelta64[D]"),
        **identity,
        "nino": np.where(age >= 16, nino_for(global_index), None).astype(object),
        "address": hh["address"].to_numpy()[household],
        "la": hh_la[household],
        "tenure": hh["tenure"].to_numpy()[household],
        "moved_in": moved_in,
        "prev_address": prev,
        "deprivation": hh["deprivation"].to_numpy()[household] + rng.normal(0, 0.3, n_people),
        "lodger": (role == THIRD_ADULT) & ~adult_child,
        "household_adults": adults_here,
        "household_children": hh["children"].to_numpy()[household],
    })
    people = people.assign(**_means(people, rng))
    return Population(households=hh, people=people, addresses=addresses)
