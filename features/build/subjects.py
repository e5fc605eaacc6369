"""The subjects of a build: live benefit and housing claims in one frame, and the electors registered on the as-of date."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.build.income import CAPITAL_TESTED_BENEFITS
from features.build.keys import (
    _at,
    _factorize,
    _first_rows,
    _is_in,
    _Keys,
    _positions,
    _recode,
    _take,
)
from features.contract import Extract
from features.linking import normalise_postcode

LIVING_ALONE_SCHEME = "single_person_discount"
"""The housing scheme whose only condition is that no other adult lives at the address."""

def _claims(extract: Extract, keys: _Keys) -> pd.DataFrame:
    """Benefit and housing claims in one frame with shared column names (benefit claims first)."""
    benefit, housing, register = extract.benefit_claims, extract.housing_claims, extract.address_register
    benefit_count = len(benefit)
    benefit_row = keys.claim_register_row[:benefit_count]
    # a claim without a UPRN takes the local authority of its postcode in the address register
    register_postcodes = _recode(*_factorize(register["postcode"]), normalise_postcode)
    benefit_postcodes = _recode(*_factorize(benefit["postcode"]), normalise_postcode)
    postcode_row = _at(
        _first_rows(register_postcodes[0], len(register_postcodes[1])),
        _at(_positions(register_postcodes[1], benefit_postcodes[1]), benefit_postcodes[0]),
    )
    benefit_la = _take(register["la_code"], benefit_row).fillna(_take(register["la_code"], postcode_row))
    no_value = pd.Series(np.nan, index=housing.index, dtype="str")

    benefit_frame = pd.DataFrame(
        {
            "subject_ref": benefit["claim_id"].astype("str"),
            "subject_type": "benefit_claim",
            "bank_account_token": benefit["bank_account_token"].astype("str"),
            "phone_token": benefit["phone_token"].astype("str"),
            "email_token": benefit["email_token"].astype("str"),
            "kind": benefit["benefit_type"].astype("str"),
            "start": pd.to_datetime(benefit["claim_start"]),
            "end": pd.to_datetime(benefit["claim_end"]),
            "la_code": benefit_la.set_axis(benefit.index),
            "bedrooms": _take(register["bedrooms"], benefit_row).set_axis(benefit.index),
            "property_type": _take(register["property_type"], benefit_row).set_axis(benefit.index),
            "declared_monthly_earnings": benefit["declared_monthly_earnings"].astype("float64"),
            "declared_savings": benefit["declared_savings"].astype("float64"),
            "declared_partner": benefit["declared_partner"].astype("float64"),
            "capital_rules_apply": _is_in(benefit["benefit_type"], CAPITAL_TESTED_BENEFITS).astype("float64"),
            "living_alone_discount": 0.0,
            "declared_adults": benefit["adults_in_household"].astype("float64"),
            "declared_occupants": np.nan,
            "declared_household": (benefit["adults_in_household"] + benefit["children_in_household"]).astype("float64"),
            "housing_cost": benefit["monthly_housing_costs"].astype("float64"),
        }
    )
    housing_frame = pd.DataFrame(
        {
            "subject_ref": housing["housing_claim_id"].astype("str"),
            "subject_type": "housing_claim",
            "bank_account_token": no_value,
            "phone_token": no_value,
            "email_token": no_value,
            "kind": housing["scheme"].astype("str"),
            "start": pd.to_datetime(housing["start_date"]),
            "end": pd.to_datetime(housing["end_date"]),
            "la_code": housing["la_code"].astype("str"),
            "bedrooms": _take(register["bedrooms"], keys.claim_register_row[benefit_count:]).set_axis(housing.index),
            "property_type": _take(register["property_type"], keys.claim_register_row[benefit_count:]).set_axis(housing.index),
            "declared_monthly_earnings": np.nan,
            "declared_savings": np.nan,
            "declared_partner": np.nan,
            "capital_rules_apply": np.nan,
            "living_alone_discount": _is_in(housing["scheme"], (LIVING_ALONE_SCHEME,)).astype("float64"),
            "declared_adults": housing["occupants_declared"].astype("float64"),
            "declared_occupants": housing["occupants_declared"].astype("float64"),
            "declared_household": housing["occupants_declared"].astype("float64"),
            "housing_cost": housing["monthly_rent"].astype("float64"),
        }
    )
    return pd.concat([benefit_frame, housing_frame], ignore_index=True)

def _live(claims: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """Claims started on or before ``as_of`` and not ended by then."""
    return ((claims["start"] <= as_of) & (claims["end"].isna() | (claims["end"] > as_of))).to_numpy()

def _latest_registrations(electors: pd.DataFrame, elector_person: np.ndarray) -> np.ndarray:
    """Rows of each person's latest registration (ties on the date: the larger elector_id), in row order.

    The register has no end dates: a person registered at a new address has left the old one.
    """
    elector_rank = np.empty(len(electors), dtype=np.int64)
    elector_rank[electors["elector_id"].argsort().to_numpy()] = np.arange(len(electors))
    order = np.lexsort((elector_rank, electors["registered_from"].to_numpy("datetime64[ns]"), elector_person))
    ordered_person = elector_person[order]
    last = order[np.r_[ordered_person[1:] != ordered_person[:-1], True]] if len(order) else order
    return np.sort(last)

def _registered_electors(extract: Extract, as_of: pd.Timestamp) -> pd.DataFrame:
    """Electors registered on or before the as-of date."""
    register = extract.electoral_register
    current = register.loc[pd.to_datetime(register["registered_from"]) <= as_of]
    return pd.DataFrame(
        {
            "elector_id": current["elector_id"].astype("str"),
            "uprn": current["uprn"].astype("str"),
            "surname": current["surname"].astype("str"),
            "registered_from": pd.to_datetime(current["registered_from"]).to_numpy("datetime64[ns]"),
        }
    )


@dataclass(frozen=True)


class _Subjects:
    """Key codes of the subjects (live claims, in table order)."""

    person: np.ndarray
    address: np.ndarray
    surname: np.ndarray
    tokens: dict[str, np.ndarray]
