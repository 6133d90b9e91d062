"""Events and their set-up: lifecycle, roles, sessions and slots, locations, rules, bundles.

Events are addressed by slug, everything inside an event by its key (the bundle's `id`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status
from fastapi.responses import JSONResponse

from api.deps import WHO_OWNER as OWNER
from api.deps import WHO_STAFF_OTHERS_404 as STAFF
from api.deps import CurrentOrganiser, DbSession, EventAccess, OwnerAccess, StaffAccess, committed
from api.problems import FieldError, ProblemError, problem_responses, refuse_nulls
from api.schemas.common import Limit, Offset, Page, RowId
from api.schemas.events import (
    EVENT_NULLABLE,
    Counts,
    EventCreate,
    EventOut,
    EventPublic,
    EventUpdate,
    LocationCreate,
    LocationOut,
    LocationUpdate,
    RoleGrant,
    RoleOut,
    Rules,
    SessionCreate,
    SessionOut,
    SessionUpdate,
    SlotCreate,
    SlotGenerate,
    SlotOut,
    SlotUpdate,
)
from matchmaking.bundle.dump import bundle_document
from matchmaking.bundle.store import export_bundle, import_bundle
from matchmaking.bundle.validate import BundleError, parse_bundle
from matchmaking.organising import events as service
from matchmaking.platform.models import Event, EventRoleName, EventSession, EventStatus, Slot

router = APIRouter(prefix="/api/v1/events", tags=["events"])


# --- helpers ---------------------------------------------------------------------------------


def event_out(db: DbSession, event: Event, role: EventRoleName | None) -> EventOut:
    out = EventOut.model_validate(event)
    out.role = role
    counts = service.event_counts(db, event)
    out.counts = Counts(**counts.__dict__)
    return out


def slot_out(slot: Slot) -> SlotOut:
    return SlotOut(key=slot.key, start=slot.start, end=slot.end, session=slot.session.key)


def session_out(row: EventSession) -> SessionOut:
    return SessionOut(
        key=row.key, name=row.name, position=row.position, slots=[slot_out(s) for s in row.slots]
    )


def _event_fields(values: dict[str, Any]) -> dict[str, Any]:
    """API values → service values: rules as the bundle's plain object (the services store
    instants in UTC)."""
    fields = dict(values)
    if isinstance(fields.get("rules"), dict):
        fields["rules"] = {k: v for k, v in fields["rules"].items() if v is not None}
    return fields


# --- events ----------------------------------------------------------------------------------


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EventOut,
    responses=problem_responses(401, 409, 422),
    summary="Create an event",
    description="**Who:** any authenticated organiser, who becomes the event's owner. "
    "The event starts as a draft. A slug in use → 409.",
)
def create_event(body: EventCreate, organiser: CurrentOrganiser, db: DbSession) -> EventOut:
    fields = _event_fields(body.model_dump(exclude={"slug"}))
    event = service.create_event(db, organiser, body.slug, fields)
    return committed(db, event_out(db, event, EventRoleName.owner))


@router.get(
    "",
    response_model=Page[EventOut],
    responses=problem_responses(401, 422),
    summary="My events",
    description="**Who:** any authenticated organiser; lists the events it has a role in, "
    "newest first, filtered by `status` and a text `q` (name or slug).",
)
def list_events(
    organiser: CurrentOrganiser,
    db: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    event_status: Annotated[EventStatus | None, Query(alias="status")] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[EventOut]:
    events, total = service.list_events(
        db, organiser, status=event_status, q=q, limit=limit, offset=offset
    )
    items = [event_out(db, e, service.role_of(db, e, organiser)) for e in events]
    return Page(items=items, total=total, limit=limit, offset=offset)


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    response_model=EventOut,
    responses=problem_responses(401, 409, 413, 422),
    summary="Import a bundle as a new event",
    description="**Who:** any authenticated organiser, who becomes the new event's owner. "
    "The body is a `matchmaking-bundle/1` document (see docs/bundle-format.md). An invalid "
    "bundle is refused whole (422) with every problem in `errors`, each `field` a JSON pointer "
    "into the bundle (`/wishes/17/to`); a slug in use → 409. Nothing is stored on error.",
)
def import_event(
    organiser: CurrentOrganiser,
    db: DbSession,
    bundle: Annotated[dict[str, Any], Body(examples=[{"format": "matchmaking-bundle/1"}])],
) -> EventOut:
    try:
        event = import_bundle(db, parse_bundle(bundle), owner=organiser)
    except BundleError as error:
        problems = [(p.path, p.message) for p in error.problems]
        taken = any(path == "/event/slug" and "exists" in msg for path, msg in problems)
        raise _bundle_problem(409 if taken else 422, problems) from None
    return committed(db, event_out(db, event, EventRoleName.owner))


def _bundle_problem(status_code: int, problems: list[tuple[str, str]]) -> ProblemError:
    return ProblemError(
        status_code,
        "The bundle was refused: " + "; ".join(f"{path}: {message}" for path, message in problems),
        title="Invalid bundle" if status_code == 422 else "Conflict with the current state",
        type_="/problems/invalid-bundle" if status_code == 422 else "/problems/conflict",
        errors=[FieldError(field=path, message=message) for path, message in problems],
    )


@router.get(
    "/{slug}",
    response_model=EventOut,
    responses=problem_responses(401, 404, 422),
    summary="An event",
    description=STAFF,
)
def get_event(access: StaffAccess, db: DbSession) -> EventOut:
    return event_out(db, access.event, access.role)


@router.patch(
    "/{slug}",
    response_model=EventOut,
    responses=problem_responses(401, 404, 409, 422),
    summary="Edit an event",
    description=STAFF + " Only the fields sent change; `null` clears `registration_closes`, "
    "`max_requests_per_participant` and `wish_cutoff`. A new time zone must keep every slot "
    "a real local time.",
)
def update_event(body: EventUpdate, access: StaffAccess, db: DbSession) -> EventOut:
    changes = body.model_dump(exclude_unset=True)
    refuse_nulls(changes, EVENT_NULLABLE)
    service.update_event(db, access.event, _event_fields(changes))
    return committed(db, event_out(db, access.event, access.role))


@router.delete(
    "/{slug}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 403, 404, 422),
    summary="Delete an event with everything in it",
    description=OWNER,
)
def delete_event(access: OwnerAccess, db: DbSession) -> Response:
    service.delete_event(db, access.event)
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{slug}/public",
    response_model=EventPublic,
    responses=problem_responses(404, 422),
    summary="What anyone may know about an event (to register)",
    description="**Who:** anyone, without credentials. Draft events answer 404.",
)
def public_event(slug: str, db: DbSession) -> EventPublic:
    event = service.find_event(db, slug)
    if event is None or event.status is EventStatus.draft:
        raise ProblemError(404, f"There is no event '{slug}'.", type_="/problems/not-found")
    # Everything else of the event it shares with the organisers' view; the rest is left out.
    shown = EventOut.model_validate(event).model_dump()
    return EventPublic.model_validate(
        {
            **shown,
            "registration_open": service.registration_is_open(event),
            "sessions": [session_out(s) for s in event.sessions],
        }
    )


@router.get(
    "/{slug}/bundle",
    responses={
        200: {"description": "The event as a `matchmaking-bundle/1` document."},
        **problem_responses(401, 404, 409, 422),
    },
    summary="Export the event as a bundle",
    description=STAFF + " The document re-imports to the same event (round trip). An event "
    "without sessions, or with a session without slots, cannot be a bundle yet → 409.",
)
def export_event(access: StaffAccess, db: DbSession) -> JSONResponse:
    document = bundle_document(export_bundle(db, access.event))
    return JSONResponse(
        document,
        headers={"Content-Disposition": f'attachment; filename="{access.event.slug}.json"'},
    )


# --- lifecycle and rules ---------------------------------------------------------------------


@router.post(
    "/{slug}/open",
    response_model=EventOut,
    responses=problem_responses(401, 404, 409, 422),
    summary="Open registration",
    description=STAFF
    + " From draft or closed; after a schedule exists (scheduled, published) too, before the "
    "registration deadline: late registrants wait for the next re-plan. The event needs slots "
    "and a location (409).",
)
def open_event(access: StaffAccess, db: DbSession) -> EventOut:
    service.open_registration(db, access.event)
    return committed(db, event_out(db, access.event, access.role))


@router.post(
    "/{slug}/close",
    response_model=EventOut,
    responses=problem_responses(401, 404, 409, 422),
    summary="Close registration",
    description=STAFF + " From open only. Wishes follow their own cut-off (`wish_cutoff`).",
)
def close_event(access: StaffAccess, db: DbSession) -> EventOut:
    service.close_registration(db, access.event)
    return committed(db, event_out(db, access.event, access.role))


@router.put(
    "/{slug}/rules",
    response_model=EventOut,
    responses=problem_responses(401, 404, 422),
    summary="Set the solver's rules",
    description=STAFF + " Replaces `rules` whole (caps, break difference, goal order).",
)
def set_rules(body: Rules, access: StaffAccess, db: DbSession) -> EventOut:
    service.update_event(db, access.event, _event_fields({"rules": body.model_dump()}))
    return committed(db, event_out(db, access.event, access.role))


# --- roles -----------------------------------------------------------------------------------


def _roles(db: DbSession, access: EventAccess) -> list[RoleOut]:
    return [
        RoleOut(
            organiser_id=r.organiser_id,
            email=r.organiser.email,
            name=r.organiser.name,
            role=r.role,
        )
        for r in service.list_roles(db, access.event)
    ]


@router.get(
    "/{slug}/roles",
    response_model=list[RoleOut],
    responses=problem_responses(401, 404, 422),
    summary="Who organises the event",
    description=STAFF,
)
def list_roles(access: StaffAccess, db: DbSession) -> list[RoleOut]:
    return _roles(db, access)


@router.put(
    "/{slug}/roles",
    response_model=list[RoleOut],
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Give an organiser a role",
    description=OWNER + " Adds the organiser with `email` or changes its role. The last "
    "owner cannot become staff (409).",
)
def grant_role(body: RoleGrant, access: OwnerAccess, db: DbSession) -> list[RoleOut]:
    service.grant_role(db, access.event, body.email, body.role)
    return committed(db, _roles(db, access))


@router.delete(
    "/{slug}/roles/{organiser_id}",
    response_model=list[RoleOut],
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Take an organiser's role away",
    description=OWNER + " The last owner cannot be removed (409).",
)
def remove_role(organiser_id: RowId, access: OwnerAccess, db: DbSession) -> list[RoleOut]:
    service.remove_role(db, access.event, organiser_id)
    return committed(db, _roles(db, access))


# --- sessions and slots ----------------------------------------------------------------------


@router.get(
    "/{slug}/sessions",
    response_model=list[SessionOut],
    responses=problem_responses(401, 404, 422),
    summary="Sessions with their slots",
    description=STAFF,
)
def list_sessions(access: StaffAccess) -> list[SessionOut]:
    return [session_out(s) for s in access.event.sessions]


@router.post(
    "/{slug}/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionOut,
    responses=problem_responses(401, 404, 409, 422),
    summary="Add a session",
    description=STAFF + " A key in use → 409.",
)
def add_session(body: SessionCreate, access: StaffAccess, db: DbSession) -> SessionOut:
    row = service.add_session(db, access.event, body.key, body.name, body.position)
    return committed(db, session_out(row))


@router.get(
    "/{slug}/sessions/{key}",
    response_model=SessionOut,
    responses=problem_responses(401, 404, 422),
    summary="A session with its slots",
    description=STAFF,
)
def get_session(key: str, access: StaffAccess, db: DbSession) -> SessionOut:
    return session_out(service.get_session(db, access.event, key))


@router.patch(
    "/{slug}/sessions/{key}",
    response_model=SessionOut,
    responses=problem_responses(401, 404, 422),
    summary="Rename or move a session",
    description=STAFF,
)
def update_session(key: str, body: SessionUpdate, access: StaffAccess, db: DbSession) -> SessionOut:
    changes = body.model_dump(exclude_unset=True)
    refuse_nulls(changes)
    row = service.update_session(db, service.get_session(db, access.event, key), changes)
    return committed(db, session_out(row))


@router.delete(
    "/{slug}/sessions/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 409, 422),
    summary="Delete a session and its slots",
    description=STAFF + " Refused (409) while a schedule version has meetings in its slots.",
)
def delete_session(key: str, access: StaffAccess, db: DbSession) -> Response:
    service.delete_session(db, service.get_session(db, access.event, key))
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{slug}/sessions/{key}/slots",
    status_code=status.HTTP_201_CREATED,
    response_model=SlotOut,
    responses=problem_responses(401, 404, 409, 422),
    summary="Add one slot to a session",
    description=STAFF + " Times are local in the event's zone, without offset. A slot that "
    "overlaps another or falls into a daylight-saving gap → 422.",
)
def add_slot(key: str, body: SlotCreate, access: StaffAccess, db: DbSession) -> SlotOut:
    row = service.get_session(db, access.event, key)
    slot = service.add_slot(db, access.event, row, body.start, body.end, body.key)
    return committed(db, slot_out(slot))


@router.post(
    "/{slug}/sessions/{key}/slots/generate",
    status_code=status.HTTP_201_CREATED,
    response_model=list[SlotOut],
    responses=problem_responses(401, 404, 409, 422),
    summary="Generate a session's slots",
    description=STAFF + " Fills the session from `start` to `end` with meetings of "
    "`meeting_minutes`, each followed by `pause_minutes`; keys are the next free `s<n>`. "
    "`replace` removes the session's slots first (409 while a schedule uses them).",
)
def generate_slots(
    key: str, body: SlotGenerate, access: StaffAccess, db: DbSession
) -> list[SlotOut]:
    row = service.get_session(db, access.event, key)
    slots = service.generate_slots(db, access.event, row, **body.model_dump())
    return committed(db, [slot_out(s) for s in slots])


@router.get(
    "/{slug}/slots",
    response_model=list[SlotOut],
    responses=problem_responses(401, 404, 422),
    summary="All slots, in time order",
    description=STAFF + " `session` filters by session key.",
)
def list_slots(
    access: StaffAccess,
    db: DbSession,
    session: Annotated[str | None, Query(max_length=64)] = None,
) -> list[SlotOut]:
    return [slot_out(s) for s in service.list_slots(db, access.event, session)]


@router.patch(
    "/{slug}/slots/{key}",
    response_model=SlotOut,
    responses=problem_responses(401, 404, 422),
    summary="Move a slot",
    description=STAFF,
)
def update_slot(key: str, body: SlotUpdate, access: StaffAccess, db: DbSession) -> SlotOut:
    changes = body.model_dump(exclude_unset=True)
    refuse_nulls(changes)
    slot = service.update_slot(db, access.event, service.get_slot(db, access.event, key), changes)
    return committed(db, slot_out(slot))


@router.delete(
    "/{slug}/slots/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 409, 422),
    summary="Delete a slot",
    description=STAFF + " Refused (409) while a schedule version has meetings in it.",
)
def delete_slot(key: str, access: StaffAccess, db: DbSession) -> Response:
    service.delete_slot(db, service.get_slot(db, access.event, key))
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- locations -------------------------------------------------------------------------------


@router.get(
    "/{slug}/locations",
    response_model=list[LocationOut],
    responses=problem_responses(401, 404, 422),
    summary="Tables, rooms and online rooms",
    description=STAFF,
)
def list_locations(access: StaffAccess, db: DbSession) -> list[LocationOut]:
    return [LocationOut.model_validate(x) for x in service.list_locations(db, access.event)]


@router.post(
    "/{slug}/locations",
    status_code=status.HTTP_201_CREATED,
    response_model=LocationOut,
    responses=problem_responses(401, 404, 409, 422),
    summary="Add a location",
    description=STAFF + " A key in use → 409.",
)
def add_location(body: LocationCreate, access: StaffAccess, db: DbSession) -> LocationOut:
    location = service.add_location(db, access.event, body.model_dump())
    return committed(db, LocationOut.model_validate(location))


@router.get(
    "/{slug}/locations/{key}",
    response_model=LocationOut,
    responses=problem_responses(401, 404, 422),
    summary="A location",
    description=STAFF,
)
def get_location(key: str, access: StaffAccess, db: DbSession) -> LocationOut:
    return LocationOut.model_validate(service.get_location(db, access.event, key))


@router.patch(
    "/{slug}/locations/{key}",
    response_model=LocationOut,
    responses=problem_responses(401, 404, 422),
    summary="Edit a location",
    description=STAFF,
)
def update_location(
    key: str, body: LocationUpdate, access: StaffAccess, db: DbSession
) -> LocationOut:
    changes = body.model_dump(exclude_unset=True)
    refuse_nulls(changes)
    location = service.update_location(db, service.get_location(db, access.event, key), changes)
    return committed(db, LocationOut.model_validate(location))


@router.delete(
    "/{slug}/locations/{key}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 404, 409, 422),
    summary="Delete a location",
    description=STAFF + " Refused (409) while a schedule version has meetings there.",
)
def delete_location(key: str, access: StaffAccess, db: DbSession) -> Response:
    service.delete_location(db, service.get_location(db, access.event, key))
    db.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
