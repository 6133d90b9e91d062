"""What every page needs: templates, CSRF tokens, who is looking, security headers.

Pages are server-rendered HTML (Jinja2, autoescaped) that work without JavaScript. Forms
carry a CSRF token: the HMAC (keyed with the secret key) of a random value in an HttpOnly
cookie *and of the browser's sign-in sessions* (organiser, participant), in a hidden field; a
POST is accepted only when it matches the cookies it comes with, which a page on another site
can neither read nor forge, and a token of one session does not work with another.

Signing in opens a server-side session (`matchmaking.platform.browser_sessions`): the cookies carry
session tokens, never an API token or a personal link. When the public base URL is https the
cookies are named with the `__Host-` prefix (Secure, Path=/, no Domain: no other host or
plain-http page can set or overwrite them).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from starlette.types import Message, Receive, Scope, Send

from api.cookies import (
    CSRF_COOKIE,
    ORGANISER_COOKIE,
    PARTICIPANT_COOKIE,
    cookie,
    cookie_name,
    https_site,
)
from api.ratelimit import (
    SESSION_TOKEN,
    client_address,
    limiter_of,
    record_failed_guess,
)
from matchmaking.organising import events as event_service
from matchmaking.planning import versions as version_service
from matchmaking.platform import browser_sessions
from matchmaking.platform.asgi import HttpMiddleware
from matchmaking.platform.errors import DomainError, NotFound
from matchmaking.platform.models import (
    Event,
    EventRoleName,
    Organiser,
    Participant,
    ScheduleVersion,
)
from matchmaking.platform.resources import TEMPLATES
from matchmaking.platform.security import hash_token, worth_looking_up
from matchmaking.platform.settings import Settings

templates = Jinja2Templates(directory=str(TEMPLATES))

CSRF_FIELD = "csrf_token"
COOKIE_MAX_AGE = 60 * 60 * 24 * 60


class PageError(Exception):
    """Ends a page request with a friendly HTML error page (never a traceback)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        links: tuple[tuple[str, str], ...] = (),
        template: str = "pages/error.html",
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        #: (label, URL) of the ways on from here, shown as buttons.
        self.links = links
        #: Another page to show instead of the plain error page (the sign-in form, say).
        self.template = template
        self.context = context or {}


def chosen_action(action: object, actions: Collection[str], refusal: str) -> str:
    """The `action` a form's button posted, one of `actions`; 422 saying `refusal` (which
    names the buttons) for anything else."""
    if action not in actions:
        raise PageError(422, "Unknown action", refusal)
    return str(action)


# --- rendering ---------------------------------------------------------------------------


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def local_time(moment: datetime, zone: str) -> str:
    return moment.strftime("%H:%M")


def in_zone(naive_local: datetime, event_zone: str, viewer_zone: str) -> datetime:
    """A slot's local wall-clock time in the event zone, seen from another zone."""
    return naive_local.replace(tzinfo=ZoneInfo(event_zone)).astimezone(ZoneInfo(viewer_zone))


def _format_instant(moment: datetime | None, zone: str = "UTC") -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(zone)).strftime("%d %b %Y, %H:%M %Z")


templates.env.filters["instant"] = _format_instant
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> HTMLResponse:
    """Render a page with the CSRF token its forms need (and set the cookie when new)."""
    nonce = cookie(request, CSRF_COOKIE)
    fresh = not _valid_nonce(nonce)
    if fresh:
        nonce = secrets.token_urlsafe(24)
    token = csrf_token_for(settings_of(request), nonce, _sessions(request))
    values = {"csrf_token": token, **(context or {})}
    response = templates.TemplateResponse(request, template, values, status_code=status)
    if fresh:
        set_cookie(request, response, CSRF_COOKIE, nonce, max_age=None)
    return response


def error_page(request: Request, error: PageError) -> HTMLResponse:
    return render(
        request,
        error.template,
        {"title": error.title, "detail": error.detail, "links": error.links, **error.context},
        status=error.status,
    )


def status_page(request: Request, status: int) -> HTMLResponse:
    """The page a browser gets for a missing page (404) or a method a page does not take (405)."""
    if status == 404:
        error = PageError(
            404,
            "Page not found",
            "There is no page at this address. Check the link, or start "
            "again from the list of events.",
        )
    else:
        error = PageError(
            405, "Not possible here", f"This page cannot be opened with {request.method}."
        )
    return error_page(request, error)


def redirect(url: str) -> RedirectResponse:
    # 303: after a POST the browser fetches the next page with GET.
    return RedirectResponse(url, status_code=303)


def set_cookie(
    request: Request, response: Any, name: str, value: str, *, max_age: int | None = COOKIE_MAX_AGE
) -> None:
    response.set_cookie(
        cookie_name(request, name),
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        # __Host- cookies must be Secure (and Path=/, without Domain).
        secure=request.url.scheme == "https" or https_site(settings_of(request)),
        path="/",
    )


def delete_cookie(request: Request, response: Any, name: str) -> None:
    response.delete_cookie(
        cookie_name(request, name),
        path="/",
        secure=request.url.scheme == "https" or https_site(settings_of(request)),
        httponly=True,
        samesite="lax",
    )


# --- CSRF --------------------------------------------------------------------------------


def _valid_nonce(nonce: str) -> bool:
    return 16 <= len(nonce) <= 64


def _sessions(request: Request) -> str:
    """What binds a CSRF token to the browser's sign-ins: the hashes of its session cookies."""
    return ":".join(
        hash_token(value) if (value := cookie(request, name)) else ""
        for name in (ORGANISER_COOKIE, PARTICIPANT_COOKIE)
    )


def csrf_token_for(settings: Settings, nonce: str, sessions: str = ":") -> str:
    """The form token of a visitor: the HMAC of their CSRF cookie and of their sessions."""
    key = settings.secret_key.get_secret_value().encode()
    message = f"csrf:{nonce}:{sessions}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def check_csrf(request: Request, submitted: str | None) -> None:
    """Refuse a form whose hidden token does not match the visitor's cookies: their CSRF
    cookie and their sign-in sessions (a token of another session is refused)."""
    nonce = cookie(request, CSRF_COOKIE)
    expected = (
        csrf_token_for(settings_of(request), nonce, _sessions(request))
        if _valid_nonce(nonce)
        else ""
    )
    if not expected or not submitted or not hmac.compare_digest(expected, submitted):
        raise PageError(
            403,
            "Form expired",
            "This form could not be verified (it may be old, or cookies are blocked). "
            "Go back, reload the page and send it again.",
        )


# --- who is looking ----------------------------------------------------------------------


def find_event(db: Session, slug: str) -> Event:
    event = event_service.find_event(db, slug)
    if event is None:
        raise PageError(404, "Event not found", f"There is no event '{slug}'.")
    return event


def participant_from_token(db: Session, token: str) -> Participant | None:
    """The participant whose personal link token this is (the magic link's sign-in)."""
    if not worth_looking_up(token):
        return None
    return db.scalar(
        select(Participant)
        .options(joinedload(Participant.event))
        .where(Participant.access_token_hash == hash_token(token))
    )


def signed_in_participant(request: Request, db: Session) -> Participant | None:
    """The participant whose sign-in session the cookie holds (of any event), if any."""
    return browser_sessions.participant_of(db, cookie(request, PARTICIPANT_COOKIE))


def refuse_guessing(request: Request, scope: str) -> None:
    """A 429 page when this client sent too many unknown secrets of this kind lately."""
    wait = limiter_of(request).seconds_blocked(client_address(request), scope)
    if wait > 0:
        raise PageError(
            429,
            "Too many attempts",
            "Too many unknown links or tokens were sent from your address. "
            f"Try again in {math.ceil(wait)} seconds.",
        )


def page_participant(request: Request, db: Session, event: Event) -> Participant:
    """The participant of this event whose personal link opened the cookie's session.

    A valid session is never refused; an unknown one counts as a failed guess (429 page
    after too many from one address)."""
    token = cookie(request, PARTICIPANT_COOKIE)
    participant = browser_sessions.participant_of(db, token) if token else None
    if participant is None and token:
        refuse_guessing(request, SESSION_TOKEN)
        record_failed_guess(request, SESSION_TOKEN)
    if participant is None or participant.event_id != event.id:
        raise PageError(
            401,
            "Open your personal link",
            "This page belongs to a participant. Open the personal link from your "
            "registration confirmation or e-mail to sign in.",
            links=((_LOST_LINK, lost_link_url(event)),),
        )
    return participant


def participant_event(
    request: Request, db: Session, slug: str, values: Mapping[str, Any] | None = None
) -> tuple[Event, Participant]:
    """The event and its participant signed in on this browser (page_participant). With the
    `values` of a posted form, the form's CSRF token is checked first."""
    if values is not None:
        check_csrf(request, str(values.get(CSRF_FIELD, "")))
    event = find_event(db, slug)
    return event, page_participant(request, db, event)


def page_organiser(request: Request, db: Session) -> Organiser | None:
    """The organiser whose sign-in session the cookie holds; None when signed out."""
    token = cookie(request, ORGANISER_COOKIE)
    if not token:
        return None
    organiser = browser_sessions.organiser_of(db, token)
    if organiser is None:
        refuse_guessing(request, SESSION_TOKEN)
        record_failed_guess(request, SESSION_TOKEN)
    return organiser


_LOST_LINK = "E-mail me a new personal link"


class RegistrationRefused(Exception):
    """A rule keeps registration as it is; the message says why, in the pages' words."""


def change_registration(db: Session, event: Event, action: object) -> str:
    """Open or close registration as a form asked (not committed); the sentence that says so.

    A rule that refuses it (say, reopening after the deadline) raises RegistrationRefused."""
    action = chosen_action(action, ("open", "close"), "Choose to open or to close registration.")
    try:
        if action == "open":
            event_service.open_registration(db, event)
            return "Registration is open: participants can register now."
        event_service.close_registration(db, event)
        return "Registration is closed."
    except DomainError as error:
        why = error.detail.replace("`registration_closes`", "the registration deadline")
        raise RegistrationRefused(why) from error


def page_version(db: Session, event: Event, number: int) -> ScheduleVersion:
    """The event's schedule version of that number, or the page's 404 naming it."""
    try:
        return version_service.numbered_version(db, event, number)
    except NotFound as error:
        raise PageError(404, "Version not found", error.detail) from None


def lost_link_url(event: Event) -> str:
    return f"/e/{event.slug}/link"


def sign_in_first(request: Request) -> PageError:
    """The organiser sign-in form (401), which comes back to this page once signed in."""
    return PageError(
        401,
        "Organiser sign-in",
        "Sign in with your organiser API token to see this page.",
        template="pages/login.html",
        context={"errors": {}, "next": safe_next(request.url.path)},
    )


def safe_next(path: str) -> str:
    """Where to go after signing in: an organiser page of this site, nothing else."""
    if path.startswith("/organiser") and not path.startswith("//") and "\\" not in path:
        return path[:300]
    return "/organiser"


def organiser_event(
    request: Request, db: Session, slug: str, values: Mapping[str, Any] | None = None
) -> tuple[Event, Organiser, EventRoleName]:
    """The event an organiser manages; unknown events and events of others look alike. With
    the `values` of a posted form, the form's CSRF token is checked first."""
    if values is not None:
        check_csrf(request, str(values.get(CSRF_FIELD, "")))
    organiser = page_organiser(request, db)
    if organiser is None:
        raise sign_in_first(request)
    event = event_service.find_event(db, slug)
    role = event_service.role_of(db, event, organiser) if event is not None else None
    if event is None or role is None:
        raise PageError(404, "Event not found", f"There is no event '{slug}'.")
    return event, organiser, role


# --- security headers --------------------------------------------------------------------

#: Pages load scripts, styles and images from this site only; nothing may frame them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    b"content-security-policy": CONTENT_SECURITY_POLICY.encode(),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    # Personal links carry secrets in their path: never send them on as a Referer.
    b"referrer-policy": b"no-referrer",
}


class SecurityHeaders(HttpMiddleware):
    """Adds CSP, nosniff, frame and referrer headers to every page (not to the JSON API,
    whose interactive docs page loads its own scripts)."""

    def concerns(self, scope: Scope) -> bool:
        return not scope["path"].startswith("/api/")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in SECURITY_HEADERS.items() if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: Answers that say nothing about caching are personal or change at any moment: no cache
#: (browser or shared) keeps them. Feeds and agendas set their own (private, with validators);
#: static files are public.
DEFAULT_CACHE_CONTROL = b"private, no-store"


class NoStoreByDefault(HttpMiddleware):
    """Adds `Cache-Control: private, no-store` to every answer (pages, JSON, errors) that does
    not set its own Cache-Control."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_cache_control(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", DEFAULT_CACHE_CONTROL))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cache_control)
