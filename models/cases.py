"""The case list: ranking, review capacity and the subjects related to each case.

Pure functions on DataFrames. The ranking is total and deterministic: subjects
are ordered by score (highest first), and equal scores by ``subject_ref``
(ascending), so the same scores always give the same ranks 1..n with no ties.
The order and the number flagged come from :mod:`models.evaluate`
(``ranking_order``, ``flag_count``), the one place that turns scores and a capacity
(a count or a share) into flags, so a run flags what the evaluation counted.

A subject whose latest investigation found no fraud, closed within a configured window
of the as-of date (:func:`recently_cleared`), is not flagged again: investigating an
honest person twice for the same evidence is a burden on them and spends a review on
someone already checked. It keeps its rank, and the next subjects take its place, so
the work list stays as long as the capacity. The contract does not record the score a
subject had when it was reviewed, so whether its evidence has changed since cannot be
told from the extract: it is left off until the window has passed.

Besides the flagged subjects, each run draws a random control sample of unflagged
subjects (:func:`draw_control_sample`): the outcomes of their reviews measure how
often the flagged subjects turn out to be fraud compared with anyone (lift), which
past investigations, chosen by older methods, cannot. The draw never looks at a
score, so it is independent of the model. Recently cleared subjects are not drawn
either: the draw stays uniform over a known set (the unflagged subjects not recently
cleared), so every subject's probability of being drawn is still known, and the
cleared ones are labelled by their own review.

A flagged claim rarely stands alone: the other live claims of the same person,
at the same address, or paid into the same bank account (or sharing a phone or
e-mail) are listed with it, so an investigator sees a ring rather than one claim.

Example
-------
>>> ranked = rank_subjects(["B2", "B1", "H1"], ["benefit_claim"] * 2 + ["housing_claim"],
...                        [0.5, 0.5, 0.9], capacity=2)
>>> ranked[["subject_ref", "rank", "flagged"]].values.tolist()
[['H1', 1, True], ['B1', 2, True], ['B2', 3, False]]
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from features.csv_output import write_csv
from models.evaluate import flag_count, labels_from_outcomes, ranking_order

#: Columns of a feature table that link two subjects, in the order links are named,
#: with the words an investigator reads.
LINK_COLUMNS: dict[str, str] = {
    "person_key": "same person",
    "address_key": "same address",
    "bank_account_token": "same bank account",
    "phone_token": "same phone",
    "email_token": "same e-mail",
}

#: Related subjects written out per case; the rest are counted.
MAX_RELATED = 5

#: What an investigator is told about a control subject, instead of reasons.
CONTROL_NOTE = "Selected at random for a quality check; nothing unusual was found."

RANK_INPUT_ERROR = "cannot rank subjects: {problem}"
DUPLICATE_SUBJECT_ERROR = "cannot rank subjects: subject_ref {ref!r} appears more than once"
MISSING_SCORE_ERROR = "cannot rank subjects: subject_ref {ref!r} has no finite score"


class RankingError(ValueError):
    """The subjects handed to the ranking cannot be ranked exactly once each."""


#: The rule :func:`recently_cleared` applies, as the run summary and the oversight report state it.
RECENTLY_CLEARED_RULE = ("a subject whose latest investigation, closed on or after {days:,} days before the as-of "
                         "date, found no fraud (outcome no_issue or error) is left off the work list and the "
                         "control sample; the next subjects take its places")
RECENTLY_CLEARED_OFF = "off: subjects cleared by a recent investigation may be flagged again"


def recently_cleared_rule(days: int | None) -> str:
    """The words of :data:`RECENTLY_CLEARED_RULE` for a window of ``days`` (None: the rule is off)."""
    return RECENTLY_CLEARED_OFF if days is None else RECENTLY_CLEARED_RULE.format(days=days)


def recently_cleared(outcomes: pd.DataFrame | None, as_of: dt.date, days: int | None) -> list[str]:
    """The subjects a recent investigation cleared: their latest closing, within ``days`` of ``as_of``, found no fraud.

    A closing after ``as_of`` counts as recent: the extract's evidence is then no newer than what
    the investigator saw. Of closings on the same day, a fraud outcome wins (as in
    :func:`models.evaluate.labels_from_outcomes`), so a fraud finding never clears anyone.

    Parameters
    ----------
    outcomes : DataFrame or None
        The extract's ``investigation_outcomes`` (``subject_ref``, ``outcome``, ``closed_on``).
    as_of : date
        The run's as-of date.
    days : int or None
        The window: closings on or after ``as_of - days`` count. None: nobody is cleared.

    Returns
    -------
    list of str
        Sorted subject references (subjects of other extracts included: the ranking ignores those).

    Examples
    --------
    >>> outcomes = pd.DataFrame({"subject_ref": ["B1", "B2", "B3", "B4", "B4"],
    ...                          "outcome": ["no_issue", "error", "fraud", "no_issue", "fraud"],
    ...                          "closed_on": ["2025-01-01", "2025-12-31", "2026-01-02", "2026-01-01", "2026-01-01"]})
    >>> recently_cleared(outcomes, dt.date(2026, 1, 1), 364), recently_cleared(outcomes, dt.date(2026, 1, 1), 365)
    (['B2'], ['B1', 'B2'])
    >>> recently_cleared(outcomes, dt.date(2026, 1, 1), None)
    []
    """
    if days is None or outcomes is None or outcomes.empty:
        return []
    closed_on = pd.to_datetime(outcomes["closed_on"]).to_numpy()
    recent = outcomes.loc[closed_on >= np.datetime64(as_of - dt.timedelta(days=days))]
    # every closing inside the window is later than any outside it, so the latest one is among them
    if recent.empty:
        return []
    labels = labels_from_outcomes(recent)
    return sorted(labels.loc[~labels["fraud"], "subject_ref"].astype(str))


def recently_cleared_summary(ranked: pd.DataFrame, capacity: int | float | None, days: int | None) -> dict:
    """What a run says of the subjects :func:`rank_subjects` passed over.

    Returns
    -------
    dict
        ``window_days`` (``days``), ``rule`` (:func:`recently_cleared_rule`), ``subjects`` (ranked
        subjects recently cleared) and ``within_capacity`` (of them, those ranked within the
        capacity: the places the next subjects took).
    """
    cleared = ranked["recently_cleared"].to_numpy()
    within = cleared & (ranked["rank"].to_numpy() <= flag_count(len(ranked), capacity))
    return {"window_days": days, "rule": recently_cleared_rule(days), "subjects": int(cleared.sum()),
            "within_capacity": int(within.sum())}


def rank_subjects(
    subject_refs: Sequence[str] | pd.Series,
    subject_types: Sequence[str] | pd.Series,
    scores: Sequence[float] | np.ndarray | pd.Series,
    capacity: int | float | None,
    cleared: Sequence[str] = (),
) -> pd.DataFrame:
    """Rank every subject once and flag those within the review capacity, passing over the ``cleared``.

    Parameters
    ----------
    subject_refs : sequence of str
        One unique reference per subject.
    subject_types : sequence of str
        ``benefit_claim`` or ``housing_claim``, aligned with ``subject_refs``.
    scores : sequence of float
        Anomaly scores, higher = more anomalous, aligned with ``subject_refs``.
    capacity : int, float or None
        Passed to :func:`models.evaluate.flag_count` with the count of every subject: subjects that
        can be reviewed.
    cleared : sequence of str
        Subjects not to flag (:func:`recently_cleared`); references of no subject here are ignored.

    Returns
    -------
    DataFrame
        ``subject_ref``, ``subject_type``, ``score``, ``rank`` (1 = most anomalous,
        1..n without ties, the cleared ranked as any other), ``recently_cleared`` (in ``cleared``)
        and ``flagged`` (the first ``flag_count`` subjects in rank order that are not cleared),
        ordered by rank, with a fresh 0..n-1 index.

    Raises
    ------
    RankingError
        When the inputs differ in length, a reference repeats or a score is not finite.
    """
    if not len(subject_refs) == len(subject_types) == len(scores):
        raise RankingError(RANK_INPUT_ERROR.format(
            problem="subject_refs, subject_types and scores differ in length"))
    table = pd.DataFrame({
        "subject_ref": pd.array(np.asarray(subject_refs, dtype=object), dtype="str"),
        "subject_type": pd.array(np.asarray(subject_types, dtype=object), dtype="str"),
        "score": np.asarray(scores, dtype="float64"),
    })

    repeated = table["subject_ref"].duplicated()
    if repeated.any():
        raise RankingError(DUPLICATE_SUBJECT_ERROR.format(ref=table.loc[repeated.idxmax(), "subject_ref"]))
    not_finite = ~np.isfinite(table["score"].to_numpy())
    if not_finite.any():
        raise RankingError(MISSING_SCORE_ERROR.format(ref=table["subject_ref"].iloc[int(np.argmax(not_finite))]))

    # The evaluation's order, so a run flags exactly the subjects the evaluation counted.
    ranked = table.take(ranking_order(table["score"].to_numpy(), table["subject_ref"].to_numpy())
                        ).reset_index(drop=True)
    ranked["rank"] = np.arange(1, len(ranked) + 1, dtype="int64")
    ranked["recently_cleared"] = ranked["subject_ref"].isin(pd.Index(cleared, dtype="str")).to_numpy()
    # the capacity counts every subject; the cleared give their places to the next ones
    places = np.cumsum(~ranked["recently_cleared"].to_numpy())
    ranked["flagged"] = ~ranked["recently_cleared"] & (places <= flag_count(len(ranked), capacity))
    return ranked


def control_sample_size(n_flagged: int, n_unflagged: int, share_of_capacity: float) -> int:
    """Control subjects to draw: ``share_of_capacity`` of the flagged count, rounded up, at most every unflagged.

    Examples
    --------
    >>> control_sample_size(200, 9800, 0.05), control_sample_size(7, 100, 0.05), control_sample_size(7, 100, 0.0)
    (10, 1, 0)
    """
    # rounded first so that float noise does not add a subject (as in flag_count)
    return min(math.ceil(round(share_of_capacity * n_flagged, 9)), n_unflagged)


def draw_control_sample(ranked: pd.DataFrame, share_of_capacity: float, seed: int) -> pd.DataFrame:
    """Add the random control sample to a ranking: columns ``control`` and ``work_list``.

    The sample is drawn uniformly, without replacement, from the unflagged subjects that
    are not recently cleared, taken in ``subject_ref`` order, never in score order: which
    subjects are drawn depends on the seed and on which subjects may be drawn, not on any
    score, and each of them is drawn with the same known probability.

    Parameters
    ----------
    ranked : DataFrame
        As returned by :func:`rank_subjects` (``subject_ref``, ``flagged``, ``recently_cleared``).
    share_of_capacity : float
        Size of the sample as a share of the flagged count (:func:`control_sample_size`).
    seed : int
        Seed of the draw: the same ranking and seed draw the same subjects.

    Returns
    -------
    DataFrame
        ``ranked`` with ``control`` (drawn for the sample) and ``work_list``
        (flagged or control), same rows and order.
    """
    may_draw = ~ranked["flagged"] & ~ranked["recently_cleared"]
    eligible = np.sort(ranked.loc[may_draw, "subject_ref"].to_numpy(dtype=object).astype(str))
    size = control_sample_size(int(ranked["flagged"].sum()), len(eligible), share_of_capacity)
    drawn = np.random.default_rng(seed).choice(eligible, size=size, replace=False)
    control = ranked["subject_ref"].isin(drawn).to_numpy()
    return ranked.assign(control=control, work_list=ranked["flagged"].to_numpy() | control)


def _link_pairs(features_table: pd.DataFrame, flagged_refs: pd.Series) -> pd.DataFrame:
    """Every (flagged subject, other subject, link) sharing a non-empty key or token."""
    flagged = features_table["subject_ref"].isin(flagged_refs)
    parts = []
    for link in (column for column in LINK_COLUMNS if column in features_table.columns):
        keys = features_table[["subject_ref", link]].rename(columns={link: "key"}).dropna(subset=["key"])
        keys = keys[keys["key"].astype("str").str.strip() != ""]
        flagged_keys = keys[flagged.loc[keys.index]]
        # only the subjects holding a flagged subject's key can pair with it
        sharing = keys[keys["key"].isin(flagged_keys["key"])]
        pairs = flagged_keys.merge(sharing, on="key", suffixes=("", "_other"))
        parts.append(pairs.assign(link=link))
    pairs = pd.concat(parts, ignore_index=True)
    return pairs.loc[pairs["subject_ref"] != pairs["subject_ref_other"],
                     ["subject_ref", "subject_ref_other", "link"]]


def related_subjects(
    features_table: pd.DataFrame,
    flagged_refs: Sequence[str] | pd.Series,
    max_listed: int = MAX_RELATED,
) -> pd.Series:
    """List, for each flagged subject, the other subjects linked to it and how.

    Two subjects are related when they share a ``person_key``, an ``address_key``,
    a ``bank_account_token``, a ``phone_token`` or an ``email_token`` (those of the
    columns the feature table holds; empty keys link nothing).

    Parameters
    ----------
    features_table : DataFrame
        One row per subject with ``subject_ref`` and the link columns.
    flagged_refs : sequence of str
        The subjects to describe.
    max_listed : int
        Related subjects written out per case; the rest are counted as "and N more".

    Returns
    -------
    Series of str
        Indexed by ``flagged_refs`` (same order), named ``related``, e.g.
        ``"H000123 (same person, same address); B004 (same bank account)"``;
        ``""`` for a subject linked to no other. Subjects sharing more links come
        first, then those linked by person, address, account, phone, e-mail, then by
        reference.
    """
    flagged = pd.Series(np.asarray(flagged_refs, dtype=object), dtype="str", name="subject_ref")
    pairs = _link_pairs(features_table, flagged)
    link_order = {link: position for position, link in enumerate(LINK_COLUMNS)}
    pairs = pairs.assign(
        link_position=pairs["link"].map(link_order), words=pairs["link"].map(LINK_COLUMNS),
    ).sort_values(["subject_ref", "subject_ref_other", "link_position"], kind="mergesort")

    per_other = pairs.groupby(["subject_ref", "subject_ref_other"], sort=False).agg(
        links=("words", ", ".join),
        n_links=("link", "size"),
        first_link=("link_position", "min"),
    ).reset_index()
    per_other = per_other.sort_values(
        ["subject_ref", "n_links", "first_link", "subject_ref_other"],
        ascending=[True, False, True, True], kind="mergesort")
    per_other["position"] = per_other.groupby("subject_ref", sort=False).cumcount()
    per_other["entry"] = per_other["subject_ref_other"] + " (" + per_other["links"] + ")"

    listed = per_other[per_other["position"] < max_listed].groupby("subject_ref", sort=False)["entry"].agg("; ".join)
    rest = per_other.groupby("subject_ref", sort=False).size() - max_listed
    rest = rest[rest > 0]
    text = listed.copy()
    text.loc[rest.index] = text.loc[rest.index] + "; and " + rest.astype("str") + " more"

    related = text.reindex(flagged).fillna("").astype("str")
    related.index = pd.Index(flagged, name="subject_ref")
    return related.rename("related")


#: Columns of ``cases.csv`` / ``cases.parquet``, in order.
CASE_COLUMNS = ("subject_ref", "subject_type", "score", "rank", "flagged", "control", "work_list",
                "recently_cleared", "model_version", "reasons", "related")


def case_table(
    ranked: pd.DataFrame, reasons: pd.Series, related: pd.Series, model_version: str
) -> pd.DataFrame:
    """The case list: every ranked subject with its reasons and related subjects.

    Parameters
    ----------
    ranked : DataFrame
        As returned by :func:`rank_subjects`, with the control sample of
        :func:`draw_control_sample`.
    reasons, related : Series of str
        Indexed by ``subject_ref`` (e.g. ``models.explain.join_reasons`` and
        :func:`related_subjects` of the work list, control cases included); subjects they do not
        list get ``""``.
    model_version : str
        The registry version that produced the scores.

    Returns
    -------
    DataFrame
        :data:`CASE_COLUMNS`, one row per ranked subject, ordered by rank.
    """
    refs = ranked["subject_ref"]
    return ranked.assign(
        model_version=pd.array([str(model_version)] * len(ranked), dtype="str"),
        reasons=pd.array(reasons.reindex(refs).fillna("").to_numpy(dtype=object), dtype="str"),
        related=pd.array(related.reindex(refs).fillna("").to_numpy(dtype=object), dtype="str"),
    ).loc[:, list(CASE_COLUMNS)].sort_values("rank", kind="mergesort", ignore_index=True)


def write_case_list(cases: pd.DataFrame, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``cases.csv`` and ``cases.parquet`` into ``out_dir`` (created when missing).

    The CSV writes ``flagged``, ``control``, ``work_list`` and ``recently_cleared`` as ``true``/``false``, like the
    input contract's booleans, and its text inert for spreadsheets (:func:`features.csv_output.write_csv`).

    Returns
    -------
    tuple of Path
        The CSV and the Parquet file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, parquet_path = out_dir / "cases.csv", out_dir / "cases.parquet"
    flags = {column: np.where(cases[column], "true", "false") for column in ("flagged", "control", "work_list", "recently_cleared")}
    write_csv(cases.assign(**flags), csv_path)
    cases.to_parquet(parquet_path, index=False)
    return csv_path, parquet_path


def flagged_subjects(ranked: pd.DataFrame, features_table: pd.DataFrame) -> pd.DataFrame:
    """The feature-table rows of the flagged subjects, in rank order, with their ``score``.

    Parameters
    ----------
    ranked : DataFrame
        As returned by :func:`rank_subjects`.
    features_table : DataFrame
        One row per subject, with ``subject_ref``.
    """
    flagged = ranked.loc[ranked["flagged"], ["subject_ref", "score"]]
    return flagged.merge(features_table, on="subject_ref", how="left", validate="one_to_one")
