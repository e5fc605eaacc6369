"""Who lives at a subject's address: arrivals, other registered adults, possible partners."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.build.keys import TOKEN_COLUMNS, _at, _distinct_count, _Keys
from features.build.subjects import _Subjects

ARRIVAL_TOLERANCE = np.timedelta64(92, "D")
"""People registering up to this long before the claimant's arrival count as arriving with them."""
SHARED_HOUSE = "hmo"
"""The address register's property type of a house in multiple occupation, whose rooms change hands often."""

def _arrival(subjects: pd.DataFrame, subject: _Subjects, electors: pd.DataFrame, keys: _Keys) -> np.ndarray:
    """When each claimant arrived at the claimed address: the claim start, or their own registration there when earlier."""
    registered_from = electors["registered_from"].to_numpy("datetime64[ns]")
    latest = np.full(keys.people, -1, dtype=np.int64)
    latest[keys.elector_person] = np.arange(len(electors))  # one (latest) registration per person
    own = _at(latest, subject.person)
    own_here = (own >= 0) & (_at(keys.elector_address, own) == subject.address) & (subject.address >= 0)
    own_from = _at(registered_from, np.where(own_here, own, -1), np.datetime64("NaT", "ns"))
    start = subjects["start"].to_numpy("datetime64[ns]")
    return np.where(own_here & (own_from < start), own_from, start)

def _registered_at_arrival(subjects: pd.DataFrame, arrival: np.ndarray) -> np.ndarray:
    """Whether the arrival is the claimant's own registration at the address (earlier than the claim start)."""
    return arrival < subjects["start"].to_numpy("datetime64[ns]")

def _address_context(subjects: pd.DataFrame, subject: _Subjects, electors: pd.DataFrame, keys: _Keys,
                     earning: np.ndarray, moved_from_elsewhere: np.ndarray, arrival: np.ndarray) -> pd.DataFrame:
    """Who else is registered, and who of them earns, at each subject's address since the claimant arrived;
    and who else holds a live claim there.

    The register keeps stale entries (earlier occupants who never re-registered, adult
    children long gone), so only people whose latest registration at the address dates
    from the claimant's arrival (less :data:`ARRIVAL_TOLERANCE`) count as living there now.
    The arrival is the claim start, or the claimant's own registration at the address when earlier.
    Those registering within the tolerance either side of the arrival moved in with the
    claimant (a household registers over a few weeks); the others moved in later, and of those,
    the ones registered before at another address (``moved_from_elsewhere``, per person) came
    from another home, unlike a child of the household coming of age.
    """
    index = subjects.index
    registered_from = electors["registered_from"].to_numpy("datetime64[ns]")
    asking = pd.DataFrame({"row": np.arange(len(index)), "address": subject.address, "person": subject.person,
                           "since": arrival - ARRIVAL_TOLERANCE})
    asking = asking.loc[subject.address >= 0]
    residents = pd.DataFrame({"address": keys.elector_address, "other": keys.elector_person,
                              "registered_from": registered_from})
    pairs = asking.merge(residents.loc[residents["address"] >= 0], on="address")
    pairs = pairs.loc[(pairs["other"] != pairs["person"]) & (pairs["registered_from"] >= pairs["since"])]
    rows = pairs["row"].to_numpy(np.int64)
    later = (pairs["registered_from"] > pairs["since"] + 2 * ARRIVAL_TOLERANCE).to_numpy()

    def per_subject(weights: np.ndarray) -> np.ndarray:
        return np.bincount(rows, weights=weights.astype(np.float64), minlength=len(index))

    # people with live claims at each address (the subjects are the live claims), the claimant aside
    claimants_here = _at(_distinct_count(subject.address, subject.person, keys.people, keys.addresses),
                         subject.address, 1)

    return pd.DataFrame(
        {
            "claimant_arrival": arrival,
            "claimant_registered_at_arrival": _registered_at_arrival(subjects, arrival).astype(np.float64),
            "other_registered_adults": per_subject(np.ones(len(rows))),
            "adults_moved_in_with_claimant": per_subject(~later),
            "adults_moved_in_later": per_subject(later),
            "adults_moved_in_later_from_elsewhere": per_subject(later & moved_from_elsewhere[pairs["other"].to_numpy(np.int64)]),
            "other_earning_adults": per_subject(earning[pairs["other"].to_numpy(np.int64)]),
            "other_claimants_at_address": (claimants_here - 1).astype(np.float64),
            "shared_house": (subjects["property_type"] == SHARED_HOUSE).to_numpy(np.float64),
        },
        index=index,
    )

def _possible_partners(subjects: pd.DataFrame, subject: _Subjects, electors: pd.DataFrame, keys: _Keys,
                       arrival: np.ndarray) -> pd.Series:
    """Other people at a benefit claim's address sharing its surname, or a token on a live claim there.

    Registrations from before the claimant's arrival (less :data:`ARRIVAL_TOLERANCE`) are
    stale entries of earlier occupants, not partners; live claims at the address always count.
    """
    named = pd.DataFrame(
        {
            "address": np.concatenate([keys.elector_address, subject.address]),
            "surname": np.concatenate([keys.elector_surname, subject.surname]),
            "other": np.concatenate([keys.elector_person, subject.person]),
            "since": np.concatenate([electors["registered_from"].to_numpy("datetime64[ns]"),
                                     np.full(len(subject.person), np.datetime64("NaT", "ns"))]),
        }
    )
    named = named.loc[(named["address"] >= 0) & (named["surname"] >= 0)].drop_duplicates()
    asking = pd.DataFrame(
        {"row": np.arange(len(subjects)), "address": subject.address, "surname": subject.surname,
         "person": subject.person, "arrival": arrival - ARRIVAL_TOLERANCE}
    ).loc[(subjects["subject_type"] == "benefit_claim").to_numpy() & (subject.address >= 0)]
    by_name = asking.merge(named, on=["address", "surname"])
    by_name = by_name.loc[by_name["since"].isna() | (by_name["since"] >= by_name["arrival"])]
    matches = [by_name[["row", "person", "other"]]]
    for token in TOKEN_COLUMNS:
        holders = pd.DataFrame({"address": subject.address, "token": subject.tokens[token], "other": subject.person})
        holders = holders.loc[(holders["token"] >= 0) & (holders["address"] >= 0)].drop_duplicates()
        asking_token = asking.assign(token=subject.tokens[token][asking["row"].to_numpy()])
        matches.append(asking_token.merge(holders, on=["address", "token"])[["row", "person", "other"]])
    pairs = pd.concat(matches)
    pairs = pairs.loc[pairs["person"] != pairs["other"]]
    counts = _distinct_count(pairs["row"].to_numpy(np.int64), pairs["other"].to_numpy(np.int64), keys.people,
                             len(subjects)).astype(np.float64)
    return pd.Series(counts, index=subjects.index, name="possible_partners")
