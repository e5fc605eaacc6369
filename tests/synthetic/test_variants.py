"""Generator variants: each draws every typology, in its own ways, beside honest look-alikes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from synthetic import generate_world, read_truth
from synthetic.variants import VARIANTS, UnknownVariantError, get_variant, split_count

PEOPLE = 3000
AS_OF = pd.Timestamp("2026-09-30")


@pytest.fixture(scope="module", params=[name for name in VARIANTS if name != "standard"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp(request.param)
    generate_world(root / "data", people=PEOPLE, seed=5, truth_path=root / "truth.parquet", file_format="parquet",
                   variant=request.param)
    tables = {name: pd.read_parquet(root / "data" / f"{name}.parquet")
              for name in ("benefit_claims", "housing_claims", "electoral_register", "tax_records")}
    for name, columns in (("benefit_claims", ("claim_start", "claim_end")), ("housing_claims", ("start_date", "end_date")),
                          ("electoral_register", ("registered_from",))):
        tables[name] = tables[name].assign(**{column: pd.to_datetime(tables[name][column]) for column in columns})
    truth = read_truth(root / "truth.parquet").set_index(["table", "record_ref"])
    for name, key in (("benefit_claims", "claim_id"), ("housing_claims", "housing_claim_id"),
                      ("electoral_register", "elector_id")):
        found = truth.loc[name].reindex(tables[name][key])
        tables[name] = tables[name].assign(person=found["person_id"].to_numpy(), typology=found["typology"].to_numpy())
    return {"variant": VARIANTS[request.param], **tables}


def _others_registered_after(claims: pd.DataFrame, electors: pd.DataFrame, start: str) -> pd.Series:
    """Per claim: other people registered at its UPRN after its start."""
    pairs = claims.reset_index().merge(electors, on="uprn", suffixes=("", "_elector"))
    later = pairs.loc[(pairs["person_elector"] != pairs["person"]) & (pairs["registered_from"] > pairs[start])]
    return later.groupby("index").size().reindex(claims.index, fill_value=0)


def test_every_typology_is_drawn_at_about_the_variant_s_prevalence(world):
    benefit, housing = world["benefit_claims"], world["housing_claims"]
    assert set(benefit["typology"].dropna()) == {"undeclared_earnings", "living_together", "undeclared_capital",
                                                 "inflated_housing_costs", "shared_details_ring"}
    assert set(housing["typology"].dropna()) == {"single_person_discount", "duplicate_housing_claim", "subletting",
                                                 "inflated_housing_costs"}
    live = pd.concat([benefit["claim_end"], housing["end_date"]])
    share = (benefit["typology"].notna().sum() + housing["typology"].notna().sum()) / (live.isna() | (live > AS_OF)).sum()
    assert world["variant"].fraud_rate * 0.6 < share < world["variant"].fraud_rate * 1.6


def test_partners_and_other_adults_arrive_after_the_claim_or_discount_began(world):
    benefit, housing, electors = world["benefit_claims"], world["housing_claims"], world["electoral_register"]
    together = benefit.loc[benefit["typology"] == "living_together"]
    arrived = (_others_registered_after(together, electors, "claim_start") > 0).mean()
    discounts = housing.loc[housing["typology"] == "single_person_discount"]
    arrived_discount = (_others_registered_after(discounts, electors, "start_date") > 0).mean()
    newcomer_share = world["variant"].living_together.get("newcomer", 0.0)
    assert arrived >= 0.6 * newcomer_share
    assert arrived_discount >= 0.6 * world["variant"].single_person_discount.get("newcomer", 0.0)


def test_a_partner_s_own_claim_shares_the_claim_s_details(world):
    benefit = world["benefit_claims"]
    together = benefit.loc[benefit["typology"] == "living_together"]
    shared = pd.Series(False, index=together.index)
    for token in ("bank_account_token", "phone_token", "email_token"):
        holders = benefit.dropna(subset=[token]).groupby(token)["person"].nunique()
        shared |= together[token].map(holders).fillna(0).to_numpy() > 1
    assert shared.mean() >= 0.6 * world["variant"].living_together.get("shared_details", 0.0)


def test_honest_look_alikes_declare_the_adult_who_arrived(world):
    benefit, electors = world["benefit_claims"], world["electoral_register"]
    declared = benefit.loc[benefit["typology"].isna() & ~benefit["declared_partner"]
                           & (benefit["adults_in_household"] == 2)]
    arrived = _others_registered_after(declared, electors, "claim_start") > 0
    assert arrived.sum() >= 0.5 * world["variant"].lookalikes * (benefit["typology"] == "living_together").sum()


def test_hidden_means_show_as_rent_income_late_interest_or_a_dearer_home_than_the_council_records(world):
    benefit, housing, tax = world["benefit_claims"], world["housing_claims"], world["tax_records"]
    ways = {typology: getattr(world["variant"], typology)
            for typology in ("undeclared_earnings", "undeclared_capital", "inflated_housing_costs")}
    earnings = benefit.loc[benefit["typology"] == "undeclared_earnings"]
    landlords = set(tax.loc[tax["income_type"] == "property", "nino"])
    assert earnings["nino"].isin(landlords).mean() >= 0.6 * ways["undeclared_earnings"].get("rental_income", 0.0)

    capital = benefit.loc[benefit["typology"] == "undeclared_capital"]
    interest = tax.loc[tax["income_type"] == "savings_interest"]
    first_interest = interest.groupby("nino")["period"].min().reindex(capital["nino"])
    recent = (pd.to_datetime(first_interest) > AS_OF - pd.DateOffset(months=8)).mean()
    assert recent >= 0.6 * ways["undeclared_capital"].get("arrived_late", 0.0)

    costs = benefit.loc[benefit["typology"] == "inflated_housing_costs", ["person", "uprn", "monthly_housing_costs"]]
    recorded = costs.merge(housing.dropna(subset=["monthly_rent"]), on=["person", "uprn"])
    above = (recorded["monthly_housing_costs"] >= 1.3 * recorded["monthly_rent"]).sum() / len(costs)
    assert above >= 0.6 * ways["inflated_housing_costs"].get("above_council_record", 0.0)


def test_an_unknown_variant_is_refused_by_name(tmp_path: Path):
    with pytest.raises(UnknownVariantError, match="'nope'.*standard"):
        generate_world(tmp_path / "data", people=10, seed=1, truth_path=tmp_path / "t.csv", variant="nope")
    assert get_variant("standard").fraud_rate == 0.015


def test_ways_split_a_count_and_the_first_takes_the_remainder():
    assert split_count(7, {"household": 1 / 3, "newcomer": 1 / 3, "shared_details": 1 / 3}, "household") == {
        "household": 3, "newcomer": 2, "shared_details": 2}
    assert split_count(5, {"household": 1.0}, "household") == {"household": 5}


def test_typed_names_differ_by_one_letter_changed_dropped_or_doubled():
    import numpy as np
    import pyarrow as pa
    from rapidfuzz.distance import Levenshtein

    from synthetic.names import with_typos

    names = pa.array(["Robinson", "Margaret", "Ann", None, "Williams"] * 2000)
    typed = with_typos(names, 0.1, np.random.default_rng(3))
    pairs = [(before, after) for before, after in zip(names.to_pylist(), typed.to_pylist(), strict=True)
             if before != after]
    assert all(Levenshtein.distance(before, after) == 1 and before[0] == after[0] for before, after in pairs)
    assert all(len(before) >= 4 for before, _ in pairs)  # "Ann" and the missing name are left alone
    assert 0.07 * 6000 < len(pairs) < 0.13 * 6000
