"""Feedback after a meeting: each side answers three questions once — how useful it was
(1–5), whether a follow-up is planned (yes / no / maybe) and the kind of cooperation expected
(project, purchase, partnership, other).

Only the meeting's two participants answer (anyone else: the meeting is not found), once
it has begun and unless it was marked a no-show; a second answer is refused (Conflict) and
the first stays. The database's unique constraint holds that under concurrent answers too.
The closing mail (`closing_mails`) links each participant to the questions they have left.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaking.onsite.attendance import (
    check_begun,
    has_begun,
    marks,
    published_meeting,
    published_meetings,
)
from matchmaking.participants.registration import participant_page
from matchmaking.platform.errors import Conflict, Invalid
from matchmaking.platform.mail import Mail
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
from matchmaking.platform.wording import slot_label

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


# --- the closing mail --------------------------------------------------------------------------


def closing_mails(
    session: Session, event: Event, base_url: str, now: datetime | None = None
) -> list[Mail]:
    """One e-mail per participant (with an address) who has published meetings that have
    begun, are not no-shows and that they have not answered about: a link to each one's
    questions. Sending it again reaches only those who still have some to answer."""
    outcome = {uid: row.outcome for uid, row in marks(session, event).items()}
    done = set(
        session.execute(
            select(MeetingFeedback.uid, MeetingFeedback.participant_id).where(
                MeetingFeedback.event_id == event.id
            )
        ).tuples()
    )
    base = base_url.rstrip("/")
    open_questions: dict[int, list[tuple[Participant, dict[str, str]]]] = {}
    for m in published_meetings(session, event):
        if not has_begun(event, m, now) or outcome.get(m.uid) is MeetingOutcome.no_show:
            continue
        for me, other in ((m.participant_a, m.participant_b), (m.participant_b, m.participant_a)):
            if (m.uid, me.id) in done or not me.email:
                continue
            open_questions.setdefault(me.id, []).append(
                (
                    me,
                    {
                        "when": slot_label(m.slot.start, m.slot.end),
                        "with": f"{other.name} ({other.organisation.name})",
                        "url": f"{base}/e/{quote(event.slug)}/me/meetings/{quote(m.uid, safe='')}"
                        "/feedback",
                    },
                )
            )
    page = participant_page(base_url, event)
    return [
        Mail(
            to=items[0][0].email,
            template="feedback_request",
            context={
                "participant_name": items[0][0].name,
                "event_name": event.name,
                "meetings": [item for _, item in items],
                "page_url": page,
            },
        )
        for _, items in sorted(open_questions.items())
    ]
