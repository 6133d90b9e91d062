"""Stopping the API (SIGTERM) in the middle of an in-process solve puts the job back in the
queue with nothing half-written, and the next start runs it to the end."""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from matchmaking.bundle.schemas import Bundle
from matchmaking.bundle.store import import_bundle
from matchmaking.organising import organisers as organiser_service
from matchmaking.platform.db import make_engine
from matchmaking.platform.models import JobStatus, ScheduleVersion
from tests.processes import ApiServer, start_solve, wait_finished
from tests.production.events import busy_event_bundle

pytestmark = [pytest.mark.slow]


@pytest.fixture
def event(db_url: str) -> Iterator[tuple[str, dict[str, str], sessionmaker[Any]]]:
    engine = make_engine(db_url)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as session:
        organiser, _, secret = organiser_service.create_organiser(
            session, f"ops-{uuid.uuid4().hex[:6]}@example.org", "Ops"
        )
        bundle = Bundle.model_validate(busy_event_bundle("shutdown-test"))
        import_bundle(session, bundle, owner=organiser)
        session.commit()
    yield "shutdown-test", {"Authorization": f"Bearer {secret}"}, sessions
    engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sigterm_mid_solve_requeues_the_job_and_the_next_start_finishes_it(
    db_url: str, event: tuple[str, dict[str, str], sessionmaker[Any]], tmp_path: Path
) -> None:
    slug, owner, sessions = event
    log = tmp_path / "api.log"
    api = ApiServer(db_url, log)
    job = start_solve(api, slug, owner, 6, sessions)
    # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit status tells why it ended.
    assert api.stop() in (0, -signal.SIGTERM)

    interrupted = job()
    assert interrupted.status == JobStatus.queued  # back in the queue, not left running
    assert interrupted.attempts == 1
    with sessions() as session:
        assert session.scalars(select(ScheduleVersion)).all() == []  # nothing half-written

    api = ApiServer(db_url, log)
    try:
        finished = wait_finished(job, "the restarted API to finish the job", 60, log)
    finally:
        api.stop()
    assert finished.status == JobStatus.succeeded, finished.error
    assert finished.attempts == 2
    with sessions() as session:
        versions = session.scalars(select(ScheduleVersion)).all()
    assert [v.id for v in versions] == [finished.version_id]
