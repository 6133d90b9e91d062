"""The demo event is realistic, the same for the same seed, and builds, solves and publishes."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from matchmaking.bundle.validate import parse_bundle
from matchmaking.commands.demo import DemoResult, demo_bundle, demo_links, event_day, run_demo
from matchmaking.platform.models import Event, EventStatus, Organiser, Participant, ScheduleVersion
from matchmaking.platform.security import hash_token

TODAY = date(2026, 11, 21)


def test_same_seed_gives_the_same_event_and_another_seed_another() -> None:
    assert demo_bundle(7, today=TODAY) == demo_bundle(7, today=TODAY)
    assert demo_bundle(7, today=TODAY)["wishes"] != demo_bundle(8, today=TODAY)["wishes"]


def test_demo_event_looks_like_an_eu_canada_cluster_matchmaking() -> None:
    document = demo_bundle(7, today=TODAY)
    bundle = parse_bundle(document)  # valid by the bundle's own rules
    assert bundle.event.timezone == "America/Toronto"
    assert len(bundle.participants) == 120
    assert len(bundle.organisations) == 80
    countries = Counter(o.country for o in bundle.organisations)
    assert countries["CA"] >= 20
    assert len(countries) >= 16  # ~15 EU countries and Canada
    kinds = Counter(o.kind for o in bundle.organisations)
    assert set(kinds) == {"cluster", "company", "research", "public"}
    # Two half-day sessions of 20-minute meetings with 5-minute pauses.
    assert [(s.id, len(s.slots)) for s in bundle.sessions] == [("am", 8), ("pm", 8)]
    first, second = bundle.sessions[0].slots[:2]
    assert (first.end - first.start).seconds == 20 * 60
    assert (second.start - first.end).seconds == 5 * 60
    assert sum(loc.kind == "table" for loc in bundle.locations) == 25
    assert [loc.kind for loc in bundle.locations if loc.kind != "table"] == ["online"]
    assert any(p.attendance == "online" for p in bundle.participants)
    assert sum(p.host_location is not None for p in bundle.participants) >= 3
    statuses = Counter(w.status for w in bundle.wishes)
    assert statuses["accepted"] >= 300
    assert statuses["declined"] > 0
    assert statuses["requested"] > 0
    assert set(Counter(w.priority for w in bundle.wishes)) == {1, 2, 3}
    pairs = {(w.from_, w.to) for w in bundle.wishes if w.to}
    assert sum((b, a) in pairs for a, b in pairs) >= 40  # mutual wishes
    assert any(w.to_organisation for w in bundle.wishes)


def test_the_event_is_upcoming_on_a_tuesday_in_conference_season() -> None:
    for today in (date(2026, 1, 5), TODAY, date(2027, 9, 30)):
        day = event_day(today)
        assert day.weekday() == 1
        assert day.month in (5, 6, 9, 10)
        assert 30 <= (day - today).days <= 240


@pytest.mark.slow
def test_demo_builds_solves_and_publishes_into_a_fresh_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matchmaking.platform.db import get_engine, get_sessionmaker
    from matchmaking.platform.settings import get_settings

    monkeypatch.setenv("MATCHMAKING_DATABASE_URL", "sqlite:///unused.db")  # restored afterwards
    database = tmp_path / "demo.db"
    database.write_text("an old demo database that must be replaced")
    lines: list[str] = []
    try:
        result = run_demo(seed=7, database=database, time_limit=10, say=lines.append)
        _every_printed_link_works(result)
    finally:
        get_engine().dispose()
        get_settings.cache_clear()
        get_engine.cache_clear()
        get_sessionmaker.cache_clear()
    assert result.status in ("optimal", "feasible")
    assert result.meetings > 0
    engine = create_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        event = session.scalars(select(Event)).one()
        assert event.status == EventStatus.published
        published = session.scalars(
            select(ScheduleVersion).where(ScheduleVersion.published_at.is_not(None))
        ).one()
        assert published.number == result.version_number
        organiser = session.scalars(select(Organiser)).one()
        assert [t.token_hash for t in organiser.tokens] == [hash_token(result.organiser_token)]
        featured = session.scalars(
            select(Participant).where(Participant.key == result.participant_key)
        ).one()
        assert featured.access_token_hash == hash_token(result.participant_token)
        assert [link.token_hash for link in featured.calendar_links] == [
            hash_token(result.calendar_token)
        ]
    engine.dispose()
    printed = "\n".join(lines)
    assert "4/4  version " in printed
    assert f"/calendars/participants/{result.calendar_token}.ics" in printed
    assert result.organiser_token in printed


def _every_printed_link_works(result: DemoResult) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    base = "http://testserver"
    urls = re.findall(rf"{base}/[^\s)']+", "\n".join(demo_links(result, base)))
    assert len(urls) >= 6
    with TestClient(create_app(), base_url=base) as client:
        agenda = client.get(f"{base}/e/{result.slug}/login?token={result.participant_token}")
        assert agenda.status_code == 200
        assert result.participant_name in agenda.text
        for url in urls:
            if "/login?token=" not in url and "/organiser" not in url and "/events/" not in url:
                assert client.get(url).status_code == 200, url
        ics = client.get(f"{base}/calendars/participants/{result.calendar_token}.ics")
        assert ics.text.count("BEGIN:VEVENT") >= 1
        api = client.get(
            f"{base}/api/v1/events/{result.slug}",
            headers={"Authorization": f"Bearer {result.organiser_token}"},
        )
        assert api.status_code == 200


def test_links_point_at_the_pages_of_the_event() -> None:
    result = DemoResult(
        slug="eu-canada-montreal", database_url="sqlite://", version_number=1, status="optimal",
        meetings=3, unscheduled=0, organiser_email="o@x.example", organiser_token="mmo_t",
        participant_key="p001", participant_name="Ann", participant_token="mmp_t",
        calendar_token="mmc_t",
    )  # fmt: skip
    text = "\n".join(demo_links(result, "http://127.0.0.1:8000"))
    assert "http://127.0.0.1:8000/e/eu-canada-montreal\n" in text
    assert "http://127.0.0.1:8000/e/eu-canada-montreal/login?token=mmp_t" in text
    assert "http://127.0.0.1:8000/calendars/participants/mmc_t.ics" in text
    assert "http://127.0.0.1:8000/organiser/e/eu-canada-montreal\n" in text
    assert "http://127.0.0.1:8000/organiser/login" in text
    assert "http://127.0.0.1:8000/api/v1/docs" in text
