"""Honest benefit and housing claims of a chunk, and what they pay.

Claims are built as frames keyed by local person and address indices; names,
NINOs, UPRNs and identifiers are rendered when the chunk is written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from synthetic.constants import (
    BEDROOM_RENT_FACTOR,
    CA,
    CTR,
    EARLIEST_CLAIM,
    ESA,
    HB,
    HMO,
    JSA,
    LA_COUNCIL_TAX,
    LA_RENT_2BED,
    OWNER,
    PC,
    SELF_EMPLOYMENT_VOLATILITY,
    SOCIAL,
    SOCIAL_RENT,
    SOCIAL_RENT_FACTOR,
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
from synthetic.tax import month_factor

EARLIEST_DAY = np.datetime64(EARLIEST_CLAIM, "D")
LAST_MONTH = TAX_MONTHS - 1
"""Index of the last tax month: the month a live claim's declaration describes."""

SMALL_EARNINGS_RULES = {
    PC: (0.04, 250.0),
    ESA: (0.06, 200.0),
    JSA: (0.05, 100.0),
    CA: (0.30, 195.0),
}
"""Per benefit whose claimants rarely work: (share who work, most they earn a month, GBP).
Pensioners rarely work; ESA allows permitted work, JSA small part-time earnings,
carer's allowance an earnings limit."""

ENDED_JOB_SHARE = 0.05
"""Share of employed universal credit claimants whose job ended in the last year."""

UNDECLARED_NEW_JOB_MONTHS = 2
"""A job started in the last this-many months is not on the claim yet."""
CAPITAL_LIMIT = 16_000.0
"""Capital above which means-tested benefits (universal credit, pension credit) stop."""

TOKEN_SPACE = 10**10
"""Token ids below this are people's own (their global index); appointees and rings get
their own ranges above it, so no two kinds of token holder share an id."""
APPOINTEE_TOKENS = 1 * TOKEN_SPACE
RING_TOKENS = 2 * TOKEN_SPACE
SUPPORT_TOKENS = 3 * TOKEN_SPACE


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, turning a score into a probability."""
    return 1.0 / (1.0 + np.exp(-x))


def local_norm_rent(la: np.ndarray, bedrooms: np.ndarray) -> np.ndarray:
    """Typical monthly market rent of a home of this size in this local authority."""
    return LA_RENT_2BED[la] * BEDROOM_RENT_FACTOR[bedrooms]


def council_tax(la: np.ndarray, bedrooms: np.ndarray) -> np.ndarray:
    """Monthly council tax of a home of this size in this local authority."""
    return LA_COUNCIL_TAX[la] * (0.75 + 0.12 * bedrooms)


def tenant_rent(people: pd.DataFrame, addresses: pd.DataFrame, who: np.ndarray) -> np.ndarray:
    """Monthly rent the household of each person pays (0 for owners)."""
    address = people["address"].to_numpy()[who]
    market = addresses["market_rent"].to_numpy()[address]
    tenure = people["tenure"].to_numpy()[who]
    rent = np.where(tenure == SOCIAL_RENT, market * SOCIAL_RENT_FACTOR, market)
    return np.where(tenure == OWNER, 0.0, rent)


def current_earnings(people: pd.DataFrame) -> np.ndarray:
    """Each person's usual monthly earnings now (employment still running, plus self-employment)."""
    employed_now = people["employed"].to_numpy() & (people["job_end_month"].to_numpy() >= LAST_MONTH)
    return np.where(employed_now, people["paye_monthly"].to_numpy(), 0.0) + people[
        "se_monthly"
    ].to_numpy()


def declared_earnings(people: pd.DataFrame, person: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What honest claimants declare they earn this month: the month's pay as the tax records show it.

    A declared figure is one month's pay and profit, so volatile pay makes it
    differ from other months. A job started in the last ``UNDECLARED_NEW_JOB_MONTHS``
    months is not declared yet; a job that has ended is no longer declared.
    """
    job_start = people["job_start_month"].to_numpy()[person]
    running = (people["employed"].to_numpy()[person]
               & (people["job_end_month"].to_numpy()[person] >= LAST_MONTH)
               & (job_start <= LAST_MONTH - UNDECLARED_NEW_JOB_MONTHS))
    pay = np.where(running, people["paye_monthly"].to_numpy()[person], 0.0)
    volatility = people["pay_volatility"].to_numpy()[person]
    trade = people["se_monthly"].to_numpy()[person]
    return (pay * month_factor(volatility, len(person), rng)
            + trade * month_factor(SELF_EMPLOYMENT_VOLATILITY, len(person), rng))


def _work_within_benefit_rules(people: pd.DataFrame, live_person: np.ndarray, live_type: np.ndarray,
                               rng: np.random.Generator) -> pd.DataFrame:
    """Live claimants' work, made consistent with what their benefits allow.

    Pension credit, ESA, JSA and carer's allowance claimants rarely work, and
    then only for small earnings under the benefit's limit (the strictest of
    a person's live benefits applies); universal credit claimants may work
    any amount. A few universal credit claimants' jobs ended during the last
    year (modest pay; nothing declared now). Everyone else's job runs on.
    """
    n = len(people)
    limit = np.full(n, np.inf)
    work_share = np.ones(n)
    for btype, (share, most) in SMALL_EARNINGS_RULES.items():
        holders = live_person[live_type == btype]
        limit[holders] = np.minimum(limit[holders], most)
        work_share[holders] = np.minimum(work_share[holders], share)
    claimant = np.zeros(n, dtype=bool)
    claimant[live_person] = True
    restricted = np.isfinite(limit)

    employed = people["employed"].to_numpy()
    paye = people["paye_monthly"].to_numpy()
    job_start = people["job_start_month"].to_numpy()
    job_end = np.where(claimant, LAST_MONTH, people["job_end_month"].to_numpy())
    small_work = restricted & (rng.random(n) < work_share)
    small_pay = np.where(restricted, limit, 0.0) * rng.uniform(0.25, 1.0, n)
    ended = claimant & ~restricted & employed & (rng.random(n) < ENDED_JOB_SHARE)
    end_month = rng.integers(LAST_MONTH - 11, LAST_MONTH - 1, n)
    return people.assign(
        employed=np.where(restricted, small_work, employed),
        paye_monthly=np.select([restricted, ended],
                               [np.where(small_work, small_pay, 0.0),
                                np.minimum(paye, rng.uniform(300, 900, n))], paye),
        pay_volatility=np.where(restricted, 0.05, people["pay_volatility"].to_numpy()),
        job_end_month=np.where(ended, end_month, job_end),
        job_start_month=np.where(ended, np.minimum(job_start, end_month), job_start),
        self_employed=people["self_employed"].to_numpy() & ~restricted,
        se_monthly=np.where(restricted, 0.0, people["se_monthly"].to_numpy()),
    )


def benefit_award(claims: pd.DataFrame, people: pd.DataFrame, addresses: pd.DataFrame,
                  rng: np.random.Generator) -> np.ndarray:
    """Monthly award of each benefit claim from what it declares.

    Simplified rules: universal credit (allowances, child and housing elements,
    earnings taper, capital tariff), pension credit (guarantee less income),
    flat rates for ESA, JSA and carer's allowance; some awards carry
    deductions (advance repayments) or an extra component.
    """
    n = len(claims)
    btype = claims["benefit_type"].to_numpy()
    partner = claims["declared_partner"].to_numpy()
    children = claims["children_in_household"].to_numpy()
    housing = claims["monthly_housing_costs"].to_numpy()
    earnings = claims["declared_monthly_earnings"].to_numpy()
    savings = claims["declared_savings"].to_numpy()
    person = claims["person"].to_numpy()
    address = claims["address"].to_numpy()
    young = people["age"].to_numpy()[person] < 25
    cap = 1.3 * local_norm_rent(addresses["la"].to_numpy()[address],
                                addresses["bedrooms"].to_numpy()[address])

    standard = np.where(partner, 630.0, np.where(young, 317.0, 400.0))
    housing_element = np.minimum(housing, cap)
    work_allowance = np.where(children > 0, np.where(housing > 0, 404.0, 673.0), 0.0)
    taper = 0.55 * np.maximum(0.0, earnings - work_allowance)
    tariff = np.floor(np.maximum(0.0, savings - 6000.0) / 250.0) * 4.35
    universal = standard + 292.0 * children + housing_element - taper - tariff
    deduction = np.where(rng.random(n) < 0.15, rng.uniform(20, 120, n), 0.0)
    universal = universal - deduction

    guarantee = np.where(partner, 1450.0, 950.0)
    pension = guarantee - earnings - np.floor(np.maximum(0.0, savings - 10000.0) / 500.0) * 4.35
    support = np.where(rng.random(n) < 0.4, 205.0, 0.0)
    award = np.select(
        [btype == UC, btype == PC, btype == ESA, btype == JSA],
        [universal, pension, 395.0 + support + 150.0 * partner, 390.0 * np.ones(n)],
        default=360.0,
    )
    return np.round(np.maximum(award, 0.0), 2)


def _live_benefit_types(people: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """The benefit each person claims now, or -1; couples make one joint claim."""
    n = len(people)
    age = people["age"].to_numpy()
    dep = people["deprivation"].to_numpy()
    earnings = current_earnings(people)
    adult = people["role"].to_numpy() != CHILD
    working = earnings > 0
    pension_age = age >= 66
    p_claim = _sigmoid(np.where(pension_age, 1.6, 3.0) + 0.9 * dep
                       - 0.002 * np.maximum(0.0, earnings - 600))
    claims = adult & (rng.random(n) < p_claim)
    draw = rng.random(n)
    # Carer's allowance has an earnings limit.
    working_type = np.where((draw < 0.85) | (earnings > 850), UC, CA)
    idle_type = np.select([draw < 0.55, draw < 0.8, draw < 0.9], [UC, ESA, JSA], CA)
    btype = np.where(pension_age, PC, np.where(working, working_type, idle_type))
    btype = np.where(claims, btype, -1)

    # A couple's universal or pension credit is one joint claim, made by the head.
    partner = (people["role"].to_numpy() == SECOND_ADULT) & people["couple"].to_numpy()
    head_type = pd.Series(btype).groupby(people["household"].to_numpy()).transform("first")
    joint = partner & np.isin(btype, (UC, PC)) & (head_type.to_numpy() == btype)
    return np.where(joint, np.where(rng.random(n) < 0.3, CA, -1), btype)


def first_claim_day(dob: np.ndarray) -> np.ndarray:
    """The earliest day a person can have a claim: adulthood, and not before the world's records."""
    return np.maximum(dob + np.round(18 * DAYS_PER_YEAR).astype("timedelta64[D]"), EARLIEST_DAY)


def _claim_dates(dob: np.ndarray, live: bool, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Start and end dates; live claims have no end (or one after the as-of date)."""
    n = len(dob)
    floor = first_claim_day(dob)
    if live:
        back = np.round(rng.exponential(3.0, n) * DAYS_PER_YEAR).astype("timedelta64[D]")
        start = np.maximum(np.minimum(AS_OF_DAY - back, AS_OF_DAY - 7), floor)
        future = rng.random(n) < 0.03
        end = np.where(future, AS_OF_DAY + rng.integers(30, 365, n).astype("timedelta64[D]"),
                       np.datetime64("NaT"))
        return start, end.astype("datetime64[D]")
    span = (AS_OF_DAY - floor).astype(np.int64)
    start = floor + (rng.random(n) * np.maximum(span - 60, 1)).astype("timedelta64[D]")
    duration = np.round(rng.lognormal(np.log(400), 0.8, n)).astype("timedelta64[D]")
    end = np.minimum(start + duration + np.timedelta64(30, "D"), AS_OF_DAY - 1)
    return start, end


def submitted_at(start: np.ndarray, channel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Submission timestamps a few days before the claim starts; offices keep office hours."""
    n = len(start)
    office_hour = rng.uniform(9, 17, n)
    any_hour = np.where(rng.random(n) < 0.85, rng.uniform(7, 23.9, n), rng.uniform(0, 24, n))
    hour = np.where(channel == 0, any_hour, office_hour)
    seconds = (hour * 3600).astype(np.int64).astype("timedelta64[s]")
    day = start - rng.integers(0, 11, n).astype("timedelta64[D]")
    return day.astype("datetime64[s]") + seconds


def _benefit_rows(people: pd.DataFrame, addresses: pd.DataFrame, person: np.ndarray,
                  btype: np.ndarray, live: bool, rng: np.random.Generator) -> pd.DataFrame:
    """Claims of the given people and types, declared honestly."""
    n = len(person)
    role = people["role"].to_numpy()[person]
    couple = people["couple"].to_numpy()[person]
    means_tested = np.isin(btype, (UC, PC, ESA, JSA))
    partner = couple & means_tested
    family = (role == HEAD) | (couple & (role == SECOND_ADULT))
    adult_child_counted = (role == HEAD) & (people["household_adults"].to_numpy()[person] == 3) & (
        rng.random(n) < 0.4)
    children = np.where(family, people["household_children"].to_numpy()[person], 0)
    children = np.maximum(0, children + rng.choice([-1, 0, 1], n, p=[0.015, 0.97, 0.015]))

    # Flatmates pay half the rent, lodgers pay for a room, adult children pay nothing.
    rent_share = np.select(
        [family, role == SECOND_ADULT, people["lodger"].to_numpy()[person]], [1.0, 0.5, 0.4], 0.0)
    rent = tenant_rent(people, addresses, person)
    service_charge = np.where(rng.random(n) < 0.06, rng.uniform(40, 150, n), 0.0)
    housing = np.where(btype == UC, np.where(rent > 0, rent, service_charge) * rent_share, 0.0)
    housing = housing * rng.uniform(0.97, 1.03, n)
    housing = np.where(rng.random(n) < 0.5, np.round(housing), np.round(housing, 2))

    # Live claims declare the earnings the claimant has now; ended claims are kept as they were
    # made, when only universal credit and carer's allowance claimants had earnings to declare.
    earnings = declared_earnings(people, person, rng)
    earnings = np.where(live | np.isin(btype, (UC, CA)), earnings, 0.0)
    # Capital spent earlier in the window is no longer declared; disregarded capital never is.
    spent = people["capital_until_month"].to_numpy()[person] < TAX_MONTHS - 1
    capital = np.where(spent, 0.0, people["capital"].to_numpy()[person])
    savings = np.where(capital >= 1000, capital * rng.uniform(0.85, 1.05, n),
                       np.where(rng.random(n) < 0.5, capital, 0.0))

    age = people["age"].to_numpy()[person]
    channel_draw = rng.random(n) + np.where(age >= 60, 0.35, 0.0)
    channel = np.select([channel_draw < 0.72, channel_draw < 0.9], [0, 1], 2)
    dob = day_array(people["dob"])[person]
    start, end = _claim_dates(dob, live, rng)
    # Past claims of people who moved (late enough to have claimed before) were made
    # from their previous home, and ended before the move.
    moved = day_array(people["moved_in"])[person]
    prev = people["prev_address"].to_numpy()[person]
    from_prev = ~live & (prev >= 0) & (moved - 60 > first_claim_day(dob))
    end = np.where(from_prev, np.minimum(end, moved - 1), end)
    start = np.where(from_prev, np.maximum(np.minimum(start, end - 30), first_claim_day(dob)), start)
    address = np.where(from_prev, prev, people["address"].to_numpy()[person])
    return pd.DataFrame({
        "person": person,
        "benefit_type": btype,
        "live": np.full(n, live),
        "address": address,
        "claim_start": start,
        "claim_end": end,
        "declared_monthly_earnings": np.round(earnings, 2),
        "declared_savings": np.round(savings, 2),
        "declared_partner": partner,
        "adults_in_household": 1 + partner + adult_child_counted,
        "children_in_household": children,
        "monthly_housing_costs": housing,
        "channel": channel,
        "submitted_at": submitted_at(start, channel, rng),
        "typology": np.full(n, "", dtype=object),
        "disguised": np.zeros(n, dtype=bool),
    })


def _contact_tokens(claims: pd.DataFrame, people: pd.DataFrame, rng: np.random.Generator,
                    person_offset: int) -> pd.DataFrame:
    """Payee account, phone and e-mail tokens; couples often share them, appointees pay many."""
    n = len(claims)
    person = claims["person"].to_numpy()
    household = people["household"].to_numpy()
    head_of = pd.Series(np.arange(len(people))).groupby(household).transform("first").to_numpy()
    couple = people["couple"].to_numpy()[person]
    head = head_of[person]
    own = person_offset + person
    shared = person_offset + head

    def token(share: float, present: np.ndarray) -> np.ndarray:
        """A couple member's own or the household's shared token; -1 where there is none."""
        pick = np.where(couple & (rng.random(n) < share), shared, own)
        return np.where(present, pick, -1)

    age = people["age"].to_numpy()[person]
    bank = token(0.5, np.ones(n, dtype=bool))
    phone = token(0.4, rng.random(n) < 0.88)
    email = token(0.25, rng.random(n) < np.where(age >= 65, 0.35, 0.8))

    # Honest sharing across households: professional appointees receive the benefits
    # of several vulnerable claimants; support workers and relatives give their phone.
    live = claims["live"].to_numpy()
    btype = claims["benefit_type"].to_numpy()
    la = people["la"].to_numpy()[person]
    rows, group = _local_groups(np.flatnonzero(live & np.isin(btype, (PC, ESA)) & (rng.random(n) < 0.02)),
                                la, 3, 13, rng)
    bank[rows] = APPOINTEE_TOKENS + person_offset + group
    rows, group = _local_groups(np.flatnonzero(live & (btype != CA) & (rng.random(n) < 0.015)),
                                la, 2, 7, rng)
    helper = SUPPORT_TOKENS + person_offset + group
    by_email = (rng.random(len(rows)) < 0.3)[group]
    phone[rows[~by_email]] = helper[~by_email]
    email[rows[by_email]] = helper[by_email]
    return claims.assign(bank_token=bank, phone_token=phone, email_token=email)


def _local_groups(rows: np.ndarray, la: np.ndarray, smallest: int, largest: int,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Split ``rows`` into groups of ``smallest..largest-1`` rows within one local authority.

    Returns the rows in group order and each row's group number (a group may
    straddle two authorities at the boundary of the sort, as helpers sometimes do).
    """
    rows = rows[np.argsort(la[rows], kind="stable")]
    sizes = rng.integers(smallest, largest, len(rows))
    return rows, np.searchsorted(np.cumsum(sizes), np.arange(len(rows)), side="right")


def make_benefit_claims(population: Population, person_offset: int,
                        rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Honest benefit claims of a chunk, live and ended.

    Means-tested claimants hold capital under the limit (those above it would
    not qualify), so the people table comes back with that adjusted.

    Returns
    -------
    tuple of pandas.DataFrame
        ``(claims, people)``.
    """
    people, addresses = population.people, population.addresses
    btype = _live_benefit_types(people, rng)
    n = len(people)
    means_tested = np.isin(btype, (UC, PC))
    capital = people["capital"].to_numpy()
    capital = np.where(means_tested & (capital > CAPITAL_LIMIT),
                       rng.uniform(0, CAPITAL_LIMIT * 0.9, n), capital)
    # Honest look-alikes of hidden capital: savings spent during the window (interest
    # stops) and capital the rules disregard (compensation), which still earns interest.
    spender = means_tested & (rng.random(n) < 0.02)
    disregarded = means_tested & ~spender & (rng.random(n) < 0.01)
    people = people.assign(
        capital=np.where(spender, rng.uniform(18_000, 60_000, n), capital),
        capital_until_month=np.where(spender, rng.integers(2, 14, n),
                                     people["capital_until_month"].to_numpy()),
        disregarded_capital=np.where(disregarded, rng.uniform(15_000, 80_000, n), 0.0),
    )

    live_person = np.flatnonzero(btype >= 0)
    carers = live_person[(btype[live_person] == UC) & (rng.random(len(live_person)) < 0.15)]
    live_person = np.concatenate([live_person, carers])
    live_type = np.concatenate([btype[btype >= 0], np.full(len(carers), CA)])
    people = _work_within_benefit_rules(people, live_person, live_type, rng)

    adult = np.flatnonzero(people["role"].to_numpy() != CHILD)
    past_count = rng.poisson(0.6 + 0.15 * np.clip(people["deprivation"].to_numpy()[adult], -2, 2))
    past_person = np.repeat(adult, past_count)
    pension_age = people["age"].to_numpy()[past_person] >= 70
    past_type = np.where(pension_age, PC, rng.choice([UC, ESA, JSA, CA], len(past_person),
                                                      p=[0.6, 0.15, 0.18, 0.07]))
    claims = pd.concat([
        _benefit_rows(people, addresses, live_person, live_type, True, rng),
        _benefit_rows(people, addresses, past_person, past_type, False, rng),
    ], ignore_index=True)
    # People entitled to nothing rarely keep a claim open; a few nil awards remain.
    nil = benefit_award(claims, people, addresses, rng) == 0
    claims = claims[~(nil & (rng.random(len(claims)) < 0.85))].reset_index(drop=True)
    claims = _contact_tokens(claims, people, rng, person_offset)
    return claims, people


def _housing_rows(person: np.ndarray, scheme: np.ndarray, address: np.ndarray,
                  start: np.ndarray, end: np.ndarray, rent: np.ndarray,
                  occupants: np.ndarray, landlord: np.ndarray, award: np.ndarray) -> pd.DataFrame:
    """Assemble housing claim rows (rent is NaN where the scheme has none)."""
    return pd.DataFrame({
        "person": person,
        "scheme": scheme,
        "address": address,
        "start_date": start,
        "end_date": end.astype("datetime64[D]"),
        "monthly_rent": np.round(rent, 2),
        "occupants_declared": occupants,
        "landlord_ref": landlord,
        "monthly_award": np.round(award, 2),
        "typology": np.full(len(person), "", dtype=object),
        "disguised": np.zeros(len(person), dtype=bool),
    })


def landlord_refs(la: np.ndarray, social: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Landlord references: a housing association per LA for social homes, else a private landlord."""
    n = len(la)
    association = "HA" + pd.Series(la * 10 + rng.integers(0, 4, n)).astype(str).str.zfill(4)
    private = "LL" + pd.Series(rng.zipf(1.6, n) % 100_000).astype(str).str.zfill(6)
    return np.where(social, association.to_numpy(dtype=object), private.to_numpy(dtype=object))


def housing_benefit_award(rent: np.ndarray, la: np.ndarray, bedrooms: np.ndarray,
                          on_benefit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Housing benefit: eligible rent (capped near the local norm) less an income taper."""
    eligible = np.minimum(rent, 1.1 * local_norm_rent(la, bedrooms))
    share = np.where(on_benefit, 1.0, rng.uniform(0.3, 0.9, len(rent)))
    return eligible * share


def make_housing_claims(population: Population, benefit_claims: pd.DataFrame,
                        rng: np.random.Generator) -> pd.DataFrame:
    """Honest housing claims of a chunk: the four schemes, live and ended.

    Parameters
    ----------
    population : Population
        The chunk.
    benefit_claims : pandas.DataFrame
        The chunk's benefit claims (who is on a legacy benefit gets housing benefit).
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    pandas.DataFrame
        One row per housing claim, keyed by local person and address.
    """
    people, addresses, hh = population.people, population.addresses, population.households
    head = np.flatnonzero(people["role"].to_numpy() == HEAD)
    n = len(head)
    house = people["household"].to_numpy()[head]
    address = people["address"].to_numpy()[head]
    la = addresses["la"].to_numpy()[address]
    bedrooms = addresses["bedrooms"].to_numpy()[address]
    ptype = addresses["property_type"].to_numpy()[address]
    tenure = people["tenure"].to_numpy()[head]
    occupants = (hh["adults"] + hh["children"]).to_numpy()[house]
    moved_in = day_array(people["moved_in"])[head]
    floor = first_claim_day(day_array(people["dob"])[head])
    start = moved_in + rng.integers(0, 30, n).astype("timedelta64[D]")
    start = np.maximum(np.minimum(start, AS_OF_DAY - 1), floor)
    no_end = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    rent = tenant_rent(people, addresses, head)
    ctax = council_tax(la, bedrooms)

    live = benefit_claims[benefit_claims["live"]]
    on_legacy = np.zeros(len(people), dtype=bool)
    on_legacy[live["person"].to_numpy()[np.isin(live["benefit_type"], (PC, ESA, JSA))]] = True
    on_any = np.zeros(len(people), dtype=bool)
    on_any[live["person"].to_numpy()[live["benefit_type"].to_numpy() != CA]] = True
    pensioner = people["age"].to_numpy()[head] >= 66
    renter = tenure != OWNER
    social_home = (tenure == SOCIAL_RENT) & (ptype != HMO)

    take_social = social_home & (rng.random(n) < 0.9)
    take_hb = renter & (on_legacy[head] | (pensioner & (rng.random(n) < 0.2))) & (rng.random(n) < 0.7)
    take_ctr = on_any[head] & (rng.random(n) < 0.3)
    single = (occupants == 1) & (ptype != HMO)
    take_spd = single & (rng.random(n) < 0.5)
    # Many become single after moving in (a partner left or died) and claim then.
    later = rng.integers(30, 3000, n).astype("timedelta64[D]")
    spd_start = np.where(rng.random(n) < 0.4, np.minimum(start + later, AS_OF_DAY - 1), start)

    market = addresses["market_rent"].to_numpy()[address]
    parts = [
        _housing_rows(head[take_social], np.full(take_social.sum(), SOCIAL), address[take_social],
                      start[take_social], no_end[take_social],
                      rent[take_social] * rng.uniform(0.95, 1.05, take_social.sum()),
                      occupants[take_social], landlord_refs(la[take_social], np.ones(take_social.sum(), bool), rng),
                      np.maximum(market[take_social] - rent[take_social], 0)),
        _housing_rows(head[take_hb], np.full(take_hb.sum(), HB), address[take_hb], start[take_hb],
                      no_end[take_hb], rent[take_hb], occupants[take_hb],
                      landlord_refs(la[take_hb], tenure[take_hb] == SOCIAL_RENT, rng),
                      housing_benefit_award(rent[take_hb], la[take_hb], bedrooms[take_hb],
                                            on_legacy[head[take_hb]], rng)),
        _housing_rows(head[take_ctr], np.full(take_ctr.sum(), CTR), address[take_ctr], start[take_ctr],
                      no_end[take_ctr], np.full(take_ctr.sum(), np.nan), occupants[take_ctr],
                      np.full(take_ctr.sum(), None, dtype=object),
                      ctax[take_ctr] * rng.uniform(0.3, 1.0, take_ctr.sum())),
        _housing_rows(head[take_spd], np.full(take_spd.sum(), SPD), address[take_spd], spd_start[take_spd],
                      no_end[take_spd], np.full(take_spd.sum(), np.nan), np.ones(take_spd.sum(), int),
                      np.full(take_spd.sum(), None, dtype=object), 0.25 * ctax[take_spd]),
    ]

    # Movers' claims at their previous home end around the move (a few weeks' run-on is allowed).
    prev = hh["prev_address"].to_numpy()[house]
    mover = (prev >= 0) & (rng.random(n) < 0.25) & (moved_in > floor + 365)
    m = int(mover.sum())
    old_scheme = rng.choice([HB, CTR, SPD, SOCIAL], m, p=[0.3, 0.3, 0.25, 0.15])
    old_address = prev[mover]
    old_la = addresses["la"].to_numpy()[old_address]
    old_bed = addresses["bedrooms"].to_numpy()[old_address]
    old_market = addresses["market_rent"].to_numpy()[old_address]
    old_rent = np.where(old_scheme == SOCIAL, old_market * SOCIAL_RENT_FACTOR, old_market)
    old_end = moved_in[mover] + rng.integers(-10, 28, m).astype("timedelta64[D]")
    old_end = np.minimum(old_end, AS_OF_DAY - 1)
    years = np.round(rng.uniform(0.5, 6, m) * DAYS_PER_YEAR).astype("timedelta64[D]")
    old_start = np.maximum(old_end - years, floor[mover])
    has_rent = np.isin(old_scheme, (HB, SOCIAL))
    old_ctax = council_tax(old_la, old_bed)
    old_award = np.select(
        [old_scheme == HB, old_scheme == SOCIAL, old_scheme == CTR],
        [housing_benefit_award(old_rent, old_la, old_bed, np.ones(m, bool), rng),
         old_market - old_rent, old_ctax * rng.uniform(0.3, 1.0, m)],
        default=0.25 * old_ctax,
    )
    parts.append(_housing_rows(
        head[mover], old_scheme, old_address, old_start, old_end,
        np.where(has_rent, old_rent, np.nan),
        np.where(old_scheme == SPD, 1, rng.integers(1, 5, m)),
        np.where(has_rent, landlord_refs(old_la, old_scheme == SOCIAL, rng), None),
        old_award,
    ))
    return pd.concat(parts, ignore_index=True)

