"""Data safety: a whole event survives export and import; erasing a participant removes
their personal data everywhere while the event's figures stay the same."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import JSON, String, Text, select
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from matchmaking.participants.privacy import ERASED_NAME
from matchmaking.platform.models import Base, Participant
from tests.api.conftest import make_settings
from tests.conftest import upgrade_to_head
from tests.security.world import World, build_world


@pytest.fixture
def world_app(db_url: str) -> Iterator[tuple[TestClient, FastAPI, World]]:
    app = create_app(make_settings(db_url, log_requests=False))
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as session:
        world = build_world(session)
    with TestClient(app) as client:
        yield client, app, world
    app.state.engine.dispose()


def _fresh_app(tmp_path: Path) -> FastAPI:
    path = tmp_path / "restored.db"
    upgrade_to_head(f"sqlite:///{path}")
    return create_app(make_settings(f"sqlite:///{path}", log_requests=False))


def test_export_then_import_into_a_fresh_database_gives_the_same_event(
    world_app: tuple[TestClient, FastAPI, World], tmp_path: Path
) -> None:
    client, _, world = world_app
    owner = world.headers("owner")
    exported = client.get(f"/api/v1/events/{world.slug}/bundle", headers=owner)
    assert exported.status_code == 200
    bundle = exported.json()
    assert len(bundle["participants"]) == 4
    assert len(bundle["wishes"]) == 3

    restored_app = _fresh_app(tmp_path)
    with TestClient(restored_app) as restored:
        # A new installation: its first organiser is made by the CLI's service.
        from matchmaking.organising import organisers

        with restored_app.state.sessionmaker() as db:
            _, _, token = organisers.create_organiser(db, "restorer@example.org", "Restorer")
            db.commit()
        auth = {"Authorization": f"Bearer {token}"}
        imported = restored.post("/api/v1/events/import", json=bundle, headers=auth)
        assert imported.status_code == 201, imported.text
        again = restored.get(f"/api/v1/events/{world.slug}/bundle", headers=auth)
        assert again.status_code == 200
        assert json.dumps(again.json(), sort_keys=True) == json.dumps(bundle, sort_keys=True)
    restored_app.state.engine.dispose()


def _all_stored_text(app: FastAPI) -> str:
    """Every text and JSON value of every table, as one string."""
    parts: list[str] = []
    with sessionmaker(bind=app.state.engine)() as db:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if not columns:
                continue
            for row in db.execute(select(*columns)):
                parts += [
                    json.dumps(value) if not isinstance(value, str) else value for value in row
                ]
    return "\n".join(parts)


def _statistics(client: TestClient, world: World) -> dict[str, Any]:
    answer = client.get(f"/api/v1/events/{world.slug}/versions/1", headers=world.headers("owner"))
    assert answer.status_code == 200
    statistics: dict[str, Any] = answer.json()["statistics"]
    return statistics


def test_erasing_a_participant_removes_their_data_everywhere_and_keeps_the_figures(
    world_app: tuple[TestClient, FastAPI, World],
) -> None:
    client, app, world = world_app
    slug, owner = world.slug, world.headers("owner")
    own_feed = f"/calendars/participants/{world.calendar_tokens['p1']}.ics"
    partner_feed = f"/calendars/participants/{world.calendar_tokens['p2']}.ics"
    assert "Person 1" in client.get(partner_feed).text
    assert "Person 1" in _all_stored_text(app)
    figures = _statistics(client, world)

    answer = client.delete(f"/api/v1/events/{slug}/participants/p1", headers=owner)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "participant": "p1",
        "wishes_kept": 2,
        "meetings_kept": 1,
        "organisation_erased": True,
    }

    # Nothing of the person is stored any more: not the name, e-mail, messages, organisation.
    stored = _all_stored_text(app)
    for personal in ("Person 1", "p1@example.org", "p1 would like", "like to meet p1", "Cluster 1"):
        assert personal not in stored, personal
    # Their secrets stop working; they are gone from the directory.
    assert (
        client.get(f"/api/v1/events/{slug}/me", headers=world.headers("participant")).status_code
        == 401
    )
    assert client.get(own_feed).status_code == 404
    directory = client.get(f"/api/v1/events/{slug}/directory", headers=owner).json()
    assert "p1" not in {entry["key"] for entry in directory["items"]}
    # The partner's feed and agenda still show the meeting, with an erased counterpart.
    feed = client.get(partner_feed)
    assert feed.status_code == 200
    assert "Person 1" not in feed.text
    assert "Erased" in feed.text
    # The event's figures are what they were, and the event still exports as a valid bundle.
    assert _statistics(client, world) == figures
    bundle = client.get(f"/api/v1/events/{slug}/bundle", headers=owner)
    assert bundle.status_code == 200
    erased = next(p for p in bundle.json()["participants"] if p["id"] == "p1")
    assert erased["name"] == ERASED_NAME
    assert not erased.get("email")


def test_erasure_is_refused_to_staff_and_leaves_the_person_untouched(
    world_app: tuple[TestClient, FastAPI, World],
) -> None:
    client, app, world = world_app
    answer = client.delete(
        f"/api/v1/events/{world.slug}/participants/p1", headers=world.headers("staff")
    )
    assert answer.status_code == 403
    with sessionmaker(bind=app.state.engine)() as db:
        person = db.scalar(
            select(Participant).where(Participant.key == "p1", Participant.name == "Person 1")
        )
        assert person is not None
        assert person.email == "p1@example.org"
