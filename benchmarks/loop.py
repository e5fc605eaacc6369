"""The investigation loop: what reviewed cases teach the next version, measured on a fresh world.

Per generator variant, a training world and a fresh evaluation world of the same variant (another
seed) are generated; then, for rounds 0 to N, with the real command line and the real case store:

- round *k*'s version (round 0's trained on the extract as generated, with its own
  ``investigation_outcomes``) scores the fresh world, and its ranking is evaluated against that
  world's truth file (:func:`models.evaluate.evaluate_scores`);
- before the last round it also scores the training world, with the outcomes it was trained on (as the
  department's next extract carries them, so subjects cleared in earlier rounds are passed over,
  ``cases.recently_cleared_days``); ``cases import`` puts that run into the
  workspace's case store (SQLite); a simulated investigator claims every case of the work list and
  the control sample and closes it through :mod:`casework.store`, with the verdict of the truth file
  (fraud, with its typology, or no issue), a seeded 10 % of verdicts the wrong way, and a supervisor
  confirms each fraud closing; ``outcomes export`` writes
  ``investigation_outcomes.csv``, which replaces the extract's in a copy of the training data; the
  next version is trained on that copy and approved by a panel account.

The store keeps every closed case, so each export holds every round's outcomes so far (the
latest per subject). A round reports average precision, precision and recall at capacity and recall
per typology on the fresh world, and the honest people its work list sent to the investigator.

``make bench`` (``make bench-smoke``) runs the loops of :data:`benchmarks.run.FULL`
(:data:`benchmarks.run.SMOKE`) with the other benchmarks; ``python -m benchmarks.loop`` runs them
alone (``--variant`` for some of them) and writes their section into ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from benchmarks.run import (
    BENCH_PANEL,
    BENCH_PANEL_PASSWORD,
    BENCH_TRAINER,
    FULL,
    RESULTS,
    SMOKE,
    TUNING_VARIANTS,
    LoopProfile,
    evaluate_ranking,
    measure,
    prefect_server,
)
from casework.imports import read_summary, run_id_of
from casework.store import claim_next, close, confirm, open_store, start_review, store_url
from features.contract import TYPOLOGIES
from models.evaluate import Evaluation, labels_from_truth
from synthetic.truth import read_truth

LOOP_HEADING = "## The investigation loop"
INVESTIGATOR = "benchmark investigator"
INVESTIGATOR_PASSWORD = "benchmark investigator password"
SUPERVISOR = "benchmark supervisor"
"""Confirms each fraud closing (a second person), so that it counts in the outcomes export."""
SUPERVISOR_PASSWORD = "benchmark supervisor password"
WRONG_VERDICTS = 0.10
"""Share of the investigator's verdicts that are the wrong way round (fraud missed, or found where there was none)."""
NO_CASE_IMPORT = "case_store:\n  import_runs: false\n"
"""Scoring runs leave the case store alone: the training world's run is imported by ``cases import``,
the fresh world's never (no one investigates it)."""
OUTCOMES_FILE = "investigation_outcomes.csv"

# Targets after two rounds of reviewed cases, on variants not used for tuning.
TARGET_ROUND = 2
TARGET_AVERAGE_PRECISION = 0.85
TARGET_PRECISION = 0.85
TARGET_RECALL_DROP = 0.05
TARGET_HONEST_SHARE = 0.5
"""Honest people investigated per round, at most this share of round 0's."""


@dataclass(frozen=True)
class Investigation:
    """The cases one round's work list sent to the investigator, each closed with a verdict.

    ``verdicts`` has one row per closed case: ``case_id``, ``subject_ref``, ``subject_type``,
    ``control``, ``fraud`` (the truth), ``outcome`` (the verdict recorded) and ``wrong`` (the verdict
    was flipped).
    """

    verdicts: pd.DataFrame

    @property
    def honest(self) -> int:
        """Closed cases whose subject was honest: people investigated for nothing."""
        return int((~self.verdicts["fraud"]).sum())

    @property
    def wrong(self) -> int:
        return int(self.verdicts["wrong"].sum())


@dataclass(frozen=True)
class LoopRound:
    """One round: the version, what it was trained with, its figures on the fresh world, its investigation."""

    number: int
    version: str
    outcomes_rows: int
    """Rows of ``investigation_outcomes`` in the data the version was trained on."""
    outcomes_control: int
    """Of them, from a control sample."""
    fresh: Evaluation
    investigation: Investigation | None
    """None in the last round: its version's work list is not worked."""


@dataclass(frozen=True)
class LoopRun:
    variant: str
    people: int
    training_seed: int
    fresh_seed: int
    rounds: list[LoopRound]


def verdicts_for(cases: pd.DataFrame, truth: pd.DataFrame, wrong_share: float, seed: int) -> pd.DataFrame:
    """The investigator's verdict on each case: the truth file's, ``wrong_share`` of them flipped.

    Parameters
    ----------
    cases : DataFrame
        ``case_id``, ``subject_ref``, ``subject_type``, ``control``, in the order they were claimed.
    truth : DataFrame
        The world's truth file (:func:`synthetic.truth.read_truth`).
    wrong_share : float
        Share of verdicts flipped, rounded to a whole number of cases; which ones is drawn from ``seed``.

    Returns
    -------
    DataFrame
        ``cases`` with ``fraud`` (the truth), ``wrong``, ``outcome`` (``fraud`` or ``no_issue``) and
        ``typology`` (of a fraud verdict: the truth file's, or for an honest subject one of its subject
        type's drawn from ``seed``; None otherwise).

    Examples
    --------
    >>> truth = pd.DataFrame({"table": ["benefit_claims"] * 2, "record_ref": ["BC1", "BC2"],
    ...                       "typology": ["living_together", None]})
    >>> cases = pd.DataFrame({"case_id": [1, 2], "subject_ref": ["BC1", "BC2"],
    ...                       "subject_type": ["benefit_claim"] * 2, "control": [False, True]})
    >>> verdicts_for(cases, truth, 0.5, seed=0)[["subject_ref", "fraud", "wrong", "outcome"]].values.tolist()
    [['BC1', True, True, 'no_issue'], ['BC2', False, False, 'no_issue']]
    """
    labels = labels_from_truth(cases, truth)
    fraud = labels["fraud"].to_numpy()
    rng = np.random.default_rng(seed)
    wrong = np.zeros(len(cases), dtype=bool)
    wrong[rng.permutation(len(cases))[:round(wrong_share * len(cases))]] = True
    outcome = np.where(fraud != wrong, "fraud", "no_issue")
    # a fraud found where there was none names some typology of the subject's type
    typology = [(found if is_fraud else str(rng.choice(TYPOLOGIES[subject_type]))) if verdict == "fraud" else None
                for found, is_fraud, verdict, subject_type in zip(
                    labels["typology"], fraud, outcome, cases["subject_type"], strict=True)]
    return cases.assign(fraud=fraud, wrong=wrong, outcome=outcome, typology=typology).reset_index(drop=True)


def investigate(store: str, run_id: str, truth: pd.DataFrame, seed: int,
                wrong_share: float = WRONG_VERDICTS) -> Investigation:
    """Claim every new case of run ``run_id``'s work list as :data:`INVESTIGATOR`, then review and close each;
    :data:`SUPERVISOR` confirms each fraud closing.

    Every step goes through :mod:`casework.store` (the workflow's checks, events and versions), as
    the case-review page takes it.
    """
    engine = open_store(store)
    claimed = []
    with Session(engine) as session, session.begin():
        while (case := claim_next(session, run_id, INVESTIGATOR)) is not None:
            claimed.append({"case_id": case.id, "version": case.version, "subject_ref": case.subject_ref,
                            "subject_type": case.subject_type, "control": case.control})
    verdicts = verdicts_for(pd.DataFrame(claimed, columns=["case_id", "version", "subject_ref", "subject_type",
                                                           "control"]), truth, wrong_share, seed)
    for case in verdicts.itertuples(index=False):
        with Session(engine) as session, session.begin():
            reviewing = start_review(session, case.case_id, case.version, INVESTIGATOR)
            note = "fraud found in the records" if case.outcome == "fraud" else "no issue found in the records"
            found = case.outcome == "fraud"
            # the frame holds a missing typology as NaN, not None
            closed = close(session, case.case_id, reviewing.version, INVESTIGATOR, case.outcome, note,
                           case.typology if found else None)
            if found:
                confirm(session, case.case_id, closed.version, SUPERVISOR)
    return Investigation(verdicts=verdicts.drop(columns="version"))


def data_with_outcomes(data_dir: Path, outcomes_file: Path, out_dir: Path) -> Path:
    """A copy of the extract in ``data_dir`` whose ``investigation_outcomes`` is ``outcomes_file``."""
    shutil.copytree(data_dir, out_dir, ignore=shutil.ignore_patterns("investigation_outcomes.*"))
    shutil.copyfile(outcomes_file, out_dir / OUTCOMES_FILE)
    return out_dir


def _outcome_counts(data_dir: Path) -> tuple[int, int]:
    path = data_dir / OUTCOMES_FILE
    if not path.exists():
        return 0, 0
    outcomes = pd.read_csv(path, dtype=str, keep_default_na=False)
    return len(outcomes), int((outcomes.get("control", pd.Series(dtype=str)) == "true").sum())


def run_loop(variant: str, people: int, training_seed: int, fresh_seed: int, rounds: int, root: Path,
             env: dict[str, str], log: Path, config_text: str = "") -> LoopRun:
    """Rounds 0 to ``rounds`` of the investigation loop on worlds of ``variant`` (see the module docstring).

    ``config_text`` is added to the settings file every training and scoring command reads.
    """
    cli = [sys.executable, "-m", "pipelines.cli"]
    world = root / f"loop_{variant}_{people}_{training_seed}"
    workspace = world / "workspace"
    config = world / "loop.yaml"
    world.mkdir(parents=True, exist_ok=True)
    config.write_text(NO_CASE_IMPORT + config_text, encoding="utf-8")
    on_workspace = ["--workspace", str(workspace)]

    def step(name: str, argv: list[str], stdin_line: str | None = None) -> None:
        measured = measure([*cli, *argv], env, log, stdin_line)
        print(f"loop {variant}: {name} ({measured.wall_s:.0f} s)", flush=True)

    worlds = {}
    for role, seed in (("training", training_seed), ("fresh", fresh_seed)):
        data, truth_file = world / f"{role}_data", world / f"{role}_truth.parquet"
        step(f"generate the {role} world ({people:,} people, seed {seed})",
             ["generate", "--out", str(data), "--people", str(people), "--seed", str(seed),
              "--truth", str(truth_file), "--variant", variant])
        worlds[role] = (data, read_truth(truth_file))
    (training_data, training_truth), (fresh_data, fresh_truth) = worlds["training"], worlds["fresh"]
    step("add the panel account", ["users", "add", BENCH_PANEL, "--role", "panel", *on_workspace],
         BENCH_PANEL_PASSWORD)
    step("add the investigator account", ["users", "add", INVESTIGATOR, "--role", "investigator", *on_workspace],
         INVESTIGATOR_PASSWORD)
    step("add the supervisor account", ["users", "add", SUPERVISOR, "--role", "supervisor", *on_workspace],
         SUPERVISOR_PASSWORD)

    def train_approved(data_dir: Path, number: int) -> None:
        learning_from = {0: "the extract's past investigations", 1: "the outcomes of round 0"}.get(
            number, f"the outcomes of rounds 0-{number - 1}")
        step(f"round {number}: train with {learning_from}",
             ["train", "--data", str(data_dir), "--config", str(config), "--by", BENCH_TRAINER, *on_workspace])
        step(f"round {number}: approve", ["approve", "--model-version", "challenger", "--by", BENCH_PANEL,
                                          "--note", "investigation loop benchmark", "--promote", *on_workspace],
             BENCH_PANEL_PASSWORD)

    def score(data_dir: Path, out: Path, number: int, which: str) -> dict:
        step(f"round {number}: score the {which} world",
             ["score", "--data", str(data_dir), "--out", str(out), "--config", str(config), *on_workspace])
        return read_summary(out)

    results, data_dir = [], training_data
    train_approved(data_dir, 0)
    for number in range(rounds + 1):
        round_dir = world / f"round_{number}"
        fresh_summary = score(fresh_data, round_dir / "fresh_run", number, "fresh")
        fresh = evaluate_ranking(pd.read_parquet(round_dir / "fresh_run" / "cases.parquet"), fresh_truth)
        investigation = None
        if number < rounds:
            work_run = round_dir / "training_run"
            # the extract the version was trained on: its outcomes are the case store's so far
            score(data_dir, work_run, number, "training")
            step(f"round {number}: cases import", ["cases", "import", "--run", str(work_run), *on_workspace])
            investigation = investigate(store_url(None, workspace), run_id_of(read_summary(work_run), work_run),
                                        training_truth, seed=training_seed * 100 + number)
            investigation.verdicts.to_csv(round_dir / "verdicts.csv", index=False)
            print(f"loop {variant}: round {number}: the investigator closed {len(investigation.verdicts):,} cases "
                  f"({investigation.honest:,} honest people, {investigation.wrong:,} verdicts wrong)", flush=True)
            step(f"round {number}: outcomes export", ["outcomes", "export", "--out", str(round_dir), *on_workspace])
        rows, control = _outcome_counts(data_dir)
        results.append(LoopRound(number=number, version=str(fresh_summary["model"]["version"]), outcomes_rows=rows,
                                 outcomes_control=control, fresh=fresh, investigation=investigation))
        print(f"loop {variant}: round {number}: version {results[-1].version} on the fresh world: average precision "
              f"{fresh.average_precision:.3f}, precision at capacity {fresh.precision_at_capacity:.3f}", flush=True)
        if number < rounds:
            data_dir = data_with_outcomes(training_data, round_dir / OUTCOMES_FILE, round_dir / "training_data")
            train_approved(data_dir, number + 1)
    return LoopRun(variant=variant, people=people, training_seed=training_seed, fresh_seed=fresh_seed,
                   rounds=results)


# ----------------------------------------------------------------------------- report


def _honest_flagged(evaluation: Evaluation) -> int:
    """Honest subjects among those flagged at capacity (every subject is labelled by a truth file)."""
    return round(evaluation.n_labelled_flagged * (1 - evaluation.precision_at_capacity))


def _rounds_table(run: LoopRun) -> str:
    typologies = sorted({t for loop_round in run.rounds for t in loop_round.fresh.by_typology["typology"]})
    lines = ["| round | version | outcomes trained with (control) | AP | precision @2% | recall @2% | "
             "honest flagged (fresh) | cases closed | honest investigated | verdicts wrong | "
             + " | ".join(typologies) + " |", "|---|---|---|---|---|---|---|---|---|---|" + "---|" * len(typologies)]
    for loop_round in run.rounds:
        e, work = loop_round.fresh, loop_round.investigation
        recall = e.by_typology.set_index("typology")["recall"]
        worked = (f"{len(work.verdicts):,} | {work.honest:,} | {work.wrong:,}" if work is not None
                  else "– | – | –")
        lines.append(f"| {loop_round.number} | {loop_round.version} | {loop_round.outcomes_rows:,} "
                     f"({loop_round.outcomes_control:,}) | {e.average_precision:.3f} | {e.precision_at_capacity:.3f} | "
                     f"{e.recall_at_capacity:.3f} | {_honest_flagged(e):,} | {worked} | "
                     + " | ".join(f"{recall[t]:.2f}" if t in recall.index else "–" for t in typologies) + " |")
    return "\n".join(lines)


def _targets_table(runs: list[LoopRun]) -> str:
    lines = [f"| loop | round {TARGET_ROUND}: AP ≥ {TARGET_AVERAGE_PRECISION} | precision @2% ≥ {TARGET_PRECISION} | "
             f"no typology's recall more than {TARGET_RECALL_DROP} below round 0 | honest investigated per round "
             f"≤ {TARGET_HONEST_SHARE:.0%} of round 0's |", "|---|---|---|---|---|"]
    for run in runs:
        if len(run.rounds) <= TARGET_ROUND:
            continue
        first, target = run.rounds[0], run.rounds[TARGET_ROUND]
        before = first.fresh.by_typology.set_index("typology")["recall"]
        after = target.fresh.by_typology.set_index("typology")["recall"].reindex(before.index, fill_value=0.0)
        drop = (before - after).sort_values(ascending=False)
        later = [r.investigation.honest for r in run.rounds[1:] if r.investigation is not None]
        honest_cell = "– (no later round worked)"
        if first.investigation is not None and later:
            worst = max(later)
            honest_cell = (f"{worst:,} of {first.investigation.honest:,} (worst later round) "
                           f"{'met' if worst <= TARGET_HONEST_SHARE * first.investigation.honest else 'no'}")
        e = target.fresh
        lines.append(
            f"| {run.variant} | {e.average_precision:.2f} {'met' if e.average_precision >= TARGET_AVERAGE_PRECISION else 'no'} "
            f"| {e.precision_at_capacity:.2f} {'met' if e.precision_at_capacity >= TARGET_PRECISION else 'no'} "
            f"| {drop.iloc[0]:+.2f} largest drop ({drop.index[0]}) {'met' if drop.iloc[0] <= TARGET_RECALL_DROP else 'no'} "
            f"| {honest_cell} |")
    return "\n".join(lines)


def format_loop_section(runs: list[LoopRun], command: str) -> str:
    """The report's section on the investigation loop: each loop's rounds, then the targets."""
    people = runs[0].people if runs else 0
    parts = [
        LOOP_HEADING, "",
        f"Rerun: `{command}`. Each loop works on two worlds of {people:,} people of one variant, a training "
        "world and a fresh one (another seed); each round's version is evaluated on the fresh world at 2 % "
        "capacity. Before the last round the version scores the training world (with the outcomes it was trained "
        "on, so that subjects cleared in earlier rounds are passed over: `cases.recently_cleared_days`), its run "
        "goes into a SQLite "
        "case store (`cases import`), a simulated investigator claims and closes every case of the work list and "
        f"the control sample through the store (the truth file's verdict, {WRONG_VERDICTS:.0%} of verdicts "
        "flipped, seeded), `outcomes export` writes what was found, and the next version is trained on the "
        "training world with those outcomes in place of the extract's (round 0's version: the extract's own "
        "past investigations) and approved by a panel account. *Outcomes trained with*: rows of "
        "`investigation_outcomes` in the data the version was trained on (the store exports the latest closed "
        "case of every subject, so they accumulate). *Honest flagged*: honest subjects in the fresh world's top "
        "2 %. *Honest investigated*: closed cases of that round whose subject the truth file calls honest.",
        "",
    ]
    for run in runs:
        tuned = " (tuning variant)" if run.variant in TUNING_VARIANTS else ""
        parts += [f"Variant {run.variant}{tuned}, training seed {run.training_seed}, fresh seed {run.fresh_seed}:",
                  "", _rounds_table(run), ""]
    if any(len(run.rounds) > TARGET_ROUND for run in runs):
        parts += [f"Targets after {TARGET_ROUND} rounds of reviewed cases:", "", _targets_table(runs), ""]
    return "\n".join(parts)


def with_loop_section(report: str, section: str) -> str:
    """``report`` with its investigation-loop section replaced by ``section`` (placed before the speed
    tables when the report has none)."""
    start = report.find(LOOP_HEADING)
    if start < 0:
        start = end = report.index("## Speed and memory")
    else:
        end = report.find("\n## ", start + len(LOOP_HEADING))
        end = len(report) if end < 0 else end + 1
    return report[:start] + section.rstrip() + "\n\n" + report[end:]


def run_loops(profile: LoopProfile, workdir: Path, env: dict[str, str], log: Path,
              config_text: str = "") -> list[LoopRun]:
    """Every loop of ``profile``, one after the other (the machine's cores go to each command)."""
    return [run_loop(variant, profile.people, training_seed, fresh_seed, profile.rounds, workdir, env, log,
                     profile.config + config_text) for variant, training_seed, fresh_seed in profile.variants]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one small loop of two rounds")
    parser.add_argument("--out", type=Path, help="report whose investigation-loop section is written "
                                                 "(default: benchmarks/RESULTS.md; with --smoke a temporary file)")
    parser.add_argument("--workdir", type=Path, help="where worlds, workspaces and runs are written (default: temporary)")
    parser.add_argument("--variant", action="append", dest="variants", metavar="VARIANT",
                        help="run only this variant's loop of the profile (repeatable; default: every loop)")
    parser.add_argument("--rounds", type=int, help="the last round (default: the profile's)")
    args = parser.parse_args(argv)
    profile = (SMOKE if args.smoke else FULL).loop
    if args.rounds is not None:
        profile = replace(profile, rounds=args.rounds)
    if args.variants:
        unknown = sorted(set(args.variants) - {variant for variant, _, _ in profile.variants})
        if unknown:
            parser.error(f"no loop of variant {', '.join(unknown)} in the profile")
        profile = replace(profile, variants=tuple(loop for loop in profile.variants if loop[0] in args.variants))
    command = " ".join(["python -m benchmarks.loop", *(["--smoke"] if args.smoke else []),
                        *(f"--variant {variant}" for variant in args.variants or ()),
                        *([f"--rounds {args.rounds}"] if args.rounds is not None else [])])
    with contextlib.ExitStack() as stack:
        workdir = args.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cf-loop-")))
        workdir.mkdir(parents=True, exist_ok=True)
        log = workdir / "loop.log"
        api_url = stack.enter_context(prefect_server(workdir / "prefect-server", log))
        runs = run_loops(profile, workdir, {**os.environ, "PREFECT_API_URL": api_url}, log)
        section = format_loop_section(runs, command)
        out = args.out or (workdir / "RESULTS.md" if args.smoke else RESULTS)
        existing = out.read_text(encoding="utf-8") if out.exists() else ""
        out.write_text(with_loop_section(existing, section) if "## Speed and memory" in existing else section,
                       encoding="utf-8")
    print(section)
    print(f"\ninvestigation loop written to {out}")


if __name__ == "__main__":
    main()
