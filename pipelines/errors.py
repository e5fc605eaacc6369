"""Errors a user can fix: the CLI prints them as one line instead of a traceback."""

from __future__ import annotations

from casework.store import CaseworkError
from features.build import FeatureBuildError
from features.contract import ContractError
from models.evaluate import EvaluationError
from models.registry import FeatureTableError, ModelNotFoundError

USER_ERRORS: tuple[type[Exception], ...] = (
    ContractError,
    FeatureBuildError,
    EvaluationError,
    FeatureTableError,
    ModelNotFoundError,
    FileNotFoundError,
    FileExistsError,
    CaseworkError,
)
