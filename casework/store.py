"""The case store: scoring runs, cases, their score history and events, accounts.

SQLAlchemy 2 on SQLite (WAL, in the workspace) by default, or on PostgreSQL by configuration
(``case_store.url``). The schema is Alembic's (``casework/migrations``), brought up to date by
:func:`open_store` before anything reads it.

Every change of a case is a step of the workflow table (:mod:`casework.workflow`), allowed or
refused there for the acting account's role; it is recorded as :class:`Event` rows (who, when,
field, old and new value), appended and never updated. Every change also checks the ``version``
the case was read at: a stale save raises :class:`StaleCaseError` naming who changed the case
meanwhile. :func:`claim_next` is atomic: on PostgreSQL it locks the next new case with
``FOR UPDATE SKIP LOCKED``; on SQLite, where writers take turns, the guarded ``UPDATE … WHERE
version = …`` alone decides.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    and_,
    create_engine,
    delete,
    event,
    false,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from casework.workflow import (
    ASSIGN,
    ASSIGNED,
    BULK_CLOSING_OUTCOME,
    BULK_STEPS,
    CLAIM,
    CLOSE,
    CLOSED,
    CONFIRM,
    DEESCALATE,
    ESCALATE,
    FOUR_EYES_OUTCOMES,
    NEW,
    NOTE,
    OUTCOMES,
    REOPEN,
    START,
    STATUSES,
    TRANSITIONS,
    TYPOLOGY_OUTCOMES,
    UNASSIGN,
    refusal,
)
from features.contract import OUTCOMES as CONTRACT_OUTCOMES
from features.contract import TYPOLOGIES

STORE_FILE = "cases.db"
MIGRATIONS = Path(__file__).with_name("migrations")

SYSTEM_ACTOR = "system"
"""The actor of changes no person made (a run joining an open case)."""


class CaseworkError(ValueError):
    """A case-store request a user can correct (a stale save, a step the workflow forbids)."""


class StaleCaseError(CaseworkError):
    """The case changed since it was read; the message says who changed it."""


class Base(DeclarativeBase):
    pass


class Run(Base):
    """One imported scoring run."""

    __tablename__ = "runs"
    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    model_version: Mapped[str] = mapped_column(String(32))
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime)
    run_dir: Mapped[str] = mapped_column(Text)
    data_dir: Mapped[str] = mapped_column(Text)
    subjects_scored: Mapped[int] = mapped_column(Integer)
    work_list_size: Mapped[int] = mapped_column(Integer)
    control_size: Mapped[int] = mapped_column(Integer)
    summary: Mapped[str] = mapped_column(Text)
    """The run's ``run_summary.json``, as written."""


class Case(Base):
    """A subject on a work list, from the run that opened it until it is closed."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_ref: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str] = mapped_column(String(16))
    pseudonym: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(20))
    closing_note: Mapped[str | None] = mapped_column(Text)
    typology: Mapped[str | None] = mapped_column(String(40))
    """The kind of fraud or error the closing found (:data:`features.contract.TYPOLOGIES`)."""
    confirmed_by: Mapped[str | None] = mapped_column(String(64))
    """Who confirmed a closing whose outcome needs a second person (:func:`confirm`)."""
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    purged_on: Mapped[dt.date | None] = mapped_column(Date)
    """When retention removed what identifies the subject (see :func:`purge_before`)."""
    control: Mapped[bool] = mapped_column(Boolean)
    """Drawn at random for a quality check, not flagged."""
    priority: Mapped[float] = mapped_column(Float)
    """Position in the run's queue: flagged cases by rank, control cases spread evenly among them."""
    opened_run_id: Mapped[str] = mapped_column(String(64), ForeignKey("runs.run_id"))
    latest_run_id: Mapped[str] = mapped_column(String(64), ForeignKey("runs.run_id"))
    score: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[str] = mapped_column(Text)
    related: Mapped[str] = mapped_column(Text)
    top_feature: Mapped[str | None] = mapped_column(String(64))
    la_code: Mapped[str | None] = mapped_column(String(16))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    status_since: Mapped[dt.datetime] = mapped_column(DateTime)
    """When the case entered its current status: its SLA clock runs from then (:class:`SlaClock`)."""
    escalated_by: Mapped[str | None] = mapped_column(String(64))
    """Who escalated the case for a supervisor's attention; None when it is not escalated (:func:`escalate`)."""
    escalation_reason: Mapped[str | None] = mapped_column(Text)

    @hybrid_property
    def awaiting_confirmation(self) -> bool:
        """Closed with an outcome that counts only once a second person confirms it, not yet confirmed."""
        return self.status == CLOSED and self.outcome in FOUR_EYES_OUTCOMES and self.confirmed_by is None

    @awaiting_confirmation.inplace.expression
    @classmethod
    def _awaiting_confirmation(cls) -> Any:
        return and_(cls.status == CLOSED, cls.outcome.in_(FOUR_EYES_OUTCOMES), cls.confirmed_by.is_(None))


class CaseDetail(Base):
    """What the case page shows in full, kept apart so that the work list scans narrow rows."""

    __tablename__ = "case_details"
    case_id: Mapped[int] = mapped_column(Integer, ForeignKey("cases.id"), primary_key=True)
    explanation: Mapped[str] = mapped_column(Text)
    """JSON: the base value and each feature's value and contribution in the latest run."""
    records: Mapped[str] = mapped_column(Text)
    """JSON: the subject's own records from each source, as the latest run read them."""


class CaseScore(Base):
    """A case's score in one run: its score history."""

    __tablename__ = "case_scores"
    case_id: Mapped[int] = mapped_column(Integer, ForeignKey("cases.id"), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), ForeignKey("runs.run_id"), primary_key=True)
    score: Mapped[float] = mapped_column(Float)
    rank: Mapped[int] = mapped_column(Integer)
    flagged: Mapped[bool] = mapped_column(Boolean)
    control: Mapped[bool] = mapped_column(Boolean)


class Event(Base):
    """One change of one field of a case; appended, never updated."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(Integer, ForeignKey("cases.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)


class CaseSearchTerm(Base):
    """One term a case is found by: a reference, NINO, postcode or name word of its subject (:mod:`casework.search`)."""

    __tablename__ = "case_search_terms"
    case_id: Mapped[int] = mapped_column(Integer, ForeignKey("cases.id"), primary_key=True)
    term: Mapped[str] = mapped_column(String(128), primary_key=True, index=True)


class User(Base):
    """A local account of the case-review page."""

    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    """When an administrator disabled the account: it can neither sign in, act nor be given cases."""
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    """When it was deleted: disabled for good, its password removed, its name kept (see :func:`casework.auth.delete_account`)."""

    @property
    def active(self) -> bool:
        return self.disabled_at is None


class WebSession(Base):
    """A session of the case-review page: its cookie holds a token whose hash is the key here.

    Signing out deletes the row, so a copied cookie stops working at once; a sign-in form's session
    (no account yet) is used once.
    """

    __tablename__ = "web_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_name: Mapped[str | None] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime)


class SignInFailure(Base):
    """Failed sign-ins of one account (``account:NAME``) or one client address (``address:IP``)."""

    __tablename__ = "sign_in_failures"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[dt.datetime] = mapped_column(DateTime)
    locked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    """When the account was locked; only an account key is ever locked, and only by failures."""


class StoreKey(Base):
    __tablename__ = "store_keys"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


# --------------------------------------------------------------------------------------- the engine


def store_url(configured: str | None, workspace_root: str | Path) -> str:
    """The configured case-store URL, else SQLite at ``<workspace>/cases.db``."""
    return configured or f"sqlite:///{Path(workspace_root).resolve() / STORE_FILE}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # the driver's own transaction handling is off: each transaction begins IMMEDIATE (below), so a
    # reader never has to upgrade to a writer that another connection has overtaken
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


@functools.cache
def open_store(url: str) -> Engine:
    """An engine on the case store at ``url``, its schema migrated to the latest revision.

    One engine per URL and process (engines pool their connections).
    """
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        Path(engine.url.database or STORE_FILE).parent.mkdir(parents=True, exist_ok=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    migrate(engine)
    return engine


MIGRATION_LOCK = 0x63665F6D6967  # "cf_mig"
IMPORT_LOCK = 0x63665F696D70  # "cf_imp"
"""Keys of the PostgreSQL advisory locks that migrations, and imports, take (:func:`one_at_a_time`)."""


def one_at_a_time(connection: Connection, lock: int) -> None:
    """Wait until no other transaction holds ``lock``, then hold it until this transaction ends.

    For steps that check, then write (create the schema, import a run), started by two commands
    at once. On PostgreSQL, a transaction-scoped advisory lock; SQLite's transactions already
    begin IMMEDIATE, one writer at a time.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": lock})


def migrate(engine: Engine) -> None:
    """Bring the store's schema to Alembic's latest revision (``alembic upgrade head``)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        one_at_a_time(connection, MIGRATION_LOCK)  # two commands on a fresh store would both create it
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def now() -> dt.datetime:
    """The current UTC time, without a zone (as every timestamp of the store is kept)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def store_secret(session: Session) -> bytes:
    """The store's own random key (made by its first migration) for pseudonyms and sessions."""
    return bytes.fromhex(session.get(StoreKey, "secret").value)


def pseudonym(secret: bytes, subject_ref: str) -> str:
    """A stable pseudonym of ``subject_ref``: ``S-`` and the first 10 hex digits of its HMAC."""
    return "S-" + hmac.new(secret, subject_ref.encode("utf-8"), hashlib.sha256).hexdigest()[:10]


# ------------------------------------------------------------------------------------- the workflow


def _events(case: Case, fields: dict[str, Any], actor: str, at: dt.datetime) -> list[Event]:
    return [
        Event(case_id=case.id, at=at, actor=actor, field=name,
              old_value=_text(getattr(case, name)), new_value=_text(value))
        for name, value in fields.items() if getattr(case, name) != value
    ]


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def role_of(session: Session, name: str) -> str | None:
    """The role of account ``name``; None when there is no such account or it is disabled (it may do nothing)."""
    return session.scalar(select(User.role).where(User.name == name, User.disabled_at.is_(None)))


def take_step(session: Session, case_id: int, read_version: int, actor: str, step: str,
              fields: dict[str, Any] | None = None) -> Case:
    """Take workflow ``step`` on the case if it is still at ``read_version``; one event per field changed.

    The step's table row (:data:`casework.workflow.TRANSITIONS`) decides whether ``actor``'s role may
    take it from the case's status and assignment; ``fields`` are set besides the new status.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise CaseworkError(f"no case {case_id}")
    if case.version != read_version:
        raise _stale(case)
    fields = {**({"status": TRANSITIONS[step].to} if TRANSITIONS[step].to else {}), **(fields or {})}
    new_assignee = fields.get("assignee")
    refused = refusal(step, case_id, case.status, case.assignee, actor, role_of(session, actor),
                      new_assignee, role_of(session, new_assignee) if new_assignee else None)
    if refused:
        raise CaseworkError(refused)
    at = now()
    events = _events(case, fields, actor, at)
    # the SLA clock restarts with each new status; the status event says when, so it is no event of its own
    entered = {"status_since": at} if fields.get("status", case.status) != case.status else {}
    updated = session.execute(
        update(Case).where(Case.id == case_id, Case.version == read_version)
        .values(**fields, **entered, updated_at=at, updated_by=actor, version=read_version + 1)
        .execution_options(synchronize_session=False)
    )
    if updated.rowcount != 1:
        session.expire(case)
        raise _stale(session.get(Case, case_id))
    session.add_all(events)
    session.flush()
    session.expire(case)
    return session.get(Case, case_id)


def _stale(case: Case) -> StaleCaseError:
    return StaleCaseError(
        f"case {case.id} was changed by {case.updated_by} at {case.updated_at:%Y-%m-%d %H:%M:%S} UTC "
        f"since you opened it (now {case.status.replace('_', ' ')}"
        + (f", assigned to {case.assignee}" if case.assignee else "") + "): reload it and try again")


def assign(session: Session, case_id: int, read_version: int, actor: str, assignee: str) -> Case:
    """Assign a new or assigned case to ``assignee``."""
    return take_step(session, case_id, read_version, actor, ASSIGN, {"assignee": assignee})


def start_review(session: Session, case_id: int, read_version: int, actor: str) -> Case:
    """The assignee starts reviewing an assigned case."""
    return take_step(session, case_id, read_version, actor, START)


CLOSING_NOTE_LIMIT = 10_000
"""Characters a closing note may hold: a few pages of findings; the case's records are not copied into it."""
CASE_NOTE_LIMIT = 4_000
"""Characters a note during a review may hold: a step of the review, not its findings (the closing note)."""
NOTE_FIELD = "note"
"""The field of a note's event: a note is an event of the case, changing none of its fields."""
WRITTEN_FIELDS = ("closing_note", NOTE_FIELD, "escalation_reason")
"""The fields of events whose values a caseworker wrote: the panel never sees them, retention purges them."""


def _checked_note(note: str, what: str, limit: int) -> str:
    """``note`` without its outer white space; :class:`CaseworkError` when it is empty or too long."""
    if not note.strip():
        raise CaseworkError(f"{what} is required")
    if len(note) > limit:
        raise CaseworkError(f"{what} is at most {limit:,} characters; this one has {len(note):,}")
    return note.strip()


def close(session: Session, case_id: int, read_version: int, actor: str, outcome: str,
          note: str, typology: str | None = None) -> Case:
    """Close a case under review with an outcome and a closing note (both required), and a typology.

    A fraud outcome names its typology, an error may, any other outcome may not; the typology is
    one of the subject type's (:data:`features.contract.TYPOLOGIES`).
    """
    if outcome not in OUTCOMES:
        raise CaseworkError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    note = _checked_note(note, "a closing note", CLOSING_NOTE_LIMIT)
    subject_type = session.scalar(select(Case.subject_type).where(Case.id == case_id))
    known = TYPOLOGIES.get(subject_type or "", ())
    typology = typology or None
    if typology is None and outcome == "fraud":
        raise CaseworkError(f"a fraud outcome names its typology: one of {', '.join(known)}")
    if typology is not None and outcome not in TYPOLOGY_OUTCOMES:
        raise CaseworkError(f"a typology is recorded with a fraud or error outcome, not with {outcome}")
    if typology is not None and typology not in known:
        raise CaseworkError(f"typology must be one of {', '.join(known)} for a {(subject_type or '').replace('_', ' ')}, "
                            f"not {typology!r}")
    return take_step(session, case_id, read_version, actor, CLOSE, {
        "outcome": outcome, "closing_note": note, "closed_on": now().date(), "typology": typology})


def add_note(session: Session, case_id: int, actor: str, note: str) -> Event:
    """Add a note to a case being worked (assigned or in review): an event, by ``actor``, now.

    Its assignee or a supervisor may add one (:data:`casework.workflow.TRANSITIONS`). A note
    changes no field of the case, so it neither needs nor moves the version the case was read at:
    two people noting at once both keep their notes.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise CaseworkError(f"no case {case_id}")
    refused = refusal(NOTE, case_id, case.status, case.assignee, actor, role_of(session, actor))
    if refused:
        raise CaseworkError(refused)
    event = Event(case_id=case_id, at=now(), actor=actor, field=NOTE_FIELD, old_value=None,
                  new_value=_checked_note(note, "a note", CASE_NOTE_LIMIT))
    session.add(event)
    session.flush()
    return event


def unassign(session: Session, case_id: int, read_version: int, actor: str) -> Case:
    """A supervisor takes an assigned or in-review case off its assignee: new again, for anyone to claim."""
    return take_step(session, case_id, read_version, actor, UNASSIGN, {"assignee": None})


def closed_by(session: Session, case_id: int) -> str | None:
    """Who closed the case last (its events say); None when it was never closed."""
    return session.scalar(select(Event.actor).where(Event.case_id == case_id, Event.field == "status",
                                                    Event.new_value == CLOSED).order_by(Event.id.desc()).limit(1))


def confirm(session: Session, case_id: int, read_version: int, actor: str) -> Case:
    """A supervisor other than the closer confirms a closing awaiting confirmation (four eyes).

    Until then a :data:`casework.workflow.FOUR_EYES_OUTCOMES` outcome is not exported as an outcome.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise CaseworkError(f"no case {case_id}")
    if not case.awaiting_confirmation:
        raise CaseworkError(f"case {case_id} awaits no confirmation: only a closing with a "
                            f"{' or '.join(FOUR_EYES_OUTCOMES)} outcome not yet confirmed does")
    if actor == closed_by(session, case_id):
        raise CaseworkError(f"{actor} closed case {case_id}: its {case.outcome} outcome is confirmed by a second "
                            "person, a supervisor other than the closer")
    return take_step(session, case_id, read_version, actor, CONFIRM, {"confirmed_by": actor})


def reopen(session: Session, case_id: int, read_version: int, actor: str) -> Case:
    """Reopen a closed case: back to its assignee, its outcome cleared (the events keep it).

    A purged case cannot be reopened: nothing left in it names the subject.
    """
    purged_on = session.scalar(select(Case.purged_on).where(Case.id == case_id))
    if purged_on is not None:
        raise CaseworkError(f"case {case_id} was purged on {purged_on.isoformat()} under the retention "
                            "limit: it no longer names its subject and cannot be reopened")
    return take_step(session, case_id, read_version, actor, REOPEN,
                     {"outcome": None, "closing_note": None, "closed_on": None, "typology": None,
                      "confirmed_by": None})


def escalate(session: Session, case_id: int, read_version: int, actor: str, reason: str) -> Case:
    """Escalate an open case for a supervisor's attention, saying why; it stays escalated until a
    supervisor de-escalates it (:func:`deescalate`), whatever its status.

    Its assignee or a supervisor may escalate it, or anyone while it is assigned to nobody.
    """
    escalated_by = session.scalar(select(Case.escalated_by).where(Case.id == case_id))
    if escalated_by is not None:
        raise CaseworkError(f"case {case_id} is escalated already, by {escalated_by}: add a note to it instead")
    return take_step(session, case_id, read_version, actor, ESCALATE, {
        "escalated_by": actor, "escalation_reason": _checked_note(reason, "a reason to escalate", CASE_NOTE_LIMIT)})


def deescalate(session: Session, case_id: int, read_version: int, actor: str) -> Case:
    """A supervisor takes an escalated case off the escalated ones (its events keep who escalated it, and why)."""
    if session.scalar(select(Case.escalated_by).where(Case.id == case_id)) is None:
        raise CaseworkError(f"case {case_id} is not escalated")
    return take_step(session, case_id, read_version, actor, DEESCALATE,
                     {"escalated_by": None, "escalation_reason": None})


def claim_next(session: Session, run_id: str, actor: str) -> Case | None:
    """Assign the first new case of the work list to ``actor``; None when none is left.

    The run's queue comes first, then new cases that earlier runs flagged and later ones did not
    (a case stays open until it is closed, whatever later runs show).

    Two callers never get the same case: the step only succeeds while the case is at the version
    read, and on PostgreSQL the candidate row is locked (``SKIP LOCKED``) so the callers take
    different rows instead of waiting on one.
    """
    refused = refusal(CLAIM, 0, NEW, None, actor, role_of(session, actor))
    if refused:
        raise CaseworkError(refused)
    while True:
        candidate = session.execute(
            select(Case.id, Case.version).where(Case.status == NEW)
            .order_by(Case.latest_run_id != run_id, Case.priority, Case.id).limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if candidate is None:
            return None
        try:
            return take_step(session, candidate.id, candidate.version, actor, CLAIM, {"assignee": actor})
        except StaleCaseError:
            continue  # another caller took it between the two statements


def bulk_assign(session: Session, read_versions: dict[int, int], actor: str,
                assignee: str) -> tuple[list[int], list[int]]:
    """Assign each case of ``read_versions`` (case id → the version the list showed) to ``assignee``.

    A case that changed since the list was read is skipped, not overwritten: the supervisor chose
    it as it was then. Cases already the assignee's, or no longer new or assigned, are left alone.

    Returns
    -------
    assigned, skipped : list of int
        The ids assigned, and the ids skipped because they changed since they were read.
    """
    assigned, skipped = [], []
    for case_id, read_version in read_versions.items():
        case = session.get(Case, case_id)
        if case is None or case.version != read_version:
            skipped.append(case_id)
        elif case.status in (NEW, ASSIGNED) and case.assignee != assignee:
            try:
                assign(session, case_id, read_version, actor, assignee)
            except StaleCaseError:
                skipped.append(case_id)
                continue
            assigned.append(case_id)
    return assigned, skipped


@dataclass
class BulkResult:
    """What a step taken on many cases at once did to each of them."""

    done: list[int]
    changed: list[int]
    """Skipped: they changed since the list was read."""
    refused: dict[int, str]
    """Left as they were: the workflow does not let the step start from their status, and why."""


def bulk_step(session: Session, read_versions: dict[int, int], actor: str, step: str,
              closing_note: str = "") -> BulkResult:
    """Take ``step`` (one of :data:`casework.workflow.BULK_STEPS`) on each case of ``read_versions``.

    ``read_versions`` maps a case id to the version the list showed: a case changed since is
    skipped, not stepped. Each case the step is taken on gets its events, as one step on one case
    would; a case the workflow refuses the step is left as it is, with the refusal. A bulk closing
    records the outcome :data:`casework.workflow.BULK_CLOSING_OUTCOME` and ``closing_note``.
    """
    if step not in BULK_STEPS:
        raise CaseworkError(f"{step!r} is not a step taken on many cases at once: one of {', '.join(BULK_STEPS)}")
    if step == CLOSE:
        closing_note = _checked_note(closing_note, "a closing note for the cases closed at once", CLOSING_NOTE_LIMIT)
    result = BulkResult([], [], {})
    for case_id, read_version in read_versions.items():
        try:  # a refused or stale step writes nothing: it is refused before its update
            if step == UNASSIGN:
                unassign(session, case_id, read_version, actor)
            elif step == REOPEN:
                reopen(session, case_id, read_version, actor)
            else:
                close(session, case_id, read_version, actor, BULK_CLOSING_OUTCOME, closing_note)
        except StaleCaseError:
            result.changed.append(case_id)
        except CaseworkError as error:
            result.refused[case_id] = str(error)
        else:
            result.done.append(case_id)
    return result


# ------------------------------------------------------------------------------------------ reading


def latest_run(session: Session) -> Run | None:
    """The run with the latest as-of date, the latest imported among equals."""
    return session.scalars(select(Run).order_by(Run.as_of.desc(), Run.imported_at.desc()).limit(1)).first()


def run_dates(session: Session) -> dict[str, dt.date]:
    """The as-of date of every imported run, by run id."""
    return dict(session.execute(select(Run.run_id, Run.as_of)).all())


@dataclass(frozen=True)
class SlaClock:
    """The SLA of each open status (``case_store.sla_days``), read on the day ``today``.

    A case is due on the day it entered its current status plus that status's days, and overdue
    from the next day; a status without days (closed) has no clock. The one place this rule is
    kept: the work list, the case page and the workload read it from here.
    """

    days: Mapping[str, int]
    today: dt.date

    @classmethod
    def now(cls, days: Mapping[str, int]) -> SlaClock:
        """The clock of ``days`` today (UTC, as the store keeps time)."""
        return cls(days, now().date())

    def _allowed(self, status: str) -> dt.timedelta:
        return dt.timedelta(days=self.days[status])

    def due_on(self, case: Case) -> dt.date | None:
        """The day the case is due to leave its status; None when its status has no clock."""
        return case.status_since.date() + self._allowed(case.status) if case.status in self.days else None

    def overdue_by(self, case: Case) -> int:
        """Days the case is past its due day; 0 when it is not overdue."""
        due = self.due_on(case)
        return max(0, (self.today - due).days) if due is not None else 0

    def overdue(self) -> Any:
        """The condition a query keeps overdue cases by: due before today, so entered their status
        before the day ``today`` less its days."""
        return or_(false(), *(and_(Case.status == status,
                                   Case.status_since < dt.datetime.combine(self.today - self._allowed(status), dt.time()))
                              for status in self.days))


@dataclass(frozen=True)
class CaseFilter:
    """The work-list filters of the case-review page; None or "" filters nothing."""

    status: str | None = None
    subject_type: str | None = None
    assignee: str | None = None
    la_code: str | None = None
    top_feature: str | None = None
    open_only: bool = False
    """Only cases not yet closed (the "my cases" view: the viewer's work in hand)."""
    awaiting_confirmation: bool = False
    """Only closings awaiting a second person's confirmation (:func:`confirm`)."""
    overdue: SlaClock | None = None
    """Only cases overdue by this clock."""
    escalated: bool = False
    """Only escalated cases (:func:`escalate`)."""


SORTS = {"rank": Case.rank, "score": Case.score, "status": Case.status, "assignee": Case.assignee,
         "queue": Case.priority}


def on_work_list(run_id: str) -> Any:
    """The cases of the work list when ``run_id`` is the latest run: its own, and every open case.

    An open case stays on the list until it is closed, whatever later runs show; its
    ``latest_run_id`` says which run last flagged it. So does a closing awaiting confirmation.
    """
    return or_(Case.latest_run_id == run_id, Case.status != CLOSED, Case.awaiting_confirmation)


def list_cases(session: Session, run_id: str, filters: CaseFilter, sort: str = "queue",
               descending: bool = False, page: int = 1, page_size: int = 50) -> tuple[list[Case], int]:
    """One page of the work list (:func:`on_work_list`) and the number of cases the filters keep."""
    query = select(Case).where(on_work_list(run_id))
    for column, value in ((Case.status, filters.status), (Case.subject_type, filters.subject_type),
                          (Case.assignee, filters.assignee), (Case.la_code, filters.la_code),
                          (Case.top_feature, filters.top_feature)):
        if value:
            query = query.where(column == value)
    if filters.open_only:
        query = query.where(Case.status != CLOSED)
    if filters.awaiting_confirmation:
        query = query.where(Case.awaiting_confirmation)
    if filters.overdue is not None:
        query = query.where(filters.overdue.overdue())
    if filters.escalated:
        query = query.where(Case.escalated_by.is_not(None))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    order = SORTS.get(sort, Case.priority)
    # the run's own queue first, then open cases from earlier runs, as claim_next hands them out
    earlier_run = Case.latest_run_id != run_id
    query = query.order_by(*((earlier_run.desc(), order.desc()) if descending else (earlier_run, order)), Case.id)
    cases = session.scalars(query.offset((max(page, 1) - 1) * page_size).limit(page_size)).all()
    return list(cases), int(total or 0)


def workload(session: Session, names: Iterable[str]) -> dict[str, dict[str, int]]:
    """The open cases of each account of ``names`` per status (assigned, in review), zero included."""
    open_statuses = [status for status in STATUSES if status not in (NEW, CLOSED)]
    counts = {name: dict.fromkeys(open_statuses, 0) for name in names}
    for assignee, status, count in session.execute(
            select(Case.assignee, Case.status, func.count()).where(Case.status.in_(open_statuses))
            .group_by(Case.assignee, Case.status)):
        counts.setdefault(assignee, dict.fromkeys(open_statuses, 0))[status] = count
    return counts


def overdue_counts(session: Session, clock: SlaClock) -> dict[str | None, int]:
    """The overdue cases of each assignee (None: the new cases nobody has yet); assignees with none left out."""
    return dict(session.execute(select(Case.assignee, func.count()).where(clock.overdue())
                                .group_by(Case.assignee)).all())


def filter_choices(session: Session, run_id: str) -> dict[str, list[str]]:
    """The values each work-list filter can take on the work list."""
    choices = {}
    for name, column in (("assignee", Case.assignee), ("la_code", Case.la_code),
                         ("top_feature", Case.top_feature)):
        choices[name] = sorted(value for value in session.scalars(
            select(column).where(on_work_list(run_id)).distinct()) if value)
    return choices


def score_history(session: Session, case_id: int) -> Sequence[Any]:
    """The case's score in each run that scored it, oldest first."""
    return session.execute(
        select(Run.run_id, Run.as_of, Run.model_version, CaseScore.score, CaseScore.rank,
               CaseScore.flagged, CaseScore.control)
        .join(Run, Run.run_id == CaseScore.run_id).where(CaseScore.case_id == case_id)
        .order_by(Run.as_of, Run.imported_at)
    ).all()


def case_events(session: Session, case_id: int) -> Sequence[Event]:
    return session.scalars(select(Event).where(Event.case_id == case_id).order_by(Event.id)).all()


def cases_of_subjects(session: Session, subject_refs: Iterable[str]) -> dict[str, int]:
    """The latest case of each subject that has one."""
    rows = session.execute(select(Case.subject_ref, func.max(Case.id))
                           .where(Case.subject_ref.in_(list(subject_refs))).group_by(Case.subject_ref))
    return dict(rows.all())


def status_counts(session: Session) -> dict[str, Any]:
    """Aggregate figures for the panel: cases per status, and outcomes of flagged and control cases.

    An outcome awaiting confirmation (:func:`confirm`) is not counted yet, as the export does not
    count it; ``awaiting_confirmation`` says how many there are.
    """
    statuses = dict(session.execute(select(Case.status, func.count()).group_by(Case.status)).all())
    outcomes = session.execute(
        select(Case.control, Case.outcome, func.count()).where(Case.status == CLOSED, ~Case.awaiting_confirmation)
        .group_by(Case.control, Case.outcome)).all()
    awaiting = session.scalar(select(func.count()).select_from(Case).where(Case.awaiting_confirmation))
    by_sample = {"flagged": dict.fromkeys(OUTCOMES, 0), "control": dict.fromkeys(OUTCOMES, 0)}
    for control, outcome, count in outcomes:
        by_sample["control" if control else "flagged"][outcome] = count
    runs = session.execute(select(Run.run_id, Run.as_of, Run.model_version, Run.subjects_scored,
                                  Run.work_list_size, Run.control_size)
                           .order_by(Run.as_of.desc(), Run.imported_at.desc())).all()
    return {"statuses": {status: statuses.get(status, 0) for status in STATUSES},
            "outcomes": by_sample, "awaiting_confirmation": int(awaiting or 0), "runs": runs}


# ------------------------------------------------------------------------------------------ outcomes

OUTCOME_COLUMNS = ("subject_ref", "outcome", "closed_on", "typology", "control")
"""The data contract's ``investigation_outcomes`` table."""


def closed_outcomes(session: Session) -> list[dict[str, Any]]:
    """The latest closed case of each subject with a contract outcome, as contract rows.

    ``typology`` is the one recorded at closing, empty when none was (outcome ``no_issue``). A
    closing awaiting confirmation (:func:`confirm`) does not count yet.
    """
    latest = (select(Case.subject_ref, func.max(Case.id).label("case_id"))
              .where(Case.status == CLOSED, Case.outcome.in_(CONTRACT_OUTCOMES), Case.purged_on.is_(None),
                     ~Case.awaiting_confirmation)
              .group_by(Case.subject_ref).subquery())
    rows = session.execute(
        select(Case.subject_ref, Case.outcome, Case.closed_on, Case.typology, Case.control)
        .join(latest, latest.c.case_id == Case.id).order_by(Case.closed_on, Case.subject_ref))
    return [{"subject_ref": ref, "outcome": outcome, "closed_on": closed_on.isoformat(), "typology": typology or "",
             "control": "true" if control else "false"} for ref, outcome, closed_on, typology, control in rows]


# ---------------------------------------------------------------------------------------- retention

PURGED_TEXT = "[purged]"
PURGE_BATCH = 1_000
"""Cases purged per statement: SQLite bounds the parameters of one statement."""


def purge_before(url: str, cutoff: dt.datetime) -> dict[str, int]:
    """Remove what identifies the subject of every case closed before ``cutoff``.

    Open cases are kept whole, whatever their age. A purged case keeps its pseudonym, type,
    outcome, dates, control flag and score history, so counts and outcome rates stay whole;
    its subject reference becomes its pseudonym, and its reasons, related subjects, closing
    note, escalation reason, the records and explanation its page showed, the terms a search found it by, and the
    text caseworkers wrote in its events (:data:`WRITTEN_FIELDS`) are removed. This is the one change made to
    events after they are written: retention outranks keeping the old text. Purged cases are no longer exported as outcomes.

    Parameters
    ----------
    url : str
        The case store.
    cutoff : datetime
        Cases closed on an earlier day are purged.

    Returns
    -------
    dict
        ``cases``: how many cases this call purged (a case is purged once).
    """
    engine = open_store(url)
    with Session(engine) as session, session.begin():
        ids = session.scalars(select(Case.id).where(
            Case.status == CLOSED, Case.closed_on < cutoff.date(), Case.purged_on.is_(None))).all()
        for start in range(0, len(ids), PURGE_BATCH):
            batch = ids[start:start + PURGE_BATCH]
            session.execute(update(Case).where(Case.id.in_(batch)).values(
                subject_ref=Case.pseudonym, reasons="", related="", closing_note=None, escalation_reason=None,
                purged_on=now().date()))
            session.execute(update(CaseDetail).where(CaseDetail.case_id.in_(batch)).values(
                explanation="{}", records="{}"))
            session.execute(delete(CaseSearchTerm).where(CaseSearchTerm.case_id.in_(batch)))
            for column in (Event.old_value, Event.new_value):
                session.execute(update(Event).where(
                    Event.case_id.in_(batch), Event.field.in_(WRITTEN_FIELDS),
                    column.is_not(None))
                    .values({column.key: PURGED_TEXT}))
    return {"cases": len(ids)}
