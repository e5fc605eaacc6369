"""Typed settings: ``configs/default.yaml`` validated at start-up.

A user's file only needs the keys it changes; it is merged over the defaults and
the result is validated, so a misspelt key or a bad value fails before any work
starts, with a message naming the key.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

DEFAULT_CONFIG = Path(__file__).with_name("default.yaml")

SETTINGS_ERROR = "invalid setting {key}: {problem} (in {source})"


# scheme://user:password@host: the password runs to the last "@" before any whitespace
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*):[^\s]*@")
# libpq and SQLAlchemy also take ?password=... in the query string
_QUERY_PASSWORD = re.compile(r"([?&](?:password|passwd|pwd)=)[^&\s]*", re.IGNORECASE)
MASK = "***"


class SettingsError(ValueError):
    """A configuration file has an unknown key or a bad value."""


def redacted(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``, fit for a log or a record.

    Examples
    --------
    >>> redacted("postgresql://fraud:s3cret@db.internal/mlflow")
    'postgresql://fraud:***@db.internal/mlflow'
    >>> redacted("postgresql+psycopg://fraud@db/mlflow?password=s3cret&sslmode=require")
    'postgresql+psycopg://fraud@db/mlflow?password=***&sslmode=require'
    >>> redacted("sqlite:////tmp/mlflow.db")
    'sqlite:////tmp/mlflow.db'
    """
    return _QUERY_PASSWORD.sub(rf"\1{MASK}", _URL_PASSWORD.sub(rf"\1:{MASK}@", text))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_serializer(mode="wrap", when_used="json")
    def _without_secrets(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """JSON never carries a password: what MLflow, Prefect (flow-run parameters) and logs record.

        Settings are read from attributes in the process; only their JSON form leaves it.
        """
        return {key: redacted(value) if isinstance(value, str) else value
                for key, value in handler(self).items()}


class ContractSettings(_Strict):
    """How strictly the input extracts are held to the data contract."""

    max_reject_share: float = Field(0.05, ge=0.0, le=1.0)
    """A table whose refused rows pass this share of its rows stops the run."""
    absent_columns: dict[str, list[str]] = {}
    """Optional columns a source does not deliver, by table (e.g. ``{benefit_claims: [claim_end]}``).
    A missing column that says which claims have ended stops the run unless it is named here; then
    every claim of that table counts as live."""


class LinkingSettings(_Strict):
    """How records of one person are linked across sources."""

    use_postcode_rule: bool = True
    """Also link records sharing normalised first name, surname and postcode when dates of birth differ."""
    max_block_size: int = Field(500, ge=2)
    """Records sharing one blocking key (e.g. date of birth + given name) beyond which the block is
    skipped with a warning: a placeholder value must not pair every record with every other."""


class FeatureSettings(_Strict):
    """Windows and peer groups of the engineered features."""

    earnings_window_months: int = Field(12, ge=1, le=36)
    """Months of tax records compared with declared earnings."""
    savings_interest_rate: float = Field(0.03, gt=0.0, le=0.2)
    """Annual interest rate used to infer capital from reported savings interest."""
    recent_months: int = Field(3, ge=1, le=12)
    """Latest months of a claim: an earnings gap must show in each of them; other adults earning in them count as earning."""
    min_peer_group: int = Field(20, ge=1)
    """Fewest live claims a peer group needs for its median; smaller groups fall back to a wider one."""


class IsolationForestSettings(_Strict):
    n_estimators: int = Field(100, ge=1)
    max_samples: int = Field(64, ge=2)
    """Rows drawn for each tree: 64 keeps exact SHAP explanations above 5 000 rows/s on 2 cores."""
    max_features: float = Field(1.0, gt=0.0, le=1.0)


class AutoencoderSettings(_Strict):
    hidden_neurons: tuple[int, ...] = (32, 16, 32)
    """Encoder layer widths (PyOD's hidden_neuron_list); the decoder mirrors all but the last."""
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(256, ge=1)
    learning_rate: float = Field(1e-3, gt=0.0)
    max_train_rows: int = Field(100_000, ge=100)
    """Rows sampled to train the network; scoring always uses every row."""


class DetectorSettings(_Strict):
    """The combined detector: components and their weights in the combined score."""

    isolation_forest: IsolationForestSettings = IsolationForestSettings()
    autoencoder: AutoencoderSettings = AutoencoderSettings()
    weights: dict[str, float] = {"isolation_forest": 0.2, "autoencoder": 0.3, "tail": 0.5}
    """Weights of the standardised component scores (``isolation_forest``, ``autoencoder``,
    ``tail``); a component of weight 0 or absent is not fitted."""

    @model_validator(mode="after")
    def _known_components(self) -> DetectorSettings:
        unknown = set(self.weights) - {"isolation_forest", "autoencoder", "tail"}
        if unknown:
            raise ValueError(f"unknown detector component(s) in weights: {sorted(unknown)}")
        if not any(w > 0 for w in self.weights.values()):
            raise ValueError("at least one detector weight must be positive")
        return self


class CapacitySettings(_Strict):
    """How many subjects the investigators can review in one run."""

    share: float = Field(0.02, gt=0.0, le=1.0)
    absolute: int | None = Field(None, ge=1)
    """When set, flag exactly this many subjects instead of ``share`` of them."""


class CaseSettings(_Strict):
    """Who the work list passes over."""

    recently_cleared_days: int | None = Field(365, ge=0)
    """A subject whose latest investigation (the extract's ``investigation_outcomes``), closed on or after
    this many days before the as-of date, found no fraud is not flagged nor drawn for the control sample
    again; the next subjects take its places. A year: long enough that the same
    honest person is not investigated twice for the same evidence, short enough that new evidence is seen.
    Null = off."""


class ExplanationSettings(_Strict):
    top_reasons: int = Field(3, ge=1, le=10)
    """Plain-English reasons written for each flagged subject."""


class RegistrySettings(_Strict):
    """Where model versions are tracked."""

    model_name: str = "counterfraud-detector"
    tracking_uri: str | None = None
    """MLflow tracking URI, e.g. postgresql+psycopg://user@host/db; default: SQLite in the workspace.
    Give its password through libpq's ``PGPASSWORD`` or ``PGPASSFILE`` (``~/.pgpass``), not here: a
    password in the URI works but is masked in every record."""
    experiment: str = "counterfraud"


class ControlSampleSettings(_Strict):
    """The random control sample each scoring run adds to the work list."""

    share_of_capacity: float = Field(0.05, ge=0.0, le=1.0)
    """Unflagged subjects drawn at random, as a share of the subjects flagged (rounded up; 0 = none)."""
    seed: int | None = None
    """Seed of the draw; null = the top-level ``seed``."""


class OutcomeLearningSettings(_Strict):
    """When and how ``train`` learns from the extract's reviewed cases (``investigation_outcomes``)."""

    min_reviewed: int = Field(200, ge=1)
    """Fewest reviewed subjects of the extract, among the sources used, to fit the outcome layer."""
    min_fraud: int = Field(20, ge=1)
    """Fewest of them found to be fraud; with fewer reviewed or fewer fraud the version is the detector alone."""
    l2: float = Field(0.1, ge=0.0)
    """L2 penalty on the per-feature weights (on the mean weighted log-loss): the larger, the closer the
    version stays to the detector alone. 0.1 gave the best average precision on a fresh world of
    benchmarks/RESULTS.md (0.001: 0.655, 0.01: 0.661, 0.1: 0.674, 0.3: 0.671, 1: 0.666; detector alone 0.663)."""
    use_untracked: bool = False
    """Also fit on past investigations with no ``control`` value (older methods, the most biased sample)."""


class TrainingSettings(_Strict):
    """How ``train`` makes a version."""

    max_subjects: int | None = Field(None, ge=2)
    """When the extract has more subjects, the detector is fitted on a seeded sample of this many
    (drawn within each subject type in proportion to it, with the top-level ``seed``); its
    evaluation and report, and every scoring run, still score every subject. Null = fit on all."""
    outcomes: OutcomeLearningSettings = OutcomeLearningSettings()


class OversightSettings(_Strict):
    """The oversight panel's report, fairness audit and transparency record.

    The text fields are what only a person can write; where they are null the
    report and the transparency record say "to be completed".
    """

    trained_by: str | None = None
    """Name recorded as the trainer of a new version (who may not approve it); null = the OS user."""
    organisation: str | None = None
    """The organisation that runs the tool."""
    website: str | None = None
    """Where the public can read about the tool."""
    contact: str | None = None
    """Contact point (e-mail or address) for questions about the tool."""
    senior_responsible_owner: str | None = None
    """The senior responsible owner (a role, not necessarily a name)."""
    appeals_route: str | None = None
    """How a person can challenge a decision taken after a lead."""
    impact_assessments: str | None = None
    """References of the data protection and equality impact assessments."""
    bootstrap_samples: int = Field(200, ge=10)
    """Bootstrap resamples of the fairness confidence intervals."""
    min_group_subjects: int = Field(100, ge=1)
    """Groups with fewer subjects are shown as suppressed (the only reason a group is)."""
    exact_interval_below: int = Field(10, ge=1)
    """Groups with fewer flagged subjects take an exact (Clopper-Pearson) interval, not a bootstrap one."""
    ratio_low: float = Field(0.8, gt=0.0, le=1.0)
    """A group flag rate below this ratio to the overall rate, not chance after correction, is called out."""
    ratio_high: float = Field(1.25, ge=1.0)
    """A group flag rate above this ratio to the overall rate, not chance after correction, is called out."""
    proxy_auc_threshold: float = Field(0.65, gt=0.5, le=1.0)
    """A feature whose one-feature ROC-AUC for a characteristic reaches this is named a possible proxy."""
    worked_examples: int = Field(3, ge=3, le=5)
    """Flagged subjects shown, under pseudonyms, with their waterfall and reasons."""
    driver_sample: int = Field(2000, ge=100)
    """Subjects drawn at random for the global drivers (besides all flagged subjects)."""


class OrchestrationSettings(_Strict):
    prefect_api_url: str | None = None
    """A Prefect server URL; default: a temporary local server per run."""
    server_port: int = Field(4200, ge=1, le=65535)
    """Port of the Prefect server ``counterfraud server`` starts (on 127.0.0.1)."""
    server_database_url: str | None = None
    """Database of that server, e.g. postgresql+asyncpg://user@host/db; default: SQLite in the workspace."""
    engine: Literal["local", "dask"] = "local"
    """Where the contract check of each table and the per-subject work (the feature table's assembly;
    the scores, explanations and reasons of a scoring run, the scores and the report's contributions
    of a training or report run) run: ``local`` in this process, or ``dask`` per partition of the
    table or of the subjects on a Dask cluster, through Prefect's Dask task runner. Both give the
    same rejects, validated tables, versions and case list, byte for byte."""
    dask_address: str | None = None
    """An existing Dask scheduler, e.g. tcp://scheduler.internal:8786; null = a LocalCluster per run."""
    dask_workers: int = Field(2, ge=1)
    """Workers of that LocalCluster (one thread each)."""
    dask_worker_memory: str = "4GiB"
    """Memory limit of each LocalCluster worker, e.g. 4GiB (Dask's size syntax)."""
    dask_processes: bool = True
    """LocalCluster workers in processes of their own (false: threads of the run's process, which
    share one interpreter lock)."""
    dask_partition_rows: int = Field(65_536, ge=1)
    """Rows per partition on the ``dask`` engine: of each input table when it is checked, of the
    subjects when they are scored. A multiple of the detector's scoring block
    (65 536 rows) keeps every float identical to ``local`` whatever the arithmetic library."""


class SourceSettings(_Strict):
    """Where scheduled runs find their extracts."""

    landing_dir: Path | None = None
    """A directory with one sub-directory per delivered extract; scheduled runs read the newest."""


class ScheduledRunSettings(_Strict):
    """One scheduled deployment."""

    cron: str
    """When it runs: a cron expression, read in ``schedules.timezone``."""

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        from cronsim import CronSim, CronSimError

        try:
            CronSim(cron, dt.datetime(2000, 1, 1))
        except CronSimError as error:
            raise ValueError(f"not a cron expression: {cron!r} ({error})") from None
        return cron


class ScheduledScoreSettings(ScheduledRunSettings):
    """The scheduled scoring deployment."""

    capacity: float | None = Field(None, gt=0.0)
    """Subjects to flag: a count (>= 1) or a share (< 1); default from the ``capacity`` section."""


class ScheduleSettings(_Strict):
    """The deployments ``counterfraud serve`` offers."""

    timezone: str = "UTC"
    score: ScheduledScoreSettings = ScheduledScoreSettings(cron="0 2 1 * *")
    """Scoring of the newest extract: monthly by default."""
    train: ScheduledRunSettings = ScheduledRunSettings(cron="0 3 1 1,4,7,10 *")
    """Training of a challenger on the newest extract: quarterly by default."""
    purge: ScheduledRunSettings = ScheduledRunSettings(cron="0 4 * * *")
    """Retention: daily by default."""


class DriftSettings(_Strict):
    """When a scoring run's distributions have moved too far from the model's training data."""

    psi_alert: float = Field(0.25, gt=0.0)
    """A population stability index above this (for any feature or the score) raises an alert."""


class RetentionSettings(_Strict):
    """How long run outputs are kept."""

    days: int = Field(365, ge=1)
    """Runs older than this many days are purged (``counterfraud purge``)."""


class CaseStoreSettings(_Strict):
    """Where scoring runs, cases, decisions, accounts and the access log are kept."""

    url: str | None = None
    """SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db; default: SQLite (WAL) at
    ``<workspace>/cases.db``."""
    import_runs: bool = True
    """Import each scoring run into the case store at the end of the run."""
    session_hours: float = Field(8.0, gt=0.0, le=24.0)
    """A signed-in session of the case-review page lasts at most this long."""
    session_idle_minutes: float = Field(30.0, gt=0.0, le=24 * 60)
    """A session unused for this long has ended: its next request goes to the sign-in page."""
    sign_in_free_failures: int = Field(3, ge=1)
    """Failed sign-ins of an account or from a client address before each further try must wait
    (1 s, then doubling up to 15 min)."""
    sign_in_lock_after: int = Field(10, ge=2)
    """Failed sign-ins in a row that lock an account until a supervisor or an administrator unlocks it."""
    secure_cookies: bool = False
    """Send the session cookie over HTTPS only: set when the page is served behind TLS."""
    sla_days: dict[str, int] = {"new": 5, "assigned": 10, "in_review": 20}
    """Days a case may stay in each open status: it is due the day it entered the status plus these
    days, and overdue from the next day (``casework.store.SlaClock``). New: 5 days to be taken on;
    assigned: 10 days to start its review (gathering the records it needs); in review: 20 days, the
    working month a review of the records and the answers to its enquiries take."""

    @field_validator("sla_days")
    @classmethod
    def _open_statuses_only(cls, sla_days: dict[str, int]) -> dict[str, int]:
        from casework.workflow import OPEN_STATUSES  # the workflow's statuses, declared there once

        unknown = sorted(set(sla_days) - set(OPEN_STATUSES))
        if unknown:
            raise ValueError(f"{unknown} are not open statuses of a case: {', '.join(OPEN_STATUSES)}")
        short = sorted(status for status, days in sla_days.items() if days < 1)
        if short:
            raise ValueError(f"days of {short} must be at least 1")
        return sla_days


class ExtractCacheSettings(_Strict):
    """The workspace's cache of validated extracts (``<workspace>/extracts/``, ``pipelines.extract_cache``)."""

    enabled: bool = True
    """A run on files validated before (the same bytes, contract and run month) reads their validated
    tables and rejects from the cache instead of validating again; ``--no-cache`` turns it off for one run."""
    keep: int = Field(3, ge=1)
    """Validated extracts kept: storing another removes the least recently used beyond this many."""


class Settings(_Strict):
    """Every setting of a run."""

    seed: int = 0
    as_of: dt.date | None = None
    """Scoring date; default: the last month the tax records cover."""
    contract: ContractSettings = ContractSettings()
    linking: LinkingSettings = LinkingSettings()
    features: FeatureSettings = FeatureSettings()
    detector: DetectorSettings = DetectorSettings()
    capacity: CapacitySettings = CapacitySettings()
    cases: CaseSettings = CaseSettings()
    explanations: ExplanationSettings = ExplanationSettings()
    registry: RegistrySettings = RegistrySettings()
    control_sample: ControlSampleSettings = ControlSampleSettings()
    training: TrainingSettings = TrainingSettings()
    oversight: OversightSettings = OversightSettings()
    orchestration: OrchestrationSettings = OrchestrationSettings()
    sources: SourceSettings = SourceSettings()
    schedules: ScheduleSettings = ScheduleSettings()
    drift: DriftSettings = DriftSettings()
    retention: RetentionSettings = RetentionSettings()
    case_store: CaseStoreSettings = CaseStoreSettings()
    extract_cache: ExtractCacheSettings = ExtractCacheSettings()


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise SettingsError(f"config file not found: {path}")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise SettingsError(f"config file {path} is not valid YAML: {error}") from error
    if not isinstance(content, dict):
        raise SettingsError(f"config file {path} must hold a mapping of settings")
    return content


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Read the default settings, merge ``path`` and ``overrides`` over them, validate.

    Parameters
    ----------
    path : str or Path, optional
        A YAML file holding only the settings it changes.
    **overrides
        Top-level settings given directly (e.g. ``seed=3``); ``None`` values are ignored.

    Raises
    ------
    SettingsError
        Naming the first bad key, e.g. ``capacity.share``.
    """
    raw = _read_yaml(DEFAULT_CONFIG)
    source = str(DEFAULT_CONFIG)
    if path is not None:
        raw = _merge(raw, _read_yaml(Path(path)))
        source = str(path)
    raw = _merge(raw, {k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        problem = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise SettingsError(SETTINGS_ERROR.format(key=key, problem=problem, source=source)) from None
