from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from configs.settings import load_settings
from features.contract import (
    CONTRACT,
    TABLES,
    ContractError,
    DoubledColumnError,
    MissingColumnError,
    MissingTableError,
    TooManyRejectsError,
    check_extract,
    enforce_reject_limit,
    read_table,
    reject_counts,
    validate_table,
    write_rejects,
)
from tests.features.contract_fixtures import clean_rows, write_contract_dir

# One case per contract rule: (table, data row to spoil (1-based), column, bad text, rule broken).
RULE_CASES = [
    ("benefit_claims", 2, "surname", "", "required"),
    ("benefit_claims", 1, "first_name", "   ", "required"),
    ("benefit_claims", 3, "date_of_birth", "1990-02-30", "type:date"),
    ("benefit_claims", 1, "claim_start", "15/01/2023", "type:date"),
    ("benefit_claims", 2, "submitted_at", "yesterday", "type:timestamp"),
    ("benefit_claims", 1, "monthly_award", "1,200.00", "type:decimal"),
    ("benefit_claims", 2, "adults_in_household", "1.5", "type:int"),
    ("benefit_claims", 3, "declared_partner", "yes", "type:bool"),
    ("benefit_claims", 1, "benefit_type", "Universal_Credit", "enum"),
    ("benefit_claims", 2, "application_channel", "post", "enum"),
    ("benefit_claims", 3, "declared_savings", "-0.01", "min:0"),
    ("benefit_claims", 1, "children_in_household", "-1", "min:0"),
    ("benefit_claims", 1, "adults_in_household", "0", "min:1"),
    ("benefit_claims", 1, "nino", "AB12345C", "pattern:nino"),
    ("benefit_claims", 3, "uprn", "10002345678A", "pattern:uprn"),
    ("benefit_claims", 3, "claim_id", "BC0001", "unique"),
    ("benefit_claims", 2, "claim_end", "2022-05-31", "order:claim_end>=claim_start"),
    ("tax_records", 2, "period", "2023-13", "type:period"),
    ("tax_records", 3, "period", "2024-1", "type:period"),
    ("tax_records", 4, "income_type", "benefits", "enum"),
    ("tax_records", 1, "amount", "", "required"),
    ("tax_records", 4, "record_id", "TR0002", "unique"),
    ("housing_claims", 1, "la_code", "X06000001", "pattern:la_code"),
    ("housing_claims", 2, "scheme", "council_tax", "enum"),
    ("housing_claims", 1, "occupants_declared", "0", "min:1"),
    ("housing_claims", 1, "monthly_rent", "-650.00", "min:0"),
    ("housing_claims", 2, "end_date", "2021-03-31", "order:end_date>=start_date"),
    ("housing_claims", 2, "housing_claim_id", "HC0001", "unique"),
    ("address_register", 3, "uprn", "010012345678", "unique"),
    ("address_register", 2, "property_type", "bungalow", "enum"),
    ("address_register", 1, "bedrooms", "-1", "min:0"),
    ("address_register", 2, "bedrooms", "two", "type:int"),
    ("electoral_register", 2, "registered_from", "", "required"),
    ("electoral_register", 3, "date_of_birth", "1975-11-31", "type:date"),
    ("electoral_register", 2, "elector_id", "EL0001", "unique"),
    ("equality_monitoring", 1, "sex", "F", "enum"),
    ("equality_monitoring", 2, "ethnicity_group", "White", "enum"),
    ("equality_monitoring", 3, "disability", "maybe", "enum"),
    ("equality_monitoring", 4, "nationality_group", "british", "enum"),
    ("investigation_outcomes", 1, "outcome", "closed", "enum"),
    ("investigation_outcomes", 2, "closed_on", "2024-01-20T10:00", "type:date"),
    ("electoral_register", 1, "surname", "Smith\x00", "text:control"),
    ("electoral_register", 2, "first_name", "Ann" * 167, "text:length"),
    ("tax_records", 1, "period", "2099-12", "range:period"),
]


def _spoil(table: str, row: int, column: str, text: str) -> list[dict[str, str]]:
    rows = clean_rows(table)
    rows[row - 1][column] = text
    return rows


def _sha256(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def test_every_declared_rule_has_a_case():
    declared = {
        (spec.name, rule)
        for spec in CONTRACT.values()
        for column in spec.columns
        for rule in column.rules
    } | {(spec.name, order.rule) for spec in CONTRACT.values() for order in spec.orders}
    covered = {(table, rule) for table, _, _, _, rule in RULE_CASES}
    # Each rule kind appears at least once; every table's order and pattern rules are covered.
    assert {rule for _, rule in declared} <= {rule for _, rule in covered}
    assert {
        pair for pair in declared if pair[1].startswith(("order:", "pattern:", "unique"))
    } <= covered


def test_a_text_at_the_length_limit_is_kept_counted_in_characters(tmp_path):
    from features.contract import TEXT_MAX_CHARACTERS

    longest = "Zoë" * (TEXT_MAX_CHARACTERS // 3) + "é" * (TEXT_MAX_CHARACTERS % 3)
    data_dir = write_contract_dir(tmp_path, electoral_register=_spoil("electoral_register", 1, "first_name", longest))

    valid, rejects = validate_table("electoral_register", read_table(data_dir, "electoral_register"))

    assert rejects.empty and valid["first_name"].iloc[0] == longest


@pytest.mark.parametrize(("table", "row", "column", "text", "rule"), RULE_CASES)
def test_rule_refuses_the_bad_row_and_keeps_the_rest(tmp_path, table, row, column, text, rule):
    data_dir = write_contract_dir(tmp_path, **{table: _spoil(table, row, column, text)})

    valid, rejects = validate_table(table, read_table(data_dir, table))

    assert rejects.to_dict("records") == [
        {"table": table, "row": row, "column": column, "rule": rule, "value": text}
    ]
    all_rows = list(range(1, len(clean_rows(table)) + 1))
    assert valid["row"].tolist() == [r for r in all_rows if r != row]


def test_negative_tax_amount_is_a_correction_not_a_reject(contract_dir):
    valid, rejects = validate_table("tax_records", read_table(contract_dir, "tax_records"))
    assert rejects.empty
    assert valid["amount"].min() == -50.0


def test_a_row_breaking_several_rules_gives_one_line_per_rule(tmp_path):
    rows = clean_rows("benefit_claims")
    rows[1].update(nino="12345678", monthly_award="-3", application_channel="fax")
    data_dir = write_contract_dir(tmp_path, benefit_claims=rows)

    valid, rejects = validate_table("benefit_claims", read_table(data_dir, "benefit_claims"))

    assert rejects[["row", "column", "rule"]].values.tolist() == [
        [2, "application_channel", "enum"],
        [2, "monthly_award", "min:0"],
        [2, "nino", "pattern:nino"],
    ]
    assert valid["row"].tolist() == [1, 3]


def test_clean_directory_has_no_rejects_and_typed_frames(contract_dir):
    extract = check_extract(contract_dir)

    assert extract.rejects.empty
    assert list(extract.rejects.columns) == ["table", "row", "column", "rule", "value"]
    for table in TABLES:
        frame = extract.table(table)
        assert list(frame.columns) == ["row", *CONTRACT[table].column_names]
        assert frame["row"].tolist() == list(range(1, len(clean_rows(table)) + 1))
        for column in CONTRACT[table].columns:
            assert str(frame[column.name].dtype) == column.dtype, (table, column.name)
    claims = extract.benefit_claims
    assert claims["declared_partner"].tolist() == [False, True, False]
    assert claims["adults_in_household"].tolist() == [1, 2, 1]
    assert claims["claim_end"].isna().tolist() == [True, False, True]
    assert claims["nino"].isna().tolist() == [False, True, False]
    # Offsets are converted to UTC; a time without offset is kept as written.
    assert claims["submitted_at"].tolist() == [
        pd.Timestamp("2023-01-10 09:30"),
        pd.Timestamp("2022-05-20 14:00"),
        pd.Timestamp("2023-12-28 10:15"),
    ]
    assert extract.tax_records["period"].tolist() == [
        pd.Timestamp(d) for d in ("2023-01-01", "2023-02-01", "2024-01-01", "2024-02-01")
    ]
    assert np.isnan(extract.housing_claims["monthly_rent"].iloc[1])


def test_leading_zeros_are_kept(contract_dir):
    extract = check_extract(contract_dir)
    assert extract.benefit_claims["uprn"].iloc[0] == "010012345678"
    assert extract.address_register["uprn"].iloc[0] == "010012345678"
    assert extract.electoral_register["uprn"].tolist()[:2] == ["010012345678", "010012345678"]


def test_corrupted_copy_refuses_exactly_the_bad_rows(contract_dir, tmp_path):
    spoiled = {
        ("benefit_claims", 1): ("date_of_birth", "1980-13-01", "type:date"),
        ("benefit_claims", 3): ("monthly_housing_costs", "lots", "type:decimal"),
        ("tax_records", 2): ("income_type", "PAYE", "enum"),
        ("housing_claims", 2): ("la_code", "e06000001", "pattern:la_code"),
        ("address_register", 3): ("bedrooms", "", "required"),
        ("electoral_register", 1): ("elector_id", "", "required"),
        ("equality_monitoring", 5): ("sex", "m", "enum"),
        ("investigation_outcomes", 1): ("subject_ref", " ", "required"),
    }
    copy = tmp_path / "corrupted"
    shutil.copytree(contract_dir, copy)
    for table in TABLES:
        path = copy / f"{table}.csv"
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        for (spoilt_table, row), (column, text, _) in spoiled.items():
            if spoilt_table == table:
                frame.loc[row - 1, column] = text
        frame.to_csv(path, index=False)

    extract = check_extract(copy)

    got = {
        (r.table, r.row): (r.column, r.value, r.rule)
        for r in extract.rejects.itertuples(index=False)
    }
    assert got == {key: (column, text, rule) for key, (column, text, rule) in spoiled.items()}
    for table in TABLES:
        bad = {row for spoilt_table, row in spoiled if spoilt_table == table}
        kept = extract.table(table)["row"].tolist()
        assert kept == [r for r in range(1, len(clean_rows(table)) + 1) if r not in bad]
        assert extract.quality[table].rows_refused == len(bad)


def test_missing_table_names_the_file(tmp_path):
    data_dir = write_contract_dir(tmp_path, omit=["housing_claims"])
    with pytest.raises(MissingTableError) as raised:
        check_extract(data_dir)
    assert str(raised.value) == (
        f"missing table housing_claims: no housing_claims.csv or housing_claims.parquet in {data_dir}"
    )
    assert isinstance(raised.value, ContractError) and isinstance(raised.value, ValueError)


def test_missing_optional_outcomes_give_an_empty_typed_frame(tmp_path):
    data_dir = write_contract_dir(tmp_path, omit=["investigation_outcomes"])
    outcomes = check_extract(data_dir).investigation_outcomes
    assert outcomes.empty
    assert list(outcomes.columns) == ["row", "subject_ref", "outcome", "closed_on", "typology", "control"]
    assert str(outcomes["closed_on"].dtype) == "datetime64[ns]"


def test_missing_required_column_names_table_and_column(tmp_path):
    rows = [
        {k: v for k, v in row.items() if k != "postcode"} for row in clean_rows("address_register")
    ]
    data_dir = write_contract_dir(tmp_path, address_register=rows)
    with pytest.raises(
        MissingColumnError, match="missing column postcode in table address_register"
    ):
        read_table(data_dir, "address_register")
    with pytest.raises(
        MissingColumnError, match="missing column postcode in table address_register"
    ):
        validate_table("address_register", pd.DataFrame(rows))


def test_missing_optional_column_reads_as_empty(tmp_path):
    rows = [
        {k: v for k, v in row.items() if k != "phone_token"} for row in clean_rows("benefit_claims")
    ]
    data_dir = write_contract_dir(tmp_path, benefit_claims=rows)
    extract = check_extract(data_dir)
    assert extract.benefit_claims["phone_token"].isna().all()
    assert extract.quality["benefit_claims"].completeness["phone_token"] == 0.0


def test_extra_columns_are_ignored(tmp_path):
    rows = [{"comment": "x,y", **row, "row": "99"} for row in clean_rows("electoral_register")]
    data_dir = write_contract_dir(tmp_path, electoral_register=rows)
    raw = read_table(data_dir, "electoral_register")
    assert list(raw.columns) == list(CONTRACT["electoral_register"].column_names)
    valid, rejects = validate_table("electoral_register", pd.DataFrame(rows))
    assert rejects.empty
    assert valid["row"].tolist() == [1, 2, 3]
    assert "comment" not in valid.columns


def test_parquet_input_matches_csv_input(contract_dir, tmp_path):
    parquet_dir = write_contract_dir(tmp_path / "parquet", file_format="parquet")
    from_csv = check_extract(contract_dir)
    from_parquet = check_extract(parquet_dir)
    assert from_parquet.rejects.empty
    for table in TABLES:
        pd.testing.assert_frame_equal(
            from_parquet.table(table), from_csv.table(table), check_dtype=True
        )


def test_parquet_bad_values_are_refused(tmp_path):
    frame = pd.DataFrame(
        {
            "uprn": ["1", "2", "3"],
            "postcode": ["A", "B", "C"],
            "la_code": ["E06000001"] * 3,
            "property_type": ["flat", "flat", "hmo"],
            "bedrooms": [2.0, 1.5, np.nan],
        }
    )
    frame.to_parquet(tmp_path / "address_register.parquet", index=False)
    valid, rejects = validate_table("address_register", read_table(tmp_path, "address_register"))
    assert rejects[["row", "column", "rule", "value"]].values.tolist() == [
        [2, "bedrooms", "type:int", "1.5"],
        [3, "bedrooms", "required", ""],
    ]
    assert valid["bedrooms"].tolist() == [2]


def test_csv_and_parquet_for_one_table_is_an_error(contract_dir):
    write_contract_dir(contract_dir.parent / "pq", file_format="parquet")
    shutil.copy(contract_dir.parent / "pq" / "tax_records.parquet", contract_dir)
    with pytest.raises(ContractError, match="two files for table tax_records"):
        read_table(contract_dir, "tax_records")


def test_a_ragged_row_a_bad_byte_and_a_nul_are_faults_of_their_rows_not_of_the_table(contract_dir):
    tax = contract_dir / "tax_records.csv"
    lines = tax.read_bytes().splitlines(keepends=True)
    rows_before = len(lines) - 1
    fields = lines[1].rstrip(b"\r\n").split(b",")
    ragged = b",".join([b"TR9001", *fields[1:3]]) + b"\n"  # too few fields
    nul = b",".join([b"TR9002", *fields[1:-1], fields[-1] + b"\x00"]) + b"\n"  # a NUL at a field's end
    tax.write_bytes(b"".join([*lines, ragged, nul]))
    benefit = contract_dir / "benefit_claims.csv"
    benefit_lines = benefit.read_bytes().splitlines(keepends=True)
    benefit_lines[2] = benefit_lines[2].replace(b",", b"\xff,", 1)  # not UTF-8, in the second data row
    benefit.write_bytes(b"".join(benefit_lines))

    extract = check_extract(contract_dir)
    rejects = extract.rejects

    def refused(table: str, rule: str) -> list[int]:
        return rejects.loc[(rejects["table"] == table) & (rejects["rule"] == rule), "row"].tolist()

    assert refused("tax_records", "file:fields") == [rows_before + 1]
    # the row ending in a NUL is read as the six fields it holds and refused by its column's rule
    assert refused("tax_records", "type:decimal") == [rows_before + 2]
    assert refused("benefit_claims", "file:encoding") == [2]
    assert len(extract.tax_records) == rows_before  # every other row is read
    assert len(extract.benefit_claims) == len(benefit_lines) - 2
    quality = extract.quality["tax_records"]
    assert (quality.rows_in, quality.rows_refused) == (rows_before + 2, 2)


def test_utf8_bom_header_and_booleans_in_capitals_are_read(tmp_path):
    rows = clean_rows("benefit_claims")
    rows[0]["declared_partner"] = "TRUE"
    frame = pd.DataFrame(rows)
    (tmp_path / "benefit_claims.csv").write_text(
        "\ufeff" + frame.to_csv(index=False), encoding="utf-8"
    )
    valid, rejects = validate_table("benefit_claims", read_table(tmp_path, "benefit_claims"))
    assert rejects.empty
    assert valid["declared_partner"].tolist() == [True, True, False]


def test_too_many_rejects_stops_with_table_column_and_example(tmp_path):
    rows = clean_rows("tax_records")
    rows[1]["period"] = "Feb 2023"
    rows[2]["period"] = "2024/01"
    rows[3]["amount"] = "n/a"
    data_dir = write_contract_dir(tmp_path, tax_records=rows)
    settings = load_settings(contract={"max_reject_share": 0.5})

    with pytest.raises(TooManyRejectsError) as raised:
        enforce_reject_limit(check_extract(data_dir), settings.contract.max_reject_share)

    assert str(raised.value) == (
        "too many rejects in tax_records: 3 of 4 rows refused (75.0%, limit 50.0%); "
        "most often column period breaking rule type:period (2 rows), e.g. row 2: 'Feb 2023'"
    )
    # At the limit the run goes on: the share must pass it to stop.
    rows[3]["amount"] = "1.00"
    data_dir = write_contract_dir(tmp_path, tax_records=rows)
    extract = check_extract(data_dir)
    enforce_reject_limit(extract, settings.contract.max_reject_share)
    assert len(extract.rejects) == 2


def test_inputs_are_untouched(tmp_path):
    rows = clean_rows("benefit_claims")
    rows[0]["nino"] = "bad"
    data_dir = write_contract_dir(tmp_path / "extract", benefit_claims=rows)
    before = _sha256(data_dir)
    raw = read_table(data_dir, "benefit_claims")
    raw_copy = raw.copy(deep=True)

    assert len(check_extract(data_dir).rejects) == 1
    validate_table("benefit_claims", raw)

    assert _sha256(data_dir) == before
    pd.testing.assert_frame_equal(raw, raw_copy)


def test_write_rejects_sorted_by_table_row_column(tmp_path):
    rejects = pd.DataFrame(
        {
            "table": ["tax_records", "benefit_claims", "benefit_claims"],
            "row": [1, 10, 2],
            "column": ["period", "nino", "surname"],
            "rule": ["type:period", "pattern:nino", "required"],
            "value": ["x", "0123", ""],
        }
    )
    path = write_rejects(rejects, tmp_path / "out" / "rejects.csv")
    written = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert written.values.tolist() == [
        ["benefit_claims", "2", "surname", "required", ""],
        ["benefit_claims", "10", "nino", "pattern:nino", "0123"],
        ["tax_records", "1", "period", "type:period", "x"],
    ]
    assert reject_counts(rejects) == {
        "benefit_claims": {"pattern:nino": 1, "required": 1},
        "tax_records": {"type:period": 1},
    }


def test_quality_figures(tmp_path):
    rows = clean_rows("electoral_register")
    rows[2]["elector_id"] = "EL0001"
    data_dir = write_contract_dir(tmp_path, electoral_register=rows)
    quality = check_extract(data_dir).quality["electoral_register"]
    assert (quality.rows_in, quality.rows_valid, quality.rows_refused) == (3, 2, 1)
    assert quality.validity == pytest.approx(2 / 3)
    assert quality.key == "elector_id"
    assert quality.key_uniqueness == pytest.approx(2 / 3)
    assert quality.completeness["date_of_birth"] == pytest.approx(2 / 3)
    assert quality.completeness["elector_id"] == 1.0
    assert quality.as_dict()["rows_refused"] == 1


def test_uniqueness_of_many_keys_with_a_late_repeat():
    # Large enough to take the hashed path; a repeat far from its first occurrence is found.
    ids = [f"R{i:09d}" for i in range(5000)]
    ids[4321] = ids[17]
    ids[4999] = "R"  # different width
    frame = pd.DataFrame(
        {
            "record_id": ids,
            "nino": "AB123456C",
            "period": "2024-01",
            "income_type": "property",
            "payer_ref": None,
            "amount": "1",
        }
    )
    valid, rejects = validate_table("tax_records", frame)
    assert rejects[["row", "rule", "value"]].values.tolist() == [[4322, "unique", "R000000017"]]
    assert len(valid) == 4999


def test_unknown_table_is_an_error():
    with pytest.raises(ContractError, match="unknown table claims"):
        validate_table("claims", pd.DataFrame())


@pytest.mark.parametrize(
    "keys",
    [
        ["AB", "AB ", "AB", "ab"],  # trailing space and case make different keys
        ["Écu0001", "Ecu0001", "Écu0001", "Écu0002"],  # multi-byte text: exact comparison
        ["K000000001", "K00000001", "K000000001", None],  # mixed widths, an empty key
    ],
)
def test_unique_compares_exact_text(keys):
    frame = pd.DataFrame(
        {
            "uprn": keys,
            "postcode": "AB1 2CD",
            "la_code": "E06000001",
            "property_type": "flat",
            "bedrooms": "1",
        }
    )
    valid, rejects = validate_table("address_register", frame)
    unique = rejects[rejects["rule"] == "unique"]
    assert unique[["row", "value"]].values.tolist() == [[3, keys[0]]]
    assert keys[0] in valid["uprn"].tolist()


def test_extract_gives_each_table_by_name(contract_dir):
    extract = check_extract(contract_dir)
    assert list(extract.quality) == list(TABLES)
    assert extract.table("tax_records") is extract.tax_records
    with pytest.raises(ContractError, match="unknown table claims"):
        extract.table("claims")


def test_chunked_columns_as_read_from_large_files():
    # Large CSV files arrive in several arrow chunks; a repeat may sit in another chunk.
    ids = [f"R{i:09d}" for i in range(3000)]
    chunks = pa.chunked_array(
        [
            pa.array(ids[:1000], pa.large_string()),
            pa.array(ids[1000:] + [ids[5]], pa.large_string()),
        ]
    )
    periods = pa.chunked_array(
        [pa.array(["2024-01"] * 1000), pa.array(["2024-02"] * 2000 + [None])]
    )
    frame = pd.DataFrame(
        {
            "record_id": pd.arrays.ArrowStringArray(chunks),
            "nino": "AB123456C",
            "period": pd.arrays.ArrowStringArray(periods.cast(pa.large_string())),
            "income_type": "property",
            "payer_ref": None,
            "amount": "1",
        }
    )
    valid, rejects = validate_table("tax_records", frame)
    assert rejects[["row", "column", "rule"]].values.tolist() == [
        [3001, "period", "required"],
        [3001, "record_id", "unique"],
    ]
    assert valid["period"].iloc[[0, -1]].tolist() == [
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-02-01"),
    ]


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_valid_frames_can_be_edited_in_place(tmp_path, file_format):
    extract = check_extract(write_contract_dir(tmp_path, file_format=file_format))
    for table in TABLES:
        frame = extract.table(table)
        for column in frame.columns:
            frame.loc[0, column] = frame.loc[1, column]
    assert extract.tax_records.loc[0, "amount"] == 1200.0


def test_a_housing_claim_id_equal_to_a_claim_id_is_refused(tmp_path):
    rows = clean_rows("housing_claims")
    rows[1]["housing_claim_id"] = "BC0002"  # two subjects would share one subject_ref
    extract = check_extract(write_contract_dir(tmp_path, housing_claims=rows))

    assert extract.rejects.to_dict("records") == [{
        "table": "housing_claims", "row": 2, "column": "housing_claim_id", "rule": "unique:subject_ref",
        "value": "BC0002",
    }]
    assert extract.housing_claims["housing_claim_id"].tolist() == ["HC0001"]
    assert extract.benefit_claims["claim_id"].tolist() == ["BC0001", "BC0002", "BC0003"]
    assert extract.quality["housing_claims"].rows_refused == 1
    assert reject_counts(extract.rejects) == {"housing_claims": {"unique:subject_ref": 1}}


def _renamed(table: str, old: str, new: str) -> list[dict]:
    return [{(new if key == old else key): value for key, value in row.items()} for row in clean_rows(table)]


def test_a_missing_column_that_says_which_claims_ended_stops_the_run_naming_it(tmp_path):
    data_dir = write_contract_dir(tmp_path, benefit_claims=_renamed("benefit_claims", "claim_end", "claim_end_date"))
    with pytest.raises(MissingColumnError) as raised:
        check_extract(data_dir)
    message = str(raised.value)
    assert message.startswith("missing column claim_end in table benefit_claims")
    assert "(the header has claim_end_date: did you mean claim_end?)" in message
    assert "absent_columns: {benefit_claims: [claim_end]}" in message
    # said to be absent: read as empty, every claim live, and named in the figures
    extract = check_extract(data_dir, {"benefit_claims": ["claim_end"]})
    assert extract.benefit_claims["claim_end"].isna().all()
    assert extract.quality["benefit_claims"].as_dict()["missing_columns"] == ["claim_end"]


def test_another_missing_optional_column_is_named_in_the_figures(tmp_path):
    rows = [{key: value for key, value in row.items() if key != "phone_token"} for row in clean_rows("benefit_claims")]
    extract = check_extract(write_contract_dir(tmp_path, benefit_claims=rows))
    assert extract.quality["benefit_claims"].missing_columns == ("phone_token",)
    assert extract.quality["housing_claims"].missing_columns == ()


def test_a_header_naming_a_column_twice_is_refused(tmp_path):
    data_dir = write_contract_dir(tmp_path)
    path = data_dir / "benefit_claims.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([lines[0] + ",claim_end"] + [line + "," for line in lines[1:]]) + "\n",
                    encoding="utf-8")
    with pytest.raises(DoubledColumnError, match="names column claim_end 2 times in its header"):
        check_extract(data_dir)


def test_a_tax_period_after_the_run_month_is_refused_as_a_row(tmp_path):
    rows = clean_rows("tax_records")
    rows[1] = {**rows[1], "period": "2099-12"}
    extract = check_extract(write_contract_dir(tmp_path, tax_records=rows))
    refused = extract.rejects[extract.rejects["table"] == "tax_records"]
    assert refused[["row", "column", "rule", "value"]].values.tolist() == [[2, "period", "range:period", "2099-12"]]


@pytest.mark.parametrize("spoilt", ["BC\x00001", "BC\n001", "BC\x7f01"])
def test_control_characters_in_text_are_refused_as_rows(tmp_path, spoilt):
    rows = clean_rows("benefit_claims")
    rows[0] = {**rows[0], "claim_id": spoilt}
    extract = check_extract(write_contract_dir(tmp_path, benefit_claims=rows, file_format="parquet"))
    refused = extract.rejects[extract.rejects["table"] == "benefit_claims"]
    assert (refused["column"].tolist(), refused["rule"].tolist()) == (["claim_id"], ["text:control"])
    assert spoilt not in extract.benefit_claims["claim_id"].tolist()


def test_a_handful_of_later_tax_rows_does_not_move_the_as_of_date(caplog):
    from features.build import resolve_as_of

    periods = ["2026-07"] * 300 + ["2026-08"] * 310 + ["2026-09"] * 305 + ["2026-11"] * 3
    with caplog.at_level("WARNING", logger="features.build"):
        assert resolve_as_of(pd.DataFrame({"period": periods})) == dt.date(2026, 9, 30)
    assert "later months ignored for it: 2026-11 (3 records)" in caplog.text


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_an_end_date_after_2262_is_read_as_not_ended(tmp_path, file_format):
    """9999-12-31, the usual open end, was refused as type:date (beyond datetime64[ns])."""
    claims, housing = clean_rows("benefit_claims"), clean_rows("housing_claims")
    claims[0]["claim_end"], housing[0]["end_date"] = "9999-12-31", "2262-04-11"
    claims[1]["date_of_birth"] = "2300-01-01"  # any other date still has to fit
    extract = check_extract(write_contract_dir(tmp_path, file_format=file_format, benefit_claims=claims,
                                               housing_claims=housing))
    assert extract.rejects[["table", "row", "column", "rule"]].values.tolist() == [
        ["benefit_claims", 2, "date_of_birth", "type:date"]]
    assert pd.isna(extract.benefit_claims["claim_end"].iloc[0])
    assert pd.isna(extract.housing_claims["end_date"].iloc[0])


@pytest.mark.parametrize("line_ending", ["\n", "\r\n"])
def test_blank_lines_do_not_shift_the_row_numbers_of_later_rows(tmp_path, line_ending):
    """A blank line holds no row, but the rows after it once took the numbers one lower."""
    rows = clean_rows("benefit_claims")
    rows[2]["declared_savings"] = "-5"
    data_dir = write_contract_dir(tmp_path, benefit_claims=rows)
    path = data_dir / "benefit_claims.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    # header, row 1, two blank lines, rows 2 and 3 (the bad one): rows are the file's lines less the header
    lines[2:2] = ["", ""]
    path.write_bytes((line_ending.join(lines) + line_ending).encode("utf-8"))
    bad_line = lines.index(next(line for line in lines if ",-5," in line)) + 1

    extract = check_extract(data_dir)
    assert extract.rejects[["table", "row", "column", "rule"]].values.tolist() == [
        ["benefit_claims", bad_line - 1, "declared_savings", "min:0"]]
    assert extract.benefit_claims["row"].tolist() == [1, 4, *range(6, len(rows) + 3)]


def test_a_file_read_row_by_row_with_no_spoiled_row_is_not_reported_as_refusing_any(contract_dir, caplog):
    # Arrow's reader refuses some large files Python's reads whole (a NUL at a field's end near a block's edge)
    from features.contract.reading import _read_csv_row_by_row

    path = contract_dir / "tax_records.csv"
    header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
    with caplog.at_level("INFO", logger="features.contract"):
        frame, faults = _read_csv_row_by_row(CONTRACT["tax_records"], path, header, header)

    assert faults.empty and len(frame) == len(clean_rows("tax_records"))
    assert "could not be read as they stand" not in caplog.text
    assert "read row by row, every row as it stands" in caplog.text
