"""Errors a user can fix: the CLI prints them as one line instead of a traceback."""

from __future__ import annotations

from casework.store import CaseworkError
from features.build import FeatureBuildError
from features.contract import ContractError
from models.cases import RankingError
from models.evaluate import EvaluationError
from models.registry import FeatureTableError, ModelIntegrityError, ModelNotFoundError
from oversight.signoff import SignOffError
from oversight.subject import SubjectNotFoundError
from pipelines.schedule import ScheduleError
from synthetic.truth import TruthFormatError
from synthetic.world import WorldLocationError

USER_ERRORS: tuple[type[Exception], ...] = (
    ContractError,
    FeatureBuildError,
    EvaluationError,
    FeatureTableError,
    ModelNotFoundError,
    ModelIntegrityError,
    RankingError,
    TruthFormatError,
    WorldLocationError,
    SignOffError,
    SubjectNotFoundError,
    FileNotFoundError,
    FileExistsError,
    ScheduleError,
    CaseworkError,
)
