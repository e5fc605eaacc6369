"""Housing costs against peers: the median of live claims in the narrowest peer group with enough members."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from configs.settings import Settings
from features.build.keys import _at, _factorize, _first_rows, _readable


def _groups(frame: pd.DataFrame, columns: list[str], describe: Any) -> tuple[np.ndarray, pd.Series]:
    """Group code of each row (-1 where a key is missing) and the words naming each group.

    ``columns`` are integer codes (-1 = missing); ``describe`` names a group from its first row.
    """
    key = np.zeros(len(frame), dtype=np.int64)
    missing = np.zeros(len(frame), dtype=bool)
    for column in columns:
        codes = frame[column].to_numpy(np.int64)
        missing |= codes < 0
        key = key * (codes.max(initial=0) + 1) + np.maximum(codes, 0)
    group, _ = pd.factorize(np.where(missing, -1, key))
    group = np.where(missing, -1, group).astype(np.int64)
    first = _first_rows(group, group.max(initial=-1) + 1)
    return group, describe(frame.iloc[first].reset_index(drop=True)).astype("str")

def _peer_median(values: pd.Series, levels: list[tuple[np.ndarray, pd.Series]],
                 min_peers: int) -> tuple[pd.Series, pd.Series]:
    """Median of the positive ``values`` over the first peer level with at least ``min_peers`` of them.

    Returns the median and the words naming the peer group, per row (missing where no level qualifies).
    """
    positive = values.where(values > 0).to_numpy(np.float64)
    median = np.full(len(values), np.nan)
    chosen = np.full(len(values), -1)
    for level, (codes, names) in enumerate(levels):
        stats = pd.Series(positive).groupby(codes).agg(["median", "count"])
        stats = stats.loc[(stats.index >= 0) & (stats["count"] >= min_peers), "median"]
        group_median = np.full(len(names), np.nan)
        group_median[stats.index.to_numpy(np.int64)] = stats.to_numpy()
        found = _at(group_median, codes, np.nan)
        take = np.isnan(median) & ~np.isnan(found)
        median = np.where(take, found, median)
        chosen = np.where(take, level, chosen)
    label = pd.Series(np.nan, index=values.index, dtype="str")
    for level, (codes, names) in enumerate(levels):
        rows = np.flatnonzero(chosen == level)
        label.iloc[rows] = names.array.take(codes[rows])
    return pd.Series(median, index=values.index), label

def _homes(frame: pd.DataFrame) -> pd.Series:
    """``homes`` for a benefit claim, ``homes on housing benefit`` etc. for a housing claim (rents differ by scheme)."""
    on_scheme = "homes on " + _readable(frame["kind"])
    return on_scheme.where(frame["subject_type"] == "housing_claim", "homes").astype("str")

def _bedrooms(frame: pd.DataFrame) -> pd.Series:
    return frame["bedrooms"].astype("int64").astype("str") + "-bedroom "

def _property_words(frame: pd.DataFrame) -> pd.Series:
    """`` (flat)``, `` (semi detached)``: the property type after the homes."""
    return " (" + _readable(frame["property_type"]) + ")"

def _peer_context(subjects: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Median housing cost of live claims in the same local authority, bedrooms and property type.

    Rents differ by property type as much as by size (a room in a house in multiple
    occupation against a detached house), so the property type sharpens the cost norm.
    """
    frame = subjects[["subject_type", "la_code", "bedrooms", "property_type", "kind"]]
    housing = (frame["subject_type"] == "housing_claim").to_numpy()
    la = _factorize(frame["la_code"])[0]
    frame = frame.assign(
        type_code=housing.astype(np.int64),
        la_group=la,
        bedroom_group=frame["bedrooms"].fillna(-1).to_numpy(np.int64),
        property_group=_factorize(frame["property_type"])[0],
        # a social rent is set below the market rent, so a housing claim's rent is compared within its scheme
        scheme_group=np.where(housing, _factorize(frame["kind"])[0], 0),
    )
    min_peers = settings.features.min_peer_group
    housing_median, housing_label = _peer_median(
        subjects["housing_cost"],
        [
            _groups(frame, ["type_code", "scheme_group", "la_group", "bedroom_group", "property_group"],
                    lambda first: _bedrooms(first) + _homes(first) + _property_words(first) + " in " + first["la_code"]),
            _groups(frame, ["type_code", "scheme_group", "la_group", "bedroom_group"],
                    lambda first: _bedrooms(first) + _homes(first) + " in " + first["la_code"]),
            _groups(frame, ["type_code", "scheme_group", "la_group"],
                    lambda first: _homes(first) + " in " + first["la_code"]),
            _groups(frame, ["type_code", "scheme_group", "bedroom_group"],
                    lambda first: _bedrooms(first) + _homes(first) + " nationally"),
            _groups(frame, ["type_code", "scheme_group"], lambda first: "all " + _homes(first)),
        ],
        min_peers,
    )
    return pd.DataFrame(
        {
            "peer_housing_cost": housing_median,
            "housing_peer_group": housing_label,
        },
        index=subjects.index,
    )
