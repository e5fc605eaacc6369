"""Drift: how far a scoring run's features and scores have moved from a reference.

Pure functions on arrays and frames. A *profile* summarises one distribution: the
decile edges of its values (values that occur, duplicates dropped, so a mostly-zero
feature gets few bins) and the count of values in each right-closed bin ``(-inf, e0], (e0, e1], …,
(e_last, inf)``. The population stability index (PSI) of new values against a
profile is ``Σ (a - e) · ln(a / e)`` over those bins, with ``e`` the profile's shares
and ``a`` the new values' shares (both floored at :data:`MIN_SHARE`, so an empty bin
counts as rare rather than infinite). Customary reading: below 0.1 stable, 0.1-0.25
a moderate shift, above 0.25 a major one.

PSI is computed with numpy: it is a few lines on the reference's quantile bins, and
the profile (edges and counts) is all a run needs to keep of a distribution, so the
training data of a model version and the previous run are compared without keeping
their rows. A maintained drift library would add a dependency for those few lines.

Each run is compared with two references: the training data of the model version
(its profile, logged with the model at training) and the previous run in the history
(its profile, kept in its ``drift.json``). Besides PSI, the share of flagged subjects
whose largest contribution comes from each feature shows which feature drives the
flags, and how that moved since the previous run.

Example
-------
>>> rng = np.random.default_rng(0)
>>> reference = profile(rng.normal(size=5000))
>>> population_stability_index(reference, rng.normal(size=5000)) < 0.1
True
>>> population_stability_index(reference, rng.normal(loc=1.0, size=5000)) > 0.25
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

QUANTILES = np.linspace(0.1, 0.9, 9)
"""Decile edges of a profile's bins."""
MIN_SHARE = 1e-4
"""Floor of a bin's share in the PSI: an empty bin counts as rare, not as infinitely different."""
SCORE = "score"
"""The name the score distribution takes beside the features."""

TRAINING = "training"
PREVIOUS_RUN = "previous_run"


def profile(values: Sequence[float] | np.ndarray) -> dict[str, list[float] | list[int]]:
    """The decile edges of ``values`` and the count of values in each bin they make.

    Returns
    -------
    dict
        ``edges`` (ascending, unique) and ``counts`` (one more than the edges).

    Examples
    --------
    >>> profile([0.0, 0.0, 0.0, 0.0, 1.0])
    {'edges': [0.0], 'counts': [4, 1]}
    """
    values = np.asarray(values, dtype=np.float64)
    edges = np.unique(np.quantile(values, QUANTILES, method="lower"))
    return {"edges": edges.tolist(), "counts": bin_counts(edges, values).tolist()}


def bin_counts(edges: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Values in each right-closed bin ``(-inf, e0], (e0, e1], …, (e_last, inf)``."""
    bins = np.searchsorted(np.asarray(edges, dtype=np.float64), np.asarray(values, dtype=np.float64), side="left")
    return np.bincount(bins, minlength=len(edges) + 1)


def population_stability_index(reference: Mapping[str, Sequence[float]], values: Sequence[float] | np.ndarray) -> float:
    """PSI of ``values`` against a :func:`profile` (0 = the same distribution over its bins)."""
    expected = np.asarray(reference["counts"], dtype=np.float64)
    actual = bin_counts(reference["edges"], values).astype(np.float64)
    expected = np.maximum(expected / expected.sum(), MIN_SHARE)
    actual = np.maximum(actual / max(actual.sum(), 1.0), MIN_SHARE)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def distribution_profiles(feature_table: pd.DataFrame, feature_names: Sequence[str],
                          scores: Sequence[float] | np.ndarray) -> dict[str, dict[str, list]]:
    """The :func:`profile` of each model feature of ``feature_table`` and of the scores (key ``score``)."""
    profiles = {name: profile(feature_table[name].to_numpy(dtype=np.float64)) for name in feature_names}
    profiles[SCORE] = profile(scores)
    return profiles


def top_feature_shares(explanations: pd.DataFrame, feature_names: Sequence[str]) -> dict[str, float]:
    """The share of flagged subjects whose largest contribution comes from each feature.

    Parameters
    ----------
    explanations : DataFrame
        ``subject_ref``, ``feature``, ``contribution``: one row per flagged subject and feature.
    feature_names : sequence of str
        Every model feature: those never on top get 0.

    Examples
    --------
    >>> explanations = pd.DataFrame({"subject_ref": ["a", "a", "b", "b"], "feature": ["x", "y", "x", "y"],
    ...                              "contribution": [0.1, 0.5, 0.7, 0.2]})
    >>> top_feature_shares(explanations, ["x", "y", "z"])
    {'x': 0.5, 'y': 0.5, 'z': 0.0}
    """
    shares = dict.fromkeys(feature_names, 0.0)
    if explanations.empty:
        return shares
    # the first row per subject after a stable sort: ties go to the earlier feature
    ordered = explanations.sort_values(["subject_ref", "contribution"], ascending=[True, False], kind="mergesort")
    top = ordered.drop_duplicates("subject_ref")["feature"].value_counts(normalize=True)
    shares.update({str(name): float(share) for name, share in top.items()})
    return shares


def compare(current: pd.DataFrame, feature_names: Sequence[str], scores: Sequence[float] | np.ndarray,
            references: Mapping[str, Mapping[str, Mapping[str, Sequence[float]]] | None]) -> pd.DataFrame:
    """PSI of each model feature and of the score against each available reference.

    Parameters
    ----------
    current : DataFrame
        The run's feature table.
    feature_names : sequence of str
        The model features.
    scores : array
        The run's scores, aligned with ``current``.
    references : mapping
        ``training`` and ``previous_run`` to profiles by name (``distribution_profiles``),
        or ``None`` where there is no such reference.

    Returns
    -------
    DataFrame
        ``name`` (a feature or ``score``), ``against`` (the reference) and ``psi``; a name
        missing from a reference (a feature added since) is left out.
    """
    values = {name: current[name].to_numpy(dtype=np.float64) for name in feature_names}
    values[SCORE] = np.asarray(scores, dtype=np.float64)
    rows = [
        {"name": name, "against": against, "psi": population_stability_index(reference[name], column)}
        for against, reference in references.items() if reference is not None
        for name, column in values.items() if name in reference
    ]
    return pd.DataFrame.from_records(rows, columns=["name", "against", "psi"])


def drift_report(psi: pd.DataFrame, shares: Mapping[str, float], previous_shares: Mapping[str, float] | None,
                 threshold: float) -> dict[str, Any]:
    """The drift figures of a run and whether they call for an alert.

    Parameters
    ----------
    psi : DataFrame
        :func:`compare`'s answer.
    shares, previous_shares : mapping
        :func:`top_feature_shares` of this run and of the previous one (``None`` for none).
    threshold : float
        An alert is raised when any PSI exceeds it.

    Returns
    -------
    dict
        ``alert``, ``threshold``, ``drifted`` (names above the threshold, worst first,
        with the reference and PSI), ``worst`` (per reference: the name with the largest
        PSI and its value), ``score_psi`` (per reference), ``psi`` (per reference, every
        name) and ``top_feature_shares`` (this run, the previous run, the change).
    """
    ordered = psi.sort_values(["psi", "name"], ascending=[False, True], kind="mergesort")
    drifted = ordered[ordered["psi"] > threshold]
    worst = {against: {"name": str(group.iloc[0]["name"]), "psi": round(float(group.iloc[0]["psi"]), 6)}
             for against, group in ordered.groupby("against", sort=True)}
    by_reference = {against: {str(row.name): round(float(row.psi), 6) for row in group.itertuples(index=False)}
                    for against, group in psi.groupby("against", sort=True)}
    change = ({name: round(share - previous_shares.get(name, 0.0), 6) for name, share in shares.items()}
              if previous_shares is not None else None)
    return {
        "alert": bool(len(drifted)),
        "threshold": threshold,
        "drifted": [{"name": str(row.name), "against": str(row.against), "psi": round(float(row.psi), 6)}
                    for row in drifted.itertuples(index=False)],
        "worst": worst,
        "score_psi": {against: values[SCORE] for against, values in by_reference.items() if SCORE in values},
        "psi": by_reference,
        "top_feature_shares": {
            "this_run": {name: round(share, 6) for name, share in shares.items()},
            "previous_run": (None if previous_shares is None
                             else {name: round(share, 6) for name, share in previous_shares.items()}),
            "change": change,
        },
    }


def drift_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """The worst figures of a :func:`drift_report`, for ``run_summary.json``."""
    return {
        "alert": report["alert"],
        "threshold": report["threshold"],
        # each drifted name once, in order of first appearance
        "drifted": list(dict.fromkeys(entry["name"] for entry in report["drifted"])),
        "worst": report["worst"],
        "score_psi": report["score_psi"],
    }
