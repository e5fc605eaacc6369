"""``python -m benchmarks.reliability``: every test of the package on one world, its section written to RESULTS.md."""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from benchmarks.reliability import __doc__ as PACKAGE_DOC
from benchmarks.reliability.fuzz import row_faults
from benchmarks.reliability.import_kills import kill_imports
from benchmarks.reliability.load import Load, load_test
from benchmarks.reliability.outage import Outage, outage
from benchmarks.reliability.report import Conditions, format_section, write_section
from benchmarks.reliability.score_kills import kill_in_staging, kill_score
from benchmarks.reliability.stores import STORES, drop_database
from benchmarks.reliability.world import DEFAULT, SMOKE, Profile, build_world
from benchmarks.run import RESULTS, prefect_server


class _Parts:
    """Minutes per part of the run, printed as each ends."""

    def __init__(self) -> None:
        self.minutes: dict[str, float] = {}

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[list[object]]:
        """Time the block; the figures it appends to the list it is given are printed with its time."""
        began, figures = time.monotonic(), []
        yield figures
        self.minutes[name] = (time.monotonic() - began) / 60
        print(f"{dt.datetime.now(dt.UTC):%H:%M:%S} {name} ({self.minutes[name]:.1f} min): {figures}", flush=True)


def run_reliability(profile: Profile, workdir: Path, command: str) -> str:
    """Every test of the package on one world; the report's section."""
    started, load_before, parts = dt.datetime.now(dt.UTC), os.getloadavg()[0], _Parts()
    rng = random.Random(profile.seed)
    log = workdir / "reliability.log"
    with parts.part("corrupted rows") as shown:
        faults = row_faults(workdir, profile.fault_seeds, profile.bad_rows_per_table)
        shown.append(faults)
    with prefect_server(workdir / "prefect-server", log) as api_url:
        with parts.part("world") as shown:
            world = build_world(profile, workdir / "world", {**os.environ, "PREFECT_API_URL": api_url}, log)
            shown.append(world.root)
        try:
            subjects = json.loads((world.reference / "run_summary.json").read_text())["subjects"]["scored"]
            # the imports go to stores of their own: they are killed while the scoring commands are, so
            # that on a shared machine the two take about the time of one
            import_rngs = [random.Random(rng.random()) for _ in STORES]
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as beside, \
                    parts.part("kills of score and of cases import, side by side") as shown:
                killed_imports = beside.submit(lambda: [kill_imports(world, store, profile.import_kills, store_rng)
                                                        for store, store_rng in zip(STORES, import_rngs, strict=True)])
                scores = kill_score(world, profile.score_kills, rng)
                staging = kill_in_staging(world, profile.staging_kills)
                imports = killed_imports.result()
                shown.extend([scores, *staging, *imports])
            with parts.part("load and outage") as shown:
                cut_off = load_test(world, "postgresql", profile.investigators, profile.load_seconds, rng,
                                    disturb=outage(profile.outage_seconds))
                steady = load_test(world, "sqlite", profile.investigators, profile.load_seconds, rng)
                shown.extend([Load.of(cut_off), Outage.of(cut_off, profile.outage_seconds), Load.of(steady)])
        finally:
            drop_database(world.database)
    conditions = Conditions(started=started, minutes=parts.minutes, load_average=(load_before, os.getloadavg()[0]),
                            command=command)
    return format_section(profile, subjects, faults, scores, staging, imports, [Load.of(cut_off), Load.of(steady)],
                          Outage.of(cut_off, profile.outage_seconds), conditions)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=PACKAGE_DOC.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny run (a few minutes)")
    parser.add_argument("--out", type=Path, help="report file (default: benchmarks/RESULTS.md; with --smoke a "
                                                 "temporary file)")
    parser.add_argument("--workdir", type=Path, help="where the world and runs are written (default: temporary); a "
                        "world of the same size and seed built there before is used again")
    parser.add_argument("--people", type=int, help="people in the world")
    parser.add_argument("--kills", type=int, help="kills of score at random and aimed moments")
    parser.add_argument("--import-kills", type=int, help="kills of cases import per store")
    parser.add_argument("--staging-kills", type=int, help="kills of score inside the staging of its run")
    parser.add_argument("--investigators", type=int)
    parser.add_argument("--seconds", type=float, help="length of each load test")
    args = parser.parse_args(argv)
    profile = SMOKE if args.smoke else DEFAULT
    overrides = {"people": args.people, "score_kills": args.kills, "import_kills": args.import_kills,
                 "staging_kills": args.staging_kills, "investigators": args.investigators,
                 "load_seconds": args.seconds}
    profile = Profile(**{**profile.__dict__, **{key: value for key, value in overrides.items() if value is not None}})
    given = list(sys.argv[1:] if argv is None else argv)
    # the command that reruns these figures: the make target, or this module with the options given
    command = {(): "make bench", ("--smoke",): "make bench-smoke"}.get(
        tuple(given), " ".join(["python -m benchmarks.reliability", *given]))
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cf-reliability-")))
        workdir.mkdir(parents=True, exist_ok=True)
        out = args.out or (workdir / "RESULTS.md" if args.smoke else RESULTS)
        section = run_reliability(profile, workdir, command)
        write_section(section, out)
        print(section)
        print(f"section written to {out}")


if __name__ == "__main__":
    main()
