"""``make bench``: detection quality, public data, speed and memory, in one report.

Each stage runs as its own process (the real command line), so wall time and
peak memory (resident set of the process and its children, sampled every 50 ms)
are those a user sees. A Prefect server is started once for the whole benchmark
(or ``PREFECT_API_URL`` is used), as a scheduled deployment would have, so the
timings hold the pipeline's own work and not a temporary server's start-up.

Typology quality is measured on worlds whose seeds were not used while tuning,
drawn by every generator variant (:mod:`synthetic.variants`): the variants used
while tuning features (``TUNING_VARIANTS``) and others never used for tuning,
each reported on its own; the raw baseline (:mod:`benchmarks.baseline`) runs on
the same worlds, in the same way.

``python -m benchmarks.run`` writes ``benchmarks/RESULTS.md``;
``python -m benchmarks.run --smoke`` runs a tiny version (CI) into a given file.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pandas as pd
import psutil

from benchmarks.adbench import PUBLISHED, check_data_dir, format_table, run_adbench
from benchmarks.casework import CASEWORK_HEADING, format_section, measure_casework
from models.evaluate import TRUTH, Evaluation, evaluate_scores, labels_from_truth
from synthetic.truth import read_truth

RESULTS = Path(__file__).with_name("RESULTS.md")
FINDINGS = Path(__file__).with_name("FINDINGS.md")
"""What was tried for the targets not met, what limits them and what would move them: written by
hand from the measurements, and carried into every report."""
FINDINGS_START = "## Targets not met"
"""The heading that opens :data:`FINDINGS`, and so its place in the report."""
ADBENCH_HEADING = "## Public data (ADBench)"
CAPACITY = 0.02
BENCH_TRAINER, BENCH_PANEL = "benchmark trainer", "benchmark panel member"
"""The trainer of each benchmarked version, and the panel member (another person) who approves it."""
BENCH_PANEL_PASSWORD = "benchmark panel password"
TUNING_VARIANTS = ("standard", "newcomers", "other_records")
"""Variants whose worlds (other seeds) were looked at while features were tuned; the others never were."""

# Targets on worlds and variants not used for tuning.
TARGET_RECALL = 0.6
TARGET_AVERAGE_PRECISION = 0.75
TARGET_PRECISION = 0.7
PRECISION_TARGET_MIN_FRAUD_SHARE = 0.02
"""Precision at capacity is a target only where fraud is at least this share of subjects."""


@dataclass(frozen=True)
class LoopProfile:
    """Which investigation loops to run (:mod:`benchmarks.loop`): ``(variant, training seed, fresh seed)``
    triples at ``people`` people, rounds 0 to ``rounds``."""

    people: int
    variants: tuple[tuple[str, int, int], ...]
    rounds: int
    config: str = ""
    """Settings (YAML text) every training and scoring command of the loops reads."""


@dataclass(frozen=True)
class Profile:
    """Which worlds to build (``(people, seed, variant)`` triples) and which investigation loops to run."""

    worlds: tuple[tuple[int, int, str], ...]
    adbench_seeds: tuple[int, ...]
    loop: LoopProfile


# seeds 101.. were never used while tuning features or detectors
FULL = Profile(worlds=((20_000, 101, "standard"), (20_000, 101, "newcomers"), (20_000, 101, "other_records"),
                       (20_000, 101, "mixed"), (20_000, 101, "subtle"), (20_000, 202, "mixed"),
                       (20_000, 505, "typos"), (20_000, 606, "other_means"),
                       (100_000, 303, "mixed"), (100_000, 303, "subtle"), (1_000_000, 404, "subtle")),
               adbench_seeds=(0, 1, 2),
               # seeds 6xx: never used while tuning; mixed and subtle: held-out variants
               loop=LoopProfile(people=5_000, variants=(("subtle", 611, 612), ("mixed", 621, 622)), rounds=3,
                                # a round reviews about 90 cases at 5,000 people (2 % and the control sample)
                                config="training:\n  outcomes:\n    min_reviewed: 80\n"))
SMOKE = Profile(worlds=((1_500, 101, "standard"),), adbench_seeds=(),
                loop=LoopProfile(people=2_000, variants=(("subtle", 611, 612),), rounds=1))


@dataclass(frozen=True)
class Measured:
    """One command: wall time, peak resident memory of its process tree, CPU time."""

    wall_s: float
    peak_rss_mb: float
    cpu_s: float = float("nan")
    """User and system CPU seconds of the command and every process it started and waited for: what
    it cost, whatever else the machine was running."""


class StageFailed(RuntimeError):
    """A benchmarked command exited non-zero, or was stopped at its time or memory limit.

    ``reason`` says which (``exited 1``, a limit), ``measured`` holds its wall time and peak memory to
    that point (``None`` when it never ran).
    """

    def __init__(self, message: str, measured: Measured | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.measured, self.reason = measured, reason or message


def _tree_rss(process: psutil.Process, itself: bool = True) -> int:
    total = 0
    for member in [*([process] if itself else []), *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _stop_tree(process: psutil.Process) -> None:
    """Kill ``process`` and every process it started (children first: none is left behind)."""
    with contextlib.suppress(psutil.Error):
        members = [*process.children(recursive=True), process]
        for member in members:
            with contextlib.suppress(psutil.Error):
                member.kill()
        psutil.wait_procs(members, timeout=30)


def measure(argv: Sequence[str], env: dict[str, str], log: Path, stdin_line: str | None = None, *,
            everything: bool = False, time_limit_s: float | None = None,
            memory_limit_mb: float | None = None) -> Measured:
    """Run ``argv`` (``stdin_line`` as its standard input); sample the resident memory of it and its
    children until it ends.

    With ``everything`` the memory sampled is that of every process this one started (a server
    started for the benchmark, the command, and whatever the command started), added together.
    Past ``time_limit_s`` seconds or ``memory_limit_mb`` sampled the command and its children are
    killed and :class:`StageFailed` says which limit stopped it.
    """
    started, cpu_before = time.perf_counter(), _children_cpu_s()
    with log.open("ab") as sink:
        child = subprocess.Popen(list(argv), env=env, stdout=sink, stderr=subprocess.STDOUT,
                                 stdin=None if stdin_line is None else subprocess.PIPE)
        if stdin_line is not None:
            child.stdin.write(f"{stdin_line}\n".encode())
            child.stdin.close()
        command = psutil.Process(child.pid)
        watched, itself = (psutil.Process(), False) if everything else (command, True)
        peak, stopped = 0, None
        while child.poll() is None:
            with contextlib.suppress(psutil.Error):
                peak = max(peak, _tree_rss(watched, itself))
            if memory_limit_mb is not None and peak > memory_limit_mb * 2**20:
                stopped = f"stopped at the memory limit ({memory_limit_mb:,.0f} MB)"
            elif time_limit_s is not None and time.perf_counter() - started > time_limit_s:
                stopped = f"stopped at the time limit ({time_limit_s:,.0f} s)"
            if stopped:
                _stop_tree(command)
                break
            time.sleep(0.05)
        child.wait()
    measured = Measured(wall_s=time.perf_counter() - started, peak_rss_mb=peak / 2**20,
                        cpu_s=_children_cpu_s() - cpu_before)
    reason = stopped or (f"exited {child.returncode}" if child.returncode != 0 else "")
    if reason:
        raise StageFailed(f"{' '.join(argv)} {reason}; see {log}", measured, reason)
    return measured


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def prefect_server(home: Path, log: Path) -> Iterator[str]:
    """The API URL of a Prefect server: ``$PREFECT_API_URL``, or one started for the benchmark."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    with log.open("ab") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/api"
    with serving(server, f"{url}/health", 180, f"Prefect server did not start; see {log}"):
        yield url


@contextlib.contextmanager
def serving(server: subprocess.Popen, probe: str, seconds: float, failure: str) -> Iterator[None]:
    """The block runs once ``probe`` answers with success; ``server`` is stopped when it ends.

    Raises :class:`StageFailed` with ``failure`` when the server exits, or ``seconds`` pass, first.
    """
    try:
        deadline = time.monotonic() + seconds
        while True:
            with contextlib.suppress(OSError):  # refused, reset, or an HTTP error status: not yet serving
                with urllib.request.urlopen(probe, timeout=2):
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise StageFailed(failure)
            time.sleep(0.5)
        yield
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=30)


def evaluate_ranking(scored: pd.DataFrame, truth: pd.DataFrame) -> Evaluation:
    """Quality of a ranking (``subject_ref``, ``subject_type``, ``score``) against a world's truth."""
    return evaluate_scores(scored, labels_from_truth(scored, truth), CAPACITY, TRUTH)


def run_world(people: int, seed: int, root: Path, env: dict[str, str], log: Path, variant: str = "standard") -> dict:
    """Generate a world of ``variant``, train, score and run the raw baseline on it; measure each stage."""
    cli = [sys.executable, "-m", "pipelines.cli"]
    world = root / f"world_{people}_{seed}_{variant}"
    data, truth_file = world / "data", world / "truth.parquet"
    workspace, out, baseline_out = world / "workspace", world / "run", world / "baseline"
    stages = {
        "generate": measure([*cli, "generate", "--out", str(data), "--people", str(people),
                             "--seed", str(seed), "--truth", str(truth_file), "--variant", variant], env, log),
        "train": measure([*cli, "train", "--data", str(data), "--workspace", str(workspace),
                          "--truth", str(truth_file), "--by", BENCH_TRAINER], env, log),
        "report": measure([sys.executable, "-m", "benchmarks.report_speed", "--data", str(data),
                           "--workspace", str(workspace), "--truth", str(truth_file),
                           "--out", str(world / "report"), "--result", str(world / "report_speed.json")], env, log),
        # only a version approved by a panel account other than its trainer scores
        "panel account": measure([*cli, "users", "add", BENCH_PANEL, "--role", "panel",
                                  "--workspace", str(workspace)], env, log, BENCH_PANEL_PASSWORD),
        "approve": measure([*cli, "approve", "--model-version", "challenger", "--by", BENCH_PANEL,
                            "--note", "benchmark", "--promote", "--workspace", str(workspace)], env, log,
                           BENCH_PANEL_PASSWORD),
        "score": measure([*cli, "score", "--data", str(data), "--out", str(out),
                          "--workspace", str(workspace)], env, log),
    }
    summary = json.loads((out / "run_summary.json").read_text())
    stages["baseline"] = measure(
        [sys.executable, "-m", "benchmarks.baseline", "--data", str(data), "--out",
         str(baseline_out), "--as-of", summary["as_of"], "--seed", str(seed)], env, log)
    truth = read_truth(truth_file)
    pipeline = evaluate_ranking(pd.read_parquet(out / "cases.parquet"), truth)
    baseline = evaluate_ranking(pd.read_csv(baseline_out / "baseline_cases.csv", dtype={"subject_ref": str}),
                                truth)
    report = json.loads((world / "report_speed.json").read_text())
    return {"people": people, "seed": seed, "variant": variant, "stages": stages, "summary": summary,
            "pipeline": pipeline, "baseline": baseline, "run_dir": out, "report_seconds": report["seconds"]}


# ----------------------------------------------------------------------------- report


def _versions() -> str:
    names = ("numpy", "pandas", "scikit-learn", "pyod", "torch", "shap", "mlflow", "prefect")
    return ", ".join(f"{name} {metadata.version(name)}" for name in names)


def _machine() -> str:
    memory = psutil.virtual_memory().total / 2**30
    return (f"{platform.machine()} {platform.processor() or platform.platform()}, "
            f"{os.cpu_count()} CPU cores, {memory:.0f} GiB, Python {platform.python_version()}")


def _world_name(run: dict) -> str:
    tuned = " (tuning variant)" if run["variant"] in TUNING_VARIANTS else ""
    return f"{run['people']:,} people, seed {run['seed']}, {run['variant']}{tuned}"


def _quality_table(runs: list[dict]) -> str:
    lines = ["| world | subjects | frauds | method | AP | precision @2% | recall @2% |",
             "|---|---|---|---|---|---|---|"]
    for run in runs:
        for method in ("pipeline", "baseline"):
            e: Evaluation = run[method]
            lines.append(f"| {_world_name(run)} | {e.n_subjects:,} | "
                         f"{e.n_fraud:,} | {method} | {e.average_precision:.3f} | "
                         f"{e.precision_at_capacity:.3f} | {e.recall_at_capacity:.3f} |")
    return "\n".join(lines)


def _typology_table(runs: list[dict]) -> str:
    typologies = sorted({t for run in runs for t in run["pipeline"].by_typology["typology"]})
    header = "| world | method | " + " | ".join(typologies) + " |"
    lines = [header, "|---|---|" + "---|" * len(typologies)]
    for run in runs:
        for method in ("pipeline", "baseline"):
            recall = run[method].by_typology.set_index("typology")
            cells = [f"{recall.loc[t, 'recall']:.2f} ({int(recall.loc[t, 'flagged'])}/{int(recall.loc[t, 'n'])})"
                     if t in recall.index else "–" for t in typologies]
            lines.append(f"| {run['people']:,}/{run['seed']}/{run['variant']} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _speed_table(runs: list[dict]) -> str:
    lines = ["| people | stage | wall s | peak MB |", "|---|---|---|---|"]
    for run in runs:
        for stage, measured in run["stages"].items():
            lines.append(f"| {run['people']:,} | {stage} | {measured.wall_s:.1f} | {measured.peak_rss_mb:,.0f} |")
        lines.append(f"| {run['people']:,} | report: its figures and files only | "
                     f"{run['report_seconds']['report']:.1f} | |")
    return "\n".join(lines)


def _explained_per_second(run: dict) -> float:
    explain = run["summary"]["timings_seconds"].get("explain", 0.0)
    return run["summary"]["flagged"] / explain if explain else float("nan")


def _quality_targets_table(runs: list[dict]) -> str:
    """The quality targets, per world: met, missed, or not a target there."""
    lines = [f"| world | AP ≥ {TARGET_AVERAGE_PRECISION} | precision @2% ≥ {TARGET_PRECISION} "
             f"(where fraud ≥ {PRECISION_TARGET_MIN_FRAUD_SHARE:.0%}) | every typology recalled ≥ {TARGET_RECALL} |",
             "|---|---|---|---|"]
    for run in runs:
        e: Evaluation = run["pipeline"]
        lowest = e.by_typology.sort_values("recall").iloc[0]
        precision = (f"{e.precision_at_capacity:.2f} {'met' if e.precision_at_capacity >= TARGET_PRECISION else 'no'}"
                     if e.n_fraud >= PRECISION_TARGET_MIN_FRAUD_SHARE * e.n_subjects
                     else f"{e.precision_at_capacity:.2f} (fraud {e.n_fraud / e.n_subjects:.1%}: not a target)")
        lines.append(
            f"| {_world_name(run)} | {e.average_precision:.2f} "
            f"{'met' if e.average_precision >= TARGET_AVERAGE_PRECISION else 'no'} | {precision} | "
            f"{lowest['recall']:.2f} lowest ({lowest['typology']}) {'met' if lowest['recall'] >= TARGET_RECALL else 'no'} |")
    return "\n".join(lines)


def _targets_table(runs: list[dict], adbench: pd.DataFrame | None) -> str:
    """Each target of the project, met or not, from the figures above (quality targets: on held-out variants)."""
    rows = []
    held_out = [run["pipeline"] for run in runs if run["variant"] not in TUNING_VARIANTS] or [
        run["pipeline"] for run in runs]
    lowest_ap = min(e.average_precision for e in held_out)
    targeted = [e for e in held_out if e.n_fraud >= PRECISION_TARGET_MIN_FRAUD_SHARE * e.n_subjects]
    lowest_recall = min(float(e.by_typology["recall"].min()) for e in held_out)
    rows += [
        (f"average precision ≥ {TARGET_AVERAGE_PRECISION} on every held-out world", f"{lowest_ap:.2f} (lowest)",
         lowest_ap >= TARGET_AVERAGE_PRECISION),
        (f"every typology recalled ≥ {TARGET_RECALL} at 2 % on every held-out world", f"{lowest_recall:.2f} (lowest)",
         lowest_recall >= TARGET_RECALL),
    ]
    if targeted:
        lowest_precision = min(e.precision_at_capacity for e in targeted)
        rows.append((f"precision at 2 % ≥ {TARGET_PRECISION} on every held-out world with fraud ≥ 2 %",
                     f"{lowest_precision:.2f} (lowest)", lowest_precision >= TARGET_PRECISION))
    largest = max(runs, key=lambda run: run["people"])
    if largest["people"] >= 1_000_000:
        score, train = largest["stages"]["score"], largest["stages"]["train"]
        ratio = score.wall_s / largest["stages"]["baseline"].wall_s
        explained = _explained_per_second(largest)
        rows += [
            ("1 M people: scoring ≤ 90 s wall", f"{score.wall_s:.1f} s", score.wall_s <= 90),
            ("1 M people: scoring ≤ 8 GB peak", f"{score.peak_rss_mb / 1024:.1f} GB", score.peak_rss_mb <= 8 * 1024),
            ("1 M people: scoring within 3× the raw baseline", f"{ratio:.1f}×", ratio <= 3),
            ("1 M people: ≥ 5,000 flagged subjects explained per second", f"{explained:,.0f}/s",
             explained >= 5000),
            ("1 M people: training within a few minutes (≤ 5)", f"{train.wall_s / 60:.1f} min", train.wall_s <= 300),
            ("1 M people: oversight report under a minute (its figures and files, after features and scores)",
             f"{largest['report_seconds']['report']:.1f} s", largest["report_seconds"]["report"] < 60),
        ]
    if adbench is not None:
        mean = adbench.set_index("dataset").loc["mean"]
        best = max(mean[f"{method} ROC-AUC"] for method in PUBLISHED)
        ours = mean["combined ROC-AUC"]
        rows.append(("ADBench mean ROC-AUC ≥ best single published method", f"{ours:.2f} vs {best:.2f}",
                     ours >= best))
    lines = ["| target | measured | met |", "|---|---|---|"]
    lines += [f"| {target} | {measured} | {'yes' if met else 'no'} |" for target, measured, met in rows]
    return "\n".join(lines)


def _throughput_table(runs: list[dict]) -> str:
    lines = ["| people | subjects | flagged | score run s | subjects/s | explain s | explained/s | "
             "score ÷ baseline | stage timings (s) |", "|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        summary, stages = run["summary"], run["stages"]
        timings = summary["timings_seconds"]
        subjects, flagged = summary["subjects"]["scored"], summary["flagged"]
        explain = timings.get("explain", float("nan"))
        stage_text = ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
        lines.append(
            f"| {run['people']:,} | {subjects:,} | {flagged:,} | {stages['score'].wall_s:.1f} | "
            f"{subjects / stages['score'].wall_s:,.0f} | {explain:.2f} | "
            f"{_explained_per_second(run):,.0f} | "
            f"{stages['score'].wall_s / stages['baseline'].wall_s:.1f}× | {stage_text} |")
    return "\n".join(lines)


def render_report(runs: list[dict], adbench: pd.DataFrame | None, started: dt.datetime,
                  command: str, loop_section: str = "") -> str:
    parts = [
        "# Benchmark results",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC on {_machine()}.  ",
        f"Versions: {_versions()}.  ",
        f"Rerun: `{command}` (each world is generated, trained on with its truth file, scored, and "
        "compared with the raw baseline: an isolation forest on the raw numeric columns of each "
        "claims table, no linking, no engineered features). Capacity: 2 % of subjects.",
        "",
        "## Targets",
        "",
        _targets_table(runs, adbench),
        "",
        f"Quality targets per world (variants {', '.join(TUNING_VARIANTS)} were used while tuning features, on "
        "other seeds; the others never were):",
        "",
        _quality_targets_table(runs),
        "",
        "## Typologies: quality at capacity",
        "",
        _quality_table(runs),
        "",
        "Recall per typology at 2 % capacity (flagged / frauds):",
        "",
        _typology_table(runs),
        "",
        *([loop_section.rstrip(), ""] if loop_section else []),
        "## Speed and memory",
        "",
        "Each stage is the real command in its own process; peak memory is the resident set of "
        "that process and its children.",
        "",
        _speed_table(runs),
        "",
        _throughput_table(runs),
        "",
    ]
    if FINDINGS.exists():
        parts += [FINDINGS.read_text(encoding="utf-8").rstrip(), ""]
    if adbench is not None:
        parts += [ADBENCH_HEADING, "",
                  "`models.make_detector()` with default settings, ADBench protocol "
                  "(stratified 70/30, fitted without labels, mean of 3 seeds), in %:", "",
                  format_table(adbench), ""]
    return "\n".join(parts)


def with_findings(report: str, findings: str) -> str:
    """``report`` with its hand-written findings (from the first ``## `` heading after the speed tables
    up to the ADBench section) replaced by ``findings``: figures measured, explanations written after."""
    start = report.index(FINDINGS_START)
    ends = [index for index in (report.find(heading, start) for heading in (ADBENCH_HEADING, CASEWORK_HEADING))
            if index >= 0]
    end = min(ends, default=len(report))
    return report[:start] + findings.rstrip() + "\n\n" + report[end:]


def run_benchmarks(profile: Profile, out: Path, workdir: Path, command: str) -> str:
    """Run every world of ``profile`` (and ADBench) and write the report to ``out``."""
    started = dt.datetime.now(dt.UTC)
    adbench_dir = check_data_dir() if profile.adbench_seeds else None
    log = workdir / "bench.log"
    with prefect_server(workdir / "prefect-server", log) as api_url:
        env = {**os.environ, "PREFECT_API_URL": api_url}
        runs = [run_world(people, seed, workdir, env, log, variant) for people, seed, variant in profile.worlds]
        # imported here: the loop is built from this module's stages
        from benchmarks.loop import format_loop_section, run_loops

        loop_section = format_loop_section(run_loops(profile.loop, workdir, env, log), command)
    adbench = run_adbench(adbench_dir, seeds=profile.adbench_seeds) if adbench_dir else None
    largest = max(runs, key=lambda run: run["people"])
    casework = format_section(largest["people"], measure_casework(largest["run_dir"], workdir))
    report = render_report(runs, adbench, started, command, loop_section) + "\n" + casework + "\n"
    out.write_text(report, encoding="utf-8")
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run for CI (seconds, not minutes)")
    parser.add_argument("--out", type=Path, help="report file (default: benchmarks/RESULTS.md; "
                                                 "with --smoke a temporary file)")
    parser.add_argument("--workdir", type=Path, help="where worlds and runs are written (default: temporary)")
    parser.add_argument("--refresh-findings", action="store_true",
                        help="only carry benchmarks/FINDINGS.md into the existing report, without measuring again")
    args = parser.parse_args(argv)
    if args.refresh_findings:
        out = args.out or RESULTS
        out.write_text(with_findings(out.read_text(encoding="utf-8"), FINDINGS.read_text(encoding="utf-8")),
                       encoding="utf-8")
        print(f"findings carried into {out}")
        return
    profile = SMOKE if args.smoke else FULL
    command = "make bench-smoke" if args.smoke else "make bench"
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cf-bench-")))
        workdir.mkdir(parents=True, exist_ok=True)
        out = args.out or (workdir / "RESULTS.md" if args.smoke else RESULTS)
        print(run_benchmarks(profile, out, workdir, command))
        print(f"\nreport written to {out}")


if __name__ == "__main__":
    main()
