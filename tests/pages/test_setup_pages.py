"""Event set-up pages: an organiser creates and sets up a whole event from the pages, with
the rules and errors of the API (every problem at its field, nothing stored on error), and
only the event's owners and staff may (team changes: owners only)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from matchmaking.platform.models import (
    ApiToken,
    Event,
    EventRole,
    EventRoleName,
    EventSession,
    EventStatus,
    Location,
    LocationKind,
    Organiser,
    Participant,
    Slot,
    WishPolicy,
)
from matchmaking.platform.security import hash_token, new_token
from tests.pages.conftest import CSRF, Site, csrf_of

NEW = "nordic-2030"


def _owner(site: Site) -> TestClient:
    client = site.client()
    site.sign_in_organiser(client)
    return client


def _post(client: TestClient, page: str, action: str, data: Mapping[str, object]) -> Response:
    """Send a form the way a browser does: with the CSRF token of the page that holds it."""
    return client.post(action, data={"csrf_token": csrf_of(client, page), **data})


def _organiser(site: Site, email: str, role: EventRoleName | None = None) -> TestClient:
    """Another organiser (with a role in the site's event, or none), signed in."""
    person = Organiser(email=email, name=email.split("@")[0].title())
    token = new_token("mmo")
    site.session.add_all(
        [person, ApiToken(organiser=person, token_hash=hash_token(token), prefix=token[:12])]
    )
    if role is not None:
        site.session.add(EventRole(event=site.built.event, organiser=person, role=role))
    site.session.commit()
    client = site.client()
    csrf = csrf_of(client, "/organiser/login")
    answer = client.post("/organiser/login", data={"csrf_token": csrf, "token": token})
    assert answer.status_code == 303
    return client


def _create(client: TestClient, **fields: object) -> Response:
    data = {
        "name": "Nordic Cluster Days",
        "slug": NEW,
        "timezone": "Europe/Copenhagen",
        "venue": "Bella Center, Copenhagen",
        "mode": "onsite",
        "description": "Two days of meetings.\n\nBring cards.",
        "areas": "Green Energy\nLife Science\n",
        **fields,
    }
    return _post(client, "/organiser/new", "/organiser/new", data)


def _event(site: Site, slug: str = NEW) -> Event:
    with site.read() as db:
        event = db.scalar(select(Event).where(Event.slug == slug))
        assert event is not None
        return event


def _count(site: Site, model: type, slug: str = NEW) -> int:
    with site.read() as db:
        return (
            db.scalar(
                select(func.count())
                .select_from(model)
                .join(Event, model.event_id == Event.id)  # type: ignore[attr-defined]
                .where(Event.slug == slug)
            )
            or 0
        )


def _field_error(page: str, name: str, text: str) -> None:
    """The field's error is shown next to it and tied to its input."""
    match = re.search(rf'<p class="error-text" id="{name}-error">([^<]*)</p>', page)
    assert match, f"no error for {name}"
    assert text in match.group(1), match.group(1)
    assert re.search(rf'id="{name}"[^>]*aria-describedby="[^"]*{name}-error', page) or re.search(
        rf'id="{name}"[^>]*{name}-error', page, re.S
    ), f"{name} is not described by its error"
    assert f'href="#{name}"' in page  # the summary links to the field


# --- creating and editing ------------------------------------------------------------------


def test_an_organiser_creates_a_draft_event_and_becomes_its_owner(site: Site) -> None:
    client = _owner(site)
    assert 'href="/organiser/new"' in client.get("/organiser").text
    form = client.get("/organiser/new")
    assert form.status_code == 200
    assert '<label for="timezone">' in form.text
    assert '<label for="name">' in form.text

    answer = _create(client, slug="")  # an empty web address is made from the name
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/organiser/e/nordic-cluster-days/setup")
    event = _event(site, "nordic-cluster-days")
    assert event.status is EventStatus.draft
    assert event.timezone == "Europe/Copenhagen"
    assert event.focus_areas == ["Green Energy", "Life Science"]
    assert event.description == "Two days of meetings.\n\nBring cards."
    with site.read() as db:
        role = db.scalar(select(EventRole).where(EventRole.event_id == event.id))
        assert role is not None
        assert role.role is EventRoleName.owner

    overview = client.get(answer.headers["location"])
    assert overview.status_code == 200
    assert "Still missing before registration can open" in overview.text
    assert "Add at least one session with slots" in overview.text
    assert "Add at least one location" in overview.text


def test_a_refused_new_event_shows_every_problem_at_its_field_and_stores_nothing(
    site: Site,
) -> None:
    client = _owner(site)
    answer = _create(
        client,
        name="   ",
        slug="No Spaces!",
        timezone="Mars/Olympus",
        areas="x" * 101,
        mode="underwater",
    )
    assert answer.status_code == 422
    _field_error(answer.text, "name", "visible character")
    _field_error(answer.text, "slug", "lower-case letters")
    _field_error(answer.text, "timezone", "IANA")
    _field_error(answer.text, "areas", "at most 100")
    assert 'id="mode-error"' in answer.text
    assert 'value="No Spaces!"' in answer.text  # what was typed stays
    with site.read() as db:
        assert db.scalar(select(func.count()).select_from(Event)) == 1

    _create(client)
    taken = _create(client, name="Another")
    assert taken.status_code == 422
    _field_error(taken.text, "slug", "exists already")
    assert _count(site, EventRole) == 1


def test_event_details_are_edited_with_the_deadline_in_the_event_time_zone(site: Site) -> None:
    client = _owner(site)
    _create(client)
    page = f"/organiser/e/{NEW}/details"
    form = client.get(page)
    assert form.status_code == 200
    assert 'value="Bella Center, Copenhagen"' in form.text
    data = {
        "name": "Nordic Cluster Days 2030",
        "timezone": "Europe/Copenhagen",
        "venue": "Aarhus",
        "mode": "hybrid",
        "description": "",
        "areas": "Green Energy",
        "closes_day": "2030-06-01",
        "closes_time": "18:00",
        "video_base_url": "https://meet.example.org/nordic",
    }
    saved = _post(client, page, page, data)
    assert saved.status_code == 303
    event = _event(site)
    assert event.name == "Nordic Cluster Days 2030"
    assert event.mode.value == "hybrid"
    closes = event.registration_closes
    assert closes is not None
    assert closes.replace(tzinfo=UTC) == datetime(2030, 6, 1, 16, 0, tzinfo=UTC)  # CEST + 2
    again = client.get(page).text
    assert 'value="2030-06-01"' in again
    assert 'value="18:00"' in again

    bad = _post(
        client,
        page,
        page,
        {**data, "name": "Renamed", "closes_day": "1 June", "video_base_url": "ftp://x"},
    )
    assert bad.status_code == 422
    _field_error(bad.text, "closes_day", "year-month-day")
    _field_error(bad.text, "video_base_url", "https://")
    assert _event(site).name == "Nordic Cluster Days 2030"  # nothing half-saved


def test_owners_delete_an_event_after_ticking_the_box_and_may_keep_a_bundle(site: Site) -> None:
    client = _owner(site)
    _create(client)
    _generate(client, "save")
    page = f"/organiser/e/{NEW}/details"
    download = client.get(f"/organiser/e/{NEW}/bundle.json")
    assert download.status_code == 200
    assert download.json()["event"]["slug"] == NEW
    assert "attachment" in download.headers["content-disposition"]
    unticked = _post(client, page, f"/organiser/e/{NEW}/delete", {})
    assert unticked.status_code == 422
    _field_error(unticked.text, "confirm_delete", "Tick the box")
    assert _count(site, Slot) == 4
    deleted = _post(client, page, f"/organiser/e/{NEW}/delete", {"confirm_delete": "yes"})
    assert deleted.status_code == 303
    assert "is deleted" in client.get(deleted.headers["location"]).text
    with site.read() as db:
        assert db.scalar(select(Event).where(Event.slug == NEW)) is None
        assert db.scalar(select(func.count()).select_from(Slot)) == 8  # the site's event's


# --- sessions and slots --------------------------------------------------------------------


def _generate(client: TestClient, step: str, **fields: object) -> Response:
    page = f"/organiser/e/{NEW}/sessions"
    data = {
        "gen_session_name": "Day 1 morning",
        "gen_day": "2030-09-10",
        "gen_start": "09:00",
        "gen_end": "10:40",
        "gen_meeting": "20",
        "gen_pause": "5",
        "step": step,
        **fields,
    }
    return _post(client, page, f"/organiser/e/{NEW}/sessions/generate", data)


def test_the_slot_generator_previews_then_saves_a_new_session(site: Site) -> None:
    client = _owner(site)
    _create(client)
    preview = _generate(client, "preview")
    assert preview.status_code == 200
    assert "Preview: 4 slots" in preview.text
    for times in ("09:00–09:20", "09:25–09:45", "09:50–10:10"):
        assert times in preview.text
    assert "Save these 4 slots" in preview.text
    assert _count(site, Slot) == 0
    assert _count(site, EventSession) == 0

    saved = _generate(client, "save")
    assert saved.status_code == 303
    with site.read() as db:
        sessions = db.scalars(select(EventSession).join(Event).where(Event.slug == NEW)).all()
        assert [s.name for s in sessions] == ["Day 1 morning"]
        slots = db.scalars(select(Slot).where(Slot.session_id == sessions[0].id)).all()
        assert [(s.start.hour, s.start.minute) for s in slots] == [
            (9, 0),
            (9, 25),
            (9, 50),
            (10, 15),
        ]
        key = sessions[0].key
    page = client.get(f"/organiser/e/{NEW}/sessions").text
    assert "Day 1 morning" in page
    assert "10:15–10:35" in page
    assert f">{key}<" not in page  # names and times, never keys

    # More slots for the same session, chosen from the list.
    more = _generate(
        client, "save", gen_session=key, gen_session_name="", gen_start="11:00", gen_end="12:00"
    )
    assert more.status_code == 303
    assert _count(site, Slot) == 6


def test_the_slot_generator_names_each_problem_and_stores_nothing(site: Site) -> None:
    client = _owner(site)
    _create(client)
    bad = _generate(client, "save", gen_day="10/09/2030", gen_meeting="3 min", gen_start="25:00")
    assert bad.status_code == 422
    _field_error(bad.text, "gen_day", "year-month-day")
    _field_error(bad.text, "gen_meeting", "whole number")
    _field_error(bad.text, "gen_start", "24-hour clock")

    too_short = _generate(client, "save", gen_meeting="3")  # the domain's bound, as the API's
    assert too_short.status_code == 422
    _field_error(too_short.text, "gen_meeting", "between 5 and 480")

    nothing_fits = _generate(client, "preview", gen_end="09:10")
    assert nothing_fits.status_code == 422
    _field_error(nothing_fits.text, "gen_end", "No 20-minute meeting fits")

    no_name = _generate(client, "save", gen_session_name="")
    assert no_name.status_code == 422
    _field_error(no_name.text, "gen_session_name", "visible character")
    assert _count(site, Slot) == 0
    assert _count(site, EventSession) == 0

    assert _generate(client, "save").status_code == 303
    overlap = _generate(client, "save", gen_session_name="Day 1 again")
    assert overlap.status_code == 422
    _field_error(overlap.text, "gen_start", "overlaps the slot Tue 10 Sep 09:00–09:20")
    assert '"s1"' not in overlap.text
    assert "2030-09-10T" not in overlap.text
    assert _count(site, Slot) == 4
    assert _count(site, EventSession) == 1


def test_slots_are_moved_and_removed_one_by_one(site: Site) -> None:
    client = _owner(site)
    _create(client)
    _generate(client, "save")
    with site.read() as db:
        first, second = db.scalars(
            select(Slot).join(Event).where(Event.slug == NEW).order_by(Slot.start)
        ).all()[:2]
    page = f"/organiser/e/{NEW}/slots/{first.key}"
    form = client.get(page)
    assert form.status_code == 200
    assert 'value="09:00"' in form.text
    moved = _post(client, page, page, {"day": "2030-09-10", "start": "08:30", "end": "08:50"})
    assert moved.status_code == 303
    with site.read() as db:
        slot = db.get(Slot, first.id)
        assert slot is not None
        assert (slot.start.hour, slot.start.minute) == (8, 30)

    clash = _post(client, page, page, {"day": "2030-09-10", "start": "09:30", "end": "09:35"})
    assert clash.status_code == 422
    _field_error(clash.text, "start", "overlaps the slot Tue 10 Sep 09:25–09:45")
    backwards = _post(client, page, page, {"day": "2030-09-10", "start": "08:30", "end": "08:00"})
    assert backwards.status_code == 422
    _field_error(backwards.text, "end", "after the start")
    with site.read() as db:
        slot = db.get(Slot, first.id)
        assert slot is not None
        assert (slot.start.hour, slot.end.minute) == (8, 50)

    removed = _post(client, page, f"/organiser/e/{NEW}/slots/{second.key}", {"action": "delete"})
    assert removed.status_code == 303
    assert _count(site, Slot) == 3
    assert client.get(f"/organiser/e/{NEW}/slots/{second.key}").status_code == 404


def test_sessions_are_renamed_and_removed(site: Site) -> None:
    client = _owner(site)
    _create(client)
    _generate(client, "save")
    with site.read() as db:
        key = db.scalars(select(EventSession.key).join(Event).where(Event.slug == NEW)).one()
    page = f"/organiser/e/{NEW}/sessions"
    renamed = _post(client, page, f"{page}/{key}", {"name": "Tuesday morning"})
    assert renamed.status_code == 303
    blank = _post(client, page, f"{page}/{key}", {"name": " "})
    assert blank.status_code == 409
    assert "visible character" in blank.text
    assert "Tuesday morning" in client.get(page).text
    gone = _post(client, page, f"{page}/{key}", {"action": "delete"})
    assert gone.status_code == 303
    assert _count(site, Slot) == 0
    assert _count(site, EventSession) == 0


# --- locations -----------------------------------------------------------------------------


def _locations(site: Site, slug: str = NEW) -> list[Location]:
    with site.read() as db:
        return list(
            db.scalars(
                select(Location).join(Event).where(Event.slug == slug).order_by(Location.position)
            )
        )


def test_tables_rooms_video_rooms_and_host_stands_are_added(site: Site) -> None:
    client = _owner(site)
    _create(client)
    page = f"/organiser/e/{NEW}/locations"
    tables = _post(
        client,
        page,
        f"{page}/tables",
        {"tables_prefix": "Table", "tables_first": "1", "tables_last": "40"},
    )
    assert tables.status_code == 303
    found = _locations(site)
    assert [x.name for x in found] == [f"Table {n}" for n in range(1, 41)]
    assert {x.kind for x in found} == {LocationKind.table}
    assert len({x.key for x in found}) == 40

    room = _post(client, page, f"{page}/room", {"room_name": "Room Øresund", "room_capacity": "6"})
    video = _post(
        client,
        page,
        f"{page}/video",
        {"video_name": "Video room A", "video_url": "https://meet.example.org/a"},
    )
    assert room.status_code == video.status_code == 303
    added = {x.name: x for x in _locations(site)}
    assert added["Room Øresund"].kind is LocationKind.room
    assert added["Room Øresund"].capacity == 6
    assert added["Video room A"].kind is LocationKind.online
    assert added["Video room A"].url == "https://meet.example.org/a"
    listing = client.get(page).text
    assert "Room Øresund" in listing
    assert "Video room" in listing

    # A host stand in the site's event, for one of its participants.
    site_page = f"/organiser/e/{site.slug}/locations"
    stand = _post(
        client,
        site_page,
        f"{site_page}/stand",
        {"stand_name": "Stand of Cluster 1", "stand_host": "p1"},
    )
    assert stand.status_code == 303
    with site.read() as db:
        host = db.scalar(select(Participant).where(Participant.key == "p1"))
        assert host is not None
        assert host.host_location_id is not None
        assert db.get(Location, host.host_location_id).name == "Stand of Cluster 1"  # type: ignore[union-attr]
    assert "Person 1" in client.get(site_page).text


def test_location_forms_name_each_problem_and_store_nothing(site: Site) -> None:
    client = _owner(site)
    _create(client)
    page = f"/organiser/e/{NEW}/locations"
    backwards = _post(
        client,
        page,
        f"{page}/tables",
        {"tables_prefix": "Table", "tables_first": "10", "tables_last": "2"},
    )
    assert backwards.status_code == 422
    _field_error(backwards.text, "tables_last", "below the first")
    blank = _post(
        client,
        page,
        f"{page}/tables",
        {"tables_prefix": "", "tables_first": "x", "tables_last": "3"},
    )
    assert blank.status_code == 422
    _field_error(blank.text, "tables_first", "whole number")
    room = _post(client, page, f"{page}/room", {"room_name": "", "room_capacity": "0"})
    assert room.status_code == 422
    _field_error(room.text, "room_name", "visible character")
    _field_error(room.text, "room_capacity", "between 1 and 100000")
    video = _post(client, page, f"{page}/video", {"video_name": "V", "video_url": "meet.example"})
    assert video.status_code == 422
    _field_error(video.text, "video_url", "https://")
    stand = _post(client, page, f"{page}/stand", {"stand_name": "S", "stand_host": "p1"})
    assert stand.status_code == 422  # p1 is a participant of another event
    _field_error(stand.text, "stand_host", "Choose the host")
    assert _locations(site) == []

    _post(
        client,
        page,
        f"{page}/tables",
        {"tables_prefix": "Table", "tables_first": "1", "tables_last": "3"},
    )
    twice = _post(
        client,
        page,
        f"{page}/tables",
        {"tables_prefix": "Table", "tables_first": "3", "tables_last": "5"},
    )
    assert twice.status_code == 422
    _field_error(twice.text, "tables_first", "Table 3")
    assert len(_locations(site)) == 3


def test_a_location_is_edited_and_removed(site: Site) -> None:
    client = _owner(site)
    _create(client)
    page = f"/organiser/e/{NEW}/locations"
    _post(
        client,
        page,
        f"{page}/tables",
        {"tables_prefix": "Table", "tables_first": "1", "tables_last": "2"},
    )
    first = _locations(site)[0]
    edit = f"{page}/{first.key}/edit"
    assert client.get(edit).status_code == 200
    bad = _post(
        client, edit, edit, {"name": "Big table", "kind": "room", "capacity": "-2", "url": ""}
    )
    assert bad.status_code == 422
    _field_error(bad.text, "capacity", "whole number")
    assert _locations(site)[0].name == "Table 1"
    good = _post(
        client, edit, edit, {"name": "Big table", "kind": "room", "capacity": "3", "url": ""}
    )
    assert good.status_code == 303
    changed = _locations(site)[0]
    assert (changed.name, changed.kind, changed.capacity) == ("Big table", LocationKind.room, 3)
    gone = _post(client, edit, edit, {"action": "delete"})
    assert gone.status_code == 303
    assert [x.name for x in _locations(site)] == ["Table 2"]


# --- rules ---------------------------------------------------------------------------------


def _rules_form(**fields: object) -> dict[str, object]:
    return {
        "wish_policy": "auto_accept",
        "max_requests_per_participant": "12",
        "cutoff_day": "2030-09-01",
        "cutoff_time": "",
        "max_meetings_per_participant": "8",
        "max_meetings_total": "",
        "max_break_difference": "2",
        "cross_delegation_only": "yes",
        "goal_1": "required",
        "goal_2": "fairness",
        "goal_3": "scheduled",
        "goal_4": "breaks",
        "goal_5": "stability",
        **fields,
    }


def test_rules_are_saved_as_the_api_stores_them(site: Site) -> None:
    client = _owner(site)
    _create(client)
    page = f"/organiser/e/{NEW}/rules"
    assert client.get(page).status_code == 200
    saved = _post(client, page, page, _rules_form())
    assert saved.status_code == 303
    event = _event(site)
    assert event.rules == {
        "max_meetings_per_participant": 8,
        "max_break_difference": 2,
        "objective": ["required", "fairness", "scheduled", "breaks", "stability"],
        "cross_delegation_only": True,
    }
    assert event.wish_policy is WishPolicy.auto_accept
    assert event.max_requests_per_participant == 12
    cutoff = event.wish_cutoff
    assert cutoff is not None
    assert cutoff.replace(tzinfo=UTC) == datetime(2030, 9, 1, 21, 59, tzinfo=UTC)  # 23:59 CEST
    # The API reads the same rules back.
    api = site.client().get(
        f"/api/v1/events/{NEW}", headers={"Authorization": f"Bearer {site.organiser_token}"}
    )
    assert api.json()["rules"]["cross_delegation_only"] is True

    cleared = _post(
        client,
        page,
        page,
        _rules_form(
            max_meetings_per_participant="",
            max_break_difference="",
            cross_delegation_only="",
            max_requests_per_participant="",
            cutoff_day="",
            goal_2="scheduled",
            goal_3="fairness",
        ),
    )
    assert cleared.status_code == 303
    event = _event(site)
    assert event.rules == {}
    assert event.max_requests_per_participant is None
    assert event.wish_cutoff is None


def test_refused_rules_name_each_field_and_change_nothing(site: Site) -> None:
    client = _owner(site)
    _create(client)
    page = f"/organiser/e/{NEW}/rules"
    bad = _post(
        client,
        page,
        page,
        _rules_form(
            goal_2="required",
            max_meetings_per_participant="99999",
            max_break_difference="-1",
            wish_policy="whatever",
        ),
    )
    assert bad.status_code == 422
    _field_error(bad.text, "goal_1", "more than once")
    _field_error(bad.text, "max_meetings_per_participant", "between 0 and 10000")
    _field_error(bad.text, "max_break_difference", "whole number")
    assert 'id="wish_policy-error"' in bad.text
    event = _event(site)
    assert event.rules == {}
    assert event.wish_policy is WishPolicy.recipient_accepts


# --- registration --------------------------------------------------------------------------


def test_registration_opens_once_nothing_is_missing_and_closes(site: Site) -> None:
    client = _owner(site)
    _create(client)
    overview = f"/organiser/e/{NEW}/setup"
    action = f"/organiser/e/{NEW}/setup/registration"
    refused = _post(client, overview, action, {"action": "open"})
    assert refused.status_code == 409
    assert "Registration was not changed" in refused.text
    assert "Add at least one session with slots" in refused.text
    assert _event(site).status is EventStatus.draft

    _generate(client, "save")
    page = f"/organiser/e/{NEW}/locations"
    _post(
        client,
        page,
        f"{page}/tables",
        {"tables_prefix": "Table", "tables_first": "1", "tables_last": "10"},
    )
    ready = client.get(overview).text
    assert "Still missing" not in ready
    assert "Everything needed to open registration" in ready
    assert "Worth checking" not in ready  # an on-site event with tables
    details = f"/organiser/e/{NEW}/details"
    values = {"name": "Nordic Cluster Days", "timezone": "Europe/Copenhagen", "mode": "hybrid"}
    assert _post(client, details, details, values).status_code == 303
    assert "hybrid event without a video room" in client.get(overview).text
    opened = _post(client, overview, action, {"action": "open"})
    assert opened.status_code == 303
    assert _event(site).status is EventStatus.open
    assert "Registration is <strong>open</strong>" in client.get(overview).text
    closed = _post(client, overview, action, {"action": "close"})
    assert closed.status_code == 303
    assert _event(site).status is EventStatus.closed


# --- team ----------------------------------------------------------------------------------


def test_owners_invite_staff_and_owners_and_new_colleagues_get_a_token(site: Site) -> None:
    client = _owner(site)
    page = f"/organiser/e/{site.slug}/team"
    assert "Olga Owner" in client.get(page).text
    _organiser(site, "sam@example.org")
    staff = _post(client, page, page, {"email": "Sam@Example.org", "role": "staff", "name": ""})
    assert staff.status_code == 303

    newcomer = _post(
        client, page, page, {"email": "nina@example.org", "name": "Nina New", "role": "owner"}
    )
    assert newcomer.status_code == 200
    token = re.search(r'<code class="token">(mmo_[^<]+)</code>', newcomer.text)
    assert token, "the new colleague's token is shown once"
    with site.read() as db:
        roles = {
            r.organiser.email: r.role
            for r in db.scalars(select(EventRole).where(EventRole.event_id == site.built.event.id))
        }
    assert roles == {
        "owner@example.org": EventRoleName.owner,
        "sam@example.org": EventRoleName.staff,
        "nina@example.org": EventRoleName.owner,
    }
    nina = site.client()
    csrf = csrf_of(nina, "/organiser/login")
    nina.post("/organiser/login", data={"csrf_token": csrf, "token": token.group(1)})
    assert nina.get(f"/organiser/e/{site.slug}/setup").status_code == 200

    missing_name = _post(
        client, page, page, {"email": "zoe@example.org", "name": "", "role": "staff"}
    )
    assert missing_name.status_code == 422
    _field_error(missing_name.text, "name", "visible character")
    bad_email = _post(client, page, page, {"email": "not-an-address", "name": "X", "role": "staff"})
    assert bad_email.status_code == 422
    _field_error(bad_email.text, "email", "valid e-mail")
    with site.read() as db:
        assert db.scalar(select(Organiser).where(Organiser.email == "zoe@example.org")) is None


def test_the_last_owner_stays_and_members_are_removed(site: Site) -> None:
    client = _owner(site)
    page = f"/organiser/e/{site.slug}/team"
    with site.read() as db:
        owner_id = db.scalar(select(Organiser.id).where(Organiser.email == "owner@example.org"))
    refused = _post(client, page, f"{page}/{owner_id}", {"role": "staff"})
    assert refused.status_code == 409
    assert "at least one owner" in refused.text
    _organiser(site, "sam@example.org", EventRoleName.staff)
    with site.read() as db:
        sam = db.scalar(select(Organiser.id).where(Organiser.email == "sam@example.org"))
    assert _post(client, page, f"{page}/{sam}", {"action": "remove"}).status_code == 303
    assert "sam@example.org" not in client.get(page).text


# --- who may ---------------------------------------------------------------------------------

SETUP_PAGES = (
    "setup",
    "details",
    "sessions",
    "locations",
    "rules",
    "team",
    "slots/s1",
    "locations/t1/edit",
    "bundle.json",
)


def test_signed_out_visitors_and_participants_get_the_sign_in_form(site: Site) -> None:
    anonymous = site.client()
    assert anonymous.get("/organiser/new").status_code == 401
    for name in SETUP_PAGES:
        answer = anonymous.get(f"/organiser/e/{site.slug}/{name}")
        assert answer.status_code == 401, name
        assert 'name="token"' in answer.text, name
    participant = site.client()
    site.sign_in(participant, "p1")
    for name in SETUP_PAGES:
        assert participant.get(f"/organiser/e/{site.slug}/{name}").status_code == 401, name
    # A form sent without the page's token is refused, signed in or not.
    owner = _owner(site)
    forged = owner.post(f"/organiser/e/{site.slug}/rules", data={"csrf_token": "x"})
    assert forged.status_code == 403
    assert owner.post("/organiser/new", data={"name": "X"}).status_code == 403


def test_organisers_of_other_events_see_nothing_and_change_nothing(site: Site) -> None:
    stranger = _organiser(site, "else@example.org")
    for name in SETUP_PAGES:
        assert stranger.get(f"/organiser/e/{site.slug}/{name}").status_code == 404, name
    csrf = CSRF.search(stranger.get("/organiser/new").text)
    assert csrf
    token = csrf.group(1)
    for path, data in (
        ("details", {"name": "Mine now", "timezone": "UTC"}),
        ("rules", {"max_meetings_per_participant": "1"}),
        ("locations/tables", {"tables_prefix": "T", "tables_first": "1", "tables_last": "2"}),
        ("sessions/generate", {"gen_session_name": "X", "step": "save"}),
        ("setup/registration", {"action": "close"}),
        ("team", {"email": "else@example.org", "role": "owner"}),
        ("delete", {"confirm_delete": "yes"}),
        ("slots/s1", {"action": "delete"}),
        ("locations/t1/edit", {"action": "delete"}),
    ):
        answer = stranger.post(
            f"/organiser/e/{site.slug}/{path}", data={"csrf_token": token, **data}
        )
        assert answer.status_code == 404, path
    event = _event(site, site.slug)
    assert event.name == "EU–Canada Cluster Matchmaking"
    assert event.status is EventStatus.open
    assert len(_locations(site, site.slug)) == 3


def test_staff_set_up_the_event_but_only_owners_change_the_team(site: Site) -> None:
    staff = _organiser(site, "sam@example.org", EventRoleName.staff)
    page = f"/organiser/e/{site.slug}/team"
    team = staff.get(page)
    assert team.status_code == 200
    assert "Invite a colleague" not in team.text
    refused = _post(staff, page, page, {"email": "sam@example.org", "role": "owner"})
    assert refused.status_code == 403
    with site.read() as db:
        owner_id = db.scalar(select(Organiser.id).where(Organiser.email == "owner@example.org"))
    assert _post(staff, page, f"{page}/{owner_id}", {"action": "remove"}).status_code == 403
    with site.read() as db:
        sam = db.scalar(
            select(EventRole).join(Organiser).where(Organiser.email == "sam@example.org")
        )
        assert sam is not None
        assert sam.role is EventRoleName.staff
    rules = f"/organiser/e/{site.slug}/rules"
    assert _post(staff, rules, rules, _rules_form()).status_code == 303
    details = f"/organiser/e/{site.slug}/details"
    assert "Delete the event" not in staff.get(details).text
    delete = _post(staff, details, f"/organiser/e/{site.slug}/delete", {"confirm_delete": "yes"})
    assert delete.status_code == 403
    assert staff.get(f"/organiser/e/{site.slug}/bundle.json").status_code == 200
    assert _event(site, site.slug).status is EventStatus.open


def test_a_bundle_of_an_event_without_slots_is_refused_with_a_page(site: Site) -> None:
    # Probe of issue 11: the download answered 500 before the slots were made.
    client = _owner(site)
    _create(client)
    refused = client.get(f"/organiser/e/{NEW}/bundle.json")
    assert refused.status_code == 409
    assert "text/html" in refused.headers["content-type"]
    assert "has no sessions" in refused.text
