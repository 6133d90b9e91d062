"""Jobs whose worker died are queued again (once, whoever looks), or failed after N tries."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from matchmaking.celery_app import requeue_dead_jobs
from matchmaking.models import Event, JobStatus, SolveJob, utcnow


def _event(session: Session) -> Event:
    event = Event(slug=f"reaper-{uuid.uuid4().hex[:8]}", name="Reaper test", timezone="UTC")
    session.add(event)
    session.flush()
    return event


def _running_job(
    session: Session, event: Event, heartbeat_age: float, attempts: int = 1
) -> SolveJob:
    now = utcnow()
    job = SolveJob(
        id=str(uuid.uuid4()),
        event_id=event.id,
        status=JobStatus.running,
        started_at=now - timedelta(seconds=heartbeat_age + 5),
        heartbeat_at=now - timedelta(seconds=heartbeat_age),
        worker="celery@dead-host",
        attempts=attempts,
    )
    session.add(job)
    return job


def test_running_job_with_stale_heartbeat_is_queued_again_and_live_one_is_left(
    engine: Engine,
) -> None:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        event = _event(session)
        dead = _running_job(session, event, heartbeat_age=120)
        alive = _running_job(session, event, heartbeat_age=2)
        session.commit()

    enqueued: list[str] = []
    requeued = requeue_dead_jobs(factory, enqueued.append, heartbeat_timeout=60, max_attempts=3)

    assert requeued == enqueued == [dead.id]
    with factory() as session:
        assert session.get(SolveJob, dead.id).status is JobStatus.queued  # type: ignore[union-attr]
        assert session.get(SolveJob, dead.id).worker == ""  # type: ignore[union-attr]
        assert session.get(SolveJob, alive.id).status is JobStatus.running  # type: ignore[union-attr]


def test_job_whose_worker_died_max_attempts_times_is_failed_not_queued(engine: Engine) -> None:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        job = _running_job(session, _event(session), heartbeat_age=120, attempts=3)
        session.commit()

    enqueued: list[str] = []
    assert requeue_dead_jobs(factory, enqueued.append, heartbeat_timeout=60, max_attempts=3) == []

    assert enqueued == []
    with factory() as session:
        failed = session.get(SolveJob, job.id)
        assert failed is not None and failed.status is JobStatus.failed
        assert "stopped 3 times" in failed.error
        assert failed.finished_at is not None


def test_reapers_of_several_workers_racing_queue_a_dead_job_exactly_once(engine: Engine) -> None:
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        job = _running_job(session, _event(session), heartbeat_age=300)
        session.commit()

    enqueued: list[str] = []
    lock = threading.Lock()

    def enqueue(job_id: str) -> None:
        with lock:
            enqueued.append(job_id)

    start = threading.Barrier(4)

    def reap() -> None:
        start.wait()
        requeue_dead_jobs(factory, enqueue, heartbeat_timeout=60, max_attempts=3)

    threads = [threading.Thread(target=reap) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert enqueued == [job.id]
