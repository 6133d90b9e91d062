"""A whole event through the API alone: create, open, 40 participants register, wishes are
sent, accepted and declined, registration closes, a solve job runs with progress, the
schedule is published, a participant cancels a meeting, the organiser re-plans with the
stability goal and publishes again — and the agendas are checked at each step."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Factory
from tests.api.solving import World, solve

PEOPLE = 40
TABLES = 10
KINDS = ["cluster", "company", "company", "research", "public"]
COUNTRIES = ["DE", "FR", "CA", "DK", "ES", "PL", "IT", "NL"]


def _create_event(make: Factory, client: TestClient, owner: dict[str, str]) -> str:
    slug = "whole-event-2030"
    body = {
        "slug": slug,
        "name": "EU–Canada Cluster Matchmaking",
        "timezone": "America/Toronto",
        "mode": "hybrid",
        "venue": "Palais des congrès, Montréal",
        "video_base_url": "https://video.example.org/rooms",
        "rules": {"max_meetings_per_participant": 6},
    }
    make.ok(client.post("/api/v1/events", json=body, headers=owner), 201)
    base = f"/api/v1/events/{slug}"
    for key, name, start, end in [
        ("am", "Morning", "2030-09-10T09:00", "2030-09-10T11:30"),
        ("pm", "Afternoon", "2030-09-10T14:00", "2030-09-10T16:30"),
    ]:
        make.ok(
            client.post(f"{base}/sessions", json={"key": key, "name": name}, headers=owner), 201
        )
        generate = {"start": start, "end": end, "meeting_minutes": 20, "pause_minutes": 5}
        make.ok(
            client.post(f"{base}/sessions/{key}/slots/generate", json=generate, headers=owner), 201
        )
    for n in range(1, TABLES + 1):
        table = {"key": f"t{n}", "name": f"Table {n}", "kind": "table"}
        make.ok(client.post(f"{base}/locations", json=table, headers=owner), 201)
    video = {"key": "video", "name": "Video room", "kind": "online", "capacity": 50}
    make.ok(client.post(f"{base}/locations", json=video, headers=owner), 201)
    make.ok(client.post(f"{base}/open", headers=owner), 200)
    return slug


def _register(make: Factory, slug: str, rng: random.Random) -> list[dict[str, Any]]:
    people = []
    for n in range(PEOPLE):
        organisation = {
            "name": f"Organisation {n}",
            "kind": KINDS[n % len(KINDS)],
            "country": COUNTRIES[n % len(COUNTRIES)],
            "sectors": [rng.choice(["AI", "Quantum", "Manufacturing", "Digital"])],
        }
        attendance = "online" if n % 8 == 7 else "onsite"
        people.append(make.participant(slug, organisation=organisation, attendance=attendance))
    return people


def _wishes(make: Factory, client: TestClient, world: World, rng: random.Random) -> Counter[str]:
    """Each participant asks three others; recipients accept most and decline some."""
    answers: Counter[str] = Counter()
    for sender in range(PEOPLE):
        others = [n for n in range(PEOPLE) if n != sender]
        for recipient in rng.sample(others, 3):
            sent = client.post(
                world.url("/me/wishes"),
                json={"to": world.key(recipient), "priority": rng.choice([1, 2, 2, 3])},
                headers=world.people[sender]["headers"],
            )
            if sent.status_code == 409:  # the other side asked first: one open wish per pair
                continue
            key = make.ok(sent, 201)["key"]
            answer = "decline" if rng.random() < 0.15 else "accept"
            path = world.url(f"/me/wishes/{key}/{answer}")
            make.ok(client.post(path, headers=world.people[recipient]["headers"]), 200)
            answers[answer] += 1
    return answers


def _agendas(client: TestClient, world: World) -> dict[str, list[dict[str, Any]]]:
    agendas = {}
    for n, person in enumerate(world.people):
        answer = client.get(world.url("/me/agenda"), headers=person["headers"])
        assert answer.status_code == 200, answer.text
        agendas[world.key(n)] = answer.json()["meetings"]
    return agendas


def _check_agendas(agendas: dict[str, list[dict[str, Any]]], online: set[str]) -> int:
    """Every meeting is in both agendas at the same time and place; nobody is in two places
    at once; online participants meet in the video room. Returns the number of meetings."""
    by_uid: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for key, meetings in agendas.items():
        slots = [m["slot"] for m in meetings]
        assert len(slots) == len(set(slots)), f"{key} is double-booked"
        assert len(meetings) <= 6, f"{key} is over the cap"
        for meeting in meetings:
            by_uid.setdefault(meeting["uid"], []).append((key, meeting))
    for uid, sides in by_uid.items():
        assert len(sides) == 2, uid
        (a, first), (b, second) = sides
        assert first["counterpart"]["key"] == b
        assert second["counterpart"]["key"] == a
        assert (first["slot"], first["location"]) == (second["slot"], second["location"])
        if a in online or b in online:
            assert first["location"] == "video"
            assert first["video_url"].endswith(uid)
        assert first["start"].endswith("-04:00")
    return len(by_uid)


@pytest.mark.slow
def test_a_whole_event_runs_through_the_api(make: Factory, client: TestClient) -> None:
    rng = random.Random(7)
    owner = make.organiser()
    slug = _create_event(make, client, owner)
    world = World(owner, slug, _register(make, slug, rng))
    online = {world.key(n) for n in range(PEOPLE) if n % 8 == 7}
    answers = _wishes(make, client, world, rng)
    assert answers["accept"] > 80
    assert answers["decline"] > 5
    make.ok(client.post(world.url("/close"), headers=owner), 200)
    assert all(not meetings for meetings in _agendas(client, world).values())

    job = solve(client, world, time_limit_seconds=4, deterministic=True)
    assert job["status"] == "succeeded"
    assert job["progress"]["history"]
    first = job["version"]["number"]
    version = client.get(world.url(f"/versions/{first}"), headers=owner).json()
    assert version["statistics"]["accepted"] == answers["accept"]
    assert not version["staleness"]["stale"]
    make.ok(client.post(world.url(f"/versions/{first}/publish"), headers=owner), 200)
    agendas = _agendas(client, world)
    held = _check_agendas(agendas, online)
    assert held == version["meetings"]
    assert held >= 0.8 * answers["accept"]

    # A cancellation: someone withdraws their wish that had a meeting of its own.
    canceller, cancelled = _a_meeting_to_cancel(client, world, agendas)
    (wish,) = cancelled["wishes"]
    make.ok(
        client.post(
            world.url(f"/me/wishes/{wish}/withdraw"), headers=world.people[canceller]["headers"]
        ),
        200,
    )
    refreshed = client.get(world.url(f"/versions/{first}"), headers=owner).json()
    assert [c["key"] for c in refreshed["staleness"]["changes"]] == [wish]

    replan = solve(client, world, time_limit_seconds=4, deterministic=True)
    assert replan["parameters"]["replan"] is True
    second = replan["version"]["number"]
    diff = client.get(world.url(f"/versions/{second}/diff"), headers=owner).json()
    assert cancelled["uid"] in [c["uid"] for c in diff["removed"]]
    replanned = client.get(world.url(f"/versions/{second}"), headers=owner).json()
    assert replanned["based_on"] == first
    assert replanned["objective"]["moved"] == len(diff["moved"]) + len(diff["removed"])
    make.ok(client.post(world.url(f"/versions/{second}/publish"), headers=owner), 200)

    after = _agendas(client, world)
    _check_agendas(after, online)
    assert cancelled["uid"] not in {m["uid"] for m in after[world.key(canceller)]}
    before = {m["uid"]: (m["slot"], m["location"]) for ms in agendas.values() for m in ms}
    now = {m["uid"]: (m["slot"], m["location"]) for ms in after.values() for m in ms}
    moved = {uid for uid, place in before.items() if uid in now and now[uid] != place}
    assert moved == {c["uid"] for c in diff["moved"]}


def _a_meeting_to_cancel(
    client: TestClient, world: World, agendas: dict[str, list[dict[str, Any]]]
) -> tuple[int, dict[str, Any]]:
    """A participant and a meeting of theirs that meets only a wish they sent."""
    for n, person in enumerate(world.people):
        sent = client.get(world.url("/me/wishes?status=accepted"), headers=person["headers"])
        own = {w["key"] for w in sent.json()["items"]}
        for meeting in agendas[world.key(n)]:
            if len(meeting["wishes"]) == 1 and meeting["wishes"][0] in own:
                return n, meeting
    raise AssertionError("no meeting meets a single wish")
