"""Starting a solve while the solve queue's broker cannot be reached: a 503 problem, the job
is marked failed (not left queued for ever, which would refuse every later solve as a
duplicate), and the organiser can start again once the broker is back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import Factory, make_settings
from tests.api.solving import small_event

#: Nothing listens on port 1: connections are refused at once.
UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture
def app(db_url: str) -> Iterator[FastAPI]:
    application = create_app(make_settings(db_url, broker_url=UNREACHABLE_BROKER))
    yield application
    application.state.engine.dispose()


def test_a_solve_with_the_broker_down_is_a_503_and_leaves_no_job_waiting(
    make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)

    response = client.post(world.url("/solves"), json={}, headers=world.owner)

    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["retry-after"]
    assert "solve queue" in response.json()["detail"]
    jobs = client.get(world.url("/solves"), headers=world.owner).json()["items"]
    assert [job["status"] for job in jobs] == ["failed"]
    # Not "a solve is already under way": the organiser may simply try again.
    again = client.post(world.url("/solves"), json={}, headers=world.owner)
    assert again.status_code == 503, again.text
