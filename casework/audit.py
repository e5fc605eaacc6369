"""The access log: every case viewed, changed or exported, and every login, in a hash chain.

Entry ``n`` carries the hash of entry ``n - 1`` and its own hash over that and its fields, so an
entry edited, deleted or moved breaks the chain from that entry on. A one-row head keeps the number
of entries and the last hash: appending updates it first (which makes writers take turns, so the
chain never forks) and a deleted tail shows against it. :func:`verify` walks the chain and names
the first entry that is not as it was written.

An administrator reads the log through :class:`LogFilter` (account, action, outcome, dates, words)
and exports what a filter keeps as CSV (:func:`filtered_entries`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Integer, String, Text, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.store import Base, CaseworkError, now

GENESIS_HASH = "0" * 64


class AccessLogTamperedError(CaseworkError):
    """The access log's hash chain does not hold; the message names the first bad entry."""


class AccessEntry(Base):
    __tablename__ = "access_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[str] = mapped_column(String(32))
    """ISO 8601 UTC, kept as text so that the hashed value is exactly the stored one."""
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AccessHead(Base):
    __tablename__ = "access_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    entries: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


def entry_hash(prev_hash: str, seq: int, at: str, actor: str, action: str, target: str,
               detail: str) -> str:
    """SHA-256 of the previous hash and the entry's fields (canonical JSON)."""
    payload = json.dumps([prev_hash, seq, at, actor, action, target, detail], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def record(session: Session, actor: str, action: str, target: str = "", detail: str = "") -> AccessEntry:
    """Append one entry in the caller's transaction (it commits or rolls back with the change)."""
    seq = session.execute(
        update(AccessHead).where(AccessHead.id == 1).values(entries=AccessHead.entries + 1)
        .returning(AccessHead.entries).execution_options(synchronize_session=False)
    ).scalar_one()
    prev_hash = session.execute(select(AccessHead.hash).where(AccessHead.id == 1)).scalar_one()
    at = now().isoformat(timespec="microseconds")
    digest = entry_hash(prev_hash, seq, at, actor, action, target, detail)
    entry = AccessEntry(seq=seq, at=at, actor=actor, action=action, target=target, detail=detail,
                        prev_hash=prev_hash, hash=digest)
    session.add(entry)
    session.execute(update(AccessHead).where(AccessHead.id == 1).values(hash=digest)
                    .execution_options(synchronize_session=False))
    session.flush()
    return entry


@dataclass(frozen=True)
class Verification:
    """The answer of :func:`verify`: entries checked and the first problem, if any."""

    entries: int
    problem: str | None

    @property
    def intact(self) -> bool:
        return self.problem is None


def verify(session: Session, batch_size: int = 10_000) -> Verification:
    """Walk the chain in order and name the first entry edited, deleted or reordered."""
    prev_hash, expected, checked = GENESIS_HASH, 1, 0
    rows = session.execute(select(AccessEntry).order_by(AccessEntry.seq)
                           .execution_options(yield_per=batch_size)).scalars()
    for entry in rows:
        if entry.seq != expected:
            return Verification(checked, f"entry {expected} is missing (deleted); the chain resumes at "
                                         f"entry {entry.seq}")
        if entry.prev_hash != prev_hash:
            return Verification(checked, f"entry {entry.seq} does not follow entry {entry.seq - 1} "
                                         "(an entry before it was edited, deleted or reordered)")
        digest = entry_hash(entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action,
                            entry.target, entry.detail)
        if digest != entry.hash:
            return Verification(checked, f"entry {entry.seq} ({entry.at} {entry.actor} {entry.action} "
                                         f"{entry.target}) was edited")
        prev_hash, expected, checked = entry.hash, expected + 1, checked + 1
    head = session.get(AccessHead, 1)
    if head.entries != checked or head.hash != prev_hash:
        return Verification(checked, f"entries {checked + 1} to {head.entries} are missing (deleted "
                                     f"from the end of the log)")
    return Verification(checked, None)


def recent_entries(session: Session, limit: int = 200) -> list[AccessEntry]:
    """The latest entries, newest first."""
    return list(session.scalars(select(AccessEntry).order_by(AccessEntry.seq.desc()).limit(limit)))


REFUSED = "refused"
"""An action refused is logged as ``"<action> refused"``; a request refused before any action, as ``"refused"``."""
OUTCOMES = ("done", REFUSED)
EXPORT_COLUMNS = ("seq", "at", "actor", "action", "target", "detail", "hash")


def _refused(action: Any) -> Any:
    return or_(action == REFUSED, action.like(f"% {REFUSED}"))


@dataclass(frozen=True)
class LogFilter:
    """What an administrator looks for in the access log; an empty field keeps every entry.

    ``action`` keeps the action whether it was done or refused (``login`` keeps ``login refused``
    too); ``outcome`` is ``done`` or ``refused``; ``since`` and ``until`` are UTC days, both kept;
    ``words`` are looked for, ignoring case, in the account, the target and the detail.
    """

    actor: str = ""
    action: str = ""
    outcome: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    words: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in ("", *OUTCOMES):
            raise CaseworkError(f"an outcome is one of {', '.join(OUTCOMES)}, not {self.outcome!r}")
        if self.since and self.until and self.since > self.until:
            raise CaseworkError(f"the date range ends ({self.until}) before it starts ({self.since})")

    def query(self) -> dict[str, str]:
        """The filter as a page's query (its empty fields left out)."""
        return {field.name: str(getattr(self, field.name)) for field in fields(self) if getattr(self, field.name)}

    def describe(self) -> str:
        return ", ".join(f"{name} {value}" for name, value in self.query().items()) or "every entry"

    def where(self) -> list[Any]:
        conditions = []
        if self.actor:
            conditions.append(AccessEntry.actor == self.actor)
        if self.action:
            conditions.append(AccessEntry.action.in_((self.action, f"{self.action} {REFUSED}")))
        if self.outcome:
            refused = _refused(AccessEntry.action)
            conditions.append(refused if self.outcome == REFUSED else ~refused)
        # ``at`` is ISO 8601 text: ordered as text as it is in time
        if self.since:
            conditions.append(AccessEntry.at >= self.since.isoformat())
        if self.until:
            conditions.append(AccessEntry.at < (self.until + dt.timedelta(days=1)).isoformat())
        if self.words.strip():
            words = self.words.strip()
            conditions.append(or_(*(column.icontains(words, autoescape=True)
                                    for column in (AccessEntry.actor, AccessEntry.target, AccessEntry.detail))))
        return conditions


def find_entries(session: Session, log_filter: LogFilter, page: int = 1,
                 page_size: int = 200) -> tuple[list[AccessEntry], int]:
    """One page of the entries ``log_filter`` keeps, newest first, and how many it keeps in all."""
    conditions = log_filter.where()
    total = session.scalar(select(func.count()).select_from(AccessEntry).where(*conditions))
    entries = session.scalars(select(AccessEntry).where(*conditions).order_by(AccessEntry.seq.desc())
                              .offset((max(page, 1) - 1) * page_size).limit(page_size))
    return list(entries), int(total or 0)


def filtered_entries(session: Session, log_filter: LogFilter, batch_size: int = 10_000) -> Iterator[dict[str, Any]]:
    """Every entry ``log_filter`` keeps, oldest first, as rows of :data:`EXPORT_COLUMNS`."""
    rows = session.execute(select(AccessEntry).where(*log_filter.where()).order_by(AccessEntry.seq)
                           .execution_options(yield_per=batch_size)).scalars()
    for entry in rows:
        yield {column: getattr(entry, column) for column in EXPORT_COLUMNS}


def log_choices(session: Session) -> dict[str, list[str]]:
    """The accounts and actions (refused ones under the action's own name) found in the log."""
    actions = {action.removesuffix(f" {REFUSED}") for action in session.scalars(select(AccessEntry.action).distinct())}
    return {"actor": sorted(session.scalars(select(AccessEntry.actor).distinct())), "action": sorted(actions)}
