"""``make bench-scale``: scoring at 1 M, 3 M and 10 M people on a Dask LocalCluster, and 1 M on ``local``.

For each size: a world generated once (``counterfraud generate --format parquet``, kept in the work
directory, so a later run of the benchmark skips it), trained once (on a seeded sample of
:data:`TRAINING_SAMPLE` subjects) and approved by a panel account other than its trainer (kept too),
then scored: the first run validates the files and stores their extract, a rerun on the same files
reads it from the cache, a run on the other engine reads it too; then the raw baseline
(:mod:`benchmarks.baseline`). Each is the real command in its own process, against one Prefect server
started for the benchmark. Wall time is the command's; peak memory is that of every process the
benchmark started, added together (the command, its Dask scheduler and workers, the Prefect server),
sampled every 50 ms; the stages are each scoring run's summary (``timings_seconds``). The load
average is recorded as each step starts and ends: the figures of a shared machine depend on it.

A size whose step fails, or runs past the size's time limit or the memory limit, is recorded with
the step, the flow's stage it was in and what stopped it; the next size still runs.

``python -m benchmarks.scale`` writes its section into the ``## Scale`` section of
``benchmarks/FINDINGS.md`` and of ``benchmarks/RESULTS.md``;
``python -m benchmarks.scale --smoke`` runs a tiny world into a file of its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.run import (
    BENCH_PANEL,
    BENCH_PANEL_PASSWORD,
    BENCH_TRAINER,
    FINDINGS,
    RESULTS,
    Measured,
    StageFailed,
    _machine,
    _versions,
    measure,
    prefect_server,
)

SIZES = (1_000_000, 3_000_000, 10_000_000)
SMOKE_SIZE = 1_500
SEED = 404
LOCAL_UP_TO = 1_000_000
"""Sizes up to this many people are scored on ``local`` as well as on Dask."""
TRAINING_SAMPLE = 200_000
"""``training.max_subjects`` of every trained version: the fit is bounded, scoring covers everyone."""
SECTION_HEADING = "### Measured at scale: `make bench-scale`"
SCALE_HEADING = "## Scale"
CLI = [sys.executable, "-m", "pipelines.cli"]
FLOW_STAGE = re.compile(r"prefect\.flow_runs: (?P<stage>[a-z][a-z ]*) \.\.\.$")
"""A command's log line as one of its flow's stages starts (``<stage> ...``, from Prefect's run logger)."""
LoadAverage = tuple[float, float, float]


@dataclass(frozen=True)
class Limits:
    """What stops one size: its wall time (every step together) and the memory of all processes."""

    time_limit_s: float
    memory_limit_mb: float


@dataclass(frozen=True)
class ClusterSettings:
    """The LocalCluster each ``dask`` command starts."""

    workers: int
    worker_memory: str


@dataclass
class Step:
    """One command of a size: measured, kept from an earlier run, or stopped."""

    name: str
    engine: str = ""
    measured: Measured | None = None
    load: tuple[LoadAverage, LoadAverage] | None = None
    summary: dict | None = None
    outcome: str = "ok"
    cases: bytes | None = None


@dataclass
class SizeResult:
    people: int
    seed: int
    steps: list[Step] = field(default_factory=list)

    @property
    def failed(self) -> list[Step]:
        return [step for step in self.steps if step.outcome not in ("ok", "kept")]


def scoring_runs(people: int) -> list[tuple[str, str]]:
    """``(name, engine)`` of each scoring run of a size, in order: the first validates and stores the
    extract, the others read it from the cache."""
    engines = ("local", "dask") if people <= LOCAL_UP_TO else ("dask",)
    return [("score, first", engines[0]), ("score, rerun", engines[0]),
            *(("score", engine) for engine in engines[1:])]


def settings_text(engine: str, cluster: ClusterSettings) -> str:
    """The settings (YAML) of every command on ``engine``."""
    dask = (f"  dask_workers: {cluster.workers}\n  dask_worker_memory: {cluster.worker_memory}\n"
            if engine == "dask" else "")
    return f"orchestration:\n  engine: {engine}\n{dask}training:\n  max_subjects: {TRAINING_SAMPLE}\n"


def flow_stage(log: Path) -> str:
    """The flow's stage last started in a command's log ("" when it reached none)."""
    stages = [match["stage"] for line in log.read_text(errors="replace").splitlines()
              if (match := FLOW_STAGE.search(line))]
    return stages[-1] if stages else ""


class _Size:
    """The steps of one size, each against what is left of the size's time limit."""

    def __init__(self, result: SizeResult, env: dict[str, str], logs: Path, limits: Limits) -> None:
        self.result, self.env, self.logs, self.limits = result, env, logs, limits
        self.deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=limits.time_limit_s)

    def run(self, name: str, argv: Sequence[str], engine: str = "", stdin_line: str | None = None) -> Step:
        log = self.logs / ("_".join(filter(None, (f"{len(self.result.steps):02d}", name.replace(",", ""), engine)))
                           .replace(" ", "_") + ".log")
        step = Step(name, engine)
        self.result.steps.append(step)
        left = (self.deadline - dt.datetime.now(dt.UTC)).total_seconds()
        if left <= 0:
            step.outcome = "not run: the size's time limit was reached"
            return step
        before = os.getloadavg()
        try:
            step.measured = measure(argv, self.env, log, stdin_line, everything=True, time_limit_s=left,
                                    memory_limit_mb=self.limits.memory_limit_mb)
        except StageFailed as failure:
            step.measured = failure.measured
            stage = flow_stage(log)
            killed = " (SIGKILL: the out-of-memory killer's signal)" if failure.reason == "exited -9" else ""
            step.outcome = (f"{failure.reason}{killed}" + (f", in its stage {stage!r}" if stage else "")
                            + f" (log: {log.name})")
        step.load = (before, os.getloadavg())
        return step


def run_size(people: int, seed: int, workdir: Path, env: dict[str, str], limits: Limits,
             cluster: ClusterSettings) -> SizeResult:
    """Generate (unless kept), train and approve (unless kept), score and run the baseline at one size."""
    world = workdir / f"world_{people}_{seed}"
    data, truth, workspace = world / "data", world / "truth.parquet", world / "workspace"
    logs = world / "logs" / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    logs.mkdir(parents=True)
    result = SizeResult(people, seed)
    size = _Size(result, env, logs, limits)
    runs = scoring_runs(people)
    for engine in {engine for _, engine in runs}:
        (world / f"{engine}.yaml").write_text(settings_text(engine, cluster), encoding="utf-8")
    generated, approved = world / "generated", world / "approved"
    if generated.exists():
        result.steps.append(Step("generate", outcome="kept"))
    else:
        shutil.rmtree(data, ignore_errors=True)
        step = size.run("generate", [*CLI, "generate", "--out", str(data), "--people", str(people), "--seed",
                                     str(seed), "--truth", str(truth), "--format", "parquet", "--force"])
        if step.outcome != "ok":
            return result
        generated.touch()
    if approved.exists():
        result.steps.append(Step("train and approve", outcome="kept"))
    else:
        shutil.rmtree(workspace, ignore_errors=True)
        first_engine = runs[0][1]
        # without the cache: the first scoring run is the one that validates the files and stores them
        for name, argv, stdin_line in (
                ("train", [*CLI, "train", "--data", str(data), "--workspace", str(workspace), "--by", BENCH_TRAINER,
                           "--no-cache", "--config", str(world / f"{first_engine}.yaml")], None),
                ("panel account", [*CLI, "users", "add", BENCH_PANEL, "--role", "panel", "--workspace",
                                   str(workspace)], BENCH_PANEL_PASSWORD),
                ("approve", [*CLI, "approve", "--model-version", "challenger", "--by", BENCH_PANEL, "--note",
                             "benchmark", "--promote", "--workspace", str(workspace)], BENCH_PANEL_PASSWORD)):
            if size.run(name, argv, first_engine if name == "train" else "", stdin_line).outcome != "ok":
                return result
        approved.touch()
    shutil.rmtree(workspace / "extracts", ignore_errors=True)
    as_of = None
    for index, (name, engine) in enumerate(runs):
        out = world / f"run_{index}_{engine}"
        shutil.rmtree(out, ignore_errors=True)
        step = size.run(name, [*CLI, "score", "--data", str(data), "--out", str(out), "--workspace",
                               str(workspace), "--config", str(world / f"{engine}.yaml")], engine)
        if step.outcome == "ok":
            step.summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
            step.cases = (out / "cases.csv").read_bytes()
            as_of = step.summary["as_of"]
    if as_of is None:
        result.steps.append(Step("raw baseline", outcome="not run: no scoring run finished to give its as-of date"))
    else:
        size.run("raw baseline", [sys.executable, "-m", "benchmarks.baseline", "--data", str(data), "--out",
                                  str(world / "baseline"), "--as-of", as_of, "--seed", str(seed)])
    return result


# ----------------------------------------------------------------------------- report


def _load(load: tuple[LoadAverage, LoadAverage] | None) -> str:
    if load is None:
        return ""
    return " → ".join("/".join(f"{value:.1f}" for value in each) for each in load)


def _runs_table(results: list[SizeResult]) -> str:
    lines = ["| people | step | engine | wall s | ÷ baseline | CPU s | peak MB (all processes) | "
             "load average 1/5/15 min, start → end | outcome |", "|---|---|---|---|---|---|---|---|---|"]
    for result in results:
        baseline = next((step.measured.wall_s for step in result.steps
                         if step.name == "raw baseline" and step.outcome == "ok"), None)
        for step in result.steps:
            measured = step.measured
            ratio = (f"{measured.wall_s / baseline:.2f}×" if baseline and measured and step.name.startswith("score")
                     and step.outcome == "ok" else "")
            lines.append(f"| {result.people:,} | {step.name} | {step.engine} | "
                         f"{f'{measured.wall_s:.1f}' if measured else ''} | {ratio} | "
                         f"{f'{measured.cpu_s:.1f}' if measured else ''} | "
                         f"{f'{measured.peak_rss_mb:,.0f}' if measured else ''} | {_load(step.load)} | "
                         f"{step.outcome} |")
    return "\n".join(lines)


def _stages_table(results: list[SizeResult]) -> str:
    scored = [(result, step) for result in results for step in result.steps if step.summary]
    if not scored:
        return "No scoring run finished."
    stages = list(dict.fromkeys(name for _, step in scored for name in step.summary["timings_seconds"]))
    lines = ["| people | run | engine | subjects | flagged | extract | " + " | ".join(stages) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(stages)]
    for result, step in scored:
        timings = step.summary["timings_seconds"]
        cells = [f"{timings[stage]:.1f}" if stage in timings else "" for stage in stages]
        lines.append(f"| {result.people:,} | {step.name} | {step.engine} | "
                     f"{step.summary['subjects']['scored']:,} | {step.summary['flagged']:,} | "
                     f"{step.summary.get('extract', '').removeprefix('extract: ')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _agreement(results: list[SizeResult]) -> list[str]:
    lines = []
    for result in results:
        cases = [step.cases for step in result.steps if step.cases is not None]
        if len(cases) > 1:
            same = all(each == cases[0] for each in cases)
            lines.append(f"- {result.people:,} people: `cases.csv` of the {len(cases)} scoring runs "
                         f"{'byte-identical' if same else 'DIFFER'}.")
    return lines


def render_section(results: list[SizeResult], started: dt.datetime, ended: dt.datetime, command: str,
                   cluster: ClusterSettings, limits: Limits) -> str:
    """The benchmark's section of the report: every step of every size, then the stages of each scoring run."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent, check=False).stdout.strip()
    stopped = [f"- {result.people:,} people: {step.name} {step.engine}: {step.outcome}".replace("  ", " ")
               for result in results for step in result.failed]
    return "\n".join([
        SECTION_HEADING,
        "",
        f"Run {started:%Y-%m-%d %H:%M}–{ended:%H:%M} UTC on {_machine()}, commit {commit or 'unknown'}.  ",
        f"Versions: {_versions()}.  ",
        f"Rerun: `{command}`. Each world (seed {results[0].seed if results else SEED}, standard variant) is "
        "generated once as parquet and kept, trained once (`--no-cache`, `training.max_subjects: "
        f"{TRAINING_SAMPLE}`) and approved by a panel account, then scored: the first run validates the files "
        "and stores their extract, the rerun and the other engine read it from the cache; then the raw "
        f"baseline. `dask`: a LocalCluster of {cluster.workers} worker processes of one thread, "
        f"{cluster.worker_memory} each. Wall is the command's; peak is the resident memory of every process "
        "the benchmark started, added together (the command, its Dask scheduler and workers, the Prefect "
        "server), sampled every 50 ms; CPU is the user and system seconds of the command and every process "
        f"it started. Limits per size: {limits.time_limit_s / 60:.0f} min, "
        f"{limits.memory_limit_mb / 1024:.0f} GB of all processes. `kept`: made by an earlier run of the "
        "benchmark on the same world.",
        "",
        _runs_table(results),
        "",
        "Stages of each scoring run (s, the run summary's `timings_seconds`):",
        "",
        _stages_table(results),
        "",
        *(_agreement(results) or ["- No size had two scoring runs to compare."]),
        *(["", "Stopped or not run:", "", *stopped] if stopped else []),
        "",
    ])


def with_section(text: str, section: str) -> str:
    """``text`` (a report with a ``## Scale`` section) with this benchmark's section in it: in place of
    the one there (up to the next heading), or closing the ``## Scale`` section."""
    if SECTION_HEADING in text:
        start = text.index(SECTION_HEADING)
        following = re.search(r"^##", text[start + len(SECTION_HEADING):], flags=re.MULTILINE)
        end = start + len(SECTION_HEADING) + following.start() if following else len(text)
        return text[:start] + _closed(section, text[end:])
    scale = text.index(f"\n{SCALE_HEADING}\n")
    following = re.search(r"^## ", text[scale + len(SCALE_HEADING) + 2:], flags=re.MULTILINE)
    end = scale + len(SCALE_HEADING) + 2 + following.start() if following else len(text)
    return text[:end].rstrip("\n") + "\n\n" + _closed(section, text[end:])


def _closed(section: str, rest: str) -> str:
    return section.rstrip("\n") + "\n" + ("\n" + rest.lstrip("\n") if rest.strip() else "")


def run_scale(sizes: Sequence[int], seed: int, workdir: Path, limits: Limits, cluster: ClusterSettings,
              command: str) -> str:
    """Every size, one after the other, against one Prefect server; the section of the report."""
    started = dt.datetime.now(dt.UTC)
    with prefect_server(workdir / "prefect-server", workdir / "prefect-server.log") as api_url:
        env = {**os.environ, "PREFECT_API_URL": api_url}
        results = []
        for people in sizes:
            results.append(run_size(people, seed, workdir, env, limits, cluster))
            print(_runs_table(results[-1:]), flush=True)
    return render_section(results, started, dt.datetime.now(dt.UTC), command, cluster, limits)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, nargs="+", default=list(SIZES), help="sizes of the worlds")
    parser.add_argument("--smoke", action="store_true", help=f"one world of {SMOKE_SIZE:,} people (a quick check)")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workdir", type=Path, default=Path(".bench-scale"),
                        help="worlds, workspaces and runs, kept between runs (default: .bench-scale)")
    parser.add_argument("--out", type=Path, help="write the section alone to this file (default: into the "
                                                 "## Scale section of benchmarks/FINDINGS.md and RESULTS.md; "
                                                 "with --smoke scale.md in the work directory)")
    parser.add_argument("--time-limit", type=float, default=90, help="minutes per size, every step together")
    parser.add_argument("--memory-limit", type=float, default=20, help="GB of all processes together")
    parser.add_argument("--dask-workers", type=int, default=2)
    parser.add_argument("--dask-worker-memory", default="4GiB")
    args = parser.parse_args(argv)
    sizes = [SMOKE_SIZE] if args.smoke else args.people
    command = "python -m benchmarks.scale " + ("--smoke" if args.smoke else "--people " + " ".join(map(str, sizes)))
    args.workdir.mkdir(parents=True, exist_ok=True)
    section = run_scale(sizes, args.seed, args.workdir.resolve(), Limits(args.time_limit * 60,
                                                                         args.memory_limit * 1024),
                        ClusterSettings(args.dask_workers, args.dask_worker_memory), command)
    print(section)
    out = args.out or (args.workdir / "scale.md" if args.smoke else None)
    if out is not None:
        out.write_text(section, encoding="utf-8")
    else:
        # in both: the report carries the findings, and a later `make bench` carries them again
        for report in (FINDINGS, RESULTS):
            report.write_text(with_section(report.read_text(encoding="utf-8"), section), encoding="utf-8")
        out = RESULTS
    print(f"\nsection written to {out}")


if __name__ == "__main__":
    main()
