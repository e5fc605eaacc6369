"""The raw baseline the pipeline is measured against.

An isolation forest on the raw numeric columns of each claims table: no contract
check, no linking, no engineered features. It is what a team gets by pointing an
off-the-shelf detector at one extract at a time, and so the floor every figure of
the pipeline is compared with, in quality and in cost.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import IsolationForest

RAW_NUMERIC_COLUMNS = {
    "benefit_claims": [
        "declared_monthly_earnings", "declared_savings", "adults_in_household",
        "children_in_household", "monthly_housing_costs", "monthly_award",
    ],
    "housing_claims": ["monthly_rent", "occupants_declared", "monthly_award"],
}
SUBJECT_COLUMNS = {
    "benefit_claims": ("claim_id", "claim_start", "claim_end", "benefit_claim"),
    "housing_claims": ("housing_claim_id", "start_date", "end_date", "housing_claim"),
}


def _read(data_dir: Path, table: str) -> pd.DataFrame:
    parquet = data_dir / f"{table}.parquet"
    if parquet.exists():
        return pd.read_parquet(parquet)
    return pd.read_csv(data_dir / f"{table}.csv", engine="pyarrow")


def raw_baseline_scores(data_dir: Path, as_of: dt.date, seed: int = 0) -> pd.DataFrame:
    """Score every live claim with an isolation forest per claims table.

    Returns
    -------
    DataFrame
        ``subject_ref``, ``subject_type``, ``score`` (higher = more anomalous),
        one row per live claim.
    """
    frames = []
    as_of_ts = pd.Timestamp(as_of)
    for table, columns in RAW_NUMERIC_COLUMNS.items():
        ref, start, end, subject_type = SUBJECT_COLUMNS[table]
        claims = _read(Path(data_dir), table)
        starts = pd.to_datetime(claims[start], errors="coerce")
        ends = pd.to_datetime(claims[end], errors="coerce")
        live = claims[(starts <= as_of_ts) & (ends.isna() | (ends > as_of_ts))]
        matrix = live[columns].apply(pd.to_numeric, errors="coerce").fillna(0.0).to_numpy()
        forest = IsolationForest(random_state=seed, n_jobs=-1).fit(matrix)
        frames.append(pd.DataFrame({
            "subject_ref": live[ref].astype(str).to_numpy(),
            "subject_type": subject_type,
            "score": -forest.score_samples(matrix),
        }))
    scores = pd.concat(frames, ignore_index=True)
    return scores.sort_values(["score", "subject_ref"], ascending=[False, True],
                              ignore_index=True, kind="stable")


def write_baseline_cases(scores: pd.DataFrame, out_dir: Path) -> Path:
    """Write the baseline's ranking as a case list, as the pipeline would."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ranked = scores.assign(rank=np.arange(1, len(scores) + 1))
    path = out_dir / "baseline_cases.csv"
    ranked.to_csv(path, index=False)
    return path


def main(argv: list[str] | None = None) -> Path:
    """``python -m benchmarks.baseline --data DIR --out OUT --as-of DATE``: one timed baseline run."""
    import argparse

    parser = argparse.ArgumentParser(description="raw isolation-forest baseline")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return write_baseline_cases(raw_baseline_scores(args.data, args.as_of, args.seed), args.out)


if __name__ == "__main__":
    main()
