"""Hostile input: every kind gets a clear 4xx problem and leaves the event exactly as it was.

"As it was" is checked on the whole event: its bundle export (time grid, locations, people,
wishes) is the same before and after the refused request.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from matchmaking.models import Organiser, Participant
from tests.api.conftest import Factory, make_settings

LIMIT_BYTES = 64 * 1024
EXAMPLE_BUNDLE = Path(__file__).resolve().parent.parent / "bundle" / "example-bundle.json"


@pytest.fixture
def small_app(db_url: str) -> Iterator[FastAPI]:
    application = create_app(make_settings(db_url, max_body_bytes=LIMIT_BYTES, log_requests=False))
    yield application
    application.state.engine.dispose()


@pytest.fixture
def site(small_app: FastAPI) -> Iterator[tuple[TestClient, Factory, dict[str, str], str]]:
    with TestClient(small_app, raise_server_exceptions=False) as client:
        make = Factory(small_app, client)
        owner = make.organiser()
        slug = make.open_event(owner)
        yield client, make, owner, slug


def snapshot(client: TestClient, owner: dict[str, str], slug: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/events/{slug}/bundle", headers=owner)
    assert answer.status_code == 200, answer.text
    bundle: dict[str, Any] = answer.json()
    return bundle


def refused(response: Any, *statuses: int) -> dict[str, Any]:
    """The answer is one of `statuses` (a 4xx), as a problem document naming what is wrong."""
    assert response.status_code in statuses, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == response.status_code and problem["detail"]
    return problem


def field_names(problem: dict[str, Any]) -> set[str]:
    return {error["field"] for error in problem.get("errors", [])}


# --- size and shape of bodies ----------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413_before_anything_is_read(site: Any) -> None:
    client, make, owner, slug = site
    before = snapshot(client, owner, slug)
    bundle = {"format": "matchmaking-bundle/1", "padding": "x" * (LIMIT_BYTES + 1)}
    problem = refused(client.post("/api/v1/events/import", json=bundle, headers=owner), 413)
    assert str(LIMIT_BYTES) in problem["detail"]
    assert snapshot(client, owner, slug) == before


def test_a_chunked_body_over_the_limit_is_refused_with_413(site: Any) -> None:
    client, make, owner, slug = site

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(LIMIT_BYTES // 1024 + 2):
            yield b"x" * 1024
        yield b'"}'

    answer = client.patch(
        f"/api/v1/events/{slug}",
        content=chunks(),
        headers={**owner, "Content-Type": "application/json"},
    )
    refused(answer, 413)


def test_deeply_nested_json_is_refused_without_a_crash(site: Any) -> None:
    client, make, owner, slug = site
    before = snapshot(client, owner, slug)
    deep = "[" * 20_000 + "]" * 20_000
    for path in ("/api/v1/events/import", f"/api/v1/events/{slug}"):
        method = "POST" if path.endswith("import") else "PATCH"
        answer = client.request(
            method, path, content=deep, headers={**owner, "Content-Type": "application/json"}
        )
        refused(answer, 400, 422)
    assert snapshot(client, owner, slug) == before


def test_huge_lists_within_the_size_limit_are_refused(site: Any) -> None:
    client, make, owner, slug = site
    before = snapshot(client, owner, slug)
    areas = [str(i) for i in range(8_000)]  # about 50 kB: under the body limit
    answer = client.patch(f"/api/v1/events/{slug}", json={"focus_areas": areas}, headers=owner)
    assert "focus_areas" in " ".join(field_names(refused(answer, 422)))
    assert snapshot(client, owner, slug) == before


def test_a_body_that_is_not_utf8_is_refused(site: Any) -> None:
    client, make, owner, slug = site
    before = snapshot(client, owner, slug)
    answer = client.patch(
        f"/api/v1/events/{slug}",
        content=b'{"name": "Caf\xe9 \xff\xfe"}',
        headers={**owner, "Content-Type": "application/json"},
    )
    refused(answer, 400, 422)
    assert snapshot(client, owner, slug) == before


# --- text that could become markup, a formula, a calendar property or SQL --------------------


@pytest.mark.parametrize(
    "name",
    [
        "Eve\r\nATTENDEE:mailto:eve@evil.example",
        "Eve\nDTSTART:20300101T000000Z",
        "Null\x00byte",
        "Bell\x07 and escape\x1b[31m",
    ],
)
def test_control_characters_and_line_breaks_in_names_are_refused(site: Any, name: str) -> None:
    client, make, owner, slug = site
    before = snapshot(client, owner, slug)
    body = {
        "name": name,
        "email": "eve@example.org",
        "organisation": {"name": name, "kind": "company", "country": "FR"},
    }
    problem = refused(client.post(f"/api/v1/events/{slug}/registrations", json=body), 422)
    assert "body.name" in field_names(problem)
    assert snapshot(client, owner, slug) == before


def test_a_newline_in_an_organiser_name_is_refused_and_nothing_is_stored(site: Any) -> None:
    client, make, owner, slug = site
    answer = client.post(
        "/api/v1/organisers",
        json={"email": "nul@example.org", "name": "C\x00\nX"},
        headers=owner,
    )
    refused(answer, 422)
    with make.app.state.sessionmaker() as db:
        assert db.scalar(select(Organiser).where(Organiser.email == "nul@example.org")) is None


def test_names_stored_with_line_breaks_cannot_inject_calendar_properties(site: Any) -> None:
    # Data from before the input checks (or an import): the feed must still be one property
    # per line, the name folded into its own text.
    client, make, owner, slug = site
    person = make.participant(slug)
    with make.app.state.sessionmaker() as db:
        row = db.scalar(select(Participant).where(Participant.key == person["participant"]["key"]))
        assert row is not None
        row.name = "Eve\r\nATTENDEE:mailto:eve@evil.example\r\nDTSTART:20300101T000000Z"
        db.commit()
    feed = client.get(f"/api/v1/events/{slug}/calendar.ics", headers=owner)
    assert feed.status_code == 200
    lines = feed.text.splitlines()
    assert not any(line.startswith(("ATTENDEE:mailto:eve", "DTSTART:20300101")) for line in lines)


def test_html_in_names_is_shown_as_text_on_pages(site: Any) -> None:
    client, make, owner, slug = site
    person = make.participant(slug, organisation={"name": "<b>Bold</b> & Co", "kind": "company"})
    other = make.participant(slug)
    browser = TestClient(make.app)
    browser.cookies.set("mm_participant", other["access_token"])
    page = browser.get(f"/e/{slug}/directory")
    assert page.status_code == 200
    assert "<b>Bold</b>" not in page.text
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; Co" in page.text
    assert person["participant"]["key"]


def test_sql_metacharacters_are_plain_text(site: Any) -> None:
    client, make, owner, slug = site
    name = "Robert'); DROP TABLE participants;--"
    person = make.participant(
        slug, name=name, organisation={"name": 'O\'Brien "Quotes" %_ Ltd', "kind": "company"}
    )
    me = client.get(f"/api/v1/events/{slug}/me", headers=person["headers"])
    assert me.json()["name"] == name
    found = client.get(
        f"/api/v1/events/{slug}/directory",
        params={"q": "' OR '1'='1"},
        headers=person["headers"],
    )
    assert found.status_code == 200 and found.json()["total"] == 0
    wildcard = client.get(
        f"/api/v1/events/{slug}/directory", params={"q": "%_"}, headers=person["headers"]
    )
    assert wildcard.status_code == 200
    assert {p["key"] for p in wildcard.json()["items"]} <= {person["participant"]["key"]}
    listing = client.get(f"/api/v1/events/{slug}/participants", headers=owner)
    assert listing.status_code == 200 and listing.json()["total"] == 1


# --- absurd numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method", "body", "field"),
    [
        (
            "/sessions/am/slots/generate",
            "POST",
            {
                "start": "2030-01-01T00:00",
                "end": "2039-12-31T23:55",
                "meeting_minutes": 5,
            },
            "body",
        ),
        (
            "/rules",
            "PUT",
            {"max_meetings_per_participant": -1},
            "body.max_meetings_per_participant",
        ),
        ("/rules", "PUT", {"max_break_difference": 10**12}, "body.max_break_difference"),
        ("/locations", "POST", {"key": "neg", "name": "Neg", "capacity": -5}, "body.capacity"),
        ("/locations", "POST", {"key": "big", "name": "Big", "capacity": 10**30}, "body.capacity"),
        ("/solves", "POST", {"time_limit_seconds": 1e12}, "body.time_limit_seconds"),
        ("/solves", "POST", {"workers": -3}, "body.workers"),
    ],
)
def test_absurd_numbers_are_refused(
    site: Any, path: str, method: str, body: dict[str, Any], field: str
) -> None:
    client, make, owner, slug = site
    before = snapshot(client, owner, slug)
    answer = client.request(method, f"/api/v1/events/{slug}{path}", json=body, headers=owner)
    problem = refused(answer, 409, 422)
    assert any(name.startswith(field) for name in field_names(problem)) or field == "body"
    assert snapshot(client, owner, slug) == before


def test_negative_participant_cap_is_refused(site: Any) -> None:
    client, make, owner, slug = site
    person = make.participant(slug)
    key = person["participant"]["key"]
    before = snapshot(client, owner, slug)
    answer = client.patch(
        f"/api/v1/events/{slug}/participants/{key}", json={"max_meetings": -1}, headers=owner
    )
    assert "body.max_meetings" in field_names(refused(answer, 422))
    assert snapshot(client, owner, slug) == before


@pytest.mark.parametrize("params", [{"limit": 10**12}, {"offset": -1}, {"offset": 10**40}])
def test_absurd_paging_is_refused(site: Any, params: dict[str, int]) -> None:
    client, make, owner, slug = site
    refused(client.get("/api/v1/events", params=params, headers=owner), 422)


# --- time zones, daylight saving and overlapping slots --------------------------------------------


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "", "UTC+25"])
def test_unknown_time_zones_are_refused(site: Any, zone: str) -> None:
    client, make, owner, slug = site
    before = snapshot(client, owner, slug)
    answer = client.patch(f"/api/v1/events/{slug}", json={"timezone": zone}, headers=owner)
    assert "body.timezone" in field_names(refused(answer, 422))
    answer = client.post(
        "/api/v1/events",
        json={"slug": "new-zone", "name": "Zone", "timezone": zone},
        headers=owner,
    )
    refused(answer, 422)
    assert snapshot(client, owner, slug) == before


@pytest.mark.parametrize(
    ("start", "end", "why"),
    [
        ("2030-03-31T02:10", "2030-03-31T02:30", "falls in the hour skipped"),  # Berlin DST hole
        ("2030-03-31T02:30", "2030-03-31T03:10", "starts in the skipped hour"),
        ("2030-09-10T09:10", "2030-09-10T09:30", "overlaps s1"),
        ("2030-09-10T09:00", "2030-09-10T09:00", "ends when it starts"),
        ("2030-09-10T12:00", "2030-09-10T11:00", "ends before it starts"),
    ],
)
def test_slots_that_overlap_or_fall_in_a_dst_gap_are_refused(
    site: Any, start: str, end: str, why: str
) -> None:
    client, make, owner, slug = site
    before = snapshot(client, owner, slug)
    answer = client.post(
        f"/api/v1/events/{slug}/sessions/am/slots",
        json={"start": start, "end": end},
        headers=owner,
    )
    refused(answer, 409, 422)
    assert snapshot(client, owner, slug) == before, why


def test_slot_times_with_an_offset_are_refused(site: Any) -> None:
    # Slot times are local wall-clock times in the event's zone; an offset would be ambiguous.
    client, make, owner, slug = site
    answer = client.post(
        f"/api/v1/events/{slug}/sessions/am/slots",
        json={"start": "2030-09-11T09:00+02:00", "end": "2030-09-11T09:20+02:00"},
        headers=owner,
    )
    refused(answer, 422)


def test_a_bundle_with_problems_is_refused_whole(site: Any) -> None:
    client, make, owner, slug = site
    bundle = json.loads(EXAMPLE_BUNDLE.read_text())
    bundle["event"]["slug"] = "hostile-import"
    bundle["participants"][0]["name"] = "Eve\r\nATTENDEE:x"
    bundle["locations"][0]["capacity"] = -1
    problem = refused(client.post("/api/v1/events/import", json=bundle, headers=owner), 422)
    assert len(problem["errors"]) >= 2
    assert client.get("/api/v1/events/hostile-import", headers=owner).status_code == 404


# --- spreadsheet formulas in exports ----------------------------------------------------------

FORMULAS = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", '@HYPERLINK("http://evil")']


def test_names_that_look_like_formulas_stay_text_in_csv_and_xlsx_exports(db_url: str) -> None:
    import csv
    import io

    import openpyxl

    from tests.security.world import build_world

    app = create_app(make_settings(db_url, log_requests=False))
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as db:
        world = build_world(db)
    with TestClient(app) as client:
        # Formulas come in through the API like any name: they are legal text.
        for key, formula in zip(("p1", "p2", "p3", "p4"), FORMULAS, strict=True):
            answer = client.patch(
                f"/api/v1/events/{world.slug}/participants/{key}",
                json={"name": formula, "organisation": {"name": formula}},
                headers=world.headers("owner"),
            )
            assert answer.status_code == 200, answer.text
        browser = TestClient(app)
        browser.cookies.set("mm_organiser", world.organiser_tokens["owner"])
        for kind in ("timetable", "agendas"):
            page = browser.get(f"/organiser/e/{world.slug}/versions/1/{kind}.csv")
            assert page.status_code == 200
            cells = [cell for row in csv.reader(io.StringIO(page.text)) for cell in row]
            assert any("calc" in cell for cell in cells)
            assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")], kind
            book = openpyxl.load_workbook(
                io.BytesIO(browser.get(f"/organiser/e/{world.slug}/versions/1/{kind}.xlsx").content)
            )
            for sheet in book.worksheets:
                for row in sheet.iter_rows():
                    for cell in row:
                        assert cell.data_type != "f", (kind, cell.value)
    app.state.engine.dispose()
