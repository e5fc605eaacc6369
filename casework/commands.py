"""What the casework verbs of the command line do: ``app``, ``users add`` (and ``list``, ``disable``,
``enable``, ``delete``, ``reset-password``, ``set-role``), ``cases import``, ``outcomes export`` and
``audit verify``. The CLI only parses arguments and prints the answers."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from casework import audit
from casework.audit import AccessLogTamperedError
from casework.auth import (
    accounts,
    add_user,
    authenticate,
    change_role,
    delete_account,
    disable_account,
    enable_account,
    reset_password,
)
from casework.store import (
    OUTCOME_COLUMNS,
    SYSTEM_ACTOR,
    Case,
    CaseworkError,
    closed_outcomes,
    open_store,
    store_url,
)
from casework.workflow import PANEL
from configs.settings import Settings
from features.csv_output import write_csv

logger = logging.getLogger(__name__)

OUTCOMES_FILE = "investigation_outcomes.csv"


def case_store(settings: Settings, workspace_root: str | Path) -> Engine:
    """The workspace's case store (or the configured one), migrated."""
    return open_store(store_url(settings.case_store.url, workspace_root))


def add_account(engine: Engine, name: str, role: str, password: str) -> str:
    with Session(engine) as session, session.begin():
        add_user(session, name, role, password)
        audit.record(session, SYSTEM_ACTOR, "add account", name, role)
    return f"account {name} added with role {role}"


def list_accounts(engine: Engine) -> str:
    """One line per account, disabled and deleted ones too: name, role, state and last sign-in."""
    with Session(engine) as session:
        lines = []
        for user in accounts(session, include_inactive=True):
            state = (f"deleted {user.deleted_at:%Y-%m-%d}" if user.deleted_at else
                     f"disabled {user.disabled_at:%Y-%m-%d}" if user.disabled_at else "active")
            last = f"{user.last_sign_in_at:%Y-%m-%d %H:%M} UTC" if user.last_sign_in_at else "never"
            lines.append(f"{user.name}\t{user.role}\t{state}\tlast sign-in {last}")
    return "\n".join(lines) or "no account yet: add one with counterfraud users add NAME --role ROLE"


def manage_account(engine: Engine, verb: str, name: str, role: str = "", password: str = "") -> str:
    """``disable``, ``enable``, ``delete``, ``reset-password`` or ``set-role`` account ``name``, as the system.

    The rules are :mod:`casework.auth`'s (the last active administrator is kept); the change, or
    its refusal with the reason, goes to the access log. Returns the line to print.
    """
    action = {"disable": "disable account", "enable": "enable account", "delete": "delete account",
              "reset-password": "reset password", "set-role": "change role"}[verb]
    try:
        with Session(engine) as session, session.begin():
            if verb == "disable":
                answer = f"account {name} disabled; {disable_account(session, SYSTEM_ACTOR, name)} session(s) ended"
            elif verb == "enable":
                enable_account(session, SYSTEM_ACTOR, name)
                answer = f"account {name} re-enabled"
            elif verb == "delete":
                answer = (f"account {name} deleted; {delete_account(session, SYSTEM_ACTOR, name)} session(s) "
                          "ended; its name stays in the access log and the case history")
            elif verb == "reset-password":
                ended = reset_password(session, SYSTEM_ACTOR, name, password)
                answer = f"password of {name} reset; {ended} session(s) ended"
            else:
                change_role(session, SYSTEM_ACTOR, name, role)
                answer = f"account {name} is now {role}"
            audit.record(session, SYSTEM_ACTOR, action, name, answer)
    except CaseworkError as error:
        with Session(engine) as session, session.begin():
            audit.record(session, SYSTEM_ACTOR, f"{action} refused", name, str(error))
        raise
    return answer


NOT_A_PANEL_ACCOUNT = ("{name} is not a panel account of the case store, or the password is wrong: a decision on "
                      "a model version is made by a signed-in panel member (add one with counterfraud users add "
                      "NAME --role panel)")


def panel_member(engine: Engine, name: str, password: str, action: str) -> str:
    """The name of the panel account ``name`` when ``password`` is its password; the try is logged.

    Raises :class:`CaseworkError` (the same message for an unknown account, a wrong password and
    another role, so the answer tells no one which accounts exist).
    """
    with Session(engine) as session, session.begin():
        user = authenticate(session, name, password)
        member = user.name if user is not None and user.role == PANEL else None
        audit.record(session, name, action if member else f"{action} refused", "", "command line")
    if member is None:
        raise CaseworkError(NOT_A_PANEL_ACCOUNT.format(name=name))
    return member


def export_outcomes(engine: Engine, out_dir: str | Path) -> str:
    """Write ``investigation_outcomes.csv`` (the data contract's table) into ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / OUTCOMES_FILE
    with Session(engine) as session, session.begin():
        rows = closed_outcomes(session)
        partial = path.with_suffix(".csv.partial")
        # the project's one CSV writer: text a spreadsheet would run as a formula is made inert
        write_csv(pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS)), partial)
        partial.replace(path)
        audit.record(session, SYSTEM_ACTOR, "export outcomes", str(path.resolve()), f"{len(rows)} rows")
    controls = sum(row["control"] == "true" for row in rows)
    return f"{len(rows):,} closed cases ({controls:,} from the control sample) written to {path}"


def verify_log(engine: Engine) -> str:
    """The line to print when the access log's chain holds; :class:`AccessLogTamperedError` if not."""
    with Session(engine) as session:
        check = audit.verify(session)
    if not check.intact:
        raise AccessLogTamperedError(f"access log tampered with: {check.problem}")
    return f"access log intact: {check.entries:,} entries, hash chain verified"


def serve(engine: Engine, settings: Settings, host: str, port: int, workspace_root: str | Path) -> None:
    """Serve the case-review page until interrupted; its panel signs off the workspace's versions."""
    import uvicorn

    from casework.app import create_app
    from casework.routes.signoff import SignOffDesk
    from oversight.signoff import SIGNOFF_LOG

    with Session(engine) as session:
        cases = session.scalar(select(func.count()).select_from(Case))
    # the start line is news, not a warning; shown whatever the command's log level
    logger.setLevel(logging.INFO)
    logger.info("case review on http://%s:%d (%d cases in the store)", host, port, cases)
    desk = SignOffDesk(settings.registry.model_name, Path(workspace_root) / SIGNOFF_LOG)
    uvicorn.run(create_app(engine, settings.case_store, desk), host=host, port=port, log_level="warning")
