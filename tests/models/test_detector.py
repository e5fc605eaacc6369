from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch
from pyod.models.ecod import ECOD
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from configs.settings import AutoencoderSettings, DetectorSettings, IsolationForestSettings
from models import CombinedDetector, make_detector
from models.components import (
    _EXPLAIN_CHUNK_ROWS,
    AUTOENCODER,
    COMPONENTS,
    FOREST,
    TAIL,
    EmpiricalTails,
    average_path_length,
)
from models.detector import INVALID_PARAMETER, DetectorParameterError

SMALL = {
    "tail_weight": 0.5,
    "forest_n_estimators": 25,
    "forest_max_samples": 64,
    "autoencoder_hidden_neurons": (8, 4),
    "autoencoder_epochs": 3,
    "autoencoder_batch_size": 32,
}


def small_detector(**changes: object) -> CombinedDetector:
    return CombinedDetector(**{**SMALL, **changes})


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    """400 ordinary rows, then 5 planted outliers far from them."""
    rng = np.random.default_rng(1)
    inliers = rng.normal(size=(400, 5))
    outliers = rng.normal(size=(5, 5)) + np.array([9.0, -9.0, 0.0, 9.0, 0.0])
    return np.vstack([inliers, outliers])


@pytest.fixture(scope="module")
def fitted(data: np.ndarray) -> CombinedDetector:
    return small_detector().fit(data)


def test_scores_have_one_value_per_row_and_rank_planted_outliers_first(
    data: np.ndarray, fitted: CombinedDetector
) -> None:
    scores = fitted.decision_function(data)
    assert scores.shape == (len(data),)
    assert fitted.decision_scores_.shape == (len(data),)
    assert set(np.argsort(-scores)[:5]) == set(range(400, 405))


def test_training_scores_equal_scores_of_the_training_rows(
    data: np.ndarray, fitted: CombinedDetector
) -> None:
    np.testing.assert_array_equal(fitted.decision_scores_, fitted.decision_function(data))


def test_training_scores_are_standardised_per_component(fitted: CombinedDetector) -> None:
    # each component contributes w * (s - mean) / std: mean 0 over the training rows
    assert abs(fitted.decision_scores_.mean()) < 1e-9


def test_two_fits_with_the_same_seed_give_bit_identical_scores(data: np.ndarray) -> None:
    first = small_detector(random_state=3).fit(data).decision_scores_
    second = small_detector(random_state=3).fit(data).decision_scores_
    other_seed = small_detector(random_state=4).fit(data).decision_scores_
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other_seed)


def test_fit_leaves_global_random_state_alone(data: np.ndarray) -> None:
    random.seed(11)
    np.random.seed(11)
    torch.manual_seed(11)
    expected = (random.random(), np.random.random(), torch.rand(1).item())
    random.seed(11)
    np.random.seed(11)
    torch.manual_seed(11)
    small_detector().fit(data)
    assert (random.random(), np.random.random(), torch.rand(1).item()) == expected


def test_explanations_add_up_to_the_score(data: np.ndarray, fitted: CombinedDetector) -> None:
    contributions, base_value = fitted.explain(data)
    assert contributions.shape == data.shape
    assert isinstance(base_value, float)
    np.testing.assert_allclose(
        contributions.sum(axis=1) + base_value, fitted.decision_function(data), rtol=0, atol=1e-6
    )


def test_explanations_point_at_the_columns_that_make_a_row_unusual(
    data: np.ndarray, fitted: CombinedDetector
) -> None:
    contributions, _ = fitted.explain(data[400:])
    # planted outliers are shifted in columns 0, 1 and 3 only
    assert set(np.argsort(-contributions, axis=1)[:, :3].ravel()) == {0, 1, 3}


@pytest.mark.slow  # starts worker processes
def test_explanations_in_parallel_blocks_add_up_too() -> None:
    X = np.random.default_rng(2).normal(size=(_EXPLAIN_CHUNK_ROWS + 1, 3))
    detector = small_detector(forest_n_estimators=5, autoencoder_weight=0.0, n_jobs=2).fit(X)
    contributions, base_value = detector.explain(X)
    np.testing.assert_allclose(
        contributions.sum(axis=1) + base_value, detector.decision_scores_, rtol=0, atol=1e-6
    )


@pytest.mark.parametrize("kind", list(COMPONENTS))
def test_each_component_splits_its_score_into_one_exact_term_per_column(
    data: np.ndarray, fitted: CombinedDetector, kind: str
) -> None:
    component, z = fitted.components_[kind], fitted._scale(data)
    terms, base = component.score_terms(z)
    assert terms.shape == z.shape and isinstance(base, float)
    np.testing.assert_allclose(terms.sum(axis=1) + base, component.score(z), rtol=0, atol=1e-6)


@pytest.mark.parametrize("kind", list(COMPONENTS))
def test_a_saved_component_loads_back_with_the_same_scores_and_terms(
    data: np.ndarray, fitted: CombinedDetector, kind: str, tmp_path
) -> None:
    component, z = fitted.components_[kind], fitted._scale(data)
    loaded = COMPONENTS[kind].load(component.save(tmp_path / kind))
    assert type(loaded) is type(component) and loaded.get_params() == component.get_params()
    np.testing.assert_array_equal(loaded.score(z), component.score(z))
    for ours, theirs in zip(loaded.score_terms(z), component.score_terms(z), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_the_combined_detector_loops_over_its_components_in_order(fitted: CombinedDetector) -> None:
    assert list(fitted.components_) == list(COMPONENTS) == list(fitted.component_weights_)
    assert all(component.kind == kind for kind, component in fitted.components_.items())


ALONE = {
    "forest": {"autoencoder_weight": 0.0, "tail_weight": 0.0},
    "autoencoder": {"forest_weight": 0.0, "tail_weight": 0.0},
    "tail": {"forest_weight": 0.0, "autoencoder_weight": 0.0},
}


@pytest.mark.parametrize("weights", ALONE.values(), ids=ALONE.keys())
def test_one_component_alone_is_fitted_and_explained_alone(
    data: np.ndarray, weights: dict[str, float]
) -> None:
    detector = small_detector(**weights).fit(data)
    assert (FOREST in detector.components_) == (weights.get("forest_weight") != 0.0)
    assert (AUTOENCODER in detector.components_) == (weights.get("autoencoder_weight") != 0.0)
    assert (TAIL in detector.components_) == (weights.get("tail_weight") != 0.0)
    contributions, base_value = detector.explain(data)
    np.testing.assert_allclose(
        contributions.sum(axis=1) + base_value, detector.decision_scores_, rtol=0, atol=1e-6
    )


def test_forest_score_is_minus_the_mean_path_length_of_sklearn(data: np.ndarray) -> None:
    detector = small_detector(autoencoder_weight=0.0).fit(data)
    component, z = detector.components_[FOREST], detector._scale(data)
    forest, mean_path_length = component.forest_, component.mean_path_length(z)
    # scikit-learn: score_samples = -2 ** (-E[h(x)] / c(max_samples))
    expected = -(2.0 ** (-mean_path_length / average_path_length(forest.max_samples_)))
    np.testing.assert_allclose(forest.score_samples(z.astype(np.float32)), expected, rtol=1e-12)


def test_average_path_length_follows_the_isolation_forest_paper() -> None:
    n = np.array([0, 1, 2, 3, 256])
    harmonic = np.log(n[2:] - 1.0) + np.euler_gamma
    expected = np.r_[0.0, 0.0, 1.0, (2 * harmonic - 2 * (n[2:] - 1) / n[2:])[1:]]
    np.testing.assert_allclose(average_path_length(n), expected)


def test_works_on_small_integer_matrices() -> None:
    X = np.random.default_rng(3).integers(0, 5, size=(60, 2))
    X[-1] = [40, 0]
    detector = small_detector().fit(X)
    scores = detector.decision_function(X)
    assert np.isfinite(scores).all() and np.argmax(scores) == 59
    contributions, base_value = detector.explain(X)
    np.testing.assert_allclose(contributions.sum(axis=1) + base_value, scores, atol=1e-6)


def test_works_on_one_column_with_a_constant() -> None:
    X = np.c_[np.arange(50.0), np.ones(50)]
    detector = small_detector().fit(X[:, :1])
    assert detector.decision_function(X[:, :1]).shape == (50,)
    assert np.isfinite(small_detector().fit(X).decision_scores_).all()


def test_scoring_before_fitting_is_refused(data: np.ndarray) -> None:
    with pytest.raises(NotFittedError):
        small_detector().decision_function(data)
    with pytest.raises(NotFittedError):
        small_detector().explain(data)


def test_scoring_a_matrix_with_other_columns_is_refused(
    data: np.ndarray, fitted: CombinedDetector
) -> None:
    with pytest.raises(ValueError, match="features"):
        fitted.decision_function(data[:, :3])


def test_missing_values_are_refused(data: np.ndarray) -> None:
    with_nan = data.copy()
    with_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        small_detector().fit(with_nan)


@pytest.mark.parametrize(
    ("weights", "name"),
    [
        ({"forest_weight": 0.0, "autoencoder_weight": 0.0, "tail_weight": 0.0}, "weights"),
        ({"tail_weight": np.inf}, "tail weight"),
        ({"forest_weight": -1.0}, "isolation_forest weight"),
    ],
)
def test_unusable_weights_are_refused(data: np.ndarray, weights: dict, name: str) -> None:
    message = INVALID_PARAMETER.format(name=name, problem="")
    with pytest.raises(DetectorParameterError, match=message):
        small_detector(**weights).fit(data)


def test_clone_gives_an_unfitted_copy_with_the_same_parameters(fitted: CombinedDetector) -> None:
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "decision_scores_")


def test_make_detector_takes_its_parameters_from_the_settings() -> None:
    settings = DetectorSettings(
        isolation_forest=IsolationForestSettings(n_estimators=7, max_samples=32),
        autoencoder=AutoencoderSettings(hidden_neurons=(6, 3), epochs=2, max_train_rows=500),
        weights={"isolation_forest": 0.25, "tail": 0.5},
    )
    params = make_detector(settings, random_state=5).get_params()
    assert params["forest_n_estimators"] == 7
    assert params["forest_max_samples"] == 32
    assert params["autoencoder_hidden_neurons"] == (6, 3)
    assert params["autoencoder_max_train_rows"] == 500
    assert params["forest_weight"] == 0.25
    assert params["autoencoder_weight"] == 0.0
    assert params["tail_weight"] == 0.5
    assert params["random_state"] == 5
    assert make_detector().get_params() == CombinedDetector().get_params()


def test_the_autoencoder_trains_on_at_most_max_train_rows(data: np.ndarray) -> None:
    detector = small_detector(autoencoder_max_train_rows=100).fit(data)
    assert detector.components_[AUTOENCODER].autoencoder_.data_num == 100
    assert detector.decision_scores_.shape == (len(data),)


def test_a_pickled_detector_scores_the_same(data: np.ndarray, fitted: CombinedDetector) -> None:
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.decision_function(data), fitted.decision_scores_)


def exact_tail_terms(train: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``-log`` of the smoothed shares ``<= x`` and ``>= x`` per column, counted directly."""
    n = len(train)
    at_most = (train[None, :, :] <= X[:, None, :]).sum(axis=1)
    at_least = (train[None, :, :] >= X[:, None, :]).sum(axis=1)
    return -np.log((at_most + 1) / (n + 1)), -np.log((at_least + 1) / (n + 1))


@pytest.fixture(scope="module")
def zero_inflated() -> np.ndarray:
    """A normal column, a mostly-zero left-skewed column, a small-integer column, a constant."""
    rng = np.random.default_rng(5)
    n = 300
    mostly_zero = np.where(rng.random(n) < 0.7, 0.0, -rng.exponential(size=n))
    return np.c_[rng.normal(size=n), mostly_zero, rng.integers(0, 4, n), np.ones(n)]


def test_tail_terms_follow_ecod_with_ties_counted_exactly(zero_inflated: np.ndarray) -> None:
    queries = np.vstack([zero_inflated, zero_inflated + 0.37, -3 * zero_inflated])
    tails = EmpiricalTails.fit(zero_inflated, max_knots=10_000)
    left, right = exact_tail_terms(zero_inflated, queries)
    np.testing.assert_allclose(tails.terms(queries), np.maximum(left, right), rtol=0, atol=1e-9)


def test_tail_terms_match_pyod_ecod_on_continuous_columns() -> None:
    X = np.random.default_rng(6).normal(size=(500, 3))
    # both sum -log(smaller tail share) over the columns; PyOD does not smooth the shares
    ecod_scores = ECOD().fit(X).decision_scores_
    ours = EmpiricalTails.fit(X, max_knots=10_000).terms(X).sum(axis=1)
    assert np.corrcoef(ours, ecod_scores)[0, 1] > 0.999


def test_tail_knots_keep_point_masses_and_extremes_exact(zero_inflated: np.ndarray) -> None:
    tails = EmpiricalTails.fit(zero_inflated, max_knots=40)
    assert all(len(knots) <= 40 for knots in tails.knots)
    on_knots = np.array([0.0, zero_inflated[:, 1].min(), zero_inflated[:, 1].max()])
    queries = np.zeros((3, 4))
    queries[:, 1] = on_knots
    exact_left, exact_right = exact_tail_terms(zero_inflated, queries)
    np.testing.assert_allclose(
        tails.terms(queries)[:, 1], np.maximum(exact_left, exact_right)[:, 1], rtol=0, atol=1e-12
    )


def test_tail_scores_are_finite_beyond_the_training_range(fitted: CombinedDetector) -> None:
    far = np.full((2, fitted.n_features_in_), 1e6) * np.array([[1.0], [-1.0]])
    terms = fitted.components_[TAIL].tails_.terms(fitted._scale(far))
    assert np.isfinite(terms).all() and (terms >= 0).all()
    assert fitted.decision_function(far).min() > fitted.decision_scores_.max()
