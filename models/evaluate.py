"""How well a score ranks known fraud: pure metric functions on plain arrays and frames.

Investigators review the top of the ranking up to their capacity, so the
metrics that matter are read at that capacity: precision (how many reviewed
leads were fraud), recall (how much of the known fraud was reached) and
recall per typology (which kinds of fraud the model misses). Average
precision summarises the whole ranking.

Labels come from one of two sources, with different meanings:

- a synthetic world's truth file labels every subject, so the figures are
  population figures;
- ``investigation_outcomes`` label only the subjects older methods chose to
  investigate, a small and biased sample: figures computed on them describe
  that sample only, and are reported with its size.

Every ranking here flags the top subjects by score, ties broken by
``subject_ref``, so the same scores always flag the same subjects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from configs.settings import CapacitySettings

TRUTH = "truth"
OUTCOMES = "investigation_outcomes"

SUBJECT_TABLES = {"benefit_claim": "benefit_claims", "housing_claim": "housing_claims"}
"""The table each subject type comes from, as the truth file names it."""

CAPACITY_ERROR = "capacity must be a whole number of subjects >= 1 or a share in (0, 1], got {value!r}"
LENGTH_ERROR = "scores, labels and subject_ref must have the same length, got {lengths}"
MISSING_COLUMNS_ERROR = "{table} is missing column(s) {columns}"


class EvaluationError(ValueError):
    """Inputs to an evaluation do not fit together."""


def flag_count(n_subjects: int, capacity: int | float) -> int:
    """How many of ``n_subjects`` a capacity flags.

    Parameters
    ----------
    n_subjects : int
        Subjects scored in the run.
    capacity : int or float
        An ``int`` is a number of subjects; a ``float`` in (0, 1] is a share of them,
        rounded up so that a non-empty run always flags at least one subject.

    Returns
    -------
    int
        Between 0 and ``n_subjects``.

    Examples
    --------
    >>> flag_count(1000, 25), flag_count(1000, 0.02), flag_count(10, 50), flag_count(7, 0.1)
    (25, 20, 10, 1)
    """
    if isinstance(capacity, bool) or not isinstance(capacity, int | float):
        raise EvaluationError(CAPACITY_ERROR.format(value=capacity))
    if isinstance(capacity, int):
        if capacity < 1:
            raise EvaluationError(CAPACITY_ERROR.format(value=capacity))
        return min(capacity, n_subjects)
    if not 0 < capacity <= 1:
        raise EvaluationError(CAPACITY_ERROR.format(value=capacity))
    # rounded first so that float noise (0.07 * 100 = 7.000000000000001) does not add a subject
    return min(math.ceil(round(capacity * n_subjects, 9)), n_subjects)


def configured_capacity(capacity: CapacitySettings) -> int | float:
    """The capacity the settings ask for: ``absolute`` subjects when set, else ``share``."""
    return capacity.absolute if capacity.absolute is not None else capacity.share


def ranking_order(scores: Sequence[float] | np.ndarray, subject_refs: Sequence[str]) -> np.ndarray:
    """Positions of the subjects from most to least anomalous.

    Higher score first; equal scores in ascending ``subject_ref`` order, so the
    order never depends on the order of the input rows.

    Examples
    --------
    >>> ranking_order([0.5, 0.9, 0.5], ["c", "a", "b"]).tolist()
    [1, 2, 0]
    """
    scores = np.asarray(scores, dtype=np.float64)
    refs = np.asarray(subject_refs, dtype=object).astype(str)
    _check_lengths(scores=scores, subject_ref=refs)
    # np.lexsort sorts by the last key first
    return np.lexsort((refs, -scores))


def flagged_mask(
    scores: Sequence[float] | np.ndarray, subject_refs: Sequence[str], capacity: int | float
) -> np.ndarray:
    """Boolean mask of the subjects inside the capacity, in input order."""
    order = ranking_order(scores, subject_refs)
    mask = np.zeros(len(order), dtype=bool)
    mask[order[: flag_count(len(order), capacity)]] = True
    return mask


def average_precision(labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Average precision of ``scores`` ranking the ``True`` labels first; NaN without positives."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    _check_lengths(scores=scores, labels=labels)
    if not labels.any():
        return float("nan")
    return float(average_precision_score(labels, scores))


def precision_recall_at_capacity(
    labels: Sequence[bool] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    subject_refs: Sequence[str],
    capacity: int | float,
) -> tuple[float, float]:
    """Precision and recall of flagging the top ``capacity`` subjects.

    Precision is NaN when nothing is flagged, recall NaN when there is no positive.
    """
    labels = np.asarray(labels, dtype=bool)
    flagged = flagged_mask(scores, subject_refs, capacity)
    _check_lengths(labels=labels, flagged=flagged)
    return _precision_recall(labels, flagged)


def recall_by_typology(
    typologies: Sequence[str],
    scores: Sequence[float] | np.ndarray,
    subject_refs: Sequence[str],
    capacity: int | float,
) -> pd.DataFrame:
    """Share of each typology's frauds flagged at ``capacity``.

    Parameters
    ----------
    typologies : sequence of str
        The fraud typology of each subject; ``""`` or null for no fraud.

    Returns
    -------
    DataFrame
        One row per typology, sorted by name: ``typology``, ``n`` (frauds of that
        typology), ``flagged`` (of them inside the capacity), ``recall``.
    """
    typology = pd.Series(typologies, dtype=object).fillna("").astype(str).to_numpy()
    flagged = flagged_mask(scores, subject_refs, capacity)
    _check_lengths(typology=typology, flagged=flagged)
    return _typology_recall(typology, flagged)


def labels_from_truth(subjects: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Label every subject from a synthetic world's truth file.

    Parameters
    ----------
    subjects : DataFrame
        ``subject_ref`` and ``subject_type`` (benefit_claim / housing_claim) of the scored subjects.
    truth : DataFrame
        As read by ``synthetic.truth.read_truth``: ``table``, ``record_ref``, ``person_id``, ``typology``.

    Returns
    -------
    DataFrame
        ``subject_ref``, ``fraud`` (bool), ``typology`` (``""`` for none), one row per subject,
        in the order of ``subjects``. A subject the truth file does not list counts as no fraud.
    """
    _require(subjects, "subjects", ("subject_ref", "subject_type"))
    _require(truth, "truth", ("table", "record_ref", "typology"))
    keys = pd.DataFrame({
        "subject_ref": subjects["subject_ref"].astype(str).to_numpy(),
        "table": subjects["subject_type"].astype(str).map(SUBJECT_TABLES).to_numpy(),
    })
    known = pd.DataFrame({
        "table": truth["table"].astype(str).to_numpy(),
        "subject_ref": truth["record_ref"].astype(str).to_numpy(),
        "typology": truth["typology"].astype(object).fillna("").astype(str).to_numpy(),
    }).drop_duplicates(["table", "subject_ref"])
    labelled = keys.merge(known, on=["table", "subject_ref"], how="left", validate="many_to_one")
    typology = labelled["typology"].astype(object).fillna("").astype(str)
    return pd.DataFrame({
        "subject_ref": labelled["subject_ref"].astype(object).to_numpy(),
        "fraud": (typology != "").to_numpy(),
        "typology": typology.astype(object).to_numpy(),
    })


def labels_from_outcomes(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Label the investigated subjects from ``investigation_outcomes``.

    Only subjects with a closed investigation get a label (outcome ``fraud`` =
    fraud; ``error`` and ``no_issue`` = not fraud). When a subject was
    investigated more than once, its latest outcome counts.

    Returns
    -------
    DataFrame
        ``subject_ref``, ``fraud`` (bool), ``typology`` (``""`` unless fraud), sorted by ``subject_ref``.
    """
    _require(outcomes, "investigation_outcomes", ("subject_ref", "outcome", "closed_on"))
    typology = (
        outcomes["typology"] if "typology" in outcomes.columns
        else pd.Series("", index=outcomes.index)
    )
    frame = pd.DataFrame({
        "subject_ref": outcomes["subject_ref"].astype(str).to_numpy(),
        "closed_on": pd.to_datetime(outcomes["closed_on"]).to_numpy(),
        "fraud": (outcomes["outcome"].astype(str) == "fraud").to_numpy(),
        "typology": typology.astype(object).fillna("").astype(str).to_numpy(),
    })
    latest = (
        frame.sort_values(["subject_ref", "closed_on", "fraud", "typology"], kind="stable")
        .drop_duplicates("subject_ref", keep="last")
    )
    return pd.DataFrame({
        "subject_ref": latest["subject_ref"].astype(object).to_numpy(),
        "fraud": latest["fraud"].to_numpy(),
        "typology": np.where(latest["fraud"], latest["typology"], "").astype(object),
    })


@dataclass(frozen=True)
class Evaluation:
    """How one score ranks the subjects of one label source.

    Attributes
    ----------
    source : str
        ``truth`` or ``investigation_outcomes``.
    biased_sample : bool
        True when the labels cover only a non-random sample of the subjects
        (investigation outcomes): the figures describe that sample only.
    n_subjects, n_labelled, n_fraud, n_flagged : int
        Subjects scored; of them labelled; labelled fraud; flagged at capacity (of all scored).
    n_labelled_flagged : int
        Labelled subjects inside the capacity: the base of ``precision_at_capacity``.
    average_precision : float
        Over the labelled subjects only.
    precision_at_capacity, recall_at_capacity : float
        Among the labelled subjects, with the capacity applied to all scored subjects.
    by_typology : DataFrame
        ``recall_by_typology`` of the labelled frauds.
    """

    source: str
    biased_sample: bool
    n_subjects: int
    n_labelled: int
    n_fraud: int
    n_flagged: int
    n_labelled_flagged: int
    average_precision: float
    precision_at_capacity: float
    recall_at_capacity: float
    by_typology: pd.DataFrame

    def metrics(self) -> dict[str, float]:
        """Flat ``{name: value}`` of every figure, prefixed with the source (for MLflow)."""
        figures = {
            "n_subjects": self.n_subjects,
            "n_labelled": self.n_labelled,
            "n_fraud": self.n_fraud,
            "n_flagged": self.n_flagged,
            "n_labelled_flagged": self.n_labelled_flagged,
            "average_precision": self.average_precision,
            "precision_at_capacity": self.precision_at_capacity,
            "recall_at_capacity": self.recall_at_capacity,
        }
        for row in self.by_typology.itertuples(index=False):
            figures[f"recall_at_capacity.{row.typology}"] = row.recall
        return {f"{self.source}.{name}": float(value) for name, value in figures.items()}


def evaluate_scores(
    scored: pd.DataFrame, labels: pd.DataFrame, capacity: int | float, source: str
) -> Evaluation:
    """Evaluate a ranking of all scored subjects against the labelled ones.

    Parameters
    ----------
    scored : DataFrame
        ``subject_ref`` and ``score`` of every scored subject.
    labels : DataFrame
        ``subject_ref``, ``fraud``, ``typology`` (``labels_from_truth`` or ``labels_from_outcomes``);
        labels of subjects that were not scored are ignored.
    capacity : int or float
        As in ``flag_count``; applied to all scored subjects, as in a scoring run.
    source : str
        ``TRUTH`` or ``OUTCOMES``; outcomes are marked as a biased sample.
    """
    _require(scored, "scored", ("subject_ref", "score"))
    _require(labels, "labels", ("subject_ref", "fraud", "typology"))
    refs = scored["subject_ref"].astype(str).to_numpy()
    scores = scored["score"].astype(np.float64).to_numpy()
    flagged = flagged_mask(scores, refs, capacity)
    ranked = pd.DataFrame({"subject_ref": refs, "score": scores, "flagged": flagged})
    label_frame = pd.DataFrame({
        "subject_ref": labels["subject_ref"].astype(str).to_numpy(),
        "fraud": labels["fraud"].astype(bool).to_numpy(),
        "typology": labels["typology"].astype(object).fillna("").astype(str).to_numpy(),
    })
    known = ranked.merge(label_frame, on="subject_ref", how="inner", validate="one_to_one")
    fraud = known["fraud"].to_numpy()
    known_flagged = known["flagged"].to_numpy()
    precision, recall = _precision_recall(fraud, known_flagged)
    # the typology of a fraud only: a non-fraud row never counts towards a typology's recall
    typology = np.where(fraud, known["typology"].to_numpy(), "")
    return Evaluation(
        source=source,
        biased_sample=source == OUTCOMES,
        n_subjects=len(ranked),
        n_labelled=len(known),
        n_fraud=int(fraud.sum()),
        n_flagged=int(flagged.sum()),
        n_labelled_flagged=int(known_flagged.sum()),
        average_precision=average_precision(fraud, known["score"].to_numpy()),
        precision_at_capacity=precision,
        recall_at_capacity=recall,
        by_typology=_typology_recall(typology, known_flagged),
    )


def evaluate_training(
    subjects: pd.DataFrame,
    scores: Sequence[float] | np.ndarray,
    capacity: int | float,
    *,
    truth: pd.DataFrame | None = None,
    outcomes: pd.DataFrame | None = None,
) -> list[Evaluation]:
    """Evaluate the scores of a training table against every label source there is.

    Parameters
    ----------
    subjects : DataFrame
        The feature table: ``subject_ref`` and ``subject_type`` of each scored subject.
    scores : array-like
        The score of each row of ``subjects``.
    capacity : int or float
        As in ``flag_count``.
    truth : DataFrame, optional
        A synthetic world's truth file (``synthetic.truth.read_truth``).
    outcomes : DataFrame, optional
        ``investigation_outcomes``; ignored when empty.

    Returns
    -------
    list of Evaluation
        Truth first, then outcomes; empty when there are no labels.
    """
    scores = np.asarray(scores, dtype=np.float64)
    _check_lengths(subjects=subjects, scores=scores)
    scored = pd.DataFrame({"subject_ref": subjects["subject_ref"].to_numpy(), "score": scores})
    evaluations = []
    if truth is not None:
        evaluations.append(evaluate_scores(scored, labels_from_truth(subjects, truth), capacity, TRUTH))
    if outcomes is not None and not outcomes.empty:
        evaluations.append(evaluate_scores(scored, labels_from_outcomes(outcomes), capacity, OUTCOMES))
    return evaluations


def _precision_recall(labels: np.ndarray, flagged: np.ndarray) -> tuple[float, float]:
    hits = int((labels & flagged).sum())
    precision = hits / flagged.sum() if flagged.any() else float("nan")
    recall = hits / labels.sum() if labels.any() else float("nan")
    return float(precision), float(recall)


def _typology_recall(typology: np.ndarray, flagged: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"typology": typology, "flagged": flagged})
    frame = frame[frame["typology"] != ""]
    table = (
        frame.groupby("typology", sort=True)["flagged"]
        .agg(n="size", flagged="sum")
        .reset_index()
        .astype({"typology": object, "n": np.int64, "flagged": np.int64})
    )
    table["recall"] = table["flagged"] / table["n"]
    return table


def _check_lengths(**arrays: np.ndarray) -> None:
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise EvaluationError(LENGTH_ERROR.format(lengths=lengths))


def _require(frame: pd.DataFrame, table: str, columns: Sequence[str]) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise EvaluationError(MISSING_COLUMNS_ERROR.format(table=table, columns=missing))
