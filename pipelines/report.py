"""The report flow: a model version's report to the oversight panel, afresh on an extract.

The same steps as at the end of training (``pipelines.train``), on a registered version
and any data directory. The report the panel signs off is the one logged at training
(``oversight.signoff.download_report`` copies it out).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from configs.settings import Settings
from models.evaluate import configured_capacity
from models.registry import OUTCOMES_TAG, SCORE_COLUMN, LoadedModel, load_model, resolve_version
from oversight.report import ChampionScores, build_report, write_report
from oversight.signoff import TRAINED_BY_TAG, champion_scores, version_facts
from pipelines.drift import training_profiles
from pipelines.extract_cache import describe_read
from pipelines.prepare import prepare_features
from synthetic.truth import read_truth

prepare = task(prepare_features, name="prepare features", cache_policy=NO_CACHE)
load = task(load_model, name="load registered model", cache_policy=NO_CACHE)
score = task(LoadedModel.score, name="score subjects", cache_policy=NO_CACHE)
score_champion = task(champion_scores, name="score with the champion", cache_policy=NO_CACHE)
report = task(build_report, name="build oversight report", cache_policy=NO_CACHE)
read_labels = task(read_truth, name="read truth file", cache_policy=NO_CACHE)


@flow(name="report", validate_parameters=False)
def report_flow(
    model_version: str | int,
    out_dir: str | Path,
    settings: Settings,
    data_dir: str | Path,
    truth_path: str | Path | None = None,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Report on ``model_version`` afresh on the extract in ``data_dir``; write it into ``out_dir``.

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
    name = settings.registry.model_name
    version = resolve_version(model_version, model_name=name)
    started = time.perf_counter()
    model = load(version, model_name=name)
    extract, links, feature_table, as_of = prepare(data_dir, settings, cache_dir=cache_dir)
    scores = score(model, feature_table)[SCORE_COLUMN].to_numpy()
    champion = score_champion(name, feature_table, reported=ChampionScores(version=version, scores=scores))
    truth = read_labels(truth_path) if truth_path is not None else None
    prepared = time.perf_counter()
    made = report(facts=version_facts(name, version, model.tags.get(TRAINED_BY_TAG, "")), settings=settings,
                  feature_table=feature_table, scores=scores, detector=model.detector,
                  feature_names=model.feature_names, extract=extract, links=links,
                  capacity=configured_capacity(settings.capacity), as_of=as_of, truth=truth, champion=champion,
                  outcome_note=model.tags.get(OUTCOMES_TAG, ""),
                  champion_training=None if champion is None or champion.version == version
                  else training_profiles(name, champion.version))
    html = write_report(made, out_dir, settings)["html"]
    return {"version": version, "html": html, "extract": describe_read(extract, settings),
            "seconds": {"inputs": round(prepared - started, 3), "report": round(time.perf_counter() - prepared, 3)}}
