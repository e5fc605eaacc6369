"""Learning from reviewed cases: an outcome layer that re-weighs the evidence on top of the detector.

The unsupervised detector (:mod:`models.detector`) stays: it is the cold start, and it
finds what no one has reviewed yet. Where the extract's ``investigation_outcomes`` hold
enough reviewed subjects, ``train`` fits on top of it

``final(x) = a * anomaly(x) + sum_f w_f * t_f(x_f) + b``,  with ``a >= 0`` and every ``w_f >= 0``,

where ``anomaly`` is the detector's combined score and ``t_f`` is one-sided evidence:
``-log`` of the share of this extract's subjects whose value of feature ``f`` is at least
as far in its declared suspicious direction (``features.definitions``: ``suspicious`` =
``"high"`` or ``"low"``), read from empirical tails fitted on the training extract. So a
sign weighs by its rarity among *these* subjects, and the outcomes decide how much that
rarity is worth.

Why this form (a calibrated linear model on the evidence and the anomaly score, rather than
re-weighting the forest's leaves as in active anomaly discovery):

* it stays exactly additive: feature ``f``'s contribution is ``a * c_f(x) + w_f * t_f(x)``
  (``c_f`` the detector's exact term) and the base value ``a * base + b``, so every flag
  still splits into one term per feature that adds up to its score, and reasons are
  still written from the declared sentences;
* it is monotone where it learns: each ``t_f`` never falls as the value moves in the
  suspicious direction and ``w_f >= 0``, so a learned weight can never make more
  evidence less suspicious (the detector's own part is unchanged by the outcomes);
* it has one weight per feature, which the panel can read before and after.

The weights are a non-negative, L2-penalised, sample-weighted logistic regression of
``outcome == fraud`` on ``[anomaly, t_1 .. t_F]`` (L-BFGS-B with bounds; ``a`` and ``b`` are
not penalised, so the detector is not shrunk away). Protected characteristics and age are
never features, so they never enter.

Selection bias, by where a reviewed case came from (the ``control`` column that
``counterfraud outcomes export`` writes):

* ``control`` = true: a uniform random draw of the subjects a run did not flag. Its weight
  is ``1 / p``, ``p`` the share of this extract's subjects outside the work list that were
  reviewed as controls (the drawing probability when every drawn case is closed; unlike
  the configured share it stays right when the sample size or capacity changed, or some
  drawn cases were never closed);
* ``control`` = false: the work list a previous version chose. Every flagged subject is
  reviewed, so its probability of review given that it was flagged is 1: weight 1 (far
  below a control case's, as it stands only for the flagged part of the population);
* no ``control`` value: past investigations chosen by older methods, whose probability of
  review is unknown and most biased: left out unless ``training.outcomes.use_untracked``
  (then weight 1).

With fewer than ``training.outcomes.min_reviewed`` reviewed subjects or
``training.outcomes.min_fraud`` frauds among the sources used, no layer is fitted and the
version is the detector alone, exactly as without outcomes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

from configs.settings import OutcomeLearningSettings
from models.components import TAIL_MAX_KNOTS, EmpiricalTails
from models.detector import CombinedDetector
from models.evaluate import labels_from_outcomes

CONTROL = "control"
WORK_LIST = "work_list"
UNTRACKED = "untracked"
SOURCES = (CONTROL, WORK_LIST, UNTRACKED)
"""Where a reviewed case came from, most trustworthy first."""

NOT_FITTED_TOO_FEW = ("outcome layer not fitted: {reviewed} reviewed subjects ({fraud} fraud) among the sources "
                      "used, fewer than training.outcomes.min_reviewed={min_reviewed} or min_fraud={min_fraud}; "
                      "the version is the detector alone")
NOT_FITTED_NONE = "outcome layer not fitted: the extract has no investigation_outcomes; the version is the detector alone"
FITTED = ("outcome layer fitted on {reviewed} reviewed subjects ({fraud} fraud): {sources}; figures against "
          "investigation_outcomes are measured on the cases it learnt from")
LAYER_FILE = "layer.json"
LAYER_ARRAYS_FILE = "arrays.npz"
BAD_DIRECTION_ERROR = "feature {name}: suspicious direction must be 'high' or 'low', got {direction!r}"


@dataclass(frozen=True)
class ReviewedSubjects:
    """The reviewed subjects of one extract, each with its label, source and weight.

    Attributes
    ----------
    table : DataFrame
        One row per reviewed subject found in the extract: ``subject_ref``, ``position`` (its
        row in the feature table), ``fraud`` (bool), ``source`` (:data:`SOURCES`), ``weight``
        (0 for a source left out), ``used`` (bool).
    not_in_extract : int
        Reviewed subjects of the outcomes that are not subjects of this extract (not used).
    control_probability : float or None
        ``p`` of the control cases (``None`` without any).
    """

    table: pd.DataFrame
    not_in_extract: int
    control_probability: float | None

    @property
    def used(self) -> pd.DataFrame:
        """The rows the layer is fitted on."""
        return self.table.loc[self.table["used"]]

    def summary(self) -> pd.DataFrame:
        """Per source: ``source``, ``reviewed``, ``fraud``, ``used`` (bool), ``weight`` (per case)."""
        rows = []
        for source in SOURCES:
            part = self.table.loc[self.table["source"] == source]
            used = bool(part["used"].any())
            rows.append({"source": source, "reviewed": len(part), "fraud": int(part["fraud"].sum()),
                         "used": used, "weight": float(part["weight"].iloc[0]) if used else 0.0})
        return pd.DataFrame.from_records(rows, columns=["source", "reviewed", "fraud", "used", "weight"])


def reviewed_subjects(outcomes: pd.DataFrame | None, subject_refs: Sequence[str],
                      *, use_untracked: bool = False) -> ReviewedSubjects:
    """Label, source and inverse-probability weight of each reviewed subject of an extract.

    Parameters
    ----------
    outcomes : DataFrame or None
        ``investigation_outcomes`` (``subject_ref``, ``outcome``, ``closed_on``, optional
        ``control``); a subject's latest outcome counts (``labels_from_outcomes``). A subject
        reviewed from several sources takes the most trustworthy one (control first).
    subject_refs : sequence of str
        The feature table's subjects, in its row order.
    use_untracked : bool
        Also use past investigations with no ``control`` value (weight 1).

    Examples
    --------
    >>> outcomes = pd.DataFrame({"subject_ref": ["B1", "B2", "B3", "B9"],
    ...                          "outcome": ["fraud", "no_issue", "fraud", "fraud"],
    ...                          "closed_on": ["2026-01-01"] * 4, "control": [True, False, None, False]})
    >>> reviewed = reviewed_subjects(outcomes, ["B1", "B2", "B3", "B4", "B5"])
    >>> reviewed.summary().values.tolist()
    [['control', 1, 1, True, 4.0], ['work_list', 1, 0, True, 1.0], ['untracked', 1, 1, False, 0.0]]
    >>> reviewed.not_in_extract
    1
    """
    refs = pd.Index(pd.Series(subject_refs, dtype=object).astype(str))
    columns = ["subject_ref", "position", "fraud", "source", "weight", "used"]
    if outcomes is None or outcomes.empty:
        return ReviewedSubjects(pd.DataFrame(columns=columns), 0, None)
    control = (outcomes["control"] if "control" in outcomes.columns
               else pd.Series(pd.NA, index=outcomes.index, dtype="boolean")).astype("boolean")
    by_source = {CONTROL: control.fillna(False).to_numpy(bool),
                 WORK_LIST: (~control).fillna(False).to_numpy(bool),
                 UNTRACKED: control.isna().to_numpy(bool)}
    parts, seen = [], set()
    for source in SOURCES:
        if not by_source[source].any():
            continue
        labels = labels_from_outcomes(outcomes.loc[by_source[source]])
        labels = labels.loc[~labels["subject_ref"].isin(seen)]
        seen |= set(labels["subject_ref"])
        parts.append(labels.assign(source=source))
    labelled = pd.concat(parts, ignore_index=True)
    position = refs.get_indexer(labelled["subject_ref"])
    in_extract = position >= 0
    table = labelled.loc[in_extract, ["subject_ref", "fraud", "source"]].assign(position=position[in_extract])

    n_control = int((table["source"] == CONTROL).sum())
    n_work_list = int((table["source"] == WORK_LIST).sum())
    outside_work_list = len(refs) - n_work_list
    probability = n_control / outside_work_list if n_control and outside_work_list > 0 else None
    weight_of = {CONTROL: 1.0 / probability if probability else 0.0, WORK_LIST: 1.0,
                 UNTRACKED: 1.0 if use_untracked else 0.0}
    table["weight"] = table["source"].map(weight_of).astype(float)
    table["used"] = table["weight"] > 0
    table = table.sort_values("position", kind="stable").reset_index(drop=True)
    return ReviewedSubjects(table.loc[:, columns], int((~in_extract).sum()), probability)


class OutcomeWeightedDetector:
    """The detector with an outcome layer: ``a * anomaly(x) + sum_f w_f * t_f(x_f) + b``.

    It has the detector's scoring interface (:meth:`decision_function`, :meth:`explain`,
    ``decision_scores_``), so scoring, explanations and reports use it as they use the
    detector alone.

    Parameters
    ----------
    detector : CombinedDetector
        Fitted; its score is ``anomaly``.
    directions : sequence of {"high", "low"}
        Each column's suspicious direction, in the detector's column order.
    evidence_tails : EmpiricalTails
        Each column's training distribution, of the value signed so that higher is more
        suspicious (``-x`` for ``"low"``).
    anomaly_weight, feature_weights, intercept
        ``a >= 0``, ``w >= 0`` (one per column) and ``b``.
    decision_scores : ndarray
        Final scores of the training rows.

    Examples
    --------
    >>> from models.detector import make_detector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.exponential(size=(400, 2))
    >>> detector = make_detector(random_state=0).fit(X)
    >>> fraud = X[:, 1] > 2.5
    >>> layer = fit_outcome_layer(detector, X, ["high", "high"], np.arange(400), fraud, np.ones(400), l2=0.01)
    >>> bool(layer.feature_weights[1] > layer.feature_weights[0] >= 0)
    True
    >>> contributions, base = layer.explain(X[:5])
    >>> bool(np.allclose(contributions.sum(axis=1) + base, layer.decision_function(X[:5])))
    True
    """

    def __init__(self, detector: CombinedDetector, directions: Sequence[str], evidence_tails: EmpiricalTails,
                 anomaly_weight: float, feature_weights: np.ndarray, intercept: float,
                 decision_scores: np.ndarray) -> None:
        self.detector = detector
        self.directions = tuple(directions)
        self.evidence_tails = evidence_tails
        self.anomaly_weight = float(anomaly_weight)
        self.feature_weights = np.asarray(feature_weights, dtype=np.float64)
        self.intercept = float(intercept)
        self.decision_scores_ = np.asarray(decision_scores, dtype=np.float64)

    @property
    def n_features_in_(self) -> int:
        return self.detector.n_features_in_

    def evidence_terms(self, X: np.ndarray) -> np.ndarray:
        """``t_f(x_f)`` per row and column: never falls as a value moves in its suspicious direction."""
        return evidence_terms(self.evidence_tails, np.asarray(X, dtype=np.float64), self.directions)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Final score of each row; higher = more likely fraud."""
        X = np.asarray(X, dtype=np.float64)
        return self._combine(self.detector.decision_function(X), self.evidence_terms(X))

    def _combine(self, anomaly: np.ndarray, terms: np.ndarray) -> np.ndarray:
        return self.anomaly_weight * anomaly + terms @ self.feature_weights + self.intercept

    def explain(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        """Per-column contributions ``a * c_f + w_f * t_f`` and base value ``a * base + b``; they add up to the score."""
        X = np.asarray(X, dtype=np.float64)
        contributions, base_value = self.detector.explain(X)
        contributions = self.anomaly_weight * contributions + self.evidence_terms(X) * self.feature_weights
        return contributions, float(self.anomaly_weight * base_value + self.intercept)

    def save(self, directory: Path) -> Path:
        """Write the layer, not its detector, to ``directory``: ``layer.json`` (directions, ``a``, ``b``)
        and ``arrays.npz`` (``w``, the training scores, the evidence tails); nothing is pickled."""
        directory.mkdir(parents=True, exist_ok=True)
        np.savez(directory / LAYER_ARRAYS_FILE, feature_weights=self.feature_weights,
                 decision_scores=self.decision_scores_, **self.evidence_tails.arrays("evidence"))
        description = {"directions": list(self.directions), "anomaly_weight": self.anomaly_weight,
                       "intercept": self.intercept, "evidence_rows": int(self.evidence_tails.n_rows)}
        (directory / LAYER_FILE).write_text(json.dumps(description, indent=2, sort_keys=True), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: Path, detector: CombinedDetector) -> OutcomeWeightedDetector:
        """The layer that :meth:`save` wrote to ``directory``, on top of ``detector``."""
        description = json.loads((directory / LAYER_FILE).read_text(encoding="utf-8"))
        with np.load(directory / LAYER_ARRAYS_FILE, allow_pickle=False) as npz:
            arrays = dict(npz)
        tails = EmpiricalTails.from_arrays(arrays, "evidence", len(description["directions"]),
                                           description["evidence_rows"])
        return cls(detector, description["directions"], tails, description["anomaly_weight"],
                   arrays["feature_weights"], description["intercept"], arrays["decision_scores"])


def signs_of(directions: Sequence[str], names: Sequence[str] | None = None) -> np.ndarray:
    """``+1`` for a ``"high"`` suspicious direction, ``-1`` for ``"low"``, per column."""
    signs = []
    for index, direction in enumerate(directions):
        if direction not in ("high", "low"):
            name = names[index] if names is not None else f"column {index}"
            raise ValueError(BAD_DIRECTION_ERROR.format(name=name, direction=direction))
        signs.append(1.0 if direction == "high" else -1.0)
    return np.asarray(signs)


def evidence_terms(tails: EmpiricalTails, X: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """One-sided rarity of each value in its suspicious direction among the training rows."""
    return tails.right_tail_terms(X * signs_of(directions))


def _penalised_log_loss(theta: np.ndarray, design: np.ndarray, fraud: np.ndarray, weight: np.ndarray,
                        l2: float) -> tuple[float, np.ndarray]:
    """Mean weighted log-loss of ``sigmoid(design @ theta[:-1] + theta[-1])`` plus ``l2 / 2 * |w|^2``.

    ``theta`` = ``[a, w_1 .. w_F, b]``; the penalty skips ``a`` and ``b``.
    """
    logits = design @ theta[:-1] + theta[-1]
    # log(1 + e^z) - y z, computed without overflow
    loss = np.maximum(logits, 0) + np.log1p(np.exp(-np.abs(logits))) - fraud * logits
    residual = weight * (expit(logits) - fraud)
    penalty = theta.copy()
    penalty[[0, -1]] = 0.0
    value = float(weight @ loss) + 0.5 * l2 * float(penalty @ penalty)
    gradient = np.r_[design.T @ residual, residual.sum()] + l2 * penalty
    return value, gradient


def fit_outcome_layer(detector: CombinedDetector, X: np.ndarray, directions: Sequence[str],
                      positions: np.ndarray, fraud: np.ndarray, weights: np.ndarray, *,
                      l2: float, anomaly_scores: np.ndarray | None = None) -> OutcomeWeightedDetector:
    """Fit ``a``, ``w`` and ``b`` on the reviewed rows of the training matrix.

    Parameters
    ----------
    detector : CombinedDetector
        Fitted on ``X`` or on a sample of its rows (see ``anomaly_scores``).
    X : ndarray of shape (n_samples, n_features)
        The training matrix (every subject of the extract): the evidence tails are fitted on it.
    directions : sequence of {"high", "low"}
        Suspicious direction of each column.
    positions, fraud, weights : ndarray
        Rows of ``X`` that were reviewed, whether each was fraud, and its weight.
    l2 : float
        Penalty on the per-feature weights.
    anomaly_scores : ndarray of shape (n_samples,), optional
        The detector's scores of the rows of ``X``; default its ``decision_scores_`` (a
        detector fitted on every row of ``X``, not on a sample of them).

    Returns
    -------
    OutcomeWeightedDetector
        Deterministic for the same inputs (L-BFGS-B from a fixed start).
    """
    X = np.asarray(X, dtype=np.float64)
    tails = EmpiricalTails.fit(X * signs_of(directions), TAIL_MAX_KNOTS)
    anomaly = np.asarray(detector.decision_scores_ if anomaly_scores is None else anomaly_scores, dtype=np.float64)
    terms = evidence_terms(tails, X, directions)
    positions = np.asarray(positions, dtype=np.int64)
    design = np.column_stack([anomaly[positions], terms[positions]])
    fraud = np.asarray(fraud, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    weights = weights / weights.sum()
    prevalence = float(np.clip(weights @ fraud, 1e-6, 1 - 1e-6))
    start = np.r_[1.0, np.zeros(X.shape[1]), np.log(prevalence / (1 - prevalence))]
    bounds = [(0.0, None)] * (1 + X.shape[1]) + [(None, None)]
    fitted = minimize(_penalised_log_loss, start, args=(design, fraud, weights, l2), jac=True,
                      method="L-BFGS-B", bounds=bounds, options={"maxiter": 1000})
    # L-BFGS-B keeps to the bounds; the clip only removes a -0.0
    a, w, b = max(fitted.x[0], 0.0), np.maximum(fitted.x[1:-1], 0.0), float(fitted.x[-1])
    layer = OutcomeWeightedDetector(detector, directions, tails, a, w, b, decision_scores=np.empty(0))
    layer.decision_scores_ = layer._combine(anomaly, terms)
    return layer


@dataclass(frozen=True)
class OutcomeLearning:
    """What training did with the extract's outcomes: the reviewed subjects, and the layer if fitted."""

    reviewed: ReviewedSubjects
    layer: OutcomeWeightedDetector | None
    note: str
    """One line: fitted on what, or why not."""


def learn_from_outcomes(detector: CombinedDetector, X: np.ndarray, subject_refs: Sequence[str],
                        directions: Sequence[str], outcomes: pd.DataFrame | None,
                        settings: OutcomeLearningSettings,
                        anomaly_scores: np.ndarray | None = None) -> OutcomeLearning:
    """Fit the outcome layer when the extract holds enough reviewed subjects, else say why not.

    Parameters
    ----------
    detector : CombinedDetector
        Fitted on ``X``.
    X : ndarray
        The training matrix, rows in ``subject_refs`` order.
    subject_refs : sequence of str
    directions : sequence of {"high", "low"}
        Each column's suspicious direction.
    outcomes : DataFrame or None
        The extract's ``investigation_outcomes``.
    settings : OutcomeLearningSettings
    anomaly_scores : ndarray, optional
        The detector's scores of the rows of ``X`` (:func:`fit_outcome_layer`).
    """
    reviewed = reviewed_subjects(outcomes, subject_refs, use_untracked=settings.use_untracked)
    if outcomes is None or outcomes.empty:
        return OutcomeLearning(reviewed, None, NOT_FITTED_NONE)
    used = reviewed.used
    n_reviewed, n_fraud = len(used), int(used["fraud"].sum())
    if n_reviewed < settings.min_reviewed or n_fraud < settings.min_fraud:
        return OutcomeLearning(reviewed, None, NOT_FITTED_TOO_FEW.format(
            reviewed=n_reviewed, fraud=n_fraud, min_reviewed=settings.min_reviewed, min_fraud=settings.min_fraud))
    layer = fit_outcome_layer(detector, X, directions, used["position"].to_numpy(), used["fraud"].to_numpy(),
                              used["weight"].to_numpy(), l2=settings.l2, anomaly_scores=anomaly_scores)
    sources = "; ".join(
        f"{row.source} {row.reviewed} ({row.fraud} fraud, weight {row.weight:.4g} each)" if row.used
        else f"{row.source} {row.reviewed} (left out)"
        for row in reviewed.summary().itertuples(index=False) if row.reviewed)
    return OutcomeLearning(reviewed, layer, FITTED.format(reviewed=n_reviewed, fraud=n_fraud, sources=sources))


def outcome_weights(layer: OutcomeWeightedDetector, feature_names: Sequence[str]) -> pd.DataFrame:
    """The layer's weights as a table: ``term`` (``anomaly score``, each feature, ``intercept``) and ``weight``."""
    return pd.DataFrame({"term": ["anomaly score", *feature_names, "intercept"],
                         "weight": [layer.anomaly_weight, *layer.feature_weights.tolist(), layer.intercept]})
