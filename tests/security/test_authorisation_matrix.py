"""The authorisation matrix: every API operation × every role, allowed or refused.

Roles: anonymous, a participant of this event, a participant of another event, staff of this
event, the owner of another event, the owner. Who may call an operation is one of a few rules
(`Rule`); the rule says for each role what the answer is: the operation's success status, or
401 (no or wrong kind of credentials), 403 (the role is too low) or 404 (the event is not the
caller's, and its existence is not revealed).

A request that works for one role is sent fresh for each role (new keys, throwaway rows), so
every answer reflects access alone. A completeness test makes sure every operation of the
OpenAPI document is in the table, so a new endpoint cannot skip the matrix.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from matchmaking.planning import hand_edits
from matchmaking.platform.models import (
    Event,
    EventRole,
    EventRoleName,
    EventSession,
    EventStatus,
    JobStatus,
    Location,
    LocationKind,
    Organiser,
    Participant,
    ScheduleVersion,
    Slot,
    SolveJob,
    Wish,
    WishStatus,
)
from tests.api.conftest import make_settings
from tests.security.world import ROLES, World, build_world

EXAMPLE_BUNDLE = Path(__file__).resolve().parent.parent / "bundle" / "example-bundle.json"

# --- who may call what ---------------------------------------------------------------------

#: For each rule, the answer of each role that is refused (roles not listed are allowed).
RULES: dict[str, dict[str, int]] = {
    # Anyone, with or without credentials.
    "public": {},
    # Any signed-in organiser (their own account, their own events).
    "organiser": {"anonymous": 401, "participant": 401, "other_participant": 401},
    # Owners and staff of the event.
    "staff": {"anonymous": 401, "participant": 401, "other_participant": 401, "other_owner": 404},
    # Owners of the event only.
    "owner": {
        "anonymous": 401,
        "participant": 401,
        "other_participant": 401,
        "other_owner": 404,
        "staff": 403,
    },
    # The participant itself (`/me/...`), with its personal token.
    "participant": {
        "anonymous": 401,
        "other_participant": 404,
        "staff": 401,
        "other_owner": 401,
        "owner": 401,
    },
    # The event's participants and organisers (the directory).
    "viewer": {"anonymous": 401, "other_participant": 404, "other_owner": 404},
}


@dataclass
class Context:
    """What a request needs to be sent fresh: the world, a counter, the database."""

    app: FastAPI
    client: TestClient
    world: World
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def n(self) -> int:
        return next(self.counter)

    def db(self) -> Session:
        return sessionmaker(bind=self.app.state.engine, expire_on_commit=False)()

    def event(self, slug: str | None = None) -> tuple[Session, Event]:
        db = self.db()
        event = db.scalar(select(Event).where(Event.slug == (slug or self.world.slug)))
        assert event is not None
        return db, event


@dataclass(frozen=True)
class Request:
    path: str
    body: Any = None
    #: Multipart files (instead of a JSON body).
    files: dict[str, Any] | None = None


Prepare = Callable[[Context, str], Request]


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    rule: str
    ok: int
    prepare: Prepare | None = None

    @property
    def id(self) -> str:
        return f"{self.method} {self.template}"


def fill(template: str, world: World, **values: Any) -> str:
    defaults: dict[str, Any] = {"slug": world.slug, "number": 1, "job_id": world.job_id}
    defaults.update(values)
    return template.format(**defaults)


def body(value: Any) -> Prepare:
    """A request to the template with the world's values and this body."""

    def prepare(ctx: Context, role: str) -> Request:
        return Request("", value(ctx) if callable(value) else value)

    return prepare


# --- throwaway rows, so that every role's request can succeed on its own ---------------------


def fresh_session(ctx: Context, role: str) -> Request:
    db, event = ctx.event()
    key = f"tmp{ctx.n()}"
    db.add(EventSession(event=event, key=key, name="Throwaway", position=99))
    db.commit()
    db.close()
    return Request(f"/api/v1/events/{ctx.world.slug}/sessions/{key}")


def fresh_slot(ctx: Context, role: str) -> Request:
    db, event = ctx.event()
    n = ctx.n()
    start = datetime(2031, 1, 1, 9) + timedelta(days=n)
    block = db.scalar(select(EventSession).where(EventSession.event_id == event.id))
    key = f"tmp{n}"
    db.add(
        Slot(event=event, session=block, key=key, start=start, end=start + timedelta(minutes=20))
    )
    db.commit()
    db.close()
    return Request(f"/api/v1/events/{ctx.world.slug}/slots/{key}")


def fresh_location(ctx: Context, role: str) -> Request:
    db, event = ctx.event()
    key = f"tmp{ctx.n()}"
    db.add(Location(event=event, key=key, name="Throwaway", kind=LocationKind.table, position=99))
    db.commit()
    db.close()
    return Request(f"/api/v1/events/{ctx.world.slug}/locations/{key}")


def new_slot(ctx: Context, role: str) -> Request:
    start = datetime(2032, 1, 1, 9) + timedelta(days=ctx.n())
    end = start + timedelta(minutes=20)
    return Request(
        f"/api/v1/events/{ctx.world.slug}/sessions/d1/slots",
        {"start": start.isoformat(timespec="minutes"), "end": end.isoformat(timespec="minutes")},
    )


def generated_slots(ctx: Context, role: str) -> Request:
    session = fresh_session(ctx, role).path
    day = datetime(2033, 1, 1, 9) + timedelta(days=ctx.n())
    return Request(
        f"{session}/slots/generate",
        {
            "start": day.isoformat(timespec="minutes"),
            "end": (day + timedelta(hours=1)).isoformat(timespec="minutes"),
            "meeting_minutes": 20,
        },
    )


def event_in_status(status: EventStatus, action: str) -> Prepare:
    def prepare(ctx: Context, role: str) -> Request:
        db, event = ctx.event()
        event.status = status
        db.commit()
        db.close()
        return Request(f"/api/v1/events/{ctx.world.slug}/{action}")

    return prepare


def throwaway_event(ctx: Context, role: str) -> Request:
    """An event of the owner, with the staff member, to be deleted."""
    db = ctx.db()
    slug = f"throwaway-{ctx.n()}"
    event = Event(slug=slug, name="Throwaway", timezone="Europe/Berlin")
    owner = db.get(Organiser, ctx.world.organiser_ids["owner"])
    staff = db.get(Organiser, ctx.world.organiser_ids["staff"])
    db.add_all(
        [
            event,
            EventRole(event=event, organiser=owner, role=EventRoleName.owner),
            EventRole(event=event, organiser=staff, role=EventRoleName.staff),
        ]
    )
    db.commit()
    db.close()
    return Request(f"/api/v1/events/{slug}")


def fresh_staff_member(ctx: Context, role: str) -> Request:
    db, event = ctx.event()
    member = Organiser(email=f"member{ctx.n()}@example.org", name="Member")
    db.add_all([member, EventRole(event=event, organiser=member, role=EventRoleName.staff)])
    db.commit()
    member_id = member.id
    db.close()
    return Request(f"/api/v1/events/{ctx.world.slug}/roles/{member_id}")


def own_fresh_token(ctx: Context, role: str) -> Request:
    """A spare token of the caller (the owner's, for callers who are not organisers)."""
    caller = role if role in ("staff", "owner", "other_owner") else "owner"
    answer = ctx.client.post(
        "/api/v1/organisers/me/tokens", json={"name": "spare"}, headers=ctx.world.headers(caller)
    )
    assert answer.status_code == 201, answer.text
    return Request(f"/api/v1/organisers/me/tokens/{answer.json()['id']}")


def queued_job(template: str) -> Prepare:
    def prepare(ctx: Context, role: str) -> Request:
        db, event = ctx.event()
        # One active solve per event: the job a refused role left queued makes way.
        for earlier in db.scalars(
            select(SolveJob).where(
                SolveJob.event == event, SolveJob.status.in_([JobStatus.queued, JobStatus.running])
            )
        ):
            earlier.status = JobStatus.cancelled
        db.flush()
        job = SolveJob(id=str(uuid.uuid4()), event=event, status=JobStatus.queued)
        db.add(job)
        db.commit()
        db.close()
        return Request(fill(template, ctx.world, job_id=job.id))

    return prepare


def no_solve_under_way(ctx: Context, role: str) -> Request:
    db, event = ctx.event()
    for job in db.scalars(select(SolveJob).where(SolveJob.event_id == event.id)):
        if job.status in (JobStatus.queued, JobStatus.running):
            job.status = JobStatus.cancelled
    db.commit()
    db.close()
    return Request("", {"time_limit_seconds": 2, "workers": 1})


def rest_of_day(ctx: Context, role: str) -> Request:
    """The re-plan of the rest of the day (Person 3 leaves at 09:30), no solve under way."""
    no_solve_under_way(ctx, role)
    return Request(
        "",
        {
            "frozen_before": "2024-10-26T09:30",
            "absent": [{"participant": "p3"}],
            "time_limit_seconds": 2,
        },
    )


def wish_to_me(ctx: Context, role: str) -> Wish:
    """A new wish from p3 to p1 that p1 has not answered yet."""
    db, event = ctx.event()
    people = {p.key: p for p in db.scalars(select(Participant).where(Participant.event == event))}
    wish = Wish(
        event=event,
        key=f"tmp{ctx.n()}",
        sender=people["p3"],
        recipient=people["p1"],
        status=WishStatus.requested,
    )
    db.add(wish)
    db.commit()
    db.close()
    return wish


def answer(action: str) -> Prepare:
    def prepare(ctx: Context, role: str) -> Request:
        wish = wish_to_me(ctx, role)
        return Request(f"/api/v1/events/{ctx.world.slug}/me/wishes/{wish.key}/{action}")

    return prepare


def own_wish(action: str, payload: Any = None) -> Prepare:
    """A new wish of p1 (to p4), then `action` on it."""

    def prepare(ctx: Context, role: str) -> Request:
        db, event = ctx.event()
        people = {
            p.key: p for p in db.scalars(select(Participant).where(Participant.event == event))
        }
        key = f"mine{ctx.n()}"
        db.add(
            Wish(
                event=event,
                key=key,
                sender=people["p1"],
                recipient=people["p4"],
                status=WishStatus.requested,
            )
        )
        db.commit()
        db.close()
        return Request(f"/api/v1/events/{ctx.world.slug}/me/wishes/{key}{action}", payload)

    return prepare


def a_new_wish(ctx: Context, role: str) -> Request:
    """A wish from p1 to a newly registered participant (so it is never a duplicate)."""
    person = registration(ctx, role).body
    answer = ctx.client.post(f"/api/v1/events/{ctx.world.slug}/registrations", json=person)
    assert answer.status_code == 201, answer.text
    return Request("", {"to": answer.json()["participant"]["key"], "priority": 2})


def a_newcomer(ctx: Context, role: str) -> Request:
    """A newly registered participant (whose personal data the owner may erase)."""
    answer = ctx.client.post(
        f"/api/v1/events/{ctx.world.slug}/registrations", json=registration(ctx, role).body
    )
    assert answer.status_code == 201, answer.text
    return Request(
        f"/api/v1/events/{ctx.world.slug}/participants/{answer.json()['participant']['key']}"
    )


def pending_member(path: str) -> Prepare:
    """Someone registered just now with the name of p1's organisation (so a pending member of
    it), then `path` with its key."""

    def prepare(ctx: Context, role: str) -> Request:
        db, event = ctx.event()
        p1 = db.scalar(
            select(Participant).where(Participant.event == event, Participant.key == "p1")
        )
        assert p1 is not None
        request = registration(ctx, role).body
        request["organisation"] = {"name": f"  {p1.organisation.name.upper()} "}
        db.close()
        answer = ctx.client.post(f"/api/v1/events/{ctx.world.slug}/registrations", json=request)
        assert answer.status_code == 201, answer.text
        assert answer.json()["participant"]["membership_confirmed"] is False
        key = answer.json()["participant"]["key"]
        return Request(f"/api/v1/events/{ctx.world.slug}{path.format(key=key)}")

    return prepare


def registration(ctx: Context, role: str) -> Request:
    n = ctx.n()
    return Request(
        "",
        {
            "name": f"Newcomer {n}",
            "email": f"newcomer{n}@example.org",
            "organisation": {"name": f"Newco {n}", "kind": "company", "country": "FR"},
            "listed": True,
        },
    )


def new_event(ctx: Context, role: str) -> Request:
    return Request(
        "", {"slug": f"made-{ctx.n()}", "name": "Made in a test", "timezone": "Europe/Berlin"}
    )


def imported_bundle(ctx: Context, role: str) -> Request:
    bundle = json.loads(EXAMPLE_BUNDLE.read_text())
    bundle["event"]["slug"] = f"imported-{ctx.n()}"
    return Request("", bundle)


def sheet_upload(ctx: Context, role: str) -> Request:
    rows = f"email,name,organisation\r\nsheet{ctx.n()}@example.org,Sheet Person,Sheet Org\r\n"
    return Request(
        f"/api/v1/events/{ctx.world.slug}/imports?dry_run=true",
        files={"file": ("people.csv", rows.encode(), "text/csv")},
    )


def calendar_feed(ctx: Context, role: str) -> Request:
    return Request(f"/calendars/participants/{ctx.world.calendar_tokens['p2']}.ics")


def draft(path: str, body: Any = None, edit: Callable[..., Any] | None = None) -> Prepare:
    """A fresh draft copy of the published version 1 (edited by `edit` first), then `path`
    with its number: every role edits a version of its own."""

    def prepare(ctx: Context, role: str) -> Request:
        db, event = ctx.event()
        for job in db.scalars(select(SolveJob).where(SolveJob.event_id == event.id)):
            if job.status in (JobStatus.queued, JobStatus.running):
                job.status = JobStatus.cancelled
        published = db.scalar(
            select(ScheduleVersion).where(
                ScheduleVersion.event_id == event.id, ScheduleVersion.number == 1
            )
        )
        assert published is not None
        copy = hand_edits.draft_copy(db, event, published)
        if edit is not None:
            edit(db, event, copy)
        db.commit()
        number = copy.number
        db.close()
        return Request(fill(E + path, ctx.world, number=number), body)

    return prepare


def _cancel_w1(db: Session, event: Event, version: ScheduleVersion) -> None:
    hand_edits.cancel_meeting(db, event, version, "w1")


# --- the table -----------------------------------------------------------------------------

E = "/api/v1/events/{slug}"

OPERATIONS: list[Operation] = [
    # organisers
    Operation(
        "POST",
        "/api/v1/organisers",
        "organiser",
        201,
        body(lambda ctx: {"email": f"new{ctx.n()}@example.org", "name": "New organiser"}),
    ),
    Operation("GET", "/api/v1/organisers/me", "organiser", 200),
    Operation("GET", "/api/v1/organisers/me/tokens", "organiser", 200),
    Operation("POST", "/api/v1/organisers/me/tokens", "organiser", 201, body({"name": "x"})),
    Operation(
        "DELETE", "/api/v1/organisers/me/tokens/{token_id}", "organiser", 200, own_fresh_token
    ),
    # events
    Operation("POST", "/api/v1/events", "organiser", 201, new_event),
    Operation("GET", "/api/v1/events", "organiser", 200),
    Operation("POST", "/api/v1/events/import", "organiser", 201, imported_bundle),
    Operation("GET", E, "staff", 200),
    Operation("PATCH", E, "staff", 200, body({"venue": "Messe Berlin"})),
    Operation("DELETE", E, "owner", 204, throwaway_event),
    Operation("GET", E + "/public", "public", 200),
    Operation("GET", E + "/bundle", "staff", 200),
    Operation("POST", E + "/imports", "staff", 200, sheet_upload),
    Operation("GET", E + "/imports/template", "staff", 200),
    Operation("POST", E + "/open", "staff", 200, event_in_status(EventStatus.draft, "open")),
    Operation("POST", E + "/close", "staff", 200, event_in_status(EventStatus.open, "close")),
    Operation("PUT", E + "/rules", "staff", 200, body({"max_meetings_per_participant": 8})),
    Operation("GET", E + "/roles", "staff", 200),
    Operation(
        "PUT", E + "/roles", "owner", 200, body({"email": "staff@example.org", "role": "staff"})
    ),
    Operation("DELETE", E + "/roles/{organiser_id}", "owner", 200, fresh_staff_member),
    # time grid and locations
    Operation("GET", E + "/sessions", "staff", 200),
    Operation(
        "POST",
        E + "/sessions",
        "staff",
        201,
        body(lambda ctx: {"key": f"new{ctx.n()}", "name": "New session"}),
    ),
    Operation(
        "GET",
        E + "/sessions/{key}",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/sessions/d1", c.world)),
    ),
    Operation(
        "PATCH",
        E + "/sessions/{key}",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/sessions/d1", c.world), {"name": "Day one"}),
    ),
    Operation("DELETE", E + "/sessions/{key}", "staff", 204, fresh_session),
    Operation("POST", E + "/sessions/{key}/slots", "staff", 201, new_slot),
    Operation("POST", E + "/sessions/{key}/slots/generate", "staff", 201, generated_slots),
    Operation("GET", E + "/slots", "staff", 200),
    Operation(
        "PATCH",
        E + "/slots/{key}",
        "staff",
        200,
        lambda c, r: Request(
            fill(E + "/slots/s1", c.world), {"start": "2024-10-26T09:00", "end": "2024-10-26T09:20"}
        ),
    ),
    Operation("DELETE", E + "/slots/{key}", "staff", 204, fresh_slot),
    Operation("GET", E + "/locations", "staff", 200),
    Operation(
        "POST",
        E + "/locations",
        "staff",
        201,
        body(lambda ctx: {"key": f"new{ctx.n()}", "name": "New table", "kind": "table"}),
    ),
    Operation(
        "GET",
        E + "/locations/{key}",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/locations/t1", c.world)),
    ),
    Operation(
        "PATCH",
        E + "/locations/{key}",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/locations/t1", c.world), {"name": "Table one"}),
    ),
    Operation("DELETE", E + "/locations/{key}", "staff", 204, fresh_location),
    # participants
    Operation("POST", E + "/registrations", "public", 201, registration),
    Operation("POST", E + "/registrations/link", "public", 202, body({"email": "p4@example.org"})),
    Operation("GET", E + "/me", "participant", 200),
    Operation("PATCH", E + "/me", "participant", 200, body({"job_title": "Cluster manager"})),
    Operation("GET", E + "/directory", "viewer", 200),
    Operation("GET", E + "/participants", "staff", 200),
    Operation(
        "GET",
        E + "/participants/{key}",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/participants/p3", c.world)),
    ),
    Operation(
        "PATCH",
        E + "/participants/{key}",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/participants/p3", c.world), {"job_title": "CTO"}),
    ),
    Operation("GET", E + "/organisations", "staff", 200),
    # recommendations
    Operation("GET", E + "/me/suggestions", "participant", 200),
    Operation(
        "GET",
        E + "/participants/{key}/suggestions",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/participants/p3/suggestions", c.world)),
    ),
    Operation(
        "POST",
        E + "/participants/{key}/confirm-membership",
        "staff",
        200,
        pending_member("/participants/{key}/confirm-membership"),
    ),
    Operation("GET", E + "/me/organisation/members", "participant", 200),
    Operation(
        "POST",
        E + "/me/organisation/members/{key}/confirm",
        "participant",
        200,
        pending_member("/me/organisation/members/{key}/confirm"),
    ),
    Operation(
        "POST",
        E + "/participants/{key}/turn-down-membership",
        "staff",
        204,
        pending_member("/participants/{key}/turn-down-membership"),
    ),
    Operation(
        "POST",
        E + "/me/organisation/members/{key}/turn-down",
        "participant",
        204,
        pending_member("/me/organisation/members/{key}/turn-down"),
    ),
    Operation("POST", E + "/me/organisation/invitation", "participant", 201),
    Operation("DELETE", E + "/participants/{key}", "owner", 200, a_newcomer),
    # wishes
    Operation("GET", E + "/me/wishes", "participant", 200),
    Operation("POST", E + "/me/wishes", "participant", 201, a_new_wish),
    Operation("GET", E + "/me/wishes/{key}", "participant", 200, own_wish("")),
    Operation("PATCH", E + "/me/wishes/{key}", "participant", 200, own_wish("", {"priority": 1})),
    Operation("POST", E + "/me/wishes/{key}/withdraw", "participant", 200, own_wish("/withdraw")),
    Operation("POST", E + "/me/wishes/{key}/accept", "participant", 200, answer("accept")),
    Operation("POST", E + "/me/wishes/{key}/decline", "participant", 200, answer("decline")),
    Operation("GET", E + "/wishes", "staff", 200),
    Operation(
        "PATCH",
        E + "/wishes/{key}",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/wishes/w3", c.world), {"priority": 1}),
    ),
    # calendars
    Operation("HEAD", "/calendars/participants/{token}.ics", "public", 200, calendar_feed),
    Operation("GET", "/calendars/participants/{token}.ics", "public", 200, calendar_feed),
    Operation("GET", E + "/me/calendar.ics", "participant", 200),
    Operation("GET", E + "/me/calendar-links", "participant", 200),
    Operation("POST", E + "/me/calendar-links", "participant", 201),
    Operation("GET", E + "/calendar.ics", "staff", 200),
    Operation(
        "GET",
        E + "/locations/{key}/calendar.ics",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/locations/t1/calendar.ics", c.world)),
    ),
    # after the feed operations: it revokes the participant's calendar links
    Operation("DELETE", E + "/me/calendar-links", "participant", 200),
    # health
    Operation("GET", "/healthz", "public", 200),
    Operation("GET", "/readyz", "public", 200),
    Operation("GET", "/metrics", "public", 200),
    # solving
    Operation("POST", E + "/solves", "staff", 202, no_solve_under_way),
    Operation("GET", E + "/solves", "staff", 200),
    Operation("GET", E + "/solves/{job_id}", "staff", 200),
    Operation(
        "POST",
        E + "/solves/{job_id}/cancel",
        "staff",
        202,
        queued_job(E + "/solves/{job_id}/cancel"),
    ),
    Operation("GET", "/api/v1/jobs/{job_id}", "staff", 200),
    Operation(
        "POST",
        "/api/v1/jobs/{job_id}/cancel",
        "staff",
        202,
        queued_job("/api/v1/jobs/{job_id}/cancel"),
    ),
    Operation("GET", E + "/mails", "staff", 200),
    Operation("GET", E + "/messages/segments", "staff", 200),
    Operation(
        "POST",
        E + "/messages",
        "staff",
        202,
        body({"segment": "everyone", "subject": "Welcome", "body": "See you soon."}),
    ),
    # proposals that fill idle slots: a preview and a round sent
    Operation("POST", E + "/proposals", "staff", 200, body({"per_participant": 1})),
    # schedule versions and agendas
    Operation("GET", E + "/versions", "staff", 200),
    Operation("GET", E + "/versions/{number}", "staff", 200),
    Operation("GET", E + "/versions/{number}/diff", "staff", 200),
    Operation("POST", E + "/versions/{number}/publish", "staff", 200),
    Operation("GET", E + "/versions/{number}/schedule", "staff", 200),
    # hand edits
    Operation("GET", E + "/versions/{number}/hand-edits", "staff", 200),
    Operation("POST", E + "/versions/{number}/copy", "staff", 201),
    Operation(
        "POST",
        E + "/versions/{number}/meetings",
        "staff",
        201,
        draft(
            "/versions/{number}/meetings",
            {"participants": ["p1", "p2"], "slot": "s3", "location": "t1"},
            _cancel_w1,
        ),
    ),
    Operation(
        "POST",
        E + "/versions/{number}/meetings/{uid}/move",
        "staff",
        200,
        draft("/versions/{number}/meetings/w1/move", {"slot": "s3", "location": "t1"}),
    ),
    Operation(
        "DELETE",
        E + "/versions/{number}/meetings/{uid}",
        "staff",
        200,
        draft("/versions/{number}/meetings/w1"),
    ),
    Operation(
        "PUT",
        E + "/versions/{number}/meetings/{uid}/pin",
        "staff",
        200,
        draft("/versions/{number}/meetings/w1/pin", {"pinned": True}),
    ),
    Operation(
        "POST",
        E + "/versions/{number}/resolve-around-pins",
        "staff",
        201,
        draft("/versions/{number}/resolve-around-pins", {"time_limit_seconds": 2, "workers": 1}),
    ),
    # the event day
    Operation("GET", E + "/check-ins", "staff", 200),
    Operation(
        "PUT",
        E + "/participants/{key}/check-in",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/participants/p3/check-in", c.world)),
    ),
    Operation(
        "DELETE",
        E + "/participants/{key}/check-in",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/participants/p3/check-in", c.world)),
    ),
    Operation("GET", E + "/absences", "staff", 200),
    Operation(
        "PUT",
        E + "/participants/{key}/absence",
        "staff",
        200,
        lambda c, r: Request(
            fill(E + "/participants/p3/absence", c.world), {"away_from": "2024-10-26T10:00"}
        ),
    ),
    Operation(
        "DELETE",
        E + "/participants/{key}/absence",
        "staff",
        204,
        lambda c, r: Request(fill(E + "/participants/p3/absence", c.world)),
    ),
    Operation("POST", E + "/rest-of-day-replans", "staff", 202, rest_of_day),
    # feedback before the attendance marks (a no-show would refuse it)
    Operation(
        "POST",
        E + "/me/meetings/{uid}/feedback",
        "participant",
        201,
        lambda c, r: Request(
            fill(E + "/me/meetings/w1/feedback", c.world),
            {"usefulness": 5, "follow_up": "yes", "cooperation": "project"},
        ),
    ),
    Operation("GET", E + "/meetings", "staff", 200),
    Operation(
        "PUT",
        E + "/meetings/{uid}/attendance",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/meetings/w3/attendance", c.world), {"outcome": "held"}),
    ),
    Operation(
        "DELETE",
        E + "/meetings/{uid}/attendance",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/meetings/w3/attendance", c.world)),
    ),
    Operation(
        "PUT",
        E + "/me/meetings/{uid}/attendance",
        "participant",
        200,
        lambda c, r: Request(fill(E + "/me/meetings/w1/attendance", c.world), {"outcome": "held"}),
    ),
    Operation(
        "DELETE",
        E + "/me/meetings/{uid}/attendance",
        "participant",
        200,
        lambda c, r: Request(fill(E + "/me/meetings/w1/attendance", c.world)),
    ),
    Operation("GET", E + "/door-lists", "staff", 200),
    Operation("GET", E + "/report", "staff", 200),
    Operation("POST", E + "/feedback-mails", "staff", 202),
    Operation("GET", E + "/me/agenda", "participant", 200),
    Operation(
        "GET",
        E + "/participants/{key}/agenda",
        "staff",
        200,
        lambda c, r: Request(fill(E + "/participants/p3/agenda", c.world)),
    ),
]


# --- running it ----------------------------------------------------------------------------


@pytest.fixture
def context(db_url: str) -> Iterator[Context]:
    app = create_app(make_settings(db_url, guess_limit_failures=10**6, log_requests=False))
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as session:
        world = build_world(session)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Context(app, client, world)
    app.state.engine.dispose()


def expected(operation: Operation, role: str) -> int:
    return RULES[operation.rule].get(role, operation.ok)


def reopen(ctx: Context) -> None:
    """Registration open again (opening and closing are in the table too)."""
    db, event = ctx.event()
    event.status = EventStatus.open
    db.commit()
    db.close()


def send(ctx: Context, operation: Operation, role: str) -> int:
    reopen(ctx)
    prepared = operation.prepare(ctx, role) if operation.prepare else Request("")
    path = prepared.path or fill(operation.template, ctx.world)
    response = ctx.client.request(
        operation.method,
        path,
        json=prepared.body,
        files=prepared.files,
        headers=ctx.world.headers(role),
    )
    if response.status_code >= 400 and operation.method != "HEAD":
        assert response.headers["content-type"].startswith("application/problem+json")
    return response.status_code


def test_every_operation_of_the_api_is_in_the_matrix(context: Context) -> None:
    document = context.app.openapi()
    documented = {
        f"{method.upper()} {path}"
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete", "head"}
    }
    in_matrix = {operation.id for operation in OPERATIONS}
    assert documented - in_matrix == set(), "add these operations to the matrix"
    assert in_matrix - documented == set(), "these operations are gone from the API"


def test_every_role_gets_exactly_the_access_its_rule_gives(context: Context) -> None:
    # Refused roles first: a refused call must leave the row there for the allowed ones.
    order = sorted(ROLES, key=lambda role: role in ("staff", "other_owner", "owner"))
    wrong: list[str] = []
    for operation in OPERATIONS:
        for role in sorted(order, key=lambda r: expected(operation, r) == operation.ok):
            got = send(context, operation, role)
            if got != expected(operation, role):
                wrong.append(
                    f"{operation.id} as {role}: {got}, expected {expected(operation, role)}"
                )
    checked = len(OPERATIONS) * len(ROLES)
    assert wrong == [], f"{len(wrong)} of {checked} answers are wrong:\n" + "\n".join(wrong)
