"""The training flow: features, detector, evaluation, a new registered model version and its report.

The version is registered as ``challenger``: it scores only once the oversight panel
has read its report (logged with it here) and approved it (``oversight.signoff``).

Each step is a named Prefect task wrapping a function of ``features/`` or
``models/``, so a failed run names the step that failed. Only the steps that
talk to the MLflow store are retried: they do remote I/O (a Postgres store);
the others would fail the same way again. Registering looks up the run's
version first, so its retry never makes a second version.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from configs.settings import Settings
from features.contract import extract_summary
from features.definitions import FEATURES
from features.fingerprints import extract_row_counts, fingerprint_inputs
from models.evaluate import configured_capacity, evaluate_training
from models.registry import (
    SCORE_COLUMN,
    DetectorModel,
    log_model_run,
    name_challenger,
    register_logged_model,
)
from models.sampling import draw_training_sample
from models.training import fit_detector, learn_outcomes
from oversight.report import build_report, write_report
from oversight.signoff import record_training, trainer_name, version_facts
from pipelines.drift import log_training_profiles, training_profiles
from pipelines.engine import on_engine, per_partition
from pipelines.extract_cache import describe_read
from pipelines.prepare import prepare_features
from pipelines.report import champion_scores, report_contributions
from pipelines.validate import REJECTS_FILE
from pipelines.workspace import Workspace
from synthetic.truth import read_truth

STORE_RETRIES = 2
STORE_RETRY_DELAY_SECONDS = 5

# Inputs are frames and fitted models: never hash them for Prefect's cache.
prepare = task(prepare_features, name="prepare features", cache_policy=NO_CACHE)
fingerprint = task(fingerprint_inputs, name="fingerprint input tables", cache_policy=NO_CACHE)
draw_sample = task(draw_training_sample, name="draw training sample", cache_policy=NO_CACHE)
fit = task(fit_detector, name="fit detector", cache_policy=NO_CACHE)
learn = task(learn_outcomes, name="learn from reviewed cases", cache_policy=NO_CACHE)
score_all = task(DetectorModel.score, name="score every subject", cache_policy=NO_CACHE)
read_labels = task(read_truth, name="read truth file", cache_policy=NO_CACHE)
evaluate = task(evaluate_training, name="evaluate against labels", cache_policy=NO_CACHE)
# the steps that talk to the MLflow store (possibly remote) are retried
store_task = functools.partial(task, cache_policy=NO_CACHE, retries=STORE_RETRIES,
                               retry_delay_seconds=STORE_RETRY_DELAY_SECONDS)
log_run = store_task(log_model_run, name="log training run")
register = store_task(register_logged_model, name="register model version")
make_challenger = store_task(name_challenger, name="name the version challenger")
report = task(build_report, name="build oversight report", cache_policy=NO_CACHE)
log_report = store_task(record_training, name="log report and trainer")
log_profiles = store_task(log_training_profiles, name="log drift reference")


def train_flow(
    data_dir: str | Path,
    workspace: Workspace,
    settings: Settings,
    truth_path: str | Path | None = None,
    trained_by: str | None = None,
) -> dict[str, Any]:
    """Fit the detector on the extract in ``data_dir``, evaluate it, log it and register it.

    The Prefect flow ``train`` runs in this process (``orchestration.engine: local``) or with
    Prefect's Dask task runner (``dask``, :mod:`pipelines.engine`): the detector is fitted on its
    sample in the flow either way; the scores of every subject (the new detector's and the
    champion's) and the report's contributions are then worked out per partition of the
    subjects on the Dask cluster. Both engines register the same version, with the same metrics
    and report.

    Parameters
    ----------
    data_dir : path
        A data directory in the input contract.
    workspace : Workspace
        Activated; its artefact directory receives the run's artefacts.
    settings : Settings
    truth_path : path, optional
        A synthetic world's truth file to evaluate against, besides any
        ``investigation_outcomes`` in the extract. Those outcomes are also learnt from
        (``models.outcomes``) when there are enough reviewed subjects; the truth file never is.
    trained_by : str, optional
        Recorded as the version's trainer, who may not approve it; default
        ``oversight.trained_by``, else the operating-system user.

    Returns
    -------
    dict
        ``model_name``, ``version``, ``alias``, ``run_id``, ``as_of`` (ISO date),
        ``n_subjects``, ``n_fitted_subjects`` (the detector's sample of them: ``training.max_subjects``),
        ``data_fingerprint``, ``metrics`` (name to value, per label source),
        ``rejects_file`` (the extract's refused rows, written to the workspace's ``training_dir``
        before the reject limit can stop the run; their counts go to MLflow), ``extract`` (whether
        it was read from the workspace's cache of validated extracts), ``trained_by``,
        ``report_sha256`` (of the logged ``report.html``) and ``outcomes`` (one line: which reviewed
        cases the version learnt from and how they were weighted, or why it is the detector alone).
    """
    return on_engine(training_flow, settings.orchestration)(data_dir, workspace, settings, truth_path=truth_path,
                                                            trained_by=trained_by)


@flow(name="train", validate_parameters=False)
def training_flow(
    data_dir: str | Path,
    workspace: Workspace,
    settings: Settings,
    truth_path: str | Path | None = None,
    trained_by: str | None = None,
) -> dict[str, Any]:
    """The Prefect flow of :func:`train_flow`, on the task runner it was given."""
    trained_by = trained_by or trainer_name(settings)
    extract, links, feature_table, as_of = prepare(data_dir, settings, report_dir=workspace.training_dir,
                                                   cache_dir=workspace.extracts_dir)
    fingerprints = fingerprint(data_dir, extract_row_counts(extract), extract.digests)
    sample = draw_sample(feature_table, settings.training.max_subjects, settings.seed)
    model = fit(feature_table, FEATURES, settings, sample)
    # the detector's score of every subject: the outcome layer, evaluation, drift reference and
    # report are of every subject, as a scoring run sees them, whatever the fit saw
    # (a fit on every row scored every row already)
    anomaly = (model.detector.decision_scores_ if sample.is_everyone
               else per_partition(score_all, model, rows=feature_table,
                                  orchestration=settings.orchestration)[SCORE_COLUMN].to_numpy(dtype="float64"))
    # with enough reviewed subjects, an outcome layer on top of the detector; else the detector alone
    model, learning = learn(model, feature_table, FEATURES, extract.investigation_outcomes, settings, anomaly)
    scores = anomaly if learning.layer is None else model.detector.decision_scores_
    truth = read_labels(truth_path) if truth_path is not None else None
    capacity = configured_capacity(settings.capacity)
    evaluations = evaluate(feature_table, scores, capacity, truth=truth,
                           outcomes=extract.investigation_outcomes)
    # the champion before this version is registered: what the panel would be switching from
    champion = champion_scores(settings.registry.model_name, feature_table, settings.orchestration)
    logged = log_run(model=model, feature_table=feature_table, feature_specs=FEATURES, settings=settings,
                     as_of=as_of, fingerprints=fingerprints, evaluations=evaluations,
                     data_quality=extract_summary(extract), artifact_location=workspace.artifact_location,
                     outcome_learning=learning, sample=sample)
    # the distributions later scoring runs measure their drift against, logged before the version exists
    log_profiles(logged.run_id, feature_table, model.pipeline.columns, scores)
    version = register(logged, model_name=settings.registry.model_name)
    facts = version_facts(version.model_name, version.version, trained_by)
    contributions = report_contributions(model.detector, feature_table, model.pipeline.columns, scores, capacity,
                                         settings)
    made = report(facts=facts, settings=settings, feature_table=feature_table,
                  scores=scores, detector=model.detector, feature_names=model.pipeline.columns,
                  contributions=contributions, extract=extract, links=links, capacity=capacity,
                  as_of=as_of, truth=truth, champion=champion, evaluations=evaluations,
                  outcome_note=learning.note,
                  champion_training=None if champion is None else training_profiles(version.model_name, champion.version))
    with tempfile.TemporaryDirectory() as staging:
        write_report(made, staging, settings)
        report_sha = log_report(version.model_name, version.version, version.run_id, trained_by, staging)
    # last: a version whose report or trainer is missing (a stopped run) is named by no alias
    version = make_challenger(version)
    return {
        "model_name": version.model_name,
        "version": version.version,
        "alias": version.alias,
        "run_id": version.run_id,
        "as_of": as_of.isoformat(),
        "n_subjects": len(feature_table),
        "n_fitted_subjects": len(sample.positions),
        "data_fingerprint": version.tags["data_fingerprint"],
        "metrics": {name: value for evaluation in evaluations for name, value in evaluation.metrics().items()},
        "rejects_file": str(workspace.training_dir / REJECTS_FILE),
        "extract": describe_read(extract, settings),
        "trained_by": trained_by,
        "report_sha256": report_sha,
        "outcomes": learning.note,
    }
