"""The combined anomaly detector: isolation forest, autoencoder and empirical tails in one score.

All components score the same internally scaled copy of the input, and each is
chosen so that its score splits exactly into one term per input column:

* isolation forest: ``s_if(x) = -E[h(x)]``, minus the mean path length over the
  trees (the quantity SHAP's ``TreeExplainer`` explains for an isolation forest);
* autoencoder: ``s_ae(x) = sum_j (z_j - r_j)^2``, the squared reconstruction
  error of the scaled row ``z`` summed over columns;
* empirical tails (ECOD, Li et al. 2022): ``s_tail(x) = sum_j -log p_j(x_j)``,
  ``p_j`` the smaller of the training shares ``<= x_j`` and ``>= x_j``.

The combined score is the affine combination
``sum_k w_k * (s_k(x) - mean_k) / std_k`` (means and standard deviations over the
training rows), so per-column contributions of the combined score add up to it
exactly (:meth:`CombinedDetector.explain`).
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import shap
import torch
from joblib import Parallel, delayed, effective_n_jobs
from pyod.models.auto_encoder import AutoEncoder
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest
from sklearn.utils.validation import check_is_fitted, validate_data

from configs.settings import DetectorSettings

FOREST = "isolation_forest"
AUTOENCODER = "autoencoder"
TAIL = "tail"

INVALID_PARAMETER = "invalid detector parameter {name}: {problem}"

_DEFAULTS = DetectorSettings()
_SCORING_CHUNK_ROWS = 65_536
"""Rows scored at once: bounds memory, and fixes the row blocks the network sees."""
_EXPLAIN_CHUNK_ROWS = 100_000
"""Rows per parallel SHAP task; up to this many rows are explained in this process, as
starting worker processes (each imports the detector's modules) costs about 4 s, the time
to explain some 50 000 rows of claims features here."""
_TAIL_MAX_KNOTS = 2048
"""Knots of each column's empirical distribution: bounds the fitted size at any row count."""


class DetectorParameterError(ValueError):
    """A parameter of :class:`CombinedDetector` has a value it cannot fit with."""


def average_path_length(n_samples: np.ndarray) -> np.ndarray:
    """Expected path length ``c(n)`` of an unsuccessful search in a tree of ``n`` samples.

    The correction an isolation tree adds at a leaf still holding ``n`` training
    samples (Liu et al., 2008): ``0`` for ``n <= 1``, ``1`` for ``n == 2``, else
    ``2 (ln(n - 1) + gamma) - 2 (n - 1) / n``.

    Examples
    --------
    >>> average_path_length(np.array([1, 2, 256])).round(3).tolist()
    [0.0, 1.0, 10.245]
    """
    n = np.asarray(n_samples, dtype=np.float64)
    safe = np.maximum(n, 3.0)
    general = 2.0 * (np.log(safe - 1.0) + np.euler_gamma) - 2.0 * (safe - 1.0) / safe
    return np.where(n <= 1.0, 0.0, np.where(n == 2.0, 1.0, general))


@contextlib.contextmanager
def _isolated_random_state() -> Iterator[None]:
    """Leave the global random generators as they were.

    PyOD seeds Python's, NumPy's and torch's global generators (and sets
    ``PYTHONHASHSEED``) when a network is built; fitting a detector must not
    change the random state of the code around it.
    """
    python_state = random.getstate()
    numpy_state = np.random.get_state()
    hash_seed = os.environ.get("PYTHONHASHSEED")
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        if hash_seed is None:
            os.environ.pop("PYTHONHASHSEED", None)
        else:
            os.environ["PYTHONHASHSEED"] = hash_seed


@contextlib.contextmanager
def _single_threaded_torch() -> Iterator[None]:
    """Run torch on one thread, then restore the caller's setting.

    Results then do not depend on the machine's core count, and the small
    network does not stall when other processes hold the cores (torch's
    worker threads spin-wait for each other).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _chunks(n_rows: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


def _tree_shap_values(explainer: shap.TreeExplainer, z: np.ndarray) -> np.ndarray:
    return explainer.shap_values(z, check_additivity=False)


def _knot_ranks(n_rows: int, n_knots: int) -> np.ndarray:
    """About ``n_knots`` ranks of ``0 .. n_rows - 1``: half evenly spaced, half geometrically
    spaced from each end, so the extreme rows (where anomalies lie) keep exact counts.

    Examples
    --------
    >>> _knot_ranks(1_000, 16).tolist()
    [0, 7, 62, 143, 285, 428, 499, 500, 571, 714, 856, 937, 992, 999]
    """
    even = np.linspace(0, n_rows - 1, n_knots // 2)
    from_end = np.geomspace(1, n_rows / 2, n_knots // 4) - 1
    ranks = np.concatenate([even, from_end, n_rows - 1 - from_end])
    return np.unique(np.rint(ranks).astype(np.int64))


@dataclass(frozen=True)
class EmpiricalTails:
    """Per-column empirical distributions of the training rows, kept on a grid of knots.

    For each column ``j`` it stores sorted knots ``k`` (every distinct training
    value when there are at most ``max_knots`` of them, else values at evenly
    spaced ranks, denser towards both ends, always including the minimum and maximum) and, at each knot,
    the training counts ``<= k`` and ``< k``. Counts at a knot are exact, so the
    point masses of zero-inflated columns are kept; between two knots they are
    interpolated linearly.

    Use :meth:`fit` to build one.
    """

    knots: tuple[np.ndarray, ...]
    counts_at_most: tuple[np.ndarray, ...]
    counts_below: tuple[np.ndarray, ...]
    n_rows: int

    @classmethod
    def fit(cls, z: np.ndarray, max_knots: int) -> EmpiricalTails:
        """Knots and counts of each column of ``z`` (rows x columns)."""
        n_rows = z.shape[0]
        knots, at_most, below = [], [], []
        for column in z.T:
            ordered = np.sort(column)
            distinct = np.unique(ordered)
            if len(distinct) > max_knots:
                distinct = np.unique(ordered[_knot_ranks(n_rows, max_knots)])
            knots.append(distinct)
            at_most.append(np.searchsorted(ordered, distinct, side="right").astype(np.float64))
            below.append(np.searchsorted(ordered, distinct, side="left").astype(np.float64))
        return cls(tuple(knots), tuple(at_most), tuple(below), n_rows)

    def _tail_counts(self, column: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(count <= x, count >= x)`` over the training values of one column, per ``x``.

        Exact on a knot; between two knots the mass lying strictly between them
        is interpolated linearly. Each value of ``x`` falls in one of the
        ``len(knots) + 1`` intervals cut by the knots, and each interval's
        terms are looked up once (one binary search per value). Both counts are
        monotone in ``x``: ``count <= x`` never falls and ``count >= x`` never rises.
        """
        knots, at_most, below = self.knots[column], self.counts_at_most[column], self.counts_below[column]
        n = float(self.n_rows)
        # Interval i holds the values in (knots[i - 1], knots[i]); interval 0 lies below the
        # smallest knot (count <= x is 0) and the last above the largest (count <= x is n).
        start = np.r_[knots[0], knots]
        count_at_start = np.r_[0.0, at_most]
        rise = np.r_[0.0, below[1:] - at_most[:-1], 0.0]
        gap = np.r_[0.0, np.diff(knots), 0.0]
        inverse_gap = np.divide(1.0, gap, out=np.zeros_like(gap), where=gap > 0)

        interval = np.searchsorted(knots, x, side="left")  # index of the first knot >= x
        on_knot = np.r_[knots, np.inf][interval] == x
        share = np.clip((x - start[interval]) * inverse_gap[interval], 0.0, 1.0)
        between = count_at_start[interval] + share * rise[interval]
        at_most_x = np.where(on_knot, np.r_[at_most, n][interval], between)
        at_least_x = np.where(on_knot, n - np.r_[below, n][interval], n - between)
        return at_most_x, at_least_x

    def _smaller_tail_counts(self, column: int, x: np.ndarray) -> np.ndarray:
        """``min(count <= x, count >= x)`` over the training values of one column, per ``x``."""
        at_most_x, at_least_x = self._tail_counts(column, x)
        return np.minimum(at_most_x, at_least_x)

    def right_tail_terms(self, z: np.ndarray) -> np.ndarray:
        """``-log`` of the share of training values ``>= x`` per row and column, smoothed as in :meth:`terms`.

        One-sided: 0 at or below the smallest training value, never falling as ``x`` rises.

        Examples
        --------
        >>> tails = EmpiricalTails.fit(np.array([[0.0], [0.0], [0.0], [5.0]]), max_knots=16)
        >>> tails.right_tail_terms(np.array([[-1.0], [0.0], [5.0], [9.0]])).ravel().round(3).tolist()
        [0.0, 0.0, 0.916, 1.609]
        """
        terms = np.empty_like(z)
        log_total = np.log(self.n_rows + 1.0)
        for column in range(z.shape[1]):
            _, at_least = self._tail_counts(column, z[:, column])
            terms[:, column] = log_total - np.log(at_least + 1.0)
        return terms

    def terms(self, z: np.ndarray) -> np.ndarray:
        """ECOD's tail term of each row and column: ``max(U_left, U_right)``.

        ``U_left = -log F(x)`` (share of training values ``<= x``) and
        ``U_right = -log(1 - F(x-))`` (share ``>= x``), counts smoothed as
        ``(count + 1) / (n + 1)`` so no term is infinite. This is ECOD as PyOD
        implements it and ADBench measured it: the larger tail per column, not
        the paper's larger of the left, right and skewness-chosen sums (the
        skewness-chosen term never exceeds the larger tail). On the four
        ADBench datasets of ``benchmarks.adbench`` the per-column maximum
        reaches 95.5 mean ROC-AUC, the larger of the sums 92.9.
        """
        terms = np.empty_like(z)
        log_total = np.log(self.n_rows + 1.0)
        for column in range(z.shape[1]):
            smaller_tail = self._smaller_tail_counts(column, z[:, column])
            terms[:, column] = log_total - np.log(smaller_tail + 1.0)
        return terms


class CombinedDetector(BaseEstimator):
    """Isolation forest, autoencoder and empirical tails combined into one additive score.

    Follows scikit-learn's estimator conventions (parameters stored unchanged,
    fitted attributes end in ``_``) and PyOD's detector conventions
    (:meth:`fit`, :meth:`decision_function` with higher = more anomalous,
    ``decision_scores_``). It takes any finite numeric matrix.

    Parameters
    ----------
    forest_n_estimators, forest_max_samples, forest_max_features
        Trees of the isolation forest, training rows drawn for each tree (capped
        at the number of rows), share of columns each tree sees.
    autoencoder_hidden_neurons
        Widths of the encoder's hidden layers; the decoder mirrors them
        (PyOD's ``hidden_neuron_list``: ``(16, 8)`` builds ``d-16-8-16-d``).
    autoencoder_epochs, autoencoder_batch_size, autoencoder_learning_rate
        Training of the network (Adam, PyOD's defaults otherwise).
    autoencoder_max_train_rows
        Rows sampled (without replacement) to train the network; scoring always
        uses every row.
    forest_weight, autoencoder_weight, tail_weight
        Weights ``w_k >= 0`` of the standardised component scores; a component
        of weight 0 is not fitted.
    random_state
        Seed of every random choice (row samples, trees, network weights,
        batch order): two fits with the same seed give bit-identical scores.
    n_jobs
        Processes used by :meth:`explain` and threads used to score the trees
        (joblib convention, ``-1`` = every core). Results do not depend on it.

    Attributes
    ----------
    n_features_in_ : int
        Columns seen in :meth:`fit`.
    center_, scale_ : ndarray of shape (n_features_in_,)
        Standardisation of the inputs: ``z = (x - center_) / scale_``.
    forest_ : IsolationForest or None
        The fitted forest (``None`` when ``forest_weight == 0``).
    autoencoder_ : pyod.models.auto_encoder.AutoEncoder or None
        The fitted network (``None`` when ``autoencoder_weight == 0``).
    tails_ : EmpiricalTails or None
        Each column's training distribution on at most 2 048 knots
        (``None`` when ``tail_weight == 0``).
    component_weights_, component_means_, component_stds_ : dict of str to float
        Per fitted component: its weight, and the mean and standard deviation of
        its raw score over the training rows.
    decision_scores_ : ndarray of shape (n_samples,)
        Combined scores of the training rows.

    Notes
    -----
    The defaults (``configs/default.yaml``) were chosen on the four ADBench
    datasets of ``benchmarks.adbench`` (mean ROC-AUC / AUC-PR in %, 3 seeds)
    and on timings with 25 columns on 2 cores:

    * inputs standardised (mean, standard deviation): the autoencoder alone
      reaches 94.0 / 51.5, against 92.0 / 53.9 after robust scaling (median,
      IQR); the forest is unaffected by either (both are affine);
    * isolation forest, 100 trees of 64 rows: exact TreeSHAP costs about
      trees x leaves x depth^2, and explains 3 250 rows per CPU-second against
      780 for scikit-learn's default 100 x 256 (1 520 for 100 x 128, 2 850 for
      50 x 128), for the same quality (forest alone 94.5 / 63.9; 100 x 256:
      94.5 / 62.4). 100 trees rather than 50 keep the top 2 % steadier between
      seeds (69-75 % shared, against 66-70 %);
    * autoencoder ``d-32-16-32-16-32-d`` (PyOD's ``hidden_neuron_list`` of
      ``(32, 16, 32)``), 10 epochs, batches of 256, at most 100 000 training
      rows: 94.0 alone, against 93.6 for ``(16, 8)``, 92.2 for ``(32, 16)``
      and 92.1 for 30 epochs (longer training learns to rebuild the outliers
      too);
    * empirical tails on at most 2 048 knots per column: 95.5 / 64.9 alone,
      as PyOD's ECOD (published 95.6 / 64.9);
    * weights forest 0.2, autoencoder 0.3, tails 0.5: combined 95.6 / 62.7,
      level with the published ECOD and above the published isolation forest
      (94.4 / 60.3); the former 0.7 / 0.3 / 0 gave 94.6 / 60.7. Weights with
      no autoencoder score higher here (0.4 / 0 / 0.6: 95.7 / 67.1) but miss
      the claims the autoencoder finds in the synthetic claims world (average
      precision 0.23 against 0.36 there, 3 seeds), where forest-heavy weights
      also do worst (0.7 / 0.3 / 0: 0.31).

    Timings, 1 M rows x 25 columns on 2 cores: fitting about 25 s (5 s of it
    PyOD compiling its numba kernel, once per process), scoring about 5 s.
    The tails add, on 1 M rows x 15 columns, 0.3 s to fitting and 2 s to
    scoring (one binary search per value).
    Explanations run SHAP at about 3 000 rows per CPU-second on the dense
    ADBench columns and 14 000 on the claims features (mostly at their neutral
    value, so the trees' paths are short): 16 916 flagged subjects of a 1 M-person
    world take 1.2 s in this process, against 4.6 s with two worker processes
    (4 s of it starting them). Worker processes are used only beyond 100 000 rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(300, 4)), [[8.0, -8.0, 8.0, -8.0]]])
    >>> detector = make_detector().fit(X)
    >>> int(np.argmax(detector.decision_scores_))
    300
    >>> contributions, base_value = detector.explain(X[-2:])
    >>> bool(np.allclose(contributions.sum(axis=1) + base_value,
    ...                  detector.decision_function(X[-2:])))
    True
    """

    def __init__(
        self,
        *,
        forest_n_estimators: int = _DEFAULTS.isolation_forest.n_estimators,
        forest_max_samples: int = _DEFAULTS.isolation_forest.max_samples,
        forest_max_features: float = _DEFAULTS.isolation_forest.max_features,
        autoencoder_hidden_neurons: Sequence[int] = _DEFAULTS.autoencoder.hidden_neurons,
        autoencoder_epochs: int = _DEFAULTS.autoencoder.epochs,
        autoencoder_batch_size: int = _DEFAULTS.autoencoder.batch_size,
        autoencoder_learning_rate: float = _DEFAULTS.autoencoder.learning_rate,
        autoencoder_max_train_rows: int = _DEFAULTS.autoencoder.max_train_rows,
        forest_weight: float = _DEFAULTS.weights.get(FOREST, 0.0),
        autoencoder_weight: float = _DEFAULTS.weights.get(AUTOENCODER, 0.0),
        tail_weight: float = _DEFAULTS.weights.get(TAIL, 0.0),
        random_state: int = 0,
        n_jobs: int | None = -1,
    ) -> None:
        self.forest_n_estimators = forest_n_estimators
        self.forest_max_samples = forest_max_samples
        self.forest_max_features = forest_max_features
        self.autoencoder_hidden_neurons = autoencoder_hidden_neurons
        self.autoencoder_epochs = autoencoder_epochs
        self.autoencoder_batch_size = autoencoder_batch_size
        self.autoencoder_learning_rate = autoencoder_learning_rate
        self.autoencoder_max_train_rows = autoencoder_max_train_rows
        self.forest_weight = forest_weight
        self.autoencoder_weight = autoencoder_weight
        self.tail_weight = tail_weight
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ fit

    def fit(self, X: np.ndarray, y: object = None) -> CombinedDetector:
        """Fit the scaling, the components and the standardisation of their scores.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite numeric values; at least two rows.
        y : ignored
            Present for API consistency (unsupervised).

        Returns
        -------
        CombinedDetector
            ``self``, fitted.
        """
        weights = self._validated_weights()
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        self.center_, self.scale_ = self._standardisation(X)
        z = self._scale(X)

        self.forest_ = self._fit_forest(z) if weights[FOREST] > 0 else None
        self.autoencoder_ = self._fit_autoencoder(z) if weights[AUTOENCODER] > 0 else None
        self.tails_ = EmpiricalTails.fit(z, _TAIL_MAX_KNOTS) if weights[TAIL] > 0 else None
        self.component_weights_ = {name: w for name, w in weights.items() if w > 0}

        raw = self._raw_component_scores(z)
        self.component_means_ = {name: float(s.mean()) for name, s in raw.items()}
        # A component scoring every training row alike cannot be standardised: keep scale 1.
        self.component_stds_ = {name: float(s.std()) or 1.0 for name, s in raw.items()}
        self.decision_scores_ = self._combine(raw)
        return self

    def _validated_weights(self) -> dict[str, float]:
        weights = {
            FOREST: float(self.forest_weight),
            AUTOENCODER: float(self.autoencoder_weight),
            TAIL: float(self.tail_weight),
        }
        for name, weight in weights.items():
            if not (np.isfinite(weight) and weight >= 0):
                raise DetectorParameterError(
                    INVALID_PARAMETER.format(name=f"{name} weight", problem="must be finite and >= 0")
                )
        if not any(weights.values()):
            raise DetectorParameterError(
                INVALID_PARAMETER.format(name="weights", problem="at least one must be positive")
            )
        return weights

    @staticmethod
    def _standardisation(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation per column; a constant column keeps scale 1."""
        scale = X.std(axis=0)
        return X.mean(axis=0), np.where(scale > 0, scale, 1.0)

    def _scale(self, X: np.ndarray) -> np.ndarray:
        return (X - self.center_) / self.scale_

    def _fit_forest(self, z: np.ndarray) -> IsolationForest:
        forest = IsolationForest(
            n_estimators=self.forest_n_estimators,
            max_samples=min(self.forest_max_samples, z.shape[0]),
            max_features=self.forest_max_features,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        return forest.fit(z.astype(np.float32))

    def _fit_autoencoder(self, z: np.ndarray) -> AutoEncoder:
        n_rows = z.shape[0]
        if n_rows > self.autoencoder_max_train_rows:
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(n_rows, size=self.autoencoder_max_train_rows, replace=False))
            z = z[rows]
        with _isolated_random_state(), _single_threaded_torch():
            torch.manual_seed(self.random_state)
            autoencoder = AutoEncoder(
                hidden_neuron_list=list(self.autoencoder_hidden_neurons),
                epoch_num=self.autoencoder_epochs,
                # PyOD drops the last incomplete batch: a batch larger than the data trains nothing.
                batch_size=min(self.autoencoder_batch_size, z.shape[0]),
                lr=self.autoencoder_learning_rate,
                preprocessing=False,  # the detector's own scaling is the network's input space
                device="cpu",
                random_state=self.random_state,
                verbose=0,
            )
            autoencoder.fit(z.astype(np.float32))
        return autoencoder

    # -------------------------------------------------------------- scoring

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Combined anomaly score of each row; higher = more anomalous.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        ndarray of shape (n_samples,)
            ``sum_k w_k (s_k(x) - mean_k) / std_k``; 0 is the training average.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._combine(self._raw_component_scores(self._scale(X)))

    def _combine(self, raw: dict[str, np.ndarray]) -> np.ndarray:
        combined = np.zeros(next(iter(raw.values())).shape[0])
        for name, scores in raw.items():
            weight = self.component_weights_[name]
            combined += weight * (scores - self.component_means_[name]) / self.component_stds_[name]
        return combined

    def _raw_component_scores(self, z: np.ndarray) -> dict[str, np.ndarray]:
        raw = {name: np.empty(z.shape[0]) for name in self.component_weights_}
        for rows in _chunks(z.shape[0], _SCORING_CHUNK_ROWS):
            if self.forest_ is not None:
                raw[FOREST][rows] = -self._mean_path_length(z[rows])
            if self.autoencoder_ is not None:
                raw[AUTOENCODER][rows] = self._squared_errors(z[rows]).sum(axis=1)
            if self.tails_ is not None:
                raw[TAIL][rows] = self.tails_.terms(z[rows]).sum(axis=1)
        return raw

    def _mean_path_length(self, z: np.ndarray) -> np.ndarray:
        """``E[h(x)]``: depth of the leaf reached plus ``c(n_leaf)``, averaged over trees.

        The same leaf values SHAP's ``TreeExplainer`` attributes, and a monotone
        transform of ``IsolationForest.score_samples``
        (``score = -2 ** (-E[h] / c(max_samples))``).
        """
        z32 = np.ascontiguousarray(z, dtype=np.float32)

        def tree_path_lengths(tree, features) -> np.ndarray:
            # A tree grown on a subset of the columns (max_features < 1) sees only those.
            columns = z32 if tree.n_features_in_ == z32.shape[1] else z32[:, features]
            leaves = tree.apply(columns, check_input=False)
            structure = tree.tree_
            node_values = (structure.compute_node_depths() - 1) + average_path_length(
                structure.n_node_samples
            )
            return node_values[leaves]

        # Tree traversal releases the GIL: threads share z32 without copies.
        per_tree = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(tree_path_lengths)(tree, features)
            for tree, features in zip(
                self.forest_.estimators_, self.forest_.estimators_features_, strict=True
            )
        )
        return np.sum(per_tree, axis=0) / len(per_tree)

    def _squared_errors(self, z: np.ndarray) -> np.ndarray:
        """``(z_j - r_j)^2`` per row and column, ``r`` the network's reconstruction of ``z``.

        Evaluated in float64 on a copy of the trained network, in fixed row
        blocks, so a row's error does not depend on the rows scored with it
        beyond the last bits.
        """
        network = copy.deepcopy(self.autoencoder_.model).double().eval()
        errors = np.empty_like(z)
        with torch.no_grad(), _single_threaded_torch():
            for rows in _chunks(z.shape[0], _SCORING_CHUNK_ROWS):
                block = torch.from_numpy(np.ascontiguousarray(z[rows]))
                errors[rows] = ((block - network(block)) ** 2).numpy()
        return errors

    # ----------------------------------------------------------- explaining

    def explain(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        """Per-column contributions to the combined score.

        The forest's part is exact path-dependent TreeSHAP of ``-E[h(x)]``, the
        autoencoder's part the squared error of each column, the tails' part
        each column's tail term, each scaled as in the combined score.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features_in_)

        Returns
        -------
        contributions : ndarray of shape (n_samples, n_features_in_)
            Column ``j`` is the part of the score due to input column ``j``.
        base_value : float
            The score with no column's contribution;
            ``contributions.sum(axis=1) + base_value == decision_function(X)``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        z = self._scale(X)
        contributions = np.zeros_like(z)
        base_value = 0.0
        if self.forest_ is not None:
            factor = self.component_weights_[FOREST] / self.component_stds_[FOREST]
            shap_values, expected_path_length = self._forest_shap_values(z)
            # s_if = -E[h] = -(expected + sum of SHAP values)
            contributions -= factor * shap_values
            base_value += factor * (-expected_path_length - self.component_means_[FOREST])
        if self.autoencoder_ is not None:
            factor = self.component_weights_[AUTOENCODER] / self.component_stds_[AUTOENCODER]
            contributions += factor * self._squared_errors(z)
            base_value -= factor * self.component_means_[AUTOENCODER]
        if self.tails_ is not None:
            factor = self.component_weights_[TAIL] / self.component_stds_[TAIL]
            for rows in _chunks(z.shape[0], _SCORING_CHUNK_ROWS):
                contributions[rows] += factor * self.tails_.terms(z[rows])
            base_value -= factor * self.component_means_[TAIL]
        return contributions, float(base_value)

    def _forest_shap_values(self, z: np.ndarray) -> tuple[np.ndarray, float]:
        explainer = shap.TreeExplainer(self.forest_)
        expected = float(np.ravel(explainer.expected_value)[0])
        blocks = _chunks(z.shape[0], _EXPLAIN_CHUNK_ROWS)
        n_jobs = min(effective_n_jobs(self.n_jobs), len(blocks))
        if n_jobs == 1:
            return _tree_shap_values(explainer, z), expected
        # SHAP's tree code holds the GIL: parallel row blocks need processes.
        parts = Parallel(n_jobs=n_jobs)(
            delayed(_tree_shap_values)(explainer, z[rows]) for rows in blocks
        )
        return np.vstack(parts), expected


def make_detector(config: DetectorSettings | None = None, *, random_state: int = 0) -> CombinedDetector:
    """An unfitted :class:`CombinedDetector` set up from the detector settings.

    Parameters
    ----------
    config : DetectorSettings, optional
        The ``detector`` section of the settings; ``None`` = the defaults.
    random_state : int, default 0
        Seed of every random choice; the pipeline passes the run's ``seed``.

    Examples
    --------
    >>> make_detector().fit(np.random.default_rng(0).normal(size=(200, 3))).decision_scores_.shape
    (200,)
    """
    config = DetectorSettings() if config is None else config
    forest, autoencoder = config.isolation_forest, config.autoencoder
    return CombinedDetector(
        forest_n_estimators=forest.n_estimators,
        forest_max_samples=forest.max_samples,
        forest_max_features=forest.max_features,
        autoencoder_hidden_neurons=autoencoder.hidden_neurons,
        autoencoder_epochs=autoencoder.epochs,
        autoencoder_batch_size=autoencoder.batch_size,
        autoencoder_learning_rate=autoencoder.learning_rate,
        autoencoder_max_train_rows=autoencoder.max_train_rows,
        forest_weight=config.weights.get(FOREST, 0.0),
        autoencoder_weight=config.weights.get(AUTOENCODER, 0.0),
        tail_weight=config.weights.get(TAIL, 0.0),
        random_state=random_state,
    )
