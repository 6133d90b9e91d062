"""Organiser pages: sign-in with an API token, the dashboard with solving and its live
progress, reviewing a schedule version (timetable, statistics, unscheduled wishes, diff),
publishing it, and exports."""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import quote_plus

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.cookies import ORGANISER_COOKIE, cookie
from api.deps import DbSession
from api.pages import charts
from api.pages.common import (
    CSRF_FIELD,
    PageError,
    RegistrationRefused,
    change_registration,
    check_csrf,
    delete_cookie,
    organiser_event,
    page_organiser,
    page_version,
    redirect,
    refuse_guessing,
    render,
    safe_next,
    set_cookie,
    settings_of,
    templates,
)
from api.pages.forms import PostedForm
from api.pages.timetable import build_timetable, slot_name
from api.ratelimit import ORGANISER_TOKEN, record_failed_guess
from api.routers.jobs import start_job_runner
from api.routers.schedules import render_publication
from matchmaking.delivery import exports
from matchmaking.delivery.agenda import participant_agenda, video_link
from matchmaking.organising import events as event_service
from matchmaking.participants import registration as registration_service
from matchmaking.planning import jobs as job_service
from matchmaking.planning import publishing
from matchmaking.planning.rest_of_day import wall_clock
from matchmaking.planning.versions import (
    Staleness,
    VersionImpact,
    changes_before,
    unscheduled_wishes,
    version_impact,
    version_staleness,
    version_statistics,
)
from matchmaking.platform import browser_sessions
from matchmaking.platform.errors import Conflict, NotFound
from matchmaking.platform.models import (
    ApiToken,
    Event,
    EventRole,
    Participant,
    ScheduleVersion,
    SolveJob,
    utcnow,
)
from matchmaking.platform.security import hash_token
from matchmaking.platform.wording import KeyNames, reason_words, slot_label

router = APIRouter()

# --- signing in --------------------------------------------------------------------------


@router.get("/organiser/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request) -> HTMLResponse:
    return render(request, "pages/login.html", {"title": "Organiser sign-in", "errors": {}})


@router.post("/organiser/login", include_in_schema=False)
def login(request: Request, db: DbSession, values: PostedForm) -> Response:
    check_csrf(request, str(values.get(CSRF_FIELD, "")))
    token = str(values.get("token", ""))
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if not token or row is None or row.revoked_at is not None:
        # A valid token is never refused; an unknown one counts (a 429 page after too many).
        refuse_guessing(request, ORGANISER_TOKEN)
        record_failed_guess(request, ORGANISER_TOKEN)
        return render(
            request,
            "pages/login.html",
            {
                "title": "Organiser sign-in",
                "errors": {"token": "This API token is unknown or revoked. Paste a valid token."},
                "next": safe_next(str(values.get("next", ""))),
            },
            status=401,
        )
    # The cookie carries a new session token of this sign-in, never the API token itself.
    session_token = browser_sessions.open_organiser_session(db, row)
    db.commit()
    response = redirect(safe_next(str(values.get("next", ""))))
    set_cookie(request, response, ORGANISER_COOKIE, session_token)
    return response


@router.post("/organiser/logout", include_in_schema=False)
def logout(request: Request, db: DbSession, values: PostedForm) -> Response:
    check_csrf(request, str(values.get(CSRF_FIELD, "")))
    # The session ends on the server: a copy of the cookie no longer signs anyone in.
    if browser_sessions.close_session(db, cookie(request, ORGANISER_COOKIE)):
        db.commit()
    response = redirect("/organiser/login")
    delete_cookie(request, response, ORGANISER_COOKIE)
    return response


@router.get("/organiser", response_class=HTMLResponse, include_in_schema=False)
def my_events(request: Request, db: DbSession) -> Response:
    organiser = page_organiser(request, db)
    if organiser is None:
        return redirect("/organiser/login")
    roles = db.scalars(
        select(EventRole)
        .where(EventRole.organiser_id == organiser.id)
        .options(selectinload(EventRole.event))
    ).all()
    return render(
        request,
        "pages/organiser_events.html",
        {
            "title": "Your events",
            "organiser": organiser,
            "roles": roles,
            "flash": request.query_params.get("flash", "")[:200],
        },
    )


# --- dashboard and solving ---------------------------------------------------------------


def _jobs(db: DbSession, event: Event, limit: int = 5) -> list[SolveJob]:
    return list(
        db.scalars(
            select(SolveJob)
            .where(SolveJob.event_id == event.id)
            .order_by(SolveJob.created_at.desc())
            .limit(limit)
        )
    )


def job_progress(job: SolveJob) -> dict[str, Any]:
    """What the progress bar shows (also served as JSON for the polling script)."""
    limit = float(job.parameters.get("time_limit_seconds") or 0) or None
    share = job.progress_share
    if share is None and limit and job.progress_elapsed is not None:
        share = min(1.0, job.progress_elapsed / limit)
    if job.status in job_service.FINISHED:
        share = 1.0
    stages = charts.progress_stages(job.progress_history or [])
    return {
        "id": job.id,
        "status": job.status.value,
        "finished": job.status in job_service.FINISHED,
        "goal": job.progress_goal,
        "goal_label": charts.goal_label(job.progress_goal) if job.progress_goal else "",
        "goal_description": charts.goal_description(job.progress_goal) if job.progress_goal else "",
        "stages": [
            {k: stage[k] for k in ("goal", "label", "description", "value", "bound", "proven")}
            for stage in stages
        ],
        "objective": job.progress_objective,
        "bound": job.progress_bound,
        "elapsed": round(job.progress_elapsed or 0.0, 1),
        "share": round(share or 0.0, 3),
        "error": job.error,
    }


@router.get("/organiser/e/{slug}", response_class=HTMLResponse, include_in_schema=False)
def dashboard(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, role = organiser_event(request, db, slug)
    counts = event_service.event_counts(db, event)
    jobs = _jobs(db, event)
    versions = list(
        db.scalars(
            select(ScheduleVersion)
            .where(ScheduleVersion.event_id == event.id)
            .order_by(ScheduleVersion.number.desc())
        )
    )
    active = [j for j in jobs if j.status not in job_service.FINISHED]
    published = publishing.current_published_version(db, event.id)
    waiting = list(
        db.scalars(
            select(Participant)
            .where(Participant.event_id == event.id, Participant.membership_confirmed.is_(False))
            .options(selectinload(Participant.organisation))
            .order_by(Participant.id)
        )
    )
    return render(
        request,
        "pages/dashboard.html",
        {
            "title": f"Dashboard · {event.name}",
            "event": event,
            "organiser": organiser,
            "role": role.value,
            "counts": counts,
            "registration_open": event_service.registration_is_open(event),
            "jobs": [
                (job, job_progress(job), charts.progress_chart(job.progress_history))
                for job in jobs
            ],
            "active": active,
            "versions": versions,
            "published": published,
            "waiting_members": waiting,
            "default_time_limit": _last_time_limit(jobs)
            or int(min(60, settings_of(request).solve_time_limit_seconds)),
            "late_registrations": _late_registrations(db, event, published),
            "flash": request.query_params.get("flash", "")[:200],
        },
    )


def _last_time_limit(jobs: list[SolveJob]) -> int | None:
    """The time limit of the latest solve: the field keeps what the organiser chose."""
    for job in jobs:
        seconds = (job.parameters or {}).get("time_limit_seconds")
        if seconds:
            return int(float(seconds))
    return None


def _late_registrations(
    db: DbSession, event: Event, published: ScheduleVersion | None
) -> list[Participant]:
    """Participants who registered after the published version was planned: they have no
    meetings until the next re-plan."""
    if published is None:
        return []
    return list(
        db.scalars(
            select(Participant)
            .where(
                Participant.event_id == event.id,
                Participant.created_at > published.snapshot_at,
            )
            .order_by(Participant.created_at)
        )
    )


def _time_limit(value: object) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = -1
    if not 1 <= seconds <= 3600:
        raise PageError(422, "Invalid time limit", "The time limit must be 1 to 3600 seconds.")
    return seconds


@router.post("/organiser/e/{slug}/solve", include_in_schema=False)
def solve(slug: str, request: Request, db: DbSession, values: PostedForm) -> Response:
    # A plain `def`, so FastAPI runs it in a worker thread: on SQLite a start waits for the
    # write lock, and waiting on the event loop would stall the requests that hold it.
    return _start_solve(slug, request, db, values)


def _start_solve(slug: str, request: Request, db: Session, values: dict[str, Any]) -> Response:
    event, organiser, _ = organiser_event(request, db, slug, values)
    limit = _time_limit(values.get("time_limit", ""))
    try:
        job = job_service.create_solve_job(
            db,
            event,
            time_limit_seconds=limit,
            replan=values.get("replan") == "yes" or None,
            move_published=values.get("move_published") == "yes",
            requested_by=organiser.id,
            settings=settings_of(request),
        )
    except job_service.SolveUnderWay:
        db.rollback()
        raise PageError(
            409,
            "A solve is under way",
            "A solve of this event is already under way; wait for it to finish (its progress "
            "is on the event's page) or cancel it, then start a new one.",
        ) from None
    except job_service.JobError as error:
        db.rollback()
        raise PageError(422, "The solve cannot start", str(error)) from error
    db.commit()
    start_job_runner(request.app).submit(job.id, time_limit_seconds=limit)
    return redirect(f"/organiser/e/{event.slug}#job-{job.id}")


@router.post("/organiser/e/{slug}/participants/{key}/confirm-membership", include_in_schema=False)
def confirm_membership(
    slug: str, key: str, request: Request, db: DbSession, values: PostedForm
) -> Response:
    return _decide_membership(slug, key, request, db, values, confirm=True)


@router.post("/organiser/e/{slug}/participants/{key}/turn-down-membership", include_in_schema=False)
def turn_down_membership(
    slug: str, key: str, request: Request, db: DbSession, values: PostedForm
) -> Response:
    return _decide_membership(slug, key, request, db, values, confirm=False)


def _decide_membership(
    slug: str, key: str, request: Request, db: Session, values: dict[str, Any], *, confirm: bool
) -> Response:
    """An organiser confirms a pending membership, or turns it down (the registration of
    someone not of the organisation they named is withdrawn)."""
    event, _, _ = organiser_event(request, db, slug, values)
    try:
        member = registration_service.get_participant(db, event, key)
        if confirm:
            registration_service.confirm_membership(db, member, None)
        else:
            registration_service.turn_down_membership(db, member, None)
    except NotFound as error:
        raise PageError(404, error.title, error.detail) from error
    except Conflict as error:
        db.rollback()
        raise PageError(409, error.title, error.detail) from error
    db.commit()
    return redirect(f"/organiser/e/{event.slug}#waiting-members")


@router.post("/organiser/e/{slug}/registration", include_in_schema=False)
def registration(slug: str, request: Request, db: DbSession, values: PostedForm) -> Response:
    """Open, reopen (after publishing, before the deadline) or close registration."""
    event, _, _ = organiser_event(request, db, slug, values)
    try:
        flash = change_registration(db, event, values.get("action"))
    except RegistrationRefused as refused:
        db.rollback()
        raise PageError(
            409,
            "Registration unchanged",
            str(refused),
            links=(("Back to the dashboard", f"/organiser/e/{event.slug}"),),
        ) from refused
    db.commit()
    return redirect(f"/organiser/e/{event.slug}?flash={quote_plus(flash)}")


@router.get("/organiser/e/{slug}/jobs/{job_id}.json", include_in_schema=False)
def job_status(slug: str, job_id: str, request: Request, db: DbSession) -> JSONResponse:
    event, _, _ = organiser_event(request, db, slug)
    job = db.get(SolveJob, job_id)
    if job is None or job.event_id != event.id:
        raise PageError(404, "Job not found", f"The event has no solve job '{job_id}'.")
    body = job_progress(job)
    body["chart"] = str(charts.progress_chart(job.progress_history))
    body["stages_html"] = templates.get_template("pages/_stages.html").render(progress=body)
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


# --- reviewing a version -----------------------------------------------------------------


def _unscheduled(
    db: DbSession, event: Event, unscheduled: list[dict[str, Any]], names: KeyNames
) -> list[dict[str, Any]]:
    return [
        {
            "key": entry.key,
            "wish": entry.wish,
            "reason": entry.reason,
            "reason_text": reason_words(entry.reason),
            "detail": names.words(entry.detail),
        }
        for entry in unscheduled_wishes(db, event, unscheduled)
    ]


def publish_warnings(
    db: DbSession,
    event: Event,
    version: ScheduleVersion,
    published: ScheduleVersion | None,
    staleness: Any,
    impact: VersionImpact | None,
) -> list[str]:
    """What publishing this version would overlook, in words (the "Publish anyway" box)."""
    warnings = []
    if published is not None and published.id != version.id and version.based_on_id != published.id:
        based_on = db.get(ScheduleVersion, version.based_on_id) if version.based_on_id else None
        planned = f"from version {based_on.number}" if based_on else "from scratch"
        warnings.append(
            f"Version {version.number} was planned {planned}, but version {published.number} "
            f"is published now: publishing replaces version {published.number} and may move "
            "or cancel its meetings without keeping them where they are. Re-plan from version "
            f"{published.number} to keep them."
        )
    elif published is None and version.based_on_id:
        based_on = db.get(ScheduleVersion, version.based_on_id)
        warnings.append(
            f"Version {version.number} was planned from version "
            f"{based_on.number if based_on else '?'}, which is no longer published."
        )
    if impact is not None:
        now = wall_clock(event, utcnow())
        past = changes_before(impact.diff, now)
        if past:
            warnings.append(
                f"{len(past)} of the meetings this version moves, cancels or adds "
                f"{'are' if len(past) != 1 else 'is'} at a time already past (before "
                f"{now:%a %d %b %H:%M}, event time): those meetings have been held or missed, "
                "and publishing cannot change them. To change the rest of the day, re-plan it "
                "from now."
            )
    if staleness.stale:
        warnings.append(
            f"{len(staleness.changes)} change(s) to wishes, registrations or who is away came "
            "after this version was planned and are not in it:"
        )
        warnings.extend(c.detail for c in staleness.changes[:20])
    return warnings


def _histogram_bars(counts: dict[int, int]) -> list[tuple[str, float]]:
    """Every number of meetings from 0 to the most, so a gap shows as an empty bar."""
    most = max(counts, default=0)
    return [(str(n), counts.get(n, 0)) for n in range(most + 1)]


@router.get(
    "/organiser/e/{slug}/versions/{number}", response_class=HTMLResponse, include_in_schema=False
)
def version_page(slug: str, number: int, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, _ = organiser_event(request, db, slug)
    version = page_version(db, event, number)
    return _render_version(request, db, event, organiser, version)


def _render_version(
    request: Request,
    db: DbSession,
    event: Event,
    organiser: Any,
    version: ScheduleVersion,
    *,
    refused: str = "",
) -> HTMLResponse:
    published = publishing.current_published_version(db, event.id)
    stats = version_statistics(db, version, by_location=False)
    params = {k: request.query_params.get(k, "") for k in ("view", "group", "q", "participant")}
    person = (
        db.scalar(
            select(Participant).where(
                Participant.event_id == event.id, Participant.key == params["participant"][:64]
            )
        )
        if params["participant"]
        else None
    )

    is_published = published is not None and published.id == version.id
    # What changed since the snapshot matters only before publishing (and reading it means
    # reading the whole event again).
    staleness = (
        Staleness(snapshot_at=version.snapshot_at, changes=[])
        if is_published
        else version_staleness(db, version)
    )
    multi_day = len({u.start.date() for u in stats.location_use}) > 1
    shown = (
        version.unscheduled
        if request.query_params.get("all_unscheduled")
        else version.unscheduled[:UNSCHEDULED_SHOWN]
    )
    names = KeyNames.of_event(db, event.id, keys=_keys_in(shown))
    unscheduled = _unscheduled(db, event, shown, names)
    impact = (
        version_impact(db, published, version) if published and published.id != version.id else None
    )
    return render(
        request,
        "pages/version.html",
        {
            "title": f"Schedule version {version.number} · {event.name}",
            "event": event,
            "organiser": organiser,
            "version": version,
            "published": published,
            "is_published": is_published,
            "stats": stats,
            "location_chart": charts.bar_chart(
                "Meetings per slot",
                [
                    (u.start.strftime("%a %H:%M" if multi_day else "%H:%M"), u.meetings)
                    for u in stats.location_use
                ],
                titles=[slot_label(u.start, u.end, with_day=multi_day) for u in stats.location_use],
                maximum=stats.location_use[0].capacity if stats.location_use else None,
                description="Meetings in each slot (event time); the dashed line is what all "
                "locations hold.",
            ),
            "location_use": stats.location_use,
            "histogram": charts.bar_chart(
                "Participants by number of meetings",
                _histogram_bars(stats.meetings_per_participant),
                description="How many participants have 0, 1, 2, ... meetings.",
            ),
            "tt": build_timetable(db, event, version, params),
            "slot_name": slot_name,
            "video_link": video_link,
            "unscheduled": unscheduled,
            "unscheduled_total": len(version.unscheduled),
            "reason_words": reason_words,
            "impact": impact,
            "staleness": staleness,
            "warnings": publish_warnings(db, event, version, published, staleness, impact),
            "publish_refused": refused,
            "person": person,
            "person_agenda": participant_agenda(db, person, version) if person else None,
            "flash": request.query_params.get("flash", "")[:300],
        },
        status=409 if refused else 200,
    )


#: Unscheduled wishes listed before "show all" (an event of thousands may have hundreds).
UNSCHEDULED_SHOWN = 200


def _keys_in(unscheduled: list[dict[str, Any]]) -> set[str]:
    pattern = re.compile(r"[\w.:-]+")
    keys = set()
    for entry in unscheduled:
        keys.add(str(entry.get("wish", "")))
        keys.update(pattern.findall(str(entry.get("detail", ""))))
    return keys


@router.post("/organiser/e/{slug}/versions/{number}/publish", include_in_schema=False)
def publish(
    slug: str, number: int, request: Request, db: DbSession, values: PostedForm
) -> Response:
    event, organiser, _ = organiser_event(request, db, slug, values)
    version = page_version(db, event, number)
    _confirm_cancellations(db, event, version, values.get("confirm_cancelled") == "yes")
    try:
        result = publishing.publish_version(db, version, force=values.get("force") == "yes")
    except publishing.PublishError as error:
        db.rollback()
        if isinstance(error, publishing.VersionHasNoSchedule):
            raise PageError(
                409, "Not published", f"Version {version.number} holds no schedule to publish."
            ) from error
        # The version page again, with the reason and the warnings to confirm.
        why = (
            "It was not planned from the version published now."
            if isinstance(error, publishing.PublishedVersionChanged)
            else "Wishes, registrations or who is away changed after it was planned."
        )
        return _render_version(request, db, event, organiser, version, refused=why)
    settings = settings_of(request)
    publishing.queue_publication_mails(db, event, result, settings.base_url)
    render_publication(db, event, result, settings)
    db.commit()
    return redirect(f"/organiser/e/{event.slug}?flash=Version+{version.number}+is+published.")


def _confirm_cancellations(
    db: DbSession, event: Event, version: ScheduleVersion, confirmed: bool
) -> None:
    """Cancelled meetings are promises broken: publishing them needs the organiser's tick."""
    published = publishing.current_published_version(db, event.id)
    if published is None or published.id == version.id or confirmed:
        return
    impact = version_impact(db, published, version)
    if impact.needs_confirmation:
        cancelled = len(impact.diff.removed)
        raise PageError(
            409,
            "Not published: confirm the cancelled meetings",
            f"Version {version.number} cancels {cancelled} meeting{'s' * (cancelled != 1)} "
            f"of the published version {published.number}. Tick “I have read who loses a "
            "meeting” on the version page to publish it.",
        )


ExportFormat = Literal["csv", "xlsx"]
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get("/organiser/e/{slug}/versions/{number}/{kind}.{fmt}", include_in_schema=False)
def export(
    slug: str, number: int, kind: str, fmt: str, request: Request, db: DbSession
) -> Response:
    event, _, _ = organiser_event(request, db, slug)
    if kind not in ("timetable", "agendas") or fmt not in MEDIA_TYPES:
        raise PageError(
            404, "No such export", "Exports are timetable or agendas, as .csv or .xlsx."
        )
    version = page_version(db, event, number)
    sheet = exports.sheet_for(db, version, kind)  # type: ignore[arg-type]
    body = exports.to_csv(sheet) if fmt == "csv" else exports.to_xlsx([sheet])
    filename = f"{event.slug}-v{version.number}-{kind}.{fmt}"
    return Response(
        body,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
