"""Agendas as JSON: a participant's own, and any participant's for the organisers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from starlette.concurrency import run_in_threadpool

from api.deps import (
    WHO_PARTICIPANT,
    WHO_STAFF,
    DbSession,
    ParticipantTokenHeader,
    StaffAccess,
    lean_owner,
    no_participant_token,
    participant_token_from,
    unknown_participant_token,
)
from api.problems import ProblemError, problem_responses
from api.ratelimit import PARTICIPANT_TOKEN, record_failed_guess
from api.routers.calendars import etag_matches
from api.routers.schedules import find_version
from api.schemas.schedules import AgendaOut, agenda_json, agenda_out
from matchmaking.delivery.agenda import participant_agenda
from matchmaking.delivery.serving import Owner, Served, ServingCache, agenda_owner, strong_etag
from matchmaking.platform.models import Participant

#: A personal document: never kept by shared caches; clients revalidate with the ETag.
PRIVATE_REVALIDATE = "private, no-cache"

router = APIRouter(prefix="/api/v1/events/{slug}", tags=["agendas"])


@router.get(
    "/me/agenda",
    response_model=AgendaOut,
    responses={304: {"description": "Not modified."}, **problem_responses(401, 404)},
    summary="My agenda",
    description=f"{WHO_PARTICIPANT} Their "
    "meetings in the published version, in time order: counterpart, organisation, country, "
    "sectors, meeting kind, times in the event's zone (ISO 8601 with offset) and in their own "
    "zone when set, table or room, video link. Empty (`version` null) until a schedule is "
    "published.",
)
async def my_agenda(slug: str, request: Request, header_token: ParticipantTokenHeader) -> Response:
    # As the calendar feed: the token and the event's serving generation in one statement
    # on a pooled connection, on the event loop; only a miss renders, in a worker thread.
    token = participant_token_from(request, header_token)
    if token is None:
        raise no_participant_token()
    owner = await lean_owner(request, agenda_owner, token)
    if owner is None:
        record_failed_guess(request, PARTICIPANT_TOKEN)
        raise unknown_participant_token()
    if owner.event_slug != slug:
        raise ProblemError(404, f"There is no event '{slug}'.", type_="/problems/not-found")
    served = owner.stored  # stored at publication, when it still holds
    if served is None:
        cache: ServingCache = request.app.state.serving_cache
        served = cache.get("agenda", owner.participant_id, owner.generation)
    if served is None:
        served = await run_in_threadpool(_render_agenda, request, owner)
    headers = {"ETag": served.etag, "Cache-Control": PRIVATE_REVALIDATE}
    if etag_matches(request, served.etag):
        return Response(status_code=304, headers=headers)
    return Response(served.body, media_type="application/json", headers=headers)


def _render_agenda(request: Request, owner: Owner) -> Served:
    """Render and keep an agenda in a read-only session of its own, under the generation read
    before (the data it reads are at least that new)."""
    with request.app.state.read_sessionmaker() as db:
        participant = db.get_one(
            Participant, owner.participant_id, options=[joinedload(Participant.event)]
        )
        body = agenda_json(participant_agenda(db, participant))
    served = Served(body, strong_etag(body))
    cache: ServingCache = request.app.state.serving_cache
    cache.put("agenda", owner.participant_id, owner.generation, served)
    return served


@router.get(
    "/participants/{key}/agenda",
    response_model=AgendaOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="A participant's agenda",
    description=f"{WHO_STAFF} As the participant sees it, or with "
    "`version` as it would be in that (unpublished) version.",
)
def participants_agenda(
    access: StaffAccess,
    db: DbSession,
    key: str,
    version: Annotated[int | None, Query(ge=1, description="A version number.")] = None,
) -> AgendaOut:
    participant = db.scalar(
        select(Participant).where(Participant.event_id == access.event.id, Participant.key == key)
    )
    if participant is None:
        raise ProblemError(
            404, f"The event has no participant '{key}'.", type_="/problems/not-found"
        )
    shown = find_version(db, access.event, version) if version is not None else None
    return agenda_out(participant_agenda(db, participant, shown))
