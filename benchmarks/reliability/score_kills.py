"""kill -9 of ``counterfraud score``: at random moments, at aimed ones, and inside the staging of its run.

A rerun after each kill must give, byte for byte, the case files of a clean run, and no run of
the history (``<workspace>/runs``) or ``--out`` may say it is complete with other bytes.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.reliability.processes import Watched, wait_for
from benchmarks.reliability.world import World
from benchmarks.run import measure

CASE_FILES = ("cases.csv", "cases.parquet", "explanations.parquet", "links.parquet", "rejects.csv")
AIMS = ("random", "importing", "copying")
"""Where a score is killed, in turn: at a random moment, or aimed (see :func:`_aim`)."""


@dataclass(frozen=True)
class ScoreKills:
    kills: dict[str, int]
    """Kills per aim; a command that ended before its aim was reached is not counted."""
    reruns_identical: int
    reruns: int
    complete_but_different: int
    """Runs of the history or ``--out`` directories saying complete whose case files differ."""
    left_behind: int
    """Processes of killed commands still running after :data:`.processes.LEFTOVER_WAIT_S`."""


def same_cases(directory: Path, reference: Path) -> bool:
    return all((directory / name).is_file() and (directory / name).read_bytes() == (reference / name).read_bytes()
               for name in CASE_FILES)


def says_complete(directory: Path) -> bool:
    try:
        return json.loads((directory / "run_summary.json").read_text()).get("status") == "complete"
    except (OSError, ValueError):
        return False


def _aim(aim: str, world: World, out: Path, rng: random.Random) -> Callable[[], bool]:
    """When to kill: ``random`` after a random share of a clean run's time; ``importing`` once the run
    is published (the work list then goes to the case store); ``copying`` once a temporary file of the
    copy to ``--out`` exists."""
    runs = world.workspace / "runs"
    if aim == "random":
        deadline = time.monotonic() + rng.uniform(0.05, 1.0) * world.score_s
        return lambda: time.monotonic() >= deadline
    if aim == "importing":
        before = {path.name for path in runs.iterdir()}
        return lambda: any(not path.name.startswith(".") and path.name not in before for path in runs.iterdir())
    return lambda: any(out.glob(".*.tmp"))


def kill_score(world: World, kills: int, rng: random.Random) -> ScoreKills:
    """Kill ``kills`` scoring commands at the moments of :data:`AIMS` in turn; rerun each.

    The commands killed at an aimed moment start their own temporary Prefect server (no
    ``PREFECT_API_URL``), as a command run by hand does, so what a kill leaves running is counted;
    those killed at random use the benchmark's server, so that their moments spread over the flow's
    own work rather than a server's start. The reruns use the benchmark's server.
    """
    own_server = {key: value for key, value in world.env.items() if key != "PREFECT_API_URL"}
    counted = dict.fromkeys(AIMS, 0)
    identical = reruns = left = 0
    for number in range(kills):
        aim = AIMS[number % len(AIMS)]
        out = world.root / f"killed_score_{number}"
        reached = _aim(aim, world, out, rng)
        watched = Watched(world.score_argv(out), world.env if aim == "random" else own_server, world.log)
        if wait_for(watched, reached):
            left += watched.kill()
            counted[aim] += 1
        else:
            watched.process.wait()
        measure(world.score_argv(out), world.env, world.log)
        reruns += 1
        identical += says_complete(out) and same_cases(out, world.reference)
    from pipelines.runs import completed_runs

    kept = [record.path for record in completed_runs(world.workspace / "runs")]
    outs = [path for path in world.root.glob("killed_score_*") if says_complete(path)]
    different = sum(not same_cases(path, world.reference) for path in [*kept, *outs])
    return ScoreKills(kills=counted, reruns_identical=identical, reruns=reruns, complete_but_different=different,
                      left_behind=left)


# ------------------------------------------------------------------------------------------ inside the staging


@dataclass(frozen=True)
class StagingKill:
    """One kill aimed inside the staging of a run (``pipelines.runs.staged_run``)."""

    aimed: int
    """Files the staging directory was to hold at the kill; one more than a run's files: every file
    written (the run summary readable), before the rename."""
    held: int | None
    """Files it held when the command died, None when the run had already been renamed (published)."""
    files: int
    """Files of a complete run."""
    rerun_identical: bool
    half_written_visible: int
    """Of the killed run's directory in the history and its ``--out``: those that look complete (a
    published run directory, or a run summary saying complete) without the clean run's bytes."""
    left_behind: int

    def describe(self, of: int | None) -> str:
        """``of`` files written (``aimed`` or ``held``) in words."""
        if of is None:
            return "after the rename"
        return f"{of} of {self.files} files" if of <= self.files else "every file written, before the rename"


def staging_targets(files: int, kills: int) -> list[int]:
    """``kills`` aims spread from the rename (``files + 1``) down to the empty staging directory (0)."""
    last = files + 1
    if kills == 1:
        return [last]
    return [last - round(number * last / (kills - 1)) for number in range(kills)]


def _reached(staging: Path, aimed: int, files: int) -> bool:
    held = len(os.listdir(staging))
    if aimed <= files:
        return held >= aimed
    return held >= files and says_complete(staging)


def kill_in_staging(world: World, kills: int) -> list[StagingKill]:
    """Kill ``kills`` scoring commands inside the staging of their run (aims: :func:`staging_targets`).

    The command runs until its staging directory appears (polled every millisecond), is stopped
    (SIGSTOP), then let run a millisecond at a time until the directory holds the aimed number of
    files; SIGKILL then lands in exactly the state last seen. Each is run again into the same
    ``--out``. These use the benchmark's Prefect server (they are about the run's files; what a kill
    leaves running is counted by :func:`kill_score`).
    """
    from pipelines.runs import STAGING_PREFIX

    runs = world.workspace / "runs"
    reference_run = Path(json.loads((world.reference / "run_summary.json").read_text())["run_dir"])
    files = len(os.listdir(reference_run))
    results = []
    for number, aimed in enumerate(staging_targets(files, kills)):
        out = world.root / f"staging_kill_{number}"
        before = set(os.listdir(runs))
        watched = Watched(world.score_argv(out), world.env, world.log)
        staged: list[str] = []

        def appeared(before: set[str] = before, staged: list[str] = staged) -> bool:
            staged.extend(name for name in os.listdir(runs) if name.startswith(STAGING_PREFIX) and name not in before)
            return bool(staged)

        if not (wait_for(watched, appeared, scan=False) and watched.pause()):
            watched.process.wait()
            continue  # ended before its staging directory was seen: no kill to count
        staging = runs / staged[0]
        while staging.is_dir() and not _reached(staging, aimed, files) and watched.step():
            pass
        if watched.process.poll() is not None:
            continue  # ended while stepped
        held = len(os.listdir(staging)) if staging.is_dir() else None
        if held == files and says_complete(staging):
            held = files + 1
        left = watched.kill()
        published = runs / staged[0].removeprefix(STAGING_PREFIX)
        visible = (int(published.exists() and not (says_complete(published)
                                                   and same_cases(published, world.reference)))
                   + int(says_complete(out) and not same_cases(out, world.reference)))
        measure(world.score_argv(out), world.env, world.log)
        results.append(StagingKill(aimed=aimed, held=held, files=files,
                                   rerun_identical=says_complete(out) and same_cases(out, world.reference),
                                   half_written_visible=visible, left_behind=left))
    return results
