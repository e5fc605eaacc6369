"""Real scoring runs and real stores (SQLite, and PostgreSQL on 127.0.0.1:5432) for the casework tests."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from configs.settings import Settings, load_settings
from tests.conftest import FAST_DETECTOR, activated_workspace

PEOPLE = 800
SEED = 5
FIRST_CAPACITY = 200
SECOND_CAPACITY = 240
POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"


@contextlib.contextmanager
def temporary_postgres(purpose: str) -> Iterator[str]:
    """A fresh database ``cf_<purpose>_<hex>`` on the machine's PostgreSQL, dropped afterwards."""
    import psycopg

    name = f"cf_{purpose}_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True)
    except psycopg.OperationalError as error:
        pytest.fail(f"PostgreSQL is not reachable on 127.0.0.1:5432 (trust authentication, database "
                    f"'test'); the case-store tests need it: {error}")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield url
        finally:
            from casework.store import open_store

            open_store(url).dispose()
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty case store on each database the store supports."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cases.db'}"
    else:
        with temporary_postgres("store") as url:
            yield url


def _train_for_scoring(data_dir: Path, workspace: Any, settings: Settings, **train_kwargs: Any) -> None:
    """Train a version, approved and promoted by a panel member other than its trainer, so scoring uses it."""
    from tests.conftest import train_approved

    train_approved(data_dir, workspace, settings, **train_kwargs)


@pytest.fixture(scope="session")
def scored(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> dict[str, Any]:
    """A generated world, scored twice by the real flow with two capacities.

    The first run is imported into its workspace's case store by the flow itself; the second has
    the import turned off, so the tests import it where they choose.
    """
    from pipelines.score import score_flow
    from synthetic import generate_world

    root = tmp_path_factory.mktemp("casework_world")
    generate_world(root / "data", people=PEOPLE, seed=SEED, truth_path=root / "truth.parquet")
    config = root / "config.yaml"
    config.write_text(FAST_DETECTOR, encoding="utf-8")
    settings = load_settings(config)
    quiet = settings.model_copy(update={"case_store": settings.case_store.model_copy(
        update={"import_runs": False})})
    with activated_workspace(root / "workspace", settings) as workspace:
        _train_for_scoring(root / "data", workspace, settings, truth_path=root / "truth.parquet")
        score_flow(root / "data", root / "run1", workspace, settings, capacity=FIRST_CAPACITY)
        score_flow(root / "data", root / "run2", workspace, quiet, capacity=SECOND_CAPACITY)
    return {"root": root, "data": root / "data", "first": root / "run1", "second": root / "run2",
            "workspace": root / "workspace", "settings": settings}


PASSWORD = "correct horse battery"


def add_accounts(engine: Any, roles: dict[str, str]) -> None:
    """One account per name, of its role, all with :data:`PASSWORD`."""
    from sqlalchemy.orm import Session

    from casework.auth import add_user

    with Session(engine) as session, session.begin():
        for name, role in roles.items():
            add_user(session, name, role, PASSWORD)


def case_site(scored: dict[str, Any], directory: Path) -> tuple[Any, Any]:
    """A SQLite store holding the first run, one account per role (named after it) plus ``ivy``, an
    investigator, and the case-review app on it."""
    from sqlalchemy.orm import Session

    from casework import store
    from casework.app import create_app
    from casework.auth import ROLES, add_user
    from casework.imports import import_run

    engine = store.open_store(f"sqlite:///{directory / 'cases.db'}")
    import_run(engine, scored["first"])
    with Session(engine) as session, session.begin():
        for role in ROLES:
            add_user(session, role, role, PASSWORD)
        add_user(session, "ivy", "investigator", PASSWORD)
    return engine, create_app(engine, scored["settings"].case_store)
