"""Request dependencies: the database session, settings, and who is calling.

Who may call what, consistently across the API:
- no credentials (or unknown/revoked ones) where some are needed → 401;
- credentials that are valid but give no access to the event in the URL → 404, so nobody
  learns which events exist (an organiser without a role, a participant of another event);
- access to the event but a role that does not allow the action (staff doing owner things) → 403.

Organisers send `Authorization: Bearer <token>`. Participants send their personal link token as
`Authorization: Participant <token>` or as `X-Participant-Token: <token>`. Requests that change
something take credentials from these headers only, never from a cookie: a browser adds
cookies to requests that other sites make it send, headers it does not. Reading requests
(GET, HEAD) also accept the pages' participant sign-in session cookie (the agenda page links
the calendar download).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import ColumnElement, Engine, bindparam, func, select
from sqlalchemy.orm import Session, joinedload
from starlette.concurrency import run_in_threadpool

from api.cookies import PARTICIPANT_COOKIE, cookie
from api.problems import ProblemError
from api.ratelimit import (
    ORGANISER_TOKEN,
    PARTICIPANT_TOKEN,
    SESSION_TOKEN,
    record_failed_guess,
)
from matchmaking.delivery.serving import Owner, must_connect
from matchmaking.organising import events as event_service
from matchmaking.platform import browser_sessions
from matchmaking.platform.models import (
    ApiToken,
    Event,
    EventRoleName,
    Organiser,
    Participant,
    as_utc,
    utcnow,
)
from matchmaking.platform.security import hash_token
from matchmaking.platform.settings import Settings

EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])
AnswerT = TypeVar("AnswerT")
RowT = TypeVar("RowT")

#: `last_used_at` of a token is written at most this often (saves a write per request).
_LAST_USED_RESOLUTION = timedelta(minutes=1)

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="OrganiserToken",
    description="An organiser's API token: `Authorization: Bearer mmo_...`.",
)
_participant_header = APIKeyHeader(
    name="X-Participant-Token",
    auto_error=False,
    scheme_name="ParticipantToken",
    description="A participant's personal link token (`mmp_...`). "
    "`Authorization: Participant <token>` is accepted as well.",
)


_READ_ONLY_ENDPOINT = "_matchmaking_read_only"


def read_only(endpoint: EndpointT) -> EndpointT:
    """Marks an endpoint that only reads: its request's session (that of every dependency
    too) is a read-only one (`matchmaking.platform.db.read_only_sessionmaker`), whose
    transactions run in parallel on SQLite. Writing in it raises; endpoints that may write
    (organiser tokens record their last use) must not be marked."""
    setattr(endpoint, _READ_ONLY_ENDPOINT, True)
    return endpoint


def get_db(request: Request) -> Iterator[Session]:
    """One session per request. Endpoints commit explicitly; anything uncommitted is rolled
    back when the request ends."""
    route = request.scope.get("route")
    if getattr(getattr(route, "endpoint", None), _READ_ONLY_ENDPOINT, False):
        factory = request.app.state.read_sessionmaker
    else:
        factory = request.app.state.sessionmaker
    with factory() as session:
        yield session


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


DbSession = Annotated[Session, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_app_settings)]


def committed(db: Session, answer: AnswerT) -> AnswerT:
    """Commits the request's transaction and hands back `answer`, which the caller built
    before, from what the transaction read and wrote."""
    db.commit()
    return answer


def page_of(
    db: Session,
    model: type[RowT],
    where: Sequence[ColumnElement[bool]],
    order: Sequence[Any],
    limit: int,
    offset: int,
) -> tuple[list[RowT], int]:
    """One page of the rows of `model` that match all of `where`, in `order`, and how many
    match in all (the `total` of a Page)."""
    total = db.scalar(select(func.count()).select_from(model).where(*where)) or 0
    rows = db.scalars(select(model).where(*where).order_by(*order).limit(limit).offset(offset))
    return list(rows), total


# --- organisers ----------------------------------------------------------------------------


def _unauthenticated(detail: str, scheme: str) -> ProblemError:
    return ProblemError(401, detail, headers={"WWW-Authenticate": scheme})


def optional_organiser(
    request: Request,
    db: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
) -> Organiser | None:
    """The organiser whose token is in the request, None without a Bearer token."""
    if credentials is None:
        return None
    token = db.scalar(
        select(ApiToken)
        .options(joinedload(ApiToken.organiser))
        .where(ApiToken.token_hash == hash_token(credentials.credentials))
    )
    if token is None or token.revoked_at is not None:
        record_failed_guess(request, ORGANISER_TOKEN)
        raise _unauthenticated("The API token is unknown or revoked.", "Bearer")
    now = utcnow()
    last = as_utc(token.last_used_at)
    if last is None or now - last > _LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.commit()
    return token.organiser


def current_organiser(
    organiser: Annotated[Organiser | None, Depends(optional_organiser)],
) -> Organiser:
    """The calling organiser; 401 without a valid organiser token."""
    if organiser is None:
        raise _unauthenticated(
            "Send an organiser API token as 'Authorization: Bearer <token>'.", "Bearer"
        )
    return organiser


CurrentOrganiser = Annotated[Organiser, Depends(current_organiser)]


@dataclass(frozen=True)
class EventAccess:
    """An organiser's access to one event."""

    event: Event
    organiser: Organiser
    role: EventRoleName


def require_event_role(
    minimum: EventRoleName = EventRoleName.staff,
) -> Callable[..., EventAccess]:
    """Dependency for `/events/{slug}/...`: the event, if the organiser has at least `minimum`.

    No role at all → 404 (the event's existence is not revealed); staff where owner is
    needed → 403.
    """

    def dependency(slug: str, db: DbSession, organiser: CurrentOrganiser) -> EventAccess:
        event = event_service.find_event(db, slug)
        role = event_service.role_of(db, event, organiser) if event else None
        if event is None or role is None:
            raise ProblemError(404, f"There is no event '{slug}'.", type_="/problems/not-found")
        if minimum is EventRoleName.owner and role is not EventRoleName.owner:
            raise ProblemError(
                403, "Only an owner of the event may do this.", type_="/problems/forbidden"
            )
        return EventAccess(event=event, organiser=organiser, role=role)

    return dependency


StaffAccess = Annotated[EventAccess, Depends(require_event_role(EventRoleName.staff))]
OwnerAccess = Annotated[EventAccess, Depends(require_event_role(EventRoleName.owner))]

#: Who may call the endpoints that take StaffAccess or OwnerAccess, as their descriptions say.
WHO_STAFF = "**Who:** owners and staff of the event."
WHO_STAFF_OTHERS_404 = f"{WHO_STAFF} Others get 404 (anonymous: 401)."
WHO_OWNER = "**Who:** owners of the event; staff get 403, others 404 (anonymous: 401)."
#: Who may call the endpoints that take EventParticipant.
WHO_PARTICIPANT = "**Who:** a participant of the event, with their personal token."
WHO_PARTICIPANT_OTHERS_404 = (
    "**Who:** a participant of this event, with its personal token. Participants of other "
    "events get 404; anonymous callers and organiser tokens get 401."
)


# --- participants --------------------------------------------------------------------------


def participant_token_from(request: Request, header_token: str | None) -> str | None:
    """The participant token of a request: `X-Participant-Token` or `Authorization:
    Participant` (never a cookie)."""
    if header_token:
        return header_token.strip()
    authorization = request.headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "participant" and value.strip():
        return value.strip()
    return None


#: The personal-token header as a dependency that needs no database session (lean paths).
ParticipantTokenHeader = Annotated[str | None, Security(_participant_header)]


async def lean_owner(
    request: Request, find: Callable[[Engine, str | None], Owner | None], token: str | None
) -> Owner | None:
    """`find` (`matchmaking.delivery.serving.feed_owner` or `agenda_owner`) on the app's lean
    engine: on the event loop, or in a worker thread when a connection must be opened first."""
    engine: Engine = request.app.state.lean_engine
    if must_connect(engine):
        return await run_in_threadpool(find, engine, token)
    return find(engine, token)


def no_participant_token() -> ProblemError:
    """401 for a request without a participant token where one is needed."""
    return _unauthenticated(
        "Send your personal token as 'X-Participant-Token: <token>' "
        "or 'Authorization: Participant <token>'.",
        "Participant",
    )


def unknown_participant_token() -> ProblemError:
    """401 for a participant token that is unknown, or replaced by a newer one."""
    return _unauthenticated("The participant token is unknown or was replaced.", "Participant")


#: Built once: every participant request runs it.
_PARTICIPANT_BY_TOKEN = (
    select(Participant)
    .options(joinedload(Participant.event))
    .where(Participant.access_token_hash == bindparam("token_hash"))
)


def optional_participant(
    request: Request,
    db: DbSession,
    header_token: Annotated[str | None, Security(_participant_header)],
) -> Participant | None:
    """The participant whose token is in the request, None when there is none."""
    token = participant_token_from(request, header_token)
    if token is None:
        return participant_by_cookie(request, db)
    return participant_by_token(request, db, token)


def participant_by_cookie(request: Request, db: Session) -> Participant | None:
    """The participant signed in on the pages, for reading requests only (GET, HEAD: the
    agenda page's calendar download). A request that changes something needs the token in a
    header, which another site cannot make a browser send."""
    session_token = cookie(request, PARTICIPANT_COOKIE)
    if not session_token or request.method not in ("GET", "HEAD"):
        return None
    participant = browser_sessions.participant_of(db, session_token)
    if participant is None:
        record_failed_guess(request, SESSION_TOKEN)
        raise unknown_participant_token()
    return participant


def participant_by_token(request: Request, db: Session, token: str) -> Participant:
    """The participant (with its event) whose token this is; 401 for an unknown or replaced
    token, which counts as a failed guess (429 after too many). (Sending a wish finds its
    sender with `matchmaking.participants.wishes.locked_sender` instead, as plain rows.)"""
    participant = db.scalar(_PARTICIPANT_BY_TOKEN, {"token_hash": hash_token(token)})
    if participant is None:
        record_failed_guess(request, PARTICIPANT_TOKEN)
        raise unknown_participant_token()
    return participant


def current_participant(
    participant: Annotated[Participant | None, Depends(optional_participant)],
) -> Participant:
    """The calling participant (of any event); 401 without a valid participant token."""
    if participant is None:
        raise no_participant_token()
    return participant


CurrentParticipant = Annotated[Participant, Depends(current_participant)]


def event_participant(slug: str, participant: CurrentParticipant) -> Participant:
    """Dependency for `/events/{slug}/me/...`: the caller as a participant of this event.

    A participant of another event gets 404, as if this event did not exist.
    """
    return of_event(participant, slug)


def of_event(participant: Participant, slug: str) -> Participant:
    """The participant, when it belongs to event `slug`; else 404 as if there were no event."""
    if participant.event.slug != slug:
        raise no_event(slug)
    return participant


def no_event(slug: str) -> ProblemError:
    """404 for a participant's request to another event than its own: as if there were
    none."""
    return ProblemError(404, f"There is no event '{slug}'.", type_="/problems/not-found")


EventParticipant = Annotated[Participant, Depends(event_participant)]


@dataclass(frozen=True)
class EventViewer:
    """Someone who may see the event's directory: one of its organisers or participants."""

    event: Event
    organiser: Organiser | None = None
    participant: Participant | None = None


def event_viewer(
    slug: str,
    db: DbSession,
    organiser: Annotated[Organiser | None, Depends(optional_organiser)],
    participant: Annotated[Participant | None, Depends(optional_participant)],
) -> EventViewer:
    """An organiser with a role in the event or a participant of it; 401/404 otherwise."""
    if organiser is None and participant is None:
        raise _unauthenticated("Send a participant token or an organiser API token.", "Participant")
    event = event_service.find_event(db, slug)
    if event is not None:
        if participant is not None and participant.event_id == event.id:
            return EventViewer(event=event, participant=participant)
        if organiser is not None and event_service.role_of(db, event, organiser) is not None:
            return EventViewer(event=event, organiser=organiser)
    raise ProblemError(404, f"There is no event '{slug}'.", type_="/problems/not-found")


Viewer = Annotated[EventViewer, Depends(event_viewer)]
