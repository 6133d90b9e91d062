"""A participant's pages (signed in by the personal link's cookie): agenda, directory,
wishes sent and received, calendar subscription."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import DbSession
from api.pages.common import (
    CSRF_FIELD,
    PageError,
    check_csrf,
    find_event,
    page_participant,
    redirect,
    render,
    settings_of,
)
from api.pages.forms import ORGANISATION_KINDS, form_values
from matchmaking import calendars, mail
from matchmaking import registration as registration_service
from matchmaking import wishes as wish_service
from matchmaking.agenda import AgendaItem, participant_agenda
from matchmaking.errors import DomainError
from matchmaking.models import (
    Attendance,
    Event,
    OrganisationKind,
    Participant,
    Wish,
    WishStatus,
)

router = APIRouter()

PRIORITIES = [(1, "1 – must meet"), (2, "2 – want to meet"), (3, "3 – nice to meet")]
#: The most wishes a page lists at once (a participant has a few dozen at most).
LIST_LIMIT = 500


@dataclass(frozen=True)
class AgendaRow:
    item: AgendaItem
    start: datetime
    end: datetime
    own_start: datetime | None
    own_end: datetime | None


def _agenda_rows(items: tuple[AgendaItem, ...]) -> list[AgendaRow]:
    def parse(value: str | None) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return [
        AgendaRow(
            item,
            datetime.fromisoformat(item.start),
            datetime.fromisoformat(item.end),
            parse(item.start_own_zone),
            parse(item.end_own_zone),
        )
        for item in items
    ]


@router.get("/e/{slug}/me", response_class=HTMLResponse, include_in_schema=False)
def agenda_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event = find_event(db, slug)
    me = page_participant(request, db, event)
    agenda = participant_agenda(db, me)
    _, received = wish_service.participant_wishes(db, me, "received", WishStatus.requested, 1, 0)
    waiting = (
        [
            p
            for p in registration_service.organisation_members(db, me.organisation)
            if not p.membership_confirmed
        ]
        if me.membership_confirmed
        else []
    )
    return render(
        request,
        "pages/agenda.html",
        {
            "title": f"Agenda of {me.name}",
            "event": event,
            "me": me,
            "agenda": agenda,
            "rows": _agenda_rows(agenda.meetings),
            "days": sorted({row.start.date() for row in _agenda_rows(agenda.meetings)}),
            "open_requests": received,
            "waiting_members": waiting,
            "own_zone": me.timezone if me.timezone and me.timezone != event.timezone else "",
        },
    )


def _calendar_links_page(
    request: Request, event: Event, me: Participant, token: str, revoked: int
) -> HTMLResponse:
    settings = settings_of(request)
    return render(
        request,
        "pages/calendar_links.html",
        {
            "title": "Subscribe to your agenda",
            "event": event,
            "me": me,
            "url": calendars.participant_feed_url(token, settings=settings),
            "webcal": calendars.participant_feed_url(token, webcal=True, settings=settings),
            "active": len(me.calendar_links),
            "revoked": revoked,
        },
    )


@router.post("/e/{slug}/me/calendar", response_class=HTMLResponse, include_in_schema=False)
async def calendar_links(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    """A new subscription link; the participant's earlier links keep working."""
    values = form_values(await request.form())
    check_csrf(request, str(values.get(CSRF_FIELD, "")))
    event = find_event(db, slug)
    me = page_participant(request, db, event)
    try:
        token = calendars.issue_calendar_token(me)
    except calendars.TooManyCalendarLinks as exc:
        return _replace_page(request, event, me, str(exc), status_code=409)
    db.commit()
    return _calendar_links_page(request, event, me, token, revoked=0)


def _replace_page(
    request: Request, event: Event, me: Participant, error: str = "", status_code: int = 200
) -> HTMLResponse:
    links = me.calendar_links
    return render(
        request,
        "pages/calendar_replace.html",
        {
            "title": "Replace my calendar link",
            "event": event,
            "me": me,
            "active": len(links),
            "first_made": calendars.aware(links[0].created_at) if links else None,
            "error": error,
        },
        status=status_code,
    )


@router.get("/e/{slug}/me/calendar/replace", response_class=HTMLResponse, include_in_schema=False)
def calendar_replace_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    """What replacing the calendar links does, and the confirmation to do it."""
    event = find_event(db, slug)
    me = page_participant(request, db, event)
    return _replace_page(request, event, me)


@router.post("/e/{slug}/me/calendar/replace", response_class=HTMLResponse, include_in_schema=False)
async def calendar_replace(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    """Revoke every calendar link of the participant and make one new one — only when the
    participant ticked the confirmation."""
    values = form_values(await request.form())
    check_csrf(request, str(values.get(CSRF_FIELD, "")))
    event = find_event(db, slug)
    me = page_participant(request, db, event)
    if values.get("confirm") != "yes":
        return _replace_page(
            request,
            event,
            me,
            "Tick the box to confirm that your earlier calendar links stop working.",
            status_code=400,
        )
    revoked = len(me.calendar_links)
    token = calendars.replace_calendar_links(me)
    db.commit()
    return _calendar_links_page(request, event, me, token, revoked=revoked)


@router.post("/e/{slug}/me/organisation/members/{key}/confirm", include_in_schema=False)
async def confirm_member(slug: str, key: str, request: Request, db: DbSession) -> Response:
    values = form_values(await request.form())
    return await run_in_threadpool(_confirm_member, slug, key, request, db, values)


def _confirm_member(
    slug: str, key: str, request: Request, db: Session, values: dict[str, Any]
) -> Response:
    check_csrf(request, str(values.get(CSRF_FIELD, "")))
    event = find_event(db, slug)
    me = page_participant(request, db, event)
    try:
        registration_service.check_confirmed_member(me, "confirm new members")
        member = registration_service.find_member(db, me, key)
        registration_service.confirm_membership(db, member, me)
    except DomainError as error:
        db.rollback()
        status = 403 if error.title == "Forbidden" else 404 if error.title == "Not found" else 409
        raise PageError(status, error.title, error.detail) from error
    db.commit()
    return redirect(f"/e/{event.slug}/me")


# --- directory and wishes ----------------------------------------------------------------


def _directory_filter(
    request: Request,
) -> tuple[registration_service.DirectoryFilter, dict[str, str]]:
    params = {
        k: request.query_params.get(k, "").strip()[:100]
        for k in ("kind", "country", "sector", "focus", "attendance", "q")
    }
    kind = params["kind"] if params["kind"] in {k.value for k in OrganisationKind} else ""
    attendance = params["attendance"] if params["attendance"] in {"onsite", "online"} else ""
    params.update(kind=kind, attendance=attendance)
    return (
        registration_service.DirectoryFilter(
            kind=OrganisationKind(kind) if kind else None,
            country=params["country"] or None,
            sector=params["sector"] or None,
            focus_area=params["focus"] or None,
            attendance=Attendance(attendance) if attendance else None,
            q=params["q"] or None,
        ),
        params,
    )


def _open_wishes_by_recipient(db: DbSession, me: Participant) -> dict[int, Wish]:
    sent, _ = wish_service.participant_wishes(db, me, "sent", None, LIST_LIMIT, 0)
    return {
        w.recipient_id: w
        for w in sent
        if w.recipient_id is not None and w.status in wish_service.OPEN_STATUSES
    }


@router.get("/e/{slug}/directory", response_class=HTMLResponse, include_in_schema=False)
def directory_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event = find_event(db, slug)
    me = page_participant(request, db, event)
    filters, params = _directory_filter(request)
    people, total = registration_service.directory(db, event, filters, LIST_LIMIT, 0)
    countries = sorted(
        {p.organisation.country for p in event.participants if p.organisation.country}
    )
    sectors = sorted({s for o in event.organisations for s in o.sectors})
    return render(
        request,
        "pages/directory.html",
        {
            "title": "Directory",
            "event": event,
            "me": me,
            "people": [p for p in people if p.id != me.id],
            "total": total,
            "params": params,
            "kinds": ORGANISATION_KINDS,
            "countries": countries,
            "sectors": sectors,
            "priorities": PRIORITIES,
            "wished": _open_wishes_by_recipient(db, me),
            "flash": request.query_params.get("sent") and "Your wish was sent.",
        },
    )


def _priority(value: object) -> int:
    text = str(value or "")
    if text not in {"1", "2", "3"}:
        raise PageError(422, "Choose a priority", "The priority must be 1, 2 or 3.")
    return int(text)


@router.post("/e/{slug}/wishes", include_in_schema=False)
async def send_wish(slug: str, request: Request, db: DbSession) -> Response:
    values = form_values(await request.form())
    check_csrf(request, str(values.get(CSRF_FIELD, "")))
    event = find_event(db, slug)
    me = page_participant(request, db, event)
    wish_request = wish_service.WishRequest(
        to=str(values.get("to", "")) or None,
        priority=_priority(values.get("priority")),
        message=str(values.get("message", ""))[:1000],
    )
    try:
        wish = wish_service.send_wish(db, me, wish_request)
    except DomainError as error:
        db.rollback()
        raise PageError(
            409 if error.title.startswith("Conflict") else 422, error.title, error.detail
        ) from error
    settings = settings_of(request)
    mail.queue(db, wish_service.received_mails(db, wish, settings.base_url), event_id=event.id)
    db.commit()
    back = str(values.get("back", ""))
    return redirect(back if back.startswith(f"/e/{event.slug}/") else f"/e/{event.slug}/wishes")


@router.get("/e/{slug}/wishes", response_class=HTMLResponse, include_in_schema=False)
def wishes_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event = find_event(db, slug)
    me = page_participant(request, db, event)
    sent, _ = wish_service.participant_wishes(db, me, "sent", None, LIST_LIMIT, 0)
    return render(
        request,
        "pages/wishes.html",
        {
            "title": "My wishes",
            "event": event,
            "me": me,
            "wishes": sent,
            "mutual": wish_service.mutual_keys(db, sent),
            "priorities": PRIORITIES,
        },
    )


@router.get("/e/{slug}/inbox", response_class=HTMLResponse, include_in_schema=False)
def inbox_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event = find_event(db, slug)
    me = page_participant(request, db, event)
    received, _ = wish_service.participant_wishes(db, me, "received", None, LIST_LIMIT, 0)
    return render(
        request,
        "pages/inbox.html",
        {"title": "Inbox", "event": event, "me": me, "wishes": received},
    )


@router.post("/e/{slug}/wishes/{key}", include_in_schema=False)
async def change_wish(slug: str, key: str, request: Request, db: DbSession) -> Response:
    """One form target for the wish buttons: accept, decline, withdraw, priority."""
    values = form_values(await request.form())
    # The database work in a worker thread: a change waits for the wish's lock (on SQLite the
    # write lock), which must not stall the event loop.
    return await run_in_threadpool(_change_wish, slug, key, request, db, values)


def _change_wish(
    slug: str,
    key: str,
    request: Request,
    db: Session,
    values: dict[str, Any],
) -> Response:
    check_csrf(request, str(values.get(CSRF_FIELD, "")))
    event = find_event(db, slug)
    me = page_participant(request, db, event)
    action = str(values.get("action", ""))
    settings = settings_of(request)
    try:
        wish = wish_service.own_wish(db, me, key)
        if action in {"accept", "decline"}:
            wish_service.answer_wish(db, me, wish, accept=action == "accept")
            mails = [wish_service.answered_mail(wish, me, settings.base_url)]
            target = f"/e/{event.slug}/inbox"
        elif action == "withdraw":
            wish_service.withdraw_wish(db, me, wish)
            mails, target = [], f"/e/{event.slug}/wishes"
        elif action == "priority":
            wish_service.edit_wish(db, me, wish, _priority(values.get("priority")), None)
            mails, target = [], f"/e/{event.slug}/wishes"
        else:
            raise PageError(422, "Unknown action", "Choose accept, decline, withdraw or priority.")
    except DomainError as error:
        db.rollback()
        raise PageError(409, error.title, error.detail) from error
    mail.queue(db, mails, event_id=event.id)
    db.commit()
    return redirect(target)
