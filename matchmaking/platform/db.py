"""The one engine and session factory of a process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Protocol, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from matchmaking.platform.errors import NotFound
from matchmaking.platform.settings import get_settings

#: Execution option of the connections of `read_only_sessionmaker`.
READ_ONLY = "matchmaking_read_only"


class ReadOnlySessionError(RuntimeError):
    """A session made for reading tried to write (a programming error, never user input)."""


def make_engine(url: str, **overrides: Any) -> Engine:
    """An engine with the project's settings: SQLite in WAL mode with foreign keys on."""
    settings = get_settings()
    if url.startswith("sqlite"):
        file_database = ":memory:" not in url and url != "sqlite://"
        if file_database and "poolclass" not in overrides:
            # As many pooled connections as PostgreSQL gets: a connection opened beyond the
            # pool is closed again after its request, and each new one runs the PRAGMAs.
            overrides = {
                "pool_size": settings.db_pool_size,
                "max_overflow": settings.db_max_overflow,
                **overrides,
            }
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **overrides
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy manage transactions (BEGIN) instead of the sqlite3 module.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if file_database:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if conn.get_execution_options().get(READ_ONLY):
                # A reader takes no lock up front: in WAL mode readers run beside each other
                # and beside the one writer, each on its own snapshot.
                conn.exec_driver_sql("BEGIN")
                return
            # BEGIN IMMEDIATE takes the write lock up front, so concurrent writers queue
            # instead of failing with "database is locked" on upgrade from a read lock.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    options: dict[str, Any] = {"pool_pre_ping": True}
    if "poolclass" not in overrides:
        options.update(
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
        )
    options.update(overrides)
    return create_engine(url, **options)


#: The longest a lean read may run on PostgreSQL (milliseconds). It runs on the event loop
#: of an API process, so a statement stuck behind a lock must not stall the process.
LEAN_STATEMENT_TIMEOUT_MS = 2000


def make_lean_engine(engine: Engine) -> Engine:
    """An engine for the one-statement reads of the hot paths
    (`matchmaking.delivery.serving`), which run without an ORM session.

    On PostgreSQL: its own small pool of connections in autocommit mode, so a read is its
    one statement with no BEGIN or ROLLBACK round trips, and without `pool_pre_ping`. A
    connection that died since its last use (server restarted, backend terminated) fails on
    the statement itself; SQLAlchemy then invalidates it together with every connection
    opened before, and `matchmaking.delivery.serving.lean_read` tries once more on a fresh one. A
    statement timeout bounds how long a read can take. Disposed with `engine`.

    On SQLite: a pool of its own as well (an API process runs these reads on its event
    loop, which must never wait for a connection that a request in a worker thread holds),
    whose reads start with a plain BEGIN and so run beside the writer. An in-memory database
    (tests only) exists in one connection, so there `engine` itself is used."""
    settings = get_settings()
    if engine.dialect.name == "sqlite":
        if engine.url.database in (None, "", ":memory:"):
            return engine.execution_options(**{READ_ONLY: True})
        lean = make_engine(engine.url.render_as_string(hide_password=False))
    else:
        lean = create_engine(
            engine.url,
            isolation_level="AUTOCOMMIT",
            pool_pre_ping=False,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            connect_args={
                "connect_timeout": 5,
                # Unacknowledged data on a dead network fails the connection after 5 s
                # instead of the kernel's minutes of retransmissions.
                "tcp_user_timeout": 5000,
                "options": f"-c statement_timeout={LEAN_STATEMENT_TIMEOUT_MS}",
            },
        )

    @event.listens_for(engine, "engine_disposed")
    def _dispose_lean(_engine: Engine) -> None:
        lean.dispose()

    return lean.execution_options(**{READ_ONLY: True})


def read_only_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions for requests that only read. On SQLite their transactions start with a plain
    (deferred) BEGIN instead of BEGIN IMMEDIATE, so they do not queue behind each other or
    behind writers. Such a transaction must never write: a read lock cannot always be upgraded
    while another connection writes ("database is locked"), which is why writers start
    IMMEDIATE. A flush with changes in such a session raises `ReadOnlySessionError`."""
    return sessionmaker(
        bind=engine.execution_options(**{READ_ONLY: True}),
        expire_on_commit=False,
        info={READ_ONLY: True},
    )


@event.listens_for(Session, "before_flush")
def _refuse_writes_when_read_only(session: Session, _context: Any, _instances: Any) -> None:
    if not session.info.get(READ_ONLY):
        return
    if session.new or session.deleted or any(session.is_modified(row) for row in session.dirty):
        raise ReadOnlySessionError("A read-only session cannot write; use a writing session.")


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = get_sessionmaker()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class _Row(Protocol):
    id: int


Row = TypeVar("Row", bound=_Row)


def lock_again(session: Session, row: Row, gone: str) -> Row:
    """Take `row`'s row lock and read it again from the database (changes committed meanwhile
    by another writer become visible); NotFound saying `gone` when it was deleted meanwhile.

    PostgreSQL: FOR NO KEY UPDATE serialises the writers of the row without blocking inserts
    that merely refer to it. SQLite: BEGIN IMMEDIATE already serialises all writers."""
    locked = session.get(
        type(row), row.id, with_for_update={"key_share": True}, populate_existing=True
    )
    if locked is None:
        raise NotFound(gone)
    return locked
