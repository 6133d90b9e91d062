"""Calendar feeds over HTTP: secret participant URLs, a location's day, the whole event.

Calendar apps poll feeds; answers carry an ETag and Last-Modified so that an unchanged feed
costs a 304 and no body.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.deps import (
    AppSettings,
    DbSession,
    EventParticipant,
    StaffAccess,
    lean_owner,
    read_only,
)
from api.problems import ProblemError, problem_responses
from api.ratelimit import CALENDAR_URL, record_failed_guess
from api.schemas.common import IsoDay
from matchmaking.delivery import calendars, rendered, serving
from matchmaking.delivery.serving import Served
from matchmaking.platform.models import Location, Participant
from matchmaking.platform.settings import Settings

router = APIRouter(tags=["calendars"])

ICS_MEDIA_TYPE = "text/calendar; charset=utf-8"
#: Personal feeds may be kept by the client but never by shared caches; a client revalidates
#: after five minutes, which an ETag makes cheap.
PRIVATE_CACHE = "private, max-age=300, must-revalidate"
#: What a calendar feed answers besides its problems: the feed, or 304 to a matching ETag.
_ICS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/calendar": {}}, "description": "An iCalendar feed."},
    304: {"description": "Not modified."},
}


class CalendarLinks(BaseModel):
    """A participant's new secret feed URLs (shown once; their earlier links keep working,
    unless the link was made with `replace=true`)."""

    url: str = Field(examples=["https://mm.example.org/calendars/participants/mmc_x.ics"])
    webcal_url: str = Field(examples=["webcal://mm.example.org/calendars/participants/mmc_x.ics"])
    #: How many links of the participant work now, this one included.
    active_links: int = Field(examples=[2])
    #: How many earlier links stopped working with this request (0 unless `replace=true`).
    revoked_links: int = Field(examples=[0])


class ActiveCalendarLink(BaseModel):
    """One working calendar link (its secret address cannot be shown again)."""

    created_at: datetime


class ActiveCalendarLinks(BaseModel):
    """The participant's working calendar links, oldest first."""

    links: list[ActiveCalendarLink]
    max_links: int = Field(description="How many links a participant can hold at once.")


class RevokedCalendarLinks(BaseModel):
    """How many calendar links stopped working."""

    revoked_links: int


def etag_matches(request: Request, etag: str) -> bool | None:
    """RFC 9110 If-None-Match (weak comparison); None when the request has none."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is None:
        return None
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _not_modified(request: Request, feed: Served) -> bool:
    """RFC 9110 conditional GET: If-None-Match wins over If-Modified-Since."""
    matches = etag_matches(request, feed.etag)
    if matches is not None:
        return matches
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since and feed.last_modified is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return feed.last_modified.replace(microsecond=0) <= since
    return False


def feed_response(request: Request, feed: Served, filename: str) -> Response:
    headers = {
        "ETag": feed.etag,
        "Cache-Control": PRIVATE_CACHE,
        "Content-Disposition": f'inline; filename="{filename}"',
        # Feed URLs are secrets: keep them out of search engines.
        "X-Robots-Tag": "noindex, nofollow",
    }
    if feed.last_modified is not None:
        headers["Last-Modified"] = format_datetime(feed.last_modified.astimezone(UTC), usegmt=True)
    if _not_modified(request, feed):
        return Response(status_code=304, headers=headers)
    return Response(feed.body, media_type=ICS_MEDIA_TYPE, headers=headers)


@router.get(
    "/calendars/participants/{token}.ics",
    operation_id="participant_calendar",
    summary="A participant's agenda as a calendar feed (secret URL for calendar apps)",
    response_class=Response,
    responses={**_ICS_RESPONSES, **problem_responses(404, 429)},
)
async def participant_calendar(token: str, request: Request) -> Response:
    # The hot path of calendar apps: the token and the event's serving generation in one
    # statement on a pooled connection, no ORM session, no worker thread (the statement is a
    # short indexed read, run on the event loop unless a connection must be opened first); a
    # feed stored at publication comes in the same statement.
    # Only a feed neither stored nor held by this process is rendered, in a worker thread.
    # The token is checked in the database on every request; only the rendered feed is kept.
    owner = await lean_owner(request, serving.feed_owner, token)
    if owner is None:
        record_failed_guess(request, CALENDAR_URL)
        raise ProblemError(
            404,
            "This calendar link is unknown, or its owner replaced their calendar links.",
            type_="/problems/not-found",
        )
    # The feed rendered at publication, when it still holds (same statement); else this
    # process's own rendering.
    served = owner.stored
    if served is None:
        cache: serving.ServingCache = request.app.state.serving_cache
        served = cache.get("calendar", owner.participant_id, owner.generation)
    if served is None:
        served = await run_in_threadpool(render_feed_apart, request, owner)
    return feed_response(request, served, f"{owner.event_slug}-agenda.ics")


# HEAD is its own operation (one operationId per method; calendar apps ask HEAD first).
router.add_api_route(
    "/calendars/participants/{token}.ics",
    participant_calendar,
    methods=["HEAD"],
    operation_id="participant_calendar_head",
    summary="The headers of a participant's calendar feed",
    response_class=Response,
    responses={**_ICS_RESPONSES, **problem_responses(404, 429)},
)


def render_feed_apart(request: Request, owner: serving.Owner) -> Served:
    """Render and keep a feed in a read-only session of its own (the lean path has none)."""
    settings: Settings = request.app.state.settings
    with request.app.state.read_sessionmaker() as db:
        return render_feed(request, db, settings, owner.participant_id, owner.generation)


def cached_feed(
    request: Request, db: Session, settings: Settings, participant_id: int, generation: int
) -> Served:
    """The participant's feed from this process's cache, rendered when it holds none for the
    event's current serving generation."""
    cache: serving.ServingCache = request.app.state.serving_cache
    served = cache.get("calendar", participant_id, generation)
    if served is None:
        served = render_feed(request, db, settings, participant_id, generation)
    return served


def render_feed(
    request: Request, db: Session, settings: Settings, participant_id: int, generation: int
) -> Served:
    """Render the participant's feed and keep it under the generation read before: rendering
    reads data at least as new as that generation, so a kept feed is never older than its key."""
    cache: serving.ServingCache = request.app.state.serving_cache
    participant = db.get_one(Participant, participant_id)
    served = calendars.participant_feed(db, participant, settings=settings)
    cache.put("calendar", participant_id, generation, served)
    return served


@router.get(
    "/api/v1/events/{slug}/me/calendar.ics",
    summary="Download your own agenda as an iCalendar file",
    response_class=Response,
    responses={**_ICS_RESPONSES, **problem_responses(401, 404)},
)
@read_only
def own_calendar(
    request: Request, db: DbSession, settings: AppSettings, participant: EventParticipant
) -> Response:
    served = rendered.stored_document(
        db, participant.event, "calendar", str(participant.id)
    ) or cached_feed(request, db, settings, participant.id, participant.event.serving_generation)
    return feed_response(request, served, f"{participant.event.slug}-agenda.ics")


@router.get(
    "/api/v1/events/{slug}/me/calendar-links",
    summary="Your working calendar subscription links (when each was made)",
    response_model=ActiveCalendarLinks,
    responses=problem_responses(401, 404),
)
def list_calendar_links(participant: EventParticipant) -> ActiveCalendarLinks:
    return ActiveCalendarLinks(
        links=[
            ActiveCalendarLink(created_at=calendars.aware(link.created_at))
            for link in participant.calendar_links
        ],
        max_links=calendars.MAX_CALENDAR_LINKS,
    )


@router.post(
    "/api/v1/events/{slug}/me/calendar-links",
    summary="Make a new secret calendar subscription link (earlier links keep working; "
    "with replace=true they all stop)",
    response_model=CalendarLinks,
    status_code=201,
    responses=problem_responses(401, 404, 409),
)
def new_calendar_links(
    db: DbSession,
    settings: AppSettings,
    participant: EventParticipant,
    replace: Annotated[
        bool,
        Query(
            description="Revoke every earlier calendar link of yours in the same step (for a "
            "link that was shared or lost): calendar apps subscribed with them stop updating."
        ),
    ] = False,
) -> CalendarLinks:
    revoked = 0
    if replace:
        revoked = len(participant.calendar_links)
        token = calendars.replace_calendar_links(participant)
    else:
        token = calendars.issue_calendar_token(participant)
    active = len(participant.calendar_links)
    db.commit()
    return CalendarLinks(
        url=calendars.participant_feed_url(token, settings=settings),
        webcal_url=calendars.participant_feed_url(token, webcal=True, settings=settings),
        active_links=active,
        revoked_links=revoked,
    )


@router.delete(
    "/api/v1/events/{slug}/me/calendar-links",
    summary="Revoke every calendar subscription link of yours (they stop working at once)",
    response_model=RevokedCalendarLinks,
    responses=problem_responses(401, 404),
)
def revoke_calendar_links(db: DbSession, participant: EventParticipant) -> RevokedCalendarLinks:
    revoked = calendars.revoke_calendar_links(participant)
    db.commit()
    return RevokedCalendarLinks(revoked_links=revoked)


@router.get(
    "/api/v1/events/{slug}/calendar.ics",
    summary="Every published meeting of the event as a calendar feed (organisers)",
    response_class=Response,
    responses={**_ICS_RESPONSES, **problem_responses(401, 404)},
)
def event_calendar(
    request: Request, db: DbSession, settings: AppSettings, access: StaffAccess
) -> Response:
    feed = rendered.stored_document(db, access.event, "event", "") or calendars.event_feed(
        db, access.event, settings=settings
    )
    return feed_response(request, feed, f"{access.event.slug}.ics")


@router.get(
    "/api/v1/events/{slug}/locations/{key}/calendar.ics",
    summary="One table's or room's meetings, of one day or all days (table hosts and staff)",
    response_class=Response,
    responses={**_ICS_RESPONSES, **problem_responses(401, 404)},
)
def location_calendar(
    key: str,
    request: Request,
    db: DbSession,
    settings: AppSettings,
    access: StaffAccess,
    day: Annotated[IsoDay | None, Query(description="Only this day (YYYY-MM-DD).")] = None,
) -> Response:
    location = db.scalar(
        select(Location).where(Location.event_id == access.event.id, Location.key == key)
    )
    if location is None:
        raise ProblemError(404, f"The event has no location '{key}'.", type_="/problems/not-found")
    feed = rendered.stored_document(
        db, access.event, "location", rendered.location_key(location.id, day)
    ) or calendars.location_feed(db, location, day, settings=settings)
    suffix = f"-{day.isoformat()}" if day else ""
    return feed_response(request, feed, f"{access.event.slug}-{key}{suffix}.ics")
