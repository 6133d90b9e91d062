"""Object-level access: changing an id in a URL never reaches someone else's data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from matchmaking.platform.models import Wish, WishStatus
from tests.api.conftest import make_settings
from tests.security.world import World, build_world


@pytest.fixture
def world_client(db_url: str) -> Iterator[tuple[TestClient, World]]:
    app = create_app(make_settings(db_url, log_requests=False))
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as session:
        world = build_world(session)
    with TestClient(app) as client:
        client.app_state = app.state  # type: ignore[attr-defined]
        yield client, world
    app.state.engine.dispose()


def _wish_status(client: TestClient, key: str) -> WishStatus:
    with sessionmaker(bind=client.app_state.engine)() as db:  # type: ignore[attr-defined]
        wish = db.scalar(select(Wish).where(Wish.key == key))
        assert wish is not None
        return wish.status


def test_a_participant_cannot_read_or_change_a_wish_between_two_others(
    world_client: tuple[TestClient, World],
) -> None:
    client, world = world_client
    me = world.headers("participant")  # p1; w3 is p3 → p4
    base = f"/api/v1/events/{world.slug}/me/wishes/w3"
    assert client.get(base, headers=me).status_code == 404
    assert client.patch(base, json={"priority": 1}, headers=me).status_code == 404
    for action in ("withdraw", "accept", "decline"):
        assert client.post(f"{base}/{action}", headers=me).status_code == 404
    assert _wish_status(client, "w3") is WishStatus.accepted


def test_the_sender_cannot_answer_their_own_wish(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    # p2 sent w2 to p1: p2 may not accept it for p1.
    p2 = {"X-Participant-Token": world.participant_tokens["p2"]}
    answer = client.post(f"/api/v1/events/{world.slug}/me/wishes/w2/accept", headers=p2)
    assert answer.status_code in (403, 409)
    assert _wish_status(client, "w2") is WishStatus.requested


def test_a_participant_of_another_event_reaches_nothing_here(
    world_client: tuple[TestClient, World],
) -> None:
    client, world = world_client
    stranger = world.headers("other_participant")
    for path in ("me", "me/wishes", "me/wishes/w1", "me/agenda", "directory", "me/calendar.ics"):
        answer = client.get(f"/api/v1/events/{world.slug}/{path}", headers=stranger)
        assert answer.status_code == 404, path
        assert world.slug in answer.json()["detail"]


def test_organisers_cannot_reach_jobs_or_people_of_other_events_by_id(
    world_client: tuple[TestClient, World],
) -> None:
    client, world = world_client
    owner = world.headers("owner")
    assert client.get(f"/api/v1/jobs/{world.other_job_id}", headers=owner).status_code == 404
    assert (
        client.post(f"/api/v1/jobs/{world.other_job_id}/cancel", headers=owner).status_code == 404
    )
    assert (
        client.get(
            f"/api/v1/events/{world.slug}/solves/{world.other_job_id}", headers=owner
        ).status_code
        == 404
    )
    # q1 is stored as "p1" of the other event: the key in this event is this event's p1.
    mine = client.get(f"/api/v1/events/{world.slug}/participants/p1", headers=owner)
    assert mine.json()["email"] == "p1@example.org"
    assert client.get(f"/api/v1/events/{world.other_slug}", headers=owner).status_code == 404


def test_an_organiser_cannot_revoke_another_organisers_token(
    world_client: tuple[TestClient, World],
) -> None:
    client, world = world_client
    owners_token = world.token_ids["owner"]
    answer = client.delete(
        f"/api/v1/organisers/me/tokens/{owners_token}", headers=world.headers("staff")
    )
    assert answer.status_code == 404
    assert client.get("/api/v1/organisers/me", headers=world.headers("owner")).status_code == 200


def test_the_directory_shows_no_contact_data_or_secrets(
    world_client: tuple[TestClient, World],
) -> None:
    client, world = world_client
    answer = client.get(
        f"/api/v1/events/{world.slug}/directory", headers=world.headers("participant")
    )
    assert answer.status_code == 200
    text = answer.text
    assert "@example.org" not in text
    assert all(token not in text for token in world.participant_tokens.values())
    assert "token" not in text.lower()


def test_staff_cannot_grant_themselves_ownership(world_client: tuple[TestClient, World]) -> None:
    client, world = world_client
    staff = world.headers("staff")
    answer = client.put(
        f"/api/v1/events/{world.slug}/roles",
        json={"email": "staff@example.org", "role": "owner"},
        headers=staff,
    )
    assert answer.status_code == 403
    roles = client.get(f"/api/v1/events/{world.slug}/roles", headers=staff).json()
    assert {r["email"]: r["role"] for r in roles}["staff@example.org"] == "staff"
