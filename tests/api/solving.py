"""Helpers for the job, schedule and agenda API tests: a small event with accepted wishes,
built through the API alone, and solving it through the job endpoints."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Factory

#: Wishes between the four participants (sender index, recipient index).
WISHES = [(0, 1), (2, 3), (0, 2)]


@dataclass
class World:
    owner: dict[str, str]
    slug: str
    people: list[dict[str, Any]]

    def key(self, index: int) -> str:
        return str(self.people[index]["participant"]["key"])

    def url(self, path: str = "") -> str:
        return f"/api/v1/events/{self.slug}{path}"


def small_event(make: Factory, client: TestClient, *, organisation_kinds: bool = True) -> World:
    """An event with four participants (a cluster, companies) and three accepted wishes."""
    owner = make.organiser()
    slug = make.open_event(owner, wish_policy="auto_accept")
    kinds = ["cluster", "company", "research", "company"]
    people = []
    for n, kind in enumerate(kinds):
        organisation = {"name": f"Org {n}", "kind": kind, "country": "FR", "sectors": ["AI"]}
        people.append(make.participant(slug, organisation=organisation))
    world = World(owner, slug, people)
    for sender, recipient in WISHES:
        send_wish(make, client, world, sender, recipient)
    make.ok(client.post(world.url("/close"), headers=owner), 200)
    return world


def send_wish(make: Factory, client: TestClient, world: World, sender: int, recipient: int) -> None:
    make.ok(
        client.post(
            world.url("/me/wishes"),
            json={"to": world.key(recipient)},
            headers=world.people[sender]["headers"],
        ),
        201,
    )


def wait_for_job(client: TestClient, url: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(url, headers=headers).json()
        if job["status"] in {"succeeded", "failed", "cancelled"}:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {url} did not finish in 60 s")


def solve(client: TestClient, world: World, **body: Any) -> dict[str, Any]:
    """Start a solve through the API and wait for its end; returns the finished job."""
    body.setdefault("time_limit_seconds", 10)
    response = client.post(world.url("/solves"), json=body, headers=world.owner)
    assert response.status_code == 202, response.text
    return wait_for_job(client, response.headers["Location"], world.owner)


def solve_and_publish(client: TestClient, world: World) -> int:
    job = solve(client, world)
    assert job["status"] == "succeeded", job
    number = int(job["version"]["number"])
    response = client.post(world.url(f"/versions/{number}/publish"), headers=world.owner)
    assert response.status_code == 200, response.text
    return number
