"""Hand edits of a schedule version over HTTP: move, add, cancel and pin meetings, make a
draft copy of a published version, re-solve around the pinned meetings.

Every edit is judged with the solver's rules (matchmaking/planning/hand_edits.py); a refused
one is a 409 problem whose `detail` and `reasons` say why in words, and nothing is stored. A
published version is not edited (409): its draft copy is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.deps import WHO_STAFF as WHO
from api.deps import DbSession, StaffAccess
from api.problems import PROBLEM_MEDIA_TYPE, ProblemDetails, ProblemError, problem_responses
from api.routers.schedules import find_version, summary
from api.schemas.hand_edits import (
    AddRequest,
    CopyOut,
    EditOut,
    HandEditOut,
    HandEditsOut,
    MeetingOut,
    MoveRequest,
    PinRequest,
    ResolveRequest,
)
from api.schemas.schedules import VersionSummary
from matchmaking.planning import hand_edits as service
from matchmaking.planning import jobs as job_service
from matchmaking.planning.versions import as_utc, load_meetings
from matchmaking.platform.models import Event, HandEdit, Meeting, ScheduleVersion
from solver.problem import SolveParameters

router = APIRouter(
    prefix="/api/v1/events/{slug}/versions",
    tags=["hand edits"],
    responses=problem_responses(401, 404, 422),
)

Uid = Annotated[str, Path(min_length=1, max_length=200, description="The meeting's uid.")]
REFUSED = (
    "A refused edit is a 409 problem: `detail` says why in words (names, times in the "
    "event's time zone, places) and `reasons` lists each rule it breaks; nothing is stored. "
    "A published version is not edited (409): edit its draft copy (`POST .../copy`)."
)


def _meeting_out(meeting: Meeting) -> MeetingOut:
    a, b = meeting.participant_a, meeting.participant_b
    return MeetingOut(
        uid=meeting.uid,
        wishes=[w.key for w in meeting.wishes],
        slot=meeting.slot.key,
        location=meeting.location.key,
        participants=[a.key, b.key],
        starts=meeting.slot.start,
        ends=meeting.slot.end,
        location_name=meeting.location.name,
        names=[a.name, b.name],
        organisations=[a.organisation.name, b.organisation.name],
        placed_by_hand=meeting.placed_by_hand,
        pinned=meeting.pinned,
    )


def _edit_out(edit: HandEdit) -> HandEditOut:
    return HandEditOut(
        kind=edit.kind,  # type: ignore[arg-type]
        uid=edit.uid,
        text=edit.text,
        at=as_utc(edit.created_at),
    )


def _refused(request: Request, refused: service.EditRefused) -> JSONResponse:
    extra: dict[str, Any] = {"reasons": refused.reasons}
    body = ProblemDetails(
        type="/problems/conflict",
        title=refused.title,
        status=409,
        detail=refused.detail,
        instance=request.url.path,
        **extra,
    )
    return JSONResponse(jsonable_encoder(body), status_code=409, media_type=PROBLEM_MEDIA_TYPE)


def _edit(db: DbSession, request: Request, make: Callable[[], service.EditResult]) -> Any:
    """One hand edit: its answer, or its refusal as a 409 problem with nothing stored."""
    try:
        result = make()
    except service.EditRefused as refused:
        db.rollback()
        return _refused(request, refused)
    return _done(db, result)


def _done(db: DbSession, result: service.EditResult) -> EditOut:
    db.commit()
    db.expire_all()  # the moved meeting's slot and location are read again
    meeting = None
    if result.meeting is not None:
        found = [m for m in load_meetings(db, result.version) if m.id == result.meeting.id]
        meeting = _meeting_out(found[0]) if found else None
    return EditOut(version=result.version.number, edit=_edit_out(result.edit), meeting=meeting)


@router.get(
    "/{number}/hand-edits",
    response_model=HandEditsOut,
    summary="A version's meetings with their hand marks, and its edit log",
    description=f"{WHO} Each meeting says whether it was placed by hand and whether it is "
    "pinned; `edits` lists the version's hand edits in words, oldest first.",
)
def list_hand_edits(access: StaffAccess, db: DbSession, number: int) -> HandEditsOut:
    version = find_version(db, access.event, number)
    return HandEditsOut(
        version=version.number,
        editable=version.published_at is None and version.status in ("optimal", "feasible"),
        meetings=[_meeting_out(m) for m in load_meetings(db, version)],
        edits=[_edit_out(e) for e in service.hand_edits(db, version)],
    )


@router.post(
    "/{number}/copy",
    response_model=CopyOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
    summary="Make a draft copy of a version to edit by hand",
    description=f"{WHO} A new unpublished version with the same meetings (uids, hand marks, "
    "pins) and results. A copy of the published version is planned from it, so publishing "
    "the edited copy later replaces it as a re-plan would. 409 for a version without a "
    "schedule.",
)
def copy_version(access: StaffAccess, db: DbSession, number: int) -> CopyOut:
    event = access.event
    version = find_version(db, event, number)
    copy = service.draft_copy(db, event, version, by=access.organiser.id)
    db.commit()
    meetings = len(load_meetings(db, copy))
    return CopyOut(
        version=summary(copy, event.slug, meetings, _numbers(db, event)), copy_of=version.number
    )


@router.post(
    "/{number}/meetings",
    response_model=EditOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
    summary="Add a meeting by hand",
    description=f"{WHO} A meeting of two participants in a slot and location, for their "
    "accepted wishes this version leaves unmet (a meeting meets a wish: without one the edit "
    f"is refused). {REFUSED}",
)
def add_meeting(
    access: StaffAccess, db: DbSession, request: Request, number: int, body: AddRequest
) -> Any:
    event = access.event
    version = find_version(db, event, number)
    a, b = body.participants
    return _edit(db, request, lambda: service.add_meeting(
        db, event, version, (a, b), slot=body.slot, location=body.location,
        by=access.organiser.id,
    ))  # fmt: skip


@router.post(
    "/{number}/meetings/{uid}/move",
    response_model=EditOut,
    responses=problem_responses(409),
    summary="Move a meeting by hand",
    description=f"{WHO} To another slot, another location, or both. {REFUSED}",
)
def move_meeting(
    access: StaffAccess,
    db: DbSession,
    request: Request,
    number: int,
    uid: Uid,
    body: MoveRequest,
) -> Any:
    event = access.event
    version = find_version(db, event, number)
    return _edit(db, request, lambda: service.move_meeting(
        db, event, version, uid, slot=body.slot, location=body.location,
        by=access.organiser.id,
    ))  # fmt: skip


@router.delete(
    "/{number}/meetings/{uid}",
    response_model=EditOut,
    responses=problem_responses(409),
    summary="Cancel a meeting by hand",
    description=f"{WHO} Its wishes are listed as unscheduled (reason "
    f"`{service.CANCELLED_REASON}`); they are not withdrawn, so a later solve may hold them "
    f"again. A meeting of a required wish cannot be cancelled. {REFUSED}",
)
def cancel_meeting(
    access: StaffAccess, db: DbSession, request: Request, number: int, uid: Uid
) -> Any:
    event = access.event
    version = find_version(db, event, number)
    return _edit(
        db, request, lambda: service.cancel_meeting(db, event, version, uid, by=access.organiser.id)
    )


@router.put(
    "/{number}/meetings/{uid}/pin",
    response_model=EditOut,
    responses=problem_responses(409),
    summary="Pin or unpin a meeting",
    description=f"{WHO} A re-solve around pins keeps a pinned meeting exactly where it is "
    "(slot, location, participants). 422 when it already is as asked.",
)
def pin_meeting(
    access: StaffAccess, db: DbSession, number: int, uid: Uid, body: PinRequest
) -> EditOut:
    event = access.event
    version = find_version(db, event, number)
    result = service.set_pinned(db, event, version, uid, body.pinned, by=access.organiser.id)
    return _done(db, result)


@router.post(
    "/{number}/resolve-around-pins",
    response_model=VersionSummary,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
    summary="Re-solve around the pinned meetings",
    description=f"{WHO} Solves the event again (in the request, at most 120 s) keeping this "
    "version's pinned meetings exactly where they are and its other meetings where they are "
    "as far as the goals allow (the stability goal ranked right after `required` and "
    "`scheduled`); the result is a new unpublished version, its pins and hand-placed "
    "meetings marked as such. 409 while a solve job of the event is under way, or when a "
    "pin cannot be kept (its wish withdrawn, or no schedule keeps them all): nothing is "
    "stored then.",
)
def resolve_around_pins(
    access: StaffAccess,
    db: DbSession,
    request: Request,
    number: int,
    body: ResolveRequest | None = None,
) -> VersionSummary:
    body = body or ResolveRequest()
    event = access.event
    find_version(db, event, number)
    if job_service.active_job_id(db, event.id) is not None:
        raise ProblemError(
            409,
            "A solve of this event is under way; wait for it to finish or cancel it.",
            type_="/problems/conflict",
        )
    event_id, slug, organiser_id = event.id, event.slug, access.organiser.id
    # No transaction (nor SQLite write lock) stays open while the solver runs.
    db.commit()
    parameters = SolveParameters(**body.model_dump())
    new = service.resolve_around_pins(
        request.app.state.sessionmaker, event_id, number, parameters, by=organiser_id
    )
    version = find_version(db, access.event, new.number)
    return summary(version, slug, len(load_meetings(db, version)), _numbers(db, access.event))


def _numbers(db: DbSession, event: Event) -> dict[int, int]:
    rows = db.execute(
        select(ScheduleVersion.id, ScheduleVersion.number).where(
            ScheduleVersion.event_id == event.id
        )
    )
    return {version_id: number for version_id, number in rows}
