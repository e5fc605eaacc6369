"""Errors a user can fix: the CLI prints them as one line instead of a traceback."""

from __future__ import annotations

import errno

from casework.store import CaseworkError
from features.build import FeatureBuildError
from features.contract import ContractError
from models.cases import RankingError
from models.evaluate import EvaluationError
from models.model_input import FeatureTableError
from models.registry import ModelIntegrityError, ModelNotFoundError
from oversight.signoff import SignOffError
from oversight.subject import SubjectNotFoundError
from pipelines.runs import ImportFailedError, OutputCopyError
from pipelines.schedule import ScheduleError
from pipelines.workspace import WorkspaceError
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
    ImportFailedError,
    OutputCopyError,
    FileNotFoundError,
    FileExistsError,
    ScheduleError,
    CaseworkError,
    WorkspaceError,
)

STORAGE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT})
"""A file that cannot be written: no permission, a read-only file system, a full disk or quota."""


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is one a user can fix: one of ``USER_ERRORS``, or a file the command may not write."""
    return isinstance(error, USER_ERRORS) or (isinstance(error, OSError) and error.errno in STORAGE_ERRNOS)


def error_line(error: BaseException) -> str:
    """The one line that states a user error (``is_user_error``)."""
    if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS and error.filename:
        return f"cannot write {error.filename}: {error.strerror}"
    return str(error)
