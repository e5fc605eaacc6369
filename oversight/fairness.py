"""Whom a version flags: flag rates per protected group, with intervals and corrected call-outs.

Protected characteristics (sex, ethnicity group, disability, nationality group) come
from the contract's ``equality_monitoring`` table, age bands from the date of birth on
the subject's own claim. They are audit inputs only: nothing here feeds a model.

Every figure is a Fairlearn :class:`~fairlearn.metrics.MetricFrame` over the scored
subjects, with a 95 % interval from ``n_boot`` bootstrap resamples of the subjects
(their 2.5 % and 97.5 % quantiles; see :func:`_disaggregate`); a group with few flagged
subjects, where a bootstrap interval means little, takes the exact
(:data:`EXACT_INTERVAL`) binomial interval instead. A group is compared with the overall
flag rate of the run, which the review capacity fixes rather than chance, so a group's
ratio and its interval are its rate and interval divided by that rate.

Whether a group is flagged at a rate other than the overall one is an exact binomial
test of its flagged count against that rate; the p-values of every group shown are
corrected for the number of groups compared (:data:`MULTIPLE_COMPARISONS`), and only a
group whose adjusted p-value is under :data:`FALSE_DISCOVERY_RATE` is called out.

Groups with too few subjects to read are kept, marked ``suppressed``, with their
figures withheld, so that no group disappears silently; a small flagged count alone
never suppresses a group, since hiding it would hide the finding.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from scipy.stats import beta, binomtest, false_discovery_control

from features.contract import EQUALITY_COLUMNS, Extract

CHARACTERISTICS = (*EQUALITY_COLUMNS, "age_band")
"""Every audited characteristic, in report order: the equality-monitoring columns, then the age band."""
CHARACTERISTIC_WORDS = {name: name.replace("_", " ") for name in CHARACTERISTICS}
"""Each characteristic as the report writes it: ``ethnicity_group`` → ``ethnicity group``."""
NOT_RECORDED = "not recorded"
"""The group of a subject with no equality-monitoring row (own or its person's) or no date of birth."""
INTERSECTION = " × "
GROUP_JOINER = " · "
AGE_BANDS = ((25, "under 25"), (35, "25 to 34"), (45, "35 to 44"), (55, "45 to 54"), (65, "55 to 64"))
"""Upper bound (exclusive) of each band in whole years; older subjects are "65 and over"."""
OLDEST_BAND = "65 and over"
CI_QUANTILES = [0.025, 0.975]
EXACT_INTERVAL = "Clopper-Pearson"
"""The exact binomial interval given to groups with few flagged subjects."""
BOOTSTRAP_INTERVAL = "bootstrap"
MULTIPLE_COMPARISONS = "Benjamini-Hochberg"
"""The correction of the groups' p-values for the number of groups compared."""
FALSE_DISCOVERY_RATE = 0.05
"""Groups whose adjusted p-value is under this are called out (the expected share of false call-outs)."""
FAIRNESS_COLUMNS = ["characteristic", "group", "subjects", "flagged", "flag_rate", "ratio", "ci_low", "ci_high",
                    "p_adjusted", "interval", "suppressed"]
BURDEN_COLUMNS = ["characteristic", "group", "honest_subjects", "honest_flagged", "per_1000", "ci_low", "ci_high",
                  "interval", "suppressed"]


def age_bands(dates_of_birth: pd.Series, as_of: dt.date) -> pd.Series:
    """The age band of each date of birth on ``as_of``; :data:`NOT_RECORDED` when missing.

    Examples
    --------
    >>> age_bands(pd.Series(["2000-07-01", "1950-01-01", None]), dt.date(2025, 6, 30)).tolist()
    ['under 25', '65 and over', 'not recorded']
    """
    born = pd.to_datetime(dates_of_birth, errors="coerce")
    had_birthday = (born.dt.month < as_of.month) | ((born.dt.month == as_of.month) & (born.dt.day <= as_of.day))
    age = as_of.year - born.dt.year - (~had_birthday).astype("int64")
    bands = np.full(len(born), OLDEST_BAND, dtype=object)
    for upper, band in reversed(AGE_BANDS):
        bands[(age < upper).to_numpy()] = band
    bands[born.isna().to_numpy()] = NOT_RECORDED
    return pd.Series(bands, index=dates_of_birth.index, name="age_band")


def subject_dates_of_birth(extract: Extract) -> pd.DataFrame:
    """``subject_ref`` and ``date_of_birth`` of every benefit and housing claim of an extract."""
    benefit = extract.benefit_claims[["claim_id", "date_of_birth"]].rename(columns={"claim_id": "subject_ref"})
    housing = extract.housing_claims[["housing_claim_id", "date_of_birth"]].rename(
        columns={"housing_claim_id": "subject_ref"})
    return pd.concat([benefit, housing], ignore_index=True).astype({"subject_ref": "str"})


def audit_characteristics(
    subjects: pd.DataFrame,
    equality: pd.DataFrame,
    links: pd.DataFrame,
    dates_of_birth: pd.DataFrame,
    as_of: dt.date,
) -> pd.DataFrame:
    """The protected characteristics and age band of every subject, for the audit only.

    A subject takes the equality-monitoring row collected with its own claim; when
    it has none, the row of another claim of the same person (linked records share
    a ``person_key``; the lowest ``subject_ref`` first); else :data:`NOT_RECORDED`.

    Parameters
    ----------
    subjects : DataFrame
        ``subject_ref`` of the scored subjects.
    equality : DataFrame
        The ``equality_monitoring`` table.
    links : DataFrame
        The linking stage's ``table``, ``record_ref``, ``person_key``.
    dates_of_birth : DataFrame
        ``subject_ref`` and ``date_of_birth`` (:func:`subject_dates_of_birth`).
    as_of : date
        The date ages are taken on.

    Returns
    -------
    DataFrame
        ``subject_ref`` and :data:`CHARACTERISTICS`, one row per subject, in the order of ``subjects``.
    """
    # plain Python strings: looking a million references up is several times faster than in Arrow strings
    refs = pd.Index(subjects["subject_ref"].to_numpy(dtype=object).astype(str).astype(object))
    claims = links[links["table"].isin(["benefit_claims", "housing_claims"])]
    person_of = pd.Series(claims["person_key"].to_numpy(dtype=object),
                          index=claims["record_ref"].to_numpy(dtype=object).astype(str).astype(object))
    person_of = person_of[~person_of.index.duplicated()]
    rows = equality.drop_duplicates("subject_ref")
    rows = pd.DataFrame({name: rows[name].to_numpy(dtype=object).astype(str).astype(object) for name in EQUALITY_COLUMNS},
                        index=rows["subject_ref"].to_numpy(dtype=object).astype(str).astype(object))
    by_person = rows.assign(person_key=person_of.reindex(rows.index).to_numpy()).dropna(subset=["person_key"])
    by_person = by_person.sort_index().drop_duplicates("person_key").set_index("person_key")

    own = rows.reindex(refs)
    through_person = by_person.reindex(person_of.reindex(refs).to_numpy())
    through_person.index = own.index
    audit = own.fillna(through_person).fillna(NOT_RECORDED)
    born = dates_of_birth.drop_duplicates("subject_ref")
    born = pd.Series(born["date_of_birth"].to_numpy(),
                     index=born["subject_ref"].to_numpy(dtype=object).astype(str).astype(object))
    audit["age_band"] = age_bands(born.reindex(refs), as_of).to_numpy()
    return audit.reset_index(names="subject_ref").loc[:, ["subject_ref", *CHARACTERISTICS]]


def characteristic_sets(pairs: bool = True) -> list[tuple[str, ...]]:
    """Each characteristic on its own, then (with ``pairs``) every intersection of two."""
    singles = [(name,) for name in CHARACTERISTICS]
    return singles + (list(itertools.combinations(CHARACTERISTICS, 2)) if pairs else [])


def characteristic_label(names: Sequence[str]) -> str:
    """``sex`` or ``sex × age_band``: the name of a characteristic or an intersection."""
    return INTERSECTION.join(names)


def _weighted_base(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    return float(np.sum(sample_weight * np.asarray(y_true, dtype=bool)))


def _weighted_hits(y_true: np.ndarray, y_pred: np.ndarray, sample_weight: np.ndarray) -> float:
    return float(np.sum(sample_weight * np.asarray(y_pred, dtype=bool)))


def _disaggregate(
    sensitive: pd.DataFrame,
    base: np.ndarray,
    hit: np.ndarray,
    scale: float,
    n_boot: int | None,
    seed: int,
    exact_below: int,
) -> pd.DataFrame:
    """Per group of ``sensitive``: subjects in the base, hits among them, ``scale`` × hits ÷ base, interval.

    Subjects are first counted per cell (group × base × hit): the figures of a group
    depend on those counts only, so a :class:`MetricFrame` over the weighted cells gives
    exactly the figures of one over the subjects, at the cost of a few rows. A bootstrap
    resample of ``n`` subjects gives multinomial cell counts, so the resamples are drawn
    as such counts, all at once; MetricFrame's own ``n_boot`` resamples rows in Python
    and takes about a second per resample at 60,000 subjects.

    A group with fewer than ``exact_below`` hits takes ``scale`` × the exact
    (:data:`EXACT_INTERVAL`) interval of hits out of base instead, with or without ``n_boot``.

    Returns
    -------
    DataFrame
        ``characteristic``, ``group``, ``base``, ``hits``, ``rate``, ``ci_low``, ``ci_high`` (the
        2.5 % and 97.5 % bootstrap quantiles; the rate itself without ``n_boot``) and ``interval``
        (:data:`BOOTSTRAP_INTERVAL` or :data:`EXACT_INTERVAL`).
    """
    names = list(sensitive.columns)
    cells = (sensitive.assign(base=np.asarray(base, dtype=bool), hit=np.asarray(hit, dtype=bool))
             .groupby([*names, "base", "hit"], sort=True, observed=True).size().rename("weight").reset_index())
    cells[names] = cells[names].astype("str")
    weight = cells["weight"].to_numpy(dtype="float64")
    weighted = {"sample_weight": weight}
    frame = MetricFrame(
        metrics={"base": _weighted_base, "hits": _weighted_hits},
        y_true=cells["base"].to_numpy(), y_pred=cells["hit"].to_numpy(), sensitive_features=cells[names],
        sample_params={"base": weighted, "hits": weighted},
    ).by_group.reset_index()
    frame = frame[frame["base"] > 0].reset_index(drop=True)
    frame["rate"] = scale * frame["hits"] / frame["base"]
    frame["ci_low"], frame["ci_high"] = frame["rate"], frame["rate"]
    if n_boot:
        # which row of ``frame`` each cell counts towards (none for a group without base subjects)
        position = pd.Series(np.arange(len(frame)), index=pd.MultiIndex.from_frame(frame[names].astype("str")))
        cell_group = position.reindex(pd.MultiIndex.from_frame(cells[names])).to_numpy(dtype="float64")
        kept = ~np.isnan(cell_group)
        counts = np.random.default_rng(seed).multinomial(int(weight.sum()), weight / weight.sum(), size=n_boot)
        membership = np.zeros((len(cells), len(frame)))
        membership[np.flatnonzero(kept), cell_group[kept].astype("int64")] = 1.0
        resampled_base = (counts * cells["base"].to_numpy()) @ membership
        resampled_hits = (counts * cells["hit"].to_numpy()) @ membership
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = scale * resampled_hits / resampled_base
        rates[resampled_base == 0] = np.nan
        frame["ci_low"], frame["ci_high"] = _nan_quantiles(rates)
    exact = (frame["hits"] < exact_below).to_numpy()
    low, high = exact_interval(frame["hits"].to_numpy()[exact], frame["base"].to_numpy()[exact])
    frame.loc[exact, "ci_low"], frame.loc[exact, "ci_high"] = scale * low, scale * high
    groups = frame[names].astype("str")
    return pd.DataFrame({
        "characteristic": characteristic_label(names),
        "group": groups.agg(GROUP_JOINER.join, axis=1).to_numpy(),
        "base": frame["base"].to_numpy(), "hits": frame["hits"].to_numpy(), "rate": frame["rate"].to_numpy(),
        "ci_low": frame["ci_low"].to_numpy(), "ci_high": frame["ci_high"].to_numpy(),
        "interval": np.where(exact, EXACT_INTERVAL, BOOTSTRAP_INTERVAL),
    })


def exact_interval(hits: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 95 % Clopper-Pearson interval of each proportion ``hits`` ÷ ``base``.

    Examples
    --------
    >>> low, high = exact_interval(np.array([0, 8]), np.array([900, 900]))
    >>> [round(float(value), 5) for value in (*low, *high)]
    [0.0, 0.00385, 0.00409, 0.01744]
    """
    hits, base = np.asarray(hits, dtype="float64"), np.asarray(base, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(hits > 0, beta.ppf(CI_QUANTILES[0], hits, base - hits + 1), 0.0)
        high = np.where(hits < base, beta.ppf(CI_QUANTILES[1], hits + 1, base - hits), 1.0)
    return low, high


def adjusted_p_values(hits: np.ndarray, base: np.ndarray, rate: float) -> np.ndarray:
    """Two-sided exact binomial p-values of ``hits`` of ``base`` against ``rate``, Benjamini-Hochberg adjusted.

    The adjustment is over all the proportions given: the groups compared together.

    Examples
    --------
    >>> [round(float(p), 4) for p in adjusted_p_values(np.array([10, 30]), np.array([1000, 1000]), 0.02)]
    [0.0309, 0.0309]
    """
    if len(hits) == 0:
        return np.zeros(0)
    raw = np.array([binomtest(int(k), int(n), rate).pvalue for k, n in zip(hits, base, strict=True)])
    return false_discovery_control(raw, method="bh")


def _nan_quantiles(rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The :data:`CI_QUANTILES` of each column over the resamples where the group had subjects."""
    low, high = np.full(rates.shape[1], np.nan), np.full(rates.shape[1], np.nan)
    seen = ~np.isnan(rates).all(axis=0)
    if seen.any():
        low[seen], high[seen] = np.nanquantile(rates[:, seen], CI_QUANTILES, axis=0)
    return low, high


def group_flag_rates(
    audit: pd.DataFrame,
    flagged: np.ndarray,
    *,
    n_boot: int | None,
    seed: int,
    min_subjects: int,
    exact_below: int,
    pairs: bool = True,
) -> pd.DataFrame:
    """Subjects, flagged count, flag rate, ratio to the overall rate and adjusted p-value of every group.

    Parameters
    ----------
    audit : DataFrame
        :func:`audit_characteristics` of the scored subjects.
    flagged : array of bool
        Whether each subject of ``audit`` is flagged at capacity.
    n_boot : int or None
        Bootstrap resamples of the intervals; ``None`` gives point figures (intervals equal to them).
    seed : int
        Seed of the resampling.
    min_subjects : int
        Groups with fewer subjects are ``suppressed``: their figures are withheld.
    exact_below : int
        Groups with fewer flagged subjects take the exact interval (:data:`EXACT_INTERVAL`).
    pairs : bool
        Also every intersection of two characteristics.

    Returns
    -------
    DataFrame
        :data:`FAIRNESS_COLUMNS`; ``characteristic`` is a name of :data:`CHARACTERISTICS` or two
        joined by :data:`INTERSECTION`, ``group`` the group (two joined by :data:`GROUP_JOINER`);
        ``p_adjusted`` is :func:`adjusted_p_values` over every group not suppressed.
    """
    flagged = np.asarray(flagged, dtype=bool)
    overall = float(flagged.mean()) if len(flagged) else float("nan")
    everyone = np.ones(len(flagged), dtype=bool)
    audit = _categorical(audit)
    parts = [_disaggregate(audit.loc[:, list(names)], everyone, flagged, 1.0, n_boot, seed, exact_below)
             for names in characteristic_sets(pairs)]
    table = pd.concat(parts, ignore_index=True).rename(
        columns={"base": "subjects", "hits": "flagged", "rate": "flag_rate"})
    table["ratio"] = table["flag_rate"] / overall
    table["ci_low"] = table["ci_low"] / overall
    table["ci_high"] = table["ci_high"] / overall
    table["suppressed"] = table["subjects"] < min_subjects
    shown = ~table["suppressed"]
    table["p_adjusted"] = np.nan
    table.loc[shown, "p_adjusted"] = adjusted_p_values(table.loc[shown, "flagged"].to_numpy(),
                                                       table.loc[shown, "subjects"].to_numpy(), overall)
    return _withhold(table.astype({"subjects": "int64", "flagged": "int64"}), FAIRNESS_COLUMNS)


def false_positive_burden(
    audit: pd.DataFrame,
    flagged: np.ndarray,
    fraud: np.ndarray,
    *,
    n_boot: int | None,
    seed: int,
    min_subjects: int,
    exact_below: int,
) -> pd.DataFrame:
    """Honest subjects flagged per 1,000 honest subjects of each group (single characteristics).

    ``audit``, ``flagged`` and ``fraud`` cover the labelled subjects only. Returns
    :data:`BURDEN_COLUMNS`; a group is suppressed under ``min_subjects`` honest subjects, and
    takes the exact interval under ``exact_below`` honest subjects flagged.
    """
    flagged = np.asarray(flagged, dtype=bool)
    fraud = np.asarray(fraud, dtype=bool)
    audit = _categorical(audit)
    parts = [_disaggregate(audit.loc[:, list(names)], ~fraud, ~fraud & flagged, 1000.0, n_boot, seed, exact_below)
             for names in characteristic_sets(pairs=False)]
    table = pd.concat(parts, ignore_index=True).rename(
        columns={"base": "honest_subjects", "hits": "honest_flagged", "rate": "per_1000"})
    table["suppressed"] = table["honest_subjects"] < min_subjects
    return _withhold(table.astype({"honest_subjects": "int64", "honest_flagged": "int64"}), BURDEN_COLUMNS)


def _categorical(audit: pd.DataFrame) -> pd.DataFrame:
    """The characteristics as categories: grouping the subjects by them, table after table, stays cheap."""
    return audit.astype({name: "category" for name in CHARACTERISTICS})


def _withhold(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``columns`` of ``table`` with every figure of a suppressed row set to missing."""
    figures = [name for name in columns[2:-1] if name != "interval"]
    table = table.loc[:, columns].astype({name: "float64" for name in figures})
    table.loc[table["suppressed"], figures] = np.nan
    table["interval"] = table["interval"].where(~table["suppressed"])
    return table


def _ratio_text(value: float, limits: Sequence[float] = (1.0,)) -> str:
    """Two decimals, or three where two would make a value that is not a limit read as one.

    >>> _ratio_text(0.7349), _ratio_text(0.9961), _ratio_text(1.2512, (1.0, 0.8, 1.25))
    ('0.73', '0.996', '1.251')
    """
    text = f"{value:.2f}"
    return f"{value:.3f}" if any(text == f"{limit:.2f}" and value != limit for limit in limits) else text


def call_outs(rates: pd.DataFrame, ratio_low: float, ratio_high: float) -> list[str]:
    """Sentences naming each group whose ratio is outside ``ratio_low``–``ratio_high`` and not chance.

    Not chance: the group's adjusted p-value (:func:`adjusted_p_values`, over every group
    shown) is under :data:`FALSE_DISCOVERY_RATE`. Single characteristics come first, then
    intersections, in the order of ``rates``.

    Examples
    --------
    >>> rows = pd.DataFrame({"characteristic": ["sex"], "group": ["male"], "ratio": [1.5], "ci_low": [1.2],
    ...                      "ci_high": [1.8], "p_adjusted": [0.0004], "suppressed": [False]})
    >>> call_outs(rows, 0.8, 1.25)[0]
    'sex "male": flagged 1.50 times as often as everyone (95 % interval 1.20 to 1.80; adjusted p < 0.001), above 1.25.'
    """
    shown = rates[~rates["suppressed"].astype(bool)]
    outside = shown[((shown["ratio"] < ratio_low) | (shown["ratio"] > ratio_high))
                    & (shown["p_adjusted"] < FALSE_DISCOVERY_RATE)]
    sentences = []
    for row in outside.itertuples(index=False):
        words = " × ".join(CHARACTERISTIC_WORDS[name] for name in row.characteristic.split(INTERSECTION))
        side = f"above {ratio_high:g}" if row.ratio > ratio_high else f"below {ratio_low:g}"
        sentences.append(
            f'{words} "{row.group}": flagged {_ratio_text(row.ratio, (1.0, ratio_low, ratio_high))} times as '
            f"often as everyone (95 % interval {_ratio_text(row.ci_low)} to {_ratio_text(row.ci_high)}; "
            f"adjusted p {p_value_text(row.p_adjusted)}), {side}.")
    return sentences


def p_value_text(value: float) -> str:
    """Three decimals, or "< 0.001".

    >>> p_value_text(0.01234), p_value_text(0.00002)
    ('= 0.012', '< 0.001')
    """
    return "< 0.001" if value < 0.001 else f"= {value:.3f}"
