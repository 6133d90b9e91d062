"""The event day over HTTP: check-in at the venue, attendance of meetings, door lists,
feedback after a meeting, the report (matchmaking/onsite)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import WHO_PARTICIPANT as ME
from api.deps import WHO_STAFF as STAFF
from api.deps import AppSettings, DbSession, EventParticipant, StaffAccess
from api.problems import FieldError, conflict, problem_responses
from api.routers.jobs import Runner, job_out, queue_committed, solve_under_way
from api.schemas.common import Limit, Offset
from api.schemas.eventday import (
    AbsenceIn,
    AbsenceOut,
    AttendanceIn,
    AttendanceOut,
    CheckInOut,
    CheckInPage,
    DayMeetingOut,
    DoorListOut,
    FeedbackIn,
    FeedbackMailsOut,
    FeedbackOut,
    ReportOut,
    RestOfDayIn,
    RestOfDayOut,
)
from matchmaking.onsite import absences, attendance, checkin, door_lists, feedback, report
from matchmaking.onsite.checkin import Arrival
from matchmaking.planning import jobs as job_service
from matchmaking.platform import mail
from matchmaking.platform.errors import DomainError
from matchmaking.platform.models import Cooperation, FollowUp, MeetingOutcome, utcnow

router = APIRouter(
    prefix="/api/v1/events/{slug}", tags=["event day"], responses=problem_responses(401, 404)
)

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
    responses=problem_responses(422),
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
    responses=problem_responses(403, 422),
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
    responses=problem_responses(403, 422),
    summary="Undo a participant's arrival",
    description=f"{STAFF} The participant is no longer marked arrived.",
)
def undo_check_in(access: StaffAccess, db: DbSession, key: Key) -> CheckInOut:
    person = checkin.find_participant(db, access.event, key)
    arrival = checkin.undo_check_in(db, access.event, person)
    db.commit()
    return _check_in_out(arrival)


# --- attendance of meetings ------------------------------------------------------------------

Uid = Annotated[str, Path(min_length=1, max_length=200, description="The meeting's uid.")]
MARKING = (
    "A meeting of the published schedule, once it has begun (409 before); the last mark "
    "counts. `absent` only with `no_show` and only one of the meeting's two (422 naming "
    "`body.absent`)."
)


def _attendance_out(mark: attendance.Mark) -> AttendanceOut:
    return AttendanceOut(
        uid=mark.uid,
        outcome=mark.outcome.value if mark.outcome is not None else None,
        absent=mark.absent,
        marked_by=mark.marked_by,  # type: ignore[arg-type]
        marked_at=mark.marked_at,
    )


@router.get(
    "/meetings",
    response_model=list[DayMeetingOut],
    summary="The published meetings with their attendance",
    description=f"{STAFF} By time and place; empty while nothing is published.",
)
def day_meetings(access: StaffAccess, db: DbSession) -> list[DayMeetingOut]:
    marks = attendance.marks(db, access.event)
    out = []
    for m in attendance.published_meetings(db, access.event):
        a, b = m.participant_a, m.participant_b
        out.append(
            DayMeetingOut(
                uid=m.uid,
                session=m.slot.session.name,
                starts=m.slot.start,
                ends=m.slot.end,
                location_name=m.location.name,
                kind=m.kind,
                participants=[a.key, b.key],
                names=[a.name, b.name],
                organisations=[a.organisation.name, b.organisation.name],
                attendance=_attendance_out(attendance.mark_of(marks.get(m.uid), m.uid)),
            )
        )
    return out


@router.put(
    "/meetings/{uid}/attendance",
    response_model=AttendanceOut,
    responses=problem_responses(403, 409, 422),
    summary="Mark a meeting held or a no-show",
    description=f"{STAFF} {MARKING}",
)
def mark_meeting(access: StaffAccess, db: DbSession, uid: Uid, body: AttendanceIn) -> AttendanceOut:
    meeting = attendance.published_meeting(db, access.event, uid)
    mark = attendance.mark(
        db, access.event, meeting, MeetingOutcome(body.outcome), absent=body.absent,
        organiser_id=access.organiser.id,
    )  # fmt: skip
    db.commit()
    return _attendance_out(mark)


@router.delete(
    "/meetings/{uid}/attendance",
    response_model=AttendanceOut,
    responses=problem_responses(403, 422),
    summary="Unmark a meeting",
    description=f"{STAFF} The meeting is neither held nor a no-show again.",
)
def unmark_meeting(access: StaffAccess, db: DbSession, uid: Uid) -> AttendanceOut:
    meeting = attendance.published_meeting(db, access.event, uid)
    mark = attendance.clear(db, access.event, meeting)
    db.commit()
    return _attendance_out(mark)


@router.put(
    "/me/meetings/{uid}/attendance",
    response_model=AttendanceOut,
    responses=problem_responses(409, 422),
    summary="Mark my meeting held or a no-show",
    description=f"{ME} Only one's own meetings: anyone else's is 404. {MARKING}",
)
def mark_my_meeting(
    me: EventParticipant, db: DbSession, uid: Uid, body: AttendanceIn
) -> AttendanceOut:
    meeting = attendance.published_meeting(db, me.event, uid, of=me)
    mark = attendance.mark(
        db, me.event, meeting, MeetingOutcome(body.outcome), absent=body.absent, participant=me
    )
    db.commit()
    return _attendance_out(mark)


@router.delete(
    "/me/meetings/{uid}/attendance",
    response_model=AttendanceOut,
    responses=problem_responses(422),
    summary="Unmark my meeting",
    description=f"{ME} Only one's own meetings: anyone else's is 404.",
)
def unmark_my_meeting(me: EventParticipant, db: DbSession, uid: Uid) -> AttendanceOut:
    meeting = attendance.published_meeting(db, me.event, uid, of=me)
    mark = attendance.clear(db, me.event, meeting)
    db.commit()
    return _attendance_out(mark)


# --- door lists ------------------------------------------------------------------------------


@router.get(
    "/door-lists",
    response_model=list[DoorListOut],
    responses=problem_responses(422),
    summary="Door lists: who meets at each table or room, per session",
    description=f"{STAFF} From the published schedule, by location then session (video rooms "
    "have none); only one `location` or `session` (keys) when given (404 naming the "
    "parameter for a key the event lacks). Each person says whether they checked in.",
)
def list_door_lists(
    access: StaffAccess,
    db: DbSession,
    location: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    session: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> list[DoorListOut]:
    found = door_lists.door_lists(db, access.event, location=location, block=session)
    return [DoorListOut.model_validate(d, from_attributes=True) for d in found]


# --- feedback --------------------------------------------------------------------------------


@router.post(
    "/me/meetings/{uid}/feedback",
    response_model=FeedbackOut,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 422),
    summary="Answer the three questions about my meeting",
    description=f"{ME} Once per meeting and side: a second answer is 409 and the first "
    "stays. Only one's own published meetings (anyone else's: 404), once they have begun "
    "and unless marked a no-show (409).",
)
def give_feedback(me: EventParticipant, db: DbSession, uid: Uid, body: FeedbackIn) -> FeedbackOut:
    row = feedback.give_feedback(
        db, me.event, me, uid, usefulness=body.usefulness, follow_up=FollowUp(body.follow_up),
        cooperation=Cooperation(body.cooperation),
    )  # fmt: skip
    db.commit()
    return FeedbackOut(
        uid=row.uid,
        usefulness=row.usefulness,
        follow_up=row.follow_up.value,
        cooperation=row.cooperation.value,
        answered_at=row.created_at,
    )


# --- the report ------------------------------------------------------------------------------


def report_out(found: report.Report) -> ReportOut:
    return ReportOut.model_validate(found, from_attributes=True)


@router.get(
    "/report",
    response_model=ReportOut,
    summary="The event's report: meetings planned and held, no-shows, satisfaction",
    description=f"{STAFF} Meetings of the published version planned, held and no-shows (their "
    "attendance marks) by kind, by delegation pair, by country pair and by sector (a meeting "
    "under every sector either side works in); participants with at "
    "least one meeting; check-ins; the feedback answers (usefulness, follow-ups, cooperation).",
)
def event_report(access: StaffAccess, db: DbSession) -> ReportOut:
    return report_out(report.event_report(db, access.event))


@router.post(
    "/feedback-mails",
    response_model=FeedbackMailsOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(403),
    summary="Send the closing mail with the feedback links",
    description=f"{STAFF} One e-mail to each participant with published meetings that have "
    "begun, are not no-shows and that they have not answered about, linking each one's three "
    "questions. Sending it again reaches only those who still have some to answer.",
)
def send_feedback_mails(
    access: StaffAccess, db: DbSession, settings: AppSettings
) -> FeedbackMailsOut:
    mails = feedback.closing_mails(db, access.event, settings.base_url)
    queued = mail.queue(db, mails, event_id=access.event.id)
    db.commit()
    return FeedbackMailsOut(queued=queued)


# --- who is away, and the re-plan of the rest of the day ------------------------------------

AWAY = (
    "Someone away gets no meeting from then on in the next re-plan of the rest of the day; "
    "checking them in ends it. The time must fall within the event (422 naming the field)."
)


def _absence_out(away: absences.Away) -> AbsenceOut:
    person = away.participant
    return AbsenceOut(
        participant=person.key,
        name=person.name,
        organisation=person.organisation.name,
        away_from=away.absent_from,
    )


@router.get(
    "/absences",
    response_model=list[AbsenceOut],
    summary="Who is marked away",
    description=f"{STAFF} By name. {AWAY}",
)
def list_absences(access: StaffAccess, db: DbSession) -> list[AbsenceOut]:
    return [_absence_out(a) for a in absences.absences(db, access.event)]


@router.put(
    "/participants/{key}/absence",
    response_model=AbsenceOut,
    responses=problem_responses(403, 422),
    summary="Mark a participant away",
    description=f"{STAFF} From `away_from` on (they did not come, or leave early); a second "
    f"mark moves the time. 404 for a participant of another event. {AWAY}",
)
def mark_away(access: StaffAccess, db: DbSession, key: Key, body: AbsenceIn) -> AbsenceOut:
    person = checkin.find_participant(db, access.event, key)
    away = absences.mark_absent(db, access.event, person, body.away_from, by=access.organiser.id)
    db.commit()
    return _absence_out(away)


@router.delete(
    "/participants/{key}/absence",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(403, 422),
    summary="The participant is not away after all",
    description=f"{STAFF} No change when they were not marked away.",
)
def clear_away(access: StaffAccess, db: DbSession, key: Key) -> None:
    person = checkin.find_participant(db, access.event, key)
    absences.clear_absence(db, access.event, person)
    db.commit()


@router.post(
    "/rest-of-day-replans",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RestOfDayOut,
    responses=problem_responses(403, 409, 422),
    summary="Re-plan the rest of the day without the people away",
    description=f"{STAFF} One action: marks the people of `absent` away (and everyone not "
    "checked in, with `not_checked_in_away`), then queues a re-plan of the published version "
    "from `frozen_before` (default now): meetings before it stay as they are, the people away "
    "get no meeting after it, everyone else keeps their published meetings unless moving "
    "them meets more wishes, and wishes not met before may take the freed slots. The job's "
    "version is checked (its changes against the published one) and published like any "
    "other, which tells everyone whose agenda changes. 404 naming `body.absent[i].participant` "
    "for someone of another event, 422 for a time outside the event, 409 while a solve is "
    "under way or when nothing is published; nothing is stored then.",
)
def replan_rest_of_day(
    access: StaffAccess,
    db: DbSession,
    runner: Runner,
    settings: AppSettings,
    response: Response,
    body: RestOfDayIn,
) -> RestOfDayOut:
    event = access.event
    try:
        done = absences.replan_rest_of_day(
            db,
            event,
            frozen_before=body.frozen_before or utcnow(),
            absent=[(a.participant, a.away_from) for a in body.absent],
            not_checked_in_away=body.not_checked_in_away,
            by=access.organiser.id,
            time_limit_seconds=body.time_limit_seconds,
            settings=settings,
        )
    except job_service.SolveUnderWay as busy:
        db.rollback()
        raise solve_under_way(event.slug, busy) from None
    except job_service.JobError as refused:
        db.rollback()
        raise conflict(
            "Nothing is published yet: there is no day to re-plan.",
            [FieldError(field=f"body.{refused.field}", message=refused.message)],
        ) from None
    except DomainError:
        db.rollback()
        raise
    queue_committed(db, runner, response, event.slug, done.job)
    return RestOfDayOut(
        frozen_before=done.frozen_before,
        away=[_absence_out(a) for a in done.away],
        job=job_out(db, done.job, event.slug),
    )
