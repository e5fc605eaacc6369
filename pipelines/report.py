"""The report flow: a model version's report to the oversight panel, afresh on an extract.

The same steps as at the end of training (``pipelines.train``), on a registered version
and any data directory. The report the panel signs off is the one logged at training
(``oversight.signoff.download_report`` copies it out).

The report's work over many rows (the version's and the champion's scores of every subject,
the contributions of the flagged subjects and of the drivers' sample) runs per partition on the
``dask`` engine (:mod:`pipelines.engine`); :func:`champion_scores` and :func:`report_contributions`
do it for training too.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from configs.settings import OrchestrationSettings, Settings
from models.evaluate import configured_capacity
from models.explain import Explainable, contribution_matrix
from models.outcomes import OutcomeWeightedDetector
from models.registry import OUTCOMES_TAG, SCORE_COLUMN, LoadedModel, load_model, resolve_version
from oversight.report import (
    ChampionScores,
    ReportContributions,
    build_report,
    explained_positions,
    write_report,
)
from oversight.signoff import TRAINED_BY_TAG, current_champion, version_facts
from pipelines.drift import training_profiles
from pipelines.engine import on_engine, per_partition
from pipelines.extract_cache import describe_read
from pipelines.prepare import prepare_features
from synthetic.truth import read_truth

prepare = task(prepare_features, name="prepare features", cache_policy=NO_CACHE)
load = task(load_model, name="load registered model", cache_policy=NO_CACHE)
score = task(LoadedModel.score, name="score subjects", cache_policy=NO_CACHE)
score_champion = task(LoadedModel.score, name="score with the champion", cache_policy=NO_CACHE)
explain = task(contribution_matrix, name="explain subjects for the report", cache_policy=NO_CACHE)
report = task(build_report, name="build oversight report", cache_policy=NO_CACHE)
read_labels = task(read_truth, name="read truth file", cache_policy=NO_CACHE)


def champion_scores(model_name: str, feature_table: pd.DataFrame, orchestration: OrchestrationSettings,
                    reported: ChampionScores | None = None) -> ChampionScores | None:
    """The current champion's scores of ``feature_table``; ``None`` when there is no champion yet.

    ``reported``, the version being reported on with its scores of the same table, is returned
    as it is when that version is the champion: it is not loaded and scored a second time.
    """
    version = current_champion(model_name)
    if version is None:
        return None
    if reported is not None and reported.version == version:
        return reported
    champion = load(version, model_name=model_name)
    scores = per_partition(score_champion, champion, rows=feature_table, orchestration=orchestration)
    return ChampionScores(version=champion.version, scores=scores[SCORE_COLUMN].to_numpy(dtype="float64"))


def report_contributions(detector: Explainable, feature_table: pd.DataFrame, feature_names: Sequence[str],
                         scores: np.ndarray, capacity: int | float, settings: Settings) -> ReportContributions:
    """The contributions the report of ``detector`` reads, of the rows ``explained_positions`` names."""
    flagged, sample = explained_positions(feature_table, scores, capacity, settings)

    def explained(explainer: Explainable, positions: np.ndarray) -> pd.DataFrame:
        return per_partition(explain, explainer, feature_names, rows=feature_table.iloc[positions],
                             orchestration=settings.orchestration)

    alone = detector.detector if isinstance(detector, OutcomeWeightedDetector) else None
    return ReportContributions(flagged=explained(detector, flagged), sample=explained(detector, sample),
                               sample_alone=None if alone is None else explained(alone, sample))


def report_flow(
    model_version: str | int,
    out_dir: str | Path,
    settings: Settings,
    data_dir: str | Path,
    truth_path: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Report on ``model_version`` afresh on the extract in ``data_dir``; write it into ``out_dir``.

    The Prefect flow ``report`` runs in this process (``orchestration.engine: local``) or with
    Prefect's Dask task runner (``dask``): then the scores and contributions are worked out per
    partition of the subjects on the Dask cluster. Both engines write the same report.

    Parameters
    ----------
    model_version : str or int
        Registry version number or alias.
    out_dir : path
        Receives ``report.html``, ``report.json``, ``atrs.json`` and ``atrs.md``.
    settings : Settings
    data_dir : path
        A data directory in the input contract.
    truth_path : path, optional
        A truth file to evaluate against.
    cache_dir : path, optional
        The workspace's cache of validated extracts (``pipelines.extract_cache``).

    Returns
    -------
    dict
        ``version``, ``html`` (the path of ``report.html``), ``extract`` (whether it was read
        from the cache of validated extracts) and ``seconds``: wall time of
        preparing the inputs (features, scores) and of the report itself (figures and files).
    """
    return on_engine(reporting_flow, settings.orchestration)(model_version, out_dir, settings, data_dir,
                                                             truth_path=truth_path, cache_dir=cache_dir)


@flow(name="report", validate_parameters=False)
def reporting_flow(
    model_version: str | int,
    out_dir: str | Path,
    settings: Settings,
    data_dir: str | Path,
    truth_path: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """The Prefect flow of :func:`report_flow`, on the task runner it was given."""
    name = settings.registry.model_name
    version = resolve_version(model_version, model_name=name)
    started = time.perf_counter()
    model = load(version, model_name=name)
    extract, links, feature_table, as_of = prepare(data_dir, settings, cache_dir=cache_dir)
    scores = per_partition(score, model, rows=feature_table,
                           orchestration=settings.orchestration)[SCORE_COLUMN].to_numpy()
    champion = champion_scores(name, feature_table, settings.orchestration,
                               reported=ChampionScores(version=version, scores=scores))
    truth = read_labels(truth_path) if truth_path is not None else None
    capacity = configured_capacity(settings.capacity)
    prepared = time.perf_counter()
    contributions = report_contributions(model.detector, feature_table, model.feature_names, scores, capacity,
                                         settings)
    made = report(facts=version_facts(name, version, model.tags.get(TRAINED_BY_TAG, "")), settings=settings,
                  feature_table=feature_table, scores=scores, detector=model.detector,
                  feature_names=model.feature_names, contributions=contributions, extract=extract, links=links,
                  capacity=capacity, as_of=as_of, truth=truth, champion=champion,
                  outcome_note=model.tags.get(OUTCOMES_TAG, ""),
                  champion_training=None if champion is None or champion.version == version
                  else training_profiles(name, champion.version))
    html = write_report(made, out_dir, settings)["html"]
    return {"version": version, "html": html, "extract": describe_read(extract, settings),
            "seconds": {"inputs": round(prepared - started, 3), "report": round(time.perf_counter() - prepared, 3)}}
