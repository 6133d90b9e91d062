"""Pages anyone may see: the event page, the registration form, the personal-link sign-in."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from api.cookies import PARTICIPANT_COOKIE
from api.deps import DbSession
from api.pages.common import (
    CSRF_FIELD,
    PageError,
    check_csrf,
    find_event,
    lost_link_url,
    participant_from_token,
    redirect,
    refuse_guessing,
    render,
    set_cookie,
    settings_of,
    signed_in_participant,
)
from api.pages.forms import (
    ORGANISATION_KINDS,
    PostedForm,
    check_registration,
    field_of,
)
from api.ratelimit import PARTICIPANT_TOKEN, record_failed_guess
from matchmaking.organising import events as event_service
from matchmaking.participants import registration as registration_service
from matchmaking.platform import browser_sessions, mail
from matchmaking.platform.errors import DomainError
from matchmaking.platform.models import Event, EventStatus

router = APIRouter()


def visible_event(db: DbSession, slug: str) -> Event:
    """An event the public may see: anything but a draft."""
    event = find_event(db, slug)
    if event.status is EventStatus.draft:
        raise PageError(404, "Event not found", f"There is no event '{slug}'.")
    return event


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, db: DbSession) -> HTMLResponse:
    events = db.scalars(
        select(Event).where(Event.status != EventStatus.draft).order_by(Event.name)
    ).all()
    return render(request, "pages/home.html", {"title": "Matchmaking events", "events": events})


@router.get("/e/{slug}", response_class=HTMLResponse, include_in_schema=False)
def event_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event = visible_event(db, slug)
    counts = event_service.event_counts(db, event)
    days = sorted({slot.start.date() for slot in event.slots})
    me = signed_in_participant(request, db)
    return render(
        request,
        "pages/event.html",
        {
            "title": event.name,
            "event": event,
            "registered": counts.participants,
            "organisations": counts.organisations,
            "days": days,
            "registration_open": event_service.registration_is_open(event),
            "me": me if me is not None and me.event_id == event.id else None,
        },
    )


def _form_page(
    request: Request,
    event: Event,
    values: Mapping[str, object],
    errors: dict[str, str],
    status: int,
) -> HTMLResponse:
    return render(
        request,
        "pages/register.html",
        {
            "title": f"Register for {event.name}",
            "event": event,
            "values": values,
            "errors": errors,
            "kinds": ORGANISATION_KINDS,
        },
        status=status,
    )


@router.get("/e/{slug}/register", response_class=HTMLResponse, include_in_schema=False)
def registration_form(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event = visible_event(db, slug)
    if not event_service.registration_is_open(event):
        raise PageError(409, "Registration is closed", f"Registration for {event.name} is closed.")
    defaults: dict[str, object] = {"sessions": [s.key for s in event.sessions], "listed": "yes"}
    invitation = request.query_params.get("invitation", "").strip()[:200]
    if invitation:
        defaults["invitation"] = invitation
    return _form_page(request, event, defaults, {}, 200)


@router.post("/e/{slug}/register", response_class=HTMLResponse, include_in_schema=False)
def register(slug: str, request: Request, db: DbSession, values: PostedForm) -> Response:
    check_csrf(request, str(values.pop(CSRF_FIELD, "")))
    event = visible_event(db, slug)
    form, errors = check_registration(event, values)
    if form is None:
        return _form_page(request, event, values, errors, 422)
    form.invitation = str(values.get("invitation") or "")[:200] or None
    settings = settings_of(request)
    try:
        done = registration_service.register(db, event, form, settings.base_url)
    except DomainError as error:
        db.rollback()
        name = field_of(error.field)
        if not name:
            raise PageError(409, error.title, error.detail) from error
        return _form_page(request, event, values, {name: error.detail}, 422)
    mail.queue(db, [registration_service.registration_mail(event, done)], event_id=event.id)
    session_token = browser_sessions.open_participant_session(db, done.participant)
    db.commit()
    response = render(
        request,
        "pages/registered.html",
        {
            "title": "You are registered",
            "event": event,
            "link": done.link,
            "person": done.participant,
        },
    )
    set_cookie(request, response, PARTICIPANT_COOKIE, session_token)
    return response


@router.get("/e/{slug}/link", response_class=HTMLResponse, include_in_schema=False)
def lost_link_form(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    """The form that e-mails a new personal link (anyone may open it)."""
    event = visible_event(db, slug)
    return render(request, "pages/lost_link.html", {"title": "Get a new link", "event": event})


@router.post("/e/{slug}/link", response_class=HTMLResponse, include_in_schema=False)
def new_personal_link(
    slug: str, request: Request, db: DbSession, values: PostedForm
) -> HTMLResponse:
    """E-mail a new personal link. The answer is the same whether or not the address is
    registered, so the page does not tell who takes part."""
    check_csrf(request, str(values.get(CSRF_FIELD, "")))
    event = visible_event(db, slug)
    email = str(values.get("email", ""))[:254]
    settings = settings_of(request)
    renewed = (
        registration_service.renew_link(db, event, email, settings.base_url) if email else None
    )
    if renewed is not None:
        mail.queue(db, [registration_service.registration_mail(event, renewed)], event_id=event.id)
        db.commit()
    return render(
        request,
        "pages/error.html",
        {
            "title": "Check your e-mail",
            "detail": "If this address is registered for the event, a new personal link is on "
            "its way to it. Earlier links stop working.",
            "event": event,
        },
    )


@router.get("/e/{slug}/login", include_in_schema=False)
def personal_link(slug: str, request: Request, db: DbSession, token: str = "") -> Response:
    """The magic link: remember the participant in a cookie and drop the token from the URL."""
    event = find_event(db, slug)
    participant = participant_from_token(db, token)
    if participant is None or participant.event_id != event.id:
        # A valid link is never refused; an unknown one counts (a 429 page after too many).
        refuse_guessing(request, PARTICIPANT_TOKEN)
        record_failed_guess(request, PARTICIPANT_TOKEN)
        raise PageError(
            401,
            "This link does not work",
            "This personal link is unknown or was replaced by a newer one. Get a new link by "
            "e-mail, or ask the organisers.",
            links=(("E-mail me a new personal link", lost_link_url(event)),),
        )
    # The cookie carries a new session token, never the personal link itself.
    session_token = browser_sessions.open_participant_session(db, participant)
    db.commit()
    response = redirect(f"/e/{event.slug}/me")
    set_cookie(request, response, PARTICIPANT_COOKIE, session_token)
    return response
