"""Bundles go into the database whole or not at all, and come out byte for byte the same."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from matchmaking.bundle.dump import dump_bundle
from matchmaking.bundle.schemas import Bundle
from matchmaking.bundle.store import (
    export_bundle,
    import_bundle,
    participants_csv,
    safe_cell,
)
from matchmaking.bundle.validate import BundleError, parse_bundle
from matchmaking.delivery.exports import timetable_csv
from matchmaking.organising.events import get_event
from matchmaking.platform.errors import NotFound
from matchmaking.platform.models import Base, Event, Meeting, ScheduleVersion, Wish

UDG = Path("/work/shared/data/b2b-udg")


def every_field_bundle() -> dict[str, Any]:
    """The format document's example, completed so every field of the format is used."""
    return {
        "format": "matchmaking-bundle/1",
        "event": {
            "slug": "eu-canada-2024",
            "name": "EU–Canada Cluster Matchmaking",
            "timezone": "America/Toronto",
            "venue": "Palais des congrès, Montréal",
            "mode": "hybrid",
            "registration_closes": "2024-05-28T23:59:00-04:00",
            "focus_areas": ["Artificial Intelligence", "Quantum Technology"],
            "rules": {
                "max_meetings_per_participant": 12,
                "max_break_difference": 2,
                "objective": ["required", "scheduled", "fairness", "breaks", "stability"],
                "max_meetings_total": 300,
                "cross_delegation_only": True,
            },
            "description": "Two days of pre-arranged meetings.",
            "video_base_url": "https://video.example.org/eu-canada",
        },
        "sessions": [
            {"id": "d1-am", "name": "Day 1 morning", "slots": [
                {"id": "s1", "start": "2024-09-10T09:00", "end": "2024-09-10T09:20"},
                {"id": "s2", "start": "2024-09-10T09:25", "end": "2024-09-10T09:45"},
            ]},
            {"id": "d1-pm", "name": "Day 1 afternoon", "slots": [
                {"id": "s3", "start": "2024-09-10T14:00", "end": "2024-09-10T14:20"},
            ]},
        ],
        "locations": [
            {"id": "t1", "name": "Table 1", "kind": "table"},
            {"id": "r1", "name": "Salon Montréal", "kind": "room", "capacity": 3},
            {"id": "video", "name": "Video room", "kind": "online", "capacity": 500,
             "url": "https://video.example.org/room"},
        ],
        "organisations": [
            {"id": "o1", "name": "Energy Cluster Denmark", "kind": "cluster", "country": "DK",
             "sectors": ["Energy"], "description": "Danish energy cluster.",
             "website": "https://energycluster.example.dk",
             "offers": ["battery recycling services", "grid storage pilots"],
             "seeks": ["partners for green hydrogen"], "delegation": "EU"},
            {"id": "o2", "name": "Québec Quantique", "kind": "research", "country": "CA",
             "sectors": ["Quantum Technology", "Photonics"], "delegation": "Canada",
             "seeks": ["=SUM(A1) investors"]},
            {"id": "o3", "name": "=HYPERLINK(\"x\") Robotics", "kind": "company", "country": "FR"},
        ],
        "participants": [
            {"id": "p1", "name": "Kristina Šermukšnytė-Alešiūnienė", "organisation": "o1",
             "email": "k@example.org", "attendance": "onsite", "unavailable": ["s2"],
             "max_meetings": 8, "host_location": "t1", "job_title": "Director",
             "timezone": "Europe/Copenhagen", "listed": True},
            {"id": "p2", "name": "Jean Tremblay", "organisation": "o2", "attendance": "online"},
            {"id": "p3", "name": "Amélie Roux", "organisation": "o3"},
        ],
        "wishes": [
            {"id": "w1", "from": "p1", "to": "p2", "priority": 1, "status": "accepted"},
            {"id": "w2", "from": "p3", "to_organisation": "o1", "priority": 2,
             "status": "accepted", "required": True, "session": "d1-am", "fixed_slot": "s1",
             "after": ["w1"], "message": "Let us talk about batteries."},
            {"id": "w3", "from": "p2", "to": "p1", "priority": 3, "status": "requested",
             "separate": True},
            {"id": "w4", "from": "p2", "to": "p3", "status": "declined"},
        ],
    }  # fmt: skip


def parse(data: dict[str, Any]) -> Bundle:
    return parse_bundle(data)


def dump(bundle: Bundle) -> bytes:
    return dump_bundle(bundle)


def unchecked(data: dict[str, Any]) -> Bundle:
    """A bundle that skipped the document checks, to test what the store refuses itself."""
    bundle = Bundle.model_validate(data)
    for person in bundle.participants:
        person.attendance = person.attendance or "onsite"
    return bundle


def problems_of(error: BundleError) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in error.problems]


def _count_rows(session: Session) -> int:
    return sum(
        session.scalar(select(func.count()).select_from(table)) or 0
        for table in Base.metadata.sorted_tables
    )


def _export_import_export(engine: Engine, db_url: str, data: dict[str, Any]) -> tuple[bytes, bytes]:
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    with sessions() as session, session.begin():
        event = import_bundle(session, parse(data))
        first = dump(export_bundle(session, event))
    # Into a fresh database: the same backend, emptied.
    with sessions() as session, session.begin():
        session.delete(get_event(session, data["event"]["slug"]))
    with sessions() as session, session.begin():
        assert _count_rows(session) == 0
        event = import_bundle(session, parse(json.loads(first)))
        second = dump(export_bundle(session, event))
    return first, second


def test_bundle_with_every_field_round_trips_byte_identically(engine: Engine, db_url: str) -> None:
    first, second = _export_import_export(engine, db_url, every_field_bundle())
    assert first == second
    exported = json.loads(first)
    assert exported["participants"][0]["unavailable"] == ["s2"]
    assert exported["wishes"][1]["after"] == ["w1"]
    assert exported["wishes"][1]["to_organisation"] == "o1"
    assert exported["event"]["registration_closes"] == "2024-05-28T23:59:00-04:00"
    assert [w["status"] for w in exported["wishes"]] == [
        "accepted",
        "accepted",
        "requested",
        "declined",
    ]


def test_export_keeps_the_order_of_the_imported_bundle(session: Session) -> None:
    data = every_field_bundle()
    data["organisations"].reverse()
    data["participants"].reverse()
    data["wishes"] = [data["wishes"][i] for i in (3, 0, 2, 1)]
    event = import_bundle(session, parse(data))
    exported = export_bundle(session, event)
    assert [o.id for o in exported.organisations] == ["o3", "o2", "o1"]
    assert [p.id for p in exported.participants] == ["p3", "p2", "p1"]
    assert [w.id for w in exported.wishes] == ["w4", "w1", "w3", "w2"]
    assert [loc.id for loc in exported.locations] == ["t1", "r1", "video"]


@pytest.mark.parametrize("instance", ["forum-14.original.dzn", "forum-13crafb.original.dzn"])
def test_converted_benchmark_instance_imports_and_round_trips(
    engine: Engine, db_url: str, instance: str
) -> None:
    from matchmaking.bundle.dzn import convert_dzn

    first, second = _export_import_export(engine, db_url, convert_dzn(UDG / instance))
    assert first == second
    assert json.loads(first)["wishes"][0]["required"] is True


def test_taken_slug_is_refused_naming_the_field(session: Session) -> None:
    import_bundle(session, parse(every_field_bundle()))
    session.commit()
    before = _count_rows(session)
    with pytest.raises(BundleError) as refused:
        import_bundle(session, parse(every_field_bundle()))
    assert problems_of(refused.value) == [
        ("/event/slug", 'an event "eu-canada-2024" already exists')
    ]
    session.commit()
    assert _count_rows(session) == before


def test_failing_import_leaves_no_rows_behind(session: Session) -> None:
    data = every_field_bundle()
    # Valid for the model, but two wishes share an id: the database refuses the second one.
    data["wishes"].append(copy.deepcopy(data["wishes"][0]))
    with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal; what matters is what is left
        import_bundle(session, unchecked(data))
    session.commit()
    assert _count_rows(session) == 0


def test_overlapping_slots_are_refused_with_their_path_and_nothing_is_stored(
    session: Session,
) -> None:
    data = every_field_bundle()
    data["sessions"][1]["slots"][0]["start"] = "2024-09-10T09:30"
    data["sessions"][1]["slots"][0]["end"] = "2024-09-10T09:50"
    with pytest.raises(BundleError) as refused:
        import_bundle(session, unchecked(data))
    assert problems_of(refused.value) == [
        ("/sessions/1/slots/0/start",
         'slot "s3" overlaps slot "s2" (2024-09-10T09:25–2024-09-10T09:45)')
    ]  # fmt: skip
    session.commit()
    assert _count_rows(session) == 0


def test_slot_in_a_daylight_saving_gap_is_refused(session: Session) -> None:
    data = every_field_bundle()
    data["sessions"][1]["slots"][0].update(start="2024-03-10T02:15", end="2024-03-10T02:35")
    with pytest.raises(BundleError) as refused:
        import_bundle(session, unchecked(data))
    paths = [path for path, _ in problems_of(refused.value)]
    assert paths == ["/sessions/1/slots/0/end", "/sessions/1/slots/0/start"]
    assert "does not exist in America/Toronto" in problems_of(refused.value)[0][1]


def test_timetable_csv_has_a_row_per_meeting_and_defuses_formulas(session: Session) -> None:
    event = import_bundle(session, parse(every_field_bundle()))
    with pytest.raises(NotFound, match="no schedule yet"):
        timetable_csv(session, event)
    wishes = {w.key: w for w in session.scalars(select(Wish)).all()}
    version = ScheduleVersion(event_id=event.id, number=1, status="feasible")
    session.add(version)
    session.flush()
    w2 = wishes["w2"]
    meeting = Meeting(
        version_id=version.id, slot=w2.fixed_slot, location=event.locations[0],
        participant_a=w2.sender, participant_b=event.participants[0], kind="C2B",
        uid="eu-canada-2024-w2",
    )  # fmt: skip
    meeting.wishes = [w2]
    session.add(meeting)
    session.flush()
    lines = timetable_csv(session, event).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Date,Start,End,Session,Location,Location kind,Meeting kind")
    assert lines[1] == (
        "2024-09-10,09:00,09:20,Day 1 morning,Table 1,table,C2B,Amélie Roux,"
        '"\'=HYPERLINK(""x"") Robotics",FR,Kristina Šermukšnytė-Alešiūnienė,'
        "Energy Cluster Denmark,DK,,eu-canada-2024-w2"
    )
    people = participants_csv(session, event).splitlines()
    assert len(people) == 4
    assert people[1].startswith("p1,Kristina")
    assert people[1].endswith(",1,0,1")  # sent 1, received none accepted, 1 meeting


@pytest.mark.parametrize("text", ["=1+1", "+33 1 23", "-2", "@SUM(A1)", "  =1+1"])
def test_cells_a_spreadsheet_would_run_as_formulas_are_quoted(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize(
    ("text", "cell"), [("\tx", " x"), ("\rx", " x"), ("\t=1+1", "' =1+1"), ("\r\n@A1", "'  @A1")]
)
def test_tabs_and_line_breaks_become_spaces_and_what_follows_is_still_checked(
    text: str, cell: str
) -> None:
    assert safe_cell(text) == cell


def test_demo_event_round_trips_byte_identically(engine: Engine, db_url: str) -> None:
    from datetime import date

    from matchmaking.commands.demo import demo_bundle

    first, second = _export_import_export(engine, db_url, demo_bundle(7, today=date(2026, 11, 21)))
    assert first == second


@pytest.mark.slow
def test_every_converted_benchmark_instance_imports(sqlite_template: Path, tmp_path: Path) -> None:
    # One backend is enough here: the round trips above cover both with two instances.
    from matchmaking.bundle.dzn import convert_dzn
    from matchmaking.platform.db import make_engine

    database = tmp_path / "udg.db"
    database.write_bytes(sqlite_template.read_bytes())
    engine = make_engine(f"sqlite:///{database}")
    files = sorted(UDG.glob("*.dzn"))
    assert len(files) == 20
    with Session(engine) as session:
        for path in files:
            event = import_bundle(session, parse(convert_dzn(path)))
            assert len(event.wishes) > 0, path.name
        session.commit()
        assert session.scalar(select(func.count()).select_from(Event)) == 20
    engine.dispose()


def test_the_round_trip_bundle_uses_every_field_of_the_format() -> None:
    """A field added to the bundle models must be added above, so the round trip covers it."""
    from matchmaking.bundle import schemas

    document = every_field_bundle()

    def used(items: list[dict[str, Any]]) -> set[str]:
        return {name for item in items for name in item}

    def fields(model: type) -> set[str]:
        return {f.alias or name for name, f in model.model_fields.items()}  # type: ignore[attr-defined]

    slots = [slot for block in document["sessions"] for slot in block["slots"]]
    assert used([document["event"]]) == fields(schemas.EventIn)
    assert used([document["event"]["rules"]]) == fields(schemas.Rules)
    assert used(document["sessions"]) == fields(schemas.SessionIn)
    assert used(slots) == fields(schemas.SlotIn)
    assert used(document["locations"]) == fields(schemas.LocationIn)
    assert used(document["organisations"]) == fields(schemas.OrganisationIn)
    assert used(document["participants"]) == fields(schemas.ParticipantIn)
    assert used(document["wishes"]) == fields(schemas.WishIn)
