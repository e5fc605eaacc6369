"""The access log: every case viewed, changed or exported, and every login, in a hash chain.

Entry ``n`` carries the hash of entry ``n - 1`` and its own hash over that and its fields, so an
entry edited, deleted or moved breaks the chain from that entry on. A one-row head keeps the number
of entries and the last hash: appending updates it first (which makes writers take turns, so the
chain never forks) and a deleted tail shows against it. :func:`verify` walks the chain and names
the first entry that is not as it was written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import Integer, String, Text, select, update
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
