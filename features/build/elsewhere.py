"""Other claims that share a subject's details, the same person's claims elsewhere, and what the other source says of the same home."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.build.keys import (
    _alone_where_missing,
    _at,
    _distinct,
    _distinct_count,
    _factorize,
    _Keys,
    _pair,
    _take,
)
from features.build.subjects import _Subjects

MAX_TOKEN_HOLDERS = 50
"""A bank account, phone or e-mail held by more people is counted without pairing its holders."""
STARTED_TOGETHER = np.timedelta64(31, "D")
"""Claims starting within this long of each other were made together."""

def _sharing_context(subject: _Subjects, keys: _Keys, recent: np.ndarray, claim_start: np.ndarray,
                     subject_start: np.ndarray, index: pd.Index) -> pd.DataFrame:
    """Other people, claiming from other addresses, whose recent benefit claims share a subject's details.

    People at the subject's own address (a household sharing an account or a phone) do not count.
    A phone or e-mail shared by more than ``MAX_TOKEN_HOLDERS`` people is counted without that
    exclusion, so a very common token cannot multiply pairs. Besides the counts per kind of detail
    (bank account; phone or e-mail), it counts the people sharing two or more of the three details:
    one shared detail has honest causes (an appointee's account, a support worker's phone), several
    at once rarely do; and the people sharing any detail whose claim started within
    ``STARTED_TOGETHER`` of the subject's (``claim_start`` of every claim, ``subject_start``
    of the subjects): an appointee or a support worker takes claimants on one at a time, a group
    making claims together does not.
    """
    holders = pd.DataFrame({"person": keys.claim_person[recent], "address": keys.claim_address[recent],
                            "start": claim_start[recent]})
    asking = pd.DataFrame({"row": np.arange(len(index)), "person": subject.person, "address": subject.address,
                           "start": subject_start})
    pairs, together, crowded = {}, {}, {}
    for token in ("bank_account_token", "phone_token", "email_token"):
        codes = keys.claim_tokens[token]
        held = holders.assign(token=codes[recent]).loc[lambda frame: frame["token"] >= 0].drop_duplicates()
        people_per_token = _distinct_count(held["token"].to_numpy(), held["person"].to_numpy(), keys.people,
                                           codes.max(initial=-1) + 1)
        subject_people = _at(people_per_token, subject.tokens[token], 0)
        crowded[token] = np.where(subject_people > MAX_TOKEN_HOLDERS, subject_people - 1, 0)
        small = held.loc[people_per_token[held["token"].to_numpy()] <= MAX_TOKEN_HOLDERS]
        found = (
            asking.assign(token=subject.tokens[token]).loc[lambda frame: frame["token"] >= 0]
            .merge(small, on="token", suffixes=("", "_other"))
            .loc[lambda frame: (frame["person"] != frame["person_other"]) & (frame["address"] != frame["address_other"])]
        )
        pairs[token] = _distinct(_pair(found["row"].to_numpy(np.int64), found["person_other"].to_numpy(np.int64),
                                       keys.people))
        close = found.loc[(found["start"] - found["start_other"]).abs() <= STARTED_TOGETHER]
        together[token] = _distinct(_pair(close["row"].to_numpy(np.int64), close["person_other"].to_numpy(np.int64),
                                          keys.people))

    def others(kinds: list[np.ndarray], at_least: int = 1) -> np.ndarray:
        """Per subject, the other people found in at least ``at_least`` of the pair sets ``kinds``."""
        every, times = np.unique(np.concatenate(kinds), return_counts=True)
        return np.bincount(every[times >= at_least] // max(keys.people, 1), minlength=len(index)).astype(np.float64)

    contact = [pairs["phone_token"], pairs["email_token"]]
    return pd.DataFrame(
        {
            "others_sharing_bank_account": np.maximum(others([pairs["bank_account_token"]]),
                                                      crowded["bank_account_token"]),
            "others_sharing_contact": np.maximum(others(contact),
                                                 np.maximum(crowded["phone_token"], crowded["email_token"])),
            "others_sharing_several_details": others([pairs["bank_account_token"], *contact], at_least=2),
            "others_sharing_started_together": others(list(together.values())),
        },
        index=index,
    )

def _claims_at_other_addresses(keyed: pd.DataFrame, asking: np.ndarray, same_kind: bool) -> pd.DataFrame:
    """Pairs of an ``asking`` row of ``keyed`` (``row``, ``person``, ``kind``, ``address``, ``ref``) and a claim
    of the same person, of the same kind or of another kind, at another address; by row, then other ref."""
    on = ["person", "kind"] if same_kind else ["person"]
    pairs = keyed.loc[asking].merge(keyed, on=on, suffixes=("", "_other"))
    elsewhere = pairs["address"] != pairs["address_other"]
    if not same_kind:
        elsewhere &= pairs["kind"] != pairs["kind_other"]
    return pairs.loc[elsewhere].sort_values(["row", "ref_other"])

def _first_refs(pairs: pd.DataFrame, index: pd.Index) -> pd.Series:
    """Per subject row, the first three other references of ``pairs`` joined by commas (missing if none)."""
    refs = pd.Series(np.nan, index=index, dtype="str")
    if len(pairs):
        first = pairs.loc[pairs.groupby("row").cumcount().to_numpy() < 3]
        joined = first.groupby("row")["ref_other"].agg(", ".join)
        refs.iloc[joined.index.to_numpy()] = joined.to_numpy()
    return refs

def _elsewhere_context(subjects: pd.DataFrame, subject: _Subjects, electors: pd.DataFrame,
                       keys: _Keys, registered_homes: np.ndarray) -> pd.DataFrame:
    """The same person's live claims at other addresses, of the same kind and of other kinds, and a latest
    registration elsewhere.

    The same benefit or scheme for two homes at once is the plainest anomaly; a claim of another kind
    giving another address (a tenant's benefit claim made from where they really live) is two sources
    disagreeing about where the person lives, which the detector weighs by how rare it is in the extract.
    Of those other claims it also counts the ones at an address where the person has never
    registered to vote (``registered_homes``: distinct person-address pair keys of every
    registration up to the as-of date): two people who share a name and date of birth each
    live where they claim, a second claim for a home one does not live in does not.
    """
    person, address = subject.person, subject.address
    kind, kinds = _factorize(subjects["subject_type"] + ":" + subjects["kind"].fillna(""))
    claimant = pd.factorize(_pair(person, kind, len(kinds)))[0]
    per_claimant = np.bincount(claimant)[claimant]
    place_codes, _ = pd.factorize(_alone_where_missing(_pair(claimant, address, keys.addresses)))
    per_place = np.bincount(place_codes)[place_codes]
    elsewhere = (per_claimant - per_place).astype(np.float64)
    per_person = np.bincount(person, minlength=keys.people)[person]
    person_place, _ = pd.factorize(_alone_where_missing(_pair(person, address, keys.addresses)))
    any_elsewhere = (per_person - np.bincount(person_place)[person_place]).astype(np.float64)

    keyed = pd.DataFrame({"row": np.arange(len(subjects)), "person": person, "kind": kind, "address": address,
                          "ref": subjects["subject_ref"].to_numpy()})
    same_kind = _claims_at_other_addresses(keyed, elsewhere > 0, same_kind=True)
    other_kind = _claims_at_other_addresses(keyed, any_elsewhere > elsewhere, same_kind=False)
    other_home = _pair(person[same_kind["row_other"].to_numpy()], same_kind["address_other"].to_numpy(), keys.addresses)
    unregistered = same_kind.loc[~np.isin(other_home, registered_homes), "row"].to_numpy()

    latest = np.full(keys.people, -1, dtype=np.int64)
    latest[keys.elector_person] = np.arange(len(electors))  # one (latest) registration per person
    registered_from = electors["registered_from"].to_numpy("datetime64[ns]")
    latest_of_subject = _at(latest, person)
    moved = (latest_of_subject >= 0) & (_at(keys.elector_address, latest_of_subject) != address)
    shown = np.where(moved, latest_of_subject, -1)
    return pd.DataFrame(
        {
            "claims_elsewhere": elsewhere,
            "any_claims_elsewhere": any_elsewhere,
            "claims_elsewhere_refs": _first_refs(same_kind, subjects.index),
            "claims_elsewhere_unregistered": np.bincount(unregistered, minlength=len(subjects)).astype(np.float64),
            "other_kind_claims_elsewhere": any_elsewhere - elsewhere,
            "other_kind_claims_elsewhere_refs": _first_refs(other_kind, subjects.index),
            "registered_elsewhere": moved.astype(np.float64),
            "registered_elsewhere_address": ("UPRN " + _take(electors["uprn"], shown)).to_numpy(),
            "registered_elsewhere_from": _at(registered_from, shown, np.datetime64("NaT", "ns")),
        },
        index=subjects.index,
    )

def _other_source_context(subjects: pd.DataFrame, subject: _Subjects, keys: _Keys) -> pd.DataFrame:
    """For each claim, what the other source's live claims of the same person for the same home record.

    A benefit claim and a housing claim about one home are two sources for its housing cost and its
    household: a benefit claim is compared with the rent and occupants of the person's housing claims
    there, a housing claim with the housing costs and the adults and children of the person's benefit
    claims there. The highest of several is kept (a rent can be recorded under more than one scheme).
    """
    housing = (subjects["subject_type"] == "housing_claim").to_numpy()
    home = _pair(subject.person, subject.address, keys.addresses)

    def other_source(column: str) -> np.ndarray:
        values = subjects[column].to_numpy(np.float64)
        found = np.full(len(subjects), np.nan)
        for source in (housing, ~housing):
            recorded = source & (values > 0) & (home >= 0)
            highest = pd.Series(values[recorded]).groupby(home[recorded]).max()
            looked_up = pd.Series(home).map(highest).to_numpy(np.float64)
            found = np.where(~source & (home >= 0), looked_up, found)
        return found

    return pd.DataFrame(
        {"other_source_housing_cost": other_source("housing_cost"),
         "other_source_household": other_source("declared_household")},
        index=subjects.index,
    )
