"""Errors a user can fix: the CLI prints them as one line instead of a traceback."""

from __future__ import annotations

from features.contract import ContractError

USER_ERRORS: tuple[type[Exception], ...] = (ContractError, FileNotFoundError, FileExistsError)
