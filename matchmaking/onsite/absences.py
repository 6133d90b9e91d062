"""Who is away on the event day, and the one action that re-plans the rest of the day
without them.

Staff mark a participant away from a moment (they did not come, or they leave early); one
`Absence` row per person, marking again moves the moment, and checking them in (they came
after all, or came back) ends it. `replan_rest_of_day` is the organiser's one action: it
marks the people named (and, when asked, everyone not checked in) away and queues a re-plan
of the published version from a moment T (`frozen_before`): meetings before T stay, the
people away get none after it, the others keep theirs unless moving them meets more wishes
(see `matchmaking.planning.rest_of_day`). The re-plan is an ordinary solve job; its version
is checked on the version page and published as every other, which tells everyone whose
agenda changes.

Every moment is checked against the event's time grid before anything is stored: a moment
outside the event (before its first slot begins, after its last one ends) is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from matchmaking.onsite.checkin import find_participant
from matchmaking.planning import jobs
from matchmaking.planning.rest_of_day import instant
from matchmaking.platform.errors import Invalid, NotFound
from matchmaking.platform.models import (
    Absence,
    Attendance,
    CheckIn,
    Event,
    Participant,
    Slot,
    SolveJob,
    as_utc,
    utcnow,
)
from matchmaking.platform.settings import Settings


@dataclass(frozen=True, slots=True)
class Away:
    participant: Participant
    #: From when they are away (UTC).
    absent_from: datetime


@dataclass(frozen=True, slots=True)
class RestOfDay:
    """What the one action did: the re-plan job queued, from when, and who is away."""

    job: SolveJob
    frozen_before: datetime
    away: list[Away]


def event_moment(event: Event, wall_clock: datetime) -> datetime:
    """A wall-clock time of the event's zone (as a form gives it) as a UTC instant; an aware
    time is taken as it is."""
    if wall_clock.tzinfo is not None:
        return instant(wall_clock)
    return instant(wall_clock.replace(tzinfo=ZoneInfo(event.timezone)))


def event_span(session: Session, event: Event) -> tuple[datetime, datetime] | None:
    """When the event's first slot begins and its last one ends (UTC); None without slots."""
    first, last = session.execute(
        select(func.min(Slot.start), func.max(Slot.end)).where(Slot.event_id == event.id)
    ).one()
    if first is None or last is None:
        return None
    return event_moment(event, first), event_moment(event, last)


def within_event(session: Session, event: Event, moment: datetime, field: str) -> datetime:
    """`moment` as UTC when it falls within the event's time grid; `Invalid` naming `field`
    otherwise."""
    span = event_span(session, event)
    if span is None:
        raise Invalid("The event has no time grid yet.", field=field)
    try:
        instant = event_moment(event, moment)
    except OverflowError:  # year 1 or 9999 moved across the date line
        instant = span[0] - (span[1] - span[0]) - timedelta(days=1)
    if not span[0] <= instant <= span[1]:
        zone = ZoneInfo(event.timezone)
        start, end = (t.astimezone(zone).strftime("%a %d %b %H:%M") for t in span)
        raise Invalid(
            f"The time must fall within the event, from {start} to {end} ({event.timezone}).",
            field=field,
        )
    return instant


def suggested_moment(session: Session, event: Event, now: datetime | None = None) -> datetime:
    """What a form offers as "from": now, or the nearest moment of the event when now is
    before or after it (UTC)."""
    moment = instant(now or utcnow())
    span = event_span(session, event)
    if span is None:
        return moment
    return min(max(moment, span[0]), span[1])


def _check_own(event: Event, participant: Participant) -> None:
    if participant.event_id != event.id:
        raise NotFound(f"The event has no participant '{participant.key}'.", field="path.key")


def mark_absent(
    session: Session,
    event: Event,
    participant: Participant,
    absent_from: datetime,
    *,
    by: int | None = None,
    field: str = "body.away_from",
) -> Away:
    """Mark the participant away from `absent_from` (within the event; `Invalid` naming
    `field` otherwise); a second mark moves the moment."""
    _check_own(event, participant)
    moment = within_event(session, event, absent_from, field)
    row = session.scalar(select(Absence).where(Absence.participant_id == participant.id))
    if row is None:
        row = Absence(event_id=event.id, participant_id=participant.id, absent_from=moment)
        session.add(row)
    row.absent_from = moment
    row.organiser_id = by
    row.created_at = utcnow()
    session.flush()
    return Away(participant, moment)


def clear_absence(session: Session, event: Event, participant: Participant) -> None:
    """The participant is no longer away (no change when they were not)."""
    _check_own(event, participant)
    row = session.scalar(select(Absence).where(Absence.participant_id == participant.id))
    if row is not None:
        session.delete(row)
        session.flush()


def absent_from(session: Session, participant: Participant) -> datetime | None:
    return as_utc(
        session.scalar(select(Absence.absent_from).where(Absence.participant_id == participant.id))
    )


def absences(session: Session, event: Event) -> list[Away]:
    """The event's people marked away, by name."""
    rows = session.execute(
        select(Participant, Absence.absent_from)
        .join(Absence, Absence.participant_id == Participant.id)
        .where(Absence.event_id == event.id)
        .options(selectinload(Participant.organisation))
        .order_by(func.lower(Participant.name), Participant.id)
    ).all()
    return [Away(person, instant(moment)) for person, moment in rows]


def not_checked_in(session: Session, event: Event) -> list[Participant]:
    """The event's participants who come to the venue and have not been marked arrived, by
    name. Those who attend online never pass the door: not checking in says nothing of them."""
    arrived = select(CheckIn.participant_id).where(CheckIn.event_id == event.id)
    return list(
        session.scalars(
            select(Participant)
            .where(
                Participant.event_id == event.id,
                Participant.attendance == Attendance.onsite,
                Participant.id.not_in(arrived),
            )
            .order_by(func.lower(Participant.name), Participant.id)
        )
    )


def replan_rest_of_day(
    session: Session,
    event: Event,
    *,
    frozen_before: datetime,
    absent: Sequence[tuple[str, datetime | None]] = (),
    not_checked_in_away: bool = False,
    by: int | None = None,
    time_limit_seconds: float | None = None,
    settings: Settings | None = None,
) -> RestOfDay:
    """The organiser's one action (see the module docstring): mark the participants of
    `absent` (keys) away, each from its moment or from `frozen_before`, and everyone not
    checked in too when `not_checked_in_away`; then queue the re-plan of the rest of the day
    from `frozen_before`.

    Everything is checked before anything is written: `Invalid` naming `body.frozen_before`
    or `body.absent[i].away_from` for a moment outside the event, `NotFound` naming
    `body.absent[i].participant` for someone not of this event; `jobs.SolveUnderWay` while
    a solve runs, `jobs.JobError` when nothing is published. Flushes; the caller commits,
    then submits the job, or rolls back.
    """
    moment = within_event(session, event, frozen_before, "body.frozen_before")
    wanted: dict[int, tuple[Participant, datetime]] = {}
    for i, (key, since) in enumerate(absent):
        try:
            person = find_participant(session, event, key)
        except NotFound as error:
            raise NotFound(error.detail, field=f"body.absent[{i}].participant") from None
        field = f"body.absent[{i}].away_from"
        wanted[person.id] = (
            person,
            moment if since is None else within_event(session, event, since, field),
        )
    if not_checked_in_away:
        for person in not_checked_in(session, event):
            wanted.setdefault(person.id, (person, moment))
    job = jobs.create_solve_job(
        session,
        event,
        time_limit_seconds=time_limit_seconds,
        replan=True,
        frozen_before=moment,
        requested_by=by,
        settings=settings,
    )
    for person, since in wanted.values():
        mark_absent(session, event, person, since, by=by)
    return RestOfDay(job, moment, absences(session, event))
