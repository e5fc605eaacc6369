"""The case list: ranking, review capacity and the subjects related to each case.

Pure functions on DataFrames. The ranking is total and deterministic: subjects
are ordered by score (highest first), and equal scores by ``subject_ref``
(ascending), so the same scores always give the same ranks 1..n with no ties.
The order and the number flagged come from :mod:`models.evaluate`
(``ranking_order``, ``flag_count``), the one place that turns scores and a capacity
(a count or a share) into flags, so a run flags what the evaluation counted.

Besides the flagged subjects, each run draws a random control sample of unflagged
subjects (:func:`draw_control_sample`): the outcomes of their reviews measure how
often the flagged subjects turn out to be fraud compared with anyone (lift), which
past investigations, chosen by older methods, cannot. The draw never looks at a
score, so it is independent of the model.

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

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from features.csv_output import write_csv
from models.evaluate import flag_count, ranking_order

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


def rank_subjects(
    subject_refs: Sequence[str] | pd.Series,
    subject_types: Sequence[str] | pd.Series,
    scores: Sequence[float] | np.ndarray | pd.Series,
    capacity: int | float | None,
) -> pd.DataFrame:
    """Rank every subject once and flag those within the review capacity.

    Parameters
    ----------
    subject_refs : sequence of str
        One unique reference per subject.
    subject_types : sequence of str
        ``benefit_claim`` or ``housing_claim``, aligned with ``subject_refs``.
    scores : sequence of float
        Anomaly scores, higher = more anomalous, aligned with ``subject_refs``.
    capacity : int, float or None
        Passed to :func:`models.evaluate.flag_count`: subjects that can be reviewed.

    Returns
    -------
    DataFrame
        ``subject_ref``, ``subject_type``, ``score``, ``rank`` (1 = most anomalous,
        1..n without ties) and ``flagged`` (``rank <= flag_count``), ordered by rank,
        with a fresh 0..n-1 index.

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
    ranked["flagged"] = ranked["rank"] <= flag_count(len(ranked), capacity)
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

    The sample is drawn uniformly, without replacement, from the unflagged subjects
    taken in ``subject_ref`` order, never in score order: which subjects are drawn
    depends on the seed and on which subjects are unflagged, not on any score.

    Parameters
    ----------
    ranked : DataFrame
        As returned by :func:`rank_subjects` (``subject_ref``, ``flagged``).
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
    unflagged = np.sort(ranked.loc[~ranked["flagged"], "subject_ref"].to_numpy(dtype=object).astype(str))
    size = control_sample_size(int(ranked["flagged"].sum()), len(unflagged), share_of_capacity)
    drawn = np.random.default_rng(seed).choice(unflagged, size=size, replace=False)
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
                "model_version", "reasons", "related")


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

    The CSV writes ``flagged``, ``control`` and ``work_list`` as ``true``/``false``, like the
    input contract's booleans, and its text inert for spreadsheets (:func:`features.csv_output.write_csv`).

    Returns
    -------
    tuple of Path
        The CSV and the Parquet file.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, parquet_path = out_dir / "cases.csv", out_dir / "cases.parquet"
    flags = {column: np.where(cases[column], "true", "false") for column in ("flagged", "control", "work_list")}
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
