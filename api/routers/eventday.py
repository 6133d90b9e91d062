"""The event day over HTTP: check-in at the venue (matchmaking/onsite)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.deps import DbSession, StaffAccess
from api.problems import problem_responses
from api.schemas.common import Limit, Offset
from api.schemas.eventday import CheckInOut, CheckInPage
from matchmaking.onsite import checkin
from matchmaking.onsite.checkin import Arrival

router = APIRouter(prefix="/api/v1/events/{slug}", tags=["event day"])

STAFF = "**Who:** owners and staff of the event."
Key = Annotated[str, Path(min_length=1, max_length=64, description="The participant's key.")]


def _check_in_out(arrival: Arrival) -> CheckInOut:
    person = arrival.participant
    return CheckInOut(
        participant=person.key,
        name=person.name,
        organisation=person.organisation.name,
        country=person.organisation.country,
        arrived=arrival.arrived_at is not None,
        arrived_at=arrival.arrived_at,
    )


@router.get(
    "/check-ins",
    response_model=CheckInPage,
    responses=problem_responses(401, 404, 422),
    summary="Find participants to check in",
    description=f"{STAFF} Participants whose name, organisation or e-mail holds every word "
    "of `q` (accents and case ignored), by name, each with whether and when they arrived; "
    "`arrived_total` counts the event's arrivals.",
)
def list_check_ins(
    access: StaffAccess,
    db: DbSession,
    q: Annotated[str, Query(max_length=200, description="Words of a name.")] = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> CheckInPage:
    found, total, arrived = checkin.search(db, access.event, q, limit, offset)
    return CheckInPage(
        items=[_check_in_out(a) for a in found],
        total=total,
        limit=limit,
        offset=offset,
        arrived_total=arrived,
    )


@router.put(
    "/participants/{key}/check-in",
    response_model=CheckInOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Mark a participant arrived",
    description=f"{STAFF} Marking someone who has arrived already changes nothing (the "
    "first arrival time stays). 404 for a participant of another event.",
)
def check_in(access: StaffAccess, db: DbSession, key: Key) -> CheckInOut:
    person = checkin.find_participant(db, access.event, key)
    arrival = checkin.check_in(db, access.event, person, by=access.organiser.id)
    db.commit()
    return _check_in_out(arrival)


@router.delete(
    "/participants/{key}/check-in",
    response_model=CheckInOut,
    responses=problem_responses(401, 403, 404, 422),
    summary="Undo a participant's arrival",
    description=f"{STAFF} The participant is no longer marked arrived.",
)
def undo_check_in(access: StaffAccess, db: DbSession, key: Key) -> CheckInOut:
    person = checkin.find_participant(db, access.event, key)
    arrival = checkin.undo_check_in(db, access.event, person)
    db.commit()
    return _check_in_out(arrival)
