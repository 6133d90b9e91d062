"""The re-plan of the rest of the day without the people who are away (issue 18), over the API
(api/routers/eventday.py, matchmaking/onsite/absences.py, matchmaking/planning/rest_of_day.py):
meetings before the chosen moment stay, the person away gets none after it, the others keep
theirs, a wish not met before takes the freed slot; publishing tells exactly those whose
agenda changed, and their feeds say so (parsed). Bad input and callers who may not are
refused with a clear 4xx that changes nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import icalendar
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from matchmaking.onsite import absences
from matchmaking.platform.models import (
    Absence,
    Attendance,
    CalendarLink,
    Event,
    JobStatus,
    Organisation,
    OrganisationKind,
    OutboxMail,
    Participant,
    ParticipantUnavailableSlot,
    ScheduleVersion,
    Slot,
    SolveJob,
    Wish,
    WishStatus,
)
from matchmaking.platform.security import CALENDAR_TOKEN_PREFIX, hash_token, new_token
from tests.api.conftest import make_settings
from tests.api.solving import wait_for_job
from tests.calendars.builders import Built, add_version
from tests.security.world import World, build_world

pytestmark = pytest.mark.slow

E = "/api/v1/events/fair-2030"
#: The event's first day is Sat 26 Oct 2024, slots s1 09:00, s2 09:25, s3 09:50, s4 10:15
#: (Europe/Berlin); the second day s5–s8 from 09:00.
AT = "2024-10-26T09:30"


@dataclass
class Day:
    app: FastAPI
    client: TestClient
    world: World

    def as_(self, role: str) -> dict[str, str]:
        return self.world.headers(role)

    def db(self) -> Session:
        return sessionmaker(bind=self.app.state.engine, expire_on_commit=False)()

    def count(self, model: type) -> int:
        with self.db() as db:
            return db.scalar(select(func.count()).select_from(model)) or 0

    def feed(self, key: str) -> icalendar.Calendar:
        token = self.world.calendar_tokens[key]
        answer = self.client.get(f"/calendars/participants/{token}.ics")
        assert answer.status_code == 200, answer.text
        return icalendar.Calendar.from_ical(answer.content)


def _published_day(session: Session) -> World:
    """The security tests' world, with a fifth person and a published version 2:
    p1–p2 and p3–p4 at 09:00 (s1), p1–p3 at 09:50 (s3), p2–p5 at 10:15 (s4); p5→p1 accepted
    but not met."""
    world = build_world(session)
    event = session.scalar(select(Event).where(Event.slug == "fair-2030"))
    assert event is not None
    people = {p.key: p for p in event.participants}
    organisation = Organisation(
        event=event, key="o5", name="Cluster 5", kind=OrganisationKind.cluster, country="DK"
    )
    p5 = Participant(
        event=event, organisation=organisation, key="p5", name="Person 5",
        email="p5@example.org", listed=True,
    )  # fmt: skip
    feed = new_token(CALENDAR_TOKEN_PREFIX)
    p5.calendar_links.append(CalendarLink(token_hash=hash_token(feed)))
    world.calendar_tokens["p5"] = feed
    session.add_all([organisation, p5])
    # Feeds order publications by time: the world's version 1 comes before version 2.
    event.versions[0].published_at = datetime(2024, 10, 1, tzinfo=UTC)
    people["p5"] = p5
    wishes = {w.key: w for w in event.wishes}
    for key, sender, recipient in [("w4", "p1", "p3"), ("w5", "p2", "p5"), ("w6", "p5", "p1")]:
        wishes[key] = Wish(
            event=event, key=key, sender=people[sender], recipient=people[recipient],
            status=WishStatus.accepted,
        )  # fmt: skip
        session.add(wishes[key])
    session.flush()
    built = Built(
        event,
        slots={s.key: s for s in event.slots},
        locations={loc.key: loc for loc in event.locations},
        participants=people,
    )
    version = add_version(
        session,
        built,
        [
            ("fair-2030-w1", "s1", "t1", "p1", "p2"),
            ("fair-2030-w3", "s1", "video", "p3", "p4"),
            ("fair-2030-w4", "s3", "t1", "p1", "p3"),
            ("fair-2030-w5", "s4", "t2", "p2", "p5"),
        ],
        published_at=datetime(2024, 10, 20, tzinfo=UTC),
    )
    for meeting in version.meetings:
        meeting.wishes = [wishes[meeting.uid.removeprefix("fair-2030-")]]
    version.based_on = event.versions[0]
    session.commit()
    return world


@pytest.fixture
def day(db_url: str) -> Iterator[Day]:
    app = create_app(make_settings(db_url, guess_limit_failures=10**6))
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as session:
        world = _published_day(session)
    with TestClient(app) as client:
        yield Day(app, client, world)
    app.state.engine.dispose()


def _placements(day: Day, number: int) -> dict[str, tuple[str, str, tuple[str, str]]]:
    with day.db() as db:
        version = db.scalar(select(ScheduleVersion).where(ScheduleVersion.number == number))
        assert version is not None
        return {
            "+".join(sorted(w.key for w in m.wishes)): (
                m.slot.key,
                m.location.key,
                (m.participant_a.key, m.participant_b.key),
            )
            for m in version.meetings
        }


def _events(calendar: icalendar.Calendar) -> dict[str, Any]:
    return {str(e["UID"]).split("@")[0]: e for e in calendar.walk("VEVENT")}


def test_one_action_re_plans_the_rest_of_the_day_without_who_left(day: Day) -> None:
    before = {key: _events(day.feed(key)) for key in ("p1", "p3", "p2")}
    started = day.client.post(
        f"{E}/rest-of-day-replans",
        json={"frozen_before": AT, "absent": [{"participant": "p3"}], "time_limit_seconds": 10},
        headers=day.as_("staff"),
    )
    assert started.status_code == 202, started.text
    body = started.json()
    assert body["frozen_before"] == "2024-10-26T07:30:00Z"
    assert [(a["participant"], a["away_from"]) for a in body["away"]] == [
        ("p3", "2024-10-26T07:30:00Z")
    ]
    assert body["job"]["parameters"]["frozen_before"] == "2024-10-26T07:30:00+00:00"
    assert body["job"]["parameters"]["replan"] is True
    job = wait_for_job(day.client, started.headers["Location"], day.as_("staff"))
    assert job["status"] == "succeeded", job
    number = job["version"]["number"]

    after = _placements(day, number)
    # Before 09:30 nothing moves; p3 (away from 09:30) keeps no meeting after it; p2–p5 stays
    # where it was; p5→p1, never met, takes a slot the re-plan freed or left.
    assert after["w1"] == ("s1", "t1", ("p1", "p2"))
    assert after["w3"] == ("s1", "video", ("p3", "p4"))
    assert "w4" not in after
    assert after["w5"] == ("s4", "t2", ("p2", "p5"))
    slot, _, pair = after["w6"]
    assert set(pair) == {"p1", "p5"}
    assert slot not in {"s1", "s2", "s4"}  # not in the past, not when p5 meets p2
    with day.db() as db:
        version = db.scalar(select(ScheduleVersion).where(ScheduleVersion.number == number))
        assert version is not None
        assert version.unscheduled == [
            {"wish": "w4", "reason": "no_common_slot", "detail": "p3 is away from Sat 26 Oct 09:30"}
        ]

    # The preview of what publishing changes, as the version page shows it.
    diff = day.client.get(f"{E}/versions/{number}/diff", headers=day.as_("staff")).json()
    assert [(c["uid"], c["change"]) for c in diff["removed"]] == [("fair-2030-w4", "removed")]
    assert [c["wishes"] for c in diff["added"]] == [["w6"]]
    assert diff["moved"] == []
    affected = {p["key"] for p in diff["impact"]["participants"]}
    assert affected == {"p1", "p3", "p5"}

    published = day.client.post(f"{E}/versions/{number}/publish", headers=day.as_("owner"))
    assert published.status_code == 200, published.text
    assert published.json()["notified"] == 3
    with day.db() as db:
        told = sorted(
            db.scalars(
                select(OutboxMail.recipient).where(OutboxMail.template != "feedback_request")
            )
        )
    assert told == ["p1@example.org", "p3@example.org", "p5@example.org"]

    # The feeds, parsed: the cancelled meeting says so with a higher SEQUENCE, the others stay.
    for key in ("p1", "p3"):
        event = _events(day.feed(key))["fair-2030-w4"]
        assert str(event["STATUS"]) == "CANCELLED"
        assert int(event["SEQUENCE"]) > int(before[key]["fair-2030-w4"].get("SEQUENCE", 0))
    p2 = _events(day.feed("p2"))
    assert p2["fair-2030-w5"]["DTSTART"].dt == before["p2"]["fair-2030-w5"]["DTSTART"].dt
    assert p2["fair-2030-w5"].get("STATUS", "CONFIRMED") != "CANCELLED"
    p5 = _events(day.feed("p5"))
    assert any(str(e.get("STATUS", "")) != "CANCELLED" and "Person 1" in str(e["SUMMARY"])
               for e in p5.values())  # fmt: skip


def test_who_leaves_early_keeps_the_meetings_that_end_before_they_go(day: Day) -> None:
    # Person 3 leaves at 10:10, just as p1–p3 (09:50–10:10) ends: it stays. Person 5 leaves
    # at 10:15: p2–p5 at 10:15 would go, so it moves to 09:50 (a published meeting moves when
    # that meets more wishes), where Person 5 is still there.
    started = day.client.post(
        f"{E}/rest-of-day-replans",
        json={
            "frozen_before": AT,
            "absent": [
                {"participant": "p5", "away_from": "2024-10-26T10:15"},
                {"participant": "p3", "away_from": "2024-10-26T08:10:00Z"},
            ],
            "time_limit_seconds": 10,
        },
        headers=day.as_("owner"),
    )
    assert started.status_code == 202, started.text
    assert [(a["participant"], a["away_from"]) for a in started.json()["away"]] == [
        ("p3", "2024-10-26T08:10:00Z"),
        ("p5", "2024-10-26T08:15:00Z"),
    ]
    job = wait_for_job(day.client, started.headers["Location"], day.as_("owner"))
    after = _placements(day, job["version"]["number"])
    assert after["w4"] == ("s3", "t1", ("p1", "p3"))
    assert after["w5"] == ("s3", "t2", ("p2", "p5"))
    assert "w6" not in after  # Person 1 meets Person 3 at 09:50, Person 5 is gone after it
    assert after["w1"] == ("s1", "t1", ("p1", "p2"))


def test_everyone_not_checked_in_is_away_and_checking_in_brings_them_back(day: Day) -> None:
    staff = day.as_("staff")
    for key in ("p1", "p2", "p5"):
        assert day.client.put(f"{E}/participants/{key}/check-in", headers=staff).status_code == 200
    started = day.client.post(
        f"{E}/rest-of-day-replans",
        json={"frozen_before": AT, "not_checked_in_away": True, "time_limit_seconds": 10},
        headers=staff,
    )
    assert started.status_code == 202, started.text
    # Person 4 attends online: not checking in at the venue says nothing of them.
    assert [a["participant"] for a in started.json()["away"]] == ["p3"]
    job = wait_for_job(day.client, started.headers["Location"], staff)
    after = _placements(day, job["version"]["number"])
    # The past stays as it was, even for those who did not come (their marks say no-show).
    assert after["w3"] == ("s1", "video", ("p3", "p4"))
    assert "w4" not in after
    listed = day.client.get(f"{E}/absences", headers=staff).json()
    assert [a["name"] for a in listed] == ["Person 3"]
    day.client.put(f"{E}/participants/p3/check-in", headers=staff)
    assert day.client.get(f"{E}/absences", headers=staff).json() == []


def test_staff_mark_someone_away_and_undo_it(day: Day) -> None:
    staff = day.as_("staff")
    marked = day.client.put(
        f"{E}/participants/p2/absence", json={"away_from": "2024-10-26T10:00:00+02:00"},
        headers=staff,
    )  # fmt: skip
    assert marked.status_code == 200, marked.text
    assert marked.json() == {
        "participant": "p2",
        "name": "Person 2",
        "organisation": "Company 2",
        "away_from": "2024-10-26T08:00:00Z",
    }
    moved = day.client.put(
        f"{E}/participants/p2/absence", json={"away_from": "2024-10-26T10:10"}, headers=staff
    )
    assert moved.json()["away_from"] == "2024-10-26T08:10:00Z"
    assert day.count(Absence) == 1
    assert day.client.delete(f"{E}/participants/p2/absence", headers=staff).status_code == 204
    assert day.count(Absence) == 0


def _nothing_changed(day: Day) -> None:
    assert day.count(Absence) == 0
    assert day.count(ScheduleVersion) == 2
    with day.db() as db:
        assert db.scalar(select(func.count()).select_from(SolveJob)) == 2  # the world's two


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        # someone of another event
        (
            {"frozen_before": AT, "absent": [{"participant": "q1"}]},
            404,
            "body.absent[0].participant",
        ),
        # before the event, after it, and a person away from a time outside it
        ({"frozen_before": "2024-10-26T08:59"}, 422, "body.frozen_before"),
        ({"frozen_before": "2024-10-28T09:00:00+02:00"}, 422, "body.frozen_before"),
        (
            {"frozen_before": AT, "absent": [{"participant": "p1", "away_from": "2031-01-01"}]},
            422,
            "body.absent[0].away_from",
        ),
        ({"frozen_before": "half past nine"}, 422, "body.frozen_before"),
        # the first and the last years there are, moved across the date line
        ({"frozen_before": "0001-01-01T00:00:00+02:00"}, 422, "body.frozen_before"),
        ({"frozen_before": "9999-12-31T23:59:00-12:00"}, 422, "body.frozen_before"),
        ({"frozen_before": "0001-01-01T00:00"}, 422, "body.frozen_before"),
        ({"frozen_before": AT, "absent": [{"who": "p1"}]}, 422, "body.absent.0.who"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    day: Day, body: dict[str, Any], status: int, field: str
) -> None:
    # Someone valid first in the list: they are not marked away either.
    if "absent" in body and body["absent"][0].get("participant") == "q1":
        body = {**body, "absent": [{"participant": "p2"}, *body["absent"]]}
        field = "body.absent[1].participant"
    answer = day.client.post(f"{E}/rest-of-day-replans", json=body, headers=day.as_("staff"))
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in answer.json()["errors"]]
    assert field in fields, fields
    _nothing_changed(day)


def test_marking_away_out_of_the_event_or_of_another_event_is_refused(day: Day) -> None:
    staff = day.as_("staff")
    late = day.client.put(
        f"{E}/participants/p1/absence", json={"away_from": "2024-10-30T09:00"}, headers=staff
    )
    assert late.status_code == 422
    assert late.json()["errors"][0]["field"] == "body.away_from"
    assert "within the event" in late.json()["detail"]
    other = day.client.put(f"{E}/participants/q1/absence", json={"away_from": AT}, headers=staff)
    assert other.status_code == 404
    assert other.json()["errors"][0]["field"] == "path.key"
    _nothing_changed(day)


def test_a_solve_under_way_or_nothing_published_is_a_conflict(day: Day) -> None:
    with day.db() as db:
        event = db.scalar(select(Event).where(Event.slug == "fair-2030"))
        assert event is not None
        running = SolveJob(
            id="under-way", event_id=event.id, status=JobStatus.running, parameters={},
            progress_history=[],
        )  # fmt: skip
        db.add(running)
        db.commit()
    body = {"frozen_before": AT, "absent": [{"participant": "p3"}]}
    busy = day.client.post(f"{E}/rest-of-day-replans", json=body, headers=day.as_("owner"))
    assert busy.status_code == 409, busy.text
    assert "under way" in busy.json()["detail"]
    assert day.count(Absence) == 0
    with day.db() as db:
        db.delete(db.get_one(SolveJob, "under-way"))
        for version in db.scalars(select(ScheduleVersion)):
            version.published_at = None
        db.commit()
    unpublished = day.client.post(f"{E}/rest-of-day-replans", json=body, headers=day.as_("owner"))
    assert unpublished.status_code == 409, unpublished.text
    assert "Nothing is published" in unpublished.json()["detail"]
    _nothing_changed(day)


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 401), ("participant", 401), ("other_participant", 401), ("other_owner", 404)],
)
def test_who_may_not_re_plan_the_day_or_mark_someone_away(day: Day, role: str, status: int) -> None:
    headers = day.as_(role)
    body = {"frozen_before": AT, "absent": [{"participant": "p3"}]}
    assert day.client.post(f"{E}/rest-of-day-replans", json=body, headers=headers).status_code == (
        status
    )
    assert (
        day.client.put(
            f"{E}/participants/p3/absence", json={"away_from": AT}, headers=headers
        ).status_code
        == status
    )
    assert day.client.delete(f"{E}/participants/p3/absence", headers=headers).status_code == status
    assert day.client.get(f"{E}/absences", headers=headers).status_code == status
    _nothing_changed(day)


def test_a_met_meeting_stays_when_its_wish_is_no_longer_accepted(day: Day) -> None:
    # p1–p2 met at 09:00 for w1; the organisers decline w1 afterwards (or sheets change it).
    # The re-plan from 09:30 keeps that meeting exactly where it was held: the past does not
    # change, and nobody is told it was cancelled.
    with day.db() as db:
        wish = db.scalar(select(Wish).where(Wish.key == "w1"))
        assert wish is not None
        wish.status = WishStatus.declined
        db.commit()
    started = day.client.post(
        f"{E}/rest-of-day-replans",
        json={"frozen_before": AT, "time_limit_seconds": 10},
        headers=day.as_("staff"),
    )
    assert started.status_code == 202, started.text
    job = wait_for_job(day.client, started.headers["Location"], day.as_("staff"))
    assert job["status"] == "succeeded", job
    number = job["version"]["number"]
    after = _placements(day, number)
    assert after["w1"] == ("s1", "t1", ("p1", "p2"))
    assert after["w3"] == ("s1", "video", ("p3", "p4"))
    diff = day.client.get(f"{E}/versions/{number}/diff", headers=day.as_("staff")).json()
    assert "fair-2030-w1" not in [c["uid"] for c in diff["removed"]]


def test_a_met_meeting_stays_when_its_slot_is_marked_unavailable_afterwards(day: Day) -> None:
    # Person 1 says afterwards that 09:00 did not suit them: the meeting they held then stays.
    with day.db() as db:
        p1 = db.scalar(select(Participant).where(Participant.key == "p1"))
        s1 = db.scalar(select(Slot).where(Slot.key == "s1"))
        assert p1 is not None
        assert s1 is not None
        db.add(ParticipantUnavailableSlot(participant_id=p1.id, slot_id=s1.id))
        db.commit()
    started = day.client.post(
        f"{E}/rest-of-day-replans",
        json={"frozen_before": AT, "time_limit_seconds": 10},
        headers=day.as_("staff"),
    )
    assert started.status_code == 202, started.text
    job = wait_for_job(day.client, started.headers["Location"], day.as_("staff"))
    assert job["status"] == "succeeded", job
    after = _placements(day, job["version"]["number"])
    assert after["w1"] == ("s1", "t1", ("p1", "p2"))


def test_everyone_not_checked_in_leaves_out_who_attends_online(day: Day) -> None:
    # Person 4 attends online (the video room): never checked in at the venue, never away for
    # it. Person 3, onsite and not checked in, is.
    staff = day.as_("staff")
    with day.db() as db:
        p4 = db.scalar(select(Participant).where(Participant.key == "p4"))
        assert p4 is not None
        assert p4.attendance is Attendance.online
    for key in ("p1", "p2", "p5"):
        assert day.client.put(f"{E}/participants/{key}/check-in", headers=staff).status_code == 200
    started = day.client.post(
        f"{E}/rest-of-day-replans",
        json={"frozen_before": AT, "not_checked_in_away": True, "time_limit_seconds": 10},
        headers=staff,
    )
    assert started.status_code == 202, started.text
    assert [a["participant"] for a in started.json()["away"]] == ["p3"]
    # What the rest-of-day page lists as not checked in.
    with day.db() as db:
        event = db.scalar(select(Event).where(Event.slug == "fair-2030"))
        assert event is not None
        assert [p.key for p in absences.not_checked_in(db, event)] == ["p3"]


def _person_5_leaves_at_10_15(day: Day) -> None:
    marked = day.client.put(
        f"{E}/participants/p5/absence", json={"away_from": "2024-10-26T10:15"},
        headers=day.as_("staff"),
    )  # fmt: skip
    assert marked.status_code == 200, marked.text


def _meetings_of_person_5_after_10_15(
    day: Day, placements: dict[str, tuple[str, str, tuple[str, str]]]
) -> list[str]:
    with day.db() as db:
        ends = {s.key: s.end for s in db.scalars(select(Slot))}
    left = datetime(2024, 10, 26, 10, 15)
    return [k for k, (slot, _, who) in placements.items() if "p5" in who and ends[slot] > left]


def test_an_ordinary_re_plan_after_someone_left_gives_them_no_later_meeting(day: Day) -> None:
    # Person 5 is marked away from 10:15 and no rest-of-day re-plan is run: a plain re-plan
    # of the whole event still keeps them out of every slot that ends after they left.
    _person_5_leaves_at_10_15(day)
    started = day.client.post(
        f"{E}/solves", json={"replan": True, "time_limit_seconds": 10}, headers=day.as_("owner")
    )
    assert started.status_code == 202, started.text
    job = wait_for_job(day.client, started.headers["Location"], day.as_("owner"))
    assert job["status"] == "succeeded", job
    after = _placements(day, job["version"]["number"])
    assert _meetings_of_person_5_after_10_15(day, after) == []
    # Before, p2–p5 met at 10:15 (s4); the wish now either moves earlier or is unmet, and
    # an unmet wish of Person 5 says they are away.
    version = day.client.get(f"{E}/versions/{job['version']['number']}", headers=day.as_("owner"))
    reasons = {u["wish"]: u for u in version.json()["unscheduled"]}
    for key in ("w5", "w6"):
        if key not in after:
            assert "p5 is away from Sat 26 Oct 10:15" in reasons[key]["detail"], reasons[key]


def test_a_re_solve_around_pins_after_someone_left_gives_them_no_later_meeting(day: Day) -> None:
    _person_5_leaves_at_10_15(day)
    resolved = day.client.post(
        f"{E}/versions/2/resolve-around-pins",
        json={"time_limit_seconds": 5, "workers": 1, "deterministic": True},
        headers=day.as_("owner"),
    )
    assert resolved.status_code == 201, resolved.text
    after = _placements(day, resolved.json()["number"])
    assert _meetings_of_person_5_after_10_15(day, after) == []


def test_a_version_that_still_plans_someone_who_left_is_stale(day: Day) -> None:
    # A re-plan made before Person 5 is marked away still holds p2–p5 at 10:15: once they
    # are away from 10:15 the version is stale (publishing it needs force), and the version
    # made after the absence is not.
    owner = day.as_("owner")
    before = day.client.post(f"{E}/solves", json={"replan": True, "time_limit_seconds": 10},
                             headers=owner)  # fmt: skip
    job = wait_for_job(day.client, before.headers["Location"], owner)
    number = job["version"]["number"]
    assert _meetings_of_person_5_after_10_15(day, _placements(day, number)), "p5 still at 10:15"
    assert (
        day.client.get(f"{E}/versions/{number}", headers=owner).json()["staleness"]["stale"]
        is False
    )

    _person_5_leaves_at_10_15(day)
    staleness = day.client.get(f"{E}/versions/{number}", headers=owner).json()["staleness"]
    assert staleness["stale"] is True
    assert [(c["kind"], c["key"], c["detail"]) for c in staleness["changes"]] == [
        (
            "participant_away",
            "p5",
            "Person 5 is away from Sat 26 Oct 10:15, but this version still plans 1 meeting "
            "for them after that",
        )
    ]
    refused = day.client.post(f"{E}/versions/{number}/publish", json={}, headers=owner)
    assert refused.status_code == 409, refused.text
    assert "who is away" in refused.json()["detail"]

    after = day.client.post(f"{E}/solves", json={"replan": True, "time_limit_seconds": 10},
                            headers=owner)  # fmt: skip
    job = wait_for_job(day.client, after.headers["Location"], owner)
    later = day.client.get(f"{E}/versions/{job['version']['number']}", headers=owner).json()
    assert later["staleness"] == {**later["staleness"], "stale": False, "changes": []}
