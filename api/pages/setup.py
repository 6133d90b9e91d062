"""Event set-up pages: create and edit an event, its sessions and slots (a slot generator
that previews before saving), its tables, rooms, video rooms and host stands, its rules, its
team, and opening or closing registration with what is still missing said plainly.

Forms are parsed here (text to numbers, a day and a time in the event's zone to an instant)
and handed to the same services of `matchmaking.organising.events` that the JSON API calls; every
problem they find is shown next to its field, and a refused form stores nothing.

Who: the event's owners and staff; team changes are for owners only (staff get 403), other
organisers see 404, and signed-out visitors the sign-in form. Anyone signed in may create an
event, of which they become the owner.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from typing import Annotated, Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from api.deps import DbSession
from api.pages.common import (
    CSRF_FIELD,
    PageError,
    RegistrationRefused,
    change_registration,
    check_csrf,
    organiser_event,
    page_organiser,
    redirect,
    render,
    sign_in_first,
)
from api.pages.forms import form_values, timezone_names
from matchmaking.bundle.dump import bundle_document
from matchmaking.bundle.store import export_bundle
from matchmaking.organising import event_checks as checks
from matchmaking.organising import events as event_service
from matchmaking.organising import organisers as organiser_service
from matchmaking.organising.timegrid import zone as event_zone
from matchmaking.participants import registration as registration_service
from matchmaking.platform.errors import Conflict, DomainError, Invalid
from matchmaking.platform.models import (
    Event,
    EventRoleName,
    EventSession,
    Location,
    LocationKind,
    Organiser,
    Participant,
    Slot,
    as_utc,
)
from matchmaking.platform.wording import slot_label

router = APIRouter()
T = TypeVar("T")

GOAL_WORDS = {
    "required": "Required wishes are all met",
    "scheduled": "As many wishes as possible are met",
    "fairness": "Wishes are shared out fairly",
    "breaks": "Few breaks between meetings",
    "stability": "Published meetings stay where they are",
}
MODE_WORDS = {
    "onsite": "On site: everyone meets at the venue",
    "online": "Online: every meeting is a video call",
    "hybrid": "Hybrid: on site and online participants",
}
KIND_WORDS = {"table": "Table", "room": "Room", "online": "Video room"}
POLICY_WORDS = {
    "recipient_accepts": "The person asked accepts or declines each request",
    "auto_accept": "Requests are accepted as soon as they are sent",
}
STEPS = (
    ("setup", "Overview", ""),
    ("details", "Event details", "/details"),
    ("sessions", "Sessions and slots", "/sessions"),
    ("locations", "Tables and rooms", "/locations"),
    ("rules", "Rules", "/rules"),
    ("team", "Team", "/team"),
)


async def posted(request: Request) -> dict[str, Any]:
    """The form's fields (read on the event loop; the handlers then run in a thread)."""
    return form_values(await request.form())


Posted = Annotated[dict[str, Any], Depends(posted)]


# --- access, rendering, errors ---------------------------------------------------------------


def _event(
    request: Request,
    db: Session,
    slug: str,
    values: Mapping[str, Any] | None = None,
    *,
    owner: bool = False,
) -> tuple[Event, Organiser, EventRoleName]:
    """The event an owner or staff member sets up; a form's CSRF token is checked first."""
    event, organiser, role = organiser_event(request, db, slug, values)
    if owner and role is not EventRoleName.owner:
        raise PageError(
            403,
            "Only owners may do this",
            "Only an owner of the event may change its team. Ask an owner to do it.",
            links=(("Back to the team", f"/organiser/e/{event.slug}/team"),),
        )
    return event, organiser, role


def _page(
    request: Request,
    template: str,
    event: Event | None,
    organiser: Organiser,
    step: str,
    *,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    values: dict[str, Any] = {
        "event": event,
        "organiser": organiser,
        "step": step,
        "steps": STEPS,
        "errors": {},
        "values": {},
        "flash": request.query_params.get("flash", "")[:300],
        **context,
    }
    if "title" not in values:
        label = dict((s, label) for s, label, _ in STEPS).get(step, "Set-up")
        values["title"] = f"{label} · {event.name}" if event else label
    return render(request, template, values, status=status)


def _back(event: Event, path: str, flash: str) -> Response:
    return redirect(f"/organiser/e/{event.slug}{path}?flash={quote(flash, safe='')}")


def problems_of(error: DomainError, fields: Mapping[str, str]) -> dict[str, str]:
    """A service's problems as form errors: each at its form field (`fields` maps the
    service's plain field names to the form's), the rest under "form"."""
    if isinstance(error, checks.SetupInvalid):
        found = [(p.field, _sentence(p.field, p.message)) for p in error.problems]
    else:
        found = [((error.field or "").removeprefix("body."), error.detail)]
    errors: dict[str, str] = {}
    for name, message in found:
        target = fields.get(name) or fields.get(name.split(".")[-1]) or "form"
        errors.setdefault(target, message)
    return errors


FIELD_WORDS = {
    "slug": "The web address",
    "name": "The name",
    "timezone": "The time zone",
    "venue": "The venue",
    "description": "The description",
    "mode": "The kind of event",
    "focus_areas": "The focus areas",
    "video_base_url": "The video link",
    "url": "The video link",
    "capacity": "The number of meetings at once",
    "kind": "The kind of location",
    "start": "The start",
    "end": "The end",
    "meeting_minutes": "The meeting length",
    "pause_minutes": "The pause",
    "prefix": "The name",
    "first": "The first number",
    "last": "The last number",
    "rules.max_meetings_per_participant": "The meetings per participant",
    "rules.max_meetings_total": "The meetings of the whole event",
    "rules.max_break_difference": "The difference in breaks",
    "rules.objective": "The goal order",
    "rules.cross_delegation_only": "The delegation rule",
    "wish_policy": "The way requests are answered",
    "max_requests_per_participant": "The number of requests",
    "wish_cutoff": "The last moment for requests",
    "registration_closes": "The registration deadline",
}


_QUOTED_SLOT = re.compile(r"""[Ss]lot ['"]([^'"]{1,64})['"]""")
_ISO_SPAN = re.compile(r" \(\d{4}-\d\d-\d\dT\d\d:\d\d–\d{4}-\d\d-\d\dT\d\d:\d\d\)")


def in_words(db: Session, event: Event, error: DomainError) -> DomainError:
    """The error with the slots it names by key (`slot "s5" overlaps slot "s1" (…)`) named
    by their day and times, read before the transaction is rolled back."""
    keys = set(_QUOTED_SLOT.findall(error.detail))
    if not keys:
        return error
    labels = {
        key: f"the slot {slot_label(slot.start, slot.end)}"
        for key, slot in event_service.event_rows(db, event, Slot, keys).items()
    }
    text = _QUOTED_SLOT.sub(lambda m: labels.get(m.group(1), "a slot"), error.detail)
    error.detail = _ISO_SPAN.sub("", text)
    return error


def _sentence(field: str, message: str) -> str:
    """`must be between 0 and 10000` of `capacity` → "The capacity must be between …"."""
    words = FIELD_WORDS.get(field, "This value")
    text = message if message[:1].isupper() else f"{words} {message}"
    return text if text.endswith(".") else text + "."


class Form:
    """Reads typed values out of form text, keeping a message per field that cannot be read."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = dict(values)
        self.errors: dict[str, str] = {}

    def text(self, name: str) -> str:
        return str(self.values.get(name, "") or "")

    def _present(self, name: str, raw: str, *, optional: bool, missing: str) -> bool:
        """Whether the field holds text; when not, `missing` is its error unless optional."""
        if not raw and not optional:
            self.errors[name] = missing
        return bool(raw)

    def whole(self, name: str, *, optional: bool = True) -> int | None:
        raw = self.text(name).replace(" ", "")
        if not self._present(name, raw, optional=optional, missing="Enter a whole number."):
            return None
        if not re.fullmatch(r"\d{1,9}", raw):
            self.errors[name] = "Enter a whole number, such as 12."
            return None
        return int(raw)

    def day(self, name: str, *, optional: bool = False) -> date | None:
        raw = self.text(name)
        if not self._present(
            name, raw, optional=optional, missing="Enter a day, such as 2030-09-10."
        ):
            return None
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            with contextlib.suppress(ValueError):
                return date.fromisoformat(raw)
        self.errors[name] = "Enter a day written as year-month-day, such as 2030-09-10."
        return None

    def clock(self, name: str, *, optional: bool = False) -> time | None:
        raw = self.text(name)
        if not self._present(name, raw, optional=optional, missing="Enter a time, such as 09:00."):
            return None
        match = re.fullmatch(r"(\d{1,2})[:.h](\d{2})", raw)
        if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
            return time(int(match.group(1)), int(match.group(2)))
        self.errors[name] = "Enter a time on the 24-hour clock, such as 09:00 or 14:30."
        return None

    def local(self, day_name: str, clock_name: str) -> datetime | None:
        """A wall-clock time: a day and a time of day (both required)."""
        day, moment = self.day(day_name), self.clock(clock_name)
        return datetime.combine(day, moment) if day and moment else None

    def instant(self, day_name: str, clock_name: str, zone_name: str) -> datetime | None:
        """An optional moment typed as a day and time in the event's zone (empty: none)."""
        if not self.text(day_name) and not self.text(clock_name):
            return None
        day = self.day(day_name)
        moment = self.clock(clock_name, optional=True) or time(23, 59)
        if day is None:
            return None
        try:
            return datetime.combine(day, moment, tzinfo=ZoneInfo(zone_name))
        except (ValueError, KeyError):
            return None


# --- creating and editing the event ----------------------------------------------------------


def _slugified(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64]


def _lines(text: str) -> list[str]:
    """The non-empty lines of a text box, each once."""
    return list(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


def _event_form(form: Form, *, creating: bool, zone_name: str) -> dict[str, Any]:
    """The event fields of the create and edit forms, as the services take them."""
    fields: dict[str, Any] = {
        "name": form.text("name"),
        "timezone": form.text("timezone"),
        "venue": form.text("venue"),
        "mode": form.text("mode"),
        "description": str(form.values.get("description", "")).replace("\r\n", "\n"),
        "focus_areas": _lines(form.text("areas")),
    }
    if creating:
        fields["slug"] = form.text("slug").lower() or _slugified(fields["name"])
    else:
        with contextlib.suppress(ValueError):
            zone_name = event_zone(fields["timezone"]).key
        fields["registration_closes"] = form.instant("closes_day", "closes_time", zone_name)
        fields["video_base_url"] = form.text("video_base_url")
    return fields


EVENT_FIELDS = {
    "slug": "slug",
    "name": "name",
    "timezone": "timezone",
    "venue": "venue",
    "mode": "mode",
    "description": "description",
    "focus_areas": "areas",
    "registration_closes": "closes_day",
    "video_base_url": "video_base_url",
}


def _event_form_page(
    request: Request,
    event: Event | None,
    organiser: Organiser,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    status: int = 200,
    role: EventRoleName | None = None,
) -> HTMLResponse:
    return _page(
        request,
        "pages/setup_event.html",
        event,
        organiser,
        "details" if event else "new",
        status=status,
        title="Create an event" if event is None else f"Event details · {event.name}",
        values=values,
        errors=errors,
        zones=timezone_names(),
        modes=MODE_WORDS,
        is_owner=role is EventRoleName.owner,
    )


@router.get("/organiser/new", response_class=HTMLResponse, include_in_schema=False)
def new_event_form(request: Request, db: DbSession) -> Response:
    organiser = page_organiser(request, db)
    if organiser is None:
        raise sign_in_first(request)
    values = {"mode": "onsite", "timezone": "Europe/Brussels"}
    return _event_form_page(request, None, organiser, values, {})


@router.post("/organiser/new", include_in_schema=False)
def create_event(request: Request, db: DbSession, values: Posted) -> Response:
    check_csrf(request, str(values.get(CSRF_FIELD, "")))
    organiser = page_organiser(request, db)
    if organiser is None:
        raise sign_in_first(request)
    form = Form(values)
    fields = _event_form(form, creating=True, zone_name="UTC")
    slug = fields.pop("slug")
    errors = dict(form.errors)
    try:
        problems = checks.check_event({"slug": slug, **fields})
        errors.update(problems_of(checks.SetupInvalid(problems), EVENT_FIELDS) if problems else {})
        if not errors:
            event = event_service.create_event(db, organiser, slug, fields)
    except DomainError as error:
        errors.update(problems_of(error, EVENT_FIELDS))
    if errors:
        db.rollback()
        return _event_form_page(request, None, organiser, values, errors, status=422)
    db.commit()
    return _back(event, "/setup", f"{event.name} is created as a draft. Now add its sessions.")


def _local_instant(moment: datetime | None, zone_name: str) -> datetime | None:
    """A stored instant as the event's wall-clock time (None stays None)."""
    utc = as_utc(moment)
    return utc.astimezone(ZoneInfo(zone_name)) if utc is not None else None


def _event_values(event: Event) -> dict[str, Any]:
    local = _local_instant(event.registration_closes, event.timezone)
    return {
        "name": event.name,
        "slug": event.slug,
        "timezone": event.timezone,
        "venue": event.venue,
        "mode": event.mode.value,
        "description": event.description,
        "areas": "\n".join(event.focus_areas),
        "closes_day": local.strftime("%Y-%m-%d") if local else "",
        "closes_time": local.strftime("%H:%M") if local else "",
        "video_base_url": event.video_base_url,
    }


def _change_event(
    db: Session, event: Event, changes: dict[str, Any], form: Form, fields: Mapping[str, str]
) -> dict[str, str]:
    """Checks `changes` and makes them to the event; the messages by form field of the values
    that could not be read or were refused (the transaction rolled back then), else none."""
    errors = dict(form.errors)
    try:
        problems = checks.check_event(changes)
        errors.update(problems_of(checks.SetupInvalid(problems), fields) if problems else {})
        if not errors:
            event_service.update_event(db, event, changes)
    except DomainError as error:
        errors.update(problems_of(error, fields))
    if errors:
        db.rollback()
        db.refresh(event)
    return errors


@router.get("/organiser/e/{slug}/details", response_class=HTMLResponse, include_in_schema=False)
def details_form(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, role = _event(request, db, slug)
    return _event_form_page(request, event, organiser, _event_values(event), {}, role=role)


@router.post("/organiser/e/{slug}/details", include_in_schema=False)
def save_details(slug: str, request: Request, db: DbSession, values: Posted) -> Response:
    event, organiser, role = _event(request, db, slug, values)
    form = Form(values)
    fields = _event_form(form, creating=False, zone_name=event.timezone)
    errors = _change_event(db, event, fields, form, EVENT_FIELDS)
    if errors:
        values = {**values, "slug": event.slug}
        return _event_form_page(request, event, organiser, values, errors, status=422, role=role)
    db.commit()
    return _back(event, "/setup", "The event details are saved.")


@router.post("/organiser/e/{slug}/delete", include_in_schema=False)
def delete_event(slug: str, request: Request, db: DbSession, values: Posted) -> Response:
    """Delete the event with everything in it (owners only, after ticking the box)."""
    event, organiser, role = _event(request, db, slug, values, owner=True)
    if values.get("confirm_delete") != "yes":
        errors = {"confirm_delete": "Tick the box to confirm that everything is deleted."}
        return _event_form_page(
            request, event, organiser, _event_values(event), errors, status=422, role=role
        )
    name = event.name
    event_service.delete_event(db, event)
    db.commit()
    return redirect(f"/organiser?flash={quote(f'{name} is deleted.', safe='')}")


@router.get("/organiser/e/{slug}/bundle.json", include_in_schema=False)
def bundle(slug: str, request: Request, db: DbSession) -> Response:
    """The event as a `matchmaking-bundle/1` document, to keep or to import elsewhere."""
    event, _, _ = _event(request, db, slug)
    try:
        document = bundle_document(export_bundle(db, event))
    except Conflict as error:
        raise PageError(409, "Not ready to download", error.detail) from None
    return JSONResponse(
        document,
        headers={"Content-Disposition": f'attachment; filename="{event.slug}.json"'},
    )


# --- the overview and registration -----------------------------------------------------------


def _overview(
    request: Request,
    db: Session,
    event: Event,
    organiser: Organiser,
    role: EventRoleName,
    *,
    refused: str = "",
) -> HTMLResponse:
    counts = event_service.event_counts(db, event)
    missing = event_service.missing_to_open(db, event)
    kinds = {x.kind for x in event_service.list_locations(db, event)}
    advice = []
    if event.mode.value != "onsite" and counts.locations and LocationKind.online not in kinds:
        advice.append(
            f"This is an {event.mode.value} event without a video room: online participants "
            "cannot be given meetings. Add a video room under Tables and rooms."
        )
    if event.mode.value != "online" and kinds == {LocationKind.online}:
        advice.append(
            "The event has only video rooms: participants on site cannot be given meetings. "
            "Add tables or rooms."
        )
    return _page(
        request,
        "pages/setup.html",
        event,
        organiser,
        "setup",
        status=409 if refused else 200,
        title=f"Set up · {event.name}",
        role=role.value,
        counts=counts,
        missing=missing,
        advice=advice,
        refused=refused,
        registration_open=event_service.registration_is_open(event),
        has_rules=bool(event.rules),
        mode_words=MODE_WORDS,
        roles=event_service.list_roles(db, event),
    )


@router.get("/organiser/e/{slug}/setup", response_class=HTMLResponse, include_in_schema=False)
def overview(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, role = _event(request, db, slug)
    return _overview(request, db, event, organiser, role)


@router.post("/organiser/e/{slug}/setup/registration", include_in_schema=False)
def registration(slug: str, request: Request, db: DbSession, values: Posted) -> Response:
    """Open or close registration; a refusal comes back on the overview, said plainly."""
    event, organiser, role = _event(request, db, slug, values)
    try:
        flash = change_registration(db, event, values.get("action"))
    except RegistrationRefused as refused:
        db.rollback()
        db.refresh(event)
        return _overview(request, db, event, organiser, role, refused=str(refused))
    db.commit()
    return _back(event, "/setup", flash)


# --- sessions and slots ----------------------------------------------------------------------

GENERATOR_FIELDS = {
    "name": "gen_session_name",
    "key": "gen_session_name",
    "start": "gen_start",
    "end": "gen_end",
    "meeting_minutes": "gen_meeting",
    "pause_minutes": "gen_pause",
    "timezone": "gen_start",
}


def _sessions_page(
    request: Request,
    db: Session,
    event: Event,
    organiser: Organiser,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    preview: list[tuple[datetime, datetime]] | None = None,
) -> HTMLResponse:
    sessions = list(
        db.scalars(
            select(EventSession)
            .where(EventSession.event_id == event.id)
            .options(selectinload(EventSession.slots))
            .order_by(EventSession.position, EventSession.id)
        )
    )
    defaults = {"gen_meeting": "20", "gen_pause": "5", "gen_start": "09:00", "gen_end": "12:30"}
    return _page(
        request,
        "pages/setup_sessions.html",
        event,
        organiser,
        "sessions",
        status=status,
        sessions=sessions,
        values={**defaults, **(values or {})},
        errors=errors or {},
        preview=preview,
    )


@router.get("/organiser/e/{slug}/sessions", response_class=HTMLResponse, include_in_schema=False)
def sessions_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, _ = _event(request, db, slug)
    return _sessions_page(request, db, event, organiser)


def _session_key(db: Session, event: Event, name: str) -> str:
    """A key for a new session from its name (`Day 1 morning` → `day-1-morning`), unique."""
    base = _slugified(name)[:40].strip("-") or "session"
    taken = set(db.scalars(select(EventSession.key).where(EventSession.event_id == event.id)))
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    return key


@router.post("/organiser/e/{slug}/sessions/generate", include_in_schema=False)
def generate(slug: str, request: Request, db: DbSession, values: Posted) -> Response:
    """Preview (nothing stored) or save the slots of a session, made new or chosen."""
    event, organiser, _ = _event(request, db, slug, values)
    form = Form(values)
    start_day = form.day("gen_day")
    start_clock, end_clock = form.clock("gen_start"), form.clock("gen_end")
    meeting = form.whole("gen_meeting", optional=False)
    pause = form.whole("gen_pause") or 0
    chosen = form.text("gen_session")
    name = form.text("gen_session_name")
    row = next((s for s in event.sessions if s.key == chosen), None) if chosen else None
    if chosen and row is None:
        form.errors["gen_session"] = "Choose one of the event's sessions, or a new one."
    errors = dict(form.errors)
    times: list[tuple[datetime, datetime]] = []
    if not errors and start_day and start_clock and end_clock and meeting is not None:
        start = datetime.combine(start_day, start_clock)
        end = datetime.combine(start_day, end_clock)
        if end <= start:  # a session past midnight ends the next day
            end = datetime.combine(date.fromordinal(start_day.toordinal() + 1), end_clock)
        try:
            if row is None:
                row = event_service.add_session(
                    db, event, _session_key(db, event, name), name, None
                )
            slots = event_service.generate_slots(
                db,
                event,
                row,
                start=start,
                end=end,
                meeting_minutes=meeting,
                pause_minutes=pause,
                replace=values.get("gen_replace") == "yes",
            )
            times = [(s.start, s.end) for s in slots]
        except DomainError as error:
            errors = problems_of(in_words(db, event, error), GENERATOR_FIELDS)
    if errors or values.get("step") != "save":
        db.rollback()
        db.expire_all()
        return _sessions_page(
            request,
            db,
            event,
            organiser,
            status=422 if errors else 200,
            values=values,
            errors=errors,
            preview=None if errors else times,
        )
    db.commit()
    return _back(event, "/sessions", f"{len(times)} slots are saved in {row.name}.")  # type: ignore[union-attr]


def _found(get: Callable[[Session, Event, str], T], db: Session, event: Event, key: str) -> T:
    """The event's session, slot or location of that key, or the page's 404 naming which."""
    try:
        return get(db, event, key)
    except DomainError:
        what = get.__name__.removeprefix("get_")
        raise PageError(
            404, f"{what.capitalize()} not found", f"The event has no such {what}."
        ) from None


def _session(db: Session, event: Event, key: str) -> EventSession:
    return _found(event_service.get_session, db, event, key)


@router.post("/organiser/e/{slug}/sessions/{key}", include_in_schema=False)
def change_session(
    slug: str, key: str, request: Request, db: DbSession, values: Posted
) -> Response:
    """Rename a session, or remove it with its slots."""
    event, organiser, _ = _event(request, db, slug, values)
    row = _session(db, event, key)
    name = row.name
    try:
        if values.get("action") == "delete":
            event_service.delete_session(db, row)
            flash = f"{name} and its slots are removed."
        else:
            new_name = str(values.get("name", ""))
            event_service.update_session(db, row, {"name": new_name})
            flash = f"{name} is now called {new_name}."
    except DomainError as error:
        message = problems_of(in_words(db, event, error), {}).get("form", "")
        db.rollback()
        db.expire_all()
        return _sessions_page(
            request,
            db,
            event,
            organiser,
            status=409,
            errors={f"session-{key}": message},
            values={f"session-{key}": str(values.get("name", ""))},
        )
    db.commit()
    return _back(event, "/sessions", flash)


def _item_page(
    request: Request,
    event: Event,
    organiser: Organiser,
    item: Slot | Location,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    status: int = 200,
) -> HTMLResponse:
    """The form that changes one slot or one location, under the step that lists it."""
    if isinstance(item, Slot):
        template, step, name = "pages/setup_slot.html", "sessions", "Slot"
        context: dict[str, Any] = {"slot": item}
    else:
        template, step, name = "pages/setup_location.html", "locations", item.name
        context = {"location": item, "kinds": KIND_WORDS}
    return _page(
        request,
        template,
        event,
        organiser,
        step,
        status=status,
        title=f"{name} · {event.name}",
        values=values,
        errors=errors,
        **context,
    )


@router.get("/organiser/e/{slug}/slots/{key}", response_class=HTMLResponse, include_in_schema=False)
def slot_form(slug: str, key: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, _ = _event(request, db, slug)
    slot = _found(event_service.get_slot, db, event, key)
    values = {
        "day": slot.start.strftime("%Y-%m-%d"),
        "start": slot.start.strftime("%H:%M"),
        "end": slot.end.strftime("%H:%M"),
    }
    return _item_page(request, event, organiser, slot, values, {})


@router.post("/organiser/e/{slug}/slots/{key}", include_in_schema=False)
def change_slot(slug: str, key: str, request: Request, db: DbSession, values: Posted) -> Response:
    """Move a slot (day, start, end), or remove it (`action=delete`)."""
    event, organiser, _ = _event(request, db, slug, values)
    slot = _found(event_service.get_slot, db, event, key)
    label = f"{slot.start:%a %d %b %H:%M}–{slot.end:%H:%M}"
    if values.get("action") == "delete":
        try:
            event_service.delete_slot(db, slot)
        except DomainError as error:
            detail = in_words(db, event, error).detail
            db.rollback()
            raise PageError(
                409,
                "The slot stays",
                detail[:1].upper() + detail[1:],
                links=(("Back to the sessions", f"/organiser/e/{event.slug}/sessions"),),
            ) from error
        db.commit()
        return _back(event, "/sessions", f"The slot {label} is removed.")
    form = Form(values)
    start = form.local("day", "start")
    end_clock = form.clock("end")
    errors = dict(form.errors)
    if not errors and start and end_clock:
        end = datetime.combine(start.date(), end_clock)
        try:
            event_service.update_slot(db, event, slot, {"start": start, "end": end})
            db.flush()
        except DomainError as error:
            errors = problems_of(in_words(db, event, error), {"start": "start", "end": "end"})
    if errors:
        db.rollback()
        db.refresh(slot)
        return _item_page(request, event, organiser, slot, values, errors, status=422)
    db.commit()
    return _back(event, "/sessions", f"The slot is now {start:%a %d %b %H:%M}–{end:%H:%M}.")


# --- locations -------------------------------------------------------------------------------


_TABLE_NUMBER = re.compile(r"^Table (\d{1,6})$")


def _locations_page(
    request: Request,
    db: Session,
    event: Event,
    organiser: Organiser,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> HTMLResponse:
    locations = event_service.list_locations(db, event)
    hosts = {
        p.host_location_id: p
        for p in db.scalars(
            select(Participant).where(
                Participant.event_id == event.id, Participant.host_location_id.is_not(None)
            )
        )
    }
    people = list(
        db.scalars(
            select(Participant)
            .where(Participant.event_id == event.id)
            .options(selectinload(Participant.organisation))
            .order_by(Participant.name, Participant.id)
        )
    )
    numbers = [int(m.group(1)) for x in locations if (m := _TABLE_NUMBER.match(x.name))]
    after = max(numbers, default=0)
    defaults = {
        "tables_prefix": "Table",
        "tables_first": str(after + 1),
        "tables_last": str(after + 10 if after else 40),
        "room_capacity": "1",
    }
    return _page(
        request,
        "pages/setup_locations.html",
        event,
        organiser,
        "locations",
        status=status,
        locations=locations,
        hosts=hosts,
        people=people,
        kinds=KIND_WORDS,
        values={**defaults, **(values or {})},
        errors=errors or {},
    )


@router.get("/organiser/e/{slug}/locations", response_class=HTMLResponse, include_in_schema=False)
def locations_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, _ = _event(request, db, slug)
    return _locations_page(request, db, event, organiser)


#: The location forms: which service field each form field stands for.
LOCATION_FORMS: dict[str, dict[str, str]] = {
    "tables": {"prefix": "tables_prefix", "first": "tables_first", "last": "tables_last"},
    "room": {"name": "room_name", "capacity": "room_capacity"},
    "video": {"name": "video_name", "url": "video_url"},
    "stand": {"name": "stand_name", "host_location": "stand_host", "host": "stand_host"},
}


@router.post("/organiser/e/{slug}/locations/{kind}", include_in_schema=False)
def add_locations(
    slug: str, kind: str, request: Request, db: DbSession, values: Posted
) -> Response:
    """Numbered tables in one step, a room with its capacity, a video room with its link,
    or a host stand (a table where one participant stays for all its meetings)."""
    event, organiser, _ = _event(request, db, slug, values)
    if kind not in LOCATION_FORMS:
        raise PageError(404, "Not found", "There is no such form.")
    form = Form(values)
    fields = LOCATION_FORMS[kind]
    errors: dict[str, str] = {}
    try:
        if kind == "tables":
            first = form.whole("tables_first", optional=False)
            last = form.whole("tables_last", optional=False)
            errors = dict(form.errors)
            if not errors:
                rows = event_service.add_numbered_locations(
                    db, event, prefix=form.text("tables_prefix"), first=first or 0, last=last or 0
                )
                flash = f"{len(rows)} tables are added: {rows[0].name} to {rows[-1].name}."
        elif kind == "room":
            capacity = form.whole("room_capacity", optional=False)
            errors = dict(form.errors)
            if not errors:
                row = event_service.add_location(
                    db,
                    event,
                    {
                        "name": form.text("room_name"),
                        "kind": LocationKind.room,
                        "capacity": capacity,
                    },
                )
                flash = f"{row.name} is added."
        elif kind == "video":
            row = event_service.add_location(
                db,
                event,
                {
                    "name": form.text("video_name"),
                    "kind": LocationKind.online,
                    "url": form.text("video_url"),
                },
            )
            flash = f"{row.name} is added."
        else:
            flash = _add_stand(db, event, form)
    except DomainError as error:
        errors = problems_of(error, fields)
    if errors:
        db.rollback()
        db.expire_all()
        return _locations_page(
            request, db, event, organiser, status=422, values=values, errors=errors
        )
    db.commit()
    return _back(event, "/locations", flash)


def _add_stand(db: Session, event: Event, form: Form) -> str:
    host_key = form.text("stand_host")
    host = None
    if host_key:
        host = db.scalar(
            select(Participant).where(Participant.event_id == event.id, Participant.key == host_key)
        )
        if host is None:
            raise Invalid("Choose the host among the participants.", field="host")
    row = event_service.add_location(
        db, event, {"name": form.text("stand_name"), "kind": LocationKind.table}
    )
    if host is None:
        return f"{row.name} is added."
    registration_service.organiser_update(db, host, {"host_location": row.key})
    return f"{row.name} is added; {host.name} meets everyone there."


@router.get(
    "/organiser/e/{slug}/locations/{key}/edit",
    response_class=HTMLResponse,
    include_in_schema=False,
)
def location_form(slug: str, key: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, _ = _event(request, db, slug)
    location = _found(event_service.get_location, db, event, key)
    values = {
        "name": location.name,
        "kind": location.kind.value,
        "capacity": str(location.capacity),
        "url": location.url,
    }
    return _item_page(request, event, organiser, location, values, {})


@router.post("/organiser/e/{slug}/locations/{key}/edit", include_in_schema=False)
def change_location(
    slug: str, key: str, request: Request, db: DbSession, values: Posted
) -> Response:
    """Rename a location, change its kind, capacity or link, or remove it."""
    event, organiser, _ = _event(request, db, slug, values)
    location = _found(event_service.get_location, db, event, key)
    name = location.name
    if values.get("action") == "delete":
        try:
            event_service.delete_location(db, location)
        except DomainError as error:
            db.rollback()
            raise PageError(
                409,
                "The location stays",
                error.detail.replace(f"Location '{location.key}'", name),
                links=(("Back to the locations", f"/organiser/e/{event.slug}/locations"),),
            ) from error
        db.commit()
        return _back(event, "/locations", f"{name} is removed.")
    form = Form(values)
    capacity = form.whole("capacity", optional=False)
    errors = dict(form.errors)
    if not errors:
        changes = {
            "name": form.text("name"),
            "kind": form.text("kind"),
            "capacity": capacity,
            "url": form.text("url"),
        }
        try:
            event_service.update_location(db, location, changes)
        except DomainError as error:
            errors = problems_of(error, {k: k for k in changes})
    if errors:
        db.rollback()
        db.refresh(location)
        return _item_page(request, event, organiser, location, values, errors, status=422)
    db.commit()
    return _back(event, "/locations", f"{location.name} is saved.")


# --- rules -----------------------------------------------------------------------------------

RULE_FIELDS = {
    "rules.max_meetings_per_participant": "max_meetings_per_participant",
    "rules.max_meetings_total": "max_meetings_total",
    "rules.max_break_difference": "max_break_difference",
    "rules.objective": "goal_1",
    "rules.cross_delegation_only": "cross_delegation_only",
    "wish_policy": "wish_policy",
    "max_requests_per_participant": "max_requests_per_participant",
    "wish_cutoff": "cutoff_day",
}


def _rules_values(event: Event) -> dict[str, Any]:
    rules = event.rules or {}
    order = list(rules.get("objective") or checks.GOALS)
    order += [g for g in checks.GOALS if g not in order]
    local = _local_instant(event.wish_cutoff, event.timezone)
    values: dict[str, Any] = {
        name: "" if rules.get(name) is None else str(rules[name]) for name in checks.RULE_NUMBERS
    }
    values.update({f"goal_{n}": goal for n, goal in enumerate(order, start=1)})
    values["cross_delegation_only"] = "yes" if rules.get("cross_delegation_only") else ""
    values["wish_policy"] = event.wish_policy.value
    limit = event.max_requests_per_participant
    values["max_requests_per_participant"] = "" if limit is None else str(limit)
    values["cutoff_day"] = local.strftime("%Y-%m-%d") if local else ""
    values["cutoff_time"] = local.strftime("%H:%M") if local else ""
    return values


def _rules_page(
    request: Request,
    event: Event,
    organiser: Organiser,
    values: dict[str, Any],
    errors: dict[str, str],
    *,
    status: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "pages/setup_rules.html",
        event,
        organiser,
        "rules",
        status=status,
        values=values,
        errors=errors,
        goals=GOAL_WORDS,
        policies=POLICY_WORDS,
    )


@router.get("/organiser/e/{slug}/rules", response_class=HTMLResponse, include_in_schema=False)
def rules_form(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, _ = _event(request, db, slug)
    return _rules_page(request, event, organiser, _rules_values(event), {})


@router.post("/organiser/e/{slug}/rules", include_in_schema=False)
def save_rules(slug: str, request: Request, db: DbSession, values: Posted) -> Response:
    event, organiser, _ = _event(request, db, slug, values)
    form = Form(values)
    numbers = {name: form.whole(name) for name in checks.RULE_NUMBERS}
    order = [form.text(f"goal_{n}") for n in range(1, len(checks.GOALS) + 1)]
    rules: dict[str, Any] = {
        **{k: v for k, v in (event.rules or {}).items() if k not in _RULE_NAMES},
        **{k: v for k, v in numbers.items() if v is not None},
    }
    if order != list(checks.GOALS):
        rules["objective"] = order
    if values.get("cross_delegation_only") == "yes":
        rules["cross_delegation_only"] = True
    changes = {
        "rules": rules,
        "wish_policy": form.text("wish_policy"),
        "max_requests_per_participant": form.whole("max_requests_per_participant"),
        "wish_cutoff": form.instant("cutoff_day", "cutoff_time", event.timezone),
    }
    errors = _change_event(db, event, changes, form, RULE_FIELDS)
    if errors:
        return _rules_page(request, event, organiser, values, errors, status=422)
    db.commit()
    return _back(event, "/rules", "The rules are saved.")


_RULE_NAMES = {*checks.RULE_NUMBERS, "objective", "cross_delegation_only"}


# --- team ------------------------------------------------------------------------------------


def _team_page(
    request: Request,
    db: Session,
    event: Event,
    organiser: Organiser,
    role: EventRoleName,
    *,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    issued: tuple[str, str] | None = None,
) -> HTMLResponse:
    return _page(
        request,
        "pages/setup_team.html",
        event,
        organiser,
        "team",
        status=status,
        roles=event_service.list_roles(db, event),
        is_owner=role is EventRoleName.owner,
        values={"role": "staff", **(values or {})},
        errors=errors or {},
        issued=issued,
    )


@router.get("/organiser/e/{slug}/team", response_class=HTMLResponse, include_in_schema=False)
def team_page(slug: str, request: Request, db: DbSession) -> HTMLResponse:
    event, organiser, role = _event(request, db, slug)
    return _team_page(request, db, event, organiser, role)


@router.post("/organiser/e/{slug}/team", include_in_schema=False)
def invite(slug: str, request: Request, db: DbSession, values: Posted) -> Response:
    """Give a colleague a role; one without an organiser account gets one, with a sign-in
    token shown once on the answer page to hand on."""
    event, organiser, role = _event(request, db, slug, values, owner=True)
    form = Form(values)
    email = form.text("email")
    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as error:
        form.errors["email"] = f"Enter a valid e-mail address ({error})."
    wanted = form.text("role")
    if wanted not in {r.value for r in EventRoleName}:
        form.errors["role"] = "Choose owner or staff."
    errors = dict(form.errors)
    issued = None
    if not errors:
        try:
            if organiser_service.find_organiser(db, email) is None:
                name = form.text("name")
                problems = checks.check_name(name)
                if problems:
                    raise checks.SetupInvalid(problems)
                account, _, secret = organiser_service.create_organiser(db, email, name)
                issued = (account.name, secret)
            event_service.grant_role(db, event, email, EventRoleName(wanted))
        except DomainError as error:
            errors = problems_of(error, {"email": "email", "name": "name"})
            if "form" in errors:
                errors["email"] = errors.pop("form")
    if errors:
        db.rollback()
        return _team_page(
            request, db, event, organiser, role, status=422, values=values, errors=errors
        )
    db.commit()
    if issued:
        page = _team_page(request, db, event, organiser, role, issued=issued)
        page.headers["Cache-Control"] = "no-store"
        return page
    return _back(event, "/team", f"{email} is now {wanted} of the event.")


@router.post("/organiser/e/{slug}/team/{member_id}", include_in_schema=False)
def change_member(
    slug: str, member_id: int, request: Request, db: DbSession, values: Posted
) -> Response:
    """Change a member's role, or take it away (`action=remove`)."""
    event, organiser, role = _event(request, db, slug, values, owner=True)
    member = next(
        (r for r in event_service.list_roles(db, event) if r.organiser_id == member_id), None
    )
    if member is None:
        raise PageError(404, "Not in the team", "This person has no role in the event.")
    who = member.organiser.name or member.organiser.email
    try:
        if values.get("action") == "remove":
            event_service.remove_role(db, event, member_id)
            flash = f"{who} is no longer in the team."
        else:
            wanted = str(values.get("role", ""))
            if wanted not in {r.value for r in EventRoleName}:
                raise PageError(422, "Unknown role", "Choose owner or staff.")
            event_service.grant_role(db, event, member.organiser.email, EventRoleName(wanted))
            flash = f"{who} is now {wanted}."
    except DomainError as error:
        db.rollback()
        return _team_page(
            request, db, event, organiser, role, status=409, errors={"team": error.detail}
        )
    db.commit()
    if member_id == organiser.id and values.get("action") == "remove":
        return redirect("/organiser")
    return _back(event, "/team", flash)
