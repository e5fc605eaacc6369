"""The explanation report of a model version, for the oversight panel.

:func:`build_report` computes every figure once, as plain tables and a JSON-ready
dict (``report.json``), plus SHAP's own plots as PNG images; :func:`render_html`
draws that same dict into one self-contained, printable HTML page, and
:func:`write_report` writes both with the transparency record (:mod:`oversight.atrs`).
Every number the HTML shows carries a ``data-figure`` attribute holding its path in
``report.json``, so a test can check that the page and the JSON agree.

The page opens with a one-page summary and the panel's decision checklist: what to check
before approving, each item with the figures that answer it (``summary`` in ``report.json``)
and a link to its section. The full sections follow, each collapsed until opened (and open
when printed): model card; what it uses (and must never use); why it flags (global drivers,
worked examples under pseudonyms); how well it works (truth file, past investigations as a
biased sample, control-sample lift); whom it flags (fairness audit at capacity); possible
proxies; data quality; against the champion (with the drift of the data since the champion
was trained).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from scipy.stats import norm, spearmanr

from casework.disclosure import without_addresses
from configs.settings import Settings
from features.contract import CONTRACT, EQUALITY_COLUMNS, Extract
from features.definitions import CONTEXT, FEATURES_BY_NAME, feature_label
from models.cases import rank_subjects, recently_cleared, recently_cleared_summary
from models.drift import SCORE, compare
from models.evaluate import (
    TRUTH,
    Evaluation,
    evaluate_training,
    flag_count,
    flagged_mask,
    labels_from_outcomes,
    labels_from_truth,
    ranking_order,
)
from models.explain import Explainable, explain_subjects, top_reasons
from models.outcomes import OutcomeWeightedDetector, reviewed_subjects
from oversight import fairness, proxies
from oversight.atrs import ATRS_JSON, ATRS_MARKDOWN, TO_BE_COMPLETED, atrs_markdown, atrs_record

REPORT_HTML, REPORT_JSON = "report.html", "report.json"
TEMPLATES = Path(__file__).with_name("templates")
PROTECTED_TEST = "tests/oversight/test_protected.py"
"""The test that proves no protected characteristic or age reaches the model."""
NEVER_USED = (*(fairness.CHARACTERISTIC_WORDS[name] for name in EQUALITY_COLUMNS), "age", "date of birth")
"""What no feature reads, as the report states it: the protected characteristics, age and date of birth."""
LINKING_ONLY = ("date of birth",)
"""Of those, what the pipeline still reads, and for what: to link the records of one person, not to score."""
INTENDED_USE = ("Leads for a person to check, never a decision: an investigator reads each flagged case and its "
                "reasons against the records, and a person decides what, if anything, happens next.")
OUT_OF_SCOPE = (
    "Deciding that anyone committed fraud, or stopping or reducing a payment, on the score alone.",
    "Ranking or flagging people by a protected characteristic or age.",
    "Use on data that does not follow the input contract, or far from the as-of date it was trained for.",
    "Use as a measure of how much fraud there is: scores rank subjects, they are not probabilities.",
)
CAVEATS = (
    "The detector finds records unlike most others; unusual is not the same as fraudulent, and honest "
    "people with unusual circumstances are flagged too.",
    "Past investigations were chosen by older methods: figures computed on them describe that biased sample only.",
    "Linking people across sources is approximate; a wrong link can create or hide a reason.",
    "Figures on a synthetic world's truth file show what the method can do, not how it does on real data.",
)
PSEUDONYMS = string.ascii_uppercase
REFERENCE_WORD = "another claim"
_TOKEN = re.compile(r"[A-Za-z0-9_\-]+")


@dataclass(frozen=True)
class VersionFacts:
    """What the registry records about the version reported on."""

    model_name: str
    version: str
    as_of: str
    code_version: str
    data_fingerprint: str
    trained_by: str
    registered_at: str
    training_sample: dict[str, Any] | None = None
    """The subjects the detector was fitted on (``models.sampling.TrainingSample.record``);
    ``None`` for a version registered before it was recorded."""


@dataclass(frozen=True)
class ChampionScores:
    """The current champion's scores of the same subjects, to compare against."""

    version: str
    scores: np.ndarray


@dataclass(frozen=True)
class ReportContributions:
    """The contributions the report reads (:func:`models.explain.contribution_matrix`), of the rows
    :func:`explained_positions` names: computed by the caller, in one piece or per partition."""

    flagged: pd.DataFrame
    """Of the flagged subjects, in ranking order."""
    sample: pd.DataFrame
    """Of the random sample of subjects of the drivers."""
    sample_alone: pd.DataFrame | None = None
    """Of that sample under the detector alone, when the version has an outcome layer."""


def explained_positions(feature_table: pd.DataFrame, scores: np.ndarray, capacity: int | float,
                        settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``feature_table`` the report explains, by position: the subjects ``scores`` flag at
    ``capacity``, in ranking order, and a random sample of ``oversight.driver_sample`` subjects
    (seeded with ``seed``), ascending."""
    refs = feature_table["subject_ref"].astype("str").to_numpy()
    flagged = ranking_order(np.asarray(scores, dtype="float64"), refs)[: flag_count(len(refs), capacity)]
    rng = np.random.default_rng(settings.seed)
    sample = np.sort(rng.choice(len(refs), size=min(settings.oversight.driver_sample, len(refs)), replace=False))
    return flagged, sample


@dataclass(frozen=True)
class Report:
    """``data`` is ``report.json``; ``figures`` maps a plot's name to its PNG, base64-encoded."""

    data: dict[str, Any]
    figures: dict[str, str]


def redact_references(text: str, references: set[str], own: str | None = None,
                      replacement: str = REFERENCE_WORD) -> str:
    """``text`` with every subject reference of ``references`` (other than ``own``) replaced.

    Examples
    --------
    >>> redact_references("Also claims at HC01 and HC02.", {"HC01", "HC02", "BC9"}, own="HC02")
    'Also claims at another claim and HC02.'
    """
    return _TOKEN.sub(lambda match: replacement if match.group(0) in references and match.group(0) != own
                      else match.group(0), text)


def _clean(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN to None, recursively."""
    if isinstance(value, Mapping):
        return {str(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return _clean(frame.to_dict("records"))


def _png(figure: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _shap_plots(contributions: np.ndarray, sample: np.ndarray, base_value: float, flagged_values: np.ndarray,
                sample_values: np.ndarray, feature_names: Sequence[str],
                examples: Sequence[tuple[int, str]]) -> dict[str, str]:
    """SHAP's own bar (flagged), beeswarm (random sample) and waterfall (each example) plots.

    The plots name each feature by its label: they are read by the panel, not by code.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import shap

    names = [feature_label(name) for name in feature_names]
    flagged = shap.Explanation(values=contributions, base_values=np.full(len(contributions), base_value),
                               data=flagged_values, feature_names=names)
    sampled = shap.Explanation(values=sample, base_values=np.full(len(sample), base_value),
                               data=sample_values, feature_names=names)
    figures = {}
    plt.figure()
    shap.plots.bar(flagged, max_display=len(names), show=False)
    figures["drivers_flagged"] = _png(plt.gcf())
    plt.figure()
    shap.plots.beeswarm(sampled, max_display=len(names), show=False)
    figures["drivers_sample"] = _png(plt.gcf())
    for position, pseudonym in examples:
        plt.figure()
        shap.plots.waterfall(flagged[position], max_display=8, show=False)
        figures[f"example_{pseudonym}"] = _png(plt.gcf())
    return figures


def _evaluation_record(evaluation: Evaluation) -> dict[str, Any]:
    return {
        "source": evaluation.source,
        "biased_sample": evaluation.biased_sample,
        "n_labelled": evaluation.n_labelled,
        "n_fraud": evaluation.n_fraud,
        "n_labelled_flagged": evaluation.n_labelled_flagged,
        "average_precision": evaluation.average_precision,
        "precision_at_capacity": evaluation.precision_at_capacity,
        "recall_at_capacity": evaluation.recall_at_capacity,
        "by_typology": _records(evaluation.by_typology),
    }


def control_lift(outcomes: pd.DataFrame, flagged_refs: Sequence[str]) -> dict[str, Any]:
    """Precision among flagged subjects over the fraud rate of the random control sample, with a 95 % interval.

    Parameters
    ----------
    outcomes : DataFrame
        ``investigation_outcomes`` (``subject_ref``, ``outcome``, ``closed_on``, ``control``).
    flagged_refs : sequence of str
        The subjects this version flags.

    Returns
    -------
    dict
        ``control_outcomes``, ``control_fraud``, ``control_fraud_rate``, ``flagged_outcomes``,
        ``flagged_fraud``, ``precision_flagged``, ``lift``, ``ci_low``, ``ci_high`` (Katz's
        log interval of a ratio of two proportions) and ``note``: why the lift cannot be
        computed yet, or ``""``.
    """
    control = outcomes.get("control", pd.Series(False, index=outcomes.index)).fillna(False).astype(bool)
    in_control = labels_from_outcomes(outcomes[control.to_numpy()]) if control.any() else None
    labels = labels_from_outcomes(outcomes) if len(outcomes) else None
    flagged_labels = labels[labels["subject_ref"].isin(set(flagged_refs))] if labels is not None else None
    n_control = 0 if in_control is None else len(in_control)
    control_fraud = 0 if in_control is None else int(in_control["fraud"].sum())
    n_flagged = 0 if flagged_labels is None else len(flagged_labels)
    flagged_fraud = 0 if flagged_labels is None else int(flagged_labels["fraud"].sum())
    result: dict[str, Any] = {
        "control_outcomes": n_control, "control_fraud": control_fraud,
        "control_fraud_rate": control_fraud / n_control if n_control else None,
        "flagged_outcomes": n_flagged, "flagged_fraud": flagged_fraud,
        "precision_flagged": flagged_fraud / n_flagged if n_flagged else None,
        "lift": None, "ci_low": None, "ci_high": None, "note": "",
    }
    if n_control == 0:
        result["note"] = ("Cannot be computed yet: no investigation outcome comes from a random control sample. "
                          "Control subjects are added to every scoring run's work list; their outcomes make "
                          "this figure measurable.")
    elif control_fraud == 0:
        result["note"] = (f"Cannot be computed yet: none of the {n_control:,} control-sample outcomes is fraud, "
                          "so the fraud rate of the control sample is not yet measurable.")
    elif flagged_fraud == 0:
        result["note"] = (f"Cannot be computed yet: none of the {n_flagged:,} outcomes of subjects this version "
                          "flags is fraud.")
    else:
        lift = result["precision_flagged"] / result["control_fraud_rate"]
        spread = norm.ppf(0.975) * math.sqrt(1 / flagged_fraud - 1 / n_flagged + 1 / control_fraud - 1 / n_control)
        result.update(lift=lift, ci_low=lift * math.exp(-spread), ci_high=lift * math.exp(spread))
    return result


def build_report(
    *,
    facts: VersionFacts,
    settings: Settings,
    feature_table: pd.DataFrame,
    scores: np.ndarray,
    detector: Explainable,
    feature_names: Sequence[str],
    contributions: ReportContributions,
    extract: Extract,
    links: pd.DataFrame,
    capacity: int | float,
    as_of: dt.date,
    truth: pd.DataFrame | None = None,
    champion: ChampionScores | None = None,
    evaluations: list[Evaluation] | None = None,
    outcome_note: str = "",
    champion_training: Mapping[str, Any] | None = None,
) -> Report:
    """Compute every figure of the report of one version.

    Parameters
    ----------
    facts : VersionFacts
    settings : Settings
        ``oversight`` (thresholds, texts) and ``seed``.
    feature_table : DataFrame
        One row per subject: ``subject_ref``, ``subject_type``, the model and context columns.
    scores : array
        The version's score of each row of ``feature_table``.
    detector : Explainable
        The version's fitted detector (explains the scores).
    feature_names : sequence of str
        The model columns.
    contributions : ReportContributions
        The detector's contributions of the rows :func:`explained_positions` names.
    extract : Extract
        The validated extract the table was built from (equality monitoring, outcomes, quality).
    links : DataFrame
        The linking stage's answer.
    capacity : int or float
        Subjects flagged (count or share), as in a scoring run.
    as_of : date
        The date the features describe; ages are taken on it.
    truth : DataFrame, optional
        A synthetic world's truth file.
    champion : ChampionScores, optional
        The current champion's scores of the same subjects.
    evaluations : list of Evaluation, optional
        :func:`models.evaluate.evaluate_training` of these scores, when the caller has it
        already (training does); computed here otherwise.
    outcome_note : str
        Training's one-line account of the reviewed cases it learnt from, or of why it did
        not (the version's ``outcomes`` tag).
    champion_training : mapping, optional
        The champion's training profiles (:func:`models.drift.distribution_profiles`), to measure
        how far this data has moved since the champion was trained.

    Returns
    -------
    Report
    """
    oversight = settings.oversight
    scores = np.asarray(scores, dtype="float64")
    refs = feature_table["subject_ref"].astype("str").to_numpy()
    flagged_positions, sample_positions = explained_positions(feature_table, scores, capacity, settings)
    flagged = np.zeros(len(refs), dtype=bool)
    flagged[flagged_positions] = True
    names = list(feature_names)
    values = np.ascontiguousarray(feature_table.loc[:, names].to_numpy(dtype="float64"))

    # why it flags: contributions of every flagged subject and of a random sample
    flagged_contributions = contributions.flagged[names].to_numpy()
    sample_contributions = contributions.sample[names].to_numpy()
    # the base value is the detector's, whichever rows it explains
    base_value = float(contributions.sample["base_value"].iloc[0])
    sample_alone = None if contributions.sample_alone is None else contributions.sample_alone[names].to_numpy()
    drivers = pd.DataFrame({
        "feature": names,
        "mean_abs_flagged": np.abs(flagged_contributions).mean(axis=0) if len(flagged_contributions) else np.nan,
        "mean_abs_sample": np.abs(sample_contributions).mean(axis=0),
    }).sort_values("mean_abs_flagged", ascending=False, kind="mergesort")

    n_examples = min(oversight.worked_examples, len(flagged_positions))
    example_ranks = np.unique(np.linspace(0, len(flagged_positions) - 1, n_examples).round().astype(int))
    examples = _worked_examples(feature_table, scores, flagged_positions, example_ranks, detector, names,
                                settings.explanations.top_reasons, set(refs))

    # how well it works
    outcomes = extract.investigation_outcomes
    if evaluations is None:
        evaluations = evaluate_training(feature_table, scores, capacity, truth=truth, outcomes=outcomes)
    lift = control_lift(outcomes, refs[flagged])
    # who a scoring run of this extract would pass over, and how many places the next subjects take
    days = settings.cases.recently_cleared_days
    passed_over = recently_cleared_summary(
        rank_subjects(refs, feature_table["subject_type"], scores, capacity, recently_cleared(outcomes, as_of, days)),
        capacity, days)

    # whom it flags
    audit = fairness.audit_characteristics(feature_table, extract.equality_monitoring, links,
                                           fairness.subject_dates_of_birth(extract), as_of)
    rates = fairness.group_flag_rates(audit, flagged, n_boot=oversight.bootstrap_samples, seed=settings.seed,
                                      min_subjects=oversight.min_group_subjects,
                                      exact_below=oversight.exact_interval_below)
    burden, burden_source = _burden(feature_table, audit, flagged, truth, outcomes, settings)
    proxy_rows = proxies.proxy_table(feature_table, audit, names, oversight.proxy_auc_threshold,
                                     min_group=oversight.min_group_subjects)

    data = {
        "version": facts.version,
        "model_name": facts.model_name,
        "model_card": _model_card(facts, settings, feature_table, extract, capacity, int(flagged.sum()),
                                  truth is not None, isinstance(detector, OutcomeWeightedDetector), outcome_note),
        "features": _feature_declarations(names),
        "never_used": {"characteristics": list(NEVER_USED), "test": PROTECTED_TEST,
                       "linking_only": list(LINKING_ONLY)},
        "drivers": _records(drivers),
        "drivers_sample_size": len(sample_positions),
        "worked_examples": examples,
        "metrics": {"evaluations": [_evaluation_record(evaluation) for evaluation in evaluations],
                    "control_sample": lift},
        "capacity": {"flagged": int(flagged.sum()), "subjects": len(refs),
                     "overall_flag_rate": float(flagged.mean()) if len(refs) else None,
                     "recently_cleared": passed_over},
        "fairness": _records(rates),
        "fairness_call_outs": fairness.call_outs(rates, oversight.ratio_low, oversight.ratio_high),
        "fairness_rules": {"min_group_subjects": oversight.min_group_subjects,
                           "exact_interval_below": oversight.exact_interval_below,
                           "exact_interval": fairness.EXACT_INTERVAL, "ratio_low": oversight.ratio_low,
                           "ratio_high": oversight.ratio_high, "bootstrap_samples": oversight.bootstrap_samples,
                           "multiple_comparisons": fairness.MULTIPLE_COMPARISONS,
                           "false_discovery_rate": fairness.FALSE_DISCOVERY_RATE,
                           "comparisons": int(rates["p_adjusted"].notna().sum())},
        "false_positive_burden": _records(burden),
        "false_positive_burden_source": burden_source,
        "proxies": _records(proxy_rows),
        "proxy_threshold": oversight.proxy_auc_threshold,
        "data_quality": _data_quality(extract),
        "champion": _against_champion(champion, facts, feature_table, scores, flagged, capacity, audit, truth,
                                      outcomes, evaluations, rates, settings),
        "outcomes_changed": _outcomes_changed(detector, outcome_note, outcomes, feature_table, values, names, flagged,
                                              capacity, sample_alone, sample_contributions, audit, truth,
                                              rates, settings),
    }
    data["drift"] = _drift_since_champion(champion_training, champion, facts, feature_table, names, scores,
                                          settings.drift.psi_alert)
    data["summary"] = _decision_summary(data)
    figures = _shap_plots(flagged_contributions, sample_contributions, base_value, values[flagged_positions],
                          values[sample_positions], names,
                          [(int(rank), example["pseudonym"]) for rank, example in zip(example_ranks, examples,
                                                                                       strict=True)])
    return Report(data=_clean(data), figures=figures)


def _model_card(facts: VersionFacts, settings: Settings, feature_table: pd.DataFrame, extract: Extract,
                capacity: int | float, n_flagged: int, has_truth: bool, learnt: bool,
                outcome_note: str) -> dict[str, Any]:
    """The model card; ``learnt`` says whether the version has an outcome layer, ``outcome_note`` why (not)."""
    subject_types = feature_table["subject_type"].value_counts().sort_index()
    labels_used = ("no labels are used to fit the detector." if not learnt else
                   "no labels are used to fit the detector; an outcome layer on top of it learnt from reviewed "
                   "cases of the extract (section 9).")
    return {
        "details": {
            "model_name": facts.model_name, "version": facts.version, "registered_at": facts.registered_at,
            "as_of": facts.as_of, "code_version": facts.code_version, "data_fingerprint": facts.data_fingerprint,
            "trained_by": facts.trained_by,
            "fitted_on": facts.training_sample,
            "detector": "isolation forest, autoencoder and empirical tails, combined with weights "
                        + ", ".join(f"{name} {weight:g}" for name, weight in settings.detector.weights.items())
                        + ("; with an outcome layer learnt from reviewed cases" if learnt else ""),
            "outcomes_used": ("yes: " if learnt else "no: ") + (outcome_note or "the detector alone"),
            "capacity": capacity,
        },
        "intended_use": INTENDED_USE,
        "out_of_scope": list(OUT_OF_SCOPE),
        "training_data": {
            "subjects": len(feature_table),
            "by_type": {str(name): int(count) for name, count in subject_types.items()},
            "rows_per_table": {name: quality.rows_valid for name, quality in extract.quality.items()},
            "description": "Every live benefit and housing claim of the extract on the as-of date; " + labels_used,
        },
        "evaluation_data": ("The same subjects, against " + ("the synthetic world's truth file (every subject "
                            "labelled), " if has_truth else "") + "past investigation outcomes (a small, biased "
                            "sample) and outcomes of random control samples where they exist."),
        "flagged": n_flagged,
        "caveats": list(CAVEATS),
    }


def _feature_declarations(names: Sequence[str]) -> list[dict[str, Any]]:
    rows = []
    for name in names:
        spec = FEATURES_BY_NAME[name]
        rows.append({
            "name": spec.name, "label": spec.label, "meaning": spec.meaning, "unit": spec.unit,
            "suspicious": spec.suspicious, "applies_to": spec.applies_to,
            "reads": [CONTEXT[column].meaning for column in spec.context if column in CONTEXT],
        })
    return rows


def _worked_examples(feature_table: pd.DataFrame, scores: np.ndarray, flagged_positions: np.ndarray,
                     example_ranks: np.ndarray, detector: Explainable, names: list[str], top_k: int,
                     references: set[str]) -> list[dict[str, Any]]:
    rows = feature_table.iloc[flagged_positions[example_ranks]].reset_index(drop=True)
    explanations = explain_subjects(detector, rows, names, scores[flagged_positions[example_ranks]])
    reasons = top_reasons(explanations, rows, top_k)
    examples = []
    for position, (rank, row) in enumerate(zip(example_ranks, rows.itertuples(index=False), strict=True)):
        own = reasons[reasons["subject_ref"] == row.subject_ref].sort_values("position")
        examples.append({
            "pseudonym": f"Subject {PSEUDONYMS[position]}",
            "rank": int(rank) + 1,
            "subject_type": row.subject_type.replace("_", " "),
            "score": float(scores[flagged_positions[rank]]),
            # a pseudonym is no use beside the subject's address: the panel reads neither
            "reasons": [without_addresses(redact_references(text, references)) for text in own["reason"]],
        })
    return examples


def _burden(feature_table: pd.DataFrame, audit: pd.DataFrame, flagged: np.ndarray, truth: pd.DataFrame | None,
            outcomes: pd.DataFrame, settings: Settings) -> tuple[pd.DataFrame, str]:
    """False-positive burden from the truth file, else from past investigations, else nothing."""
    if truth is not None:
        # the truth file labels every subject, in the feature table's order
        labels = labels_from_truth(feature_table, truth)
        positions = np.arange(len(feature_table))
        source = "truth file: every subject labelled"
    elif len(outcomes):
        labels = labels_from_outcomes(outcomes)
        known = pd.Series(np.arange(len(feature_table)),
                          index=feature_table["subject_ref"].to_numpy(dtype=object).astype(str).astype(object))
        labels = labels[labels["subject_ref"].isin(known.index)]
        positions = known.reindex(labels["subject_ref"]).to_numpy()
        source = "past investigations: a small, biased sample of subjects"
    else:
        return pd.DataFrame(columns=fairness.BURDEN_COLUMNS), ""
    oversight = settings.oversight
    burden = fairness.false_positive_burden(
        audit.iloc[positions].reset_index(drop=True), flagged[positions], labels["fraud"].to_numpy(),
        n_boot=oversight.bootstrap_samples, seed=settings.seed, min_subjects=oversight.min_group_subjects,
        exact_below=oversight.exact_interval_below)
    return burden, source


def _data_quality(extract: Extract) -> list[dict[str, Any]]:
    rows = []
    for name, quality in extract.quality.items():
        # a column whose empty cell is an answer (a claim not ended) is no gap in the data
        answers = {column.name for column in CONTRACT[name].columns if column.empty_means}
        completeness = {column: share for column, share in quality.completeness.items() if column not in answers}
        least = min(completeness, key=completeness.get) if completeness else ""
        rows.append({
            "table": name, "rows_in": quality.rows_in, "rows_valid": quality.rows_valid,
            "rows_refused": quality.rows_refused, "validity": quality.validity,
            "key_uniqueness": quality.key_uniqueness, "least_complete_column": least,
            "least_completeness": completeness.get(least),
        })
    return _clean(rows)


def _against_champion(champion: ChampionScores | None, facts: VersionFacts, feature_table: pd.DataFrame,
                      scores: np.ndarray, flagged: np.ndarray, capacity: int | float, audit: pd.DataFrame,
                      truth: pd.DataFrame | None, outcomes: pd.DataFrame, evaluations: list[Evaluation],
                      rates: pd.DataFrame, settings: Settings) -> dict[str, Any]:
    if champion is None:
        return {"version": None, "note": "There is no champion yet to compare with: this version would be the "
                                         "first to score."}
    if champion.version == facts.version:
        return {"version": None, "note": "This version is the champion: the version that scores now. There is no "
                                         "other version to compare it with."}
    refs = feature_table["subject_ref"].astype("str").to_numpy()
    theirs = flagged_mask(champion.scores, refs, capacity)
    both = int((flagged & theirs).sum())
    their_evaluations = evaluate_training(feature_table, champion.scores, capacity, truth=truth, outcomes=outcomes)
    metric_rows = []
    for ours, their in zip(evaluations, their_evaluations, strict=True):
        for name in ("average_precision", "precision_at_capacity", "recall_at_capacity"):
            new, old = getattr(ours, name), getattr(their, name)
            metric_rows.append({"source": ours.source, "metric": name, "champion": old, "this_version": new,
                                "change": new - old})
    group_rows = _group_rate_changes(rates, audit, theirs, settings, other="champion", this="this_version")
    return {
        "version": champion.version,
        "flagged_both": both,
        "overlap": both / int(flagged.sum()) if flagged.any() else None,
        "rank_correlation": float(spearmanr(scores, champion.scores).statistic),
        "metrics": _clean(metric_rows),
        "group_flag_rates": _records(group_rows),
        "note": "",
    }


def _group_rate_changes(rates: pd.DataFrame, audit: pd.DataFrame, other_flagged: np.ndarray, settings: Settings,
                        *, other: str, this: str) -> pd.DataFrame:
    """Each group's flag rate under another flagged list beside this version's (``rates``), and the change.

    Columns ``characteristic``, ``group``, ``other``, ``this`` (as named), ``change`` and ``suppressed``
    (either list's group too small to show).
    """
    oversight = settings.oversight
    other_rates = fairness.group_flag_rates(audit, other_flagged, n_boot=None, seed=settings.seed, pairs=False,
                                            min_subjects=oversight.min_group_subjects,
                                            exact_below=oversight.exact_interval_below)
    singles = rates[~rates["characteristic"].str.contains(fairness.INTERSECTION, regex=False)]
    groups = singles.merge(other_rates, on=["characteristic", "group"], suffixes=("", "_other"))
    return pd.DataFrame({
        "characteristic": groups["characteristic"], "group": groups["group"],
        other: groups["flag_rate_other"], this: groups["flag_rate"],
        "change": groups["flag_rate"] - groups["flag_rate_other"],
        "suppressed": groups["suppressed"] | groups["suppressed_other"],
    })


def _outcomes_changed(detector: Explainable, note: str, outcomes: pd.DataFrame, feature_table: pd.DataFrame,
                      values: np.ndarray, names: list[str], flagged: np.ndarray, capacity: int | float,
                      before_contributions: np.ndarray | None, sample_contributions: np.ndarray, audit: pd.DataFrame,
                      truth: pd.DataFrame | None, rates: pd.DataFrame, settings: Settings) -> dict[str, Any]:
    """What learning from reviewed cases changed: weights, who enters and leaves the list, fairness.

    "Before" is the detector alone (the version without its outcome layer) on the same
    training subjects. A feature's weight is its share of the score's mean absolute
    contribution over the random sample of subjects of the drivers, so that the two
    scores' different scales do not matter; the learned weight ``w_f`` is shown beside it.
    ``before_contributions`` are the detector alone's contributions of that sample (``None``
    without an outcome layer), ``sample_contributions`` the version's.
    """
    refs = feature_table["subject_ref"].astype("str").to_numpy()
    reviewed = reviewed_subjects(outcomes, refs, use_untracked=settings.training.outcomes.use_untracked)
    result: dict[str, Any] = {
        "fitted": isinstance(detector, OutcomeWeightedDetector), "note": note,
        "sources": _records(reviewed.summary()), "not_in_extract": reviewed.not_in_extract,
        "control_probability": reviewed.control_probability,
    }
    if not result["fitted"]:
        return result
    alone = detector.detector
    before_share = np.abs(before_contributions).mean(axis=0)
    after_share = np.abs(sample_contributions).mean(axis=0)
    weights = pd.DataFrame({
        "feature": names,
        "before": before_share / before_share.sum(),
        "after": after_share / after_share.sum(),
        "learned_weight": detector.feature_weights,
    })
    weights["change"] = weights["after"] - weights["before"]
    # the detector alone's scores of these subjects: its own training scores may be of a sample or another extract
    before = flagged_mask(alone.decision_function(values), refs, capacity)
    typology = "all subjects"
    if truth is not None:
        labels = labels_from_truth(feature_table, truth)
        typology = np.where(labels["fraud"].to_numpy(), labels["typology"].to_numpy(), "honest")
    moved = pd.DataFrame({"typology": typology, "entered": flagged & ~before, "left": before & ~flagged,
                          "before": before, "after": flagged})
    by_typology = (moved.groupby("typology", sort=True)[["entered", "left", "before", "after"]].sum()
                   .reset_index().astype({"entered": int, "left": int, "before": int, "after": int}))
    result.update(
        anomaly_weight=detector.anomaly_weight, intercept=detector.intercept,
        weights=_records(weights.sort_values("after", ascending=False, kind="mergesort")),
        entered=int(moved["entered"].sum()), left=int(moved["left"].sum()),
        moved_by_typology=_records(by_typology),
        group_flag_rates=_records(_group_rate_changes(rates, audit, before, settings, other="detector_alone",
                                                      this="with_outcomes")),
    )
    return result
def _drift_since_champion(profiles: Mapping[str, Any] | None, champion: ChampionScores | None, facts: VersionFacts,
                          feature_table: pd.DataFrame, names: Sequence[str], scores: np.ndarray,
                          threshold: float) -> dict[str, Any]:
    """How far this data's features and scores have moved from the champion's training data (PSI), and
    which features one version reads and the other does not."""
    if champion is None or champion.version == facts.version or profiles is None:
        note = ("There is no champion yet: no earlier training data to measure drift against." if champion is None
                else "This version is the champion: its training data is the reference later runs are measured "
                     "against." if champion.version == facts.version
                else f"The champion, version {champion.version}, was trained without drift profiles: drift cannot "
                     "be measured against it.")
        return {"against": None, "note": note}
    psi = compare(feature_table, names, scores, {"champion_training": profiles})
    ordered = psi.sort_values(["psi", "name"], ascending=[False, True], kind="mergesort")
    features = ordered[ordered["name"] != SCORE]
    worst = features.iloc[0] if len(features) else None
    score_psi = ordered.loc[ordered["name"] == SCORE, "psi"]
    return {
        "against": champion.version, "threshold": threshold, "note": "",
        "worst_feature": None if worst is None else str(worst["name"]),
        "worst_psi": None if worst is None else float(worst["psi"]),
        "score_psi": float(score_psi.iloc[0]) if len(score_psi) else None,
        "over_threshold": [str(name) for name in features.loc[features["psi"] > threshold, "name"]],
        "features_added": sorted(set(names) - set(profiles)),
        "features_removed": sorted(set(profiles) - set(names) - {SCORE}),
    }


def _largest(rows: Sequence[Mapping[str, Any]], size: Any, keep: Any = lambda row: True) -> int | None:
    """The position of the row of ``rows`` (not suppressed, kept by ``keep``) with the largest ``size``."""
    candidates = [(size(row), position) for position, row in enumerate(rows)
                  if not row.get("suppressed") and keep(row) and size(row) is not None]
    return max(candidates, key=lambda pair: (pair[0], -pair[1]))[1] if candidates else None


def _gap(row: Mapping[str, Any]) -> float | None:
    """How far a group's flag rate is from everyone's, either way: |ln ratio| (a group never flagged is furthest)."""
    ratio = row.get("ratio")
    return None if ratio is None else abs(math.log(max(ratio, 1e-9)))


def _decision_summary(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the decision checklist shows beside each question: positions into the report's tables, and the
    few figures no table holds (honest subjects flagged in all), so that every figure has one source."""
    evaluations = data["metrics"]["evaluations"]
    first = evaluations[0] if evaluations else None
    honest = None
    # no labelled subject among the flagged: precision is NaN, and no honest subject is known flagged
    if first is not None and first["precision_at_capacity"] is not None and not math.isnan(first["precision_at_capacity"]):
        honest_subjects = first["n_labelled"] - first["n_fraud"]
        flagged = round(first["n_labelled_flagged"] * (1 - first["precision_at_capacity"]))
        honest = {"source": first["source"], "honest_subjects": honest_subjects, "honest_flagged": flagged,
                  "per_1000": 1000 * flagged / honest_subjects if honest_subjects else None}
    rules = data["fairness_rules"]
    single = lambda row: fairness.INTERSECTION not in row["characteristic"]  # noqa: E731
    gap = _largest(data["fairness"], _gap, single)
    quality = data["data_quality"]
    champion = data["champion"]
    attention = {
        "performance": first is None or first["precision_at_capacity"] is None,
        "honest": honest is None,
        "fairness": bool(data["fairness_call_outs"]),
        "proxies": any(row["possible_proxy"] for row in data["proxies"]),
        "drift": bool(data["drift"]["against"] is not None and data["drift"]["over_threshold"]),
        "quality": any(row["validity"] is not None and row["validity"] < 0.99 for row in quality),
        "change": bool(champion["version"] is not None and champion["overlap"] is not None
                       and champion["overlap"] < 0.8),
    }
    return {
        "honest_flagged": honest,
        "largest_gap": gap,
        "largest_gap_significant": bool(gap is not None and data["fairness"][gap]["p_adjusted"] is not None
                                        and data["fairness"][gap]["p_adjusted"] < rules["false_discovery_rate"]),
        "highest_burden": _largest(data["false_positive_burden"], lambda row: row.get("per_1000"), single),
        "strongest_proxy": _largest(data["proxies"], lambda row: row.get("auc")),
        "proxies_named": sum(bool(row["possible_proxy"]) for row in data["proxies"]),
        "rows_refused": sum(row["rows_refused"] for row in quality),
        "least_valid_table": _largest(quality, lambda row: None if row["validity"] is None else -row["validity"]),
        "precision_change": next((position for position, row in enumerate(champion.get("metrics", []))
                                  if first is not None and row["source"] == first["source"]
                                  and row["metric"] == "precision_at_capacity"), None),
        "attention": [key for key, flagged in attention.items() if flagged],
    }


# ------------------------------------------------------------------------------------------- rendering


def _number(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def _percent(value: Any, digits: int = 2) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f} %"


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES),
                                     autoescape=jinja2.select_autoescape(["html", "j2"]),
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters["number"] = _number
    environment.filters["percent"] = _percent
    environment.filters["words"] = lambda name: " × ".join(
        fairness.CHARACTERISTIC_WORDS.get(part, part) for part in str(name).split(fairness.INTERSECTION))
    environment.filters["label"] = lambda name: str(name).replace("_", " ")
    environment.filters["feature"] = feature_label
    environment.tests["search"] = lambda text, pattern: pattern in str(text)
    return environment


def render_html(report: Report, settings: Settings) -> str:
    """The report as one self-contained HTML page (images inline, no network), printable."""
    return _environment().get_template("report.html.j2").render(
        report=report.data, figures=report.figures, settings=settings, TO_BE_COMPLETED=TO_BE_COMPLETED,
        TRUTH=TRUTH)


def write_report(report: Report, out_dir: str | Path, settings: Settings) -> dict[str, Path]:
    """Write ``report.html``, ``report.json``, ``atrs.json`` and ``atrs.md`` into ``out_dir``.

    Returns the paths written, by name (``html``, ``json``, ``atrs_json``, ``atrs_markdown``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = atrs_record(report.data, settings)
    paths = {"html": out / REPORT_HTML, "json": out / REPORT_JSON, "atrs_json": out / ATRS_JSON,
             "atrs_markdown": out / ATRS_MARKDOWN}
    paths["html"].write_text(render_html(report, settings), encoding="utf-8")
    paths["json"].write_text(json.dumps(report.data, indent=2) + "\n", encoding="utf-8")
    paths["atrs_json"].write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    paths["atrs_markdown"].write_text(atrs_markdown(record), encoding="utf-8")
    return paths
