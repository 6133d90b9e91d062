"""Shared fixtures: real databases (SQLite file and PostgreSQL), never mocks.

Tests that take the `db_url` (or `engine`, `session`) fixture run once per database backend.
Backends come from MATCHMAKING_TEST_DATABASES (default "sqlite,postgresql"). PostgreSQL is at
MATCHMAKING_TEST_POSTGRES_URL (default the local server with trust auth); a fresh database is
created for the test run and dropped after it. When PostgreSQL cannot be reached, its tests are
skipped on a developer machine and fail in CI (CI=true), so CI can never pass without it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

os.environ.setdefault("MATCHMAKING_ENVIRONMENT", "test")

POSTGRES_ADMIN_URL = os.environ.get(
    "MATCHMAKING_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = [
    b.strip() for b in os.environ.get("MATCHMAKING_TEST_DATABASES", "sqlite,postgresql").split(",")
]
REPO = Path(__file__).resolve().parent.parent


def _postgres_reachable() -> bool:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def upgrade_to_head(url: str) -> None:
    """Create the schema the way production does: Alembic migrations to head."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(REPO / "alembic.ini"))
    config.set_main_option("script_location", str(REPO / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test run (dropped afterwards)."""
    if not _postgres_reachable():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} (required in CI)")
        pytest.skip("PostgreSQL is not reachable")
    name = f"mm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    upgrade_to_head(url)
    yield url
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade_to_head(f"sqlite:///{path}")
    return path


def _clean_postgres(url: str) -> None:
    from matchmaking.platform.models import Base

    engine = create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty, migrated database; each test gets its own clean state."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        path.write_bytes(template.read_bytes())
        yield f"sqlite:///{path}"
    elif request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_database_url")
        _clean_postgres(url)
        yield url
    else:
        raise ValueError(f"unknown test database backend {request.param!r}")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    from matchmaking.platform.db import make_engine

    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as s:
        yield s
