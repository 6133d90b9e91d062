"""Agendas as JSON: a participant's own, and any participant's for the organisers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.deps import DbSession, EventParticipant, StaffAccess
from api.problems import ProblemError, problem_responses
from api.routers.schedules import find_version
from api.schemas.schedules import AgendaItemOut, AgendaOut, CounterpartOut
from matchmaking.agenda import Agenda, participant_agenda
from matchmaking.models import Participant

router = APIRouter(prefix="/api/v1/events/{slug}", tags=["agendas"])


def agenda_out(agenda: Agenda) -> AgendaOut:
    return AgendaOut(
        event=agenda.event,
        event_name=agenda.event_name,
        timezone=agenda.timezone,
        venue=agenda.venue,
        participant=agenda.participant,
        participant_name=agenda.participant_name,
        version=agenda.version,
        published_at=agenda.published_at,
        meetings=[
            AgendaItemOut(
                uid=item.uid,
                slot=item.slot,
                session=item.session,
                start=item.start,
                end=item.end,
                start_own_zone=item.start_own_zone,
                end_own_zone=item.end_own_zone,
                location=item.location,
                location_name=item.location_name,
                location_kind=item.location_kind,
                video_url=item.video_url,
                kind=item.kind,
                wishes=list(item.wishes),
                counterpart=CounterpartOut(
                    key=item.counterpart.key,
                    name=item.counterpart.name,
                    job_title=item.counterpart.job_title,
                    attendance=item.counterpart.attendance,
                    organisation=item.counterpart.organisation,
                    organisation_kind=item.counterpart.organisation_kind,
                    country=item.counterpart.country,
                    sectors=list(item.counterpart.sectors),
                ),
            )
            for item in agenda.meetings
        ],
    )


@router.get(
    "/me/agenda",
    response_model=AgendaOut,
    responses=problem_responses(401, 404),
    summary="My agenda",
    description="**Who:** a participant of the event, with their personal token. Their "
    "meetings in the published version, in time order: counterpart, organisation, country, "
    "sectors, meeting kind, times in the event's zone (ISO 8601 with offset) and in their own "
    "zone when set, table or room, video link. Empty (`version` null) until a schedule is "
    "published.",
)
def my_agenda(db: DbSession, participant: EventParticipant) -> AgendaOut:
    return agenda_out(participant_agenda(db, participant))


@router.get(
    "/participants/{key}/agenda",
    response_model=AgendaOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="A participant's agenda",
    description="**Who:** owners and staff of the event. As the participant sees it, or with "
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
