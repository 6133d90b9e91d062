"""Recommendations: the partners a participant should meet next, best first, with reasons.

The ranking is `matchmaking.participants.recommend` (the same as `matchmaking recommend-file`
and the pages).
A suggestion never names the participant itself, its organisation, anyone it shares a wish with
(either direction, any status), someone not listed in the directory, nor, under the rule
`cross_delegation_only`, someone of its delegation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from api.deps import WHO_PARTICIPANT_OTHERS_404 as PARTICIPANT
from api.deps import WHO_STAFF_OTHERS_404 as STAFF
from api.deps import DbSession, EventParticipant, StaffAccess
from api.problems import problem_responses
from api.schemas.recommendations import SuggestionOut, SuggestionsOut
from matchmaking.participants import registration as registration_service
from matchmaking.participants.recommend import DEFAULT_TOP, MAX_TOP, suggestions_for_participant
from matchmaking.platform.models import Event, Participant

router = APIRouter(
    prefix="/api/v1/events/{slug}",
    tags=["recommendations"],
    responses=problem_responses(401, 404, 422),
)

Top = Annotated[
    int, Query(ge=1, le=MAX_TOP, description="How many suggestions (default 10, at most 100).")
]


def suggestions_for(
    db: Session, event: Event, participant: Participant, top: int = DEFAULT_TOP
) -> SuggestionsOut:
    """`participant`'s suggestions with the names the answer shows."""
    return SuggestionsOut(
        participant=participant.key,
        suggestions=[
            SuggestionOut(
                participant=s.participant,
                name=person.name,
                job_title=person.job_title,
                organisation=person.organisation.name,
                organisation_key=person.organisation.key,
                score=s.score,
                reasons=list(s.reasons),
            )
            for s, person in suggestions_for_participant(db, event, participant.key, top)
        ],
    )


@router.get(
    "/me/suggestions",
    response_model=SuggestionsOut,
    summary="Partners I should meet next",
    description=f"{PARTICIPANT} Best first, each with at least one reason.",
)
def my_suggestions(participant: EventParticipant, db: DbSession, top: Top = 10) -> SuggestionsOut:
    return suggestions_for(db, participant.event, participant, top)


@router.get(
    "/participants/{key}/suggestions",
    response_model=SuggestionsOut,
    summary="Partners a participant should meet next",
    description=f"{STAFF} The same suggestions the participant sees; an unknown participant → 404.",
)
def participant_suggestions(
    key: str, access: StaffAccess, db: DbSession, top: Top = 10
) -> SuggestionsOut:
    participant = registration_service.get_participant(db, access.event, key)
    return suggestions_for(db, access.event, participant, top)
