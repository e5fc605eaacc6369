"""The oversight report's own time on a trained world: ``python -m benchmarks.report_speed``.

Runs the report flow on a world's data and a workspace holding a trained version,
and writes its timings (preparing features and scores; the report itself) as JSON,
for :mod:`benchmarks.run` to read.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path


def time_report(data: Path, workspace: Path, out: Path, truth: Path | None, model_version: str) -> dict:
    """Report on ``model_version`` afresh; return the report flow's answer with its timings."""
    from configs.settings import load_settings
    from pipelines.workspace import Workspace

    settings = load_settings()
    Workspace(workspace, settings).activate()  # before Prefect or MLflow are imported
    from pipelines.report import report_flow

    answer = report_flow(model_version, out, settings, data_dir=data, truth_path=truth)
    return {"version": answer["version"], "seconds": answer["seconds"]}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="directory for the report")
    parser.add_argument("--truth", type=Path)
    parser.add_argument("--model-version", default="challenger")
    parser.add_argument("--result", type=Path, required=True, help="JSON file for the timings")
    args = parser.parse_args(argv)
    timings = time_report(args.data, args.workspace, args.out, args.truth, args.model_version)
    args.result.write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
