"""Reading the ground truth a synthetic world was written with."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

TRUTH_SUFFIXES = (".csv", ".parquet")


class TruthFormatError(ValueError):
    """The truth file's name does not end in a known format."""

    MESSAGE = "truth file {path} must end in .csv or .parquet"


def truth_format(path: Path) -> str:
    """``"csv"`` or ``"parquet"`` from the file's suffix.

    Raises
    ------
    TruthFormatError
        If the suffix is neither.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in TRUTH_SUFFIXES:
        raise TruthFormatError(TruthFormatError.MESSAGE.format(path=path))
    return suffix[1:]


def read_truth(path: str | Path) -> pd.DataFrame:
    """Read a ground-truth file (.csv or .parquet).

    Parameters
    ----------
    path : str or pathlib.Path
        The truth file written by ``synthetic.generate_world``.

    Returns
    -------
    pandas.DataFrame
        Columns ``table``, ``record_ref``, ``person_id`` (strings) and
        ``typology`` (string, null where the record is not fraud).

    Examples
    --------
    >>> truth = read_truth("world_truth.csv")  # doctest: +SKIP
    >>> truth.groupby("table")["typology"].count()  # doctest: +SKIP
    """
    path = Path(path)
    if truth_format(path) == "parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
