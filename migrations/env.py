"""Alembic environment: runs migrations for the ORM in matchmaking.platform.models.

The database URL comes from the `sqlalchemy.url` option when a caller sets it (tests do),
otherwise from the project's settings (MATCHMAKING_DATABASE_URL). Batch mode is on so that
ALTERs work on SQLite.
"""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool

from matchmaking.platform.db import make_engine
from matchmaking.platform.models import Base
from matchmaking.platform.settings import get_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    # On SQLite a batch ALTER recreates the table: the old one is dropped, and with foreign
    # keys on that drop would cascade to every referencing row (all wishes and meetings of
    # a recreated participants table). Foreign keys go off for the migration (a PRAGMA that
    # only works outside a transaction, hence on the driver's connection before it starts),
    # are checked after it, and go on again.
    raw = None
    if connection.dialect.name == "sqlite" and not connection.in_transaction():
        raw = connection.connection.driver_connection
        raw.execute("PRAGMA foreign_keys=OFF")
    try:
        with context.begin_transaction():
            context.run_migrations()
            if raw is not None:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
    finally:
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
