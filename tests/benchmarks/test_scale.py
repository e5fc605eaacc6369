"""The scale benchmark's measurement on real processes: memory of every process added together, and
the limits that stop a command; and where its section goes in the report."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from benchmarks.run import FINDINGS, StageFailed, measure
from benchmarks.scale import SECTION_HEADING, flow_stage, with_section

HOLD = "import sys, time; block = bytearray({mb} * 2**20); block[::4096] = b'x' * len(block[::4096]); time.sleep({s})"
"""A Python process that holds ``mb`` MB resident (every page touched) for ``s`` seconds."""


def holding(mb: int, seconds: float) -> list[str]:
    return [sys.executable, "-c", HOLD.format(mb=mb, s=seconds)]


def test_everything_adds_the_commands_children_and_the_other_processes_started_before_it(tmp_path: Path) -> None:
    # a server started before the command (as the Prefect server is) and a command whose child holds
    # memory (as a Dask worker does): the peak is all three together
    server = subprocess.Popen(holding(150, 30))
    try:
        time.sleep(1.5)
        parent = ("import subprocess, sys; child = subprocess.Popen([sys.executable, '-c', "
                  f"{HOLD.format(mb=200, s=3)!r}]); {HOLD.format(mb=100, s=3)}; child.wait()")
        log = tmp_path / "command.log"
        everything = measure([sys.executable, "-c", parent], {}, log, everything=True)
        command_only = measure([sys.executable, "-c", parent], {}, log)
    finally:
        server.kill()
        server.wait()
    assert command_only.peak_rss_mb > 300
    assert everything.peak_rss_mb > command_only.peak_rss_mb + 140
    assert everything.wall_s >= 3


@pytest.mark.parametrize(("limits", "reason"), [({"memory_limit_mb": 200}, "stopped at the memory limit (200 MB)"),
                                                ({"time_limit_s": 1.0}, "stopped at the time limit (1 s)")])
def test_a_command_past_a_limit_is_killed_with_its_children_and_measured_to_there(
        tmp_path: Path, limits: dict, reason: str) -> None:
    pids = tmp_path / "pids"
    parent = ("import os, subprocess, sys; child = subprocess.Popen([sys.executable, '-c', "
              f"{HOLD.format(mb=300, s=60)!r}]); open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}'); "
              "child.wait()")
    with pytest.raises(StageFailed) as stopped:
        measure([sys.executable, "-c", parent], {}, tmp_path / "command.log", **limits)
    assert stopped.value.reason == reason
    assert stopped.value.measured.wall_s < 30
    assert not any(psutil.pid_exists(int(pid)) and psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE
                   for pid in pids.read_text().split())


def test_a_failing_command_says_its_exit_status_and_what_it_cost() -> None:
    with pytest.raises(StageFailed) as failed:
        measure([sys.executable, "-c", "sum(range(3 * 10**7)); raise SystemExit(3)"], {}, Path("/dev/null"))
    assert failed.value.reason == "exited 3"
    # CPU time, not wall: the loop's second or so of CPU whatever the machine's load
    assert 0.2 < failed.value.measured.cpu_s <= failed.value.measured.wall_s + 0.5


@pytest.mark.parametrize("after", ["", "\n## Public data (ADBench)\n\nits table\n"])
def test_the_section_closes_the_scale_section_once_and_replaces_itself(after: str) -> None:
    report = "# Results\n\n## Scale\n\nEarlier figures.\n\n### Generating a large world\n\nMore.\n" + after
    first = with_section(report, f"{SECTION_HEADING}\n\nfirst figures\n")
    again = with_section(first, f"{SECTION_HEADING}\n\nsecond figures\n")
    assert again.count(SECTION_HEADING) == 1 and "second figures" in again and "first figures" not in again
    assert again.replace(f"\n{SECTION_HEADING}\n\nsecond figures\n", "", 1) == report
    # and so in the real findings, which the report carries
    assert with_section(FINDINGS.read_text(encoding="utf-8"), first[first.index(SECTION_HEADING):]).count(
        SECTION_HEADING) == 1


def test_the_flow_stage_a_command_died_in_is_its_last_stage_started(tmp_path: Path) -> None:
    log = tmp_path / "score.log"
    log.write_text("2026-12-04 18:40:01,100 INFO prefect.flow_runs: validate ...\n"
                   "2026-12-04 18:40:09,900 INFO prefect.flow_runs: validate done in 8.8 s\n"
                   "2026-12-04 18:40:10,000 INFO prefect.flow_runs: link ...\n"
                   "2026-12-04 18:40:10,200 INFO prefect.task_runs: Finished in state Completed()\nKilled\n")
    assert flow_stage(log) == "link"
