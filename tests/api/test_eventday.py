"""The event day over the API (api/routers/eventday.py): check-in, attendance, door lists,
feedback and the report (every figure recomputed from the database with SQL of its own); who
may and may not, and bad input answered with a clear 4xx that changes nothing."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import openpyxl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from matchmaking.onsite import feedback
from matchmaking.platform import mail
from matchmaking.platform.models import (
    CheckIn,
    Event,
    Meeting,
    MeetingAttendance,
    MeetingFeedback,
    Organisation,
    OutboxMail,
    ScheduleVersion,
    Slot,
)
from tests.api.conftest import make_settings
from tests.calendars.builders import meeting_kind
from tests.security.world import World, build_world

E = "/api/v1/events/fair-2030"


@dataclass
class Day:
    app: FastAPI
    client: TestClient
    world: World

    def as_(self, role: str) -> dict[str, str]:
        return self.world.headers(role)

    def p(self, key: str) -> dict[str, str]:
        return {"X-Participant-Token": self.world.participant_tokens[key]}

    def count(self, model: type) -> int:
        with Session(self.app.state.engine) as db:
            return db.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def day(db_url: str) -> Iterator[Day]:
    app = create_app(make_settings(db_url, guess_limit_failures=10**6))
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as session:
        world = build_world(session)
    with TestClient(app) as client:
        yield Day(app, client, world)
    app.state.engine.dispose()


def test_staff_find_a_name_mark_arrived_and_undo(day: Day) -> None:
    found = day.client.get(f"{E}/check-ins", params={"q": "person 3"}, headers=day.as_("staff"))
    assert found.status_code == 200, found.text
    body = found.json()
    assert [i["name"] for i in body["items"]] == ["Person 3"]
    assert body["items"][0]["arrived"] is False
    assert body["arrived_total"] == 0

    marked = day.client.put(f"{E}/participants/p3/check-in", headers=day.as_("staff"))
    assert marked.status_code == 200
    assert marked.json()["arrived"] is True
    first = marked.json()["arrived_at"]
    again = day.client.put(f"{E}/participants/p3/check-in", headers=day.as_("owner"))
    assert again.json()["arrived_at"] == first  # the first arrival stays
    assert day.count(CheckIn) == 1
    listed = day.client.get(f"{E}/check-ins", headers=day.as_("owner")).json()
    assert listed["arrived_total"] == 1
    assert listed["total"] == 4
    assert [i["arrived"] for i in listed["items"]].count(True) == 1

    undone = day.client.delete(f"{E}/participants/p3/check-in", headers=day.as_("staff"))
    assert undone.status_code == 200
    assert undone.json()["arrived"] is False
    assert day.count(CheckIn) == 0


def test_search_ignores_accents_and_case(day: Day) -> None:
    found = day.client.get(f"{E}/check-ins", params={"q": "CLUSTER 1"}, headers=day.as_("staff"))
    assert [i["name"] for i in found.json()["items"]] == ["Person 1"]


def test_someone_of_another_event_is_not_checked_in_here(day: Day) -> None:
    # q1 belongs to other-2030: in fair-2030 there is no such participant.
    answer = day.client.put(f"{E}/participants/q1/check-in", headers=day.as_("staff"))
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["errors"][0]["field"] == "path.key"
    assert day.count(CheckIn) == 0


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 401), ("participant", 401), ("other_owner", 404)],
)
def test_who_may_not_check_in(day: Day, role: str, status: int) -> None:
    answer = day.client.put(f"{E}/participants/p1/check-in", headers=day.as_(role))
    assert answer.status_code == status
    assert day.client.get(f"{E}/check-ins", headers=day.as_(role)).status_code == status
    assert day.count(CheckIn) == 0


# --- attendance of meetings ------------------------------------------------------------------


def _marks(day: Day) -> dict[str, tuple[str, str | None]]:
    with Session(day.app.state.engine) as db:
        return {
            row.uid: (row.outcome.value, row.absent.key if row.absent else None)
            for row in db.scalars(select(MeetingAttendance))
        }


def test_staff_and_either_side_mark_a_meeting_held_or_a_no_show(day: Day) -> None:
    held = day.client.put(
        f"{E}/meetings/w3/attendance", json={"outcome": "held"}, headers=day.as_("staff")
    )
    assert held.status_code == 200, held.text
    assert held.json()["outcome"] == "held"
    assert held.json()["marked_by"] == "staff"

    # p1 says p2 did not come (the other side, when unsaid); p2 says they met after all.
    no_show = day.client.put(
        f"{E}/me/meetings/w1/attendance", json={"outcome": "no_show"}, headers=day.p("p1")
    )
    assert no_show.status_code == 200, no_show.text
    assert no_show.json()["absent"] == "p2"
    assert no_show.json()["marked_by"] == "participant"
    assert _marks(day) == {"w3": ("held", None), "w1": ("no_show", "p2")}
    day.client.put(f"{E}/me/meetings/w1/attendance", json={"outcome": "held"}, headers=day.p("p2"))
    listed = day.client.get(f"{E}/meetings", headers=day.as_("owner")).json()
    assert [(m["uid"], m["names"], m["attendance"]["outcome"]) for m in listed] == [
        ("w3", ["Person 3", "Person 4"], "held"),
        ("w1", ["Person 1", "Person 2"], "held"),
    ]
    assert listed[0]["location_name"] == "Table 1"
    assert listed[0]["starts"].startswith("2024-10-26T09:00")

    cleared = day.client.delete(f"{E}/meetings/w1/attendance", headers=day.as_("staff"))
    assert cleared.status_code == 200
    assert cleared.json()["outcome"] is None
    day.client.delete(f"{E}/me/meetings/w3/attendance", headers=day.p("p3"))
    assert _marks(day) == {}


def test_bad_marks_are_refused_and_change_nothing(day: Day) -> None:
    staff = day.as_("staff")
    before = _marks(day)
    cases = [
        # someone else's meeting, for a participant: as if it did not exist
        ("PUT", f"{E}/me/meetings/w3/attendance", {"outcome": "held"}, day.p("p1"), 404),
        # a participant of another event
        ("PUT", f"{E}/me/meetings/w1/attendance", {"outcome": "held"}, day.p("q1"), 404),
        ("PUT", f"{E}/meetings/nope/attendance", {"outcome": "held"}, staff, 404),
        ("PUT", f"{E}/meetings/w1/attendance", {"outcome": "held", "absent": "p1"}, staff, 422),
        ("PUT", f"{E}/meetings/w1/attendance", {"outcome": "no_show", "absent": "p3"}, staff, 422),
        ("PUT", f"{E}/meetings/w1/attendance", {"outcome": "late"}, staff, 422),
        ("PUT", f"{E}/meetings/w1/attendance", {"outcome": "held"}, day.as_("other_owner"), 404),
        ("PUT", f"{E}/meetings/w1/attendance", {"outcome": "held"}, day.p("p1"), 401),
        ("DELETE", f"{E}/me/meetings/w3/attendance", None, day.p("p1"), 404),
    ]
    for method, path, body, headers, status in cases:
        answer = day.client.request(method, path, json=body, headers=headers)
        assert answer.status_code == status, (path, body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    bad_absent = day.client.put(
        f"{E}/meetings/w1/attendance", json={"outcome": "no_show", "absent": "p3"}, headers=staff
    )
    assert bad_absent.json()["errors"][0]["field"] == "body.absent"
    assert _marks(day) == before == {}


def test_a_meeting_is_marked_once_it_has_begun(day: Day) -> None:
    with Session(day.app.state.engine) as db:
        slot = db.scalar(
            select(Slot).join(Slot.event).where(Slot.key == "s2", Event.slug == "fair-2030")
        )
        assert slot is not None
        slot.start, slot.end = datetime(2031, 5, 5, 10, 0), datetime(2031, 5, 5, 10, 20)
        db.commit()
    answer = day.client.put(
        f"{E}/me/meetings/w1/attendance", json={"outcome": "held"}, headers=day.p("p1")
    )
    assert answer.status_code == 409
    assert "Mon 05 May 10:00–10:20" in answer.json()["detail"]
    assert _marks(day) == {}


# --- door lists ------------------------------------------------------------------------------


def test_door_lists_say_who_meets_where_per_session(day: Day) -> None:
    day.client.put(f"{E}/participants/p3/check-in", headers=day.as_("staff"))
    lists = day.client.get(f"{E}/door-lists", headers=day.as_("staff"))
    assert lists.status_code == 200, lists.text
    assert [(d["location_name"], d["session_name"]) for d in lists.json()] == [
        ("Table 1", "Day 1"),
        ("Table 2", "Day 1"),
    ]
    first = lists.json()[0]
    assert first["starts"].startswith("2024-10-26T09:00")
    assert first["ends"].startswith("2024-10-26T10:35")
    assert [
        [(p["name"], p["organisation"], p["arrived"]) for p in m["people"]]
        for m in first["meetings"]
    ] == [[("Person 3", "Cluster 3", True), ("Person 4", "Company 4", False)]]
    only = day.client.get(f"{E}/door-lists", params={"location": "t2"}, headers=day.as_("owner"))
    assert [d["location"] for d in only.json()] == ["t2"]
    none = day.client.get(f"{E}/door-lists", params={"session": "d2"}, headers=day.as_("owner"))
    assert none.json() == []
    missing = day.client.get(f"{E}/door-lists", params={"location": "x"}, headers=day.as_("staff"))
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["field"] == "query.location"
    assert day.client.get(f"{E}/door-lists", headers=day.as_("other_owner")).status_code == 404
    assert day.client.get(f"{E}/door-lists", headers=day.p("p1")).status_code == 401


# --- feedback --------------------------------------------------------------------------------

ANSWERS = {"usefulness": 4, "follow_up": "yes", "cooperation": "partnership"}


def _feedback(day: Day) -> list[tuple[str, int, str, str]]:
    with Session(day.app.state.engine) as db:
        return sorted(
            (r.uid, r.usefulness, r.follow_up.value, r.cooperation.value)
            for r in db.scalars(select(MeetingFeedback))
        )


def test_each_side_answers_once(day: Day) -> None:
    first = day.client.post(f"{E}/me/meetings/w1/feedback", json=ANSWERS, headers=day.p("p1"))
    assert first.status_code == 201, first.text
    assert first.json()["usefulness"] == 4
    assert first.json()["uid"] == "w1"
    again = day.client.post(
        f"{E}/me/meetings/w1/feedback", json={**ANSWERS, "usefulness": 1}, headers=day.p("p1")
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")
    other_side = day.client.post(
        f"{E}/me/meetings/w1/feedback",
        json={"usefulness": 2, "follow_up": "maybe", "cooperation": "other"},
        headers=day.p("p2"),
    )
    assert other_side.status_code == 201
    assert _feedback(day) == [("w1", 2, "maybe", "other"), ("w1", 4, "yes", "partnership")]


def test_feedback_by_a_non_participant_or_bad_answers_changes_nothing(day: Day) -> None:
    cases = [
        (day.p("p3"), "w1", ANSWERS, 404),  # not their meeting
        (day.p("q1"), "w1", ANSWERS, 404),  # of another event
        (day.as_("owner"), "w1", ANSWERS, 401),  # organisers do not answer
        ({}, "w1", ANSWERS, 401),
        (day.p("p1"), "nope", ANSWERS, 404),
        (day.p("p1"), "w1", {**ANSWERS, "usefulness": 6}, 422),
        (day.p("p1"), "w1", {**ANSWERS, "follow_up": "perhaps"}, 422),
        (day.p("p1"), "w1", {"usefulness": 3}, 422),
    ]
    for headers, uid, body, status in cases:
        answer = day.client.post(f"{E}/me/meetings/{uid}/feedback", json=body, headers=headers)
        assert answer.status_code == status, (headers, uid, body, answer.text)
    bad = day.client.post(
        f"{E}/me/meetings/w1/feedback", json={**ANSWERS, "usefulness": 0}, headers=day.p("p1")
    )
    assert bad.json()["errors"][0]["field"] == "body.usefulness"
    # A no-show has nothing to answer about.
    day.client.put(
        f"{E}/meetings/w3/attendance", json={"outcome": "no_show"}, headers=day.as_("staff")
    )
    no_show = day.client.post(f"{E}/me/meetings/w3/feedback", json=ANSWERS, headers=day.p("p3"))
    assert no_show.status_code == 409
    assert "no-show" in no_show.json()["detail"]
    assert _feedback(day) == []


# --- the report ----------------------------------------------------------------------------

PUBLISHED = """
    FROM meetings m
    JOIN schedule_versions v ON v.id = m.version_id
    JOIN events e ON e.id = v.event_id
    LEFT JOIN meeting_attendance a ON a.event_id = e.id AND a.uid = m.uid
    WHERE e.slug = 'fair-2030' AND v.published_at IS NOT NULL AND v.superseded_at IS NULL
"""


def _play_the_day(day: Day) -> None:
    """Two more meetings, delegations, marks, feedback and check-ins."""
    with Session(day.app.state.engine) as db:
        event = db.scalar(select(Event).where(Event.slug == "fair-2030"))
        assert event is not None
        version = db.scalar(
            select(ScheduleVersion).where(
                ScheduleVersion.event_id == event.id, ScheduleVersion.published_at.is_not(None)
            )
        )
        assert version is not None
        people = {p.key: p for p in event.participants}
        slots = {s.key: s for s in event.slots}
        places = {loc.key: loc for loc in event.locations}
        for uid, slot, place, a, b in [
            ("x1", "s3", "t1", "p1", "p3"),
            ("x2", "s4", "t2", "p2", "p4"),
        ]:
            db.add(
                Meeting(
                    version=version, slot=slots[slot], location=places[place],
                    participant_a=people[a], participant_b=people[b],
                    kind=meeting_kind(people[a], people[b]), uid=uid,
                )
            )  # fmt: skip
        for key, delegation, sectors in [
            ("o1", "EU", ["Energy", "Health"]),
            ("o2", "Canada", []),
            ("o3", "EU", ["Health"]),
        ]:
            organisation = db.scalar(
                select(Organisation).where(
                    Organisation.event_id == event.id, Organisation.key == key
                )
            )
            assert organisation is not None
            organisation.delegation = delegation
            organisation.sectors = sectors
        db.commit()
    staff = day.as_("staff")
    for uid, body in [
        ("w1", {"outcome": "held"}),
        ("w3", {"outcome": "no_show", "absent": "p4"}),
        ("x1", {"outcome": "held"}),
    ]:
        assert (
            day.client.put(f"{E}/meetings/{uid}/attendance", json=body, headers=staff).status_code
            == 200
        )
    for who, uid, answers in [
        ("p1", "w1", ANSWERS),
        ("p2", "w1", {"usefulness": 3, "follow_up": "maybe", "cooperation": "partnership"}),
        ("p1", "x1", {"usefulness": 5, "follow_up": "no", "cooperation": "other"}),
    ]:
        answer = day.client.post(
            f"{E}/me/meetings/{uid}/feedback", json=answers, headers=day.p(who)
        )
        assert answer.status_code == 201, answer.text
    for key in ("p1", "p2"):
        day.client.put(f"{E}/participants/{key}/check-in", headers=staff)


def _expected(day: Day) -> dict[str, Any]:
    with day.app.state.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT m.uid, m.kind, a.outcome, oa.delegation, ob.delegation, "
                "m.participant_a_id, m.participant_b_id, oa.country, ob.country, "
                "oa.sectors, ob.sectors "
                + PUBLISHED.replace(
                    "WHERE",
                    "JOIN participants pa ON pa.id = m.participant_a_id "
                    "JOIN organisations oa ON oa.id = pa.organisation_id "
                    "JOIN participants pb ON pb.id = m.participant_b_id "
                    "JOIN organisations ob ON ob.id = pb.organisation_id WHERE",
                )
            )
        ).all()
        answers = conn.execute(
            text(
                "SELECT f.usefulness, f.follow_up, f.cooperation FROM meeting_feedback f "
                "WHERE f.uid IN (SELECT m.uid " + PUBLISHED + ")"
            )
        ).all()
        participants = conn.execute(
            text(
                "SELECT count(*) FROM participants p JOIN events e ON e.id = p.event_id "
                "WHERE e.slug = 'fair-2030'"
            )
        ).scalar()
        checked_in = conn.execute(
            text(
                "SELECT count(*) FROM check_ins c JOIN events e ON e.id = c.event_id "
                "WHERE e.slug = 'fair-2030'"
            )
        ).scalar()
    by_kind: dict[str, Counter[str]] = {k: Counter() for k in ("C2C", "C2B", "B2B")}
    by_pair: dict[str, Counter[str]] = {}
    by_country: dict[str, Counter[str]] = {}
    by_sector: dict[str, Counter[str]] = {}
    for _, kind, outcome, da, db_, _, _, ca, cb, sa, sb in rows:
        pair = "–".join(sorted((da or "no delegation", db_ or "no delegation")))
        country = "–".join(sorted((ca or "?", cb or "?")))
        # JSON columns: text on SQLite, already a list on PostgreSQL.
        sectors = {
            s
            for value in (sa, sb)
            for s in (json.loads(value) if isinstance(value, str) else value or [])
        }
        for c in (
            by_kind[kind],
            by_pair.setdefault(pair, Counter()),
            by_country.setdefault(country, Counter()),
            *(by_sector.setdefault(s, Counter()) for s in sorted(sectors) or ["no sector"]),
        ):
            c["planned"] += 1
            c[outcome or "unmarked"] += 1

    def line(label: str, c: Counter[str]) -> dict[str, Any]:
        return {
            "label": label,
            "planned": c["planned"],
            "held": c["held"],
            "no_shows": c["no_show"],
        }

    return {
        "participants": participants,
        "checked_in": checked_in,
        "planned": len(rows),
        "held": sum(1 for r in rows if r[2] == "held"),
        "no_shows": sum(1 for r in rows if r[2] == "no_show"),
        "unmarked": sum(1 for r in rows if r[2] is None),
        "with_a_meeting": len({p for r in rows for p in r[5:7]}),
        "with_a_held_meeting": len({p for r in rows if r[2] == "held" for p in r[5:7]}),
        "by_kind": [line(k, c) for k, c in by_kind.items()],
        "by_delegation_pair": [line(p, by_pair[p]) for p in sorted(by_pair)],
        "by_country_pair": [line(p, by_country[p]) for p in sorted(by_country)],
        "by_sector": [line(s, by_sector[s]) for s in sorted(by_sector)],
        "answers": len(answers),
        "usefulness_mean": round(sum(a[0] for a in answers) / len(answers), 2),
        "usefulness": {str(n): sum(1 for a in answers if a[0] == n) for n in range(1, 6)},
        "follow_up": {v: sum(1 for a in answers if a[1] == v) for v in ("yes", "maybe", "no")},
        "cooperation": {
            v: sum(1 for a in answers if a[2] == v)
            for v in ("project", "purchase", "partnership", "other")
        },
    }


def test_the_report_figures_are_those_of_the_database(day: Day) -> None:
    _play_the_day(day)
    report = day.client.get(f"{E}/report", headers=day.as_("staff"))
    assert report.status_code == 200, report.text
    expected = _expected(day)
    assert report.json() == expected
    # and what the day was, by hand
    assert (expected["planned"], expected["held"], expected["no_shows"]) == (4, 2, 1)
    assert expected["with_a_meeting"] == 4
    assert expected["with_a_held_meeting"] == 3
    assert expected["usefulness_mean"] == 4.0
    assert expected["checked_in"] == 2
    # p4 (Company 4) keeps the builders' "Energy"; p2 names none: w1 p1–p2 is Energy and
    # Health, w3 p3–p4 Energy and Health, x1 p1–p3 Energy and Health, x2 p2–p4 Energy.
    assert [(s["label"], s["planned"], s["held"]) for s in expected["by_sector"]] == [
        ("Energy", 4, 2),
        ("Health", 3, 2),
    ]
    assert [p["label"] for p in expected["by_delegation_pair"]] == [
        "Canada–EU",
        "Canada–no delegation",
        "EU–EU",
        "EU–no delegation",
    ]


def test_the_report_page_and_who_may_not(day: Day) -> None:
    _play_the_day(day)
    assert day.client.get(f"{E}/report", headers=day.as_("other_owner")).status_code == 404
    assert day.client.get(f"{E}/report", headers=day.p("p1")).status_code == 401
    client = day.client
    page = client.get("/organiser/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(
        "/organiser/login",
        data={"csrf_token": token, "token": day.world.organiser_tokens["staff"]},
        follow_redirects=False,
    )
    html = client.get("/organiser/e/fair-2030/report")
    assert html.status_code == 200
    assert "<strong>4</strong> meetings planned" in html.text
    assert "<strong>2</strong> held" in html.text
    assert "Canada–EU" in html.text
    assert "mean usefulness <strong>4.00</strong>" in html.text
    assert html.text.count('<svg class="chart"') == 3
    assert "<title>Health held: 2</title>" in html.text
    assert 'id="by-sector"' in html.text
    assert "<title>C2C held: 1</title>" in html.text
    workbook = client.get("/organiser/e/fair-2030/report.xlsx")
    assert workbook.status_code == 200
    sheets = openpyxl.load_workbook(io.BytesIO(workbook.content))
    assert sheets.sheetnames == [
        "Figures",
        "By kind",
        "By delegation pair",
        "By country pair",
        "By sector",
        "Feedback",
    ]
    figures = {row[0]: row[1] for row in sheets["Figures"].iter_rows(min_row=2, values_only=True)}
    assert figures["Meetings planned"] == 4
    assert figures["No-shows"] == 1
    assert figures["Mean usefulness (1–5)"] == "4.0"
    by_pair = list(sheets["By delegation pair"].iter_rows(min_row=2, values_only=True))
    assert by_pair[0] == ("Canada–EU", 1, 1, 0)
    by_sector = list(sheets["By sector"].iter_rows(min_row=2, values_only=True))
    assert by_sector == [("Energy", 4, 2, 1), ("Health", 3, 2, 1)]


# --- the closing mail ------------------------------------------------------------------------


def _outbox(day: Day) -> list[str]:
    """The recipients of the closing mails in the outbox (their texts are emptied once sent)."""
    with Session(day.app.state.engine) as db:
        return sorted(
            db.scalars(
                select(OutboxMail.recipient).where(OutboxMail.template == "feedback_request")
            )
        )


def _links(day: Day) -> dict[str, list[str]]:
    """What a closing mail would link now, by recipient."""
    with Session(day.app.state.engine) as db:
        event = db.scalar(select(Event).where(Event.slug == "fair-2030"))
        assert event is not None
        return {
            m.to: [item["url"] for item in m.context["meetings"]]
            for m in feedback.closing_mails(db, event, "http://matchmaking.test/")
        }


def test_the_closing_mail_links_the_questions_left_to_answer(day: Day) -> None:
    link = "http://matchmaking.test/e/fair-2030/me/meetings/{}/feedback"
    assert _links(day) == {
        "p1@example.org": [link.format("w1")],
        "p2@example.org": [link.format("w1")],
        "p3@example.org": [link.format("w3")],
        "p4@example.org": [link.format("w3")],
    }
    sent = day.client.post(f"{E}/feedback-mails", headers=day.as_("staff"))
    assert sent.status_code == 202
    assert sent.json() == {"queued": 4}
    assert _outbox(day) == [f"p{n}@example.org" for n in (1, 2, 3, 4)]
    day.client.post(f"{E}/me/meetings/w1/feedback", json=ANSWERS, headers=day.p("p1"))
    day.client.put(
        f"{E}/meetings/w3/attendance", json={"outcome": "no_show"}, headers=day.as_("staff")
    )
    assert _links(day) == {"p2@example.org": [link.format("w1")]}
    with Session(day.app.state.engine) as db:
        event = db.scalar(select(Event).where(Event.slug == "fair-2030"))
        assert event is not None
        (only,) = feedback.closing_mails(db, event, "http://matchmaking.test")
    message = mail.render(only, make_settings("sqlite://"))
    assert message["Subject"] == "How were your meetings at EU–Canada Cluster Matchmaking?"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Sat 26 Oct 09:25–09:45, with Person 1 (Cluster 1): " + link.format("w1") in text
    again = day.client.post(f"{E}/feedback-mails", headers=day.as_("owner"))
    assert again.json() == {"queued": 1}
    assert _outbox(day).count("p2@example.org") == 2
    assert day.client.post(f"{E}/feedback-mails", headers=day.p("p1")).status_code == 401
    assert day.client.post(f"{E}/feedback-mails", headers=day.as_("other_owner")).status_code == 404
