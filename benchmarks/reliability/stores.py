"""The case stores the benchmark writes: fresh PostgreSQL databases and SQLite files, and what they hold."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
STORES = ("postgresql", "sqlite")


def create_database(purpose: str) -> str:
    """A fresh PostgreSQL database ``cf_<purpose>_<hex>``; returns its name."""
    import psycopg

    name = f"cf_{purpose}_{secrets.token_hex(5)}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def fresh_store(store: str, purpose: str, directory: Path) -> Iterator[tuple[str, str]]:
    """An empty store of kind ``store`` (one of :data:`STORES`): ``(url, database)``, ``database`` empty
    for SQLite (a file in ``directory``). A PostgreSQL database is dropped when the block ends."""
    if store == "sqlite":
        yield f"sqlite:///{directory / f'{purpose}_{secrets.token_hex(4)}.db'}", ""
        return
    database = create_database(purpose)
    try:
        yield POSTGRES_URL.format(database=database), database
    finally:
        drop_database(database)


def store_rows(url: str) -> dict[str, int]:
    """Rows per table an import writes, and the cases that share a subject and a run (duplicates)."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from casework.store import Case, CaseDetail, CaseScore, Event, Run, open_store

    engine = open_store(url)
    try:
        with Session(engine) as session:
            counts = {model.__tablename__: session.scalar(select(func.count()).select_from(model))
                      for model in (Run, Case, CaseDetail, CaseScore, Event)}
            distinct = session.scalar(select(func.count(func.distinct(Case.subject_ref))))
    finally:
        engine.dispose()
    counts["duplicate cases"] = counts["cases"] - distinct
    return counts
