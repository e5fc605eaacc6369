"""The name tokens records are compared by: given names after nickname folding, surname tokens with letters sorted."""


from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    pass
from features.linking.names import GIVEN_NAME_VARIANTS, SURNAME_PARTICLES

_SURNAME_SLOTS = 4
"""Surname tokens kept per name for comparison (the joined form counts as one)."""


def _explode_tokens(normalised: pd.Series, drop: frozenset[str]) -> pd.DataFrame:
    """Tokens of each name, with the joined form added: columns name (position), token, leading.

    ``leading`` marks the first token and the joined form, the parts a name is known by.
    One-letter tokens (initials) and ``drop`` are left out: they say little on their own.
    """
    split = normalised.str.split(" ")
    tokens = split.explode().rename("token").to_frame()
    tokens["leading"] = ~tokens.index.duplicated()
    joined = split[split.str.len() > 1].str.join("").rename("token").to_frame().assign(leading=True)
    tokens = pd.concat([tokens, joined]).dropna(subset=["token"])
    tokens = tokens[(tokens["token"].str.len() > 1) & ~tokens["token"].isin(drop)]
    return tokens.rename_axis("name").reset_index().drop_duplicates()

def _given_name_table() -> pd.DataFrame:
    """Rows (variant, canonical) of ``GIVEN_NAME_VARIANTS``, each name its own variant too."""
    rows = {(name, name) for name in GIVEN_NAME_VARIANTS}
    rows |= {(variant, name) for name, variants in GIVEN_NAME_VARIANTS.items() for variant in variants}
    return pd.DataFrame(sorted(rows), columns=["token", "canonical"])

def _given_name_tokens(names: pd.Series) -> pd.DataFrame:
    """Canonical given names held by each normalised name: name (position), canonical (code), leading."""
    tokens = _explode_tokens(names, frozenset())
    canon = tokens.merge(_given_name_table(), on="token", how="left")
    canon["canonical"] = pd.factorize(canon["canonical"].fillna(canon["token"]))[0]
    return canon.drop_duplicates(["name", "canonical", "leading"])

def _surname_tokens(names: pd.Series) -> np.ndarray:
    """Up to ``_SURNAME_SLOTS`` token codes per normalised surname, padded with -1.

    The array has one extra all -1 row last, read by the code -1 of a missing surname.
    """
    tokens = _explode_tokens(names, SURNAME_PARTICLES)
    # Compare letters in sorted order, so a typing slip that swaps two letters still matches.
    distinct = tokens["token"].unique()
    sorted_letters = dict(zip(distinct, ["".join(sorted(token)) for token in distinct], strict=True))
    tokens = tokens.assign(token=tokens["token"].map(sorted_letters)).drop_duplicates()
    # Longest tokens first: a long name with more tokens than slots keeps its joined form.
    tokens = (tokens.assign(length=tokens["token"].str.len())
              .sort_values(["name", "length", "token"], ascending=[True, False, True]))
    slot = tokens.groupby("name").cumcount().to_numpy()
    keep = slot < _SURNAME_SLOTS
    token_codes = pd.factorize(tokens["token"])[0]
    by_name = np.full((len(names) + 1, _SURNAME_SLOTS), -1, dtype=np.int64)
    by_name[tokens["name"].to_numpy()[keep], slot[keep]] = token_codes[keep]
    return by_name


def _explode_owned(record_codes: np.ndarray, owner: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(record, value) for every value that each record's owner holds (code -1 = none)."""
    order = np.argsort(owner, kind="stable")
    owner, values = owner[order], values[order]
    n_owners = int(max(owner.max(initial=-1), record_codes.max(initial=-1))) + 1
    counts = np.bincount(owner, minlength=n_owners)
    starts = np.cumsum(counts) - counts
    records = np.flatnonzero(record_codes >= 0)
    held = record_codes[records]
    per_record = counts[held]
    total = int(per_record.sum())
    within = np.arange(total) - np.repeat(np.cumsum(per_record) - per_record, per_record)
    return np.repeat(records, per_record), values[np.repeat(starts[held], per_record) + within]
