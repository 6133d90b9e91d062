"""Regression tests for what the fuzzing and fault injection found (see RELIABILITY.md)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from tests.api.conftest import make_settings
from tests.security.world import World, build_world

OFFSET = re.compile(r"(Z|[+-]\d{2}:\d{2})$")


@pytest.fixture
def world_client(db_url: str) -> Iterator[tuple[TestClient, World]]:
    app = create_app(make_settings(db_url, log_requests=False))
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as session:
        world = build_world(session)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, world
    app.state.engine.dispose()


def test_versions_jobs_and_agendas_answer_instants_with_their_offset(
    world_client: tuple[TestClient, World],
) -> None:
    # SQLite hands back naive datetimes; the answers said "2029-12-01T00:00:00" (no offset),
    # which the documented date-time format does not allow.
    client, world = world_client
    owner = world.headers("owner")
    version = client.get(f"/api/v1/events/{world.slug}/versions/1", headers=owner).json()
    assert OFFSET.search(version["published_at"])
    assert OFFSET.search(version["created_at"])
    slot_use = version["statistics"]["location_use"][0]
    assert not OFFSET.search(slot_use["start"])  # slot times stay local wall-clock times
    job = client.get(f"/api/v1/jobs/{world.job_id}", headers=owner).json()
    assert OFFSET.search(job["created_at"])
    assert OFFSET.search(job["finished_at"])
    agenda = client.get(
        f"/api/v1/events/{world.slug}/me/agenda", headers=world.headers("participant")
    ).json()
    assert OFFSET.search(agenda["published_at"])


@pytest.mark.parametrize("number", [-5853051269060, 0, 2**31, 10**15])
def test_version_numbers_out_of_range_are_not_found(
    world_client: tuple[TestClient, World], number: int
) -> None:
    # PostgreSQL refused to compare the 32-bit column with them: a 500.
    client, world = world_client
    for suffix in ("", "/diff", "/schedule"):
        answer = client.get(
            f"/api/v1/events/{world.slug}/versions/{number}{suffix}",
            headers=world.headers("owner"),
        )
        assert answer.status_code == 404, (suffix, answer.text)
