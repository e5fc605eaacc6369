"""``python -m pipelines.prefect_server ARGS``: ``prefect server start ARGS`` that can schedule runs.

Prefect 3.8's scheduler bulk-inserts each planned flow run with its ``state`` (a hybrid
attribute of the ORM model) in the row, then inserts the states itself. SQLAlchemy 2.1
refuses a hybrid in a bulk INSERT unless the hybrid says how to write it (``bulk_dml``),
so the scheduler fails and no scheduled run is ever created. Declaring that ``state``
writes nothing into the row restores what SQLAlchemy 2.0 did; the scheduler's own insert
of the states is unchanged. Only the server process needs this: it is the one that plans
scheduled runs.
"""

from __future__ import annotations

import sys
from collections.abc import MutableMapping
from typing import Any


def _state_is_inserted_separately(cls: type, mapping: MutableMapping[str, Any], value: Any) -> None:
    """A planned run's state adds no column to its row: the scheduler inserts it next."""


def allow_scheduled_run_inserts() -> None:
    """Let Prefect's scheduler bulk-insert flow runs under SQLAlchemy 2.1 (see the module docstring)."""
    from prefect.server.database.orm_models import FlowRun

    state = FlowRun.__dict__["state"]
    if getattr(state, "bulk_dml_setter", None) is None:
        state.bulk_dml_setter = _state_is_inserted_separately


def main() -> None:
    """Start Prefect's server in this process, this command's arguments passed to ``prefect server start``."""
    allow_scheduled_run_inserts()
    from prefect.cli import app

    sys.argv = ["prefect", "server", "start", *sys.argv[1:]]  # Prefect's command line reads sys.argv
    app()


if __name__ == "__main__":
    main()
