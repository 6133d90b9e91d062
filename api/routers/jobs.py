"""Solve jobs over HTTP: start a solve (202 + the job's URL), watch its progress, cancel it.

Solves never run in the request: the job row is committed, then handed to the app's job
runner (`app.state.job_runner`, started with the app; see `start_job_runner`).
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response, status
from sqlalchemy import select

from api.deps import WHO_STAFF as WHO
from api.deps import AppSettings, CurrentOrganiser, DbSession, StaffAccess, page_of
from api.problems import FieldError, ProblemError, conflict, problem_responses
from api.schemas.common import Limit, Offset, Page
from api.schemas.schedules import (
    JobOut,
    JobProgress,
    ProgressPoint,
    SolveRequest,
    VersionLink,
)
from matchmaking.organising import events as event_service
from matchmaking.planning import jobs as job_service
from matchmaking.planning.runners import make_runner
from matchmaking.platform.models import Event, ScheduleVersion, SolveJob
from matchmaking.platform.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["solve jobs"], responses=problem_responses(401, 404))

_runner_lock = threading.Lock()


# --- the runner of the app ----------------------------------------------------------------------


def start_job_runner(app: FastAPI) -> job_service.JobRunner:
    """Create and start the app's runner once (recovers orphaned jobs, takes up queued ones)."""
    with _runner_lock:
        runner: job_service.JobRunner | None = getattr(app.state, "job_runner", None)
        if runner is None:
            settings: Settings = app.state.settings
            runner = make_runner(settings, app.state.sessionmaker)
            runner.start()
            app.state.job_runner = runner
        return runner


def stop_job_runner(app: FastAPI) -> None:
    """Stop the runner: running solves are queued again for the next start."""
    with _runner_lock:
        runner: job_service.JobRunner | None = getattr(app.state, "job_runner", None)
        if runner is not None:
            runner.shutdown(wait=False)
            app.state.job_runner = None


def get_job_runner(request: Request) -> job_service.JobRunner:
    return start_job_runner(request.app)


Runner = Annotated[job_service.JobRunner, Depends(get_job_runner)]


# --- views ---------------------------------------------------------------------------------------


def job_url(slug: str, job_id: str) -> str:
    return f"/api/v1/events/{slug}/solves/{job_id}"


def solve_under_way(slug: str, busy: job_service.SolveUnderWay) -> ProblemError:
    """409 for a solve asked for while another one of the event runs."""
    return conflict(
        f"A solve of this event is already under way ({job_url(slug, busy.job_id or '')}); "
        "wait for it or cancel it first."
    )


def queue_committed(
    db: DbSession, runner: job_service.JobRunner, response: Response, slug: str, job: SolveJob
) -> None:
    """Commits the request's transaction, then hands the new `job` to the runner (only after
    the commit: a worker must find the row) and points the answer's `Location` at it."""
    db.commit()
    runner.submit(job.id, time_limit_seconds=job.parameters["time_limit_seconds"])
    response.headers["Location"] = job_url(slug, job.id)


def version_url(slug: str, number: int) -> str:
    return f"/api/v1/events/{slug}/versions/{number}"


def job_out(db: DbSession, job: SolveJob, slug: str) -> JobOut:
    version = db.get(ScheduleVersion, job.version_id) if job.version_id else None
    history = [
        ProgressPoint(elapsed_seconds=row[0], goal=row[1], objective=row[2], bound=row[3])
        for row in job.progress_history or []
    ]
    return JobOut(
        id=job.id,
        event=slug,
        status=job.status.value,
        parameters=job.parameters,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        attempts=job.attempts,
        cancel_requested=job.cancel_requested,
        error=job.error,
        progress=JobProgress(
            goal=job.progress_goal,
            objective=job.progress_objective,
            bound=job.progress_bound,
            elapsed_seconds=job.progress_elapsed,
            time_share=job.progress_share,
            history=history,
        ),
        version=(
            VersionLink(number=version.number, url=version_url(slug, version.number))
            if version is not None
            else None
        ),
        url=job_url(slug, job.id),
    )


def _not_found(job_id: str) -> ProblemError:
    return ProblemError(404, f"There is no solve job '{job_id}'.", type_="/problems/not-found")


def _event_job(db: DbSession, event: Event, job_id: str) -> SolveJob:
    job = db.get(SolveJob, job_id)
    if job is None or job.event_id != event.id:
        raise _not_found(job_id)
    return job


def _organisers_job(
    db: DbSession, organiser: CurrentOrganiser, job_id: str
) -> tuple[SolveJob, str]:
    """The job, if the organiser has a role in its event; else 404 (as if it did not exist)."""
    job = db.get(SolveJob, job_id)
    event = db.get(Event, job.event_id) if job is not None else None
    if job is None or event is None or event_service.role_of(db, event, organiser) is None:
        raise _not_found(job_id)
    return job, event.slug


# --- endpoints -----------------------------------------------------------------------------------


@router.post(
    "/events/{slug}/solves",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses=problem_responses(403, 409, 422),
    summary="Start a solve",
    description=f"{WHO} Queues a solve of the event and answers at once with the job (its URL "
    "also in `Location`); poll it for progress. Re-plans from the published version (keeping "
    "its meetings in place as far as possible) by default when one exists. Only one solve of "
    "an event runs at a time: 409 while another is queued or running.",
)
def start_solve(
    access: StaffAccess,
    db: DbSession,
    runner: Runner,
    settings: AppSettings,
    response: Response,
    body: SolveRequest | None = None,
) -> JobOut:
    body = body or SolveRequest()
    event = access.event
    try:
        job = job_service.create_solve_job(
            db,
            event,
            **body.model_dump(),  # the request's fields are the job's parameters
            requested_by=access.organiser.id,
            settings=settings,
        )
    except job_service.SolveUnderWay as busy:
        raise solve_under_way(event.slug, busy) from None
    except job_service.JobError as refused:
        raise ProblemError(
            422,
            str(refused),
            title="Invalid input",
            type_="/problems/validation-error",
            errors=[FieldError(field=f"body.{refused.field}", message=refused.message)],
        ) from None
    queue_committed(db, runner, response, event.slug, job)
    return job_out(db, job, event.slug)


@router.get(
    "/events/{slug}/solves",
    response_model=Page[JobOut],
    responses=problem_responses(403, 422),
    summary="List the event's solve jobs",
    description=f"{WHO} Newest first.",
)
def list_solves(
    access: StaffAccess, db: DbSession, limit: Limit = 50, offset: Offset = 0
) -> Page[JobOut]:
    event = access.event
    order = (SolveJob.created_at.desc(), SolveJob.id)
    jobs, total = page_of(db, SolveJob, [SolveJob.event_id == event.id], order, limit, offset)
    items = [job_out(db, job, event.slug) for job in jobs]
    return Page[JobOut](items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/events/{slug}/solves/{job_id}",
    response_model=JobOut,
    responses=problem_responses(403),
    summary="A solve job: status and progress",
    description=f"{WHO}",
)
def get_solve(access: StaffAccess, db: DbSession, job_id: str) -> JobOut:
    return job_out(db, _event_job(db, access.event, job_id), access.event.slug)


@router.post(
    "/events/{slug}/solves/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses=problem_responses(403, 409),
    summary="Cancel a solve",
    description=f"{WHO} A queued job is cancelled at once; a running one stops within about a "
    "second and keeps the best schedule it found as a version. A finished job → 409.",
)
def cancel_solve(access: StaffAccess, db: DbSession, runner: Runner, job_id: str) -> JobOut:
    job = _event_job(db, access.event, job_id)
    return _cancel(db, runner, job, access.event.slug)


@router.get(
    "/jobs/{job_id}",
    response_model=JobOut,
    summary="A solve job by its id",
    description="**Who:** owners and staff of the job's event (others: 404).",
)
def get_job(organiser: CurrentOrganiser, db: DbSession, job_id: str) -> JobOut:
    job, slug = _organisers_job(db, organiser, job_id)
    return job_out(db, job, slug)


@router.post(
    "/jobs/{job_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    responses=problem_responses(409),
    summary="Cancel a solve job by its id",
    description="**Who:** owners and staff of the job's event (others: 404). As "
    "`POST /events/{slug}/solves/{job_id}/cancel`.",
)
def cancel_job(organiser: CurrentOrganiser, db: DbSession, runner: Runner, job_id: str) -> JobOut:
    job, slug = _organisers_job(db, organiser, job_id)
    return _cancel(db, runner, job, slug)


def _cancel(db: DbSession, runner: job_service.JobRunner, job: SolveJob, slug: str) -> JobOut:
    # Lock the row so a cancel never overwrites a finish written at the same moment.
    locked = db.scalars(
        select(SolveJob)
        .where(SolveJob.id == job.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if not job_service.request_cancel(db, locked):
        raise conflict(f"The job has already {locked.status.value}; there is nothing to cancel.")
    db.commit()
    runner.cancel(locked.id)
    return job_out(db, locked, slug)
