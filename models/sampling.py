"""The rows of a feature table a detector is fitted on: every row, or a seeded sample of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TrainingSample:
    """The rows of a feature table a detector is fitted on: every row, or a seeded sample of them.

    Attributes
    ----------
    positions : ndarray of int
        Row positions in the feature table, ascending.
    population : int
        Rows of the feature table.
    by_type : dict of str to int
        Rows drawn per subject type.
    seed : int or None
        Seed of the draw; ``None`` when every row is used.
    """

    positions: np.ndarray
    population: int
    by_type: dict[str, int]
    seed: int | None = None

    @property
    def is_everyone(self) -> bool:
        """Whether every row of the feature table is in the sample."""
        return len(self.positions) == self.population

    def record(self) -> dict[str, Any]:
        """The sample as JSON-ready data: what the version's tag and its model card hold.

        Examples
        --------
        >>> table = pd.DataFrame({"subject_type": ["benefit_claim"] * 8 + ["housing_claim"] * 2})
        >>> draw_training_sample(table, max_subjects=None, seed=3).record()
        {'subjects': 10, 'population': 10, 'by_type': {'benefit_claim': 8, 'housing_claim': 2}, 'seed': None}
        """
        return {"subjects": len(self.positions), "population": self.population, "by_type": dict(self.by_type),
                "seed": self.seed}


def _proportional_quotas(counts: pd.Series, total: int) -> pd.Series:
    """``total`` split over ``counts`` in proportion, by largest remainder (ties: the order of ``counts``)."""
    exact = counts * total / counts.sum()
    quotas = np.floor(exact).astype(int)
    short = total - int(quotas.sum())
    largest_remainders = (exact - quotas).sort_values(ascending=False, kind="mergesort").index[:short]
    quotas[largest_remainders] += 1
    return quotas


def draw_training_sample(feature_table: pd.DataFrame, max_subjects: int | None, seed: int) -> TrainingSample:
    """Every row of ``feature_table``, or, past ``max_subjects`` rows, a seeded sample of that many.

    The sample is drawn without replacement within each ``subject_type``, in proportion to
    the type's rows, so the sample keeps the population's mix of benefit and housing claims.
    The same table, ``max_subjects`` and ``seed`` always draw the same rows.

    Parameters
    ----------
    feature_table : DataFrame
        One row per subject, with ``subject_type``.
    max_subjects : int or None
        Largest sample; ``None`` = every row.
    seed : int
        Seed of the draw.

    Returns
    -------
    TrainingSample

    Examples
    --------
    >>> table = pd.DataFrame({"subject_type": ["benefit_claim"] * 8 + ["housing_claim"] * 2})
    >>> sample = draw_training_sample(table, max_subjects=5, seed=3)
    >>> sample.by_type, len(sample.positions), sample.population
    ({'benefit_claim': 4, 'housing_claim': 1}, 5, 10)
    """
    kinds = feature_table["subject_type"].astype("str").to_numpy()
    counts = pd.Series(kinds).value_counts().sort_index()
    if max_subjects is None or len(kinds) <= max_subjects:
        return TrainingSample(positions=np.arange(len(kinds)), population=len(kinds),
                              by_type={str(kind): int(count) for kind, count in counts.items()})
    quotas = _proportional_quotas(counts, max_subjects)
    rng = np.random.default_rng(seed)
    drawn = [rng.choice(np.flatnonzero(kinds == kind), size=int(quota), replace=False)
             for kind, quota in quotas.items()]
    return TrainingSample(positions=np.sort(np.concatenate(drawn)), population=len(kinds),
                          by_type={str(kind): int(quota) for kind, quota in quotas.items()}, seed=seed)
