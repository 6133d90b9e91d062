"""A participant's pages (signed in by the personal link's cookie): agenda, directory,
wishes sent and received, calendar subscription."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from api.deps import DbSession
from api.pages.common import (
    PageError,
    chosen_action,
    participant_event,
    redirect,
    render,
    settings_of,
)
from api.pages.forms import ORGANISATION_KINDS, PostedForm
from api.pages.suggested import suggested
from matchmaking.delivery import calendars, rendered
from matchmaking.delivery.agenda import AgendaItem, participant_agenda
from matchmaking.onsite import attendance, checkin, feedback
from matchmaking.participants import registration as registration_service
from matchmaking.participants import wishes as wish_service
from matchmaking.planning.versions import as_utc
from matchmaking.platform import mail
from matchmaking.platform.errors import DomainError
from matchmaking.platform.models import (
    Attendance,
    Event,
    OrganisationKind,
    Participant,
    ScheduleVersion,
    Wish,
    WishStatus,
)
from matchmaking.platform.wording import reason_words

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
    event, me = participant_event(request, db, slug)
    # Stored at publication (one statement); built from the schedule after a change.
    agenda = rendered.stored_agenda(db, me) or participant_agenda(db, me)
    received = wish_service.waiting_for_answer(db, me)
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
            "not_scheduled": _not_scheduled(db, me, agenda.version),
            "registered_late": _registered_after(db, me, agenda.version),
            "own_zone": me.timezone if me.timezone and me.timezone != event.timezone else "",
            "marks": {
                uid: attendance.mark_of(row, uid)
                for uid, row in attendance.marks(
                    db, event, [item.uid for item in agenda.meetings]
                ).items()
            },
            "now": datetime.now(UTC),
            "answered": feedback.answered(db, event, me),
            "flash": request.query_params.get("flash", "")[:300],
            "check_in_code": checkin.qr_svg(
                checkin.check_in_url(settings_of(request).base_url, event, me),
                title=f"Check-in code of {me.name}",
            ),
        },
    )


def _registered_after(db: DbSession, me: Participant, number: int | None) -> bool:
    """Whether the participant registered after the published version was planned."""
    if number is None:
        return False
    snapshot = db.scalar(
        select(ScheduleVersion.snapshot_at).where(
            ScheduleVersion.event_id == me.event_id, ScheduleVersion.number == number
        )
    )
    return snapshot is not None and as_utc(me.created_at) > as_utc(snapshot)


def _not_scheduled(db: DbSession, me: Participant, number: int | None) -> list[dict[str, str]]:
    """My accepted wishes (sent or received) that the published schedule leaves out, and why
    in words (the reason only: the solver's sentence may speak of other people's meetings)."""
    if number is None:
        return []
    version = db.scalar(
        select(ScheduleVersion).where(
            ScheduleVersion.event_id == me.event_id, ScheduleVersion.number == number
        )
    )
    reasons = {
        u["wish"]: str(u.get("reason", "")) for u in (version.unscheduled if version else [])
    }
    if not reasons:
        return []
    wishes = db.scalars(
        select(Wish)
        .where(
            Wish.event_id == me.event_id,
            Wish.key.in_(sorted(reasons)),
            or_(
                Wish.sender_id == me.id,
                Wish.recipient_id == me.id,
                Wish.recipient_organisation_id == me.organisation_id,
            ),
        )
        .options(
            selectinload(Wish.sender).selectinload(Participant.organisation),
            selectinload(Wish.recipient).selectinload(Participant.organisation),
            selectinload(Wish.recipient_organisation),
        )
        .order_by(Wish.priority, Wish.id)
    )
    out = []
    for wish in wishes:
        if wish.sender_id == me.id:
            other = (
                f"{wish.recipient.name} ({wish.recipient.organisation.name})"
                if wish.recipient
                else f"someone of {wish.recipient_organisation.name}"
                if wish.recipient_organisation
                else "?"
            )
            what = f"Your wish to meet {other}"
        else:
            what = f"{wish.sender.name} ({wish.sender.organisation.name}) asked to meet you"
        out.append(
            {"what": what, "priority": str(wish.priority), "why": reason_words(reasons[wish.key])}
        )
    return out


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
def calendar_links(slug: str, request: Request, db: DbSession, values: PostedForm) -> HTMLResponse:
    """A new subscription link; the participant's earlier links keep working."""
    event, me = participant_event(request, db, slug, values)
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
    event, me = participant_event(request, db, slug)
    return _replace_page(request, event, me)


@router.post("/e/{slug}/me/calendar/replace", response_class=HTMLResponse, include_in_schema=False)
def calendar_replace(
    slug: str, request: Request, db: DbSession, values: PostedForm
) -> HTMLResponse:
    """Revoke every calendar link of the participant and make one new one — only when the
    participant ticked the confirmation."""
    event, me = participant_event(request, db, slug, values)
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
def confirm_member(
    slug: str, key: str, request: Request, db: DbSession, values: PostedForm
) -> Response:
    return _decide_member(slug, key, request, db, values, confirm=True)


@router.post("/e/{slug}/me/organisation/members/{key}/turn-down", include_in_schema=False)
def turn_down_member(
    slug: str, key: str, request: Request, db: DbSession, values: PostedForm
) -> Response:
    return _decide_member(slug, key, request, db, values, confirm=False)


def _decide_member(
    slug: str, key: str, request: Request, db: Session, values: dict[str, Any], *, confirm: bool
) -> Response:
    """A confirmed member confirms, or turns down, someone asking to join the organisation."""
    event, me = participant_event(request, db, slug, values)
    try:
        registration_service.check_confirmed_member(
            me, "confirm new members" if confirm else "turn down new members"
        )
        member = registration_service.find_member(db, me, key)
        if confirm:
            registration_service.confirm_membership(db, member, me)
        else:
            registration_service.turn_down_membership(db, member, me)
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
        for k in ("kind", "country", "sector", "focus", "attendance", "delegation", "q")
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
            delegation=params["delegation"] or None,
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


#: Participants per directory page (a fair lists thousands: a phone shows a page at a time).
PAGE_SIZE = 24


def _page_number(request: Request) -> int:
    text = request.query_params.get("page", "1")
    return int(text) if text.isdigit() and 0 < int(text) < 100_000 else 1


def _pages(current: int, last: int) -> list[int | None]:
    """Page links to show: the first, the last and two around the current (None: a gap)."""
    shown = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    out: list[int | None] = []
    for n in shown:
        if out and n - (out[-1] or 0) > 1:
            out.append(None)
        out.append(n)
    return out


@router.get("/e/{slug}/directory", response_class=HTMLResponse, include_in_schema=False)
def directory_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, me = participant_event(request, db, slug)
    filters, params = _directory_filter(request)
    page = _page_number(request)
    shown, total = registration_service.directory(
        db, event, filters, PAGE_SIZE, (page - 1) * PAGE_SIZE, exclude=me.id
    )
    last = max(1, -(-total // PAGE_SIZE))
    if page > last:  # a page past the end (the list got shorter): the last one
        page = last
        shown, total = registration_service.directory(
            db, event, filters, PAGE_SIZE, (page - 1) * PAGE_SIZE, exclude=me.id
        )
    choices = registration_service.directory_choices(db, event)
    query = {k: v for k, v in params.items() if v}
    sent_to = request.query_params.get("sent", "")
    return render(
        request,
        "pages/directory.html",
        {
            "title": "Directory",
            "event": event,
            "me": me,
            "people": shown,
            "total": total,
            "first": (page - 1) * PAGE_SIZE + 1,
            "page": page,
            "last": last,
            "pages": _pages(page, last),
            "page_url": lambda n: f"/e/{event.slug}/directory?{urlencode({**query, 'page': n})}",
            "here": f"/e/{event.slug}/directory?{urlencode({**query, 'page': page})}",
            "params": params,
            "kinds": ORGANISATION_KINDS,
            "countries": choices["countries"],
            "sectors": choices["sectors"],
            "delegations": choices["delegations"],
            "priorities": PRIORITIES,
            "message_max": MESSAGE_MAX,
            "wished": _open_wishes_by_recipient(db, me),
            "flash": "Your wish was sent." if sent_to else "",
            "suggested": suggested(db, event, me) if page == 1 and not query else [],
            "suggested_back": f"/e/{event.slug}/directory?page=1",
        },
    )


#: The longest message a wish carries (the API's limit too).
MESSAGE_MAX = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _message(value: object) -> str:
    text = str(value or "").replace("\r\n", "\n").strip()
    if len(text) > MESSAGE_MAX:
        raise PageError(
            422,
            "Message too long",
            f"Your message has {len(text)} characters; a wish carries at most {MESSAGE_MAX}. "
            "Go back, shorten it and send it again.",
        )
    return _CONTROL.sub("", text)


def _priority(value: object) -> int:
    text = str(value or "")
    if text not in {"1", "2", "3"}:
        raise PageError(422, "Choose a priority", "The priority must be 1, 2 or 3.")
    return int(text)


@router.post("/e/{slug}/wishes", include_in_schema=False)
def send_wish(slug: str, request: Request, db: DbSession, values: PostedForm) -> Response:
    event, me = participant_event(request, db, slug, values)
    wish_request = wish_service.WishRequest(
        to=str(values.get("to", "")) or None,
        priority=_priority(values.get("priority")),
        message=_message(values.get("message")),
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
    # Back where the button was: the same directory page, filters and card.
    back = str(values.get("back", ""))
    pages = (f"/e/{event.slug}/directory?", f"/e/{event.slug}/inbox?")
    if not back.startswith(pages) or "//" in back or "\\" in back:
        return redirect(f"/e/{event.slug}/wishes")
    person = str(values.get("to", ""))
    return redirect(f"{back}&{urlencode({'sent': person})}#person-{quote(person)}")


@router.get("/e/{slug}/wishes", response_class=HTMLResponse, include_in_schema=False)
def wishes_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, me = participant_event(request, db, slug)
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
    event, me = participant_event(request, db, slug)
    received, _ = wish_service.participant_wishes(db, me, "received", None, LIST_LIMIT, 0)
    # Waiting for an answer first, most important first; then the answered ones.
    # A proposal counts as waiting only while it waits for this side.
    proposals = {w.key: _proposal_view(w, me) for w in received if w.proposed}

    def waiting(w: Wish) -> bool:
        if w.key in proposals:
            return bool(proposals[w.key]["may_accept"])
        return w.status is WishStatus.requested

    order = {WishStatus.accepted: 1, WishStatus.declined: 2}
    received.sort(
        key=lambda w: (0 if waiting(w) else order.get(w.status, 3), w.priority, w.created_at)
    )
    return render(
        request,
        "pages/inbox.html",
        {
            "title": "Inbox",
            "event": event,
            "me": me,
            "wishes": received,
            "proposals": proposals,
            "pending": sum(1 for w in received if waiting(w)),
            "priority_words": dict(PRIORITIES),
            "suggested": suggested(db, event, me),
            "suggested_back": f"/e/{event.slug}/inbox?suggested=1",
            "flash": "Your wish was sent." if request.query_params.get("sent") else "",
        },
    )


def _proposal_view(wish: Wish, me: Participant) -> dict[str, Any]:
    """How a proposal reads for one of its sides: the other side, the reasons in this
    side's words, its state, and whether this side may still accept it."""
    mine = wish.sender_id == me.id
    accepted = wish.sender_accepted if mine else wish.recipient_accepted
    return {
        "other": wish.recipient if mine else wish.sender,
        "reasons": list((wish.reasons or {}).get("sender" if mine else "recipient", [])),
        "words": wish_service.proposal_words(wish, me),
        "may_accept": wish.status is WishStatus.requested and not accepted,
    }


@router.post("/e/{slug}/wishes/{key}", include_in_schema=False)
def change_wish(
    slug: str, key: str, request: Request, db: DbSession, values: PostedForm
) -> Response:
    """One form target for the wish buttons: accept, decline, withdraw, priority."""
    # A plain `def`, so FastAPI runs it in a worker thread: a change waits for the wish's lock
    # (on SQLite the write lock), which must not stall the event loop.
    return _change_wish(slug, key, request, db, values)


def _change_wish(
    slug: str,
    key: str,
    request: Request,
    db: Session,
    values: dict[str, Any],
) -> Response:
    event, me = participant_event(request, db, slug, values)
    settings = settings_of(request)
    try:
        wish = wish_service.own_wish(db, me, key)
        action = chosen_action(
            values.get("action"),
            ("accept", "decline", "withdraw", "priority"),
            "Choose accept, decline, withdraw or priority.",
        )
        if action in {"accept", "decline"}:
            wish_service.answer_wish(db, me, wish, accept=action == "accept")
            mails = [wish_service.answered_mail(wish, me, settings.base_url)]
            target = f"/e/{event.slug}/inbox"
        elif action == "withdraw":
            wish_service.withdraw_wish(db, me, wish)
            mails, target = [], f"/e/{event.slug}/wishes"
        else:
            wish_service.edit_wish(db, me, wish, _priority(values.get("priority")), None)
            mails, target = [], f"/e/{event.slug}/wishes"
    except DomainError as error:
        db.rollback()
        raise PageError(409, error.title, error.detail) from error
    mail.queue(db, mails, event_id=event.id)
    db.commit()
    return redirect(target)
