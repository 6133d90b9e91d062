"""The migration to several calendar links per participant keeps every link and every row.

Revision 0004 moves `participants.calendar_token_hash` into `calendar_links`; on
SQLite dropping the column recreates the participants table, which with foreign keys on
would cascade to the wishes and meetings of every participant (migrations/env.py turns
them off for the migration). Going down and up again must lose nothing, and the link a
participant had keeps working across it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from matchmaking.delivery.calendars import issue_calendar_token, participant_by_calendar_token
from matchmaking.platform.models import CalendarLink, Meeting, Participant, Wish, WishStatus
from matchmaking.platform.security import hash_token
from tests.calendars.builders import add_version, at, build_event
from tests.conftest import REPO


def _alembic(url: str) -> Config:
    config = Config(str(REPO / "alembic.ini"))
    config.set_main_option("script_location", str(REPO / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


@pytest.fixture
def at_head_again(db_url: str) -> Iterator[Config]:
    """The test's database, brought back to head whatever happens (PostgreSQL's is shared)."""
    config = _alembic(db_url)
    try:
        yield config
    finally:
        command.upgrade(config, "head")


def _rows(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        return tuple(  # type: ignore[return-value]
            connection.scalar(text(f"SELECT count(*) FROM {table}"))
            for table in ("participants", "wishes", "meetings")
        )


def test_links_survive_the_migration_down_and_up_with_every_wish_and_meeting(
    engine: Engine, at_head_again: Config
) -> None:
    with Session(engine) as session:
        built = build_event(session)
        p1, p2, p3 = (built.participants[k] for k in ("p1", "p2", "p3"))
        add_version(session, built, [("w1", "s1", "t1", "p1", "p2")], published_at=at(20))
        session.add(
            Wish(event=built.event, key="x1", sender=p1, recipient=p2, status=WishStatus.accepted)
        )
        older, newer = issue_calendar_token(p1), issue_calendar_token(p1)
        only = issue_calendar_token(p3)
        session.commit()
        p1_id = p1.id
    before = _rows(engine)
    assert before[1:] == (1, 1)

    command.downgrade(at_head_again, "0001")
    assert _rows(engine) == before
    with engine.connect() as connection:
        hashes = dict(
            connection.execute(text("SELECT key, calendar_token_hash FROM participants")).all()
        )
    # One link fits the old column: the newest one.
    assert hashes == {
        "p1": hash_token(newer),
        "p2": None,
        "p3": hash_token(only),
        "p4": None,
    }

    command.upgrade(at_head_again, "head")
    assert _rows(engine) == before
    with Session(engine) as session:
        assert participant_by_calendar_token(session, older) is None
        assert session.get_one(Participant, p1_id) is participant_by_calendar_token(session, newer)
        assert participant_by_calendar_token(session, only).key == "p3"  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(CalendarLink)) == 2
        assert session.scalar(select(func.count()).select_from(Meeting)) == 1
