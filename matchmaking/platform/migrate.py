"""Bringing a database to the schema of this code: Alembic's `upgrade head`, from anywhere.

The Alembic configuration is built in code, so it works from any working directory and
without `alembic.ini`: the revisions are the project's `migrations/` folder
(`matchmaking.platform.resources`).
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import make_url

from matchmaking.platform.db import make_engine
from matchmaking.platform.resources import MIGRATIONS


class MigrationsNotFound(RuntimeError):
    """The `migrations/` folder is not beside the package (an incomplete installation)."""


def alembic_config(url: str) -> Config:
    if not (MIGRATIONS / "env.py").is_file():
        raise MigrationsNotFound(
            f"the database migrations are missing: expected them in {MIGRATIONS}; reinstall "
            "the project (pip install . or pip install -e .)"
        )
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    return ",".join(heads)


def current_revision(url: str) -> str | None:
    """The revision the database at `url` is at, None when it has no schema yet."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade_database(url: str) -> str:
    """Migrate the database at `url` to the newest revision; returns that revision."""
    command.upgrade(alembic_config(url), "head")
    return head_revision()


def safe_url(url: str) -> str:
    """The URL for messages, without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is shown as the user wrote it, minus nothing secret
        return "<invalid database URL>"
