"""Solve jobs: one version per job, progress and cancellation through the job row, orphaned
jobs run again, and the snapshot's staleness is reported."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

import solver
from matchmaking.planning.jobs import (
    InProcessRunner,
    JobError,
    create_solve_job,
    request_cancel,
    requeue_orphaned_jobs,
    run_solve_job,
)
from matchmaking.planning.publishing import publish_version
from matchmaking.planning.scheduling import goal_order
from matchmaking.planning.versions import version_staleness
from matchmaking.platform.models import Event, JobStatus, ScheduleVersion, SolveJob, utcnow
from solver.problem import Problem, Solution, SolveParameters
from tests.schedule_factory import add_wish, make_event

REAL_SOLVE = solver.solve


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@pytest.fixture
def event(session: Session) -> Event:
    event = make_event(session, participants=4, slots=3, tables=2)
    add_wish(session, event, "w1", "p1", "p2", priority=1)
    add_wish(session, event, "w2", "p3", "p4")
    add_wish(session, event, "w3", "p1", "p3", priority=3)
    session.commit()
    return event


def _job(session: Session, event: Event, **options: Any) -> SolveJob:
    job = create_solve_job(session, event, time_limit_seconds=10, workers=1, **options)
    session.commit()
    return job


def _reload(session: Session, job: SolveJob) -> SolveJob:
    session.expire_all()
    return session.get_one(SolveJob, job.id)


def _versions(session: Session, event: Event) -> int:
    query = select(func.count()).where(ScheduleVersion.event_id == event.id)
    return session.scalar(query) or 0


@pytest.fixture
def paused_solve(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """The real solver, held at its start until the test calls `release()` (so a test can act
    while a solve is under way)."""
    started, go = threading.Event(), threading.Event()

    def solve(problem: Problem, params: SolveParameters) -> Solution:
        started.set()
        go.wait(30)
        return REAL_SOLVE(problem, params)

    monkeypatch.setattr(solver, "solve", solve)

    def release() -> None:
        go.set()

    release.started = started  # type: ignore[attr-defined]
    yield release
    go.set()


def test_a_job_writes_its_version_and_its_success_together(
    session: Session, event: Event, factory: sessionmaker[Session]
) -> None:
    job = _job(session, event)

    run_solve_job(job.id, session_factory=factory)

    job = _reload(session, job)
    assert job.status == JobStatus.succeeded
    assert job.attempts == 1
    version = session.get_one(ScheduleVersion, job.version_id)
    assert version.status == "optimal"
    assert {w.key for m in version.meetings for w in m.wishes} == {"w1", "w2", "w3"}
    assert version.parameters["job"] == job.id
    assert job.finished_at is not None
    assert job.progress_elapsed is not None
    assert job.progress_history, "the solver's progress reaches the job row"


def test_a_finished_job_is_not_run_again(
    session: Session, event: Event, factory: sessionmaker[Session]
) -> None:
    job = _job(session, event)
    run_solve_job(job.id, session_factory=factory)
    run_solve_job(job.id, session_factory=factory)

    assert _versions(session, event) == 1
    assert _reload(session, job).attempts == 1


def test_a_wish_added_during_the_solve_is_reported_as_not_included(
    session: Session, event: Event, factory: sessionmaker[Session], paused_solve: Any
) -> None:
    job = _job(session, event)
    runner = InProcessRunner(factory, threads=1)
    runner.submit(job.id)
    assert paused_solve.started.wait(30)

    add_wish(session, event, "w4", "p2", "p4")
    session.commit()
    paused_solve()
    runner.wait(job.id, timeout=60)
    runner.shutdown()

    version = session.get_one(ScheduleVersion, _reload(session, job).version_id)
    staleness = version_staleness(session, version)
    assert staleness.stale
    assert [(c.kind, c.key) for c in staleness.changes] == [("wish_added", "w4")]


def test_cancelling_a_running_job_stops_the_solve_and_keeps_what_it_found(
    session: Session, event: Event, factory: sessionmaker[Session], paused_solve: Any
) -> None:
    job = _job(session, event)
    runner = InProcessRunner(factory, threads=1, heartbeat_seconds=0.1)
    runner.submit(job.id)
    assert paused_solve.started.wait(30)

    assert request_cancel(session, _reload(session, job))
    session.commit()
    # The job's monitor turns the row's flag into the solver's cancel event.
    threading.Event().wait(0.5)
    paused_solve()
    runner.wait(job.id, timeout=60)
    runner.shutdown()

    job = _reload(session, job)
    assert job.status == JobStatus.cancelled
    assert job.finished_at is not None


def test_cancelling_a_queued_job_means_it_never_runs(
    session: Session, event: Event, factory: sessionmaker[Session]
) -> None:
    job = _job(session, event)
    request_cancel(session, job)
    session.commit()

    run_solve_job(job.id, session_factory=factory)

    assert _reload(session, job).status == JobStatus.cancelled
    assert _versions(session, event) == 0


def test_a_solver_error_fails_the_job_with_its_message_and_no_version(
    session: Session, event: Event, factory: sessionmaker[Session], monkeypatch: Any
) -> None:
    def broken(problem: Problem, params: SolveParameters) -> Solution:
        raise RuntimeError("invalid CP-SAT model")

    monkeypatch.setattr(solver, "solve", broken)
    job = _job(session, event)

    run_solve_job(job.id, session_factory=factory)

    job = _reload(session, job)
    assert job.status == JobStatus.failed
    assert "invalid CP-SAT model" in job.error
    assert _versions(session, event) == 0


def test_a_run_whose_job_was_taken_away_writes_nothing(
    session: Session, event: Event, factory: sessionmaker[Session], paused_solve: Any
) -> None:
    job = _job(session, event)
    runner = InProcessRunner(factory, threads=1, heartbeat_seconds=0.1)
    runner.submit(job.id)
    assert paused_solve.started.wait(30)

    # The worker looked dead to a reaper, which queued the job again for someone else.
    requeue_orphaned_jobs(factory, heartbeat_timeout_seconds=None, max_attempts=3)
    threading.Event().wait(0.5)
    paused_solve()
    runner.wait(job.id, timeout=60)
    runner.shutdown()

    assert _reload(session, job).status == JobStatus.queued
    assert _versions(session, event) == 0


def test_on_start_the_in_process_runner_runs_orphaned_and_queued_jobs_again(
    session: Session, event: Event, factory: sessionmaker[Session]
) -> None:
    orphan = _job(session, event)
    orphan.status, orphan.worker, orphan.attempts = JobStatus.running, "dead-host:1", 1
    orphan.started_at = orphan.heartbeat_at = utcnow()
    # One active solve per event: the worn-out job belongs to another event.
    other = make_event(session, slug="eu-taiwan-2025", participants=2, slots=2, tables=1)
    add_wish(session, other, "w1", "p1", "p2")
    session.commit()
    worn_out = _job(session, other)
    worn_out.status, worn_out.attempts = JobStatus.running, 3
    session.commit()

    runner = InProcessRunner(factory, threads=1, max_attempts=3)
    recovery = runner.start()
    runner.wait(orphan.id, timeout=60)
    runner.shutdown()

    assert recovery.requeued == [orphan.id]
    assert recovery.failed == [worn_out.id]
    orphan, worn_out = _reload(session, orphan), _reload(session, worn_out)
    assert orphan.status == JobStatus.succeeded
    assert orphan.attempts == 2
    assert worn_out.status == JobStatus.failed
    assert "3 times" in worn_out.error


def test_a_job_with_a_fresh_heartbeat_is_not_taken_as_orphaned(
    session: Session, event: Event, factory: sessionmaker[Session]
) -> None:
    job = _job(session, event)
    job.status, job.heartbeat_at, job.attempts = JobStatus.running, utcnow(), 1
    session.commit()

    recovery = requeue_orphaned_jobs(factory, heartbeat_timeout_seconds=60, max_attempts=3)

    assert recovery.requeued == []
    assert _reload(session, job).status == JobStatus.running


def test_shutting_down_without_waiting_queues_the_running_job_again(
    session: Session, event: Event, factory: sessionmaker[Session], paused_solve: Any
) -> None:
    job = _job(session, event)
    runner = InProcessRunner(factory, threads=1, heartbeat_seconds=0.1)
    runner.submit(job.id)
    assert paused_solve.started.wait(30)

    stopper = threading.Thread(target=runner.shutdown, kwargs={"wait": False})
    stopper.start()
    threading.Event().wait(0.3)
    paused_solve()
    stopper.join(60)

    assert _reload(session, job).status == JobStatus.queued
    assert _versions(session, event) == 0


def test_replanning_starts_from_the_published_version_and_by_default_when_one_exists(
    session: Session, event: Event, factory: sessionmaker[Session]
) -> None:
    with pytest.raises(JobError, match="replan: the event has no published version"):
        create_solve_job(session, event, replan=True)
    first = _job(session, event)
    run_solve_job(first.id, session_factory=factory)
    published = session.get_one(ScheduleVersion, _reload(session, first).version_id)
    publish_version(session, published)
    session.commit()

    again = _job(session, event)
    assert again.parameters["replan"] is True
    run_solve_job(again.id, session_factory=factory)

    version = session.get_one(ScheduleVersion, _reload(session, again).version_id)
    assert version.based_on_id == published.id
    assert version.objective.get("moved") == 0


def test_an_unknown_goal_in_the_objective_order_is_refused_by_name(
    session: Session, event: Event
) -> None:
    with pytest.raises(JobError, match="objective: unknown goal 'speed'"):
        create_solve_job(session, event, objective=["required", "speed"])


def test_a_new_personal_link_does_not_make_a_version_stale_but_a_new_availability_does(
    session: Session, event: Event, factory: sessionmaker[Session]
) -> None:
    job = _job(session, event)
    run_solve_job(job.id, session_factory=factory)
    version = session.get_one(ScheduleVersion, _reload(session, job).version_id)
    person = next(p for p in event.participants if p.key == "p1")

    person.access_token_hash = "0" * 64
    session.commit()
    assert not version_staleness(session, version).stale

    person.unavailable_slots = [event.slots[0]]
    session.commit()
    changes = version_staleness(session, version).changes
    assert [(c.kind, c.key) for c in changes] == [("participant_changed", "p1")]


def test_a_replan_keeps_published_meetings_before_saving_breaks_whatever_the_order() -> None:
    promise = ("required", "scheduled", "stability", "fairness", "breaks")
    assert goal_order({}, replan=True) == promise
    # The demo's own order puts stability last: a re-plan still ranks it after scheduled.
    demo = {"objective": ["required", "scheduled", "fairness", "breaks", "stability"]}
    assert goal_order(demo, replan=True) == promise
    assert goal_order({"objective": ["required", "breaks"]}, replan=True) == (
        "required",
        "stability",
        "breaks",
    )
    assert goal_order({}, replan=True, objective=["breaks", "scheduled"]) == (
        "scheduled",
        "stability",
        "breaks",
    )
    # Not a re-plan: the order as given.
    assert goal_order(demo, replan=False) == tuple(demo["objective"])
    # The organiser's explicit choice: the order as it is, stability last when not named.
    assert goal_order(demo, replan=True, move_published=True) == tuple(demo["objective"])
    assert goal_order({"objective": ["breaks"]}, replan=True, move_published=True) == (
        "breaks",
        "stability",
    )
