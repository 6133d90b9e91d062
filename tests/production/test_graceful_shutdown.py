"""Stopping the API (SIGTERM) in the middle of an in-process solve puts the job back in the
queue with nothing half-written, and the next start runs it to the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from matchmaking import organisers as organiser_service
from matchmaking.bundle.schemas import Bundle
from matchmaking.bundle_store import import_bundle
from matchmaking.db import make_engine
from matchmaking.models import JobStatus, ScheduleVersion, SolveJob
from tests.production.events import busy_event_bundle

pytestmark = [pytest.mark.slow]

MATCHMAKING = str(Path(sys.executable).with_name("matchmaking"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Api:
    """`matchmaking serve` as a real process (without a broker: the in-process runner)."""

    def __init__(self, db_url: str, log: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "MATCHMAKING_DATABASE_URL": db_url, "MATCHMAKING_ENVIRONMENT": "test"}
        env.pop("MATCHMAKING_BROKER_URL", None)
        self.process = subprocess.Popen(
            [MATCHMAKING, "serve", "--port", str(self.port)],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.log = log
        _wait(lambda: self._ready(), "the API to start", 60, log)

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def _wait(condition: Any, what: str, timeout: float, log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}\n{log.read_text(errors='replace')[-3000:]}")


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
    api = Api(db_url, log)
    started = httpx.post(
        f"{api.base}/api/v1/events/{slug}/solves",
        json={"time_limit_seconds": 6},
        headers=owner,
        timeout=10,
    )
    assert started.status_code == 202, started.text
    job_id = started.json()["id"]

    def job() -> SolveJob:
        with sessions() as session:
            return session.get_one(SolveJob, job_id)

    _wait(lambda: job().status == JobStatus.running, "the solve to start", 30, log)
    # uvicorn shuts down cleanly, then re-raises SIGTERM so the exit status tells why it ended.
    assert api.stop() in (0, -signal.SIGTERM)

    interrupted = job()
    assert interrupted.status == JobStatus.queued  # back in the queue, not left running
    assert interrupted.attempts == 1
    with sessions() as session:
        assert session.scalars(select(ScheduleVersion)).all() == []  # nothing half-written

    api = Api(db_url, log)
    try:
        finished = _wait(
            lambda: (j := job()).status in (JobStatus.succeeded, JobStatus.failed) and j,
            "the restarted API to finish the job",
            60,
            log,
        )
    finally:
        api.stop()
    assert finished.status == JobStatus.succeeded, finished.error
    assert finished.attempts == 2
    with sessions() as session:
        versions = session.scalars(select(ScheduleVersion)).all()
    assert [v.id for v in versions] == [finished.version_id]
