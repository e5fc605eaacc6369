"""The benchmark's section of ``benchmarks/RESULTS.md``: a table like issue 20's, and one row per staging kill."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from benchmarks.reliability.fuzz import RowFaults
from benchmarks.reliability.import_kills import ImportKills
from benchmarks.reliability.load import Load
from benchmarks.reliability.outage import Outage
from benchmarks.reliability.processes import LEFTOVER_WAIT_S
from benchmarks.reliability.score_kills import ScoreKills, StagingKill
from benchmarks.reliability.world import Profile
from benchmarks.run import _machine

HEADING = "## Reliability"
STORE_NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


@dataclass(frozen=True)
class Conditions:
    """When and where the figures were measured."""

    started: dt.datetime
    minutes: dict[str, float]
    """Per part of the run."""
    load_average: tuple[float, float]
    """The one-minute load average at the start and at the end."""
    command: str


def _score_rows(scores: ScoreKills, staging: list[StagingKill]) -> list[tuple[str, str, str]]:
    aimed = {aim: count for aim, count in scores.kills.items() if aim != "random"}
    landed = [kill.describe(kill.held) for kill in staging]
    return [
        ("kill -9 of score",
         f"{scores.kills['random']} at random moments, {sum(aimed.values())} aimed ("
         + ", ".join(f"{count} {aim}" for aim, count in aimed.items()) + ")",
         f"{scores.reruns_identical} of {scores.reruns} reruns byte-identical; {scores.complete_but_different} "
         f"runs saying complete with other bytes; {scores.left_behind} processes outlived a killed command "
         f"by {LEFTOVER_WAIT_S:.0f} s"),
        ("kill -9 of score inside the staging of its run",
         f"{len(staging)}, stopped and stepped to the aimed file, from the empty staging directory to the "
         f"rename (killed at: {'; '.join(landed) or 'none'})",
         f"{sum(kill.rerun_identical for kill in staging)} of {len(staging)} reruns byte-identical; "
         f"{sum(kill.half_written_visible for kill in staging)} half-written runs visible in the history or "
         f"`--out`; {sum(kill.held is not None for kill in staging)} of the killed runs left only their hidden "
         f"staging directory; {sum(kill.left_behind for kill in staging)} processes outlived a killed command"),
    ]


def _load_rows(loads: list[Load], outage: Outage) -> list[tuple[str, str, str]]:
    rows = [(f"{load.investigators} investigators + a supervisor over HTTP, {load.seconds:.0f} s "
             f"({STORE_NAMES[load.store]})",
             f"{load.requests:,} requests, p95 {load.p95_ms:.0f} ms, p99 {load.p99_ms:.0f} ms",
             f"{load.claimed_twice} claimed twice, {load.closes_lost} of {load.closes:,} acknowledged closes lost, "
             f"{load.server_errors} × 5xx (or refused){' outside the outage' * load.disturbed}; {load.access_log}")
            for load in loads]
    rows.append((f"PostgreSQL unreachable for {outage.seconds:.0f} s during its load",
                 "connections refused and backends terminated",
                 f"{outage.answered_503} × 503 and {outage.other_5xx} other 5xx or refused during it; first answer "
                 f"without a 5xx {outage.recovered_s:.1f} s after, without a restart"))
    return rows


def format_section(profile: Profile, world_subjects: int, faults: RowFaults, scores: ScoreKills,
                   staging: list[StagingKill], imports: list[ImportKills], loads: list[Load], outage: Outage,
                   conditions: Conditions) -> str:
    """The report's reliability section."""
    rows = [
        ("row-level faults",
         f"{faults.corrupted:,} corrupted rows over all 7 tables ({faults.seeds} seed{'s' * (faults.seeds != 1)}), "
         f"plus {faults.clean:,} valid but awkward rows",
         f"{faults.refused_right:,} refused with the right table, row, column and rule; "
         f"{faults.corrupted_accepted} corrupted rows accepted; {faults.clean_refused} clean rows refused; "
         f"{faults.tracebacks} tracebacks"),
        *_score_rows(scores, staging),
        *[(f"kill -9 of `cases import` ({STORE_NAMES[kills.store]})",
           f"{kills.kills}, {kills.inside_transaction} seen inside the write transaction",
           f"all-or-nothing {kills.all_or_nothing}/{kills.kills} ({kills.committed} after the commit), "
           f"{kills.duplicates} duplicate cases, {kills.reruns_complete}/{kills.kills} reruns complete")
          for kills in imports],
        *_load_rows(loads, outage),
    ]
    lines = [HEADING, "",
             f"Measured {conditions.started:%Y-%m-%d %H:%M} UTC on {_machine()}, in "
             f"{sum(conditions.minutes.values()):.0f} minutes ("
             + ", ".join(f"{part} {minutes:.0f}" for part, minutes in conditions.minutes.items())
             + f"), load average {conditions.load_average[0]:.1f} at the start and "
             f"{conditions.load_average[1]:.1f} at the end; a {profile.people:,}-people world (seed {profile.seed}, "
             f"{world_subjects:,} live subjects), PostgreSQL 127.0.0.1:5432. Rerun: `{conditions.command}` "
             "(`python -m benchmarks.reliability`: kill -9 sends SIGKILL to the command's own process; reruns are "
             "compared file by file with a clean run).",
             "", "| test | tried | result |", "|---|---|---|"]
    lines += [f"| {test} | {tried} | {result} |" for test, tried, result in rows]
    lines += ["", "| kill inside the staging | aimed at | killed at | rerun byte-identical | half-written run visible |",
              "|---|---|---|---|---|"]
    lines += [f"| {number} | {kill.describe(kill.aimed)} | {kill.describe(kill.held)} | "
              f"{'yes' if kill.rerun_identical else 'no'} | {'yes' if kill.half_written_visible else 'no'} |"
              for number, kill in enumerate(staging, 1)]
    return "\n".join(lines) + "\n"


def write_section(section: str, out: Path) -> None:
    """Put ``section`` in ``out`` in place of its earlier version (or at the end)."""
    text = out.read_text(encoding="utf-8") if out.exists() else ""
    start = text.find(HEADING + "\n")
    if start < 0:
        text = (text.rstrip() + "\n\n" if text else "") + section
    else:
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + (text[end:] if end >= 0 else "")
    out.write_text(text, encoding="utf-8")
