"""A first scoring run against a rerun on the same files: ``python -m benchmarks.extract_cache``.

On one generated world: train without the cache (so that the first scoring run validates the files
and stores their validated extract; or take ``--trained``, a workspace trained on another world), then ``counterfraud score`` three times: the first run, a rerun
that reads the extract from the cache, and a run with ``--no-cache``; then the raw baseline. Each is
the real command in its own process, measured as :func:`benchmarks.run.measure` does (wall time, peak
resident set of its whole process tree), against one Prefect server. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.run import (
    BENCH_PANEL,
    BENCH_PANEL_PASSWORD,
    BENCH_TRAINER,
    Measured,
    measure,
    prefect_server,
)

CLI = [sys.executable, "-m", "pipelines.cli"]
SCORING_RUNS = (("first", ()), ("rerun", ()), ("no cache", ("--no-cache",)))
"""Name and extra arguments of each scoring run, in the order they run."""


def measure_reruns(people: int, seed: int, workdir: Path, trained: Path | None = None) -> list[dict]:
    """Generate (unless present), train and approve (unless ``trained`` names a workspace whose champion
    may score), score three times and run the baseline; one row per run."""
    data, truth, workspace = workdir / "data", workdir / "truth.parquet", trained or workdir / "workspace"
    log = workdir / "bench.log"
    rows = []
    with prefect_server(workdir / "prefect-server", log) as api_url:
        env = {**os.environ, "PREFECT_API_URL": api_url}
        if not data.is_dir():
            measure([*CLI, "generate", "--out", str(data), "--people", str(people), "--seed", str(seed),
                     "--truth", str(truth)], env, log)
        if trained is None:
            measure([*CLI, "train", "--data", str(data), "--workspace", str(workspace), "--by", BENCH_TRAINER,
                     "--no-cache"], env, log)
            measure([*CLI, "users", "add", BENCH_PANEL, "--role", "panel", "--workspace", str(workspace)], env,
                    log, BENCH_PANEL_PASSWORD)
            measure([*CLI, "approve", "--model-version", "challenger", "--by", BENCH_PANEL, "--note", "benchmark",
                     "--promote", "--workspace", str(workspace)], env, log, BENCH_PANEL_PASSWORD)
        for name, extra in SCORING_RUNS:
            out = workdir / f"score_{name.replace(' ', '_')}"
            measured = measure([*CLI, "score", "--data", str(data), "--out", str(out), "--workspace",
                                str(workspace), *extra], env, log)
            summary = json.loads((out / "run_summary.json").read_text(encoding="utf-8"))
            rows.append(_row(name, measured, summary, out))
        baseline = measure([sys.executable, "-m", "benchmarks.baseline", "--data", str(data), "--out",
                            str(workdir / "baseline"), "--as-of", summary["as_of"], "--seed", str(seed)], env, log)
        rows.append(_row("raw baseline", baseline, None, None))
    return rows


def _row(name: str, measured: Measured, summary: dict | None, out: Path | None) -> dict:
    timings = (summary or {}).get("timings_seconds", {})
    return {"run": name, "wall_s": measured.wall_s, "peak_mb": measured.peak_rss_mb,
            "validate_s": timings.get("validate"), "flow_s": timings.get("total"),
            "extract": (summary or {}).get("extract", ""),
            "cases": None if out is None else (out / "cases.csv").read_bytes(),
            "rejects": None if out is None else (out / "rejects.csv").read_bytes()}


def format_rows(rows: list[dict]) -> str:
    """The runs as a Markdown table, each against the raw baseline, and whether their outputs agree."""
    baseline = rows[-1]["wall_s"]
    lines = ["| run | wall s | ÷ baseline | peak MB (all processes) | validate stage s | flow total s | extract |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        figures = [f"{row[key]:.1f}" if row[key] is not None else "" for key in ("validate_s", "flow_s")]
        lines.append(f"| {row['run']} | {row['wall_s']:.1f} | {row['wall_s'] / baseline:.2f}× | "
                     f"{row['peak_mb']:,.0f} | {figures[0]} | {figures[1]} | {row['extract']} |")
    scored = [row for row in rows if row["cases"] is not None]
    same = all(row["cases"] == scored[0]["cases"] and row["rejects"] == scored[0]["rejects"] for row in scored)
    lines += ["", f"cases.csv and rejects.csv byte-identical across the scoring runs: {'yes' if same else 'NO'}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, required=True, help="world, workspace and runs (kept)")
    parser.add_argument("--trained", type=Path,
                        help="a workspace whose champion may score (another world's): no training here")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(format_rows(measure_reruns(args.people, args.seed, args.workdir, args.trained)))


if __name__ == "__main__":
    main()
