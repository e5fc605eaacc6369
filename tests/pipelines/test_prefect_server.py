"""A killed command takes its temporary Prefect server with it.

Real ``counterfraud score`` and ``train`` commands, on their own temporary Prefect
server, are killed with SIGKILL once that server listens; none of their processes may
outlive them by more than a few seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import FAST_DETECTOR

PROJECT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 300
GRACE_SECONDS = 10


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("killed_commands")
    subprocess.run([sys.executable, "-m", "pipelines.cli", "generate", "--out", str(root / "data"),
                    "--people", "200", "--seed", "5", "--truth", str(root / "truth.csv")],
                   env=_environment(), check=True, capture_output=True)
    (root / "fast.yaml").write_text(FAST_DETECTOR)
    return {"root": root, "data": root / "data", "config": root / "fast.yaml"}


def _environment() -> dict[str, str]:
    """This environment without a Prefect API: each command starts its own temporary server."""
    environment = {**os.environ, "PYTHONPATH": str(PROJECT)}
    environment.pop("PREFECT_API_URL", None)
    return environment


def _listening_server(command: psutil.Process) -> list[psutil.Process]:
    """The command's descendants once one of them (its Prefect server) listens on a port, else []."""
    try:
        descendants = command.children(recursive=True)
        listening = any(connection.status == psutil.CONN_LISTEN
                        for process in descendants for connection in process.net_connections("tcp"))
    except psutil.Error:
        return []
    return descendants if listening else []


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """Those of ``processes`` still running (``is_running`` also checks the PID was not reused)."""
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.parametrize("verb", ["score", "train"])
def test_no_process_of_a_killed_command_outlives_it(world: dict[str, Path], verb: str) -> None:
    workspace = world["root"] / f"workspace-{verb}"
    argv = [sys.executable, "-m", "pipelines.cli", verb, "--data", str(world["data"]),
            "--workspace", str(workspace), "--config", str(world["config"])]
    if verb == "score":
        argv += ["--out", str(world["root"] / "out")]
    command = subprocess.Popen(argv, env=_environment(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (descendants := _listening_server(psutil.Process(command.pid))):
            assert command.poll() is None, f"{verb} ended before its Prefect server listened"
            assert time.monotonic() < deadline, f"{verb}'s Prefect server never listened"
            time.sleep(0.05)
    finally:
        command.send_signal(signal.SIGKILL)
        command.wait()
    deadline = time.monotonic() + GRACE_SECONDS
    while _alive(descendants) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [" ".join(process.cmdline()) for process in _alive(descendants)]
    for process in _alive(descendants):  # leave no server running after the test either
        process.kill()
    assert not survivors, survivors


CHILD_ASKS_THE_SERVER = """
import os, urllib.request
print(urllib.request.urlopen(os.environ["PREFECT_API_URL"] + "/health", timeout=60).read().decode())
"""


def test_a_shared_temporary_server_answers_the_processes_the_command_starts(tmp_path: Path) -> None:
    # as a LocalCluster's worker processes are started: after the server, inheriting the environment
    command = (
        "import subprocess, sys\n"
        "from pipelines.prefect_server import share_temporary_server\n"
        "url = share_temporary_server()\n"
        f"child = subprocess.run([sys.executable, '-c', {CHILD_ASKS_THE_SERVER!r}], capture_output=True, text=True)\n"
        "print(url, child.stdout.strip(), child.returncode)\n"
    )
    environment = {**_environment(), "PREFECT_HOME": str(tmp_path),
                   "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(STARTUP_SECONDS)}
    done = subprocess.run([sys.executable, "-c", command], env=environment, capture_output=True, text=True,
                          timeout=STARTUP_SECONDS)
    url, answer, status = done.stdout.split()[-3:]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/api")
    assert (answer, status) == ("true", "0"), done.stderr[-2000:]
