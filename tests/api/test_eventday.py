"""The event day over the API (api/routers/eventday.py): check-in, who may and may not, and
bad input answered with a clear 4xx that changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from matchmaking.platform.models import CheckIn
from tests.api.conftest import make_settings
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
    assert body["items"][0]["arrived"] is False and body["arrived_total"] == 0

    marked = day.client.put(f"{E}/participants/p3/check-in", headers=day.as_("staff"))
    assert marked.status_code == 200 and marked.json()["arrived"] is True
    first = marked.json()["arrived_at"]
    again = day.client.put(f"{E}/participants/p3/check-in", headers=day.as_("owner"))
    assert again.json()["arrived_at"] == first  # the first arrival stays
    assert day.count(CheckIn) == 1
    listed = day.client.get(f"{E}/check-ins", headers=day.as_("owner")).json()
    assert listed["arrived_total"] == 1 and listed["total"] == 4
    assert [i["arrived"] for i in listed["items"]].count(True) == 1

    undone = day.client.delete(f"{E}/participants/p3/check-in", headers=day.as_("staff"))
    assert undone.status_code == 200 and undone.json()["arrived"] is False
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
