"""Solve jobs: the job function, and the runners that call it.

A solve is a `SolveJob` row. `run_solve_job(job_id, session_factory=...)` is the whole job
and knows nothing of who calls it (the in-process runner here, or Celery workers):

1. claims the job (queued → running, attempts + 1, its worker name, a heartbeat);
2. reads the event's snapshot in one short transaction (re-planning from the published
   version when asked);
3. solves with no transaction open, while a monitor thread writes the heartbeat and the
   latest progress to the job row every `heartbeat_seconds` (short transactions of their
   own) and turns the row's `cancel_requested` into the solver's cancel event;
4. writes the schedule version and the job's success in ONE transaction.

It is idempotent by job id: a finished job is left alone; a run that lost its job (it was
taken as dead and queued again) writes nothing; a crash before step 4 leaves no version, and
the job is run again by whoever finds it orphaned (`requeue_orphaned_jobs`).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from matchmaking.planning.publishing import current_published_version
from matchmaking.planning.rest_of_day import instant
from matchmaking.platform.errors import Conflict
from matchmaking.platform.mail import MailDeliverer
from matchmaking.platform.models import Event, JobStatus, SolveJob, utcnow
from matchmaking.platform.settings import Settings, get_settings
from solver.problem import GOALS, Progress, Solution, SolveParameters

if TYPE_CHECKING:
    from matchmaking.planning.scheduling import Snapshot

log = logging.getLogger(__name__)

FINISHED = frozenset({JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled})
#: Progress history rows kept per job (the first ones and the latest ones are what a chart
#: of the search needs).
MAX_HISTORY = 400

SessionFactory = Callable[[], Session]


class JobError(ValueError):
    """A solve that cannot be started as asked; the message names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class SolveUnderWay(Conflict):
    """A solve of the event is queued or running already: one at a time (409)."""

    def __init__(self, job_id: str | None) -> None:
        super().__init__(
            f"A solve of this event is already under way (job {job_id}); "
            "wait for it or cancel it first."
        )
        self.job_id = job_id


ACTIVE = (JobStatus.queued, JobStatus.running)


def active_job_id(session: Session, event_id: int) -> str | None:
    """The event's queued or running solve, if any."""
    return session.scalars(
        select(SolveJob.id).where(SolveJob.event_id == event_id, SolveJob.status.in_(ACTIVE))
    ).first()


# --- parameters -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobParameters:
    """What a job is asked to do; stored as the job row's `parameters`."""

    time_limit_seconds: float
    workers: int
    #: Start from the published version with the stability goal.
    replan: bool
    #: Goal order for this solve only; None = the event's rules (see `scheduling.goal_order`).
    objective: tuple[str, ...] | None = None
    #: A re-plan may move published meetings for every goal ranked above `stability` in the
    #: order as given (the organiser's explicit choice); False keeps the published promise.
    move_published: bool = False
    #: A re-plan of the rest of the day: the moment (UTC, ISO 8601) before which published
    #: meetings stay as they are; people marked away get no meeting after it.
    frozen_before: str | None = None
    relative_gap: float = 0.0
    deterministic: bool = False
    random_seed: int = 0

    def to_record(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["objective"] = list(self.objective) if self.objective is not None else None
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any], settings: Settings | None = None) -> JobParameters:
        settings = settings or get_settings()
        objective = record.get("objective")
        return cls(
            time_limit_seconds=float(
                record.get("time_limit_seconds") or settings.solve_time_limit_seconds
            ),
            workers=int(record.get("workers") or settings.solve_workers),
            replan=bool(record.get("replan", False)),
            objective=tuple(objective) if objective is not None else None,
            move_published=bool(record.get("move_published", False)),
            frozen_before=record.get("frozen_before") or None,
            relative_gap=float(record.get("relative_gap") or 0.0),
            deterministic=bool(record.get("deterministic", False)),
            random_seed=int(record.get("random_seed") or 0),
        )

    def solve_parameters(self) -> SolveParameters:
        return SolveParameters(
            time_limit_seconds=self.time_limit_seconds,
            workers=self.workers,
            deterministic=self.deterministic,
            random_seed=self.random_seed,
            relative_gap=self.relative_gap,
        )


def check_objective(objective: Sequence[str]) -> tuple[str, ...]:
    unknown = [goal for goal in objective if goal not in GOALS]
    if unknown:
        raise JobError("objective", f"unknown goal {unknown[0]!r}; goals are {', '.join(GOALS)}")
    if len(set(objective)) != len(objective):
        raise JobError("objective", "a goal is listed twice")
    if not objective:
        raise JobError("objective", "list at least one goal")
    return tuple(objective)


# --- creating and cancelling ----------------------------------------------------------------


def create_solve_job(
    session: Session,
    event: Event,
    *,
    time_limit_seconds: float | None = None,
    workers: int | None = None,
    replan: bool | None = None,
    objective: Sequence[str] | None = None,
    relative_gap: float = 0.0,
    deterministic: bool = False,
    move_published: bool = False,
    frozen_before: datetime | None = None,
    requested_by: int | None = None,
    settings: Settings | None = None,
) -> SolveJob:
    """A queued job for `event`. Flushes; the caller commits, then submits it to a runner
    (never before the commit, or a worker might look for a row that is not there yet).

    `replan` defaults to True when the event has a published version. `frozen_before` makes
    it a re-plan of the rest of the day from that moment (see `rest_of_day`).

    One solve of an event at a time: `SolveUnderWay` (a `Conflict`) while another is queued or
    running. The database holds the rule under concurrent starts too: a partial unique index
    (`uq_solve_jobs_one_active_per_event`) refuses a second active job of the event, the
    insert of a concurrent start waiting for the first one's transaction to end.
    """
    settings = settings or get_settings()
    under_way = active_job_id(session, event.id)
    if under_way is not None:
        raise SolveUnderWay(under_way)
    published = current_published_version(session, event.id)
    if replan is None:
        replan = published is not None
    if replan and published is None:
        raise JobError("replan", "the event has no published version to re-plan from")
    if move_published and not replan:
        raise JobError("move_published", "only a re-plan has published meetings to move")
    if frozen_before is not None and not replan:
        raise JobError("frozen_before", "only a re-plan has published meetings to keep")
    parameters = JobParameters(
        time_limit_seconds=time_limit_seconds or settings.solve_time_limit_seconds,
        workers=workers or settings.solve_workers,
        replan=replan,
        objective=check_objective(objective) if objective is not None else None,
        relative_gap=relative_gap,
        deterministic=deterministic,
        move_published=move_published,
        frozen_before=instant(frozen_before).isoformat() if frozen_before is not None else None,
    )
    job = SolveJob(
        id=str(uuid.uuid4()),
        event_id=event.id,
        status=JobStatus.queued,
        parameters=parameters.to_record(),
        requested_by=requested_by,
        attempts=0,
        cancel_requested=False,
        progress_history=[],
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(job)
            session.flush()
    except IntegrityError:
        # Another start committed its job between the check above and this insert.
        under_way = active_job_id(session, event.id)
        if under_way is None:
            raise
        raise SolveUnderWay(under_way) from None
    return job


def request_cancel(session: Session, job: SolveJob) -> bool:
    """Cancel a queued job at once, or ask a running one to stop (it keeps the best schedule
    found so far as a version). Returns False when the job had already finished."""
    if job.status in FINISHED:
        return False
    if job.status == JobStatus.queued:
        job.status = JobStatus.cancelled
        job.finished_at = utcnow()
    job.cancel_requested = True
    session.flush()
    return True


# --- the job function --------------------------------------------------------------------------


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


@dataclass(frozen=True, slots=True)
class _Claim:
    event_id: int
    parameters: JobParameters


def run_solve_job(
    job_id: str,
    *,
    session_factory: SessionFactory,
    worker: str | None = None,
    heartbeat_seconds: float = 1.0,
    stop: threading.Event | None = None,
) -> None:
    """Run one solve job to its end (see the module docstring). Never raises for a failed
    solve: the failure is written to the job row.

    `stop` is the runner shutting down: the solve is interrupted and the job put back in the
    queue for the next start, instead of being finished with a partial result.
    """
    me = worker or default_worker_name()
    claim = _claim(session_factory, job_id, me)
    if claim is None:
        return
    try:
        _run_claimed(session_factory, job_id, me, claim, heartbeat_seconds, stop)
    except Exception as exc:
        log.exception("solve job %s failed", job_id)
        _fail(session_factory, job_id, me, _error_text(exc))


def _run_claimed(
    session_factory: SessionFactory,
    job_id: str,
    me: str,
    claim: _Claim,
    heartbeat_seconds: float,
    stop: threading.Event | None,
) -> None:
    """The job's solve is `scheduling.solve_event`, as the CLI's: the same basis, the same
    goal order; only the end differs (the version is saved with the job's end)."""
    from matchmaking.planning.scheduling import solve_event

    monitor = _JobMonitor(session_factory, job_id, me, heartbeat_seconds, stop)
    params = claim.parameters.solve_parameters()
    params.on_progress = monitor.report
    params.cancel = monitor.cancel

    def finish(snapshot: Snapshot, solution: Solution) -> None:
        monitor.close()  # no heartbeat write may race the last one
        if stop is not None and stop.is_set():
            _requeue(session_factory, job_id, me)
        elif not monitor.lost:
            _finish(session_factory, job_id, me, snapshot, solution, claim.parameters, monitor)

    with monitor:
        solve_event(
            session_factory,
            claim.event_id,
            params,
            replan=claim.parameters.replan,
            objective=claim.parameters.objective,
            move_published=claim.parameters.move_published,
            frozen_before=(
                datetime.fromisoformat(claim.parameters.frozen_before)
                if claim.parameters.frozen_before
                else None
            ),
            finish=finish,
        )


def _claim(session_factory: SessionFactory, job_id: str, me: str) -> _Claim | None:
    with session_factory() as session, session.begin():
        job = _locked_job(session, job_id)
        if job is None:
            log.warning("solve job %s does not exist", job_id)
            return None
        if job.status != JobStatus.queued:
            # Finished, or another worker holds it: running it again would make a second version.
            return None
        now = utcnow()
        if job.cancel_requested:
            job.status, job.finished_at = JobStatus.cancelled, now
            return None
        job.status = JobStatus.running
        job.attempts += 1
        job.worker = me[:200]
        job.started_at = job.heartbeat_at = now
        job.finished_at = None
        job.error = ""
        job.progress_history = []
        return _Claim(job.event_id, JobParameters.from_record(job.parameters))


def _locked_job(session: Session, job_id: str) -> SolveJob | None:
    return session.scalars(
        select(SolveJob)
        .where(SolveJob.id == job_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _still_ours(job: SolveJob | None, me: str) -> bool:
    return job is not None and job.status == JobStatus.running and job.worker == me[:200]


def _finish(
    session_factory: SessionFactory,
    job_id: str,
    me: str,
    snapshot: Snapshot,
    solution: Solution,
    parameters: JobParameters,
    monitor: _JobMonitor,
) -> None:
    """The version and the job's end in one transaction: never a version without its job."""
    from matchmaking.planning.scheduling import save_solution

    with session_factory() as session, session.begin():
        job = _locked_job(session, job_id)
        if not _still_ours(job, me):
            log.warning("solve job %s was taken from this worker; its result is dropped", job_id)
            return
        if job is None:
            raise AssertionError("job is not None")
        has_result = not (solution.cancelled and solution.status == "unknown")
        if has_result:
            event = session.get_one(Event, job.event_id)
            record = {**parameters.to_record(), "job": job_id}
            version = save_solution(session, event, snapshot, solution, record)
            job.version_id = version.id
        job.status = JobStatus.cancelled if solution.cancelled else JobStatus.succeeded
        job.finished_at = utcnow()
        monitor.write_progress(job, final_seconds=solution.solve_seconds)


def _fail(session_factory: SessionFactory, job_id: str, me: str, error: str) -> None:
    try:
        with session_factory() as session, session.begin():
            job = _locked_job(session, job_id)
            if _still_ours(job, me):
                if job is None:
                    raise AssertionError("job is not None")
                job.status, job.error, job.finished_at = JobStatus.failed, error, utcnow()
    except Exception:  # the database is gone too: the reaper will find the job
        log.exception("could not mark solve job %s failed", job_id)


def _requeue(session_factory: SessionFactory, job_id: str, me: str) -> None:
    with session_factory() as session, session.begin():
        job = _locked_job(session, job_id)
        if _still_ours(job, me):
            if job is None:
                raise AssertionError("job is not None")
            job.status, job.worker, job.heartbeat_at = JobStatus.queued, "", None
            log.info("solve job %s interrupted by shutdown; queued again", job_id)


def _error_text(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, JobError | ValueError) else f"{type(exc).__name__}: {text}"


# --- progress, heartbeat and cancellation --------------------------------------------------------


@dataclass(slots=True)
class _ProgressState:
    latest: Progress | None = None
    history: list[list[Any]] = field(default_factory=list)
    written: Progress | None = None


class _JobMonitor:
    """A thread beside the solve: heartbeat, throttled progress, cancellation.

    The solver's progress callback only records in memory; this thread writes the newest
    report every `interval` seconds in a short transaction of its own, so a fast stream of
    reports costs one write per interval and a solve that reports nothing (presolve) still
    has a moving heartbeat.
    """

    def __init__(
        self,
        session_factory: SessionFactory,
        job_id: str,
        me: str,
        interval: float,
        stop: threading.Event | None,
    ) -> None:
        self.session_factory = session_factory
        self.job_id = job_id
        self.me = me[:200]
        self.interval = interval
        self.stop = stop
        self.cancel = threading.Event()
        self.lost = False
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._state = _ProgressState()
        self._thread = threading.Thread(target=self._loop, name=f"job-{job_id[:8]}", daemon=True)

    def __enter__(self) -> _JobMonitor:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop beating and wait for the thread (again: nothing)."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def report(self, progress: Progress) -> None:
        with self._lock:
            state = self._state
            state.latest = progress
            row = [
                round(progress.elapsed_seconds, 3),
                progress.goal,
                progress.objective,
                progress.bound,
            ]
            if not state.history or state.history[-1][1:] != row[1:]:
                state.history.append(row)
                if len(state.history) > MAX_HISTORY:
                    del state.history[MAX_HISTORY // 2]  # keep the start and the newest

    def write_progress(self, job: SolveJob, final_seconds: float | None = None) -> None:
        with self._lock:
            latest, history = self._state.latest, list(self._state.history)
        if latest is not None:
            job.progress_goal = latest.goal
            job.progress_objective = latest.objective
            job.progress_bound = latest.bound
            job.progress_elapsed = latest.elapsed_seconds
            job.progress_share = min(max(latest.time_share, 0.0), 1.0)
        if final_seconds is not None:
            job.progress_elapsed = final_seconds
        job.progress_history = history
        job.heartbeat_at = utcnow()

    def _loop(self) -> None:
        while not self._done.wait(self.interval):
            if self.stop is not None and self.stop.is_set():
                self.cancel.set()
            try:
                self._beat()
            except Exception:  # a missed beat is harmless; the next one retries
                log.exception("heartbeat of solve job %s failed", self.job_id)

    def _beat(self) -> None:
        with self.session_factory() as session, session.begin():
            job = _locked_job(session, self.job_id)
            if not _still_ours(job, self.me):
                # Taken as dead and queued again (or finished elsewhere): stop, write nothing.
                self.lost = True
                self.cancel.set()
                return
            if job is None:
                raise AssertionError("job is not None")
            if job.cancel_requested:
                self.cancel.set()
            self.write_progress(job)


# --- orphaned jobs ----------------------------------------------------------------------------


@dataclass(slots=True)
class Recovery:
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def requeue_orphaned_jobs(
    session_factory: SessionFactory,
    *,
    heartbeat_timeout_seconds: float | None,
    max_attempts: int,
) -> Recovery:
    """Queue again every running job whose worker is gone, or fail it after `max_attempts`
    runs. `heartbeat_timeout_seconds=None` takes every running job as orphaned (the
    in-process runner at start-up: no other process runs this installation's jobs).

    Each job is taken with a conditional UPDATE, so concurrent recoverers never both take it.
    """
    orphaned = SolveJob.status == JobStatus.running
    if heartbeat_timeout_seconds is not None:
        cutoff = utcnow() - timedelta(seconds=heartbeat_timeout_seconds)
        orphaned = and_(
            orphaned,
            or_(
                SolveJob.heartbeat_at < cutoff,
                and_(SolveJob.heartbeat_at.is_(None), SolveJob.started_at < cutoff),
            ),
        )
    recovery = Recovery()
    with session_factory() as session:
        candidates = session.execute(select(SolveJob.id, SolveJob.attempts).where(orphaned)).all()
        for job_id, attempts in candidates:
            give_up = attempts >= max_attempts
            values: dict[str, Any] = (
                {
                    "status": JobStatus.failed,
                    "finished_at": utcnow(),
                    "error": f"the worker running this solve stopped {attempts} times; gave up",
                }
                if give_up
                else {"status": JobStatus.queued, "worker": "", "heartbeat_at": None}
            )
            taken = session.execute(
                update(SolveJob).where(SolveJob.id == job_id, orphaned).values(values)
            )
            session.commit()
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                (recovery.failed if give_up else recovery.requeued).append(job_id)
                log.warning("orphaned solve job %s %s", job_id, "failed" if give_up else "queued")
    return recovery


def queued_job_ids(session_factory: SessionFactory) -> list[str]:
    with session_factory() as session:
        return list(
            session.scalars(
                select(SolveJob.id)
                .where(SolveJob.status == JobStatus.queued)
                .order_by(SolveJob.created_at, SolveJob.id)
            )
        )


# --- runners ----------------------------------------------------------------------------------


class JobRunner(Protocol):
    """Where jobs run. The API submits a job after committing its row."""

    def start(self) -> object:
        """Recover orphaned jobs and take up queued ones (called once at start-up)."""

    def submit(self, job_id: str, *, time_limit_seconds: float) -> None: ...

    def cancel(self, job_id: str) -> None:
        """Called after `cancel_requested` was committed (a running job polls that flag)."""

    def shutdown(self, *, wait: bool = True) -> None: ...


class InProcessRunner:
    """A small thread pool in the API process (OR-Tools releases the GIL while searching)."""

    def __init__(
        self,
        session_factory: SessionFactory,
        *,
        threads: int = 2,
        max_attempts: int = 3,
        heartbeat_seconds: float = 1.0,
        mail_settings: Settings | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.max_attempts = max_attempts
        self.heartbeat_seconds = heartbeat_seconds
        # The mail outbox is delivered here too when settings are given
        # (matchmaking/platform/mail.py).
        self._mail: MailDeliverer | None = None
        if mail_settings is not None:
            self._mail = MailDeliverer(session_factory, mail_settings)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="solve")
        self._futures: dict[str, Future[None]] = {}
        self._stop = threading.Event()

    def start(self) -> Recovery:
        # This process owns no other process' jobs, so anything `running` was left by a run
        # of the service that died.
        recovery = requeue_orphaned_jobs(
            self.session_factory, heartbeat_timeout_seconds=None, max_attempts=self.max_attempts
        )
        for job_id in queued_job_ids(self.session_factory):
            self.submit(job_id, time_limit_seconds=0)
        if self._mail is not None:
            self._mail.start()
        return recovery

    def submit(self, job_id: str, *, time_limit_seconds: float = 0) -> None:
        if job_id in self._futures and not self._futures[job_id].done():
            return
        self._futures[job_id] = self._executor.submit(
            run_solve_job,
            job_id,
            session_factory=self.session_factory,
            heartbeat_seconds=self.heartbeat_seconds,
            stop=self._stop,
        )

    def cancel(self, job_id: str) -> None:
        """Nothing to do: a running job sees `cancel_requested`, a queued one is cancelled."""

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Block until the job's run in this runner ended (for the CLI and tests)."""
        future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout=timeout)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop: queued runs are dropped (the jobs stay queued for the next start) and
        running solves are interrupted and queued again, unless `wait` lets them finish."""
        if not wait:
            self._stop.set()
        if self._mail is not None:
            self._mail.stop()
        self._executor.shutdown(wait=True, cancel_futures=not wait)
