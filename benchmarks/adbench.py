"""The default detector on four public ADBench datasets, beside the published figures.

ADBench protocol (Han et al., "ADBench: Anomaly Detection Benchmark", NeurIPS 2022):
stratified 70/30 train/test split, the detector fitted on the training part
without labels, ROC-AUC and AUC-PR (average precision) measured on the test part,
mean of 3 seeds. The detector is run as configured (combined) and with each
component alone (the others' weights set to 0).

Run ``python -m benchmarks.adbench [--data-dir DIR]``; the data directory is
otherwise ``$COUNTERFRAUD_ADBENCH_DIR`` or ``../shared/benchmarks/adbench`` beside
the repository.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split

from models.detector import CombinedDetector, make_detector

DATA_DIR_ENV = "COUNTERFRAUD_ADBENCH_DIR"
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "benchmarks" / "adbench"
SEEDS = (0, 1, 2)
TEST_SHARE = 0.3

DATASETS = {
    "cardio": "6_cardio.npz",
    "thyroid": "38_thyroid.npz",
    "shuttle": "32_shuttle.npz",
    "mammography": "23_mammography.npz",
}

# ROC-AUC / AUC-PR in %, ADBench paper Tables D4 and D5 (unsupervised, default hyperparameters),
# as quoted in the data directory's README.md.
PUBLISHED = {
    "IForest": {"cardio": (93.2, 60.0), "thyroid": (98.3, 63.1), "shuttle": (99.6, 97.6),
                "mammography": (86.4, 20.7)},
    "ECOD": {"cardio": (94.4, 68.6), "thyroid": (97.8, 54.0), "shuttle": (99.4, 95.8),
             "mammography": (90.8, 41.3)},
}
# Best ROC-AUC of ADBench's 14 unsupervised methods on each dataset (the method differs per dataset).
PUBLISHED_BEST_ROC_AUC = {"cardio": 95.5, "thyroid": 98.3, "shuttle": 99.6, "mammography": 90.8}

VARIANTS: dict[str, dict[str, float]] = {
    "combined": {},
    "forest alone": {"forest_weight": 1.0, "autoencoder_weight": 0.0, "tail_weight": 0.0},
    "autoencoder alone": {"forest_weight": 0.0, "autoencoder_weight": 1.0, "tail_weight": 0.0},
    "tail alone": {"forest_weight": 0.0, "autoencoder_weight": 0.0, "tail_weight": 1.0},
}
"""Detector parameters changed from the configured detector for each reported variant."""


class DataDirError(FileNotFoundError):
    """The ADBench data directory or one of its files is missing."""


MISSING_DATA = "ADBench file {path} not found; pass --data-dir or set " + DATA_DIR_ENV


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """``data_dir``, else ``$COUNTERFRAUD_ADBENCH_DIR``, else ``../shared/benchmarks/adbench``."""
    chosen = data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return Path(chosen).resolve()


def _dataset_path(data_dir: Path, name: str) -> Path:
    path = data_dir / DATASETS[name]
    if not path.is_file():
        raise DataDirError(MISSING_DATA.format(path=path))
    return path


def check_data_dir(data_dir: str | Path | None = None) -> Path:
    """The resolved data directory, once every dataset file is found there.

    Lets a long benchmark run fail at its start rather than after its other parts.
    """
    directory = resolve_data_dir(data_dir)
    for name in DATASETS:
        _dataset_path(directory, name)
    return directory


def load_dataset(data_dir: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``X`` (float64) and ``y`` (1 = anomaly) of one dataset."""
    with np.load(_dataset_path(data_dir, name)) as arrays:
        return arrays["X"].astype(np.float64), arrays["y"].astype(int)


def evaluate(
    detector: CombinedDetector, X: np.ndarray, y: np.ndarray, seeds: Sequence[int] = SEEDS
) -> tuple[float, float]:
    """Mean ROC-AUC and AUC-PR (in %) over ``seeds`` of the ADBench protocol."""
    roc_aucs, auc_prs = [], []
    for seed in seeds:
        X_train, X_test, _, y_test = train_test_split(
            X, y, test_size=TEST_SHARE, stratify=y, random_state=seed
        )
        scores = detector.set_params(random_state=seed).fit(X_train).decision_function(X_test)
        roc_aucs.append(roc_auc_score(y_test, scores))
        auc_prs.append(average_precision_score(y_test, scores))
    return 100 * float(np.mean(roc_aucs)), 100 * float(np.mean(auc_prs))


def run_adbench(
    data_dir: str | Path | None = None,
    seeds: Sequence[int] = SEEDS,
    detector_factory: Callable[[], CombinedDetector] = make_detector,
) -> pd.DataFrame:
    """Score every variant of the detector on every dataset.

    Returns
    -------
    DataFrame
        One row per dataset plus a ``mean`` row; for each variant ``<variant> ROC-AUC``
        and ``<variant> AUC-PR``, then the published IForest and ECOD figures and the best
        published ROC-AUC; ``fit+score s`` is the wall time of all variants and seeds.
    """
    directory = resolve_data_dir(data_dir)
    rows = []
    for name in DATASETS:
        X, y = load_dataset(directory, name)
        row: dict[str, object] = {"dataset": name}
        started = time.perf_counter()
        for variant, changes in VARIANTS.items():
            detector = detector_factory().set_params(**changes)
            row[f"{variant} ROC-AUC"], row[f"{variant} AUC-PR"] = evaluate(detector, X, y, seeds)
        row["fit+score s"] = time.perf_counter() - started
        for method, figures in PUBLISHED.items():
            row[f"{method} ROC-AUC"], row[f"{method} AUC-PR"] = figures[name]
        row["best published ROC-AUC"] = PUBLISHED_BEST_ROC_AUC[name]
        rows.append(row)
    table = pd.DataFrame(rows)
    mean = table.drop(columns="dataset").mean().to_frame().T.assign(dataset="mean")
    return pd.concat([table, mean], ignore_index=True)


def format_table(table: pd.DataFrame) -> str:
    """The table as Markdown, figures rounded to one decimal."""
    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    lines = [header, rule]
    for _, row in table.iterrows():
        cells = [row["dataset"]] + [f"{row[c]:.1f}" for c in table.columns if c != "dataset"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help=f"folder of the .npz files (default: ${DATA_DIR_ENV} "
                                           "or ../shared/benchmarks/adbench beside the repository)")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    args = parser.parse_args(argv)
    table = run_adbench(args.data_dir, args.seeds)
    print(format_table(table))
    return table


if __name__ == "__main__":
    main()
