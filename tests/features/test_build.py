"""The feature table on a small world built by hand: each feature's meaning, live subjects, no NaN."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zlib

import numpy as np
import pandas as pd
import pytest

from configs.settings import load_settings
from features.build import (
    KEY_COLUMNS,
    FeatureBuildError,
    build_features,
    resolve_as_of,
)
from features.contract import Extract
from features.definitions import FEATURES, context_columns, feature_names
from features.linking import link_records

AS_OF = dt.date(2026, 3, 31)
TABLES = ("benefit_claims", "tax_records", "housing_claims", "address_register", "electoral_register",
          "equality_monitoring", "investigation_outcomes")
MONTHS = [f"{year}-{month:02d}" for year, month in [(2025, m) for m in range(4, 13)] + [(2026, m) for m in (1, 2, 3)]]


def benefit_claim(claim_id: str, person: str, uprn: str, **values: object) -> dict:
    row = {
        "claim_id": claim_id, "nino": nino_of(person), "first_name": "Sam", "surname": person,
        "date_of_birth": pd.Timestamp("1980-01-01"), "uprn": uprn, "postcode": "AA1 1AA",
        "benefit_type": "universal_credit", "claim_start": pd.Timestamp("2024-01-01"), "claim_end": pd.NaT,
        "declared_monthly_earnings": 0.0, "declared_savings": 0.0, "declared_partner": False,
        "adults_in_household": 1, "children_in_household": 0, "monthly_housing_costs": 600.0,
        "monthly_award": 800.0, "bank_account_token": f"bank-{claim_id}", "phone_token": f"phone-{claim_id}",
        "email_token": f"email-{claim_id}", "application_channel": "online",
        "submitted_at": pd.Timestamp("2024-01-01 09:00"),
    }
    row.update(values)
    return row


def housing_claim(claim_id: str, person: str, uprn: str, **values: object) -> dict:
    row = {
        "housing_claim_id": claim_id, "la_code": "E06000001", "scheme": "housing_benefit", "nino": None,
        "first_name": "Sam", "surname": person, "date_of_birth": pd.Timestamp("1980-01-01"), "uprn": uprn,
        "postcode": "AA1 1AA", "start_date": pd.Timestamp("2024-01-01"), "end_date": pd.NaT,
        "monthly_rent": 600.0, "occupants_declared": 1, "landlord_ref": None, "monthly_award": 400.0,
    }
    row.update(values)
    return row


def elector(elector_id: str, person: str, uprn: str, registered_from: str = "2020-01-01") -> dict:
    return {"elector_id": elector_id, "uprn": uprn, "first_name": "Sam", "surname": person,
            "date_of_birth": pd.Timestamp("1980-01-01"), "registered_from": pd.Timestamp(registered_from)}


def monthly(nino: str, income_type: str, amount: float, months: list[str] = MONTHS) -> list[dict]:
    return [{"record_id": f"{nino}-{income_type}-{month}", "nino": nino, "period": month,
             "income_type": income_type, "payer_ref": None, "amount": amount} for month in months]


def nino_of(person: str) -> str:
    """A valid NINO, the same for the same person."""
    return f"AB{zlib.crc32(person.encode()) % 1_000_000:06d}C"


def hand_world() -> tuple[Extract, pd.DataFrame]:
    """A world where each subject shows one pattern; returns the extract and its links."""
    benefits = [
        benefit_claim("B01", "honest01", "U01", monthly_housing_costs=590.0),
        benefit_claim("B02", "earner02", "U02", declared_monthly_earnings=0.0),
        benefit_claim("B03", "single03", "U03"),
        benefit_claim("B04", "saver04", "U04", declared_savings=500.0),
        benefit_claim("B05", "ring05", "U05", bank_account_token="bank-ring", phone_token="phone-ring"),
        benefit_claim("B06", "ring06", "U06", bank_account_token="bank-ring", phone_token="phone-ring"),
        benefit_claim("B07", "ring07", "U07", bank_account_token="bank-ring"),
        benefit_claim("B08", "costly08", "U08", monthly_housing_costs=1800.0, monthly_award=1900.0),
        benefit_claim("B09", "worker09", "U09", declared_monthly_earnings=1000.0),
        # not live on AS_OF: ended before, ended on the day, starts after
        benefit_claim("B10", "ended10", "U10", claim_end=pd.Timestamp("2025-06-30")),
        benefit_claim("B11", "ended11", "U10", claim_end=pd.Timestamp(AS_OF)),
        benefit_claim("B12", "future12", "U10", claim_start=pd.Timestamp("2026-04-01")),
        benefit_claim("B13", "later13", "U13", claim_end=pd.Timestamp("2026-04-01")),
        # the partner of B03 claimed once; the claim ended, the partner still lives at U03
        benefit_claim("B14", "single03", "U03", first_name="Alex", claim_end=pd.Timestamp("2024-12-31")),
        benefit_claim("B15", "mover15", None, postcode="zz9 9zz"),
        # a household sharing one account: not a ring
        benefit_claim("B16", "home16", "U16", bank_account_token="bank-home"),
        benefit_claim("B17", "home17", "U16", bank_account_token="bank-home", adults_in_household=2,
                      declared_partner=True),
    ]
    peers = [benefit_claim(f"B9{i}", f"peer9{i}", f"U9{i}", monthly_housing_costs=600.0 + i) for i in range(5)]
    housing = [
        housing_claim("H01", "dup01", "U20", la_code="E06000001", nino=nino_of("dup01")),
        housing_claim("H02", "dup01", "U21", la_code="E06000002", postcode="BB1 1BB"),
        housing_claim("H03", "spd03", "U22", scheme="single_person_discount", monthly_rent=None, monthly_award=40.0),
        housing_claim("H04", "tenant04", "U23", scheme="social_tenancy", monthly_rent=450.0),
        *[housing_claim(f"H0{i}", "dup01", f"U2{i}", la_code="E06000003") for i in (5, 6, 7)],
        housing_claim("H08", "newtenant08", "U24", la_code="E06000004", scheme="social_tenancy",
                      start_date=pd.Timestamp("2025-01-01")),
    ]
    electors = [
        elector("E01", "honest01", "U01"),
        elector("E03a", "single03", "U03"),
        elector("E03b", "single03", "U03"),  # the partner
        elector("E22a", "other22a", "U22"),
        elector("E22b", "other22b", "U22"),
        elector("E22c", "spd03", "U22"),
        elector("E23a", "tenant04", "U23", "2019-01-01"),
        elector("E23b", "tenant04", "U30", "2023-06-01"),  # the tenant moved out
        elector("E23c", "lodger", "U23", "2025-01-01"),  # moved in a year after the claim started
        elector("E99", "future", "U01", "2026-05-01"),  # registers after AS_OF
        elector("E98a", "leaver", "U01", "2015-01-01"),  # left U01: registered elsewhere since
        elector("E98b", "leaver", "U29", "2021-01-01"),
        elector("E24a", "stale24", "U24", "2015-01-01"),  # an earlier occupant who never re-registered
        elector("E24b", "cotenant24", "U24", "2024-12-01"),
    ]
    tax = [
        *monthly(nino_of("earner02"), "paye_employment", 1450.0),
        *monthly("AB000003C", "paye_employment", 2000.0),  # the partner's NINO, from claim B14
        *monthly(nino_of("saver04"), "savings_interest", 25.0),
        *monthly(nino_of("worker09"), "paye_employment", 1000.0),
        *monthly(nino_of("worker09"), "self_employment", 500.0, MONTHS[-3:]),
        *monthly(nino_of("worker09"), "paye_employment", 5000.0, ["2024-12"]),  # before the window
    ]
    address_register = pd.DataFrame(
        [{"uprn": f"U{i:02d}", "postcode": "AA1 1AA", "la_code": "E06000001", "property_type": "flat", "bedrooms": 2}
         for i in range(1, 31)]
        + [{"uprn": f"U9{i}", "postcode": "AA1 1AA", "la_code": "E06000001", "property_type": "flat", "bedrooms": 2}
           for i in range(5)]
    )
    benefit_frame = pd.DataFrame(benefits + peers)
    benefit_frame.loc[benefit_frame["claim_id"] == "B14", "nino"] = "AB000003C"
    benefit_frame.loc[benefit_frame["claim_id"] == "B14", "first_name"] = "Alex"
    housing_frame = pd.DataFrame(housing)
    electoral = pd.DataFrame(electors)
    equality = pd.DataFrame(
        {"subject_ref": [*benefit_frame["claim_id"], *housing_frame["housing_claim_id"]]}
    ).assign(sex="female", ethnicity_group="white", disability="no", nationality_group="uk")
    outcomes = pd.DataFrame(columns=["subject_ref", "outcome", "closed_on", "typology"])
    extract = Extract(
        benefit_claims=benefit_frame, tax_records=pd.DataFrame(tax), housing_claims=housing_frame,
        address_register=address_register, electoral_register=electoral, equality_monitoring=equality,
        investigation_outcomes=outcomes,
        rejects=pd.DataFrame(columns=["table", "row", "column", "rule", "value"]), quality={},
    )
    # person keys: the surname names the person, except B14 and E03b (the partner "Alex")
    person_of = {
        **{row["claim_id"]: row["surname"] for row in benefits + peers},
        **{row["housing_claim_id"]: row["surname"] for row in housing},
        **{row["elector_id"]: row["surname"] for row in electors},
        "B14": "partner03", "E03b": "partner03",
    }
    return extract, linked(extract, {ref: f"P-{person}" for ref, person in person_of.items()})


def linked(extract: Extract, person_keys: dict[str, str]) -> pd.DataFrame:
    """Linking's answer for ``extract`` (addresses, NINOs), with each record's person key given by hand."""
    links = link_records(extract)
    return links.assign(person_key=links["record_ref"].map(person_keys))


@pytest.fixture(scope="module")
def settings():
    return load_settings(features={"min_peer_group": 3})


@pytest.fixture(scope="module")
def world():
    return hand_world()


@pytest.fixture(scope="module")
def table(world, settings):
    extract, links = world
    return build_features(extract, links, AS_OF, settings).set_index("subject_ref", drop=False)


RECORD_REF = {"electoral_register": "elector_id", "housing_claims": "housing_claim_id"}


def _with_records_of(person_ref: str, table: str, rows: list[dict], extract: Extract | None = None) -> pd.DataFrame:
    """The hand-made world's feature table (indexed by subject_ref) with ``rows`` added to ``table``,
    each linked to the person of the record ``person_ref``; ``extract`` replaces the hand-made world's tables."""
    world, links = hand_world()
    extract = extract if extract is not None else world
    added = pd.DataFrame(rows)
    extract = dataclasses.replace(extract, **{table: pd.concat([getattr(extract, table), added], ignore_index=True)})
    person_keys = dict(zip(links["record_ref"], links["person_key"], strict=True))
    person_keys |= dict.fromkeys(added[RECORD_REF[table]], person_keys[person_ref])
    return build_features(extract, linked(extract, person_keys), AS_OF, load_settings()).set_index("subject_ref")


def test_resolve_as_of_is_last_day_of_latest_tax_month():
    tax = pd.DataFrame({"period": ["2025-11", "2026-02", "2025-12"]})
    assert resolve_as_of(tax) == dt.date(2026, 2, 28)
    assert resolve_as_of(tax, dt.date(2025, 1, 15)) == dt.date(2025, 1, 15)
    assert resolve_as_of(pd.DataFrame({"period": pd.to_datetime(["2024-02-01"])})) == dt.date(2024, 2, 29)


def test_resolve_as_of_errors_name_the_column():
    with pytest.raises(FeatureBuildError, match="tax_records has no rows in column period"):
        resolve_as_of(pd.DataFrame({"period": pd.Series([], dtype="str")}))
    with pytest.raises(FeatureBuildError, match="column period: '2025-13'"):
        resolve_as_of(pd.DataFrame({"period": ["2025-13"]}))


def test_live_subjects_only_sorted_by_ref(table):
    refs = table["subject_ref"].tolist()
    assert refs == sorted(refs)
    assert {"B10", "B11", "B12", "B14"}.isdisjoint(refs)  # ended before / on the day, not started
    assert {"B13", "H01", "H02", "H03", "H04"} <= set(refs)  # ends after as-of: live
    assert table.loc["B01", "subject_type"] == "benefit_claim"
    assert table.loc["H01", "subject_type"] == "housing_claim"


def test_columns_keys_then_features_then_context(table):
    expected = [*KEY_COLUMNS, *feature_names(), *context_columns()]
    assert table.columns.tolist() == expected
    assert table.index.is_unique


def test_model_columns_are_float_without_nan(table):
    model = table[list(feature_names())]
    assert (model.dtypes == "float64").all()
    assert np.isfinite(model.to_numpy()).all()


def test_honest_subject_is_neutral_everywhere(table):
    assert (table.loc["B01", list(feature_names())] == 0).all()


def test_earnings_gap_is_tax_earnings_above_declared_and_a_tolerance(table):
    # declared £0: the tolerance is its floor, £100 a month
    assert table.loc["B02", "earnings_gap"] == pytest.approx(12 / 15 * 1350.0)  # 12 months seen
    assert table.loc["B02", "earnings_log_ratio"] == pytest.approx(12 / 15 * np.log(1450.0 / 100.0))  # 12 months seen
    assert table.loc["B02", "months_with_earnings"] == 12


def test_earnings_within_tolerance_show_no_gap(table):
    # B09 declares the £1,000 PAYE (tolerance 50 %: £500); £500 self-employment started in the last 3 months
    assert table.loc["B09", "tax_monthly_earnings"] == pytest.approx(1125.0)  # Dec 2024 is outside the window
    # self-employment income is spread over the months compared: £1,500 over 12 months is £125 in each
    assert table.loc["B09", "tax_lowest_recent_monthly_earnings"] == pytest.approx(1125.0)
    assert table.loc["B09", "earnings_gap"] == 0  # the 12-month mean, £1,125, is within the tolerance
    assert table.loc["B09", "earnings_log_ratio"] == 0


def _with_quarterly_income(income_type: str) -> pd.Series:
    """B01 (declaring no earnings) with £9,000 of ``income_type`` reported once a quarter."""
    extract, links = hand_world()
    quarterly = pd.DataFrame(monthly(nino_of("honest01"), income_type, 9000.0, ["2025-06", "2025-09", "2025-12", "2026-03"]))
    extract = dataclasses.replace(extract, tax_records=pd.concat([extract.tax_records, quarterly], ignore_index=True))
    return build_features(extract, links, AS_OF, load_settings()).set_index("subject_ref").loc["B01"]


def test_self_employment_reported_once_a_quarter_is_earnings_of_every_month():
    """No month but the reported one shows it, yet it is income of every month it covers."""
    row = _with_quarterly_income("self_employment")
    assert row["tax_monthly_earnings"] == pytest.approx(3000.0)
    assert row["tax_lowest_recent_monthly_earnings"] == pytest.approx(3000.0)
    assert row["earnings_gap"] > 0  # B01 declares no earnings
    assert row["property_income"] == 0


def test_property_income_is_evidence_of_means_in_a_column_of_its_own():
    row = _with_quarterly_income("property")
    assert row["tax_monthly_property_income"] == pytest.approx(3000.0)
    assert row["property_income"] == pytest.approx(12 / 15 * 3000.0)  # 12 months seen
    assert row["earnings_gap"] == 0


def test_claim_window_starts_with_the_claim():
    extract, links = hand_world()
    claims = extract.benefit_claims.copy()
    claims.loc[claims["claim_id"] == "B02", "claim_start"] = pd.Timestamp("2026-01-15")
    extract = dataclasses.replace(extract, benefit_claims=claims)
    row = build_features(extract, links, AS_OF, load_settings()).set_index("subject_ref").loc["B02"]
    assert row["window_months"] == 3
    assert row["earnings_gap"] == pytest.approx(3 / 6 * 1350.0)  # 3 months: weaker evidence


def test_capital_implied_by_interest_above_declared_savings_and_a_tolerance(table):
    # £25 a month = £300 a year, at 3 % = £10,000 of capital against £500 declared and £6,000 tolerated
    assert table.loc["B04", "implied_capital"] == pytest.approx(10_000.0)
    assert table.loc["B04", "capital_log_ratio"] == pytest.approx(np.log(10_000 / 6_500))


def test_small_undeclared_capital_is_within_tolerance():
    extract, links = hand_world()
    claims = extract.benefit_claims.copy()
    claims.loc[claims["claim_id"] == "B04", "declared_savings"] = 5_000.0
    extract = dataclasses.replace(extract, benefit_claims=claims)
    row = build_features(extract, links, AS_OF, load_settings()).set_index("subject_ref").loc["B04"]
    assert row["capital_log_ratio"] == 0  # £10,000 against £5,000 declared and £6,000 tolerated


def test_undeclared_partner_living_at_the_address(table):
    row = table.loc["B03"]
    assert row["other_registered_adults"] == 1
    assert row["other_earning_adults"] == 1  # the partner's NINO came from an old claim
    assert row["possible_undeclared_partner"] == 1
    assert row["undeclared_adults_at_address"] == 0  # housing claims: a benefit claim has one column for its household
    # the partner registered with the claimant, earns, and is not declared: one adult beyond the household
    assert row["adults_beyond_declared_household"] == row[["undeclared_adults_at_address", "other_earning_adults"]].max()


def test_declared_other_adults_are_not_undeclared():
    extract, links = hand_world()
    claims = extract.benefit_claims.copy()
    claims.loc[claims["claim_id"] == "B03", ["adults_in_household", "declared_partner"]] = [2, True]
    housing = extract.housing_claims.copy()
    housing.loc[housing["housing_claim_id"] == "H03", "occupants_declared"] = 3
    extract = dataclasses.replace(extract, benefit_claims=claims, housing_claims=housing)
    table = build_features(extract, links, AS_OF, load_settings()).set_index("subject_ref")
    assert table.loc["B03", "possible_undeclared_partner"] == 0
    assert table.loc["H03", "undeclared_adults_at_address"] == 0


def test_only_adults_registered_since_the_claimant_arrived_count(table):
    row = table.loc["H08"]
    assert row["claimant_arrival"] == pd.Timestamp("2025-01-01")
    assert row["other_registered_adults"] == 1  # the co-tenant registered weeks before; the stale entry is ignored
    assert row["claimant_registered_at_arrival"] == 0  # the arrival is only the claim start
    assert row["undeclared_adults_at_address"] == 0.5  # so the co-tenant counts half


def test_shared_bank_account_and_contact_count_other_people(table):
    assert table.loc["B05", "others_sharing_bank_account"] == 2
    assert table.loc["B07", "others_sharing_bank_account"] == 2
    assert table.loc["B05", "others_sharing_contact"] == 1
    assert table.loc["B07", "others_sharing_contact"] == 0
    # one other person sharing a detail is ordinary: only those beyond the first count
    assert table.loc["B05", "people_sharing_bank_account"] == 1
    assert table.loc["B05", "people_sharing_contact"] == 0
    # B05 and B06 share both the account and the phone; B07 only the account
    assert table.loc["B05", "others_sharing_several_details"] == 1
    assert table.loc["B07", "others_sharing_several_details"] == 0
    assert table.loc["B05", "people_sharing_several_details"] == 0  # beyond the first
    # the three claims started on the same day: made together
    assert table.loc["B05", "others_sharing_started_together"] == 2
    assert table.loc["B05", "people_sharing_details_started_together"] == 1


def test_claims_sharing_details_started_months_apart_were_not_made_together():
    extract, links = hand_world()
    claims = extract.benefit_claims.copy()
    claims.loc[claims["claim_id"] == "B06", "claim_start"] = pd.Timestamp("2024-03-01")
    extract = dataclasses.replace(extract, benefit_claims=claims)
    table = build_features(extract, links, AS_OF, load_settings()).set_index("subject_ref")
    assert table.loc["B05", "others_sharing_bank_account"] == 2
    assert table.loc["B05", "others_sharing_started_together"] == 1  # B07 only
    assert table.loc["B06", "others_sharing_started_together"] == 0
    assert table.loc["H01", "people_sharing_bank_account"] == 0  # housing claims carry no token


def test_a_household_sharing_an_account_is_not_a_ring(table):
    assert table.loc["B16", "others_sharing_bank_account"] == 0
    assert table.loc["B17", "others_sharing_bank_account"] == 0


def test_duplicate_housing_claims_elsewhere(table):
    assert table.loc["H01", "claims_elsewhere"] == 4
    assert table.loc["H02", "claims_elsewhere"] == 4
    assert table.loc["H01", "claims_elsewhere_refs"] == "H02, H05, H06"  # the first three
    assert table.loc["H07", "claims_elsewhere_refs"] == "H01, H02, H05"
    assert table.loc["B01", "claims_elsewhere"] == 0
    assert pd.isna(table.loc["B01", "claims_elsewhere_refs"])
    assert table.loc["H01", "claims_elsewhere_not_lived_in"] == 4  # never registered at any of them


def test_claims_elsewhere_at_a_home_the_person_registered_at_are_not_counted_as_not_lived_in():
    table = _with_records_of("H01", "electoral_register",
                             [elector("E20", "dup01", "U20", "2019-01-01"), elector("E30", "dup01", "U30", "2023-01-01")])
    # registered at U20 once (the latest registration is at U30): the claim there counts as lived in
    assert table.loc["H01", "claims_elsewhere"] == 4
    assert table.loc["H01", "claims_elsewhere_not_lived_in"] == 4
    assert table.loc["H02", "claims_elsewhere_not_lived_in"] == 3


def test_single_person_discount_with_other_adults_registered(table):
    row = table.loc["H03"]
    assert row["other_registered_adults"] == 2
    assert row["claimant_registered_at_arrival"] == 1  # they registered alongside the claimant's own registration
    assert row["undeclared_adults_at_address"] == 2
    assert row["housing_cost_ratio"] == 0  # no rent on a discount
    assert row["living_alone_discount"] == 1
    assert table.loc["H04", "living_alone_discount"] == table.loc["B01", "living_alone_discount"] == 0


def test_tenant_registered_elsewhere_with_others_at_the_tenancy(table):
    row = table.loc["H04"]
    assert row["registered_elsewhere"] == 1
    assert row["registered_elsewhere_address"] == "UPRN U30"
    assert row["registered_elsewhere_from"] == pd.Timestamp("2023-06-01")
    assert row["adults_moved_in_later"] == 1  # the lodger
    assert row["undeclared_adults_at_address"] == 0  # nobody moved in with the tenant
    assert table.loc["B01", "registered_elsewhere"] == 0


def test_each_sign_of_living_elsewhere_reaches_the_detector_on_its_own(table):
    # H01 has live claims of its own kind elsewhere, no registration elsewhere and nobody moved in: the
    # claims elsewhere still count, with no second sign needed beside them
    assert table.loc["H01", "claims_elsewhere"] == 4
    assert table.loc["H01", "registered_elsewhere"] == 0
    assert table.loc["H04", "registered_elsewhere"] == 1  # a model column for every subject type


def test_a_claim_of_another_kind_at_another_address_is_evidence():
    """A tenant whose benefit claim gives another address: two sources disagree on where they live."""
    table = _with_records_of("B08", "housing_claims",
                             [housing_claim("H09", "costly08", "U09", scheme="social_tenancy", monthly_rent=500.0)])
    assert table.loc["H09", "other_kind_claims_elsewhere"] == 1
    assert table.loc["H09", "other_kind_claims_elsewhere_refs"] == "B08"
    assert table.loc["H09", "claims_elsewhere"] == 0  # no other tenancy
    assert table.loc["B08", "other_kind_claims_elsewhere"] == 1
    assert table.loc["B01", "other_kind_claims_elsewhere"] == 0


def test_only_the_latest_registration_on_as_of_counts(table):
    # "future" registers at U01 after the as-of date; "leaver" registered at U01, then at U29
    assert table.loc["B01", "other_registered_adults"] == 0


def test_housing_cost_against_local_peers(table):
    row = table.loc["B08"]
    assert row["peer_housing_cost"] == pytest.approx(600.0)  # median of the live claims in E06000001, 2 bedrooms
    assert row["housing_cost_ratio"] == pytest.approx(np.log(1800.0 / (1.5 * 600.0)))  # beyond half as much again
    assert row["housing_peer_group"] == "2-bedroom homes (flat) in E06000001"  # same property type too
    assert table.loc["B01", "housing_cost_ratio"] == 0  # below the median is not suspicious
    assert row["housing_cost_above_other_source"] == 0  # no housing claim records a rent for the home


def test_housing_costs_against_the_rent_the_local_authority_records():
    table = _with_records_of("B08", "housing_claims",
                             [housing_claim("H09", "costly08", "U08", scheme="social_tenancy", monthly_rent=700.0),
                              housing_claim("H10", "costly08", "U09", monthly_rent=300.0)])  # another home
    assert table.loc["B08", "other_source_housing_cost"] == 700.0  # the same person's rent at the same home only
    assert table.loc["B08", "housing_cost_above_other_source"] == pytest.approx(np.log(1800.0 / (1.2 * 700.0)))
    assert np.isnan(table.loc["B01", "other_source_housing_cost"])
    # the other way round: the tenancy's rent against the benefit claim's housing costs for the same home
    assert table.loc["H09", "other_source_housing_cost"] == 1800.0
    assert table.loc["H09", "housing_cost_above_other_source"] == 0  # 700 is not above 1,800


def test_a_household_the_other_source_declares_larger_is_evidence():
    """A benefit claim of one adult and the same person's housing claim for that home declaring three people."""
    table = _with_records_of("B08", "housing_claims",
                             [housing_claim("H09", "costly08", "U08", monthly_rent=700.0, occupants_declared=3)])
    declared = table.loc["B08", "declared_household"]
    assert table.loc["B08", "other_source_household"] == 3
    assert table.loc["B08", "household_larger_in_other_source"] == max(3 - declared, 0)
    assert table.loc["H09", "other_source_household"] == declared
    assert table.loc["H09", "household_larger_in_other_source"] == max(declared - 3, 0)
    assert np.isnan(table.loc["B01", "other_source_household"])
    assert table.loc["B01", "household_larger_in_other_source"] == 0


def test_claim_without_uprn_keys_on_postcode(table):
    row = table.loc["B15"]
    assert row["address_key"] == "pc:ZZ99ZZ"
    assert row["housing_peer_group"] == "all homes"  # no local authority known for the postcode


def test_claim_without_uprn_meets_the_electors_of_the_home_its_claimant_is_registered_at():
    """Linking and feature building share one meaning of "same address"."""
    extract, links = hand_world()
    homes = pd.DataFrame([{"uprn": uprn, "postcode": "CC1 1CC", "la_code": "E06000001", "property_type": "flat",
                           "bedrooms": 1} for uprn in ("U40", "U41")])
    extract = dataclasses.replace(
        extract,
        benefit_claims=pd.concat([extract.benefit_claims, pd.DataFrame([benefit_claim("B40", "lone40", None,
                                                                                      postcode="cc1 1cc")])],
                                 ignore_index=True),
        electoral_register=pd.concat([extract.electoral_register,
                                      pd.DataFrame([elector("E40a", "lone40", "U40", "2023-01-01"),
                                                    elector("E40b", "partner40", "U40", "2024-01-15")])],
                                     ignore_index=True),
        address_register=pd.concat([extract.address_register, homes], ignore_index=True),
    )
    person_keys = dict(zip(links["record_ref"], links["person_key"], strict=True))
    person_keys |= {"B40": "P-lone40", "E40a": "P-lone40", "E40b": "P-partner40"}
    row = build_features(extract, linked(extract, person_keys), AS_OF, load_settings()).set_index("subject_ref").loc["B40"]
    assert row["address_key"] == "U40"
    assert row["other_registered_adults"] == 1
    assert row["possible_undeclared_partner"] == 0  # a different surname and no shared detail


def test_features_not_applying_to_a_type_are_neutral(table):
    housing = table.loc[table["subject_type"] == "housing_claim"]
    for spec in FEATURES:
        if not spec.applies("housing_claim"):
            assert (housing[spec.name] == spec.neutral).all(), spec.name


def test_build_is_deterministic_and_leaves_inputs_untouched(world, settings):
    extract, links = world
    before = {name: getattr(extract, name).copy() for name in TABLES}
    first = build_features(extract, links, AS_OF, settings)
    shuffled = dataclasses.replace(
        extract,
        **{name: frame.sample(frac=1.0, random_state=1) for name, frame in before.items()},
    )
    second = build_features(shuffled, links.sample(frac=1.0, random_state=2), AS_OF, settings)
    pd.testing.assert_frame_equal(first, second)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(getattr(extract, name), frame)


@pytest.mark.parametrize("empty", ["benefit_claims", "housing_claims", "electoral_register", "tax_records"])
def test_an_empty_table_still_builds(world, settings, empty):
    extract, links = world
    extract = dataclasses.replace(extract, **{empty: getattr(extract, empty).iloc[0:0]})
    table = build_features(extract, links, AS_OF, settings)
    assert np.isfinite(table[list(feature_names())].to_numpy()).all()
    assert len(table) > 0


def test_an_unlinked_claim_is_a_person_of_its_own(world, settings):
    extract, links = world
    table = build_features(extract, links.iloc[0:0], AS_OF, settings).set_index("subject_ref")
    assert table.loc["B01", "person_key"] == "benefit_claims:B01"
    assert table.loc["H01", "claims_elsewhere"] == 0  # the same person can no longer be seen

@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A small generated world through the real contract and linking."""
    from features.contract import check_extract
    from synthetic import generate_world
    from synthetic.truth import read_truth

    root = tmp_path_factory.mktemp("world")
    generate_world(root / "data", people=3000, seed=11, truth_path=root / "truth.csv")
    settings = load_settings()
    extract = check_extract(root / "data")
    links = link_records(extract, settings)
    as_of = resolve_as_of(extract.tax_records)
    return extract, build_features(extract, links, as_of, settings), as_of, read_truth(root / "truth.csv")


def test_generated_world_gives_one_row_per_live_claim(generated):
    extract, table, as_of, _ = generated
    as_of = pd.Timestamp(as_of)
    benefit, housing = extract.benefit_claims, extract.housing_claims
    live_benefit = (benefit["claim_start"] <= as_of) & (benefit["claim_end"].isna() | (benefit["claim_end"] > as_of))
    live_housing = (housing["start_date"] <= as_of) & (housing["end_date"].isna() | (housing["end_date"] > as_of))
    assert sorted(table["subject_ref"]) == sorted([*benefit.loc[live_benefit, "claim_id"],
                                                   *housing.loc[live_housing, "housing_claim_id"]])
    assert table["subject_ref"].is_monotonic_increasing
    assert np.isfinite(table[list(feature_names())].to_numpy()).all()
    assert table["person_key"].notna().all() and table["address_key"].notna().all()


@pytest.mark.parametrize(
    ("typology", "feature"),
    [("undeclared_earnings", "earnings_gap"), ("undeclared_capital", "capital_log_ratio"),
     ("duplicate_housing_claim", "claims_elsewhere"), ("inflated_housing_costs", "housing_cost_ratio")],
)
def test_generated_typologies_stand_out_on_their_features(generated, typology, feature):
    _, table, _, truth = generated
    labelled = table.merge(truth[["record_ref", "typology"]], left_on="subject_ref", right_on="record_ref")
    cases = labelled.loc[labelled["typology"] == typology, feature]
    if cases.empty:
        pytest.skip(f"no live {typology} subject in this world")
    honest = labelled.loc[labelled["typology"].fillna("").eq(""), feature]
    assert cases.median() > honest.quantile(0.9)


def test_adults_moving_in_after_the_claim_began_count_in_full_when_they_came_from_another_home(table):
    row = table.loc["H04"]  # the lodger registered a year after the tenancy began, never anywhere else
    assert row["adults_moved_in_later_from_elsewhere"] == 0
    assert row["adults_moved_in_later"] == 1
    assert row["undeclared_adults_moved_in_later"] == 0  # as a child of the household coming of age would
    moved = _with_records_of("E23c", "electoral_register", [elector("E23d", "lodger", "U28", "2021-01-01")])
    assert moved.loc["H04", "adults_moved_in_later_from_elsewhere"] == 1
    assert moved.loc["H04", "undeclared_adults_moved_in_later"] == 1
    assert table.loc["H03", "undeclared_adults_moved_in_later"] == 0  # they moved in with the claimant
    assert table.loc["B03", "undeclared_adults_moved_in_later"] == 0  # the partner arrived with the claimant


def test_no_later_arrivals_are_counted_in_a_house_in_multiple_occupation():
    extract, _ = hand_world()
    register = extract.address_register.copy()
    register.loc[register["uprn"] == "U23", "property_type"] = "hmo"
    extract = dataclasses.replace(extract, address_register=register)
    table = _with_records_of("E23c", "electoral_register", [elector("E23d", "lodger", "U28", "2021-01-01")],
                             extract)
    assert table.loc["H04", "adults_moved_in_later_from_elsewhere"] == 1
    assert table.loc["H04", "shared_house"] == 1
    assert table.loc["H04", "undeclared_adults_moved_in_later"] == 0


def test_other_people_claiming_from_a_discounted_address():
    table = _with_records_of("E22a", "housing_claims", [housing_claim("H40", "other22a", "U22")])
    assert table.loc["H03", "other_claimants_at_address"] == 1
    assert table.loc["H03", "undeclared_other_claimants"] == 1  # the discount declares the claimant alone
    assert table.loc["H40", "undeclared_other_claimants"] == 1
    assert table.loc["H01", "other_claimants_at_address"] == 0
