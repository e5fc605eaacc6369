"""The records to link as arrays: one node per benefit claim, housing claim and elector, text normalised once."""


from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    pass
from features.linking.names import _name_text, _nino_text, _postcode_text, _text_array, _uprn_text
from features.linking.tokens import _explode_owned, _given_name_tokens, _surname_tokens

PERSON_TABLES: dict[str, str] = {
    "benefit_claims": "claim_id",
    "housing_claims": "housing_claim_id",
    "electoral_register": "elector_id",
}
"""The tables whose records get a person key, with the column naming each record."""

def _as_text(frame: pd.DataFrame, column: str) -> pa.Array:
    """A column as an Arrow string array; all null when the table does not carry it."""
    if column not in frame.columns:
        return pa.nulls(len(frame), pa.large_string())
    return _text_array(frame[column])

def _encode(arrays: list[pa.Array], normalise: Callable[[pa.Array], pa.Array]) -> tuple[np.ndarray, pd.Series]:
    """Codes of the concatenated arrays after ``normalise`` (-1 = missing) and the distinct values.

    Only the distinct raw values are normalised: a million records hold far fewer names.
    """
    raw = pc.dictionary_encode(pa.concat_arrays(arrays))
    normalised = pc.dictionary_encode(normalise(raw.dictionary))
    lookup = np.append(pc.fill_null(normalised.indices, -1).to_numpy().astype(np.int64), -1)
    codes = lookup[pc.fill_null(raw.indices, -1).to_numpy().astype(np.int64)]
    return codes, normalised.dictionary.to_pandas()

def _stable_hash(tables: list[str], refs: list[pa.Array]) -> np.ndarray:
    """64-bit FNV-1a hash of ``table/record_ref`` per record, the same on every platform and run."""
    prime = 1_099_511_628_211
    hashes = []
    for table, ref in zip(tables, refs, strict=True):
        seed = 14_695_981_039_346_656_037
        for byte in f"{table}/".encode():
            seed = ((seed ^ byte) * prime) % 2**64
        ref = pc.fill_null(ref, "")
        offsets = np.frombuffer(ref.buffers()[1], dtype=np.int64)[ref.offset:ref.offset + len(ref) + 1]
        data = np.frombuffer(ref.buffers()[2], dtype=np.uint8)
        lengths = np.diff(offsets)
        hashed = np.full(len(ref), seed, dtype=np.uint64)
        for position in range(int(lengths.max(initial=0))):
            live = lengths > position
            hashed[live] = (hashed[live] ^ data[offsets[:-1][live] + position]) * np.uint64(prime)
        hashes.append(hashed)
    return np.concatenate(hashes)


@dataclass(frozen=True)
class _Nodes:
    """The identifying fields of every record as integer arrays, one entry per record."""

    nino: np.ndarray  # code, -1 = none
    dob: np.ndarray  # days since 1970
    has_dob: np.ndarray
    uprn: np.ndarray  # code, -1 = none
    postcode: np.ndarray  # code, -1 = none
    surnames: np.ndarray  # [n, _SURNAME_SLOTS] token codes
    given_node: np.ndarray  # (given_node, given_code): canonical codes of every given name held
    given_code: np.ndarray
    first_node: np.ndarray  # (first_node, first_code): those of the first given name only
    first_code: np.ndarray
    surname_text: np.ndarray  # code of each record's normalised surname, -1 = none
    surname_values: pd.Series  # the normalised surname of each code
    first_text: np.ndarray  # code of each record's first given name as written (normalised), -1 = none
    first_values: pd.Series
    rank: np.ndarray  # uint64 hash of table/record_ref: a row-order-free identity
    uprn_values: pd.Series  # normalised UPRN of each uprn code
    postcode_values: pd.Series  # normalised postcode of each postcode code
    nino_values: pd.Series  # normalised NINO of each nino code
    register_uprn: np.ndarray  # uprn code of each address register row
    register_postcode: np.ndarray  # postcode code of each address register row

    def __len__(self) -> int:
        return len(self.nino)

def _days(frame: pd.DataFrame) -> np.ndarray:
    """Dates of birth as datetime64[D] (NaT where unknown or the column is absent)."""
    if "date_of_birth" not in frame.columns:
        return np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[D]")
    return pd.to_datetime(frame["date_of_birth"]).to_numpy().astype("datetime64[D]")

def _at_code(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``values[codes]`` where a code is set, else -1."""
    return np.where(codes >= 0, values[np.maximum(codes, 0)] if len(values) else -1, -1)

def _nodes(frames: dict[str, pd.DataFrame], address_register: pd.DataFrame | None) -> _Nodes:
    """Integer codes of the person records of ``frames`` (table → frame), in that order."""
    tables = list(frames.values())
    register = address_register if address_register is not None else pd.DataFrame()
    n_records = sum(len(frame) for frame in tables)

    uprn, uprn_values = _encode([_as_text(f, "uprn") for f in (*tables, register)], _uprn_text)
    postcode, postcode_values = _encode([_as_text(f, "postcode") for f in (*tables, register)], _postcode_text)
    # An elector carries only a UPRN: its postcode comes from the address register.
    postcode_of_uprn = np.full(uprn.max(initial=-1) + 2, -1, dtype=np.int64)
    registered = pd.DataFrame({"uprn": uprn[n_records:], "postcode": postcode[n_records:]})
    registered = registered[(registered["uprn"] >= 0) & (registered["postcode"] >= 0)]
    registered = registered.drop_duplicates("uprn")
    postcode_of_uprn[registered["uprn"].to_numpy()] = registered["postcode"].to_numpy()
    register_uprn, register_postcode = uprn[n_records:], postcode[n_records:]
    uprn, postcode = uprn[:n_records], postcode[:n_records]
    postcode = np.where(postcode >= 0, postcode, postcode_of_uprn[uprn])

    given_codes, given_names = _encode([_as_text(f, "first_name") for f in tables], _name_text)
    canon = _given_name_tokens(given_names)
    leading = canon[canon["leading"]]
    given_node, given_code = _explode_owned(given_codes, canon["name"].to_numpy(np.int64),
                                            canon["canonical"].to_numpy(np.int64))
    first_node, first_code = _explode_owned(given_codes, leading["name"].to_numpy(np.int64),
                                            leading["canonical"].to_numpy(np.int64))
    surname_codes, surnames = _encode([_as_text(f, "surname") for f in tables], _name_text)
    first_words = given_names.str.split(" ").str[0]
    first_text, first_values = pd.factorize(first_words.to_numpy(dtype=object))
    first_text = np.where(given_codes >= 0, _at_code(first_text, given_codes), -1)

    dob = np.concatenate([_days(frame) for frame in tables])
    has_dob = ~np.isnat(dob)
    refs = [_as_text(frame, PERSON_TABLES[table]) for table, frame in frames.items()]
    nino, nino_values = _encode([_as_text(f, "nino") for f in tables], _nino_text)
    return _Nodes(
        nino=nino,
        dob=np.where(has_dob, dob.astype(np.int64), 0),
        has_dob=has_dob,
        uprn=uprn,
        postcode=postcode,
        surnames=_surname_tokens(surnames)[surname_codes],
        given_node=given_node,
        given_code=given_code,
        first_node=first_node,
        first_code=first_code,
        surname_text=surname_codes,
        surname_values=surnames,
        first_text=first_text,
        first_values=pd.Series(first_values, dtype=object),
        rank=_stable_hash(list(frames), refs),
        uprn_values=uprn_values,
        postcode_values=postcode_values,
        nino_values=nino_values,
        register_uprn=register_uprn,
        register_postcode=register_postcode,
    )
