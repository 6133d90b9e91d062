"""Schedule versions over HTTP: list, detail, staleness, diff, publish, schedule document."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from httpx import Response

from matchmaking.bundle.schemas import ScheduleDoc
from tests.api.conftest import Factory
from tests.api.solving import World, send_wish, small_event, solve, solve_and_publish
from tests.api.test_concurrency import server  # noqa: F401 (the app served by uvicorn)


def _publish(client: TestClient, world: World, number: int, **body: object) -> Response:
    return client.post(world.url(f"/versions/{number}/publish"), json=body, headers=world.owner)


def test_a_solved_version_shows_its_statistics_and_is_not_stale(
    make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)
    solve(client, world)

    version = client.get(world.url("/versions/1"), headers=world.owner).json()

    assert version["status"] == "optimal"
    assert version["current"] is False
    stats = version["statistics"]
    assert (stats["requested"], stats["accepted"], stats["scheduled"]) == (3, 3, 3)
    assert stats["scheduled_share"] == 1.0
    assert stats["kinds"] == {"C2C": 0, "C2B": 2, "B2B": 1}
    assert stats["meetings_per_participant"] == {"1": 2, "2": 2}
    assert sum(use["meetings"] for use in stats["location_use"]) == 3
    assert version["staleness"] == {
        "stale": False,
        "snapshot_at": version["staleness"]["snapshot_at"],
        "changes": [],
    }
    listed = client.get(world.url("/versions"), headers=world.owner).json()
    assert [v["number"] for v in listed["items"]] == [1]
    assert listed["items"][0]["meetings"] == 3


def test_the_schedule_document_follows_the_public_format(make: Factory, client: TestClient) -> None:
    world = small_event(make, client)
    solve(client, world)

    document = client.get(world.url("/versions/1/schedule"), headers=world.owner).json()

    parsed = ScheduleDoc.model_validate(document)
    assert parsed.event == world.slug
    assert parsed.status == "optimal"
    met = sorted(w for m in parsed.meetings for w in m.wishes)
    assert len(met) == 3
    assert parsed.unscheduled == []


def test_a_wish_sent_after_the_solve_makes_the_version_stale_and_publishing_needs_force(
    make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)
    solve(client, world)
    send_wish(make, client, world, 1, 3)

    version = client.get(world.url("/versions/1"), headers=world.owner).json()
    assert version["staleness"]["stale"] is True
    assert [c["kind"] for c in version["staleness"]["changes"]] == ["wish_added"]

    refused = _publish(client, world, 1)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["code"] == "stale"
    assert problem["changes"][0]["kind"] == "wish_added"
    forced = _publish(client, world, 1, force=True)
    assert forced.status_code == 200
    assert forced.json()["version"]["current"] is True


def test_publishing_then_replanning_diffs_and_publishes_again(
    make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)
    first = solve_and_publish(client, world)
    # A cancellation: the participant withdraws a wish that was met.
    wishes = client.get(world.url("/me/wishes"), headers=world.people[2]["headers"]).json()
    withdrawn = wishes["items"][0]["key"]
    make.ok(
        client.post(
            world.url(f"/me/wishes/{withdrawn}/withdraw"), headers=world.people[2]["headers"]
        ),
        200,
    )

    job = solve(client, world)
    assert job["parameters"]["replan"] is True
    second = job["version"]["number"]
    diff = client.get(world.url(f"/versions/{second}/diff"), headers=world.owner).json()
    assert diff["against"] == first
    assert [c["wishes"] for c in diff["removed"]] == [[withdrawn]]
    assert diff["moved"] == []
    assert diff["unchanged"] == 2
    explicit = client.get(
        world.url(f"/versions/{second}/diff?against={first}"), headers=world.owner
    ).json()
    assert explicit == diff

    published = _publish(client, world, second)
    assert published.status_code == 200
    answer = published.json()
    assert answer["previous"] == first
    assert answer["removed"] == 1
    assert answer["notified"] == 2
    versions = client.get(world.url("/versions"), headers=world.owner).json()["items"]
    assert [(v["number"], v["current"]) for v in versions] == [(second, True), (first, False)]
    assert versions[1]["published_at"] is not None  # the history keeps the first publication
    again = _publish(client, world, second).json()
    assert again["unchanged"] is True
    assert again["notified"] == 0


def test_an_unknown_version_and_a_bad_diff_target_are_named(
    make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)

    missing = client.get(world.url("/versions/7"), headers=world.owner)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "The event has no schedule version 7."
    solve(client, world)
    bad = client.get(world.url("/versions/1/diff?against=latest"), headers=world.owner)
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "query.against"
    assert _publish(client, world, 1, force="yes please").status_code == 422


def test_who_may_not_see_or_publish_versions(make: Factory, client: TestClient) -> None:
    world = small_event(make, client)
    solve(client, world)
    stranger = make.organiser()
    make.event(stranger)
    participant = world.people[0]["headers"]

    for path, method in [
        ("/versions", "get"),
        ("/versions/1", "get"),
        ("/versions/1/diff", "get"),
        ("/versions/1/schedule", "get"),
        ("/versions/1/publish", "post"),
    ]:
        call = getattr(client, method)
        assert call(world.url(path)).status_code == 401, path
        assert call(world.url(path), headers=participant).status_code == 401, path
        assert call(world.url(path), headers=stranger).status_code == 404, path
    version = client.get(world.url("/versions/1"), headers=world.owner).json()
    assert version["published_at"] is None


def test_two_versions_published_at_once_by_parallel_clients_exactly_one_wins(
    make: Factory, client: TestClient, request: pytest.FixtureRequest
) -> None:
    base_url: str = request.getfixturevalue("server")
    world = small_event(make, client)
    solve(client, world)
    solve(client, world)
    start = threading.Barrier(2)

    def publish(number: int) -> httpx.Response:
        with httpx.Client(base_url=base_url, headers=world.owner, timeout=60) as own:
            start.wait()
            return own.post(world.url(f"/versions/{number}/publish"))

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(publish, [1, 2]))

    assert sorted(a.status_code for a in answers) == [200, 409]
    refused = next(a for a in answers if a.status_code == 409).json()
    assert refused["code"] == "published_version_changed"
    versions = client.get(world.url("/versions"), headers=world.owner).json()["items"]
    assert sum(v["current"] for v in versions) == 1
