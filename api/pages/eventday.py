"""The event day's pages: check-in for staff on a phone (search a name, mark arrived, undo),
the check-in page a badge's QR code opens, printable badges, and the meetings of the day
marked held or no-shows by staff or either side, door lists, feedback (matchmaking/onsite)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy import func, select

from api.deps import DbSession
from api.pages import charts
from api.pages.common import (
    PageError,
    chosen_action,
    organiser_event,
    participant_event,
    redirect,
    render,
    settings_of,
)
from api.pages.forms import PostedForm
from api.routers.jobs import start_job_runner
from matchmaking.delivery.agenda import participant_agenda
from matchmaking.delivery.exports import to_xlsx
from matchmaking.onsite import absences, attendance, checkin, door_lists, feedback, report
from matchmaking.planning import jobs as job_service
from matchmaking.planning import publishing as publishing_service
from matchmaking.platform import mail
from matchmaking.platform.errors import Conflict, DomainError, NotFound
from matchmaking.platform.models import (
    Cooperation,
    Event,
    FollowUp,
    MeetingOutcome,
    Participant,
)
from matchmaking.platform.wording import fold, slot_label

router = APIRouter()

#: People a check-in search shows at once (a phone screen's worth, a few scrolls).
SEARCH_LIMIT = 30
#: Badges one page prints at most.
BADGE_LIMIT = 500


def _person(db: DbSession, event: Event, key: str) -> Participant:
    try:
        return checkin.find_participant(db, event, key[:64])
    except NotFound as error:
        raise PageError(404, "Participant not found", error.detail) from error


def _badge(request: Request, event: Event, person: Participant) -> dict[str, object]:
    url = checkin.check_in_url(settings_of(request).base_url, event, person)
    return {
        "person": person,
        "qr": checkin.qr_svg(url, title=f"Check-in code of {person.name}"),
    }


@router.get("/organiser/e/{slug}/check-in", response_class=HTMLResponse, include_in_schema=False)
def check_in_search(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, _ = organiser_event(request, db, slug)
    q = request.query_params.get("q", "").strip()[:200]
    found, total, arrived = checkin.search(db, event, q, SEARCH_LIMIT, 0)
    everyone = db.scalar(
        select(func.count()).select_from(Participant).where(Participant.event_id == event.id)
    )
    return render(
        request,
        "pages/check_in.html",
        {
            "title": f"Check-in · {event.name}",
            "event": event,
            "organiser": organiser,
            "q": q,
            "found": found,
            "total": total,
            "arrived": arrived,
            "everyone": everyone,
            "flash": request.query_params.get("flash", "")[:300],
            "zone": event.timezone,
        },
    )


@router.get(
    "/organiser/e/{slug}/check-in/{key}", response_class=HTMLResponse, include_in_schema=False
)
def check_in_person(slug: str, key: str, request: Request, db: DbSession) -> HTMLResponse:
    """The page a badge's QR code opens: who it is, whether they arrived, their meetings."""
    event, organiser, _ = organiser_event(request, db, slug)
    person = _person(db, event, key)
    agenda = participant_agenda(db, person)
    return render(
        request,
        "pages/check_in_person.html",
        {
            "title": f"Check in {person.name}",
            "event": event,
            "organiser": organiser,
            "person": person,
            "arrived_at": checkin.arrived_at(db, person),
            "away_from": absences.absent_from(db, person),
            "suggested": _wall_clock(event, absences.suggested_moment(db, event)),
            "meetings": [
                (datetime.fromisoformat(m.start), datetime.fromisoformat(m.end), m)
                for m in agenda.meetings
            ],
            "flash": request.query_params.get("flash", "")[:300],
        },
    )


@router.post("/organiser/e/{slug}/check-in/{key}", include_in_schema=False)
def check_in_action(
    slug: str, key: str, request: Request, db: DbSession, values: PostedForm
) -> Response:
    """Mark arrived (`action=arrive`) or undo it (`action=undo`); back to the search (with
    its words) or to the person's page."""
    event, organiser, _ = organiser_event(request, db, slug, values)
    person = _person(db, event, key)
    action = chosen_action(
        values.get("action"), ("arrive", "undo"), "Choose to mark the person arrived or undo it."
    )
    if action == "arrive":
        checkin.check_in(db, event, person, by=organiser.id)
        flash = f"{person.name} ({person.organisation.name}) has arrived."
    else:
        checkin.undo_check_in(db, event, person)
        flash = f"{person.name} is no longer marked arrived."
    db.commit()
    q = str(values.get("q", ""))[:200]
    if values.get("back") == "search":
        return redirect(
            f"/organiser/e/{event.slug}/check-in?q={quote_plus(q)}&flash={quote_plus(flash)}"
        )
    return redirect(
        f"/organiser/e/{event.slug}/check-in/{quote_plus(person.key)}?flash={quote_plus(flash)}"
    )


# --- who is away, and the re-plan of the rest of the day -------------------------------------


def _wall_clock(event: Event, moment: datetime) -> str:
    """A UTC moment as a `datetime-local` field's value, in the event's time zone."""
    return moment.astimezone(ZoneInfo(event.timezone)).strftime("%Y-%m-%dT%H:%M")


def _said(event: Event, moment: datetime) -> str:
    """A UTC moment in words, in the event's time zone: 'Sat 26 Oct 09:30'."""
    return moment.astimezone(ZoneInfo(event.timezone)).strftime("%a %d %b %H:%M")


def _posted_moment(value: object, label: str) -> datetime:
    """A posted `datetime-local` value: the event's wall clock (the domain checks that it
    falls within the event); 422 when it is no time."""
    try:
        return datetime.fromisoformat(str(value)[:40])
    except ValueError:
        raise PageError(
            422, "Invalid time", f"Give {label} as a day and a time of the event."
        ) from None


def _domain_refusal(db: DbSession, error: DomainError) -> PageError:
    db.rollback()
    status = 404 if isinstance(error, NotFound) else 409 if isinstance(error, Conflict) else 422
    return PageError(status, error.title, error.detail)


@router.post("/organiser/e/{slug}/check-in/{key}/away", include_in_schema=False)
def away_action(
    slug: str, key: str, request: Request, db: DbSession, values: PostedForm
) -> Response:
    """Staff mark a participant away from a time (`action=away`, `away_from`) or back
    (`action=back`); then on to the re-plan of the rest of the day, or back to the person."""
    event, organiser, _ = organiser_event(request, db, slug, values)
    person = _person(db, event, key)
    action = chosen_action(
        values.get("action"), ("away", "back"), "Choose to mark the person away or back."
    )
    try:
        if action == "away":
            moment = _posted_moment(values.get("away_from", ""), "when they are away")
            away = absences.mark_absent(db, event, person, moment, by=organiser.id)
            flash = f"{person.name} is away from {_said(event, away.absent_from)}."
        else:
            absences.clear_absence(db, event, person)
            flash = f"{person.name} is no longer marked away."
    except DomainError as error:
        raise _domain_refusal(db, error) from error
    db.commit()
    if action == "away":
        return redirect(f"/organiser/e/{event.slug}/rest-of-day?flash={quote_plus(flash)}")
    return redirect(
        f"/organiser/e/{event.slug}/check-in/{quote_plus(person.key)}?flash={quote_plus(flash)}"
    )


@router.get("/organiser/e/{slug}/rest-of-day", response_class=HTMLResponse, include_in_schema=False)
def rest_of_day_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    """Who is away, who has not come, and the one action that re-plans the rest of the day
    without them (owners and staff of the event)."""
    event, organiser, _ = organiser_event(request, db, slug)
    return render(
        request,
        "pages/rest_of_day.html",
        {
            "title": f"Re-plan the rest of the day · {event.name}",
            "event": event,
            "organiser": organiser,
            "away": absences.absences(db, event),
            "not_come": absences.not_checked_in(db, event),
            "suggested": _wall_clock(event, absences.suggested_moment(db, event)),
            "span": absences.event_span(db, event),
            "published": publishing_service.current_published_version(db, event.id),
            "flash": request.query_params.get("flash", "")[:300],
        },
    )


@router.post("/organiser/e/{slug}/rest-of-day", include_in_schema=False)
def rest_of_day_action(slug: str, request: Request, db: DbSession, values: PostedForm) -> Response:
    """The one action: mark those not checked in away when asked, and queue the re-plan of
    the rest of the day from `frozen_before`; its progress and version are on the dashboard,
    whose version page shows the changes before they are published."""
    event, organiser, _ = organiser_event(request, db, slug, values)
    moment = _posted_moment(values.get("frozen_before", ""), "from when to re-plan")
    settings = settings_of(request)
    limit = min(60.0, settings.solve_time_limit_seconds)
    try:
        done = absences.replan_rest_of_day(
            db, event, frozen_before=moment,
            not_checked_in_away=values.get("not_checked_in") == "yes",
            by=organiser.id, time_limit_seconds=limit, settings=settings,
        )  # fmt: skip
    except job_service.SolveUnderWay as error:
        raise _domain_refusal(db, error) from error
    except job_service.JobError:
        db.rollback()
        raise PageError(
            409, "Nothing is published", "Publish a schedule first: there is no day to re-plan."
        ) from None
    except DomainError as error:
        raise _domain_refusal(db, error) from error
    db.commit()
    start_job_runner(request.app).submit(done.job.id, time_limit_seconds=limit)
    names = [a.participant.name for a in done.away]
    who = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    flash = (
        f"Re-planning from {_said(event, done.frozen_before)} without "
        f"{who or 'nobody away'}: check the new version's changes, then publish it."
    )
    return redirect(f"/organiser/e/{event.slug}?flash={quote_plus(flash)}#job-{done.job.id}")


@router.get("/organiser/e/{slug}/badges", response_class=HTMLResponse, include_in_schema=False)
def badges(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    """Printable badges (all participants, or those a search finds), each with its QR code."""
    event, organiser, _ = organiser_event(request, db, slug)
    q = request.query_params.get("q", "").strip()[:200]
    found, total, _ = checkin.search(db, event, q, BADGE_LIMIT, 0)
    return render(
        request,
        "pages/badges.html",
        {
            "title": f"Badges · {event.name}",
            "event": event,
            "organiser": organiser,
            "q": q,
            "total": total,
            "badges": [_badge(request, event, a.participant) for a in found],
        },
    )


@router.get("/e/{slug}/me/badge", response_class=HTMLResponse, include_in_schema=False)
def my_badge(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    """A participant's own badge to print, with the check-in code staff scan."""
    event, me = participant_event(request, db, slug)
    return render(
        request,
        "pages/badges.html",
        {
            "title": f"Badge of {me.name}",
            "event": event,
            "me": me,
            "q": "",
            "total": 1,
            "badges": [_badge(request, event, me)],
        },
    )


def agenda_check_in_code(request: Request, event: Event, me: Participant) -> str:
    """The QR code the agenda page shows (staff scan it to check the participant in)."""
    url = checkin.check_in_url(settings_of(request).base_url, event, me)
    return checkin.qr_svg(url, title=f"Check-in code of {me.name}")


# --- attendance of meetings ------------------------------------------------------------------


def _set_attendance(
    db: DbSession,
    event: Event,
    meeting: Any,
    values: dict[str, Any],
    *,
    organiser_id: int | None = None,
    participant: Participant | None = None,
) -> str:
    """Apply a posted attendance button (`action` held, no_show or clear, `absent` a key);
    the flash message in words."""
    action = str(values.get("action", ""))
    a, b = meeting.participant_a, meeting.participant_b
    pair = f"{a.name} & {b.name}"
    try:
        if action == "clear":
            attendance.clear(db, event, meeting)
            return f"The meeting of {pair} is no longer marked."
        # "held", "no_show" (neither came; for a participant: the other side) or
        # "absent:<key>" (that side did not come).
        absent = action.partition(":")[2] if action.startswith("absent:") else None
        outcome = "no_show" if absent else action
        if outcome not in ("held", "no_show"):
            raise PageError(422, "Unknown action", "Choose held, no-show or undo.")
        mark = attendance.mark(
            db, event, meeting, MeetingOutcome(outcome), absent=absent,
            organiser_id=organiser_id, participant=participant,
        )  # fmt: skip
    except DomainError as error:
        raise _domain_refusal(db, error) from error
    if mark.outcome is MeetingOutcome.held:
        return f"The meeting of {pair} is marked held."
    names = {a.key: a.name, b.key: b.name}
    who = names.get(mark.absent or "", "neither of them")
    return f"The meeting of {pair} is marked a no-show ({who} did not come)."


@router.get("/organiser/e/{slug}/meetings", response_class=HTMLResponse, include_in_schema=False)
def meetings_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    """The published meetings by time and place, each to mark held or a no-show."""
    event, organiser, _ = organiser_event(request, db, slug)
    q = request.query_params.get("q", "").strip()[:200]
    words = fold(q).split()
    meetings = attendance.published_meetings(db, event)
    if words:
        meetings = [m for m in meetings if all(w in fold(_who(m)) for w in words)]
    marks = attendance.marks(db, event)
    multi_day = len({m.slot.start.date() for m in meetings}) > 1
    return render(
        request,
        "pages/day_meetings.html",
        {
            "title": f"Meetings of the day · {event.name}",
            "event": event,
            "organiser": organiser,
            "q": q,
            "rows": [
                (m, attendance.mark_of(marks.get(m.uid), m.uid), attendance.has_begun(event, m))
                for m in meetings
            ],
            "when": lambda m: slot_label(m.slot.start, m.slot.end, with_day=multi_day),
            "held": sum(1 for r in marks.values() if r.outcome is MeetingOutcome.held),
            "no_shows": sum(1 for r in marks.values() if r.outcome is MeetingOutcome.no_show),
            "flash": request.query_params.get("flash", "")[:300],
        },
    )


def _who(meeting: Any) -> str:
    a, b = meeting.participant_a, meeting.participant_b
    return f"{a.name} {a.organisation.name} {b.name} {b.organisation.name} {meeting.location.name}"


def _published_meeting(db: DbSession, event: Event, uid: str, of: Participant | None = None) -> Any:
    """The published meeting `uid` (with `of`, only one of theirs), or a 404 page."""
    try:
        return attendance.published_meeting(db, event, uid[:200], of=of)
    except NotFound as error:
        raise PageError(404, "Meeting not found", error.detail) from error


def _own_meeting(
    request: Request, db: DbSession, slug: str, uid: str, values: dict[str, Any] | None = None
) -> tuple[Event, Participant, Any]:
    """The event, the participant signed in to it and their published meeting `uid` (anyone
    else's is a 404 page); with a posted form's `values`, its CSRF token is checked first."""
    event, me = participant_event(request, db, slug, values)
    return event, me, _published_meeting(db, event, uid, of=me)


@router.post("/organiser/e/{slug}/meetings/{uid}/attendance", include_in_schema=False)
def staff_attendance(
    slug: str, uid: str, request: Request, db: DbSession, values: PostedForm
) -> Response:
    event, organiser, _ = organiser_event(request, db, slug, values)
    meeting = _published_meeting(db, event, uid)
    flash = _set_attendance(db, event, meeting, values, organiser_id=organiser.id)
    db.commit()
    q = str(values.get("q", ""))[:200]
    return redirect(
        f"/organiser/e/{event.slug}/meetings?q={quote_plus(q)}&flash={quote_plus(flash)}"
        f"#meeting-{quote_plus(meeting.uid)}"
    )


@router.post("/e/{slug}/me/meetings/{uid}/attendance", include_in_schema=False)
def my_attendance(
    slug: str, uid: str, request: Request, db: DbSession, values: PostedForm
) -> Response:
    """A participant marks their own meeting (anyone else's is not found)."""
    event, me, meeting = _own_meeting(request, db, slug, uid, values)
    flash = _set_attendance(db, event, meeting, values, participant=me)
    db.commit()
    return redirect(
        f"/e/{event.slug}/me?flash={quote_plus(flash)}#meeting-{quote_plus(meeting.uid)}"
    )


# --- door lists ------------------------------------------------------------------------------


@router.get("/organiser/e/{slug}/door-lists", response_class=HTMLResponse, include_in_schema=False)
def door_lists_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    """Printable door lists (one per table or room and session, a page each when printed)."""
    event, organiser, _ = organiser_event(request, db, slug)
    location = request.query_params.get("location", "")[:64] or None
    block = request.query_params.get("session", "")[:64] or None
    try:
        lists = door_lists.door_lists(db, event, location=location, block=block)
    except NotFound as error:
        raise PageError(404, "Not found", error.detail) from error
    multi_day = len({s.start.date() for s in event.slots}) > 1
    return render(
        request,
        "pages/door_lists.html",
        {
            "title": f"Door lists · {event.name}",
            "event": event,
            "organiser": organiser,
            "lists": lists,
            "locations": [loc for loc in event.locations if loc.kind.value != "online"],
            "sessions": event.sessions,
            "location": location or "",
            "block": block or "",
            "day": (lambda moment: moment.strftime("%a %d %b ")) if multi_day else (lambda m: ""),
        },
    )


# --- feedback --------------------------------------------------------------------------------

USEFULNESS_WORDS = [
    ("1", "1 – not useful"),
    ("2", "2"),
    ("3", "3"),
    ("4", "4"),
    ("5", "5 – very useful"),
]
FOLLOW_UP_WORDS = [("yes", "Yes"), ("maybe", "Maybe"), ("no", "No")]
COOPERATION_WORDS = [
    ("project", "A joint project"),
    ("purchase", "A purchase or sale"),
    ("partnership", "A partnership"),
    ("other", "Something else"),
]


def _feedback_page(
    request: Request,
    event: Event,
    me: Participant,
    meeting: Any,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    other = meeting.participant_b if meeting.participant_a_id == me.id else meeting.participant_a
    return render(
        request,
        "pages/feedback.html",
        {
            "title": f"Your meeting with {other.name}",
            "event": event,
            "me": me,
            "meeting": meeting,
            "other": other,
            "when": slot_label(meeting.slot.start, meeting.slot.end),
            "values": values,
            "errors": errors,
            "usefulness": USEFULNESS_WORDS,
            "follow_ups": FOLLOW_UP_WORDS,
            "cooperations": COOPERATION_WORDS,
        },
        status=status,
    )


@router.get(
    "/e/{slug}/me/meetings/{uid}/feedback", response_class=HTMLResponse, include_in_schema=False
)
def feedback_form(slug: str, uid: str, request: Request, db: DbSession) -> HTMLResponse:
    event, me, meeting = _own_meeting(request, db, slug, uid)
    if meeting.uid in feedback.answered(db, event, me):
        raise PageError(
            409,
            "Answered already",
            "You have answered about this meeting already; answers are given once. Thank you!",
            links=(("Back to my agenda", f"/e/{event.slug}/me"),),
        )
    return _feedback_page(request, event, me, meeting, {}, {})


@router.post("/e/{slug}/me/meetings/{uid}/feedback", include_in_schema=False)
def feedback_answer(
    slug: str, uid: str, request: Request, db: DbSession, values: PostedForm
) -> Response:
    event, me, meeting = _own_meeting(request, db, slug, uid, values)
    errors = {}
    usefulness = str(values.get("usefulness", ""))
    if usefulness not in {v for v, _ in USEFULNESS_WORDS}:
        errors["usefulness"] = "Choose how useful the meeting was, from 1 to 5."
    follow_up = str(values.get("follow_up", ""))
    if follow_up not in {v for v, _ in FOLLOW_UP_WORDS}:
        errors["follow_up"] = "Choose whether you plan a follow-up."
    cooperation = str(values.get("cooperation", ""))
    if cooperation not in {v for v, _ in COOPERATION_WORDS}:
        errors["cooperation"] = "Choose the kind of cooperation you expect."
    if errors:
        return _feedback_page(request, event, me, meeting, values, errors, status=422)
    try:
        feedback.give_feedback(
            db, event, me, meeting.uid, usefulness=int(usefulness),
            follow_up=FollowUp(follow_up), cooperation=Cooperation(cooperation),
        )  # fmt: skip
    except DomainError as error:
        db.rollback()
        raise PageError(
            409, "Not possible", error.detail, links=(("Back to my agenda", f"/e/{event.slug}/me"),)
        ) from error
    db.commit()
    flash = quote_plus("Thank you for your answers.")
    return redirect(f"/e/{event.slug}/me?flash={flash}#meeting-{quote_plus(meeting.uid)}")


# --- the report ------------------------------------------------------------------------------


def _planned_and_held(title: str, lines: list[report.Line]) -> Markup:
    return charts.bar_chart(
        title,
        [
            (f"{line.label} {what}", value)
            for line in lines
            for what, value in (("planned", line.planned), ("held", line.held))
        ],
    )


@router.get("/organiser/e/{slug}/report", response_class=HTMLResponse, include_in_schema=False)
def report_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    """The figures for funders, printable."""
    event, organiser, _ = organiser_event(request, db, slug)
    found = report.event_report(db, event)
    return render(
        request,
        "pages/report.html",
        {
            "title": f"Report · {event.name}",
            "event": event,
            "organiser": organiser,
            "r": found,
            "flash": request.query_params.get("flash", "")[:300],
            "charts": [
                _planned_and_held("Meetings planned and held by kind", found.by_kind),
                _planned_and_held("Meetings planned and held by sector", found.by_sector),
                charts.bar_chart(
                    "How useful the meetings were (answers per 1–5)",
                    [(str(n), count) for n, count in found.usefulness.items()],
                ),
            ],
            "usefulness_words": dict(USEFULNESS_WORDS),
            "follow_up_words": dict(FOLLOW_UP_WORDS),
            "cooperation_words": dict(COOPERATION_WORDS),
        },
    )


@router.get("/organiser/e/{slug}/report.xlsx", include_in_schema=False)
def report_workbook(slug: str, request: Request, db: DbSession) -> Response:
    """The report as an XLSX workbook (figures, by kind, delegation pair, country pair and
    sector, feedback)."""
    event, _, _ = organiser_event(request, db, slug)
    body = to_xlsx(report.report_sheets(report.event_report(db, event)))
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="{event.slug}-report.xlsx"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/organiser/e/{slug}/report/feedback-mails", include_in_schema=False)
def feedback_mails(slug: str, request: Request, db: DbSession, values: PostedForm) -> Response:
    """Send the closing mail with the feedback links (to those who have questions left)."""
    event, _, _ = organiser_event(request, db, slug, values)
    mails = feedback.closing_mails(db, event, settings_of(request).base_url)
    queued = mail.queue(db, mails, event_id=event.id)
    db.commit()
    flash = (
        f"{queued} e-mail{'s' if queued != 1 else ''} with feedback links "
        f"{'are' if queued != 1 else 'is'} on the way."
        if queued
        else "Nobody has meetings left to answer about: no e-mail was sent."
    )
    return redirect(f"/organiser/e/{event.slug}/report?flash={quote_plus(flash)}")
