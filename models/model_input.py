"""The model's view of a feature table: which columns, in which order, as which dtype, checked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MISSING_FEATURES_ERROR = "feature table is missing model column(s) {columns}"
BAD_FEATURE_ERROR = "feature column {column} must be numeric without missing values ({problem})"


class FeatureTableError(ValueError):
    """A feature table does not carry the columns a model was trained on."""


@dataclass(frozen=True)
class FeaturePipeline:
    """The model's view of a feature table: which columns, in which order, as which dtype.

    Examples
    --------
    >>> pipeline = FeaturePipeline(("b", "a"))
    >>> pipeline.matrix(pd.DataFrame({"a": [1.0], "b": [2], "other": ["x"]})).tolist()
    [[2.0, 1.0]]
    """

    columns: tuple[str, ...]
    dtype: str = "float64"

    def select(self, table: pd.DataFrame) -> pd.DataFrame:
        """The model columns of ``table``, in order, checked to be numeric and complete."""
        missing = [column for column in self.columns if column not in table.columns]
        if missing:
            raise FeatureTableError(MISSING_FEATURES_ERROR.format(columns=missing))
        for column in self.columns:
            values = table[column]
            if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
                raise FeatureTableError(BAD_FEATURE_ERROR.format(column=column, problem=f"dtype {values.dtype}"))
            if values.isna().any():
                raise FeatureTableError(BAD_FEATURE_ERROR.format(column=column, problem="missing values"))
        return table.loc[:, list(self.columns)]

    def matrix(self, table: pd.DataFrame) -> np.ndarray:
        """The model input of ``table``: ``select`` as a C-ordered 2-d array of ``dtype``.

        Always C-ordered: the detector's scores can differ in the last bit between
        memory layouts of the same values.
        """
        return np.ascontiguousarray(self.select(table).to_numpy(dtype=self.dtype))
