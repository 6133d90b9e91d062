"""Feedback after a meeting: each side answers three questions once — how useful it was
(1–5), whether a follow-up is planned (yes / no / maybe) and the kind of cooperation expected
(project, purchase, partnership, other).

Only the meeting's two participants answer (anyone else: the meeting is not found), once
it has begun and unless it was marked a no-show; a second answer is refused (Conflict) and
the first stays. The database's unique constraint holds that under concurrent answers too.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaking.onsite.attendance import check_begun, published_meeting
from matchmaking.platform.errors import Conflict, Invalid
from matchmaking.platform.models import (
    Cooperation,
    Event,
    FollowUp,
    MeetingAttendance,
    MeetingFeedback,
    MeetingOutcome,
    Participant,
    utcnow,
)

USEFULNESS = range(1, 6)


def give_feedback(
    session: Session,
    event: Event,
    participant: Participant,
    uid: str,
    *,
    usefulness: int,
    follow_up: FollowUp,
    cooperation: Cooperation,
    now: datetime | None = None,
) -> MeetingFeedback:
    """Store the participant's answers about their published meeting `uid`."""
    meeting = published_meeting(session, event, uid, of=participant)
    if usefulness not in USEFULNESS:
        raise Invalid(
            "How useful the meeting was is a number from 1 to 5.", field="body.usefulness"
        )
    check_begun(event, meeting, "answer about it", now)
    outcome = session.scalar(
        select(MeetingAttendance.outcome).where(
            MeetingAttendance.event_id == event.id, MeetingAttendance.uid == uid
        )
    )
    if outcome is MeetingOutcome.no_show:
        raise Conflict("The meeting is marked a no-show: there is nothing to answer about.")
    if uid in answered(session, event, participant):
        raise Conflict("You have answered about this meeting already; answers are given once.")
    row = MeetingFeedback(
        event_id=event.id,
        uid=uid,
        participant_id=participant.id,
        usefulness=usefulness,
        follow_up=follow_up,
        cooperation=cooperation,
        created_at=now or utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def answered(session: Session, event: Event, participant: Participant) -> set[str]:
    """The uids of the meetings the participant has answered about."""
    return set(
        session.scalars(
            select(MeetingFeedback.uid).where(
                MeetingFeedback.event_id == event.id,
                MeetingFeedback.participant_id == participant.id,
            )
        )
    )
