"""The electoral register, equality monitoring and past investigations of a chunk."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.contract import TYPOLOGIES
from synthetic.constants import (
    CA,
    ESA,
    JSA,
    LA_LONDON,
    MALE,
    UC,
    UNKNOWN_SEX,
)
from synthetic.population import AS_OF_DAY, CHILD, DAYS_PER_YEAR, day_array

BENEFIT_TYPOLOGIES = TYPOLOGIES["benefit_claim"]
HOUSING_TYPOLOGIES = TYPOLOGIES["housing_claim"]


def make_electoral_register(people: pd.DataFrame, extra: pd.DataFrame,
                            rng: np.random.Generator) -> pd.DataFrame:
    """Adults registered to vote at their home, plus stale and duplicate registrations.

    Most adults are registered where they live (some never register); many
    who moved are still on the register at their previous home; a few appear
    twice at home after a change of name; fraud may add registrations.

    Parameters
    ----------
    people : pandas.DataFrame
        People of the chunk (``must_register`` forces a home registration).
    extra : pandas.DataFrame
        Further registrations: person, address, registered_from.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    pandas.DataFrame
        Columns person, address, registered_from, renamed (registered under another surname).
    """
    n = len(people)
    adult = (people["role"].to_numpy() != CHILD) & (people["age"].to_numpy() >= 18)
    dob = day_array(people["dob"])
    came_of_age = dob + np.round(18 * DAYS_PER_YEAR).astype("timedelta64[D]")
    moved_in = day_array(people["moved_in"])
    home = adult & ((rng.random(n) < 0.93) | people["must_register"].to_numpy())
    home_from = np.maximum(moved_in, came_of_age) + rng.integers(0, 60, n).astype("timedelta64[D]")
    home_from = np.minimum(home_from, AS_OF_DAY)

    prev = people["prev_address"].to_numpy()
    stale = adult & (prev >= 0) & (came_of_age < moved_in) & (rng.random(n) < 0.75)
    years = np.round(rng.uniform(1, 8, n) * DAYS_PER_YEAR).astype("timedelta64[D]")
    stale_from = np.maximum(moved_in - years, came_of_age)
    renamed = home & (rng.random(n) < 0.02)

    who = np.flatnonzero(home)
    old = np.flatnonzero(stale)
    twice = np.flatnonzero(renamed)
    address = people["address"].to_numpy()
    return pd.DataFrame({
        "person": np.concatenate([who, old, twice, extra["person"].to_numpy()]),
        "address": np.concatenate([address[who], prev[old], address[twice], extra["address"].to_numpy()]),
        "registered_from": np.concatenate([home_from[who], stale_from[old],
                                           np.maximum(home_from[twice] - 700, came_of_age[twice]),
                                           day_array(extra["registered_from"])]),
        "renamed": np.concatenate([np.zeros(len(who) + len(old), bool), np.ones(len(twice), bool),
                                   np.zeros(len(extra), bool)]),
    })


def protected_characteristics(people: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Ethnicity, nationality and disability of every person (codes into the enums)."""
    n = len(people)
    london = LA_LONDON[people["la"].to_numpy()]
    white_share = np.where(london, 0.5, 0.82)
    draw = rng.random(n)
    minority = rng.choice([0, 1, 2, 4], n, p=[0.45, 0.3, 0.15, 0.1])
    ethnicity = np.where(draw < white_share, 3, minority)
    nationality = np.select([draw < white_share * 0.92, rng.random(n) < 0.55], [0, 1], 2)
    nationality = np.where(ethnicity != 3, np.where(rng.random(n) < 0.7, 0, 2), nationality)
    age = people["age"].to_numpy()
    disabled = rng.random(n) < 0.08 + 0.004 * np.clip(age - 30, 0, 60)
    return pd.DataFrame({"ethnicity": ethnicity, "nationality": nationality, "disabled": disabled})


def make_equality_monitoring(claim_person: np.ndarray, benefit_type: np.ndarray,
                             people: pd.DataFrame, traits: pd.DataFrame,
                             rng: np.random.Generator) -> pd.DataFrame:
    """Protected characteristics collected with each claim (codes into the enums).

    Parameters
    ----------
    claim_person : numpy.ndarray
        Local person of each claim (benefit claims first, then housing claims).
    benefit_type : numpy.ndarray
        Benefit type of each claim, -1 for housing claims.
    people, traits : pandas.DataFrame
        People and their protected characteristics.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    pandas.DataFrame
        Columns sex, ethnicity_group, disability, nationality_group as enum codes.
    """
    n = len(claim_person)
    sex = people["sex"].to_numpy()[claim_person]
    sex = np.where(rng.random(n) < 0.03, UNKNOWN_SEX, sex)
    ethnicity = np.where(rng.random(n) < 0.06, 5, traits["ethnicity"].to_numpy()[claim_person])
    disabled = traits["disabled"].to_numpy()[claim_person] | ((benefit_type == ESA) & (rng.random(n) < 0.9))
    disability = np.where(rng.random(n) < 0.07, 2, np.where(disabled, 0, 1))
    nationality = np.where(rng.random(n) < 0.04, 3, traits["nationality"].to_numpy()[claim_person])
    return pd.DataFrame({"sex": sex, "ethnicity_group": ethnicity, "disability": disability,
                         "nationality_group": nationality})


def make_investigations(claim_person: np.ndarray, benefit_type: np.ndarray, channel: np.ndarray,
                        children: np.ndarray, start: np.ndarray, typology: np.ndarray,
                        equality: pd.DataFrame, people: pd.DataFrame,
                        rng: np.random.Generator) -> pd.DataFrame:
    """Closed investigations chosen by an old rule-based method (biased), with outcomes.

    The old rules over-select young men, non-UK nationals, black and asian
    claimants, jobseekers and universal credit, in-person claims and large
    families; they catch some real fraud but miss most. About 1.5 % of claims
    are investigated.

    Parameters
    ----------
    claim_person, benefit_type, channel, children, start, typology : numpy.ndarray
        Per claim (benefit claims first, then housing claims; -1 / 0 where the
        field does not apply).
    equality : pandas.DataFrame
        Equality monitoring codes of the same claims.
    people : pandas.DataFrame
        People of the chunk.
    rng : numpy.random.Generator
        Random source.

    Returns
    -------
    pandas.DataFrame
        Columns claim (position), outcome (code), closed_on, typology.
    """
    n = len(claim_person)
    age = people["age"].to_numpy()[claim_person]
    male = people["sex"].to_numpy()[claim_person] == MALE
    fraud = typology != ""
    score = (0.9 * (benefit_type == JSA) + 0.5 * (benefit_type == UC) - 0.8 * (benefit_type == CA)
             + 0.8 * (equality["nationality_group"].to_numpy() == 2)
             + 0.5 * np.isin(equality["ethnicity_group"].to_numpy(), (0, 1))
             + 0.5 * (male & (age < 35)) + 0.4 * (channel == 2) + 0.5 * (children >= 4)
             + 2.2 * fraud)
    weight = np.exp(score)
    chosen = np.flatnonzero(rng.random(n) < weight * (0.015 * n / weight.sum()))
    k = len(chosen)
    draw = rng.random(k)
    outcome = np.where(fraud[chosen], np.select([draw < 0.75, draw < 0.85], [0, 1], 2),
                       np.select([draw < 0.02, draw < 0.14], [0, 1], 2))
    # A finding of fraud on an honest claim (an error of the old process) names a typology
    # of the claim's own kind.
    benefit_guess = np.array(BENEFIT_TYPOLOGIES, dtype=object)[rng.integers(0, len(BENEFIT_TYPOLOGIES), k)]
    housing_guess = np.array(HOUSING_TYPOLOGIES, dtype=object)[rng.integers(0, len(HOUSING_TYPOLOGIES), k)]
    guess = np.where(benefit_type[chosen] >= 0, benefit_guess, housing_guess)
    found = np.where(typology[chosen] != "", typology[chosen], guess)
    earliest = np.minimum(np.maximum(day_array(start[chosen]) + 60,
                                     AS_OF_DAY - np.timedelta64(3 * 365, "D")), AS_OF_DAY - 1)
    span = np.maximum((AS_OF_DAY - earliest).astype(np.int64), 1)
    closed = earliest + (rng.random(k) * span).astype("timedelta64[D]")
    return pd.DataFrame({
        "claim": chosen,
        "outcome": outcome,
        "closed_on": closed,
        "typology": np.where(outcome == 0, found, None).astype(object),
    })

