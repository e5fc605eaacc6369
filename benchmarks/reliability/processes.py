"""A command the benchmark kills: its process tree watched while it runs, stopped and stepped, then SIGKILLed."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

LEFTOVER_WAIT_S = 5.0
"""A killed command's processes still running this long after the kill are counted as left behind."""


class Watched:
    """A command run in its own process, every process of its tree remembered while it runs."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], log: Path) -> None:
        with log.open("ab") as sink:
            self.process = subprocess.Popen(list(argv), env=env, stdout=sink, stderr=subprocess.STDOUT)
        self.tree: dict[int, float] = {}
        self.scanned = 0.0

    def running(self) -> bool:
        """Whether the command still runs; its process tree is read again every 50 ms."""
        if time.monotonic() - self.scanned > 0.05:
            self.scanned = time.monotonic()
            with contextlib.suppress(psutil.Error):
                for member in psutil.Process(self.process.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        self.tree.setdefault(member.pid, member.create_time())
        return self.process.poll() is None

    def pause(self) -> bool:
        """SIGSTOP the command's own process and wait until every thread of it has stopped; False
        when it had already ended."""
        if self.process.poll() is not None:
            return False
        self.process.send_signal(signal.SIGSTOP)
        tasks = Path(f"/proc/{self.process.pid}/task")
        while True:
            states = []
            for task in tasks.glob("*/stat"):
                with contextlib.suppress(OSError):
                    states.append(task.read_text().rsplit(")", 1)[1].split()[0])
            if not states or "Z" in states:
                return False
            if all(state in "tT" for state in states):
                return True
            time.sleep(0.0002)

    def step(self, seconds: float = 0.001) -> bool:
        """Let a paused command run for about ``seconds``, then pause it again (False once it has ended)."""
        self.process.send_signal(signal.SIGCONT)
        time.sleep(seconds)
        return self.pause()

    def kill(self) -> int:
        """SIGKILL the command (only its own process, as the out-of-memory killer would); return how
        many of its other processes still run :data:`LEFTOVER_WAIT_S` later (those are then ended).

        A paused command dies where it stands: SIGKILL needs no SIGCONT."""
        self.scanned = 0.0
        self.running()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        time.sleep(LEFTOVER_WAIT_S)
        left = []
        for pid, created in self.tree.items():
            with contextlib.suppress(psutil.Error):
                process = psutil.Process(pid)
                if process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE:
                    left.append(process)
        for process in left:
            with contextlib.suppress(psutil.Error):
                process.kill()
        return len(left)


def wait_for(watched: Watched, seen: Callable[[], bool], timeout: float = 900.0, scan: bool = True) -> bool:
    """Poll until ``seen()`` holds (True) or the command ends first (False).

    ``scan=False`` polls without reading the process tree between looks (a look every millisecond,
    for moments that last milliseconds)."""
    deadline = time.monotonic() + timeout
    while (watched.running() if scan else watched.process.poll() is None) and time.monotonic() < deadline:
        if seen():
            return True
        time.sleep(0.002 if scan else 0.001)
    return False
