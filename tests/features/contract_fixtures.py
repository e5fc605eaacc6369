"""A minimal valid extract of the seven contract tables, written as real files.

Other tests reuse it::

    from tests.features.contract_fixtures import clean_rows, write_contract_dir

    rows = clean_rows("benefit_claims")
    rows[1]["nino"] = "bad"
    data_dir = write_contract_dir(tmp_path / "extract", benefit_claims=rows)

The rows describe three people consistently across tables (Anna Smith with NINO, Ben Jones without
one on his benefit claim, Cara Brown), with identifiers that carry leading zeros.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from features.contract import CONTRACT, Kind

# The valid extract as CSV text, one block per table ("" = empty cell).
_CLEAN_CSV: dict[str, str] = {
    "benefit_claims": """\
claim_id,nino,first_name,surname,date_of_birth,uprn,postcode,benefit_type,claim_start,claim_end,declared_monthly_earnings,declared_savings,declared_partner,adults_in_household,children_in_household,monthly_housing_costs,monthly_award,bank_account_token,phone_token,email_token,application_channel,submitted_at
BC0001,AB123456C,Anna,Smith,1980-04-01,010012345678,AB1 2CD,universal_credit,2023-01-15,,0.00,1500.50,false,1,2,650.00,1200.00,BK0001,PH0001,,online,2023-01-10T09:30:00
BC0002,,Ben,Jones,1975-11-30,,ZZ9 9ZZ,pension_credit,2022-06-01,2024-03-31,120.5,0,true,2,0,0.00,300.25,BK0002,,EM0002,phone,2022-05-20T14:00:00Z
BC0003,CD654321A,Cara,Brown,1990-02-28,100023456789,M1 1AA,jobseekers_allowance,2024-01-01,,800,20000,false,1,0,450.75,400.00,BK0003,PH0003,EM0003,in_person,2023-12-28 11:15:00+01:00
""",
    "tax_records": """\
record_id,nino,period,income_type,payer_ref,amount
TR0001,AB123456C,2023-01,paye_employment,PAYE001,1200.00
TR0002,AB123456C,2023-02,paye_employment,PAYE001,1200.00
TR0003,CD654321A,2024-01,savings_interest,,12.34
TR0004,CD654321A,2024-02,self_employment,,-50.00
""",
    "housing_claims": """\
housing_claim_id,la_code,scheme,nino,first_name,surname,date_of_birth,uprn,postcode,start_date,end_date,monthly_rent,occupants_declared,landlord_ref,monthly_award
HC0001,E06000001,housing_benefit,AB123456C,ANNA,SMITH,1980-04-01,010012345678,AB1 2CD,2023-02-01,,650.00,3,LL01,500.00
HC0002,W06000011,single_person_discount,,Ben,Jones,1975-11-30,200012345678,ZZ9 9ZZ,2021-04-01,2023-03-31,,1,,45.10
""",
    "address_register": """\
uprn,postcode,la_code,property_type,bedrooms
010012345678,AB1 2CD,E06000001,flat,2
100023456789,M1 1AA,E08000003,terraced,3
200012345678,ZZ9 9ZZ,W06000011,detached,0
""",
    "electoral_register": """\
elector_id,uprn,first_name,surname,date_of_birth,registered_from
EL0001,010012345678,Anna,Smith,1980-04-01,2015-05-01
EL0002,010012345678,Dan,Smith,,2018-09-12
EL0003,200012345678,Ben,Jones,1975-11-30,2010-01-01
""",
    "equality_monitoring": """\
subject_ref,sex,ethnicity_group,disability,nationality_group
BC0001,female,white,no,uk
BC0002,male,black,yes,eu
BC0003,other,asian,unknown,non_eu
HC0001,female,white,no,uk
HC0002,male,unknown,unknown,unknown
""",
    "investigation_outcomes": """\
subject_ref,outcome,closed_on,typology,control
BC0002,no_issue,2023-05-01,,false
HC0001,fraud,2024-01-20,inflated_housing_costs,true
""",
}


def clean_rows(table: str) -> list[dict[str, str]]:
    """A fresh copy of the valid rows of ``table``, as CSV text ("" = empty cell)."""
    return list(csv.DictReader(io.StringIO(_CLEAN_CSV[table])))


def write_contract_dir(
    directory: str | Path,
    *,
    file_format: str = "csv",
    omit: Iterable[str] = (),
    **overrides: list[dict[str, str]] | pd.DataFrame,
) -> Path:
    """Write a valid data directory of the seven tables; return its path.

    Parameters
    ----------
    directory : str or Path
        Created when missing.
    file_format : {"csv", "parquet"}
        CSV holds the text as given; parquet stores typed columns (dates, floats, ints, bools), as a
        department's parquet extract would.
    omit : iterable of str
        Tables not to write.
    **overrides
        ``table=rows`` replaces that table's rows (a list of dicts of CSV text, or a DataFrame).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    unknown = set(overrides) - set(_CLEAN_CSV)
    if unknown:
        raise ValueError(f"unknown table(s) {sorted(unknown)}")
    for table in _CLEAN_CSV:
        if table in set(omit):
            continue
        rows = overrides.get(table, clean_rows(table))
        frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, dtype=object)
        if file_format == "csv":
            frame.to_csv(directory / f"{table}.csv", index=False)
        elif file_format == "parquet":
            _typed(table, frame).to_parquet(directory / f"{table}.parquet", index=False)
        else:
            raise ValueError(f"unknown file format {file_format!r}")
    return directory


def _typed(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """CSV text to the native types a parquet writer would store."""
    typed = {}
    for column in CONTRACT[table].columns:
        if column.name not in frame.columns:
            continue
        text = frame[column.name].astype(object).where(frame[column.name] != "", None)
        if column.kind is Kind.DATE:
            typed[column.name] = [None if v is None else dt.date.fromisoformat(v) for v in text]
        elif column.kind is Kind.TIMESTAMP:
            typed[column.name] = pd.to_datetime(text, format="ISO8601", utc=True)
        elif column.kind is Kind.DECIMAL:
            typed[column.name] = text.astype("float64")
        elif column.kind is Kind.INT:
            typed[column.name] = text.astype("int64")
        elif column.kind is Kind.BOOL:
            typed[column.name] = text.map({"true": True, "false": False}).astype(bool)
        else:
            typed[column.name] = text.astype("str")
    return pd.DataFrame(typed)
