"""The engine factory turns on what the project relies on in SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from matchmaking.platform.db import make_engine


def test_sqlite_connections_use_wal_and_enforce_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_sqlite_refuses_a_row_pointing_at_a_missing_parent(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fk.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        conn.execute(
            text(
                "CREATE TABLE child "
                "(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id))"
            )
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("INSERT INTO child (id, parent_id) VALUES (1, 42)"))
    engine.dispose()


def test_a_failed_transaction_leaves_nothing_behind(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'tx.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY)"))

    def insert_then_fail() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO note (id) VALUES (1)"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        insert_then_fail()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM note")).scalar() == 0
    engine.dispose()
