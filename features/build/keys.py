"""Integer codes for the keys a build joins on: people (from the links), addresses, tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract import Extract
from features.linking import normalise_name, normalise_uprn

KEY_COLUMNS: tuple[str, ...] = (
    "subject_ref",
    "subject_type",
    "person_key",
    "address_key",
    "bank_account_token",
    "phone_token",
    "email_token",
)


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Integer codes (-1 = missing) and the distinct values, in order of first appearance."""
    codes, uniques = pd.factorize(values.astype("str"))
    return codes.astype(np.int64), pd.Series(uniques, dtype="str")

def _codes(*columns: pd.Series) -> tuple[list[np.ndarray], int]:
    """Integer codes shared by equal values across ``columns`` (-1 = missing), and the number of values."""
    joined = pd.concat([column.astype("str").reset_index(drop=True) for column in columns], ignore_index=True)
    codes, uniques = _factorize(joined)
    return np.split(codes, np.cumsum([len(column) for column in columns])[:-1]), len(uniques)

def _at(values: np.ndarray, codes: np.ndarray, missing: Any = -1) -> np.ndarray:
    """``values[codes]`` with ``missing`` where a code is -1."""
    if len(values) == 0:
        return np.full(len(codes), missing)
    return np.where(codes >= 0, values[np.maximum(codes, 0)], missing)

def _first_rows(codes: np.ndarray, count: int) -> np.ndarray:
    """For each code 0..count-1, the first row holding it (-1 when none)."""
    first = np.full(count, -1, dtype=np.int64)
    rows = np.flatnonzero(codes >= 0)[::-1]
    first[codes[rows]] = rows  # written last to first, so the first row wins
    return first

def _positions(keys: pd.Series, targets: pd.Series) -> np.ndarray:
    """For each target, the position of the first equal value in ``keys``; -1 when absent or missing."""
    (key_codes, target_codes), count = _codes(keys, targets)
    return _at(_first_rows(key_codes, count), target_codes)

def _take(values: pd.Series, positions: np.ndarray) -> pd.Series:
    """``values`` at ``positions`` (fresh index); missing where a position is -1."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return pd.Series(_at(values.to_numpy(np.float64), positions, np.nan))
    return pd.Series(values.astype("str").array.take(positions, allow_fill=True))

def _recode(codes: np.ndarray, distinct: pd.Series, function: Any) -> tuple[np.ndarray, pd.Series]:
    """Apply ``function`` to each distinct value once; codes of equal results are merged.

    String normalisation costs per value, so it runs on the distinct values, not the rows.
    """
    result_codes, results = _factorize(function(distinct))
    return _at(result_codes, codes), results

def _is_in(values: pd.Series, options: tuple[str, ...]) -> np.ndarray:
    """Whether each value is one of ``options`` (an Arrow kernel: no Python call per row)."""
    array = pa.array(values.astype("str").array)
    found = pc.is_in(array, value_set=pa.array(options).cast(array.type))
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False).astype(bool)

def _pair(first: np.ndarray, second: np.ndarray, second_count: int) -> np.ndarray:
    """One int64 key per (first, second) code pair; -1 where either is missing."""
    return np.where((first >= 0) & (second >= 0), first * np.int64(max(second_count, 1)) + second, -1)

def _alone_where_missing(keys: np.ndarray) -> np.ndarray:
    """``keys`` with each missing (-1) one made distinct: a row with no key shares it with none."""
    return np.where(keys >= 0, keys, -1 - np.arange(len(keys)))

def _distinct(keys: np.ndarray) -> np.ndarray:
    """The distinct non-missing keys (hash based: faster than sorting here)."""
    unique = pd.unique(keys)
    return unique[unique >= 0]

def _distinct_count(first: np.ndarray, second: np.ndarray, second_count: int, first_count: int) -> np.ndarray:
    """For each code ``0..first_count-1`` of ``first``, how many distinct codes of ``second`` it is paired with."""
    return np.bincount(_distinct(_pair(first, second, second_count)) // max(second_count, 1), minlength=first_count)


TOKEN_COLUMNS: tuple[str, ...] = ("bank_account_token", "phone_token", "email_token")


@dataclass(frozen=True)


class _Keys:
    """Integer codes of people, addresses, surnames and tokens, shared across tables (-1 = missing).

    ``claim_*`` arrays are aligned with the rows of :func:`_claims`, ``elector_*`` with the current
    electors; ``person_keys`` / ``address_keys`` give the string key of each code. People, addresses
    and NINOs (``claim_nino``, normalised) are those of ``links``: linking defines them once.
    """

    claim_person: np.ndarray
    elector_person: np.ndarray
    person_keys: pd.Series
    claim_address: np.ndarray
    elector_address: np.ndarray
    address_keys: pd.Series
    claim_surname: np.ndarray
    elector_surname: np.ndarray
    claim_register_row: np.ndarray
    claim_tokens: dict[str, np.ndarray]
    claim_nino: pd.Series

    @property
    def people(self) -> int:
        return len(self.person_keys)

    @property
    def addresses(self) -> int:
        return len(self.address_keys)

def _link_rows(links: pd.DataFrame, records: list[tuple[str, pd.Series]]) -> list[np.ndarray]:
    """For each table's records, the row of ``links`` that holds each (-1 for a record it does not hold)."""
    link_table = links["table"].astype("str").to_numpy()
    rows = []
    for table, refs in records:
        in_table = np.flatnonzero(link_table == table)
        rows.append(_at(in_table, _positions(links["record_ref"].iloc[in_table], refs)))
    return rows

def _person_codes(links: pd.DataFrame, link_rows: list[np.ndarray],
                  records: list[tuple[str, pd.Series]]) -> tuple[list[np.ndarray], pd.Series]:
    """Person codes of each table's records from ``links``; an unlinked record is a person of its own."""
    link_codes, person_keys = _factorize(links["person_key"])
    codes_per_table, unlinked = [], []
    count = len(person_keys)
    for rows, (table, refs) in zip(link_rows, records, strict=True):
        codes = _at(link_codes, rows)
        missing = np.flatnonzero(codes < 0)
        codes[missing] = count + np.arange(len(missing))
        count += len(missing)
        unlinked.append(table + ":" + refs.iloc[missing].astype("str"))
        codes_per_table.append(codes)
    return codes_per_table, pd.concat([person_keys, *unlinked], ignore_index=True).astype("str")

def _linked(links: pd.DataFrame, column: str, link_rows: list[np.ndarray]) -> list[pd.Series]:
    """``column`` of ``links`` for each table's records (missing for a record ``links`` does not hold)."""
    values = links[column].astype("str")
    return [_take(values, rows) for rows in link_rows]

def _encode(extract: Extract, links: pd.DataFrame, electors: pd.DataFrame) -> _Keys:
    """Codes of the keys of every claim (benefit claims, then housing claims) and current elector."""
    benefit, housing, register = extract.benefit_claims, extract.housing_claims, extract.address_register
    records = [("benefit_claims", benefit["claim_id"]), ("housing_claims", housing["housing_claim_id"]),
               ("electoral_register", electors["elector_id"])]
    link_rows = _link_rows(links, records)  # looked up once for the people, addresses and NINOs
    (benefit_person, housing_person, elector_person), person_keys = _person_codes(links, link_rows, records)

    # addresses and NINOs as linking defined them; address register rows keyed by their UPRN alike
    benefit_address, housing_address, elector_address = _linked(links, "address_key", link_rows)
    address_codes, address_keys = _factorize(
        pd.concat([benefit_address, housing_address, elector_address, normalise_uprn(register["uprn"])],
                  ignore_index=True)
    )
    claims_count = len(benefit) + len(housing)
    claim_address, elector_address, register_address = np.split(
        address_codes, [claims_count, claims_count + len(electors)]
    )
    benefit_nino, housing_nino, _ = _linked(links, "nino", link_rows)

    surname_codes, surnames = _factorize(
        pd.concat([benefit["surname"], housing["surname"], electors["surname"]], ignore_index=True)
    )
    surname_codes, _ = _recode(surname_codes, surnames, normalise_name)

    no_token = pd.Series(np.nan, index=housing.index, dtype="str")
    tokens = {
        token: _factorize(pd.concat([benefit[token], no_token], ignore_index=True))[0] for token in TOKEN_COLUMNS
    }
    return _Keys(
        claim_person=np.concatenate([benefit_person, housing_person]),
        elector_person=elector_person,
        person_keys=person_keys,
        claim_address=claim_address,
        elector_address=elector_address,
        address_keys=address_keys,
        claim_surname=surname_codes[:claims_count],
        elector_surname=surname_codes[claims_count:],
        claim_register_row=_at(_first_rows(register_address, len(address_keys)), claim_address),
        claim_tokens=tokens,
        claim_nino=pd.concat([benefit_nino, housing_nino], ignore_index=True),
    )


def _readable(codes: pd.Series) -> pd.Series:
    """An enum code as words: ``universal_credit`` → ``universal credit``."""
    return codes.astype("str").str.replace("_", " ", regex=False)
