"""The scoring flow: the ranked, explained case list of every live subject.

The registered model version (alias ``champion`` unless told otherwise), which the
oversight panel must have approved → validate
→ link → features (``pipelines.prepare``) → score every live subject → rank and
capacity, passing over the subjects a recent investigation cleared → the random control sample → explain the flagged subjects → reasons in words → related subjects →
drift against the model's training data and the previous run → the outputs of the
data contract, ``drift.json``, ``drift.html`` and a ``run_summary.json``, kept under the
run's id in the workspace's run history (and copied to ``--out``), and the same summary
as a Prefect artefact (counts and paths only: a shared Prefect server has no access
control, so no case data goes there) → the work list imported into the case store
(``casework``; unless ``case_store.import_runs`` is off).

Each step is a named Prefect task wrapping a function of ``features/`` or
``models/``, so a failed run names the step that failed. Only loading the model is
retried: it is the step that talks to the MLflow store (possibly remote), and it is
not retried when the store answers that the model or version does not exist, or
when the model's files fail their integrity check.
:func:`format_summary` turns the returned summary into the table the command line
prints.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import resource
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from casework.store import store_url
from configs.settings import Settings
from features.contract import Extract, extract_summary, write_rejects
from features.fingerprints import data_fingerprint, extract_row_counts, fingerprint_inputs
from models.cases import (
    case_table,
    draw_control_sample,
    flagged_subjects,
    rank_subjects,
    recently_cleared,
    recently_cleared_summary,
    related_subjects,
    write_case_list,
)
from models.drift import drift_summary
from models.evaluate import configured_capacity
from models.explain import explain_subjects, join_reasons, top_reasons
from models.registry import (
    CHAMPION,
    SCORE_COLUMN,
    LoadedModel,
    ModelIntegrityError,
    ModelNotFoundError,
    load_model,
)
from oversight.signoff import SIGNOFF_LOG, check_may_score
from pipelines.drift import (
    emit_drift_alert,
    measure_drift,
    previous_run_drift,
    training_profiles,
    write_drift,
)
from pipelines.engine import DASK, gathered, on_engine, per_partition, row_partitions
from pipelines.extract_cache import describe_read
from pipelines.prepare import prepare_features
from pipelines.runs import (
    COMPLETE,
    IMPORT_KEY,
    IMPORT_PENDING,
    ImportFailedError,
    OutputCopyError,
    copy_outputs,
    import_record,
    import_work_lists,
    new_run_id,
    staged_run,
    write_summary,
)
from pipelines.validate import REJECTS_FILE, SUMMARY_FILE, format_tables
from pipelines.workspace import Workspace

STORE_RETRIES = 2
STORE_RETRY_DELAY_SECONDS = 5

EXPLANATIONS_FILE = "explanations.parquet"
LINKS_FILE = "links.parquet"


def write_parquet(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` to ``path`` without its index."""
    frame.to_parquet(path, index=False)
    return path


def _store_may_recover(task: Any, task_run: Any, state: Any) -> bool:
    """Retry loading the model unless the store answered that it has no such model or version,
    or the model's files differ from those registered."""
    return not isinstance(state.result(raise_on_failure=False), (ModelNotFoundError, ModelIntegrityError))


# Inputs are frames and fitted models: never hash them for Prefect's cache.
prepare = task(prepare_features, name="prepare features", cache_policy=NO_CACHE)
load = task(load_model, name="load registered model", cache_policy=NO_CACHE,
            retries=STORE_RETRIES, retry_delay_seconds=STORE_RETRY_DELAY_SECONDS,
            retry_condition_fn=_store_may_recover)
score = task(LoadedModel.score, name="score subjects", cache_policy=NO_CACHE)
find_cleared = task(recently_cleared, name="find recently cleared subjects", cache_policy=NO_CACHE)
rank = task(rank_subjects, name="rank subjects", cache_policy=NO_CACHE)
sample_control = task(draw_control_sample, name="draw control sample", cache_policy=NO_CACHE)
select_flagged = task(flagged_subjects, name="select flagged subjects", cache_policy=NO_CACHE)
explain = task(explain_subjects, name="explain flagged subjects", cache_policy=NO_CACHE)
reason = task(top_reasons, name="write reasons", cache_policy=NO_CACHE)
join = task(join_reasons, name="join reasons", cache_policy=NO_CACHE)
relate = task(related_subjects, name="list related subjects", cache_policy=NO_CACHE)
assemble = task(case_table, name="assemble case list", cache_policy=NO_CACHE)
write_cases = task(write_case_list, name="write case list", cache_policy=NO_CACHE)
write_table = task(write_parquet, name="write parquet", cache_policy=NO_CACHE)
write_refused = task(write_rejects, name="write rejects", cache_policy=NO_CACHE)
fingerprint = task(fingerprint_inputs, name="fingerprint input tables", cache_policy=NO_CACHE)
measure = task(measure_drift, name="measure drift", cache_policy=NO_CACHE)
alert = task(emit_drift_alert, name="emit drift alert", cache_policy=NO_CACHE)
store_cases = task(import_work_lists, name="import into case store", cache_policy=NO_CACHE)


class _Stopwatch:
    """Wall time per stage, logged as each stage starts and ends."""

    def __init__(self, logger: Any) -> None:
        self.logger = logger
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.logger.info("%s ...", name)
        started = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - started, 3)
        self.logger.info("%s done in %.1f s", name, self.seconds[name])


def score_flow(
    data_dir: str | Path,
    out_dir: str | Path | None,
    workspace: Workspace,
    settings: Settings,
    capacity: int | float | None = None,
    model_version: str | int | None = None,
) -> dict[str, Any]:
    """Score every live subject of ``data_dir`` and write the explained case list to ``out_dir``.

    The Prefect flow ``score`` runs in this process (``orchestration.engine: local``) or with
    Prefect's Dask task runner (``dask``, :mod:`pipelines.engine`): then the scores, the
    explanations and the reasons are worked out per partition of the subjects on the Dask
    cluster, and ranking, capacity, the control sample and the related subjects stay whole.
    Both engines write the same outputs of the data contract, byte for byte.

    Parameters
    ----------
    data_dir : path
        A data directory in the input contract; never modified.
    out_dir : path or None
        Receives a copy of the run's outputs (created when missing; files of the same
        names replaced, ``run_summary.json`` last). ``rejects.csv`` and a summary of the
        contract check are written there (``None``: to the workspace's ``scoring_dir``)
        before the reject limit can stop the run.
    workspace : Workspace
        Activated: its MLflow store holds the registered versions; the run's outputs
        ``cases.csv``, ``cases.parquet``, ``explanations.parquet``, ``links.parquet``,
        ``rejects.csv``, ``drift.json``, ``drift.html`` and ``run_summary.json`` are kept in
        its ``runs/<run_id>/``, written atomically (``pipelines.runs.staged_run``).
    settings : Settings
    capacity : int or float, optional
        Subjects to flag: a count, or a share in (0, 1]; default from ``settings.capacity``.
    model_version : str or int, optional
        Registry version number or alias; default ``champion``.

    Returns
    -------
    dict
        The run summary, as written to ``run_summary.json``: :func:`run_summary` with the
        ``run_id``, ``run_dir``, ``extract`` (whether it was read from the workspace's cache of
        validated extracts, ``pipelines.extract_cache``), ``status``, ``data_fingerprint`` and ``drift`` (its worst figures
        and ``alert``; an alert also emits the Prefect event ``counterfraud.drift.alert``).

    Raises
    ------
    pipelines.runs.ImportFailedError
        When the case store could not take the complete run's work list (recorded, retried by the next run).
    pipelines.runs.OutputCopyError
        When the complete run could not be copied to ``out_dir`` (a full disk): its work list was
        imported first, and its files stay in the workspace's ``runs/<run_id>/``.
    """
    return on_engine(scoring_flow, settings.orchestration)(data_dir, out_dir, workspace, settings,
                                                           capacity=capacity, model_version=model_version)


@flow(name="score", validate_parameters=False)
def scoring_flow(
    data_dir: str | Path,
    out_dir: str | Path | None,
    workspace: Workspace,
    settings: Settings,
    capacity: int | float | None = None,
    model_version: str | int | None = None,
) -> dict[str, Any]:
    """The Prefect flow of :func:`score_flow`, on the task runner it was given."""
    log = get_run_logger()
    run_id = new_run_id()
    log.info("run %s", run_id)
    out_dir = None if out_dir is None else Path(out_dir)
    capacity = configured_capacity(settings.capacity) if capacity is None else capacity
    control_seed = settings.control_sample.seed if settings.control_sample.seed is not None else settings.seed
    clock = _Stopwatch(log)
    started = time.perf_counter()

    # The model first: a missing version fails the run before the data is read.
    with clock.stage("load model"):
        model = load(model_version, model_name=settings.registry.model_name)
        log.info("model %s version %s", model.model_name, model.version)
        check_may_score(model.model_name, model.version, model.tags, workspace.root / SIGNOFF_LOG)
    extract, links, features_table, as_of = prepare(data_dir, settings, stage=clock.stage,
                                                    report_dir=out_dir or workspace.scoring_dir,
                                                    cache_dir=workspace.extracts_dir)
    log.info(describe_read(extract, settings))
    # on Dask the per-row work runs one task per partition; the rest of the flow sees whole frames
    on_dask = settings.orchestration.engine == DASK
    partition_rows = settings.orchestration.dask_partition_rows
    with clock.stage("score"):
        log.info("scoring %d live subjects", len(features_table))
        scores = per_partition(score, model, rows=features_table, orchestration=settings.orchestration)
    with clock.stage("rank"):
        cleared = find_cleared(extract.investigation_outcomes, as_of, settings.cases.recently_cleared_days)
        ranked = rank(features_table["subject_ref"], features_table["subject_type"], scores[SCORE_COLUMN],
                      capacity, cleared)
        ranked = sample_control(ranked, settings.control_sample.share_of_capacity, control_seed)
        flagged = select_flagged(ranked, features_table)
        passed_over = recently_cleared_summary(ranked, capacity, settings.cases.recently_cleared_days)
        log.info("%d of %d subjects flagged (%d recently cleared passed over), %d drawn for the control sample",
                 len(flagged), len(ranked), passed_over["within_capacity"], int(ranked["control"].sum()))
    with clock.stage("explain"):
        if on_dask:
            flagged_parts = row_partitions(flagged, partition_rows)
            explained = [explain.submit(model.detector, part, model.feature_names, part["score"])
                         for part in flagged_parts]
            explanations = gathered(explained, ignore_index=True)
        else:
            explanations = explain(model.detector, flagged, model.feature_names, flagged["score"])
    with clock.stage("reasons and related"):
        if on_dask:
            reasons = gathered([reason.submit(part_explained, part, settings.explanations.top_reasons)
                                for part_explained, part in zip(explained, flagged_parts, strict=True)],
                               ignore_index=True)
        else:
            reasons = reason(explanations, flagged, settings.explanations.top_reasons)
        # every case on the work list, control cases included, lists who shares its person or home
        related = relate(features_table, ranked.loc[ranked["work_list"], "subject_ref"])
        cases = assemble(ranked, join(reasons, flagged["subject_ref"]), related, model.version)
    with clock.stage("drift"):
        fingerprints = fingerprint(data_dir, extract_row_counts(extract), extract.digests)
        drift = measure(feature_table=features_table, feature_names=model.feature_names,
                        scores=scores[SCORE_COLUMN].to_numpy(), explanations=explanations,
                        training=training_profiles(model.model_name, model.version),
                        previous=previous_run_drift(workspace.runs_dir), threshold=settings.drift.psi_alert,
                        run_id=run_id, model_version=model.version)
    # the run's directory appears, complete, only when the block ends
    with staged_run(workspace.runs_dir, run_id) as staging:
        with clock.stage("write"):
            cases_csv, cases_parquet = write_cases(cases, staging)
            written = {
                "cases_csv": cases_csv,
                "cases_parquet": cases_parquet,
                "explanations": write_table(explanations, staging / EXPLANATIONS_FILE),
                "links": write_table(links, staging / LINKS_FILE),
                "rejects": write_refused(extract.rejects, staging / REJECTS_FILE),
                **dict(zip(("drift", "drift_page"), write_drift(drift, staging), strict=True)),
                "summary": staging / SUMMARY_FILE,
            }
        summary = {
            "run_id": run_id,
            **run_summary(
                as_of=as_of, extract=extract, links=links, cases=cases, explanations=explanations,
                model=model, model_reference=model_version, capacity=capacity,
                control_sample={"size": int(cases["control"].sum()), "seed": control_seed,
                                "share_of_capacity": settings.control_sample.share_of_capacity},
                recently_cleared=passed_over,
                timings=clock.seconds,
                total_seconds=time.perf_counter() - started,
                outputs={name: (out_dir or workspace.runs_dir / run_id) / path.name
                         for name, path in written.items()}, data_dir=data_dir,
                workspace=workspace,
            ),
            "run_dir": str(workspace.runs_dir / run_id),
            "extract": describe_read(extract, settings),
            "status": COMPLETE,
            **({IMPORT_KEY: {"status": IMPORT_PENDING}} if settings.case_store.import_runs else {}),
            "data_fingerprint": data_fingerprint(fingerprints),
            "drift": drift_summary(drift),
        }
        write_summary(summary, written["summary"])
    if alert(summary):
        log.warning("drift alert: %s", ", ".join(summary["drift"]["drifted"]))
    publish_summary(summary)
    run_dir = Path(summary["run_dir"])
    log.info("run %s kept in %s", run_id, run_dir)
    # the work list goes to the case store before --out gets its copy: a copy that fails (a full disk)
    # leaves the run imported, or recorded as a failed import that the next run retries
    import_failure, import_outcome = None, ""
    if settings.case_store.import_runs:
        try:
            for done in store_cases(workspace.runs_dir, run_dir, store_url(settings.case_store.url, workspace.root)):
                log.info(done)
            import_outcome = "its work list imported into the case store"
        except ImportFailedError as error:
            import_failure = error
            import_outcome = "its work list not imported into the case store (the next scoring run retries it)"
        summary[IMPORT_KEY] = import_record(run_dir)
    if out_dir is not None:
        try:
            copy_outputs(run_dir, out_dir)
        except OSError as error:
            raise OutputCopyError.of(run_dir, out_dir, error, import_outcome) from None
        log.info("case list written to %s", summary["outputs"]["cases_csv"])
    if import_failure is not None:
        raise import_failure
    return summary


def run_summary(
    *,
    as_of: dt.date,
    extract: Extract,
    links: pd.DataFrame,
    cases: pd.DataFrame,
    explanations: pd.DataFrame,
    model: LoadedModel,
    model_reference: str | int | None,
    capacity: int | float,
    control_sample: Mapping[str, Any],
    recently_cleared: Mapping[str, Any],
    timings: Mapping[str, float],
    total_seconds: float,
    outputs: Mapping[str, Path],
    data_dir: str | Path,
    workspace: Workspace,
) -> dict[str, Any]:
    """The JSON-ready summary of a scoring run.

    Keys: ``as_of``, ``data_dir``, ``workspace``, ``model`` (name, version, the reference
    asked for), ``tables`` (rows in, valid, refused and data quality per input table), ``rejects``
    (per table and rule), ``rejects_total``, ``subjects`` (scored, per type),
    ``capacity``, ``flagged``, ``recently_cleared`` (``models.cases.recently_cleared_summary``: the rule,
    subjects passed over), ``control_sample`` (size, seed, share of capacity), ``rows_out`` (per output table), ``timings_seconds``
    (per stage, and ``total``), ``peak_memory_mb`` (of this process) and ``outputs``
    (file paths).
    """
    subject_types = cases["subject_type"].value_counts().sort_index()
    return {
        "as_of": as_of.isoformat(),
        "data_dir": str(Path(data_dir).resolve()),
        "workspace": str(workspace.root),
        "model": {
            "name": model.model_name,
            "version": str(model.version),
            "reference": CHAMPION if model_reference is None else str(model_reference),
        },
        **extract_summary(extract),
        "rejects_total": len(extract.rejects),
        "subjects": {"scored": len(cases), **{str(k): int(v) for k, v in subject_types.items()}},
        "capacity": capacity,
        "flagged": int(cases["flagged"].sum()),
        "recently_cleared": dict(recently_cleared),
        "control_sample": dict(control_sample),
        "rows_out": {"cases": len(cases), "explanations": len(explanations), "links": len(links),
                     "rejects": len(extract.rejects)},
        "timings_seconds": {**{name: float(seconds) for name, seconds in timings.items()},
                            "total": round(total_seconds, 3)},
        # ru_maxrss is in kilobytes on Linux
        "peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "outputs": {name: str(Path(path).resolve()) for name, path in outputs.items()},
    }


def publish_summary(summary: Mapping[str, Any]) -> None:
    """The run summary (Markdown: counts, timings and output paths) as a Prefect artefact."""
    create_markdown_artifact(
        f"```text\n{format_summary(summary)}\n```", key="score-run-summary",
        description=f"Scoring run as of {summary['as_of']}",
    )


def _capacity_text(capacity: int | float) -> str:
    if isinstance(capacity, float):
        return f"{capacity * 100:g}% of subjects"
    return f"{capacity:,} subjects"


def _cleared_text(cleared: Mapping[str, Any]) -> str:
    if cleared["window_days"] is None:
        return f"recently cleared: {cleared['rule']}"
    return (f"recently cleared: {cleared['within_capacity']:,} subjects within capacity passed over and the next "
            f"{cleared['within_capacity']:,} flagged in their places ({cleared['subjects']:,} scored subjects "
            f"cleared in all; rule: {cleared['rule']})")


def format_summary(summary: Mapping[str, Any]) -> str:
    """The run summary as the plain-text table the command line prints.

    Counts in and out per table, rejects per table and rule, subjects scored and
    flagged, the recently cleared passed over, time per stage, and where the output files are.
    """
    model = summary["model"]
    lines = [
        f"Scoring run as of {summary['as_of']}: model {model['name']} version {model['version']}"
        f" ({model['reference']})",
        "",
        *format_tables(summary),
        "",
        summary["extract"],
    ]
    subjects = summary["subjects"]
    by_type = ", ".join(f"{name} {count:,}" for name, count in subjects.items() if name != "scored")
    lines += [
        "",
        f"subjects scored: {subjects['scored']:,}" + (f" ({by_type})" if by_type else ""),
        f"flagged: {summary['flagged']:,} (capacity {_capacity_text(summary['capacity'])})",
        _cleared_text(summary["recently_cleared"]),
        f"control sample: {summary['control_sample']['size']:,} drawn at random from the unflagged subjects "
        f"(seed {summary['control_sample']['seed']})",
        "",
        f"{'stage':<24}{'seconds':>12}",
    ]
    lines += [f"{stage:<24}{seconds:>12.1f}" for stage, seconds in summary["timings_seconds"].items()]
    lines += ["", f"peak memory: {summary['peak_memory_mb']:,.0f} MB", "", "outputs:"]
    lines += [f"  {name:<16}{path}" for name, path in summary["outputs"].items()]
    return "\n".join(lines)
