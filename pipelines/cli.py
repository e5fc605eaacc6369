"""The ``counterfraud`` command line: generate, validate, train, score, ui, scheduled operation,
the casework verbs and the oversight verbs.

Every verb works on any data directory in the data contract. Errors a user can
fix (bad arguments, a missing table, too many rejects, a bad setting) end in one
line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from configs.settings import Settings, SettingsError, load_settings
from synthetic.variants import DEFAULT_VARIANT, VARIANTS

if TYPE_CHECKING:
    from pipelines.workspace import Workspace

EXIT_USER_ERROR = 2
CASEWORK_VERBS = ("app", "users", "cases", "outcomes", "audit")
PREFECT_RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
"""Loggers Prefect reports a failed flow or task run on."""
FLOW_VERBS = ("validate", "prepare", "train", "score", "report")
"""Verbs that run a Prefect flow (``report`` only with ``--data``, ``validate`` only on the ``dask`` engine)."""
DEFAULT_WORKSPACE = Path(".counterfraud")
"""The workspace (registry, run history, case store) of every verb given no ``--workspace``."""


def _add_workspace_option(verb: argparse.ArgumentParser, help_text: str | None = None) -> None:
    """Give ``verb`` the ``--workspace`` option, defaulting to :data:`DEFAULT_WORKSPACE`."""
    verb.add_argument("--workspace", type=Path, default=DEFAULT_WORKSPACE, help=help_text)


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def _capacity(text: str) -> int | float:
    """``250`` flags 250 subjects; ``2%`` or ``0.02`` flags that share of them."""
    try:
        if text.endswith("%"):
            share = float(text[:-1]) / 100
        else:
            number = float(text)
            if number >= 1 and number.is_integer():
                return int(number)
            share = number
    except ValueError:
        raise argparse.ArgumentTypeError(f"capacity must be a count or a share: {text!r}") from None
    if not 0 < share <= 1:
        raise argparse.ArgumentTypeError(f"capacity share must be in (0, 1]: {text!r}")
    return share


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="counterfraud",
        description="Ranked, explained counter-fraud leads from benefit, tax and housing extracts.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress in detail")
    verbs = parser.add_subparsers(dest="verb", required=True)

    generate = verbs.add_parser("generate", help="write a synthetic claims world and its ground truth")
    generate.add_argument("--out", type=Path, required=True, help="data directory to write")
    generate.add_argument("--people", type=_positive_int, required=True)
    generate.add_argument("--seed", type=int, default=0)
    generate.add_argument("--truth", type=Path, required=True, help="ground-truth file (.csv or .parquet), outside --out")
    generate.add_argument("--format", choices=("csv", "parquet"), default="csv")
    generate.add_argument("--force", action="store_true",
                          help="replace the contract tables of a non-empty directory the generator did not write")
    generate.add_argument("--variant", choices=tuple(VARIANTS), default=DEFAULT_VARIANT,
                          help="how fraud and its honest look-alikes are drawn (see synthetic/variants.py)")

    def add_run_options(verb: argparse.ArgumentParser) -> None:
        verb.add_argument("--data", type=Path, required=True, help="data directory in the contract")
        verb.add_argument("--config", type=Path, help="YAML file of settings to change")
        verb.add_argument("--as-of", type=_date, help="scoring date (default: last month of tax records)")

    def add_cache_option(verb: argparse.ArgumentParser) -> None:
        verb.add_argument("--no-cache", action="store_true",
                          help="validate the files even if the workspace holds their validated extract")

    validate = verbs.add_parser("validate", help="check the extracts against the contract only")
    add_run_options(validate)
    validate.add_argument("--out", type=Path, required=True)
    _add_workspace_option(validate, "where Prefect keeps the run on orchestration.engine dask (on local: unused)")

    prepare = verbs.add_parser("prepare", help="validate, link and write the feature table (features.parquet)")
    add_run_options(prepare)
    prepare.add_argument("--out", type=Path, required=True)
    _add_workspace_option(prepare)
    add_cache_option(prepare)

    train = verbs.add_parser("train", help="fit, evaluate, log and register a model version")
    add_run_options(train)
    _add_workspace_option(train)
    add_cache_option(train)
    train.add_argument("--truth", type=Path, help="ground-truth file to evaluate against")
    train.add_argument("--by", help="name recorded as the trainer, who may not approve the version "
                                    "(default: oversight.trained_by, else the OS user)")

    score = verbs.add_parser("score", help="score live subjects and write the explained case list")
    add_run_options(score)
    score.add_argument("--out", type=Path, required=True)
    _add_workspace_option(score)
    add_cache_option(score)
    score.add_argument("--capacity", type=_capacity, help="subjects to flag: a count (250) or a share (2%%)")
    score.add_argument("--model-version", help="registry version or alias (default: champion)")

    report = verbs.add_parser("report", help="write a model version's report to the oversight panel")
    report.add_argument("--model-version", required=True, help="registry version or alias")
    report.add_argument("--out", type=Path, required=True, help="directory for report.html, report.json, atrs.json")
    _add_workspace_option(report)
    report.add_argument("--data", type=Path, help="report afresh on this data directory "
                                                  "(default: the report logged with the version at training)")
    report.add_argument("--truth", type=Path, help="with --data: ground-truth file to evaluate against")
    report.add_argument("--config", type=Path, help="YAML file of settings to change")
    report.add_argument("--as-of", type=_date, help="with --data: scoring date (default: last month of tax records)")
    add_cache_option(report)

    for decision, words in (("approve", "approve a model version, on its report, so that it may score"),
                            ("reject", "reject a model version, so that it may not score")):
        verb = verbs.add_parser(decision, help=words)
        verb.add_argument("--model-version", required=True, help="registry version or alias")
        verb.add_argument("--by", required=True, help="the deciding panel member's account in the case store "
                                                      "(not the version's trainer); its password is read from stdin")
        verb.add_argument("--note", required=True, help="the reason for the decision")
        _add_workspace_option(verb)
        verb.add_argument("--config", type=Path, help="YAML file of settings to change (case_store.url: the "
                                                        "store holding the panel accounts)")
        if decision == "approve":
            verb.add_argument("--promote", action="store_true", help="also make the version champion")

    explain = verbs.add_parser("explain-subject", help="plain-language explanation for one data subject")
    explain.add_argument("--ref", required=True, help="the subject's claim_id or housing_claim_id")
    _add_workspace_option(explain, help_text="the workspace whose case store is read")
    explain.add_argument("--out", type=Path, help="text file to write (default: print it)")
    explain.add_argument("--config", type=Path, help="YAML file of settings to change (oversight.appeals_route "
                                                     "and oversight.contact must be set)")

    ui = verbs.add_parser("ui", help="start the MLflow UI on the workspace")
    _add_workspace_option(ui)
    ui.add_argument("--port", type=int, default=5000)

    for name, text in (("server", "start a Prefect server, its database in the workspace (or configured)"),
                       ("serve", "serve the scheduled deployments: scoring, training, purge"),
                       ("purge", "delete run outputs past retention.days and record what was deleted")):
        operation = verbs.add_parser(name, help=text)
        _add_workspace_option(operation)
        operation.add_argument("--config", type=Path, help="YAML file of settings to change")
    runs = verbs.add_parser("runs", help="the run history of the workspace")
    runs_verbs = runs.add_subparsers(dest="runs_verb", required=True)
    runs_list = runs_verbs.add_parser("list", help="every kept scoring run, newest first")
    _add_workspace_option(runs_list)
    _add_casework_verbs(verbs)
    return parser


def _add_casework_verbs(verbs: argparse._SubParsersAction) -> None:
    """``app``, ``users add|list|disable|enable|delete|reset-password|set-role``, ``cases import``,
    ``outcomes export``, ``audit verify``."""

    def store_options(verb: argparse.ArgumentParser) -> argparse.ArgumentParser:
        _add_workspace_option(verb)
        verb.add_argument("--config", type=Path, help="YAML file of settings to change")
        return verb

    app = store_options(verbs.add_parser("app", help="serve the case-review page"))
    app.add_argument("--host", default="127.0.0.1")
    app.add_argument("--port", type=int, default=8000)
    users = verbs.add_parser("users", help="accounts of the case-review page").add_subparsers(
        dest="action", required=True)
    add = store_options(users.add_parser("add", help="add an account; its password is read from stdin"))
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("investigator", "supervisor", "panel", "admin"))
    store_options(users.add_parser("list", help="every account: role, state, last sign-in"))
    for verb, words in (("disable", "disable an account and end its sessions"), ("enable", "re-enable an account"),
                        ("delete", "delete an account (its name stays in the history)"),
                        ("reset-password", "give an account a new password, read from stdin"),
                        ("set-role", "change an account's role")):
        change = store_options(users.add_parser(verb, help=words))
        change.add_argument("name")
        if verb == "set-role":
            change.add_argument("--role", required=True, choices=("investigator", "supervisor", "panel", "admin"))
    cases = verbs.add_parser("cases", help="the case store").add_subparsers(dest="action", required=True)
    store_options(cases.add_parser("import", help="import a scoring run's outputs")).add_argument(
        "--run", type=Path, required=True, help="a scoring run's output directory")
    outcomes = verbs.add_parser("outcomes", help="closed cases").add_subparsers(dest="action", required=True)
    store_options(outcomes.add_parser("export", help="write investigation_outcomes.csv")).add_argument(
        "--out", type=Path, required=True)
    audit = verbs.add_parser("audit", help="the access log").add_subparsers(dest="action", required=True)
    store_options(audit.add_parser("verify", help="check the access log's hash chain"))


def _read_password() -> str:
    """An account's password: typed without echo at a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("password: ")
    return sys.stdin.readline().rstrip("\r\n")


def _run_casework(args: argparse.Namespace, workspace: object, settings: object) -> None:
    from casework import commands

    engine = commands.case_store(settings, workspace.root)
    if args.verb == "app":
        commands.serve(engine, settings, args.host, args.port, workspace.root)
    elif args.verb == "users" and args.action == "add":
        print(commands.add_account(engine, args.name, args.role, _read_password()))
    elif args.verb == "users" and args.action == "list":
        print(commands.list_accounts(engine))
    elif args.verb == "users":
        password = _read_password() if args.action == "reset-password" else ""
        print(commands.manage_account(engine, args.action, args.name, getattr(args, "role", ""), password))
    elif args.verb == "cases":
        from casework.imports import import_run

        print(import_run(engine, args.run).describe())
    elif args.verb == "outcomes":
        print(commands.export_outcomes(engine, args.out))
    elif args.verb == "audit":
        print(commands.verify_log(engine))


def format_validation(summary: dict) -> str:
    """The validate command's report: the input tables and their rejects, then where the rejects are."""
    from pipelines.validate import format_tables

    return "\n".join([*format_tables(summary), f"rejects file: {summary['rejects_file']}"])


SOURCE_TITLES = {
    "truth": "truth file (every subject labelled)",
    "investigation_outcomes": "past investigations (a small, biased sample)",
}


def format_training(result: dict) -> str:
    """The train command's report: the registered version and its evaluation per label source."""
    lines = [f"registered {result['model_name']} version {result['version']} as {result['alias']} "
             f"({result['n_subjects']:,} subjects, as of {result['as_of']})", result["extract"]]
    metrics = result["metrics"]
    for source, title in SOURCE_TITLES.items():
        if f"{source}.n_labelled" not in metrics:
            continue
        figure = {name.removeprefix(f"{source}."): value for name, value in metrics.items()
                  if name.startswith(f"{source}.")}
        lines.append(
            f"against {title}: {figure['n_labelled']:,.0f} labelled, {figure['n_fraud']:,.0f} fraud; "
            f"average precision {figure['average_precision']:.3f}; of the "
            f"{figure['n_labelled_flagged']:,.0f} labelled subjects within capacity, precision "
            f"{figure['precision_at_capacity']:.3f}, "
            f"recall {figure['recall_at_capacity']:.3f}")
        by_typology = sorted((name.split(".", 1)[1], value) for name, value in figure.items()
                             if name.startswith("recall_at_capacity."))
        if by_typology:
            lines.append("  recall at capacity by typology: "
                         + ", ".join(f"{name} {value:.2f}" for name, value in by_typology))
    if "outcomes" in result:
        lines.append(result["outcomes"])
    if "trained_by" in result:
        lines.append(f"its report to the oversight panel is logged with it; it may score once a panel member other "
                     f"than {result['trained_by']} approves it: counterfraud approve --model-version "
                     f"{result['version']} --by ACCOUNT --note TEXT [--promote]")
    return "\n".join(lines)


def format_decision(entry: dict) -> str:
    """The approve and reject commands' report: the decision recorded, and whether the version is now champion."""
    line = (f"{entry['model']} version {entry['version']} {entry['decision']} by {entry['by']} at {entry['at']} "
            f"(report sha256 {entry['report_sha256'][:12] or 'none'})")
    return line + ("; it is now champion" if entry["promoted"] else "")


def _run(args: argparse.Namespace) -> None:
    if args.verb == "generate":
        from synthetic import generate_world

        # a line per chunk of people written, whatever --verbose says: a large world takes minutes
        logging.getLogger("synthetic.world").setLevel(logging.INFO)
        generate_world(args.out, people=args.people, seed=args.seed, truth_path=args.truth,
                       file_format=args.format, force=args.force, variant=args.variant)
        print(f"world of {args.people:,} people ({args.variant} variant) written to {args.out}; truth in {args.truth}")
        return

    settings = load_settings(getattr(args, "config", None), as_of=getattr(args, "as_of", None),
                             extract_cache={"enabled": False} if getattr(args, "no_cache", False) else None)
    from pipelines.engine import LOCAL

    if args.verb == "validate" and settings.orchestration.engine == LOCAL:
        _validate(args, settings)  # no workspace, no Prefect
        return
    if args.verb == "explain-subject":
        from casework.commands import case_store
        from oversight.subject import explain_subject, required_settings

        required_settings(settings)  # before the store is opened: nothing to answer without them
        text = explain_subject(case_store(settings, args.workspace), args.ref, settings)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
            print(f"explanation for {args.ref} written to {args.out}")
        else:
            print(text, end="")
        return

    from pipelines.workspace import Workspace

    workspace = Workspace(args.workspace, settings)
    workspace.activate()  # before Prefect or MLflow are imported: both read the environment
    if args.verb == "serve":
        workspace.use_server()
    _log_user_errors_in_one_line()
    if _starts_temporary_server(args):
        from pipelines.prefect_server import (
            share_temporary_server,
            tie_temporary_server_to_this_process,
        )

        tie_temporary_server_to_this_process()
        if settings.orchestration.engine != LOCAL:  # the workers report to this command's server
            share_temporary_server()
    if args.verb in ("server", "serve", "purge", "runs"):
        _operate(args, workspace)
    elif args.verb == "ui":
        workspace.serve_ui(port=args.port)
    elif args.verb in CASEWORK_VERBS:
        _run_casework(args, workspace, settings)
    elif args.verb == "validate":
        _validate(args, settings)
    elif args.verb == "prepare":
        from pipelines.prepare import run_prepare

        print(f"feature table written to {run_prepare(args.data, args.out, settings, workspace.extracts_dir)}")
    elif args.verb == "train":
        from pipelines.train import train_flow

        print(format_training(train_flow(args.data, workspace, settings, truth_path=args.truth,
                                         trained_by=args.by)))
    elif args.verb == "score":
        from pipelines.runs import describe_run
        from pipelines.score import format_summary, score_flow

        summary = score_flow(args.data, args.out, workspace, settings, capacity=args.capacity,
                             model_version=args.model_version)
        print(format_summary(summary))
        print(f"\n{describe_run(summary)}\ncase list: {summary['outputs']['cases_csv']}")
    elif args.verb == "report" and args.data is None:
        from models.registry import resolve_version
        from oversight.signoff import download_report

        version = resolve_version(args.model_version, model_name=settings.registry.model_name)
        written = download_report(settings.registry.model_name, version, args.out)
        print(f"report of version {version}, as logged at training, written to {written}")
    elif args.verb == "report":
        from pipelines.report import report_flow

        written = report_flow(args.model_version, args.out, settings, data_dir=args.data, truth_path=args.truth,
                              cache_dir=workspace.extracts_dir)
        print(f"report of version {written['version']} written to {written['html']} "
              f"(inputs {written['seconds']['inputs']:.1f} s, report {written['seconds']['report']:.1f} s)\n"
              f"{written['extract']}")
    elif args.verb in ("approve", "reject"):
        from casework import commands
        from oversight.signoff import APPROVED, REJECTED, SIGNOFF_LOG, decide

        member = commands.panel_member(commands.case_store(settings, workspace.root), args.by, _read_password(),
                                       f"{args.verb} model version")
        entry = decide(model_name=settings.registry.model_name, version=args.model_version,
                       decision=APPROVED if args.verb == "approve" else REJECTED, by=member, note=args.note,
                       log_path=workspace.root / SIGNOFF_LOG, promote=getattr(args, "promote", False))
        print(format_decision(entry))


def _validate(args: argparse.Namespace, settings: Settings) -> None:
    from pipelines.validate import run_validation

    print(format_validation(run_validation(args.data, args.out, settings)))


def _starts_temporary_server(args: argparse.Namespace) -> bool:
    """Whether the command runs a flow on a temporary Prefect server (no Prefect API configured)."""
    runs_flow = args.verb in FLOW_VERBS and getattr(args, "data", None) is not None
    return runs_flow and not os.environ.get("PREFECT_API_URL")


def _operate(args: argparse.Namespace, workspace: Workspace) -> None:
    """The scheduled-operation verbs: ``server``, ``serve``, ``purge``, ``runs list``."""
    if args.verb == "runs":
        from pipelines.runs import completed_runs, format_runs

        print(format_runs(completed_runs(workspace.runs_dir)))
    elif args.verb == "purge":
        from pipelines.retention import format_purge, purge_workspace

        print(format_purge(purge_workspace(workspace.root, workspace.runs_dir, workspace.extracts_dir, workspace.settings)))
    elif args.verb == "server":
        from pipelines.schedule import run_server

        print(f"Prefect server on {workspace.server_api_url}, home {workspace.prefect_home}")
        run_server(workspace)
    else:
        from pipelines.schedule import serve_deployments

        serve_deployments(workspace, args.config)


class _UserErrorWithoutTraceback(logging.Filter):
    """Log a user error raised inside a flow without its traceback: the CLI states it in one line."""

    def __init__(self, is_user_error: Callable[[BaseException], bool]) -> None:
        super().__init__()
        self.is_user_error = is_user_error

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and self.is_user_error(record.exc_info[1]):
            record.exc_info, record.exc_text = None, None
        return True


def _is_user_error(error: BaseException) -> bool:
    """A setting, or an error of :func:`pipelines.errors.is_user_error`."""
    # imported only when needed: the error classes live beside heavy modules (MLflow)
    from pipelines.errors import is_user_error

    return isinstance(error, SettingsError) or is_user_error(error)


def _log_user_errors_in_one_line() -> None:
    """Keep Prefect's flow and task run logs, minus the tracebacks of errors a user can fix."""
    quiet = _UserErrorWithoutTraceback(_is_user_error)
    for name in PREFECT_RUN_LOGGERS:
        logger = logging.getLogger(name)
        # one filter per logger, however many commands a process runs
        if not any(isinstance(present, _UserErrorWithoutTraceback) for present in logger.filters):
            logger.addFilter(quiet)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        _run(args)
    except Exception as error:
        if not _is_user_error(error):
            raise
        from pipelines.errors import error_line

        print(f"counterfraud {args.verb}: error: {error_line(error)}", file=sys.stderr)
        return EXIT_USER_ERROR
    return 0


if __name__ == "__main__":
    sys.exit(main())
