from __future__ import annotations

import filecmp
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from synthetic import generate_world, read_truth
from synthetic.registers import make_investigations

PEOPLE = 2000
AS_OF = "2026-09-30"  # end of the world's last tax month, 2026-09

# The input data contract, written out here independently of the generator.
CONTRACT = {
    "benefit_claims": {
        "claim_id": "id", "nino": "nino?", "first_name": "text", "surname": "text",
        "date_of_birth": "date", "uprn": "digits?", "postcode": "text",
        "benefit_type": ("universal_credit", "pension_credit", "employment_support_allowance",
                         "jobseekers_allowance", "carers_allowance"),
        "claim_start": "date", "claim_end": "date?", "declared_monthly_earnings": "money+",
        "declared_savings": "money+", "declared_partner": "bool", "adults_in_household": "int1",
        "children_in_household": "int0", "monthly_housing_costs": "money+", "monthly_award": "money+",
        "bank_account_token": "text", "phone_token": "text?", "email_token": "text?",
        "application_channel": ("online", "phone", "in_person"), "submitted_at": "timestamp",
    },
    "tax_records": {
        "record_id": "id", "nino": "nino", "period": "period",
        "income_type": ("paye_employment", "self_employment", "savings_interest", "property"),
        "payer_ref": "text?", "amount": "money",
    },
    "housing_claims": {
        "housing_claim_id": "id", "la_code": "la",
        "scheme": ("housing_benefit", "council_tax_reduction", "single_person_discount", "social_tenancy"),
        "nino": "nino?", "first_name": "text", "surname": "text", "date_of_birth": "date",
        "uprn": "digits", "postcode": "text", "start_date": "date", "end_date": "date?",
        "monthly_rent": "money+?", "occupants_declared": "int1", "landlord_ref": "text?",
        "monthly_award": "money+",
    },
    "address_register": {
        "uprn": "digits", "postcode": "text", "la_code": "la",
        "property_type": ("flat", "terraced", "semi_detached", "detached", "hmo"), "bedrooms": "int0",
    },
    "electoral_register": {
        "elector_id": "id", "uprn": "digits", "first_name": "text", "surname": "text",
        "date_of_birth": "date?", "registered_from": "date",
    },
    "equality_monitoring": {
        "subject_ref": "text", "sex": ("female", "male", "other", "unknown"),
        "ethnicity_group": ("asian", "black", "mixed", "white", "other", "unknown"),
        "disability": ("yes", "no", "unknown"), "nationality_group": ("uk", "eu", "non_eu", "unknown"),
    },
    "investigation_outcomes": {
        "subject_ref": "text", "outcome": ("fraud", "error", "no_issue"), "closed_on": "date",
        "typology": "text?", "control": "bool?",
    },
}
PATTERNS = {
    "id": r"\S+", "text": r".*\S.*", "nino": r"[A-Z]{2}\d{6}[A-D]", "digits": r"\d+",
    "date": r"\d{4}-\d{2}-\d{2}", "money": r"-?\d+\.\d{2}", "money+": r"\d+\.\d{2}",
    "bool": r"true|false", "int0": r"\d+", "int1": r"[1-9]\d*", "period": r"\d{4}-(0[1-9]|1[0-2])",
    "la": r"E0[6-9]\d{6}", "timestamp": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}",
}
TYPOLOGIES = {
    "benefit_claims": {"undeclared_earnings", "living_together", "undeclared_capital",
                       "inflated_housing_costs", "shared_details_ring"},
    "housing_claims": {"single_person_discount", "duplicate_housing_claim", "subletting",
                       "inflated_housing_costs"},
}


def read_table(data_dir: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(data_dir / f"{table}.csv", dtype=str, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, int]]:
    root = tmp_path_factory.mktemp("world")
    truth = root / "truth" / "truth.csv"
    counts = generate_world(root / "data", people=PEOPLE, seed=1, truth_path=truth)
    return root / "data", truth, counts


@pytest.fixture(scope="module")
def tables(world: tuple[Path, Path, dict[str, int]]) -> dict[str, pd.DataFrame]:
    return {table: read_table(world[0], table) for table in CONTRACT}


@pytest.fixture(scope="module")
def truth(world: tuple[Path, Path, dict[str, int]]) -> pd.DataFrame:
    return read_truth(world[1])


@pytest.mark.parametrize("table", list(CONTRACT))
def test_table_has_exactly_the_contract_columns_and_types(tables, world, table):
    frame = tables[table]
    assert list(frame.columns) == list(CONTRACT[table])
    assert len(frame) == world[2][table] > 0
    for column, rule in CONTRACT[table].items():
        values = frame[column]
        if isinstance(rule, tuple):
            assert set(values.dropna()) <= set(rule), column
            assert values.notna().all(), column
            continue
        optional = rule.endswith("?")
        if not optional:
            assert values.notna().all(), column
        present = values.dropna()
        pattern = PATTERNS[rule.rstrip("?")]
        bad = present[~present.str.fullmatch(pattern)]
        assert bad.empty, f"{table}.{column}: {bad.head(3).tolist()}"
        if rule.rstrip("?") in ("date", "timestamp"):
            pd.to_datetime(present, format="ISO8601")  # real calendar dates


@pytest.mark.parametrize(("table", "key"), [
    ("benefit_claims", "claim_id"), ("tax_records", "record_id"), ("housing_claims", "housing_claim_id"),
    ("address_register", "uprn"), ("electoral_register", "elector_id"),
    ("equality_monitoring", "subject_ref"),
])
def test_identifiers_are_unique(tables, table, key):
    assert tables[table][key].is_unique


def test_world_is_roughly_the_intended_size(tables):
    assert 0.8 * PEOPLE < len(tables["benefit_claims"]) < 1.2 * PEOPLE
    assert 0.25 * PEOPLE < len(tables["housing_claims"]) < 0.45 * PEOPLE
    assert 0.9 * PEOPLE < len(tables["electoral_register"]) < 1.3 * PEOPLE
    assert 9 * PEOPLE < len(tables["tax_records"]) < 15 * PEOPLE
    claims = len(tables["benefit_claims"]) + len(tables["housing_claims"])
    assert len(tables["equality_monitoring"]) == claims
    assert 0.005 * claims < len(tables["investigation_outcomes"]) < 0.03 * claims


def test_references_point_at_known_records(tables):
    uprns = set(tables["address_register"]["uprn"])
    assert set(tables["housing_claims"]["uprn"]) <= uprns
    assert set(tables["electoral_register"]["uprn"]) <= uprns
    assert set(tables["benefit_claims"]["uprn"].dropna()) <= uprns
    subjects = set(tables["benefit_claims"]["claim_id"]) | set(tables["housing_claims"]["housing_claim_id"])
    assert set(tables["equality_monitoring"]["subject_ref"]) == subjects
    assert set(tables["investigation_outcomes"]["subject_ref"]) <= subjects


def test_truth_covers_every_claim_and_elector_once(tables, truth):
    assert list(truth.columns) == ["table", "record_ref", "person_id", "typology"]
    assert not truth.duplicated(["table", "record_ref"]).any()
    for table, key in (("benefit_claims", "claim_id"), ("housing_claims", "housing_claim_id"),
                       ("electoral_register", "elector_id")):
        assert set(truth.loc[truth["table"] == table, "record_ref"]) == set(tables[table][key])
    assert truth.loc[truth["table"] == "electoral_register", "typology"].isna().all()


def test_every_typology_is_present_in_its_table(truth):
    for table, expected in TYPOLOGIES.items():
        found = set(truth.loc[truth["table"] == table, "typology"].dropna())
        assert found == expected


def test_fraud_is_a_small_share_of_live_subjects(tables, truth):
    ends = pd.concat([tables["benefit_claims"]["claim_end"], tables["housing_claims"]["end_date"]])
    live = (ends.isna() | (ends > AS_OF)).sum()
    share = truth["typology"].notna().sum() / live
    assert 0.008 < share < 0.03


def test_fraud_is_on_live_claims_only(tables, truth):
    fraud = set(truth.loc[truth["typology"].notna(), "record_ref"])
    benefit = tables["benefit_claims"]
    housing = tables["housing_claims"]
    ends = pd.concat([benefit.loc[benefit["claim_id"].isin(fraud), "claim_end"],
                      housing.loc[housing["housing_claim_id"].isin(fraud), "end_date"]])
    assert (ends.isna() | (ends > AS_OF)).all()


def test_names_are_spelled_differently_across_systems(tables, truth):
    names = []
    for table, key in (("benefit_claims", "claim_id"), ("housing_claims", "housing_claim_id"),
                       ("electoral_register", "elector_id")):
        frame = tables[table][[key, "first_name", "surname"]].rename(columns={key: "record_ref"})
        names.append(frame.merge(truth[["record_ref", "person_id"]], on="record_ref"))
    names = pd.concat(names)
    linked = names.groupby("person_id").size() > 1

    def varied_share(first: pd.Series, surname: pd.Series) -> float:
        frame = pd.DataFrame({"person_id": names["person_id"], "first": first, "surname": surname})
        spellings = frame.groupby("person_id").nunique()
        return float(((spellings["first"] > 1) | (spellings["surname"] > 1))[linked].mean())

    def normalised(column: str) -> pd.Series:
        return names[column].str.lower().str.split().str.join(" ")

    assert 0.3 < varied_share(names["first_name"], names["surname"]) < 0.95
    # Beyond capitals and spaces: nicknames, middle names, surname parts, slips.
    assert 0.1 < varied_share(normalised("first_name"), normalised("surname")) < 0.6

    def has(pattern_first: str, pattern_second: str) -> bool:
        first = names[names["first_name"].str.fullmatch(pattern_first)]["person_id"]
        second = names[names["first_name"].str.fullmatch(pattern_second)]["person_id"]
        return bool(set(first) & set(second))

    assert has(r"[A-Z][a-z]+", r"[A-Z]+")  # the same person in capitals elsewhere
    assert has(r"\S+", r"\S+ \S+")  # a middle name in one system only
    assert names["first_name"].str.contains(r"^\s|\s$|\s\s", regex=True).any()
    nicknames = {"Bill", "Bob", "Liz", "Maggie", "Jim", "Tom", "Mike", "Kate", "Sue", "Dave", "Pat"}
    assert names["first_name"].isin(nicknames).any()
    hyphenated = names[names["surname"].str.contains("-", regex=False)]["person_id"]
    plain = names[~names["surname"].str.contains("-| ", regex=True)]["person_id"]
    assert set(hyphenated) & set(plain)  # a double-barrelled name cut to one part elsewhere


def test_nino_missing_rates(tables):
    assert 0.05 < tables["benefit_claims"]["nino"].isna().mean() < 0.16
    assert 0.45 < tables["housing_claims"]["nino"].isna().mean() < 0.65
    assert 0.02 < tables["benefit_claims"]["uprn"].isna().mean() < 0.15
    assert "nino" not in tables["electoral_register"].columns


def test_same_seed_writes_identical_bytes_and_another_seed_differs(tmp_path, world):
    data_dir, truth, _ = world
    generate_world(tmp_path / "again", people=PEOPLE, seed=1, truth_path=tmp_path / "again.csv")
    generate_world(tmp_path / "other", people=PEOPLE, seed=2, truth_path=tmp_path / "other.csv")
    for table in CONTRACT:
        name = f"{table}.csv"
        assert filecmp.cmp(data_dir / name, tmp_path / "again" / name, shallow=False), table
    assert filecmp.cmp(truth, tmp_path / "again.csv", shallow=False)
    assert not filecmp.cmp(data_dir / "benefit_claims.csv", tmp_path / "other" / "benefit_claims.csv",
                           shallow=False)


def test_chunks_keep_identifiers_unique(tmp_path):
    counts = generate_world(tmp_path / "data", people=1500, seed=4, truth_path=tmp_path / "t.csv",
                            chunk_people=600)
    benefit = read_table(tmp_path / "data", "benefit_claims")
    addresses = read_table(tmp_path / "data", "address_register")
    electors = read_table(tmp_path / "data", "electoral_register")
    tax = read_table(tmp_path / "data", "tax_records")
    truth = read_truth(tmp_path / "t.csv")
    assert benefit["claim_id"].is_unique and addresses["uprn"].is_unique
    assert electors["elector_id"].is_unique and tax["record_id"].is_unique
    assert truth["person_id"].str.fullmatch(r"P\d{8}").all()
    ninos = benefit.merge(truth, left_on="claim_id", right_on="record_ref").dropna(subset=["nino"])
    assert (ninos.groupby("nino")["person_id"].nunique() == 1).all()
    assert counts["truth"] == len(truth)


def test_a_chunked_world_is_its_chunks_with_unique_keys(tmp_path):
    from synthetic.names import build_name_pool
    from synthetic.world import Offsets, build_chunk, chunk_rng

    counts = generate_world(tmp_path / "data", people=1100, seed=6, truth_path=tmp_path / "t.parquet",
                            file_format="parquet", chunk_people=550)
    pool, offsets, chunk_rows = build_name_pool(), Offsets(), []
    for chunk in (0, 1):
        built = build_chunk(550, offsets, pool, chunk_rng(6, chunk))
        chunk_rows.append({table: rows.num_rows for table, rows in built.tables.items()}
                          | {"truth": sum(rows.num_rows for rows in built.truth)})
        offsets = built.offsets
    assert counts == {table: chunk_rows[0][table] + chunk_rows[1][table] for table in counts}
    for table, key in (("benefit_claims", "claim_id"), ("housing_claims", "housing_claim_id"),
                       ("tax_records", "record_id"), ("address_register", "uprn"),
                       ("electoral_register", "elector_id"), ("equality_monitoring", "subject_ref")):
        keys = pq.read_table(tmp_path / "data" / f"{table}.parquet", columns=[key]).column(key).to_pandas()
        assert len(keys) == counts[table] and keys.is_unique, table
    # a row group per chunk: a reader can take the file a chunk at a time
    assert pq.ParquetFile(tmp_path / "data" / "benefit_claims.parquet").num_row_groups == 2
    # the second chunk's people are numbered after the first's
    people = read_truth(tmp_path / "t.parquet")["person_id"].str.removeprefix("P").astype(int)
    assert people.min() < 550 <= people.max() < offsets.person == 1100


def test_truth_inside_the_data_directory_is_refused(tmp_path):
    with pytest.raises(ValueError, match="outside"):
        generate_world(tmp_path / "data", people=50, seed=1, truth_path=tmp_path / "data" / "truth.csv")
    with pytest.raises(ValueError, match="csv or .parquet"):
        generate_world(tmp_path / "data", people=50, seed=1, truth_path=tmp_path / "truth.txt")


def test_parquet_format(tmp_path, world):
    counts = generate_world(tmp_path / "data", people=PEOPLE, seed=1,
                            truth_path=tmp_path / "deep" / "truth.parquet", file_format="parquet")
    assert counts == world[2]
    for table, columns in CONTRACT.items():
        schema = pq.read_schema(tmp_path / "data" / f"{table}.parquet")
        assert schema.names == list(columns)
        assert not (tmp_path / "data" / f"{table}.csv").exists()
    benefit = pd.read_parquet(tmp_path / "data" / "benefit_claims.parquet")
    assert benefit["monthly_award"].dtype == "float64"
    assert benefit["declared_partner"].dtype == bool
    truth = read_truth(tmp_path / "deep" / "truth.parquet")
    assert len(truth) == counts["truth"]
    assert re.fullmatch(r"P\d{8}", truth["person_id"].iloc[0])
    generate_world(tmp_path / "again", people=PEOPLE, seed=1, truth_path=tmp_path / "again.parquet",
                   file_format="parquet")
    for table in CONTRACT:
        name = f"{table}.parquet"
        assert filecmp.cmp(tmp_path / "data" / name, tmp_path / "again" / name, shallow=False), table


def test_dates_are_consistent(tables):
    benefit, housing = tables["benefit_claims"], tables["housing_claims"]
    assert (benefit["claim_end"].dropna() >= benefit.loc[benefit["claim_end"].notna(), "claim_start"]).all()
    assert (housing["end_date"].dropna() >= housing.loc[housing["end_date"].notna(), "start_date"]).all()
    assert (benefit["claim_start"] >= "2012-04-01").all() and (housing["start_date"] >= "2012-04-01").all()
    assert (benefit["claim_start"] <= AS_OF).all() and (housing["start_date"] <= AS_OF).all()
    assert (benefit["submitted_at"].str[:10] <= benefit["claim_start"]).all()
    for frame, start in ((benefit, "claim_start"), (housing, "start_date")):
        adult_from = pd.to_datetime(frame["date_of_birth"]) + pd.DateOffset(years=18)
        assert (pd.to_datetime(frame[start]) >= adult_from - pd.Timedelta(days=2)).all()
    electors = tables["electoral_register"]
    assert (electors["registered_from"] <= AS_OF).all()
    periods = tables["tax_records"]["period"]
    assert periods.max() == "2026-09" and periods.min() == "2024-10"


def test_equality_monitoring_agrees_with_the_claims(tables):
    equality = tables["equality_monitoring"].set_index("subject_ref")
    benefit = tables["benefit_claims"].join(equality, on="claim_id")
    women = benefit["first_name"].str.strip().str.split().str[0].str.title().isin(
        ["Elizabeth", "Margaret", "Susan", "Karen", "Sarah", "Emily", "Claire", "Julie", "Amy"])
    men = benefit["first_name"].str.strip().str.split().str[0].str.title().isin(
        ["William", "Robert", "James", "Thomas", "David", "Paul", "Mark", "Ian", "Gary"])
    assert (benefit.loc[women, "sex"] == "female").mean() > 0.85
    assert (benefit.loc[men, "sex"] == "male").mean() > 0.85
    esa = benefit["benefit_type"] == "employment_support_allowance"
    assert (benefit.loc[esa, "disability"] == "yes").mean() > 0.7


def test_investigations_name_a_typology_of_their_claim_for_fraud(tables):
    outcomes = tables["investigation_outcomes"]
    assert outcomes["typology"].notna().eq(outcomes["outcome"] == "fraud").all()
    benefit_refs = set(tables["benefit_claims"]["claim_id"])
    for ref, typology in outcomes.dropna(subset=["typology"])[["subject_ref", "typology"]].itertuples(index=False):
        table = "benefit_claims" if ref in benefit_refs else "housing_claims"
        assert typology in TYPOLOGIES[table]


def test_the_old_selection_rules_over_pick_fraud_and_some_groups():
    rng = np.random.default_rng(0)
    n = 40_000
    people = pd.DataFrame({"age": rng.uniform(18, 80, n), "sex": rng.integers(0, 2, n)})
    equality = pd.DataFrame({"nationality_group": rng.choice(4, n, p=[0.8, 0.08, 0.09, 0.03]),
                             "ethnicity_group": rng.integers(0, 6, n)})
    typology = np.where(rng.random(n) < 0.015, "undeclared_earnings", "")
    chosen = make_investigations(
        np.arange(n), rng.integers(-1, 5, n), rng.integers(0, 3, n), rng.integers(0, 6, n),
        np.full(n, np.datetime64("2020-01-01")), typology, equality, people, rng)
    picked = chosen["claim"].to_numpy()
    assert 0.01 * n < len(picked) < 0.02 * n
    assert (typology[picked] != "").mean() > 4 * 0.015
    non_eu = equality["nationality_group"].to_numpy() == 2
    assert non_eu[picked].mean() > 1.5 * non_eu.mean()
    assert set(chosen.loc[chosen["outcome"] != 0, "typology"].dropna()) == set()


def test_rings_share_contact_details_across_addresses_and_honest_sharing_is_rarer(tables, truth):
    claims = tables["benefit_claims"].merge(truth, left_on="claim_id", right_on="record_ref")
    claims = claims[claims["claim_end"].isna()].copy()  # a person's tokens follow them when they move
    claims["place"] = claims["postcode"].str.upper().str.replace(" ", "", regex=False)
    spread = pd.concat([claims.groupby(column)["place"].transform("nunique").fillna(1)
                        for column in ("bank_account_token", "phone_token", "email_token")], axis=1).max(axis=1)
    ring = claims["typology"] == "shared_details_ring"
    assert (spread[ring] >= 2).mean() > 0.9
    honest = claims["typology"].isna()
    assert 0 < (spread[honest] >= 2).mean() < 0.05
    # Couples often share one account at their home.
    same_home = claims.groupby("bank_account_token")["person_id"].transform("nunique") > 1
    assert (same_home & (spread == 1) & honest).any()


def test_honest_claimants_declare_the_earnings_and_capital_the_tax_records_show(tables, truth):
    claims = tables["benefit_claims"].merge(truth, left_on="claim_id", right_on="record_ref")
    claims = claims[claims["claim_end"].isna() & claims["typology"].isna() & claims["nino"].notna()]
    tax = tables["tax_records"]
    tax = tax[tax["period"] >= "2025-10"].assign(amount=lambda frame: frame["amount"].astype(float))
    earning = tax["income_type"].isin(["paye_employment", "self_employment"])
    mean_earnings = claims["nino"].map(tax[earning].groupby("nino")["amount"].sum() / 12).fillna(0.0)
    interest = tax[tax["income_type"] == "savings_interest"].groupby("nino")["amount"].sum()
    implied_capital = claims["nino"].map(interest).fillna(0.0) / 0.03
    earnings_gap = mean_earnings - claims["declared_monthly_earnings"].astype(float)
    capital_gap = implied_capital - claims["declared_savings"].astype(float)
    assert (earnings_gap > 300).mean() < 0.05
    assert (capital_gap > 6000).mean() < 0.04
    # Only universal credit claimants earn much; the other benefits limit work.
    limited = claims["benefit_type"] != "universal_credit"
    assert (mean_earnings[limited] > 300).mean() < 0.01
