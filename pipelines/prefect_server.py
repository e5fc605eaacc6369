"""``python -m pipelines.prefect_server ARGS``: ``prefect server start ARGS`` that can schedule runs;
and a command's temporary Prefect server that ends with the command.

Prefect 3.8's scheduler bulk-inserts each planned flow run with its ``state`` (a hybrid
attribute of the ORM model) in the row, then inserts the states itself. SQLAlchemy 2.1
refuses a hybrid in a bulk INSERT unless the hybrid says how to write it (``bulk_dml``),
so the scheduler fails and no scheduled run is ever created. Declaring that ``state``
writes nothing into the row restores what SQLAlchemy 2.0 did; the scheduler's own insert
of the states is unchanged. Only the server process needs this: it is the one that plans
scheduled runs.

A command that runs a flow with no Prefect API configured starts Prefect's temporary
server as a child process, stopped at the command's exit. A command killed outright
(SIGKILL, the out-of-memory killer) never reaches its exit, and the server would go on
running under PID 1: ``tie_temporary_server_to_this_process`` has Linux stop it too.
On the ``dask`` engine the command starts that server before its flow and names it in the
environment (``share_temporary_server``): a LocalCluster's worker processes inherit it and report
their task runs there, where each would otherwise start a temporary server of its own (minutes on
a busy machine, and task runs nobody sees).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import types
from collections.abc import Callable, MutableMapping
from typing import Any

PR_SET_PDEATHSIG = 1
"""``prctl`` option: the signal a process receives when the thread that started it ends (Linux)."""


def _state_is_inserted_separately(cls: type, mapping: MutableMapping[str, Any], value: Any) -> None:
    """A planned run's state adds no column to its row: the scheduler inserts it next."""


def allow_scheduled_run_inserts() -> None:
    """Let Prefect's scheduler bulk-insert flow runs under SQLAlchemy 2.1 (see the module docstring)."""
    from prefect.server.database.orm_models import FlowRun

    state = FlowRun.__dict__["state"]
    if getattr(state, "bulk_dml_setter", None) is None:
        state.bulk_dml_setter = _state_is_inserted_separately


def _die_with_this_process() -> Callable[[], None] | None:
    """The ``preexec_fn`` that has a child killed when this process ends; ``None`` where it cannot be.

    Linux sends the signal when the *thread* that started the child ends, so the signal is
    armed only for children of the main thread, which lives as long as the process.
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it
    parent = os.getpid()

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # this process ended before the signal was armed
            os._exit(1)

    return arm


class _PopenEndingWithThisProcess(subprocess.Popen):
    """``subprocess.Popen`` whose child is killed when this process ends (see ``_die_with_this_process``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("preexec_fn", _die_with_this_process())
        super().__init__(*args, **kwargs)


class _SubprocessEndingWithThisProcess(types.ModuleType):
    """The ``subprocess`` module as Prefect's server module sees it: its ``Popen`` children end with us."""

    Popen = _PopenEndingWithThisProcess

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)


def tie_temporary_server_to_this_process() -> None:
    """Have the temporary Prefect server this process starts killed when this process ends, however it ends.

    Prefect starts the server with ``subprocess.Popen`` in ``prefect.server.api.server``;
    that module's ``subprocess`` becomes one whose children receive SIGKILL when this
    process ends (``prctl(PR_SET_PDEATHSIG)``). Its normal stop at exit is unchanged.
    Call before the first flow runs; importing Prefect's server module takes seconds,
    so only commands that run flows call it.
    """
    from prefect.server.api import server

    if not isinstance(server.subprocess, _SubprocessEndingWithThisProcess):
        server.subprocess = _SubprocessEndingWithThisProcess("subprocess")


def share_temporary_server() -> str:
    """Start this command's temporary Prefect server now and name it in ``PREFECT_API_URL``; return its API URL.

    It is the server Prefect's client starts for a flow when no API is configured (one per
    process), so the flow reports to it as ever; the processes this command starts afterwards
    (the Dask workers of a LocalCluster) inherit the variable and report to it too.
    """
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    os.environ["PREFECT_API_URL"] = server.api_url
    return server.api_url


def main() -> None:
    """Start Prefect's server in this process, this command's arguments passed to ``prefect server start``."""
    allow_scheduled_run_inserts()
    from prefect.cli import app

    sys.argv = ["prefect", "server", "start", *sys.argv[1:]]  # Prefect's command line reads sys.argv
    app()


if __name__ == "__main__":
    main()
