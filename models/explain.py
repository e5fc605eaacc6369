"""Why each flagged subject was flagged: additive contributions, then reasons in words.

Explanations are data first: :func:`explain_subjects` turns the detector's
per-feature contributions into a long table (one row per flagged subject and
feature: ``subject_ref``, ``feature``, ``value``, ``contribution``,
``base_value``) in which a subject's contributions plus its ``base_value`` add up
to its score; :func:`check_additivity` enforces that to 1e-6 on every run. The
sentences an investigator reads (:func:`top_reasons`) are then drawn from that
table and from the feature declarations, never computed a second way.

How the contributions are computed
----------------------------------
The combined score (:mod:`models.detector`) is a weighted sum of three standardised
component scores, so a contribution is the weighted sum of the components'
contributions, and each component is explained by a method that is exact for it:

* **Isolation forest: SHAP's ``TreeExplainer``** (path-dependent TreeSHAP). The
  forest's component score is minus the mean path length ``-E[h(x)]``, which is
  what TreeSHAP explains for an isolation forest: the leaf values are the path
  depths plus the ``c(n)`` correction, and the Shapley values of all features add
  up exactly to the path length minus its expectation over the training data.
  It is exact (no sampling), deterministic, and fast enough for every flagged
  subject (polynomial in tree depth). SHAP's own ``IsolationForest.score_samples``
  is a monotone but non-linear transform of ``E[h(x)]`` and would not be additive,
  which is why the detector scores the path length itself.
* **Autoencoder: the exact per-feature squared-error decomposition.** Its
  component score is the squared reconstruction error summed over features,
  ``sum_j (z_j - r_j)^2``, so feature ``j``'s share is its own term
  ``(z_j - r_j)^2`` (less its share of the training mean, which goes into
  ``base_value``). It is exact by construction, costs one forward pass, and says
  where the subject departs from what the network expects of it. SHAP's
  ``DeepExplainer``/``GradientExplainer`` on the network were not used: they
  approximate (DeepLIFT linearisation, or expected gradients sampled over a
  background set), so contributions would not add up to the score to 1e-6, they
  depend on a sampled background (results change with its seed and size) and
  they cost many network passes per subject. The price of the decomposition is
  that an error shows up on the feature that is badly reconstructed, which is
  not always the input that caused it; reasons therefore only cite features whose
  value itself departs in the suspicious direction.
* **Empirical tails (ECOD-style): the score is already a sum over features.**
  Each feature's term is minus the log of how rare a value this far out is among
  the training subjects (the larger of its two tails), so a feature's
  contribution is its own term, exactly, at the cost of a lookup per feature.

All parts are computed on the detector's own columns, which are exactly the
feature table's model columns (``features.definitions.feature_names()``), so the
contributions are reported per feature of the feature table.

Example
-------
>>> class Linear:
...     def explain(self, X):
...         return X * [1.0, 2.0], 0.5
>>> table = pd.DataFrame({"subject_ref": ["B1"], "a": [1.0], "b": [3.0]})
>>> explain_subjects(Linear(), table, ["a", "b"], scores=[7.5])[["feature", "contribution"]].values.tolist()
[['a', 1.0], ['b', 6.0]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from features.definitions import FEATURES_BY_NAME, FeatureSpec
from features.reasons import render_reason

#: A subject's contributions plus its base value may differ from its score by at most this.
ADDITIVITY_TOLERANCE = 1e-6
#: Written between the reasons of one subject in the ``reasons`` column.
REASON_SEPARATOR = " | "

SHAPE_ERROR = "detector explained {got} columns for {rows} rows; expected {expected} features for {n} subjects"
LENGTH_ERROR = "explain_subjects got {refs} subjects and {scores} scores"
ADDITIVITY_ERROR = (
    "explanation of subject_ref {ref!r} does not add up to its score: "
    "contributions + base_value = {total!r}, score = {score!r}"
)
MISSING_SCORE_ERROR = "no score for explained subject_ref {ref!r}"
UNKNOWN_FEATURE_ERROR = "explanations name feature {feature!r}, which is not declared in features.definitions"
MISSING_SUBJECT_ERROR = "no feature-table row for explained subject_ref {ref!r}"


class ExplanationError(ValueError):
    """Explanations are inconsistent with the scores or the feature declarations."""


class Explainable(Protocol):
    """A detector whose scores split into per-feature contributions."""

    def explain(self, X: np.ndarray) -> tuple[np.ndarray, float]: ...


def explain_subjects(
    detector: Explainable,
    subjects: pd.DataFrame,
    feature_names: Sequence[str],
    scores: Sequence[float] | np.ndarray | pd.Series,
) -> pd.DataFrame:
    """One row per subject and feature: its value and its contribution to the score.

    Parameters
    ----------
    detector : Explainable
        The fitted detector that produced ``scores``: ``explain(X) -> (contributions, base_value)``.
    subjects : DataFrame
        Feature-table rows of the subjects to explain (e.g. the flagged ones):
        ``subject_ref`` and the model columns.
    feature_names : sequence of str
        The model columns, in the detector's column order.
    scores : sequence of float
        The score each subject received, aligned with ``subjects``.

    Returns
    -------
    DataFrame
        ``subject_ref``, ``feature``, ``value``, ``contribution``, ``base_value``;
        subjects in input order, features in model order.

    Raises
    ------
    ExplanationError
        When the detector's contributions do not have one column per feature, or a
        subject's contributions plus the base value differ from its score by more
        than :data:`ADDITIVITY_TOLERANCE`.
    """
    refs = subjects["subject_ref"].astype("str").to_numpy(dtype=object)
    scores = np.asarray(scores, dtype="float64")
    if len(refs) != len(scores):
        raise ExplanationError(LENGTH_ERROR.format(refs=len(refs), scores=len(scores)))
    names = list(feature_names)
    if len(refs) == 0:
        return _empty_explanations()

    values = subjects.loc[:, names].to_numpy(dtype="float64")
    contributions, base_value = detector.explain(values)
    contributions = np.asarray(contributions, dtype="float64")
    if contributions.shape != values.shape:
        raise ExplanationError(SHAPE_ERROR.format(
            got=contributions.shape[-1], rows=contributions.shape[0], expected=len(names), n=len(refs)))

    n_subjects, n_features = values.shape
    explanations = pd.DataFrame({
        "subject_ref": pd.array(np.repeat(refs, n_features), dtype="str"),
        "feature": pd.array(np.tile(np.asarray(names, dtype=object), n_subjects), dtype="str"),
        "value": values.ravel(),
        "contribution": contributions.ravel(),
        "base_value": np.full(n_subjects * n_features, float(base_value)),
    })
    check_additivity(explanations, pd.Series(scores, index=pd.Index(refs, dtype="str")))
    return explanations


def _empty_explanations() -> pd.DataFrame:
    return pd.DataFrame({
        "subject_ref": pd.array([], dtype="str"),
        "feature": pd.array([], dtype="str"),
        "value": np.array([], dtype="float64"),
        "contribution": np.array([], dtype="float64"),
        "base_value": np.array([], dtype="float64"),
    })


def contribution_matrix(detector: Explainable, feature_names: Sequence[str], rows: pd.DataFrame) -> pd.DataFrame:
    """The contributions of each of ``rows``, wide: one column per feature, then ``base_value``.

    Indexed as ``rows``. Each row's contributions depend on that row alone, so the
    matrix of a table is the concatenation of the matrices of its pieces.

    Examples
    --------
    >>> class Linear:
    ...     def explain(self, X):
    ...         return X * [1.0, 2.0], 0.5
    >>> contribution_matrix(Linear(), ["a", "b"], pd.DataFrame({"a": [1.0], "b": [3.0]})).values.tolist()
    [[1.0, 6.0, 0.5]]
    """
    names = list(feature_names)
    # C order, as the detector scores: another memory layout can change the last bit
    contributions, base_value = detector.explain(np.ascontiguousarray(rows.loc[:, names].to_numpy(dtype="float64")))
    matrix = pd.DataFrame(np.asarray(contributions, dtype="float64"), index=rows.index, columns=names)
    matrix["base_value"] = float(base_value)
    return matrix


def check_additivity(
    explanations: pd.DataFrame, scores: pd.Series, tolerance: float = ADDITIVITY_TOLERANCE
) -> None:
    """Raise unless every subject's contributions plus its base value equal its score.

    Parameters
    ----------
    explanations : DataFrame
        As returned by :func:`explain_subjects`.
    scores : Series
        Score per ``subject_ref`` (index); subjects not explained are ignored.
    tolerance : float
        Largest absolute difference allowed.

    Raises
    ------
    ExplanationError
        Naming the first subject that does not add up, or has no score.
    """
    per_subject = explanations.groupby("subject_ref", sort=False).agg(
        contribution=("contribution", "sum"), base_value=("base_value", "first"))
    total = per_subject["contribution"] + per_subject["base_value"]
    score = scores.reindex(per_subject.index)
    missing = score.isna()
    if missing.any():
        raise ExplanationError(MISSING_SCORE_ERROR.format(ref=missing.idxmax()))
    gap = (total - score).abs()
    if (gap > tolerance).any():
        ref = gap.idxmax()
        raise ExplanationError(ADDITIVITY_ERROR.format(ref=ref, total=float(total[ref]),
                                                       score=float(score[ref])))


def departs_suspiciously(values: ArrayLike, suspicious: ArrayLike, neutral: ArrayLike) -> np.ndarray:
    """Whether each value departs from its feature's neutral value in the suspicious direction.

    ``suspicious`` is ``"high"`` or ``"low"`` (``FeatureSpec.suspicious``), ``neutral`` the
    feature's neutral value; all three aligned (or scalars).

    Examples
    --------
    >>> departs_suspiciously([0.0, 2.0, -1.0], ["high", "high", "low"], 0.0).tolist()
    [False, True, True]
    """
    values = np.asarray(values, dtype="float64")
    neutral = np.asarray(neutral, dtype="float64")
    high = np.asarray(suspicious, dtype=object) == "high"
    return np.where(high, values > neutral, values < neutral)


def top_reasons(
    explanations: pd.DataFrame,
    subjects: pd.DataFrame,
    top_k: int,
    specs: Mapping[str, FeatureSpec] = FEATURES_BY_NAME,
) -> pd.DataFrame:
    """The top reasons of each explained subject, in words, from its own values.

    A feature is a reason when its contribution is positive, it applies to the
    subject's type, and its value departs from its neutral value in the suspicious
    direction declared for it. Up to ``top_k`` of them are kept per subject, largest
    contribution first, skipping a feature that would repeat the facts of a stronger
    one (its context columns contain, or are contained in, the other's). A subject
    with none still gets one reason: the applicable feature with the largest
    contribution, so every flagged subject can be read.

    Parameters
    ----------
    explanations : DataFrame
        As returned by :func:`explain_subjects`.
    subjects : DataFrame
        Feature-table rows of the explained subjects: ``subject_ref``,
        ``subject_type`` and the context columns the sentences read.
    top_k : int
        Reasons kept per subject (``settings.explanations.top_reasons``).
    specs : mapping of str to FeatureSpec
        The feature declarations by name.

    Returns
    -------
    DataFrame
        ``subject_ref``, ``position`` (1 = strongest), ``feature``, ``contribution``,
        ``reason``; subjects in the order of ``explanations``.

    Raises
    ------
    ExplanationError
        When a feature is not declared or a subject has no feature-table row.
    """
    unknown = sorted(set(explanations["feature"]) - set(specs))
    if unknown:
        raise ExplanationError(UNKNOWN_FEATURE_ERROR.format(feature=unknown[0]))
    rows = subjects.drop_duplicates("subject_ref").set_index("subject_ref", drop=False)
    rows.index = rows.index.astype("str")
    order = pd.unique(explanations["subject_ref"])
    missing = pd.Index(order).difference(rows.index)
    if len(missing):
        raise ExplanationError(MISSING_SUBJECT_ERROR.format(ref=missing[0]))

    chosen = reason_features(explanations, rows["subject_type"].astype("str"), top_k, specs)

    # one record per chosen subject: row lookups in a wide frame cost far more than the sentence
    context = rows.loc[pd.unique(chosen["subject_ref"])].to_dict("index")
    reasons = [
        render_reason(specs[feature], context[ref])
        for ref, feature in zip(chosen["subject_ref"], chosen["feature"], strict=True)
    ]
    return pd.DataFrame({
        "subject_ref": pd.array(chosen["subject_ref"].to_numpy(dtype=object), dtype="str"),
        "position": (chosen.groupby("subject_ref", sort=False).cumcount() + 1).to_numpy(dtype="int64"),
        "feature": pd.array(chosen["feature"].to_numpy(dtype=object), dtype="str"),
        "contribution": chosen["contribution"].to_numpy(dtype="float64"),
        "reason": pd.array(reasons, dtype="str"),
    })


def reason_features(
    explanations: pd.DataFrame,
    subject_types: pd.Series,
    top_k: int,
    specs: Mapping[str, FeatureSpec] = FEATURES_BY_NAME,
) -> pd.DataFrame:
    """The features :func:`top_reasons` states as each subject's reasons, without the sentences.

    Parameters
    ----------
    explanations : DataFrame
        As returned by :func:`explain_subjects` (or a subject's stored explanation in that shape).
    subject_types : Series
        Each explained subject's type, indexed by ``subject_ref`` (str).
    top_k : int
        Reasons kept per subject.
    specs : mapping of str to FeatureSpec
        The feature declarations by name.

    Returns
    -------
    DataFrame
        ``subject_ref``, ``feature``, ``value``, ``contribution`` of each reason, subjects in the
        order of ``explanations``, each subject's reasons strongest first.
    """
    order = pd.unique(explanations["subject_ref"])
    feature_position = {name: position for position, name in enumerate(specs)}
    feature = explanations["feature"]
    subject_type = subject_types.reindex(explanations["subject_ref"].astype("str")).to_numpy()
    applies_to = feature.map({name: spec.applies_to for name, spec in specs.items()}).to_numpy()
    candidates = explanations[["subject_ref", "feature", "value", "contribution"]].assign(
        subject_order=pd.Series(np.arange(len(order)), index=order).reindex(
            explanations["subject_ref"]).to_numpy(),
        feature_order=feature.map(feature_position).to_numpy(),
        applies=(applies_to == "both") | (applies_to == subject_type),
    )
    departs = departs_suspiciously(
        explanations["value"],
        feature.map({name: spec.suspicious for name, spec in specs.items()}),
        feature.map({name: spec.neutral for name, spec in specs.items()}),
    )
    candidates["agrees"] = candidates["applies"] & (candidates["contribution"] > 0) & departs

    # Strongest first; equal contributions in declaration order, so the choice is stable.
    candidates = candidates.sort_values(["subject_order", "contribution", "feature_order"],
                                        ascending=[True, False, True], kind="mergesort")
    agreeing = candidates[candidates["agrees"]]
    chosen = agreeing[_distinct_facts(agreeing["subject_ref"], agreeing["feature"], specs, top_k)]
    unexplained = candidates[~candidates["subject_ref"].isin(chosen["subject_ref"])]
    fallback = unexplained[unexplained["applies"]].drop_duplicates("subject_ref")
    chosen = pd.concat([chosen, fallback]).sort_values(
        ["subject_order", "contribution", "feature_order"], ascending=[True, False, True],
        kind="mergesort")
    return chosen[["subject_ref", "feature", "value", "contribution"]]


def _distinct_facts(refs: pd.Series, features: pd.Series, specs: Mapping[str, FeatureSpec],
                    top_k: int) -> np.ndarray:
    """Keep, per subject and in order, up to ``top_k`` features that state different facts.

    A feature whose context columns contain, or are contained in, those of a feature
    already kept would repeat its sentence's facts (e.g. the earnings gap in pounds and
    as a ratio), so it is skipped for the next one.
    """
    keep = np.zeros(len(features), dtype=bool)
    kept: dict[str, list[frozenset[str]]] = {}
    for position, (ref, feature) in enumerate(zip(refs, features, strict=True)):
        facts = frozenset(specs[feature].context)
        seen = kept.setdefault(ref, [])
        if len(seen) < top_k and not any(facts <= other or other <= facts for other in seen):
            seen.append(facts)
            keep[position] = True
    return keep


def join_reasons(reasons: pd.DataFrame, subject_refs: Sequence[str] | pd.Series) -> pd.Series:
    """The ``reasons`` column: each subject's reasons in order, joined by :data:`REASON_SEPARATOR`.

    Returns a Series of str indexed by ``subject_refs`` (same order), ``""`` for a
    subject without reasons (one not flagged).
    """
    ordered = reasons.sort_values(["subject_ref", "position"], kind="mergesort")
    joined = ordered.groupby("subject_ref", sort=False)["reason"].agg(REASON_SEPARATOR.join)
    index = pd.Index(np.asarray(subject_refs, dtype=object), dtype="str", name="subject_ref")
    return joined.reindex(index).fillna("").astype("str").rename("reasons")
