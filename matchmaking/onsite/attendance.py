"""Attendance of published meetings: held or a no-show, marked by staff or either side.

A meeting is one of the event's published version, found by its `uid`; the mark is kept by
uid, so it stays with a meeting a re-plan keeps. A meeting is marked once it has begun (its
slot's start, in the event's time zone, has passed); the last mark counts, and says who made
it. A participant marks only their own meetings: for anyone else's the meeting is not found.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from matchmaking.delivery.agenda import meeting_parts
from matchmaking.planning.publishing import current_published_version
from matchmaking.platform.errors import Conflict, Invalid, NotFound
from matchmaking.platform.models import (
    Event,
    MeetingAttendance,
    MeetingOutcome,
    Participant,
    utcnow,
)
from matchmaking.platform.models import Meeting as MeetingRow
from matchmaking.platform.wording import slot_label


def published_meetings(session: Session, event: Event) -> list[MeetingRow]:
    """The meetings of the event's published version, by time and place (none unpublished)."""
    version = current_published_version(session, event.id)
    if version is None:
        return []
    rows = session.scalars(
        select(MeetingRow)
        .join(MeetingRow.slot)
        .where(MeetingRow.version_id == version.id)
        .options(*meeting_parts())
    ).unique()
    return sorted(rows, key=lambda m: (m.slot.start, m.location.position, m.location.id, m.id))


def published_meeting(
    session: Session, event: Event, uid: str, *, of: Participant | None = None
) -> MeetingRow:
    """The published meeting `uid`; with `of`, only when that participant is one of its two
    (anyone else's meeting is not found, as if it did not exist)."""
    version = current_published_version(session, event.id)
    meeting = (
        session.scalars(
            select(MeetingRow)
            .where(MeetingRow.version_id == version.id, MeetingRow.uid == uid)
            .options(*meeting_parts())
        ).first()
        if version is not None
        else None
    )
    if meeting is None or (of is not None and of.id not in _sides(meeting)):
        who = "your published meetings" if of is not None else "the published schedule"
        raise NotFound(f"There is no meeting '{uid}' in {who}.", field="path.uid")
    return meeting


def _sides(meeting: MeetingRow) -> tuple[int, int]:
    return meeting.participant_a_id, meeting.participant_b_id


def has_begun(event: Event, meeting: MeetingRow, now: datetime | None = None) -> bool:
    """Whether the meeting's slot has started (slot times are the event zone's wall clock)."""
    moment = (now or utcnow()).astimezone(ZoneInfo(event.timezone)).replace(tzinfo=None)
    return meeting.slot.start <= moment


def check_begun(event: Event, meeting: MeetingRow, what: str, now: datetime | None) -> None:
    if not has_begun(event, meeting, now):
        when = slot_label(meeting.slot.start, meeting.slot.end)
        raise Conflict(f"The meeting is on {when} ({event.timezone}); {what} once it has begun.")


@dataclass(frozen=True, slots=True)
class Mark:
    uid: str
    outcome: MeetingOutcome | None
    #: Key of who did not come, for a no-show with one side absent.
    absent: str | None
    marked_at: datetime | None
    #: "staff" or "participant" (who marked it last), None while unmarked.
    marked_by: str | None


def marks(
    session: Session, event: Event, uids: Collection[str] | None = None
) -> dict[str, MeetingAttendance]:
    """The event's attendance marks by meeting uid (only of `uids`, when given)."""
    query = (
        select(MeetingAttendance)
        .where(MeetingAttendance.event_id == event.id)
        .options(joinedload(MeetingAttendance.absent))
    )
    if uids is not None:
        query = query.where(MeetingAttendance.uid.in_(sorted(uids)))
    rows = session.scalars(query)
    return {row.uid: row for row in rows}


def mark_of(row: MeetingAttendance | None, uid: str) -> Mark:
    if row is None:
        return Mark(uid, None, None, None, None)
    return Mark(
        uid=uid,
        outcome=row.outcome,
        absent=row.absent.key if row.absent is not None else None,
        marked_at=row.marked_at,
        marked_by="staff" if row.organiser_id is not None else "participant",
    )


def mark(
    session: Session,
    event: Event,
    meeting: MeetingRow,
    outcome: MeetingOutcome,
    *,
    absent: str | None = None,
    organiser_id: int | None = None,
    participant: Participant | None = None,
    now: datetime | None = None,
) -> Mark:
    """Mark the meeting held, or a no-show of `absent` (a key of one of its two; None: neither
    came). A participant who marks a no-show without saying who means the other side."""
    check_begun(event, meeting, "mark it", now)
    sides = {
        meeting.participant_a.key: meeting.participant_a,
        meeting.participant_b.key: meeting.participant_b,
    }
    if outcome is MeetingOutcome.held:
        if absent:
            raise Invalid("A meeting that was held has nobody absent.", field="body.absent")
        absent_row = None
    else:
        if absent is None and participant is not None:
            absent = next(key for key, p in sides.items() if p.id != participant.id)
        if absent is not None and absent not in sides:
            raise Invalid(
                f"'{absent}' is not one of the meeting's two participants.", field="body.absent"
            )
        absent_row = sides[absent] if absent is not None else None
    row = session.scalar(
        select(MeetingAttendance).where(
            MeetingAttendance.event_id == event.id, MeetingAttendance.uid == meeting.uid
        )
    )
    if row is None:
        row = MeetingAttendance(event_id=event.id, uid=meeting.uid)
        session.add(row)
    row.outcome = outcome
    row.absent = absent_row
    row.organiser_id = organiser_id
    row.participant_id = participant.id if participant is not None else None
    row.marked_at = now or utcnow()
    session.flush()
    return mark_of(row, meeting.uid)


def clear(session: Session, event: Event, meeting: MeetingRow) -> Mark:
    """The meeting is unmarked again (no change when it was not marked)."""
    row = session.scalar(
        select(MeetingAttendance).where(
            MeetingAttendance.event_id == event.id, MeetingAttendance.uid == meeting.uid
        )
    )
    if row is not None:
        session.delete(row)
        session.flush()
    return mark_of(None, meeting.uid)
