"""The detector's components: each fits on the scaled input and splits its score into one term per column.

Every component has the same interface, so :class:`models.detector.CombinedDetector`
loops over them and :mod:`models.storage` saves whatever components it is given:

* :meth:`Component.fit` on the detector's scaled copy ``z`` of the input;
* :meth:`Component.score`, the raw score of each row;
* :meth:`Component.score_terms`, one exact term per row and column and a constant,
  adding up to the score;
* :meth:`Component.save` into a directory of its own, and :meth:`Component.load` back,
  without pickle.

The components (:data:`COMPONENTS`, by :attr:`Component.kind`):

* isolation forest: ``s_if(x) = -E[h(x)]``, minus the mean path length over the
  trees (the quantity SHAP's ``TreeExplainer`` explains for an isolation forest);
* autoencoder: ``s_ae(x) = sum_j (z_j - r_j)^2``, the squared reconstruction
  error of the scaled row ``z`` summed over columns;
* empirical tails (ECOD, Li et al. 2022): ``s_tail(x) = sum_j -log p_j(x_j)``,
  ``p_j`` the smaller of the training shares ``<= x_j`` and ``>= x_j``.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import shap
import skops.io
import torch
from joblib import Parallel, delayed, effective_n_jobs
from pyod.models.auto_encoder import AutoEncoder, AutoEncoderModel
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest

FOREST = "isolation_forest"
AUTOENCODER = "autoencoder"
TAIL = "tail"

SCORING_CHUNK_ROWS = 65_536
"""Rows scored at once: bounds memory, and fixes the row blocks the network sees."""
_EXPLAIN_CHUNK_ROWS = 100_000
"""Rows per parallel SHAP task; up to this many rows are explained in this process, as
starting worker processes (each imports the detector's modules) costs about 4 s, the time
to explain some 50 000 rows of claims features here."""
TAIL_MAX_KNOTS = 2048
"""Knots of each column's empirical distribution: bounds the fitted size at any row count."""

PARAMS_FILE = "params.json"
FOREST_FILE = "forest.skops"
NETWORK_WEIGHTS_FILE = "autoencoder.pt"
NETWORK_FILE = "network.json"
TAILS_FILE = "tails.npz"

TRUSTED_SKOPS_TYPES = ["sklearn.tree._tree.Tree"]
"""The one type skops asks to be trusted for an isolation forest: scikit-learn's tree node storage.
Its file's sha256 is checked (with every file of a registered model) before it is read."""

AUTOENCODER_ARCHITECTURE = ("feature_size", "hidden_neuron_list", "hidden_activation_name", "batch_norm",
                            "dropout_rate")
"""What rebuilds PyOD's autoencoder network around its saved weights."""


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


def row_chunks(n_rows: int, size: int) -> list[slice]:
    """Consecutive row slices of at most ``size`` rows covering ``0 .. n_rows - 1``."""
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

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The knots and counts as named arrays, three per column (for ``numpy.savez``).

        Examples
        --------
        >>> sorted(EmpiricalTails.fit(np.zeros((3, 1)), max_knots=4).arrays("tails"))
        ['tails_at_most_0', 'tails_below_0', 'tails_knots_0']
        """
        named = {}
        for column, (knots, at_most, below) in enumerate(zip(self.knots, self.counts_at_most,
                                                             self.counts_below, strict=True)):
            named |= {f"{prefix}_knots_{column}": knots, f"{prefix}_at_most_{column}": at_most,
                      f"{prefix}_below_{column}": below}
        return named

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str, n_columns: int,
                    n_rows: int) -> EmpiricalTails:
        """The tails that :meth:`arrays` named under ``prefix``."""
        columns = range(n_columns)
        return cls(tuple(arrays[f"{prefix}_knots_{column}"] for column in columns),
                   tuple(arrays[f"{prefix}_at_most_{column}"] for column in columns),
                   tuple(arrays[f"{prefix}_below_{column}"] for column in columns),
                   n_rows)

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


class Component(BaseEstimator):
    """What every component of the combined detector does; a subclass sets :attr:`kind`.

    Parameters are scikit-learn estimator parameters (stored unchanged, fitted
    attributes end in ``_``). A component sees the detector's scaled input ``z``
    (rows x columns, float64), already validated.
    """

    kind: ClassVar[str]
    """The component's name: in the detector's weights, the settings and the saved manifest."""

    def fit(self, z: np.ndarray) -> Component:
        """Fit on the scaled training rows; returns ``self``."""
        raise NotImplementedError

    def score(self, z: np.ndarray) -> np.ndarray:
        """Raw score of each row, higher = more anomalous: ``score_terms`` added up, computed directly."""
        raise NotImplementedError

    def score_terms(self, z: np.ndarray) -> tuple[np.ndarray, float]:
        """One exact term per row and column, and a constant.

        Returns
        -------
        terms : ndarray of shape (n_samples, n_features)
        base : float
            ``terms.sum(axis=1) + base`` equals :meth:`score` (to rounding).
        """
        raise NotImplementedError

    def save(self, directory: Path) -> Path:
        """Write the parameters (``params.json``) and fitted state to ``directory``, without pickle."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / PARAMS_FILE).write_text(json.dumps(self.get_params(), indent=2, sort_keys=True),
                                             encoding="utf-8")
        self._save_fitted(directory)
        return directory

    @classmethod
    def load(cls, directory: Path) -> Component:
        """The component that :meth:`save` wrote to ``directory``."""
        params = json.loads((directory / PARAMS_FILE).read_text(encoding="utf-8"))
        # JSON has no tuples: a sequence parameter comes back as the tuple it was given as
        component = cls(**{name: tuple(value) if isinstance(value, list) else value
                           for name, value in params.items()})
        component._load_fitted(directory)
        return component

    def _save_fitted(self, directory: Path) -> None:
        raise NotImplementedError

    def _load_fitted(self, directory: Path) -> None:
        raise NotImplementedError


class ForestComponent(Component):
    """Isolation forest: ``-E[h(x)]``, explained by exact path-dependent TreeSHAP.

    Parameters
    ----------
    n_estimators, max_samples, max_features
        Trees, training rows drawn for each tree (capped at the number of rows),
        share of columns each tree sees.
    random_state
        Seed of the row draws and the trees.
    n_jobs
        Threads scoring the trees and processes explaining rows beyond 100 000
        (joblib convention). Results do not depend on it.

    Attributes
    ----------
    forest_ : IsolationForest
    """

    kind = FOREST

    def __init__(self, *, n_estimators: int = 100, max_samples: int = 64, max_features: float = 1.0,
                 random_state: int = 0, n_jobs: int | None = -1) -> None:
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, z: np.ndarray) -> ForestComponent:
        forest = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, z.shape[0]),
            max_features=self.max_features,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        self.forest_ = forest.fit(z.astype(np.float32))
        return self

    def score(self, z: np.ndarray) -> np.ndarray:
        return -self.mean_path_length(z)

    def mean_path_length(self, z: np.ndarray) -> np.ndarray:
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
            for tree, features in zip(self.forest_.estimators_, self.forest_.estimators_features_, strict=True)
        )
        return np.sum(per_tree, axis=0) / len(per_tree)

    def score_terms(self, z: np.ndarray) -> tuple[np.ndarray, float]:
        """Minus the TreeSHAP values of ``E[h(x)]``, and minus their expected value."""
        explainer = shap.TreeExplainer(self.forest_)
        expected = float(np.ravel(explainer.expected_value)[0])
        blocks = row_chunks(z.shape[0], _EXPLAIN_CHUNK_ROWS)
        n_jobs = min(effective_n_jobs(self.n_jobs), len(blocks))
        if n_jobs == 1:
            shap_values = _tree_shap_values(explainer, z)
        else:
            # SHAP's tree code holds the GIL: parallel row blocks need processes.
            shap_values = np.vstack(Parallel(n_jobs=n_jobs)(
                delayed(_tree_shap_values)(explainer, z[rows]) for rows in blocks
            ))
        # s_if = -E[h] = -(expected + sum of SHAP values)
        return -shap_values, -expected

    def _save_fitted(self, directory: Path) -> None:
        skops.io.dump(self.forest_, directory / FOREST_FILE)

    def _load_fitted(self, directory: Path) -> None:
        self.forest_ = skops.io.load(directory / FOREST_FILE, trusted=TRUSTED_SKOPS_TYPES)


class AutoencoderComponent(Component):
    """Autoencoder: the squared reconstruction error of each scaled column.

    Parameters
    ----------
    hidden_neurons
        Widths of the encoder's hidden layers; the decoder mirrors them
        (PyOD's ``hidden_neuron_list``: ``(16, 8)`` builds ``d-16-8-16-d``).
    epochs, batch_size, learning_rate
        Training of the network (Adam, PyOD's defaults otherwise).
    max_train_rows
        Rows sampled (without replacement) to train the network; scoring always
        uses every row.
    random_state
        Seed of the row sample, the network weights and the batch order.

    Attributes
    ----------
    autoencoder_ : pyod.models.auto_encoder.AutoEncoder
    """

    kind = AUTOENCODER

    def __init__(self, *, hidden_neurons: Sequence[int] = (32, 16, 32), epochs: int = 10, batch_size: int = 256,
                 learning_rate: float = 1e-3, max_train_rows: int = 100_000, random_state: int = 0) -> None:
        self.hidden_neurons = hidden_neurons
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_train_rows = max_train_rows
        self.random_state = random_state

    def fit(self, z: np.ndarray) -> AutoencoderComponent:
        n_rows = z.shape[0]
        if n_rows > self.max_train_rows:
            rng = np.random.default_rng(self.random_state)
            rows = np.sort(rng.choice(n_rows, size=self.max_train_rows, replace=False))
            z = z[rows]
        with _isolated_random_state(), _single_threaded_torch():
            torch.manual_seed(self.random_state)
            autoencoder = AutoEncoder(
                hidden_neuron_list=list(self.hidden_neurons),
                epoch_num=self.epochs,
                # PyOD drops the last incomplete batch: a batch larger than the data trains nothing.
                batch_size=min(self.batch_size, z.shape[0]),
                lr=self.learning_rate,
                preprocessing=False,  # the detector's own scaling is the network's input space
                device="cpu",
                random_state=self.random_state,
                verbose=0,
            )
            autoencoder.fit(z.astype(np.float32))
        self.autoencoder_ = autoencoder
        return self

    def score(self, z: np.ndarray) -> np.ndarray:
        return self.squared_errors(z).sum(axis=1)

    def score_terms(self, z: np.ndarray) -> tuple[np.ndarray, float]:
        return self.squared_errors(z), 0.0

    def squared_errors(self, z: np.ndarray) -> np.ndarray:
        """``(z_j - r_j)^2`` per row and column, ``r`` the network's reconstruction of ``z``.

        Evaluated in float64 on a copy of the trained network, in fixed row
        blocks, so a row's error does not depend on the rows scored with it
        beyond the last bits.
        """
        network = copy.deepcopy(self.autoencoder_.model).double().eval()
        errors = np.empty_like(z)
        with torch.no_grad(), _single_threaded_torch():
            for rows in row_chunks(z.shape[0], SCORING_CHUNK_ROWS):
                block = torch.from_numpy(np.ascontiguousarray(z[rows]))
                errors[rows] = ((block - network(block)) ** 2).numpy()
        return errors

    def _save_fitted(self, directory: Path) -> None:
        architecture = {name: getattr(self.autoencoder_, name) for name in AUTOENCODER_ARCHITECTURE}
        (directory / NETWORK_FILE).write_text(json.dumps(architecture, indent=2, sort_keys=True), encoding="utf-8")
        torch.save(self.autoencoder_.model.state_dict(), directory / NETWORK_WEIGHTS_FILE)

    def _load_fitted(self, directory: Path) -> None:
        architecture = json.loads((directory / NETWORK_FILE).read_text(encoding="utf-8"))
        self.autoencoder_ = trained_autoencoder(architecture, directory / NETWORK_WEIGHTS_FILE)


def trained_autoencoder(architecture: Mapping[str, Any], weights: Path) -> AutoEncoder:
    """PyOD's estimator around a network of ``architecture`` with the weights saved at ``weights``,
    as fitting leaves it (scoring reads ``.model``); torch reads the weights with ``weights_only=True``."""
    network = AutoEncoderModel(**architecture)
    network.load_state_dict(torch.load(weights, weights_only=True))
    autoencoder = AutoEncoder(**{name: value for name, value in architecture.items() if name != "feature_size"},
                              preprocessing=False, device="cpu", verbose=0)
    autoencoder.feature_size, autoencoder.model = architecture["feature_size"], network.eval()
    return autoencoder


class TailComponent(Component):
    """Empirical tails: each column's ECOD tail term (:meth:`EmpiricalTails.terms`).

    Parameters
    ----------
    max_knots
        Knots of each column's training distribution: bounds the fitted size at any row count.

    Attributes
    ----------
    tails_ : EmpiricalTails
    """

    kind = TAIL

    def __init__(self, *, max_knots: int = TAIL_MAX_KNOTS) -> None:
        self.max_knots = max_knots

    def fit(self, z: np.ndarray) -> TailComponent:
        self.tails_ = EmpiricalTails.fit(z, self.max_knots)
        return self

    def score(self, z: np.ndarray) -> np.ndarray:
        return self.tails_.terms(z).sum(axis=1)

    def score_terms(self, z: np.ndarray) -> tuple[np.ndarray, float]:
        terms = np.empty_like(z)
        for rows in row_chunks(z.shape[0], SCORING_CHUNK_ROWS):
            terms[rows] = self.tails_.terms(z[rows])
        return terms, 0.0

    def _save_fitted(self, directory: Path) -> None:
        np.savez(directory / TAILS_FILE, n_rows=np.int64(self.tails_.n_rows), **self.tails_.arrays("tails"))

    def _load_fitted(self, directory: Path) -> None:
        with np.load(directory / TAILS_FILE, allow_pickle=False) as npz:
            arrays = dict(npz)
        n_rows = int(arrays.pop("n_rows"))
        self.tails_ = EmpiricalTails.from_arrays(arrays, "tails", len(arrays) // 3, n_rows)


COMPONENTS: dict[str, type[Component]] = {kind.kind: kind for kind in (ForestComponent, AutoencoderComponent,
                                                                      TailComponent)}
"""Every component class by its kind, in the order the detector combines them."""
