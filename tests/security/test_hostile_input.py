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
from matchmaking.platform.models import Organiser, Participant
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
    assert problem["status"] == response.status_code
    assert problem["detail"]
    return problem


def field_names(problem: dict[str, Any]) -> set[str]:
    return {error["field"] for error in problem.get("errors", [])}


# --- size and shape of bodies ----------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_with_413_before_anything_is_read(site: Any) -> None:
    client, _make, owner, slug = site
    before = snapshot(client, owner, slug)
    bundle = {"format": "matchmaking-bundle/1", "padding": "x" * (LIMIT_BYTES + 1)}
    problem = refused(client.post("/api/v1/events/import", json=bundle, headers=owner), 413)
    assert str(LIMIT_BYTES) in problem["detail"]
    assert snapshot(client, owner, slug) == before


def test_a_chunked_body_over_the_limit_is_refused_with_413(site: Any) -> None:
    client, _make, owner, slug = site

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
    client, _make, owner, slug = site
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
    client, _make, owner, slug = site
    before = snapshot(client, owner, slug)
    areas = [str(i) for i in range(8_000)]  # about 50 kB: under the body limit
    answer = client.patch(f"/api/v1/events/{slug}", json={"focus_areas": areas}, headers=owner)
    assert "focus_areas" in " ".join(field_names(refused(answer, 422)))
    assert snapshot(client, owner, slug) == before


def test_a_body_that_is_not_utf8_is_refused(site: Any) -> None:
    client, _make, owner, slug = site
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
    client, _make, owner, slug = site
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
    client, make, owner, _slug = site
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
    _client, make, _owner, slug = site
    person = make.participant(slug, organisation={"name": "<b>Bold</b> & Co", "kind": "company"})
    other = make.participant(slug)
    browser = TestClient(make.app)
    browser.get(f"/e/{slug}/login", params={"token": other["access_token"]})
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
    assert found.status_code == 200
    assert found.json()["total"] == 0
    wildcard = client.get(
        f"/api/v1/events/{slug}/directory", params={"q": "%_"}, headers=person["headers"]
    )
    assert wildcard.status_code == 200
    assert {p["key"] for p in wildcard.json()["items"]} <= {person["participant"]["key"]}
    listing = client.get(f"/api/v1/events/{slug}/participants", headers=owner)
    assert listing.status_code == 200
    assert listing.json()["total"] == 1


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
    client, _make, owner, slug = site
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
    client, _make, owner, _slug = site
    refused(client.get("/api/v1/events", params=params, headers=owner), 422)


# --- time zones, daylight saving and overlapping slots --------------------------------------------


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "../../etc/passwd", "", "UTC+25"])
def test_unknown_time_zones_are_refused(site: Any, zone: str) -> None:
    client, _make, owner, slug = site
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
    client, _make, owner, slug = site
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
    client, _make, owner, slug = site
    answer = client.post(
        f"/api/v1/events/{slug}/sessions/am/slots",
        json={"start": "2030-09-11T09:00+02:00", "end": "2030-09-11T09:20+02:00"},
        headers=owner,
    )
    refused(answer, 422)


def test_a_bundle_with_problems_is_refused_whole(site: Any) -> None:
    client, _make, owner, _slug = site
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

    from tests.security.test_pages import sign_in_organiser
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
        browser = TestClient(app, follow_redirects=False)
        sign_in_organiser(browser, world.organiser_tokens["owner"])
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


# --- probe 2026-12: odd input that used to answer 500 or be stored --------------------------

BLANK_NAMES = ["   ", "\u202e\u202c", "\u200b\u2066\u2069", "\u00a0\u3000"]


@pytest.mark.parametrize("blank", BLANK_NAMES, ids=["spaces", "bidi", "zero-width", "nbsp"])
def test_names_without_a_visible_character_are_refused_naming_the_field(
    site: Any, blank: str
) -> None:
    client, _make, owner, slug = site
    before = snapshot(client, owner, slug)
    person = {
        "name": blank,
        "email": "blank@example.org",
        "organisation": {"name": "Real Org", "kind": "company", "country": "FR"},
    }
    cases = [
        ("POST", f"/api/v1/events/{slug}/registrations", person, "body.name"),
        (
            "POST",
            f"/api/v1/events/{slug}/registrations",
            {**person, "name": "Real Name", "organisation": {"name": blank, "kind": "company"}},
            "body.organisation.name",
        ),
        ("PATCH", f"/api/v1/events/{slug}", {"name": blank}, "body.name"),
        (
            "POST",
            "/api/v1/events",
            {"slug": "blank-x", "name": blank, "timezone": "UTC"},
            "body.name",
        ),
        ("POST", f"/api/v1/events/{slug}/sessions", {"key": "pm", "name": blank}, "body.name"),
        ("PATCH", f"/api/v1/events/{slug}/sessions/am", {"name": blank}, "body.name"),
        ("POST", f"/api/v1/events/{slug}/locations", {"key": "t9", "name": blank}, "body.name"),
        ("PATCH", f"/api/v1/events/{slug}/locations/t1", {"name": blank}, "body.name"),
        ("POST", "/api/v1/organisers", {"email": "b@example.org", "name": blank}, "body.name"),
    ]
    for method, path, body, field in cases:
        problem = refused(client.request(method, path, json=body, headers=owner), 422)
        assert field in field_names(problem), (path, problem)
    assert snapshot(client, owner, slug) == before


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x0b"])
def test_line_and_paragraph_separators_are_refused_in_one_line_fields(
    site: Any, separator: str
) -> None:
    client, _make, owner, slug = site
    before = snapshot(client, owner, slug)
    body = {
        "name": f"Eve{separator}Mallory",
        "email": "sep@example.org",
        "job_title": f"Boss{separator}",
        "organisation": {"name": f"Org{separator}X", "kind": "company"},
    }
    problem = refused(client.post(f"/api/v1/events/{slug}/registrations", json=body), 422)
    assert {"body.name", "body.job_title", "body.organisation.name"} <= field_names(problem)
    answer = client.patch(
        f"/api/v1/events/{slug}", json={"venue": f"Hall{separator}A"}, headers=owner
    )
    assert "body.venue" in field_names(refused(answer, 422))
    assert snapshot(client, owner, slug) == before


def test_registration_form_refuses_invisible_names_and_separators(site: Any) -> None:
    client, make, _owner, slug = site
    form = client.get(f"/e/{slug}/register")
    token = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    fields = {
        "csrf_token": token,
        "organisation_name": "\u202e\u202c",
        "organisation_kind": "company",
        "country": "FR",
        "name": "Eve\u2028Mallory",
        "email": "form@example.org",
        "attendance": "onsite",
        "sessions": "am",
        "consent": "yes",
    }
    answer = client.post(f"/e/{slug}/register", data=fields)
    assert answer.status_code == 422
    with make.app.state.sessionmaker() as db:
        assert db.scalar(select(Participant).where(Participant.email == "form@example.org")) is None


@pytest.mark.parametrize("value", [1900000000, 1.9e9, True])
def test_instants_sent_as_json_numbers_are_refused(site: Any, value: Any) -> None:
    client, _make, owner, slug = site
    for field in ("registration_closes", "wish_cutoff"):
        answer = client.patch(f"/api/v1/events/{slug}", json={field: value}, headers=owner)
        assert f"body.{field}" in field_names(refused(answer, 422))
    answer = client.patch(
        f"/api/v1/events/{slug}",
        json={"registration_closes": "2030-09-01T23:59:00+02:00"},
        headers=owner,
    )
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:10", "0001-01-01T00:30"),  # before year 1 in UTC from Berlin
        ("9999-12-31T23:00", "9999-12-31T23:40"),
        ("1999-12-31T09:00", "1999-12-31T09:20"),
        ("2101-01-01T09:00", "2101-01-01T09:20"),
    ],
)
def test_slots_outside_the_years_2000_to_2100_are_refused(site: Any, start: str, end: str) -> None:
    client, _make, owner, slug = site
    before = snapshot(client, owner, slug)
    slots = f"/api/v1/events/{slug}/sessions/am/slots"
    problem = refused(client.post(slots, json={"start": start, "end": end}, headers=owner), 422)
    assert field_names(problem) & {"body.start", "body.end"}
    answer = client.patch(f"/api/v1/events/{slug}/slots/s1", json={"end": end}, headers=owner)
    assert "body.end" in field_names(refused(answer, 422))
    generate = {"start": start, "end": end, "meeting_minutes": 10}
    refused(client.post(f"{slots}/generate", json=generate, headers=owner), 422)
    assert snapshot(client, owner, slug) == before


@pytest.mark.parametrize(
    ("start", "end"),
    [("2030-09-11T09:00", "2030-09-11T09:00"), ("2030-09-11T12:00", "2030-09-11T11:00")],
    ids=["zero-length", "end-before-start"],
)
def test_a_slot_ending_before_or_when_it_starts_is_422_naming_end(
    site: Any, start: str, end: str
) -> None:
    client, _make, owner, slug = site
    before = snapshot(client, owner, slug)
    answer = client.post(
        f"/api/v1/events/{slug}/sessions/am/slots", json={"start": start, "end": end}, headers=owner
    )
    assert "body.end" in field_names(refused(answer, 422))
    # Moving one end of an existing slot (s1: 09:00-09:20 on 2030-09-10) before its start.
    answer = client.patch(
        f"/api/v1/events/{slug}/slots/s1", json={"end": "2030-09-10T08:00"}, headers=owner
    )
    assert "body.end" in field_names(refused(answer, 422))
    assert snapshot(client, owner, slug) == before


def _store_directly(app: FastAPI, statement: str, **values: Any) -> None:
    from sqlalchemy import text

    with app.state.engine.begin() as connection:
        connection.execute(text(statement), values)


def test_bundle_export_never_fails_on_names_stored_empty_or_odd(
    site: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from matchmaking.commands.cli import app as cli
    from matchmaking.platform.settings import get_settings

    client, make, owner, slug = site
    person = make.participant(slug)
    key = person["participant"]["key"]
    # Rows as the probe left them (stored before the checks): empty, blank and odd names.
    _store_directly(make.app, "UPDATE participants SET name = '' WHERE key = :key", key=key)
    _store_directly(make.app, "UPDATE organisations SET name = '   '")
    _store_directly(
        make.app, "UPDATE events SET name = :name WHERE slug = :slug", name="\u202e", slug=slug
    )
    _store_directly(make.app, "UPDATE sessions SET name = :name", name="Morning\u2028\r\nsession")
    _store_directly(make.app, "UPDATE locations SET name = '' WHERE key = 't1'")
    answer = client.get(f"/api/v1/events/{slug}/bundle", headers=owner)
    assert answer.status_code == 200, answer.text
    bundle = answer.json()
    assert bundle["event"]["name"] == slug
    assert bundle["participants"][0]["name"] == key
    assert bundle["sessions"][0]["name"] == "Morning   session"
    assert bundle["locations"][0]["name"] == "t1"
    # The exported bundle is one the service imports again.
    bundle["event"]["slug"] = "re-imported"
    imported = client.post("/api/v1/events/import", json=bundle, headers=owner)
    assert imported.status_code == 201, imported.text
    # The CLI exports the event too (exit code 0, a valid file), and CSV on one line a row.
    monkeypatch.setenv("MATCHMAKING_DATABASE_URL", make.app.state.settings.database_url)
    get_settings.cache_clear()
    try:
        out = tmp_path / "bundle.json"
        result = CliRunner().invoke(cli, ["export", slug, "-o", str(out)])
        assert result.exit_code == 0, result.output
        assert json.loads(out.read_text())["event"]["name"] == slug
        _store_directly(
            make.app,
            "UPDATE participants SET name = :name WHERE key = :key",
            name="Eve\u2028Mallory\u2029\u0085Jr\r\nX",
            key=key,
        )
        table = CliRunner().invoke(
            cli, ["export", slug, "--format", "csv", "--content", "participants"]
        )
        assert table.exit_code == 0, table.output
    finally:
        get_settings.cache_clear()
    for raw in ("\u2028", "\u2029", "\u0085"):
        assert raw not in table.output
    assert len(table.output.strip().splitlines()) == 2  # header + one participant, one line


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01 00:10:00", "0001-01-01 00:30:00"),
        ("9999-12-31 23:00:00", "9999-12-31 23:40:00"),
    ],
)
def test_feeds_answer_on_slots_stored_at_the_ends_of_the_calendar(
    site: Any, start: str, end: str
) -> None:
    client, make, owner, slug = site
    _store_directly(
        make.app,
        "INSERT INTO slots (event_id, session_id, key, start_time, end_time) "
        "SELECT e.id, s.id, 'odd', :start, :end FROM events e JOIN sessions s ON s.event_id = e.id "
        "WHERE e.slug = :slug",
        start=start,
        end=end,
        slug=slug,
    )
    for path in (
        f"/api/v1/events/{slug}/calendar.ics",
        f"/api/v1/events/{slug}/locations/t1/calendar.ics",
        f"/api/v1/events/{slug}/slots",
        f"/api/v1/events/{slug}/bundle",
    ):
        answer = client.get(path, headers=owner)
        assert answer.status_code < 500, (path, answer.text[:300])
    # The connection still serves the next request.
    assert client.get(f"/api/v1/events/{slug}", headers=owner).status_code == 200


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01 00:10:00", "0001-01-01 00:30:00"),
        ("9999-12-31 23:00:00", "9999-12-31 23:40:00"),
    ],
)
def test_published_meetings_in_slots_at_the_ends_of_the_calendar_never_answer_500(
    db_url: str, start: str, end: str
) -> None:
    from tests.security.test_pages import sign_in_organiser
    from tests.security.world import build_world

    app = create_app(make_settings(db_url, log_requests=False))
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as db:
        world = build_world(db)
    # Every slot of the event that holds a meeting moved to the edge, behind the API's back.
    _store_directly(
        app,
        "UPDATE slots SET start_time = :start, end_time = :end WHERE id IN "
        "(SELECT slot_id FROM meetings)",
        start=start,
        end=end,
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        person = world.headers("participant")
        owner = world.headers("owner")
        answers = {
            "agenda": client.get(f"/api/v1/events/{world.slug}/me/agenda", headers=person),
            "own feed": client.get(f"/api/v1/events/{world.slug}/me/calendar.ics", headers=person),
            "event feed": client.get(f"/api/v1/events/{world.slug}/calendar.ics", headers=owner),
            "location feed": client.get(
                f"/api/v1/events/{world.slug}/locations/t1/calendar.ics", headers=owner
            ),
            "version": client.get(f"/api/v1/events/{world.slug}/versions/1", headers=owner),
            "bundle": client.get(f"/api/v1/events/{world.slug}/bundle", headers=owner),
        }
        browser = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
        sign_in_organiser(browser, world.organiser_tokens["owner"])
        for kind in ("timetable.csv", "agendas.xlsx"):
            answers[kind] = browser.get(f"/organiser/e/{world.slug}/versions/1/{kind}")
        answers["version page"] = browser.get(f"/organiser/e/{world.slug}/versions/1")
        participant = TestClient(app, raise_server_exceptions=False)
        participant.get(f"/e/{world.slug}/login", params={"token": world.participant_tokens["p1"]})
        answers["agenda page"] = participant.get(f"/e/{world.slug}/me")
        failed = {name: a.status_code for name, a in answers.items() if a.status_code >= 500}
        assert failed == {}
    app.state.engine.dispose()
