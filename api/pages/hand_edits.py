"""The organiser's hand edits of a schedule version: move, add, cancel and pin meetings, make
a draft copy of a published version, re-solve around the pins (matchmaking/planning/hand_edits.py,
the same service as the API). A refused edit shows the page again with why, in words."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote_plus

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import DbSession
from api.pages.common import (
    PageError,
    organiser_event,
    page_version,
    redirect,
    render,
)
from api.pages.forms import PostedForm
from matchmaking.planning import hand_edits as service
from matchmaking.planning import jobs as job_service
from matchmaking.planning.versions import SCHEDULE_STATUSES, load_meetings
from matchmaking.platform.errors import DomainError, Invalid, NotFound
from matchmaking.platform.models import Event, Location, Participant, ScheduleVersion, Slot
from matchmaking.platform.wording import slot_label
from solver.problem import SolveParameters

router = APIRouter()

ACTIONS = ("copy", "move", "add", "cancel", "pin", "unpin", "resolve")
#: Re-solve time limits offered (seconds); the solve runs in the request.
RESOLVE_LIMITS = (5, 10, 30, 60)


def _page(
    request: Request,
    db: Session,
    event: Event,
    organiser: Any,
    version: ScheduleVersion,
    *,
    refused: list[str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    slots = list(
        db.scalars(select(Slot).where(Slot.event_id == event.id).order_by(Slot.start, Slot.id))
    )
    multi_day = len({s.start.date() for s in slots}) > 1
    meetings = sorted(
        load_meetings(db, version),
        key=lambda m: (m.slot.start, m.location.position, m.location.id, m.id),
    )
    people = list(
        db.scalars(
            select(Participant)
            .where(Participant.event_id == event.id)
            .order_by(Participant.name, Participant.id)
        )
    )
    return render(
        request,
        "pages/hand_edits.html",
        {
            "title": f"Edit version {version.number} by hand · {event.name}",
            "event": event,
            "organiser": organiser,
            "version": version,
            "editable": version.published_at is None and version.status in SCHEDULE_STATUSES,
            "has_schedule": version.status in SCHEDULE_STATUSES,
            "meetings": meetings,
            "slots": slots,
            "when": lambda slot: slot_label(slot.start, slot.end, with_day=multi_day),
            "locations": list(
                db.scalars(
                    select(Location)
                    .where(Location.event_id == event.id)
                    .order_by(Location.position, Location.id)
                )
            ),
            "people": people,
            "pinned": sum(1 for m in meetings if m.pinned),
            "edits": service.hand_edits(db, version),
            "refused": refused or [],
            "limits": RESOLVE_LIMITS,
            "flash": request.query_params.get("flash", "")[:300],
        },
        status=status,
    )


@router.get(
    "/organiser/e/{slug}/versions/{number}/edit",
    response_class=HTMLResponse,
    include_in_schema=False,
)
def edit_page(slug: str, number: int, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, _ = organiser_event(request, db, slug)
    return _page(request, db, event, organiser, page_version(db, event, number))


@router.post("/organiser/e/{slug}/versions/{number}/edit/{action}", include_in_schema=False)
def edit(
    slug: str, number: int, action: str, request: Request, db: DbSession, form: PostedForm
) -> Response:
    # A plain `def`: FastAPI runs it in the thread pool, so the database work (and a
    # re-solve) never stalls the event loop, as the other organiser forms.
    return _edit(slug, number, action, request, db, form)


def _text(values: dict[str, Any], name: str) -> str:
    return str(values.get(name, "") or "")[:200]


def _edit(
    slug: str, number: int, action: str, request: Request, db: Session, values: dict[str, Any]
) -> Response:
    event, organiser, _ = organiser_event(request, db, slug, values)
    if action not in ACTIONS:
        raise PageError(404, "Not found", "There is no such edit.")
    version = page_version(db, event, number)
    by = organiser.id
    try:
        if action == "copy":
            copy = service.draft_copy(db, event, version, by=by)
            db.commit()
            flash = _quote(f"Version {copy.number} is a draft copy of version {number}.")
            return redirect(f"/organiser/e/{slug}/versions/{copy.number}/edit?flash={flash}")
        if action == "resolve":
            return _resolve(request, db, event, number, values, by)
        uid = _text(values, "meeting")
        if action == "move":
            result = service.move_meeting(
                db, event, version, uid,
                slot=_text(values, "slot"), location=_text(values, "location"), by=by,
            )  # fmt: skip
        elif action == "add":
            pair = (_text(values, "first"), _text(values, "second"))
            result = service.add_meeting(
                db, event, version, pair,
                slot=_text(values, "slot"), location=_text(values, "location"), by=by,
            )  # fmt: skip
        elif action == "cancel":
            result = service.cancel_meeting(db, event, version, uid, by=by)
        else:
            result = service.set_pinned(db, event, version, uid, action == "pin", by=by)
    except service.EditRefused as refused:
        db.rollback()
        return _page(request, db, event, organiser, version, refused=refused.reasons, status=409)
    except DomainError as error:
        db.rollback()
        status = 404 if isinstance(error, NotFound) else 409
        if isinstance(error, Invalid):
            status = 422
        return _page(request, db, event, organiser, version, refused=[error.detail], status=status)
    text = result.edit.text
    db.commit()
    return redirect(f"/organiser/e/{slug}/versions/{number}/edit?flash={_quote(text)}")


def _quote(text: str) -> str:
    return quote_plus(text[:300])


def _resolve(
    request: Request, db: Session, event: Event, number: int, values: dict[str, Any], by: int
) -> Response:
    try:
        limit = float(_text(values, "time_limit") or RESOLVE_LIMITS[1])
    except ValueError:
        limit = 0
    if not 1 <= limit <= 120:
        raise PageError(422, "Invalid time limit", "The time limit must be 1 to 120 seconds.")
    if job_service.active_job_id(db, event.id) is not None:
        raise PageError(
            409,
            "A solve is under way",
            "A solve of this event is already under way; wait for it to finish, then re-solve.",
        )
    event_id, slug = event.id, event.slug
    db.commit()  # no transaction stays open while the solver runs
    parameters = SolveParameters(time_limit_seconds=limit, workers=1, deterministic=True)
    new = service.resolve_around_pins(
        request.app.state.sessionmaker, event_id, number, parameters, by=by
    )
    flash = _quote(f"Version {new.number} is the re-solve around the pins of version {number}.")
    return redirect(f"/organiser/e/{slug}/versions/{new.number}?flash={flash}")
