"""Migration `0002`: an event with several active solves keeps one, so that the
one-active-solve index can be built (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from matchmaking.platform.models import Event, JobStatus, SolveJob
from tests.conftest import REPO


def test_the_migration_keeps_the_running_solve_and_cancels_the_other_active_ones(
    db_url: str,
) -> None:
    config = Config(str(REPO / "alembic.ini"))
    config.set_main_option("script_location", str(REPO / "migrations"))
    config.set_main_option("sqlalchemy.url", db_url)
    command.downgrade(config, "0001")
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            event = Event(slug="busy", name="Busy", timezone="UTC")
            quiet = Event(slug="quiet", name="Quiet", timezone="UTC")
            statuses = [JobStatus.queued, JobStatus.running, JobStatus.queued, JobStatus.failed]
            jobs = {
                status_and_n: SolveJob(id=str(uuid.uuid4()), event=event, status=status_and_n[0])
                for status_and_n in zip(statuses, range(4), strict=True)
            }
            session.add_all(jobs.values())
            session.add(SolveJob(id=str(uuid.uuid4()), event=quiet, status=JobStatus.queued))
            session.commit()
            running = jobs[(JobStatus.running, 1)].id
        engine.dispose()
        command.upgrade(config, "head")
        with Session(engine) as session:
            rows = session.execute(
                select(Event.slug, SolveJob.id, SolveJob.status).join(SolveJob.event)
            ).all()
        active = {
            (slug, job_id) for slug, job_id, status in rows if status in ("queued", "running")
        }
        assert active == {("busy", running)} | {(s, j) for s, j, _ in rows if s == "quiet"}
        statuses_now = sorted(str(status) for slug, _, status in rows if slug == "busy")
        assert statuses_now == ["cancelled", "cancelled", "failed", "running"]
    finally:
        engine.dispose()
